"""The Tokenizer class: tiktoken's API over fastprep's native BPE (or the pure-Python reference).

Policy lives here (special-token checks, error wording, lone-surrogate handling, argument
defaults); every loop over text or ids runs in the backend.
"""
from __future__ import annotations

import os
from typing import AbstractSet, Any, Collection, Literal, Optional, Sequence, Union

from . import _backend
from .errors import LimitExceededError

AllowedSpecial = Union[Literal["all"], AbstractSet[str]]
DisallowedSpecial = Union[Literal["all"], Collection[str]]


_NO_SPECIALS: frozenset = frozenset()


def _fix_surrogates(text: str) -> str:
    # tiktoken's behaviour: a str that cannot be UTF-8 encoded (lone surrogates) has each lone
    # surrogate replaced by U+FFFD (surrogate pairs written as two code units are joined).
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _decode_input(data: bytes, errors: str) -> str:
    """bytes input for the paths that work on str: strict UTF-8 (ValueError with the byte
    offset, the same message the native path gives) or U+FFFD replacement."""
    if errors == "replace":
        return data.decode("utf-8", "replace")
    if errors != "strict":
        raise ValueError(f"errors must be 'strict' or 'replace', not {errors!r}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"invalid UTF-8 at byte offset {exc.start} (pass errors=\"replace\" to substitute U+FFFD)"
        ) from None


def _raise_disallowed(token: str) -> None:
    raise ValueError(
        f"Encountered text corresponding to disallowed special token {token!r}.\n"
        "If you want this text to be encoded as a special token, "
        f"pass it to `allowed_special`, e.g. `allowed_special={{{token!r}, ...}}`.\n"
        "If you want this text to be encoded as normal text, disable the check for this token "
        f"by passing `disallowed_special=(enc.special_tokens_set - {{{token!r}}})`.\n"
        "To disable this check for all special tokens, pass `disallowed_special=()`.\n"
    )


def _num_threads(num_threads: Optional[int]) -> int:
    if num_threads is None:
        return 0
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 0:
        raise ValueError(f"num_threads must be a non-negative int or None, not {num_threads!r}")
    return num_threads


class Tokenizer:
    """An immutable, thread-safe, picklable tokenizer with tiktoken's method names.

    Build one with :func:`fastprep.get_encoding` or :meth:`Tokenizer.from_tiktoken`, or with
    tiktoken's ``Encoding`` constructor signature
    ``Tokenizer(name, pat_str=..., mergeable_ranks=..., special_tokens=...)``.
    """

    def __init__(
        self,
        name: str,
        *,
        pat_str: str,
        mergeable_ranks: dict[bytes, int],
        special_tokens: dict[str, int],
        explicit_n_vocab: Optional[int] = None,
        backend: Optional[str] = None,
    ):
        import base64

        lines = [b"%s %d" % (base64.b64encode(token), rank) for token, rank in mergeable_ranks.items()]
        self._setup(name, b"\n".join(lines), pat_str, special_tokens, backend)
        if explicit_n_vocab is not None and explicit_n_vocab != self.n_vocab:
            raise ValueError(
                f"explicit_n_vocab={explicit_n_vocab} but the tokens imply n_vocab={self.n_vocab}"
            )

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_tiktoken(
        cls,
        path: Union[str, os.PathLike],
        *,
        pattern: str,
        special_tokens: Optional[dict[str, int]] = None,
        name: Optional[str] = None,
        backend: Optional[str] = None,
    ) -> "Tokenizer":
        """Loads a tiktoken-format rank file (``<base64 token> <rank>`` per line).

        ``pattern`` is the pre-tokenizer regex. The cl100k_base, o200k_base and r50k/p50k/GPT-2
        patterns run on hand-written native lexers; any other pattern is split exactly but more
        slowly by the ``regex`` package (see README, "General pre-tokenizer path").
        """
        with open(path, "rb") as f:
            data = f.read()
        if name is None:
            name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
        return cls._from_rank_data(name, data, pattern, special_tokens or {}, backend)

    @classmethod
    def from_file(cls, path: Union[str, os.PathLike], *, backend: Optional[str] = None) -> "Tokenizer":
        """Loads a HF ``tokenizer.json``: normalizer, pre-tokenizer, model, post-processor,
        decoder, added tokens, truncation and padding. Ids equal HF ``tokenizers``' for the same
        file; a component or option fastprep does not implement raises
        :class:`fastprep.UnsupportedError` naming it."""
        with open(path, encoding="utf-8") as f:
            text = f.read()
        name = os.path.splitext(os.path.basename(os.fspath(path)))[0]
        return cls._from_hf_json(name, text, backend)

    @classmethod
    def from_str(cls, json_text: str, *, backend: Optional[str] = None) -> "Tokenizer":
        """Like :meth:`from_file`, from the JSON text of a ``tokenizer.json``."""
        return cls._from_hf_json("tokenizer.json", json_text, backend)

    @classmethod
    def _from_hf_json(cls, name: str, json_text: str, backend, settings=None) -> "Tokenizer":
        from .hf import HfEngine, parse_json

        self = cls.__new__(cls)
        self._backend = _backend.resolve(backend)
        self._name = name
        self._hf_json = json_text
        engine = HfEngine.load(parse_json(json_text), self._backend)
        if settings is not None:
            truncation, padding = settings
            pipeline = engine.pipeline.without_truncation().without_padding()
            if truncation is not None:
                pipeline = pipeline.with_truncation(**truncation)
            if padding is not None:
                pipeline = pipeline.with_padding(**padding)
            engine = engine.replace_pipeline(pipeline)
        self._hf = engine
        self._limits = None
        self._pickle_args = None
        return self

    @classmethod
    def _from_rank_data(cls, name, data, pattern, special_tokens, backend) -> "Tokenizer":
        self = cls.__new__(cls)
        self._setup(name, data, pattern, special_tokens, backend)
        return self

    def _setup(self, name, rank_data: bytes, pattern: str, special_tokens, backend) -> None:
        backend_name = _backend.resolve(backend)
        self._hf = None
        self._limits = None
        for text, token_id in special_tokens.items():
            if not isinstance(text, str) or not text:
                raise ValueError(f"special token {text!r} must be a non-empty str")
            if isinstance(token_id, bool) or not isinstance(token_id, int) or not (
                0 <= token_id <= 0xFFFFFFFE
            ):
                raise ValueError(f"special token {text!r} has an invalid id {token_id!r}")
        specials = list(special_tokens.items())
        core_module = _backend.core_for(backend_name)
        if core_module is not None:
            core = core_module.BpeEncoder(rank_data, pattern, specials)
        else:
            from ._fallback.bpe import PyBpeEncoder

            core = PyBpeEncoder(rank_data, pattern, specials)
        self._name = name
        self._pat_str = pattern
        self._rank_data = rank_data
        self._core = core
        self._backend = backend_name
        self._special_tokens = dict(special_tokens)
        self._special_ids = {token_id for token_id in special_tokens.values()}
        self._special_index = {text: i for i, (text, _) in enumerate(specials)}
        self._special_texts = [text for text, _ in specials]
        self._special_set = frozenset(special_tokens)
        n = len(specials)
        self._mask_none = bytes(n)
        self._mask_all = b"\x01" * n
        self._max_token_value = max([core.max_rank, *special_tokens.values()])
        self._special_regex_cache: dict = {}
        self._general = None
        if not core.has_lexer:
            from ._fallback import pretokenize

            self._general = pretokenize.compile_pattern(pattern)
        self._pickle_args = None  # set by get_encoding for built-in encodings

    # -- properties ---------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def backend(self) -> str:
        """Which implementation this object runs on: ``"native"`` or ``"python"``."""
        return self._backend

    @property
    def pat_str(self) -> str:
        self._require_tiktoken("pat_str")
        return self._pat_str

    @property
    def n_vocab(self) -> int:
        """One more than the largest token id (ordinary or special), as in tiktoken."""
        if self._hf is not None:
            return max(self._hf.pipeline.get_vocab().values(), default=-1) + 1
        return self._max_token_value + 1

    @property
    def max_token_value(self) -> int:
        return self.n_vocab - 1

    @property
    def is_hf(self) -> bool:
        """True for a tokenizer loaded from a HF tokenizer.json."""
        return self._hf is not None

    def _require_tiktoken(self, what: str) -> None:
        if self._hf is not None:
            raise ValueError(f"{what} applies to tiktoken encodings, not to a tokenizer.json")

    def _require_hf(self, what: str) -> None:
        if self._hf is None:
            raise ValueError(f"{what} applies to tokenizer.json files, not to tiktoken encodings")

    @property
    def eot_token(self) -> int:
        self._require_tiktoken("eot_token")
        try:
            return self._special_tokens["<|endoftext|>"]
        except KeyError:
            raise AttributeError(f"encoding {self._name!r} has no <|endoftext|> token") from None

    @property
    def special_tokens_set(self) -> set[str]:
        if self._hf is not None:
            return set(self._hf.pipeline.added.special)
        return set(self._special_set)

    def is_special_token(self, token: int) -> bool:
        if self._hf is not None:
            tok = self._hf.pipeline.id_to_token(token)
            return tok is not None and tok in self._hf.pipeline.added.special
        return token in self._special_ids

    def __repr__(self) -> str:
        return f"<fastprep.Tokenizer {self._name!r} backend={self._backend}>"

    # -- pickling: rebuild from the rank data (or by name for built-in encodings) --------------

    def __reduce__(self):
        if self._hf is not None:
            settings = (self._hf.truncation, self._hf.padding)
            return (_rebuild_hf, (self._name, self._hf_json, self._backend, settings))
        if self._pickle_args is not None:
            from .encodings import _unpickle_encoding

            return (_unpickle_encoding, self._pickle_args)
        return (
            _rebuild,
            (self._name, self._rank_data, self._pat_str, self._special_tokens, self._backend),
        )

    # -- limits for untrusted input ----------------------------------------------------------

    def with_limits(self, *, max_input_bytes: Optional[int] = None,
                    max_tokens: Optional[int] = None) -> "Tokenizer":
        """A tokenizer sharing this one's vocabulary that refuses oversized input.

        ``max_input_bytes``: inputs whose UTF-8 size exceeds it raise
        :class:`fastprep.LimitExceededError` before any tokenization. ``max_tokens``: a result
        longer than this raises it too (checked up front where the byte size proves the limit
        cannot be reached: a byte-level token covers at least one byte). Batches check every text.
        """
        for name, value in (("max_input_bytes", max_input_bytes), ("max_tokens", max_tokens)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None, not {value!r}")
        # A shallow copy that shares the (immutable) native objects; copy.copy would go through
        # __reduce__, which returns the cached instance for built-in encodings.
        clone = object.__new__(_LimitedTokenizer if self.__class__ is Tokenizer else self.__class__)
        clone.__dict__.update(self.__dict__)
        clone._limits = (max_input_bytes, max_tokens)
        return clone

    @property
    def limits(self) -> Optional[dict]:
        """``{"max_input_bytes": ..., "max_tokens": ...}`` set by :meth:`with_limits`, or None."""
        if self._limits is None:
            return None
        return {"max_input_bytes": self._limits[0], "max_tokens": self._limits[1]}

    def _check_input(self, text) -> None:
        max_bytes = self._limits[0]
        if max_bytes is None:
            return
        if isinstance(text, bytes):
            size = len(text)
        elif isinstance(text, str):
            if len(text) > max_bytes:  # every character takes at least one byte
                size = len(text)
            elif text.isascii() or 4 * len(text) <= max_bytes:
                return
            else:
                size = len(text.encode("utf-8", "surrogatepass"))
        else:
            return  # the encode call reports the type error
        if size > max_bytes:
            raise LimitExceededError(
                f"input of {size} bytes exceeds max_input_bytes={max_bytes}")

    def _check_tokens(self, n: int) -> None:
        max_tokens = self._limits[1]
        if max_tokens is not None and n > max_tokens:
            raise LimitExceededError(f"input encodes to {n} tokens, over max_tokens={max_tokens}")

    # -- special-token policy -----------------------------------------------------------------

    def _masks(self, allowed_special, disallowed_special) -> tuple[bytes, bytes]:
        if allowed_special is _NO_SPECIALS and disallowed_special == "all":
            return self._mask_none, self._mask_all  # the default: refuse every special
        if allowed_special == "all":
            allowed = self._special_set
        elif not allowed_special:
            allowed = frozenset()
        else:
            allowed = frozenset(allowed_special)
        if disallowed_special == "all":
            disallowed = self._special_set - allowed
        elif not disallowed_special:
            disallowed = frozenset()
        else:
            if isinstance(disallowed_special, str):
                raise TypeError("disallowed_special must be 'all' or a collection of str")
            disallowed = frozenset(disallowed_special)
        return self._mask_for(allowed), self._mask_for(disallowed)

    def _mask_for(self, tokens: frozenset) -> bytes:
        if not tokens:
            return self._mask_none
        if tokens == self._special_set:
            return self._mask_all
        mask = bytearray(len(self._special_texts))
        index = self._special_index
        for token in tokens:
            i = index.get(token)
            if i is not None:  # tiktoken ignores names that are not special tokens
                mask[i] = 1
        return bytes(mask)

    # -- encoding -----------------------------------------------------------------------------

    def encode_ordinary(self, text: Union[str, bytes], *, errors: str = "strict") -> list[int]:
        """Ids of ``text``, treating special-token text as ordinary text.

        ``text`` may be ``str`` or UTF-8 ``bytes``; invalid UTF-8 raises ``ValueError`` naming the
        byte offset, or is replaced by U+FFFD with ``errors="replace"``.
        """
        if text.__class__ is bytes and (errors != "strict" or self._hf is not None
                                        or self._general is not None):
            text = _decode_input(text, errors)
        if self._hf is not None:  # special-token text is ordinary text, no template
            return self._hf.split_specials().encode(text, None, False)
        if self._general is None:
            try:
                return self._core.encode_ordinary(text, 0)
            except UnicodeEncodeError:
                return self._core.encode_ordinary(_fix_surrogates(text), 0)
        return self._general_encode(text, self._mask_none)

    def encode(
        self,
        text: str,
        pair: Optional[str] = None,
        *,
        add_special_tokens: bool = True,
        allowed_special: AllowedSpecial = _NO_SPECIALS,
        disallowed_special: DisallowedSpecial = "all",
        errors: str = "strict",
        split_special_tokens: bool = False,
    ) -> list[int]:
        """Ids of ``text`` (``str``, or UTF-8 ``bytes``: invalid UTF-8 raises ``ValueError`` with
        the byte offset, or becomes U+FFFD with ``errors="replace"``).

        tiktoken encodings: special-token text listed in ``allowed_special`` becomes that token's
        id; text matching a special token in ``disallowed_special`` (default: every special not
        allowed) raises ``ValueError`` naming it; other special-token text is ordinary text.

        tokenizer.json files: exactly HF ``tokenizers``' ``encode(text, pair,
        add_special_tokens=...).ids``, with the file's (or the configured) truncation and padding.
        HF files parse special-token text in the input by default (as HF does); for user text in
        serving pass ``split_special_tokens=True`` (HF's ``encode_special_tokens``), so text like
        "[SEP]" or "<|im_end|>" typed by a user is encoded as ordinary text, never as a control
        token. For tiktoken encodings it means ``disallowed_special=()`` with nothing allowed.
        """
        if text.__class__ is bytes and (errors != "strict" or self._hf is not None
                                        or self._general is not None):
            text = _decode_input(text, errors)
        if self._hf is not None:
            engine = self._hf.split_specials() if split_special_tokens else self._hf
            return engine.encode(text, pair, add_special_tokens)
        if split_special_tokens:
            allowed_special, disallowed_special = _NO_SPECIALS, ()
        if pair is not None:
            raise ValueError("tiktoken encodings have no pair template; pass pair=None")
        if allowed_special is _NO_SPECIALS and disallowed_special == "all":
            allowed, disallowed = self._mask_none, self._mask_all  # the default, kept cheap
        else:
            allowed, disallowed = self._masks(allowed_special, disallowed_special)
        if self._general is None:
            try:
                result = self._core.encode(text, allowed, disallowed, 0, False)
            except UnicodeEncodeError:
                result = self._core.encode(_fix_surrogates(text), allowed, disallowed, 0, False)
            if result.__class__ is int:
                _raise_disallowed(self._special_texts[result])
            return result
        return self._encode(text, allowed, disallowed, False)

    def encode_to_numpy(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = _NO_SPECIALS,
        disallowed_special: DisallowedSpecial = "all",
    ):
        """Like :meth:`encode`, returning a ``numpy.uint32`` array that owns the native buffer."""
        if self._hf is not None:
            import numpy as np

            return np.asarray(self._hf.encode(text, None, True), dtype=np.uint32)
        allowed, disallowed = self._masks(allowed_special, disallowed_special)
        return self._encode(text, allowed, disallowed, True)

    def _encode(self, text, allowed: bytes, disallowed: bytes, as_numpy: bool):
        if self._general is None:
            try:
                result = self._core.encode(text, allowed, disallowed, 0, as_numpy)
            except UnicodeEncodeError:
                result = self._core.encode(_fix_surrogates(text), allowed, disallowed, 0, as_numpy)
            if isinstance(result, int):
                _raise_disallowed(self._special_texts[result])
            return result
        text = self._checked_text(text)
        self._check_disallowed(text, disallowed)
        ids = self._general_encode(text, allowed)
        if as_numpy:
            import numpy as np

            return np.array(ids, dtype=np.uint32)
        return ids

    def count(
        self,
        text: str,
        *,
        allowed_special: AllowedSpecial = _NO_SPECIALS,
        disallowed_special: DisallowedSpecial = "all",
    ) -> int:
        """``len(encode(text, ...))`` without building the list."""
        if self._hf is not None:
            return len(self._hf.encode(text, None, True))
        allowed, disallowed = self._masks(allowed_special, disallowed_special)
        if self._general is None:
            try:
                n = self._core.count(text, allowed, disallowed)
            except UnicodeEncodeError:
                n = self._core.count(_fix_surrogates(text), allowed, disallowed)
            if n < 0:
                _raise_disallowed(self._special_texts[-n - 1])
            return n
        return len(self._encode(text, allowed, disallowed, False))

    def encode_batch(
        self,
        texts: Sequence[str],
        *,
        num_threads: Optional[int] = None,
        add_special_tokens: bool = True,
        allowed_special: AllowedSpecial = _NO_SPECIALS,
        disallowed_special: DisallowedSpecial = "all",
        layout: Optional[str] = None,
        padding: Any = None,
        truncation: Any = None,
        max_length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
        return_tensors: Optional[str] = None,
        split_special_tokens: bool = False,
        **feature_options: Any,
    ):
        """Encodes many texts on the native thread pool (GIL released for the whole batch).

        ``num_threads=None`` uses every core. For tokenizer.json files the items may also be
        (text, pair) tuples, and padding with no fixed length pads to the longest in the batch,
        as HF's ``encode_batch`` does.

        With ``layout="padded" | "varlen"``, ``padding``, ``truncation`` or
        ``return_tensors="np"``, returns model inputs as NumPy arrays instead (see
        :meth:`__call__`): tokenization and packing without a Python loop.
        """
        if layout is not None or padding is not None or return_tensors is not None or \
                truncation is not None or feature_options:
            from .features import batch_features

            return batch_features(
                self, texts, add_special_tokens=add_special_tokens,
                padding="longest" if padding is None else padding,
                truncation=False if truncation is None else truncation, max_length=max_length,
                pad_to_multiple_of=pad_to_multiple_of, layout=layout or "padded",
                num_threads=num_threads, return_tensors=return_tensors or "np",
                allowed_special=allowed_special, disallowed_special=disallowed_special,
                split_special_tokens=split_special_tokens, **feature_options)
        if self._hf is not None:
            if isinstance(texts, (str, bytes)):
                raise TypeError("encode_batch expects a sequence of str, not a single str")
            texts = [_decode_input(t, "strict") if isinstance(t, bytes) else t for t in texts]
            engine = self._hf.split_specials() if split_special_tokens else self._hf
            return engine.encode_batch(texts, add_special_tokens, _num_threads(num_threads))
        if split_special_tokens:
            allowed_special, disallowed_special = _NO_SPECIALS, ()
        allowed, disallowed = self._masks(allowed_special, disallowed_special)
        return self._encode_batch(texts, allowed, disallowed, _num_threads(num_threads))

    def encode_ordinary_batch(
        self, texts: Sequence[str], *, num_threads: Optional[int] = None
    ) -> list[list[int]]:
        """:meth:`encode_ordinary` for many texts, on the native thread pool."""
        if self._hf is not None:
            return self._hf.split_specials().encode_batch(list(texts), False,
                                                          _num_threads(num_threads))
        return self._encode_batch(texts, self._mask_none, self._mask_none, _num_threads(num_threads))

    def _encode_batch(self, texts, allowed, disallowed, num_threads) -> list[list[int]]:
        if isinstance(texts, str):
            raise TypeError("encode_batch expects a sequence of str, not a single str")
        if not isinstance(texts, (list, tuple)):
            texts = list(texts)
        if self._general is None:
            try:
                result = self._core.encode_batch(texts, allowed, disallowed, num_threads)
            except UnicodeEncodeError:
                texts = [_fix_surrogates(t) if isinstance(t, str) else t for t in texts]
                result = self._core.encode_batch(texts, allowed, disallowed, num_threads)
            if isinstance(result, tuple):
                _raise_disallowed(self._special_texts[result[1]])
            return result
        return [self._encode(t, allowed, disallowed, False) for t in texts]

    def encode_single_token(self, text_or_bytes: Union[str, bytes]) -> int:
        """The id of text that is exactly one token (ordinary or special); KeyError otherwise."""
        self._require_tiktoken("encode_single_token")
        if isinstance(text_or_bytes, str):
            special = self._special_tokens.get(text_or_bytes)
            if special is not None:
                return special
            text_or_bytes = text_or_bytes.encode("utf-8")
        rank = self._core.rank_of(bytes(text_or_bytes))
        if rank is None:
            raise KeyError(text_or_bytes)
        return rank

    # -- the general (regex) path: patterns without a native lexer, and the Python backend ------

    @staticmethod
    def _checked_text(text: str) -> str:
        if isinstance(text, bytes):
            return _decode_input(text, "strict")
        if not isinstance(text, str):
            raise TypeError(f"expected str, got {type(text).__name__}")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return _fix_surrogates(text)
        return text

    def _find_specials(self, text: str, mask: bytes):
        """Yields (start, end, special index) for the leftmost-longest occurrences in ``text``."""
        regex = self._special_regex(mask)
        if regex is None:
            return
        for match in regex.finditer(text):
            yield match.start(), match.end(), self._special_index[match.group()]

    def _special_regex(self, mask: bytes):
        cached = self._special_regex_cache.get(mask, False)
        if cached is not False:
            return cached
        import re

        tokens = [t for t, on in zip(self._special_texts, mask) if on]
        # Longest first so that at one position the longest special wins (alternation order).
        tokens.sort(key=len, reverse=True)
        regex = re.compile("|".join(re.escape(t) for t in tokens)) if tokens else None
        self._special_regex_cache[mask] = regex
        return regex

    def _check_disallowed(self, text: str, disallowed: bytes) -> None:
        for _, _, index in self._find_specials(text, disallowed):
            _raise_disallowed(self._special_texts[index])

    def _general_encode(self, text: str, allowed: bytes) -> list[int]:
        from ._fallback import pretokenize

        text = self._checked_text(text)
        out: list[int] = []
        start = 0
        for s, e, index in self._find_specials(text, allowed):
            out.extend(self._core.encode_pieces(pretokenize.split(self._general, text[start:s])))
            out.append(self._special_tokens[self._special_texts[index]])
            start = e
        out.extend(self._core.encode_pieces(pretokenize.split(self._general, text[start:])))
        return out

    # -- decoding -----------------------------------------------------------------------------

    def decode_bytes(self, tokens: Sequence[int]) -> bytes:
        """Concatenated bytes of ``tokens``; ``KeyError`` for an id not in the vocabulary."""
        if self._hf is not None:
            return self.decode(tokens, skip_special_tokens=False).encode("utf-8", "surrogatepass")
        return self._core.decode_bytes(tokens)

    def decode(
        self,
        tokens: Sequence[int],
        errors: Union[str, bool] = "replace",
        *,
        skip_special_tokens: bool = True,
    ) -> str:
        """Text of ``tokens``.

        tiktoken encodings: invalid UTF-8 is replaced with U+FFFD (``errors``), as tiktoken does.
        tokenizer.json files: HF's ``decode(ids, skip_special_tokens)``; a bool second positional
        argument is read as ``skip_special_tokens``, so HF-style calls work unchanged.
        """
        if self._hf is not None:
            if isinstance(errors, bool):
                skip_special_tokens = errors
            return self._hf.pipeline.decode(list(tokens), skip_special_tokens)
        return self._core.decode_bytes(tokens).decode("utf-8", errors=errors)

    def decode_single_token_bytes(self, token: int) -> bytes:
        """Bytes of one token (ordinary or special); ``KeyError`` if unknown."""
        self._require_tiktoken("decode_single_token_bytes")
        if isinstance(token, bool) or not hasattr(token, "__index__"):
            raise TypeError(f"token must be int, got {type(token).__name__}")
        return self._core.token_bytes(int(token))

    def decode_tokens_bytes(self, tokens: Sequence[int]) -> list[bytes]:
        return [self.decode_single_token_bytes(t) for t in tokens]

    def decode_batch(self, batch: Sequence[Sequence[int]], errors: Union[str, bool] = "replace",
                     *, skip_special_tokens: bool = True) -> list[str]:
        return [self.decode(tokens, errors, skip_special_tokens=skip_special_tokens)
                for tokens in batch]

    def decode_bytes_batch(self, batch: Sequence[Sequence[int]]) -> list[bytes]:
        return [self.decode_bytes(tokens) for tokens in batch]

    # -- asyncio: the same calls off the event loop (see fastprep.aio for the knobs) -----------

    async def aencode(self, text, **kwargs) -> list[int]:
        """:meth:`encode` without blocking the event loop (bounded, on the native thread pool)."""
        from . import aio

        return await aio.aencode(self, text, **kwargs)

    async def aencode_batch(self, texts, **kwargs) -> list[list[int]]:
        """:meth:`encode_batch` without blocking the event loop."""
        from . import aio

        return await aio.aencode_batch(self, texts, **kwargs)

    async def aencode_padded(self, texts, **kwargs) -> dict:
        """Tokenize and pack (:func:`fastprep.pack_padded`) without blocking the event loop."""
        from . import aio

        return await aio.aencode_padded(self, texts, **kwargs)

    # -- HF-style API (tokenizer.json files; the vocabulary methods also serve tiktoken) -------

    def __call__(
        self,
        text: Union[str, Sequence[str]],
        text_pair: Union[str, Sequence[str], None] = None,
        *,
        add_special_tokens: bool = True,
        padding: Any = True,
        truncation: Any = False,
        max_length: Optional[int] = None,
        pad_to_multiple_of: Optional[int] = None,
        return_attention_mask: bool = True,
        return_token_type_ids: Optional[bool] = None,
        return_position_ids: bool = False,
        return_tensors: str = "np",
        layout: str = "padded",
        pad_id: Optional[int] = None,
        padding_side: Optional[str] = None,
        truncation_side: str = "right",
        dtype: Any = None,
        num_threads: Optional[int] = None,
        split_special_tokens: bool = False,
    ) -> dict:
        """Tokenize and pack in HF's style: returns ``{"input_ids": [B, L], "attention_mask":
        [B, L], ...}`` as NumPy arrays (int64 unless ``dtype=np.int32``).

        ``padding``: True/"longest" (to the longest row, rounded up to ``pad_to_multiple_of``),
        "max_length", or False (rows must then have equal lengths, or use ``layout="varlen"``).
        ``truncation``: True/"longest_first"/"only_first"/"only_second" with ``max_length``,
        counting the special tokens as HF does. ``layout="varlen"`` returns flash-attention's
        ``input_ids [T]``, ``cu_seqlens [B+1]``, ``position_ids [T]`` and ``max_seqlen``.
        ``pad_id`` and ``padding_side`` default to the tokenizer.json's padding settings, else
        0 and "right". ``token_type_ids`` are returned by default for BERT-style templates.
        For tokenizer.json files the arrays equal HF's ``encode_batch`` with the same
        ``enable_truncation``/``enable_padding`` settings.
        """
        from .features import batch_features

        return batch_features(
            self, text, text_pair, add_special_tokens=add_special_tokens, padding=padding,
            truncation=truncation, max_length=max_length, pad_to_multiple_of=pad_to_multiple_of,
            layout=layout, return_attention_mask=return_attention_mask,
            return_token_type_ids=return_token_type_ids, return_position_ids=return_position_ids,
            pad_id=pad_id, padding_side=padding_side, truncation_side=truncation_side,
            dtype=dtype, num_threads=num_threads, return_tensors=return_tensors,
            split_special_tokens=split_special_tokens)

    def encode_with_offsets(self, text: str, *, add_special_tokens: bool = True,
                            split_special_tokens: bool = False):
        """(ids, offsets): offsets are (start, end) character positions in ``text``, equal to
        HF's ``Encoding.offsets`` (special tokens get (0, 0))."""
        self._require_hf("encode_with_offsets")
        engine = self._hf.split_specials() if split_special_tokens else self._hf
        return engine.encode_with_offsets(text, add_special_tokens)

    def encode_full(self, text: str, pair: Optional[str] = None, *, add_special_tokens: bool = True):
        """Everything HF's ``Encoding`` holds (ids, type_ids, tokens, offsets, attention_mask,
        special_tokens_mask, overflowing), from the reference pipeline."""
        self._require_hf("encode_full")
        return self._hf.encode_full(text, pair, add_special_tokens)

    def normalize_str(self, text: str) -> str:
        self._require_hf("normalize_str")
        return self._hf.pipeline.normalize_str(text)

    def pre_tokenize_str(self, text: str):
        self._require_hf("pre_tokenize_str")
        return self._hf.pipeline.pre_tokenize_str(text)

    def token_to_id(self, token: str) -> Optional[int]:
        if self._hf is not None:
            return self._hf.pipeline.token_to_id(token)
        try:
            return self.encode_single_token(token)
        except KeyError:
            return None

    def id_to_token(self, token_id: int) -> Optional[str]:
        if self._hf is not None:
            return self._hf.pipeline.id_to_token(token_id)
        try:
            return self.decode_single_token_bytes(token_id).decode("utf-8", "replace")
        except KeyError:
            return None

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        if self._hf is not None:
            return self._hf.pipeline.get_vocab_size(with_added_tokens)
        return self._core.n_ranks + (len(self._special_tokens) if with_added_tokens else 0)

    def get_vocab(self, with_added_tokens: bool = True) -> dict[str, int]:
        self._require_hf("get_vocab")
        return self._hf.pipeline.get_vocab(with_added_tokens)

    @property
    def truncation(self) -> Optional[dict]:
        """The truncation settings (HF's dict shape), or None."""
        return None if self._hf is None else self._hf.truncation

    @property
    def padding(self) -> Optional[dict]:
        """The padding settings (HF's dict shape), or None."""
        return None if self._hf is None else self._hf.padding

    # Settings changes swap in a new immutable engine in one assignment, so a thread encoding
    # concurrently sees either the old or the new settings, never a mixture.

    def enable_truncation(self, max_length: int, stride: int = 0,
                          strategy: str = "longest_first", direction: str = "right") -> None:
        self._require_hf("enable_truncation")
        if not isinstance(max_length, int) or max_length < 0:
            raise ValueError(f"max_length must be a non-negative int, not {max_length!r}")
        self._hf = self._hf.replace_pipeline(
            self._hf.pipeline.with_truncation(max_length, stride, strategy, direction))

    def no_truncation(self) -> None:
        self._require_hf("no_truncation")
        self._hf = self._hf.replace_pipeline(self._hf.pipeline.without_truncation())

    def enable_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                       pad_token: str = "[PAD]", length: Optional[int] = None,
                       pad_to_multiple_of: Optional[int] = None) -> None:
        self._require_hf("enable_padding")
        self._hf = self._hf.replace_pipeline(self._hf.pipeline.with_padding(
            direction, pad_id, pad_type_id, pad_token, length, pad_to_multiple_of))

    def no_padding(self) -> None:
        self._require_hf("no_padding")
        self._hf = self._hf.replace_pipeline(self._hf.pipeline.without_padding())


class _LimitedTokenizer(Tokenizer):
    """A Tokenizer with input limits (see :meth:`Tokenizer.with_limits`). A subclass, so the
    unlimited class's hot paths carry no limit checks."""

    def _checked(self, texts, method, *args, **kwargs):
        for text in texts:
            self._check_input(text)
        result = method(self, *args, **kwargs)
        return result

    def encode(self, text, pair=None, **kwargs):
        ids = self._checked([text] if pair is None else [text, pair], Tokenizer.encode, text,
                            pair, **kwargs)
        self._check_tokens(len(ids))
        return ids

    def encode_ordinary(self, text, **kwargs):
        ids = self._checked([text], Tokenizer.encode_ordinary, text, **kwargs)
        self._check_tokens(len(ids))
        return ids

    def encode_to_numpy(self, text, **kwargs):
        ids = self._checked([text], Tokenizer.encode_to_numpy, text, **kwargs)
        self._check_tokens(len(ids))
        return ids

    def count(self, text, **kwargs):
        n = self._checked([text], Tokenizer.count, text, **kwargs)
        self._check_tokens(n)
        return n

    def encode_batch(self, texts, **kwargs):
        if isinstance(texts, (str, bytes)):
            raise TypeError("encode_batch expects a sequence of str, not a single str")
        texts = list(texts)
        result = self._checked([t[0] if isinstance(t, tuple) else t for t in texts],
                               Tokenizer.encode_batch, texts, **kwargs)
        if isinstance(result, list):
            for ids in result:
                self._check_tokens(len(ids))
        return result

    def encode_ordinary_batch(self, texts, **kwargs):
        texts = list(texts)
        result = self._checked(texts, Tokenizer.encode_ordinary_batch, texts, **kwargs)
        for ids in result:
            self._check_tokens(len(ids))
        return result

    def __call__(self, text, text_pair=None, **kwargs):
        texts = [text] if isinstance(text, (str, bytes)) else list(text)
        pairs = [] if text_pair is None else (
            [text_pair] if isinstance(text_pair, (str, bytes)) else list(text_pair))
        out = self._checked(texts + pairs, Tokenizer.__call__, text, text_pair, **kwargs)
        if "attention_mask" in out:
            for n in out["attention_mask"].sum(axis=1).tolist():
                self._check_tokens(int(n))
        return out

    def __reduce__(self):
        base = Tokenizer.__reduce__(self)
        return (_rebuild_limited, (base, self._limits))


def _rebuild_limited(base, limits) -> Tokenizer:
    func, args = base
    return func(*args).with_limits(max_input_bytes=limits[0], max_tokens=limits[1])


def _rebuild_hf(name, json_text, backend, settings) -> Tokenizer:
    if backend == "native" and "native" not in _backend.available_backends():
        backend = None
    return Tokenizer._from_hf_json(name, json_text, backend, settings)


def _rebuild(name, rank_data, pattern, special_tokens, backend) -> Tokenizer:
    if backend == "native" and "native" not in _backend.available_backends():
        backend = None  # unpickled where the extension is missing: fall back quietly
    return Tokenizer._from_rank_data(name, rank_data, pattern, special_tokens, backend)

