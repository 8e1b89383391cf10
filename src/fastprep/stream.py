"""Streaming detokenization: text as soon as it is final, one token (or one engine step) at a time.

The contract, for every tokenizer fastprep loads::

    "".join(s or "" for s in map(stream.step, ids)) + stream.flush() == tokenizer.decode(ids)

``step`` returns only text that no later token can change, so nothing is ever retracted; what
can still change is held back until it is final or until :meth:`DecodeStream.flush`, which
returns what ``decode`` gives for it. Concretely:

* Byte-level vocabularies (tiktoken encodings; HF files whose decoder is ByteLevel): the token
  bytes are decoded as lossy UTF-8. A step holds at most the valid start of an unfinished
  character (<= 3 bytes). Bytes that can never become valid UTF-8 become U+FFFD exactly where
  ``decode`` puts them -- one per maximal invalid subpart, Python's ``"replace"`` handler -- as
  soon as they are known to be invalid; ``flush`` turns an unfinished character into one U+FFFD.
* WordPiece: ``##`` continuations join the previous word, other tokens get a leading space
  (none for the first); cleanup applies per token, as in HF, so nothing is held.
* Metaspace: the replacement character becomes a space, and is dropped in the first token.
* BPEDecoder: a token containing the end-of-word suffix is held until the next token, because
  the suffix becomes a space except in the last token (``flush`` gives it the last-token form).
* ByteFallback: a run of ``<0xHH>`` tokens is held until the run ends (HF turns the *whole* run
  into one U+FFFD per byte if any part is invalid); once the run is known to be invalid its
  U+FFFDs are returned at once.
* Strip after Fuse: trailing strippable characters are held until something else follows.
* Replace, WordPiece cleanup, BPEDecoder, ByteFallback or ByteLevel applied after Fuse (to the
  whole text) hold all text until ``flush``: exact, but not incremental. No file fastprep ships
  tests for uses them.
* No decoder: tokens joined by spaces, as HF does.

``skip_special_tokens`` is that of ``Tokenizer.decode`` for HF files (special added tokens are
dropped; ids the file does not know are always dropped). tiktoken encodings' ``decode`` always
includes special tokens, so the stream does too, and an id that is not in the vocabulary raises
``KeyError`` (and changes nothing), as ``decode`` does.

Batches: :class:`DecodeStreams` advances many sequences by one token each per call. For
byte-level vocabularies on the native backend the whole step is one native call with the
per-sequence pending bytes held in C++; other decoders (and the Python backend) run one
:class:`DecodeStream` per slot.
"""
from __future__ import annotations

import codecs
import functools
import operator
import weakref
from typing import Any, Callable, List, Optional

from . import _backend

__all__ = ["DecodeStream", "DecodeStreams"]

# Byte kinds of _core.ByteVocabulary.
_MISSING, _SKIP, _BYTES = 0, 1, 2

_vocab_cache: "weakref.WeakKeyDictionary[Any, dict]" = weakref.WeakKeyDictionary()


_NO_SUCH_ID = 2**63  # ids from here on cannot reach the native int64 parameters


def _token_id(token_id) -> int:
    if isinstance(token_id, bool):
        raise TypeError("token id must be an int, not bool")
    try:
        i = operator.index(token_id)
    except TypeError:
        raise TypeError(f"token id must be an int, not {type(token_id).__name__}") from None
    if i < 0:
        raise ValueError(f"token id must be non-negative, got {i}")
    return i


# -- what a tokenizer decodes like -----------------------------------------------------------


def _flatten_decoders(obj: Optional[dict]) -> Optional[List[dict]]:
    if obj is None:
        return None
    if obj.get("type") == "Sequence":
        out: List[dict] = []
        for d in obj.get("decoders") or []:
            out.extend(_flatten_decoders(d) or [])
        return out
    return [obj]


def _hf_decoders(tokenizer) -> Optional[List[dict]]:
    return _flatten_decoders(tokenizer._hf.json_obj.get("decoder"))


