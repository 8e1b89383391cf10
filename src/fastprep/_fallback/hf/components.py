"""Normalizers, pre-tokenizers and decoders of the HF-pipeline reference, built from tokenizer.json.

Each class mirrors the HF component of the same name; the comments name the Unicode data each
one follows (see the package docstring). Anything this reference does not implement raises
UnsupportedError naming it, so fastprep never silently differs from HF.
"""
from __future__ import annotations

import functools
import re
from typing import Callable, List

import regex

from ...errors import UnsupportedError
from .. import pretokenize as _pretok
from . import _unicode as U
from .normalized import (
    BEHAVIORS, CONTIGUOUS, ISOLATED, MERGED_WITH_NEXT, REMOVED, NormalizedString,
    PreTokenizedString, find_char_matches, find_regex_matches, invert,
)


# -- patterns ---------------------------------------------------------------------------------

@functools.lru_cache(maxsize=256)
def onig_regex(pattern: str):
    """An Oniguruma (Ruby syntax) pattern for the ``regex`` package: ``\\p{..}``, ``\\s`` and
    ``\\d`` become explicit Unicode 16.0 classes (Oniguruma follows 16.0, the same tables as
    fastprep._fallback.pretokenize); ``\\w``/``\\W``/``\\b``/``\\B`` use Oniguruma's word class
    and ``\\h``/``\\H`` its hex digits (see :func:`_onig_escapes`); ``^``/``$`` are line anchors
    as in Ruby."""
    return regex.compile(_pretok.translate_pattern("(?m)" + _onig_escapes(pattern)))


@functools.lru_cache(maxsize=None)
def _onig_word_ranges(in_class: bool):
    """Oniguruma's ``\\w``, found by probing tokenizers' Split: the Rust-regex word class
    (Alphabetic, M, Nd, Pc; Unicode 16.0) without Join_Control (U+200C, U+200D); outside a
    bracket class also the Latin-1 digits and fractions (U+00B2 U+00B3 U+00B9 U+00BC-U+00BE)
    that its single-byte table marks as word characters."""
    cps = set()
    for lo, hi in U.word_ranges_16():
        cps.update(range(lo, hi + 1))
    cps -= {0x200C, 0x200D}
    if not in_class:
        cps |= {0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE}
    return _pretok._merge((c, c) for c in cps)


def _onig_escapes(pat: str) -> str:
    """Spell out the Oniguruma constructs whose meaning differs from the ``regex`` package's:
    the escapes below, and ``X{n,m}+``, which Oniguruma's Ruby syntax reads as ``(?:X{n,m})+``
    (an interval repeated, not a possessive interval as in ``regex``; tiktoken's cl100k
    pattern writes ``\\p{N}{1,3}+``, so HF keeps a whole digit run together)."""
    if "\\" not in pat and "}+" not in pat:
        return pat
    hexd, non_hex = "0-9a-fA-F", _pretok._class_body(_pretok._complement(
        [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)]))
    bodies = {}
    for inside in (False, True):
        ranges = _onig_word_ranges(inside)
        bodies[inside] = {"w": _pretok._class_body(ranges), "h": hexd, "H": non_hex,
                          "W": _pretok._class_body(_pretok._complement(ranges))}
    word = bodies[False]["w"]
    out, i, n, in_class, class_start = [], 0, len(pat), False, -1
    atom = None   # index in out where the last complete atom outside a class starts
    groups = []   # indices in out of the open groups' "("
    while i < n:
        ch = pat[i]
        if ch == "\\" and i + 1 < n:
            nxt = pat[i + 1]
            start = len(out)
            body = bodies[in_class].get(nxt)
            if body is not None:
                out.append(body if in_class else f"[{body}]")
                i += 2
            elif nxt in "bB" and not in_class:
                w = f"[{word}]"
                out.append(f"(?:(?<={w})(?!{w})|(?<!{w})(?={w}))" if nxt == "b"
                           else f"(?:(?<={w})(?={w})|(?<!{w})(?!{w}))")
                i += 2
            elif nxt in "pPx" and pat[i + 2:i + 3] == "{" and "}" in pat[i + 3:]:
                end = pat.index("}", i + 3) + 1  # \p{..}, \x{..}: one atom
                out.append(pat[i:end])
                i = end
            else:
                out.append(pat[i:i + 2])
                i += 2
            if not in_class:
                atom = start
            continue
        if in_class:
            if ch == "]" and i != class_start:
                in_class = False
            out.append(ch)
            i += 1
            continue
        interval = _INTERVAL.match(pat, i) if ch == "{" else None
        if interval is not None:
            text = interval.group(0)
            if pat[interval.end():interval.end() + 1] == "+" and atom is not None:
                out.insert(atom, "(?:")
                out.append(text + ")")
            else:
                out.append(text)
            i = interval.end()
            continue
        if ch == "[":
            in_class = True
            class_start = i + 1 + (pat[i + 1:i + 2] == "^")
            atom = len(out)
        elif ch == "(":
            groups.append(len(out))
            atom = None
        elif ch == ")":
            atom = groups.pop() if groups else None
        elif ch in "|":
            atom = None
        elif ch not in "*+?":
            atom = len(out)
        out.append(ch)
        i += 1
    return "".join(out)