def _is_byte_level(tokenizer) -> bool:
    """True when the whole decode is "concatenate token bytes, decode lossy UTF-8"."""
    if not tokenizer.is_hf:
        return True
    decoders = _hf_decoders(tokenizer)
    return decoders is not None and [d.get("type") for d in decoders] == ["ByteLevel"]


def _hf_token_lookup(tokenizer, skip_special_tokens: bool) -> Callable[[int], Optional[str]]:
    """id -> the token string ``decode`` feeds its decoder, or None when ``decode`` drops it."""
    pipeline = tokenizer._hf.pipeline
    special = pipeline.added.special
    id_to_token = pipeline.id_to_token

    def lookup(i: int) -> Optional[str]:
        tok = id_to_token(i)
        if tok is None or (skip_special_tokens and tok in special):
            return None
        return tok
    return lookup


@functools.lru_cache(maxsize=None)
def _byte_level_translation() -> dict:
    """str.translate table: a ByteLevel char -> the char of its byte; any other char below
    U+0144 (the table's end) -> U+FFFF, which latin-1 cannot encode."""
    from ._fallback.hf.components import unicode_to_bytes

    table = {ord(c): chr(b) for c, b in unicode_to_bytes().items()}
    for cp in range(0x144):
        table.setdefault(cp, "\uffff")
    return table


def _byte_level_bytes(token: str) -> bytes:
    """Bytes of one token under HF's ByteLevel decoder (chars outside its table: their UTF-8)."""
    try:
        return token.translate(_byte_level_translation()).encode("latin-1")
    except UnicodeEncodeError:
        return token.encode("utf-8", "surrogatepass")


def _byte_lookup(tokenizer, skip_special_tokens: bool) -> Callable[[int], Optional[bytes]]:
    """id -> bytes, None for a dropped id; KeyError for an id a tiktoken encoding lacks."""
    if not tokenizer.is_hf:
        token_bytes = tokenizer._core.token_bytes

        def tiktoken_bytes(i: int) -> bytes:
            if i >= _NO_SUCH_ID:
                raise KeyError(f"Invalid token for decoding: {i}")
            return token_bytes(i)
        return tiktoken_bytes
    lookup = _hf_token_lookup(tokenizer, skip_special_tokens)

    def byte_lookup(i: int) -> Optional[bytes]:
        tok = lookup(i)
        return None if tok is None else _byte_level_bytes(tok)
    return byte_lookup


def _native_vocabulary(tokenizer, skip_special_tokens: bool):
    """The tokenizer's id -> bytes table as a _core.ByteVocabulary, built once and cached."""
    core = _backend.core_for(tokenizer.backend)
    if core is None or not _is_byte_level(tokenizer):
        return None
    key = bool(skip_special_tokens) if tokenizer.is_hf else None
    per_tokenizer = _vocab_cache.setdefault(tokenizer, {})
    vocab = per_tokenizer.get(key)
    if vocab is not None:
        return vocab
    tokens: List[Optional[bytes]] = []
    kinds = bytearray()
    if tokenizer.is_hf:
        pipeline = tokenizer._hf.pipeline
        names: List[Optional[str]] = [None] * tokenizer.n_vocab
        for tok, i in pipeline.model.get_vocab().items():
            names[i] = tok
        for i in pipeline.added.map_r:  # added tokens take precedence, as in id_to_token
            names[i] = pipeline.added.simple_id_to_token(i)
        special = pipeline.added.special if skip_special_tokens else ()
        for tok in names:
            b = None if tok is None or tok in special else _byte_level_bytes(tok)
            tokens.append(b)
            kinds.append(_SKIP if b is None else _BYTES)
        vocab = core.ByteVocabulary(tokens, bytes(kinds), False)  # decode drops unknown ids
    else:
        token_bytes = tokenizer._core.token_bytes
        for i in range(tokenizer.n_vocab):
            try:
                tokens.append(token_bytes(i))
                kinds.append(_BYTES)
            except KeyError:
                tokens.append(None)
                kinds.append(_MISSING)
        vocab = core.ByteVocabulary(tokens, bytes(kinds), True)  # decode raises KeyError
    per_tokenizer[key] = vocab
    return vocab


# -- the Python path: byte-level ----------------------------------------------------------------


class _PyByteStream:
    """Lossy incremental UTF-8 over token bytes: the reference for the native kernel."""

    def __init__(self, lookup: Callable[[int], Optional[bytes]]):
        self._lookup = lookup
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def check(self, i: int) -> Any:
        return self._lookup(i)

    def advance(self, looked_up: Optional[bytes]) -> str:
        if looked_up is None:
            return ""
        return self._decoder.decode(looked_up)

    def flush(self) -> str:
        text = self._decoder.decode(b"", True)
        self._decoder.reset()
        return text

    def reset(self) -> None:
        self._decoder.reset()


# -- the Python path: any HF decoder chain ------------------------------------------------------
#
# A decoder maps a list of token strings to a list of strings. Each stage below is that map made
# incremental: push(token) returns the output tokens that are final, finish() the rest, and
# together they give exactly the reference decoder's list (each stage calls the reference
# Decoder itself on the pieces it has decided). ByteLevel and Fuse join everything into one
# string; stages after them see that one growing string ("text stages": feed(text) / end()).


class _PerToken:
    """Replace, Strip: each token on its own."""

    def __init__(self, dec):
        self._chain = dec.chain

    def push(self, tok: str) -> List[str]:
        return self._chain([tok])

    def finish(self) -> List[str]:
        return []

    def reset(self) -> None:
        pass


class _Indexed:
    """WordPiece, Metaspace: the first token is treated differently."""

    def __init__(self, dec):
        self._chain = dec.chain
        self._first = True

    def push(self, tok: str) -> List[str]:
        if self._first:
            self._first = False
            return self._chain([tok])
        return self._chain(["", tok])[1:]

    def finish(self) -> List[str]:
        return []

    def reset(self) -> None:
        self._first = True


class _LastAware:
    """BPEDecoder: the suffix becomes a space except in the last token, so a token holding it
    waits for the next one."""

    def __init__(self, dec):
        self._chain = dec.chain
        self._suffix = dec.obj.get("suffix", "</w>")
        self._held: Optional[str] = None

    def push(self, tok: str) -> List[str]:
        out: List[str] = []
        if self._held is not None:
            out.append(self._chain([self._held, ""])[0])
            self._held = None
        if self._suffix in tok:
            self._held = tok
        else:
            out.append(tok)
        return out

    def finish(self) -> List[str]:
        held, self._held = self._held, None
        return [] if held is None else self._chain([held])

    def reset(self) -> None:
        self._held = None


class _ByteFallbackStage:
    """ByteFallback: a run of <0xHH> tokens is one string if it is valid UTF-8, else one U+FFFD
    per byte; so a valid-so-far run waits for its end, an invalid one is final at once."""

    def __init__(self, dec):
        from ._fallback.hf.components import _byte_token

        self._chain = dec.chain
        self._byte_token = _byte_token
        self._run: List[str] = []
        self._invalid = False
        self._strict = codecs.getincrementaldecoder("utf-8")("strict")

    def _end_run(self) -> List[str]:
        out = [] if self._invalid or not self._run else self._chain(self._run)
        self._run = []
        self._invalid = False
        self._strict.reset()
        return out

    def push(self, tok: str) -> List[str]:
        b = self._byte_token(tok)
        if b is None:
            out = self._end_run()
            out.append(tok)
            return out
        if self._invalid:
            return ["\ufffd"]
        self._run.append(tok)
        try:
            self._strict.decode(bytes([b]))
        except UnicodeDecodeError:
            self._invalid = True
            n, self._run = len(self._run), []
            return ["\ufffd"] * n
        return []

    def finish(self) -> List[str]:
        return self._end_run()

    def reset(self) -> None:
        self._end_run()