_INTERVAL = re.compile(r"\{[0-9]+(?:,[0-9]*)?\}")


def _pattern_from_json(obj, owner: str):
    if not isinstance(obj, dict) or len(obj) != 1:
        raise UnsupportedError(f"{owner} pattern {obj!r} is not supported")
    (kind, value), = obj.items()
    if kind == "String":
        return onig_regex(regex.escape(value)) if value else regex.compile("")
    if kind == "Regex":
        return onig_regex(value)
    raise UnsupportedError(f"{owner} pattern kind {kind!r} is not supported")


# -- normalizers ------------------------------------------------------------------------------

def _is_bert_whitespace(c: str) -> bool:
    return c in "\t\n\r" or U.is_whitespace(c)


def _is_bert_control(c: str) -> bool:
    return c not in "\t\n\r" and U.is_other_8(c)


def _is_chinese_char(c: str) -> bool:
    cp = ord(c)
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B920 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _nfd(ns: NormalizedString) -> None:
    if not ns.normalized.isascii():
        ns.transform(U.decompositions_9(ns.normalized, False))


class Normalizer:
    def __init__(self, obj: dict) -> None:
        kind = obj.get("type")
        self.kind = kind
        self.steps: List[Callable[[NormalizedString], None]] = []
        if kind == "Sequence":
            for sub in obj.get("normalizers") or []:
                self.steps.extend(Normalizer(sub).steps)
        elif kind in ("NFD", "NFKD"):
            compat = kind == "NFKD"
            self.steps.append(lambda ns: None if ns.normalized.isascii()
                              else ns.transform(U.decompositions_9(ns.normalized, compat)))
        elif kind in ("NFC", "NFKC"):
            compat = kind == "NFKC"
            self.steps.append(lambda ns: None if ns.normalized.isascii()
                              else ns.transform(U.recompositions_9(ns.normalized, compat)))
        elif kind == "Lowercase":
            self.steps.append(lambda ns: ns.lowercase(U.to_lowercase))
        elif kind == "StripAccents":
            self.steps.append(lambda ns: ns.filter(lambda c: not U.is_combining_mark_9(c)))
        elif kind == "Strip":
            left, right = bool(obj.get("strip_left")), bool(obj.get("strip_right"))
            self.steps.append(lambda ns: ns.lrstrip(left, right, U.is_whitespace))
        elif kind == "BertNormalizer":
            self.steps.append(self._bert(obj))
        elif kind == "Replace":
            pat = _pattern_from_json(obj.get("pattern"), "Replace")
            content = obj.get("content", "")
            self.steps.append(lambda ns: ns.replace(find_regex_matches(ns.normalized, pat), content))
        elif kind == "Prepend":
            prepend = obj.get("prepend", "")
            self.steps.append(lambda ns: ns.prepend(prepend) if ns.normalized else None)
        elif kind == "Nmt":
            self.steps.append(self._nmt)
        else:
            raise UnsupportedError(f"normalizer {kind!r} is not supported")

    @staticmethod
    def _bert(obj: dict):
        clean_text = obj.get("clean_text", True)
        chinese = obj.get("handle_chinese_chars", True)
        lowercase = obj.get("lowercase", True)
        strip_accents = obj.get("strip_accents")
        if strip_accents is None:
            strip_accents = lowercase

        def run(ns: NormalizedString) -> None:
            if clean_text:
                ns.filter(lambda c: not (c == "\x00" or c == "\ufffd" or _is_bert_control(c)))
                ns.map(lambda c: " " if _is_bert_whitespace(c) else c)
            if chinese and any(_is_chinese_char(c) for c in ns.normalized):
                dest = []
                for c in ns.normalized:
                    if _is_chinese_char(c):
                        dest.extend([(" ", 0), (c, 1), (" ", 1)])
                    else:
                        dest.append((c, 0))
                ns.transform(dest)
            if strip_accents:
                _nfd(ns)
                ns.filter(lambda c: not U.is_nonspacing_mark_8(c))
            if lowercase:
                ns.lowercase(U.to_lowercase)
        return run

    @staticmethod
    def _nmt(ns: NormalizedString) -> None:
        drop = set(range(0x01, 0x09)) | {0x0B} | set(range(0x0E, 0x20)) | {0x7F, 0x8F, 0x9F}
        spaces = {0x09, 0x0A, 0x0C, 0x0D, 0x1680, 0x2028, 0x2029, 0x2581, 0xFEFF, 0xFFFD}
        spaces |= set(range(0x200B, 0x2010))
        ns.filter(lambda c: ord(c) not in drop)
        ns.map(lambda c: " " if ord(c) in spaces else c)

    def normalize(self, ns: NormalizedString) -> None:
        for step in self.steps:
            step(ns)