class _ByteLevelToText:
    def __init__(self, _dec=None):
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def push(self, tok: str) -> str:
        return self._decoder.decode(_byte_level_bytes(tok))

    def finish(self) -> str:
        text = self._decoder.decode(b"", True)
        self._decoder.reset()
        return text

    def reset(self) -> None:
        self._decoder.reset()


class _FuseToText:
    def __init__(self, _dec=None):
        pass

    def push(self, tok: str) -> str:
        return tok

    def finish(self) -> str:
        return ""

    def reset(self) -> None:
        pass


class _SpaceJoinToText:
    """No decoder: HF joins the tokens with spaces."""

    def __init__(self):
        self._first = True

    def push(self, tok: str) -> str:
        if self._first:
            self._first = False
            return tok
        return " " + tok

    def finish(self) -> str:
        return ""

    def reset(self) -> None:
        self._first = True


class _TextMetaspace:
    """Metaspace on the one fused string (it is the first token): char by char."""

    def __init__(self, dec):
        self._chain = dec.chain

    def feed(self, text: str) -> str:
        return self._chain([text])[0] if text else ""

    def end(self) -> str:
        return ""

    def reset(self) -> None:
        pass


class _TextIdentity:
    def __init__(self, _dec=None):
        pass

    def feed(self, text: str) -> str:
        return text

    def end(self) -> str:
        return ""

    def reset(self) -> None:
        pass


class _TextStrip:
    """Strip on the one fused string: up to ``start`` leading and ``stop`` trailing ``content``
    characters go. Leading ones are decided once ``start`` characters (or another character) are
    seen; a trailing run of up to ``stop`` of them waits for what follows."""

    def __init__(self, dec):
        self._content = dec.obj.get("content", " ")
        self._start = dec.obj.get("start", 0)
        self._stop = dec.obj.get("stop", 0)
        self.reset()

    def reset(self) -> None:
        self._lead = ""        # the undecided beginning (all content chars, < start of them)
        self._lead_done = self._start == 0
        self._held = ""        # trailing content chars not yet final (<= stop)

    def feed(self, text: str) -> str:
        if not text:
            return ""
        if not self._lead_done:
            i = 0
            while i < len(text) and len(self._lead) < self._start and text[i] == self._content:
                self._lead += text[i]
                i += 1
            text = text[i:]
            if len(self._lead) < self._start and not text:
                return ""  # still undecided
            self._lead_done = True  # the lead is stripped whatever follows
        text = self._held + text
        if self._stop == 0:
            self._held = ""
            return text
        k = 0
        while k < self._stop and k < len(text) and text[len(text) - 1 - k] == self._content:
            k += 1
        self._held = text[len(text) - k:] if k else ""
        return text[:len(text) - k]

    def end(self) -> str:
        # The held run is at most `stop` trailing content chars: all of them are stripped, and
        # an undecided lead (all content chars) is stripped too.
        self.reset()
        return ""


class _TextHoldAll:
    """A decoder applied to the whole fused text that fastprep does not stream: exact, but
    everything waits for the end."""

    def __init__(self, dec):
        self._chain = dec.chain
        self._parts: List[str] = []

    def feed(self, text: str) -> str:
        if text:
            self._parts.append(text)
        return ""

    def end(self) -> str:
        text = "".join(self._parts)
        self._parts = []
        return "".join(self._chain([text]))

    def reset(self) -> None:
        self._parts = []


_TOKEN_STAGES = {"Replace": _PerToken, "Strip": _PerToken, "WordPiece": _Indexed,
                 "Metaspace": _Indexed, "BPEDecoder": _LastAware, "ByteFallback": _ByteFallbackStage}
_TO_TEXT = {"ByteLevel": _ByteLevelToText, "Fuse": _FuseToText}
_TEXT_STAGES = {"Fuse": _TextIdentity, "Metaspace": _TextMetaspace, "Strip": _TextStrip}


class _DecoderWithObj:
    """A reference Decoder plus the JSON it came from (stages read their options)."""

    def __init__(self, obj: dict):
        from ._fallback.hf.components import Decoder

        self.obj = obj
        self.chain = Decoder(obj).chain


class _ChainStream:
    """Any HF decoder chain, streamed with the stages above."""

    def __init__(self, tokenizer, skip_special_tokens: bool):
        self._lookup = _hf_token_lookup(tokenizer, skip_special_tokens)
        decoders = _hf_decoders(tokenizer)
        self._token_stages: list = []
        self._to_text: Any = None
        self._text_stages: list = []
        if decoders is None:
            self._to_text = _SpaceJoinToText()
            return
        for obj in decoders:
            dec = _DecoderWithObj(obj)
            kind = obj.get("type")
            if self._to_text is None:
                if kind in _TO_TEXT:
                    self._to_text = _TO_TEXT[kind](dec)
                else:
                    self._token_stages.append(_TOKEN_STAGES[kind](dec))
            else:
                self._text_stages.append(_TEXT_STAGES.get(kind, _TextHoldAll)(dec))

    def check(self, i: int) -> Any:
        return self._lookup(i)

    def _through_tokens(self, toks: List[str], start: int) -> str:
        for stage in self._token_stages[start:]:
            if not toks:
                return ""
            nxt: List[str] = []
            for t in toks:
                nxt.extend(stage.push(t))
            toks = nxt
        if self._to_text is None:
            return "".join(toks)
        return self._through_text("".join([self._to_text.push(t) for t in toks]), 0)

    def _through_text(self, text: str, start: int) -> str:
        for stage in self._text_stages[start:]:
            if not text:
                return ""
            text = stage.feed(text)
        return text

    def advance(self, tok: Optional[str]) -> str:
        if tok is None:
            return ""
        return self._through_tokens([tok], 0)

    def flush(self) -> str:
        parts = []
        for k, stage in enumerate(self._token_stages):
            parts.append(self._through_tokens(stage.finish(), k + 1))
        if self._to_text is not None:
            parts.append(self._through_text(self._to_text.finish(), 0))
            for k, stage in enumerate(self._text_stages):
                parts.append(self._through_text(stage.end(), k + 1))
        self.reset()
        return "".join(parts)

    def reset(self) -> None:
        for stage in self._token_stages:
            stage.reset()
        if self._to_text is not None:
            self._to_text.reset()
        for stage in self._text_stages:
            stage.reset()


def _python_stream(tokenizer, skip_special_tokens: bool, force_chain: bool = False):
    if not force_chain and _is_byte_level(tokenizer):
        return _PyByteStream(_byte_lookup(tokenizer, skip_special_tokens))
    return _ChainStream(tokenizer, skip_special_tokens)


def _check_tokenizer(tokenizer) -> None:
    from .tokenizer import Tokenizer

    if not isinstance(tokenizer, Tokenizer):
        raise TypeError(f"expected a fastprep.Tokenizer, got {type(tokenizer).__name__}")


# -- public API ---------------------------------------------------------------------------------