# -- pre-tokenizers ---------------------------------------------------------------------------

_BYTE_LEVEL_RE = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


@functools.lru_cache(maxsize=None)
def bytes_to_unicode() -> dict:
    """GPT-2's byte -> printable character table (HF bytes_char)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = list(bs)
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


@functools.lru_cache(maxsize=None)
def unicode_to_bytes() -> dict:
    return {c: b for b, c in bytes_to_unicode().items()}


@functools.lru_cache(maxsize=None)
def _whitespace_regex():
    """The Whitespace pre-tokenizer's ``\\w+|[^\\w\\s]+`` with Rust regex's Unicode 16.0 classes."""
    w = U.word_class_16()
    s = _pretok._class_body(_pretok.WHITE_SPACE)
    return regex.compile(f"[{w}]+|[^{w}{s}]+")


def _byte_level_transform(ns: NormalizedString) -> None:
    table = bytes_to_unicode()
    s = ns.normalized
    if s.isascii():
        ns.normalized = "".join(table[ord(c)] for c in s)  # one char per char: same alignments
        return
    dest = []
    for c in s:
        for i, b in enumerate(c.encode("utf-8", "surrogatepass")):
            dest.append((table[b], int(i > 0)))
    ns.transform(dest)


class PreTokenizer:
    def __init__(self, obj: dict) -> None:
        kind = obj.get("type")
        self.kind = kind
        self.steps: List[Callable[[PreTokenizedString], None]] = []
        add = self.steps.append
        if kind == "Sequence":
            for sub in obj.get("pretokenizers") or []:
                self.steps.extend(PreTokenizer(sub).steps)
        elif kind == "ByteLevel":
            add_prefix_space = obj.get("add_prefix_space", True)
            use_regex = obj.get("use_regex", True)
            pat = onig_regex(_BYTE_LEVEL_RE)

            def byte_level(pts: PreTokenizedString) -> None:
                def split(_i, ns):
                    if add_prefix_space and not ns.normalized.startswith(" "):
                        ns.prepend(" ")
                    if use_regex:
                        return ns.split(find_regex_matches(ns.normalized, pat), ISOLATED)
                    return [ns]
                pts.split(split)
                pts.normalize(_byte_level_transform)
            add(byte_level)
        elif kind == "Split":
            pat = _pattern_from_json(obj.get("pattern"), "Split")
            behavior = _behavior(obj.get("behavior"), "Split")
            inv = bool(obj.get("invert", False))

            def split(pts: PreTokenizedString) -> None:
                def fn(_i, ns):
                    m = find_regex_matches(ns.normalized, pat)
                    return ns.split(invert(m) if inv else m, behavior)
                pts.split(fn)
            add(split)
        elif kind == "BertPreTokenizer":
            add(_char_split(U.is_whitespace, REMOVED))
            add(_char_split(U.is_punctuation_8, ISOLATED))
        elif kind == "Whitespace":
            pat = _whitespace_regex()
            add(lambda pts: pts.split(
                lambda _i, ns: ns.split(invert(find_regex_matches(ns.normalized, pat)), REMOVED)))
        elif kind == "WhitespaceSplit":
            add(_char_split(U.is_whitespace, REMOVED))
        elif kind == "Punctuation":
            add(_char_split(U.is_punctuation_8, _behavior(obj.get("behavior", ISOLATED), kind)))
        elif kind == "Digits":
            behavior = ISOLATED if obj.get("individual_digits", False) else CONTIGUOUS
            add(_char_split(U.is_numeric, behavior))
        elif kind == "CharDelimiterSplit":
            delim = obj.get("delimiter")
            add(_char_split(lambda c: c == delim, REMOVED))
        elif kind == "Metaspace":
            add(self._metaspace(obj))
        else:
            raise UnsupportedError(f"pre-tokenizer {kind!r} is not supported")

    @staticmethod
    def _metaspace(obj: dict):
        replacement = obj.get("replacement", "\u2581")
        scheme = obj.get("prepend_scheme", "always")
        if scheme not in ("always", "first", "never"):
            raise UnsupportedError(f"Metaspace prepend_scheme {scheme!r} is not supported")
        if obj.get("add_prefix_space") is False:
            if scheme != "never":
                raise ValueError("add_prefix_space does not match declared prepend_scheme")
        do_split = obj.get("split")
        do_split = True if do_split is None else bool(do_split)

        def fn(_i, ns: NormalizedString):
            ns.replace(find_char_matches(ns.normalized, lambda c: c == " "), replacement)
            if scheme == "always":
                if not ns.normalized.startswith(replacement):
                    ns.prepend(replacement)
            elif scheme == "first":
                if not ns.normalized.startswith(replacement) and ns.offsets_original()[0] == 0:
                    ns.prepend(replacement)
            if do_split:
                return ns.split(find_char_matches(ns.normalized, lambda c: c == replacement),
                                MERGED_WITH_NEXT)
            return [ns]
        return lambda pts: pts.split(fn)

    def pre_tokenize(self, pts: PreTokenizedString) -> None:
        for step in self.steps:
            step(pts)


def _char_split(pred, behavior):
    return lambda pts: pts.split(
        lambda _i, ns: ns.split(find_char_matches(ns.normalized, pred), behavior))


def _behavior(value, owner: str) -> str:
    if value not in BEHAVIORS:
        raise UnsupportedError(f"{owner} behavior {value!r} is not supported")
    return value


# -- decoders ---------------------------------------------------------------------------------

_CLEANUPS = ((" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
             (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"))


def wordpiece_cleanup(s: str) -> str:
    for a, b in _CLEANUPS:
        s = s.replace(a, b)
    return s


def _byte_token(token: str):
    """HF ByteFallback: ``<0xHH>`` (exactly 6 bytes) -> the byte, else None."""
    if len(token.encode("utf-8", "surrogatepass")) != 6 or not token.startswith("<0x") \
            or not token.endswith(">"):
        return None
    digits = token[3:5]
    body = digits[1:] if digits.startswith("+") else digits
    if not body or any(c not in "0123456789abcdefABCDEF" for c in body):
        return None
    return int(body, 16)


class Decoder:
    def __init__(self, obj: dict) -> None:
        kind = obj.get("type")
        self.kind = kind
        if kind == "Sequence":
            subs = [Decoder(d) for d in obj.get("decoders") or []]
            self.chain = lambda toks: functools.reduce(lambda t, d: d.chain(t), subs, toks)
        elif kind == "ByteLevel":
            self.chain = self._byte_level
        elif kind == "WordPiece":
            prefix = obj.get("prefix", "##")
            cleanup = obj.get("cleanup", True)

            def wordpiece(tokens):
                out = []
                for i, t in enumerate(tokens):
                    if i != 0:
                        t = t[len(prefix):] if t.startswith(prefix) else " " + t
                    out.append(wordpiece_cleanup(t) if cleanup else t)
                return out
            self.chain = wordpiece
        elif kind == "Metaspace":
            replacement = obj.get("replacement", "\u2581")
            scheme = obj.get("prepend_scheme", "always")
            if obj.get("add_prefix_space") is False:
                scheme = "never"

            def metaspace(tokens):
                out = []
                for i, t in enumerate(tokens):
                    drop = i == 0 and scheme != "never"
                    out.append("".join(("" if drop else " ") if c == replacement else c for c in t))
                return out
            self.chain = metaspace
        elif kind == "BPEDecoder":
            suffix = obj.get("suffix", "</w>")
            self.chain = lambda toks: [t.replace(suffix, "" if i == len(toks) - 1 else " ")
                                       for i, t in enumerate(toks)]
        elif kind == "ByteFallback":
            self.chain = self._byte_fallback
        elif kind == "Fuse":
            self.chain = lambda toks: ["".join(toks)]
        elif kind == "Strip":
            content, start, stop = obj.get("content", " "), obj.get("start", 0), obj.get("stop", 0)
            self.chain = lambda toks: [self._strip(t, content, start, stop) for t in toks]
        elif kind == "Replace":
            pat = _pattern_from_json(obj.get("pattern"), "Replace")
            content = obj.get("content", "")

            def replace(tokens):
                out = []
                for t in tokens:
                    out.append("".join(content if m else t[s:e]
                                       for (s, e), m in find_regex_matches(t, pat)))
                return out
            self.chain = replace
        else:
            raise UnsupportedError(f"decoder {kind!r} is not supported")

    @staticmethod
    def _byte_level(tokens):
        table = unicode_to_bytes()
        buf = bytearray()
        for t in tokens:
            bs = [table.get(c) for c in t]
            if all(b is not None for b in bs):
                buf.extend(bs)
            else:
                buf.extend(t.encode("utf-8", "surrogatepass"))
        return [buf.decode("utf-8", "replace")]

    @staticmethod
    def _byte_fallback(tokens):
        out: List[str] = []
        pending = bytearray()

        def flush():
            if pending:
                try:
                    out.append(pending.decode("utf-8"))
                except UnicodeDecodeError:
                    out.extend(["\ufffd"] * len(pending))
                pending.clear()
        for t in tokens:
            b = _byte_token(t)
            if b is not None:
                pending.append(b)
            else:
                flush()
                out.append(t)
        flush()
        return out

    @staticmethod
    def _strip(token: str, content: str, start: int, stop: int) -> str:
        chars = list(token)
        start_cut = 0
        for i in range(min(start, len(chars))):
            if chars[i] == content:
                start_cut = i + 1
            else:
                break
        stop_cut = len(chars)
        for i in range(stop):
            index = len(chars) - i - 1
            if index < 0:
                break
            if chars[index] == content:
                stop_cut = index
            else:
                break
        return "".join(chars[start_cut:stop_cut])

    def decode(self, tokens: List[str]) -> str:
        return "".join(self.chain(list(tokens)))