class DecodeStream:
    """Incremental ``tokenizer.decode``: feed ids one at a time, get text as soon as it is final.

    ``step(id)`` returns the new text, or None when the id completed nothing (yet).
    ``flush()`` ends the sequence: it returns what ``decode`` gives for the held tail (e.g. one
    U+FFFD for an unfinished UTF-8 character) and resets the stream. The concatenation of every
    step's text and the flush equals ``tokenizer.decode(ids)`` (see the module docstring for
    what each decoder holds back). Like HF's ``tokenizers.decoders.DecodeStream``, but exact:
    text is never retracted and complete characters are not delayed.
    """

    def __init__(self, tokenizer, skip_special_tokens: bool = True, *, _force_python: bool = False,
                 _force_chain: bool = False):
        _check_tokenizer(tokenizer)
        self._tokenizer = tokenizer
        self._skip_special_tokens = bool(skip_special_tokens)
        vocab = None
        if not (_force_python or _force_chain):
            vocab = _native_vocabulary(tokenizer, self._skip_special_tokens)
        if vocab is not None:
            core = _backend.core_for(tokenizer.backend)
            self._native = core.ByteDecodeStreams(vocab, 1)
            self._impl = None
        else:
            self._native = None
            self._impl = _python_stream(tokenizer, self._skip_special_tokens, _force_chain)

    @property
    def is_native(self) -> bool:
        """True when the stream runs in native code (byte-level vocabularies, native backend)."""
        return self._native is not None

    @property
    def skip_special_tokens(self) -> bool:
        return self._skip_special_tokens

    def step(self, token_id: int) -> Optional[str]:
        """Advance by one id; the text that became final, or None. An id a tiktoken encoding
        does not have raises ``KeyError`` and leaves the stream unchanged."""
        i = _token_id(token_id)
        if self._native is not None:
            if i >= _NO_SUCH_ID:  # beyond the native int64: no vocabulary has it
                if not self._tokenizer.is_hf:
                    raise KeyError(f"Invalid token for decoding: {i} (sequence 0)")
                return None  # HF decoders drop unknown ids
            return self._native.step_one(0, i)
        text = self._impl.advance(self._impl.check(i))
        return text or None

    def flush(self) -> str:
        """End the sequence: the rest of ``decode``'s text; the stream starts afresh."""
        if self._native is not None:
            return self._native.flush(0)
        return self._impl.flush()

    def reset(self) -> None:
        """Discard held state and start a new sequence."""
        if self._native is not None:
            self._native.reset(0)
        else:
            self._impl.reset()

    def __repr__(self) -> str:
        return (f"<fastprep.DecodeStream {self._tokenizer.name!r} "
                f"{'native' if self.is_native else 'python'}>")


# One engine step never holds anywhere near this many sequences; the cap turns a mistaken size
# into a clear error instead of an allocation that ends the process.
MAX_BATCH_SIZE = 1 << 24


def _checked_batch_size(batch_size) -> int:
    n = operator.index(batch_size)
    if n < 0:
        raise ValueError(f"batch_size must be non-negative, got {n}")
    if n > MAX_BATCH_SIZE:
        raise ValueError(f"batch_size {n} is over the limit of {MAX_BATCH_SIZE} sequences")
    return n


def _integer_ids(token_ids):
    """token_ids as an integer NumPy array; floats, bools and other non-integers are a
    TypeError (a float id would otherwise be truncated silently)."""
    import numpy as np

    arr = token_ids if hasattr(token_ids, "dtype") else np.asarray(token_ids)
    if arr.size == 0:
        return arr.astype(np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"token ids must be integers, got {arr.dtype} values")
    return arr


class DecodeStreams:
    """Many :class:`DecodeStream` s advanced together: one call per engine step.

    Slot ``k`` holds one sequence. ``step(token_ids)`` takes one id per slot (``len ==
    batch_size``; a negative id means "no token for this slot this step") or, with ``slots=``,
    ids for just those slots; it returns one ``str`` or None per id. Sequences come and go in
    continuous batching: ``flush(slot)`` ends the sequence in a slot (returning its tail) and
    frees the slot for the next one, ``reset(slot)`` discards it, ``resize(n)`` grows or shrinks
    the batch. A step that fails (an id not in a tiktoken vocabulary, a bad slot) changes no slot.

    Byte-level vocabularies on the native backend run the whole step in one native call; other
    decoders and the Python backend use one Python stream per slot (``is_native`` says which).
    """

    def __init__(self, tokenizer, batch_size: int, skip_special_tokens: bool = True, *,
                 _force_python: bool = False):
        _check_tokenizer(tokenizer)
        n = _checked_batch_size(batch_size)
        self._tokenizer = tokenizer
        self._skip_special_tokens = bool(skip_special_tokens)
        vocab = None if _force_python else _native_vocabulary(tokenizer, self._skip_special_tokens)
        if vocab is not None:
            core = _backend.core_for(tokenizer.backend)
            self._native = core.ByteDecodeStreams(vocab, n)
            self._streams: list = []
        else:
            self._native = None
            self._streams = [self._new_python_stream() for _ in range(n)]

    def _new_python_stream(self):
        return _python_stream(self._tokenizer, self._skip_special_tokens)

    @property
    def is_native(self) -> bool:
        return self._native is not None

    @property
    def batch_size(self) -> int:
        return self._native.batch_size if self._native is not None else len(self._streams)

    def __len__(self) -> int:
        return self.batch_size

    def step(self, token_ids, slots=None) -> List[Optional[str]]:
        """Advance each sequence by one id (``token_ids[i]`` to slot ``i``, or to
        ``slots[i]``); the new text of each, or None. Accepts lists or NumPy integer arrays;
        anything else (floats included) is a TypeError, never silently truncated."""
        token_ids = _integer_ids(token_ids)
        if self._native is not None:
            return self._native.step(token_ids, slots)
        return self._python_step(token_ids, slots)

    def _python_step(self, token_ids, slots) -> List[Optional[str]]:
        ids = [operator.index(i) for i in token_ids.tolist()]
        n = self.batch_size
        if slots is None:
            if len(ids) != n:
                raise ValueError(f"expected {n} token ids (one per slot), got {len(ids)}")
            targets = range(n)
        else:
            targets = [int(s) for s in slots]
            if len(targets) != len(ids):
                raise ValueError("slots must be as long as token_ids")
            for s in targets:
                if not 0 <= s < n:
                    raise ValueError(f"slot {s} out of range for batch_size {n}")
            if len(set(targets)) != len(targets):
                raise ValueError("a slot appears twice in one step")
        # Look every id up first, so that a bad id changes no slot.
        looked_up = []
        for k, (slot, i) in enumerate(zip(targets, ids)):
            if i < 0:
                looked_up.append(None)
                continue
            try:
                looked_up.append((self._streams[slot].check(i),))
            except KeyError:
                raise KeyError(f"Invalid token for decoding: {i} (sequence {k})") from None
        out: List[Optional[str]] = []
        for slot, item in zip(targets, looked_up):
            if item is None:
                out.append(None)
            else:
                out.append(self._streams[slot].advance(item[0]) or None)
        return out

    def _check_slot(self, slot) -> int:
        s = operator.index(slot)
        if not 0 <= s < self.batch_size:
            raise ValueError(f"slot {s} out of range for batch_size {self.batch_size}")
        return s

    def flush(self, slot: int) -> str:
        """End the sequence in ``slot``: the rest of its text; the slot starts afresh."""
        if self._native is not None:
            return self._native.flush(self._check_slot(slot))
        return self._streams[self._check_slot(slot)].flush()

    def reset(self, slot: Optional[int] = None) -> None:
        """Discard the state of ``slot`` (or of every slot when None)."""
        if self._native is not None:
            if slot is None:
                self._native.reset_all()
            else:
                self._native.reset(self._check_slot(slot))
            return
        if slot is None:
            for s in self._streams:
                s.reset()
        else:
            self._streams[self._check_slot(slot)].reset()

    def resize(self, batch_size: int) -> None:
        """Grow with empty slots, or drop the highest slots (their state is lost)."""
        n = _checked_batch_size(batch_size)
        if self._native is not None:
            self._native.resize(n)
        elif n < len(self._streams):
            del self._streams[n:]
        else:
            self._streams.extend(self._new_python_stream() for _ in range(n - len(self._streams)))

    def __repr__(self) -> str:
        return (f"<fastprep.DecodeStreams {self._tokenizer.name!r} batch_size={self.batch_size} "
                f"{'native' if self.is_native else 'python'}>")
