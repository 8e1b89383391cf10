"""Character predicates and Unicode 9.0 normalization for the HF-pipeline reference.

Each function names the Rust code it mirrors and the Unicode version that code follows (the
package docstring says how each version was established). Tables come from _unicode_tables.py
(generated) and, for Unicode 16.0, from fastprep._fallback.unicode_data; they are parsed on
first use so importing fastprep stays cheap.
"""
from __future__ import annotations

import bisect
import functools

from .. import unicode_data as _u16
from . import _unicode_tables as _t

__all__ = [
    "is_whitespace", "is_numeric", "to_lowercase", "is_punctuation_8", "is_nonspacing_mark_8",
    "is_other_8", "is_combining_mark_9", "is_word_16", "decompositions_9", "recompositions_9",
]


class _RangeSet:
    """Membership in sorted, disjoint (lo, hi) ranges, memoized per code point."""

    __slots__ = ("los", "his", "cache")

    def __init__(self, ranges) -> None:
        ranges = sorted(ranges)
        self.los = [lo for lo, _ in ranges]
        self.his = [hi for _, hi in ranges]
        self.cache: dict[int, bool] = {}

    def __contains__(self, cp: int) -> bool:
        hit = self.cache.get(cp)
        if hit is None:
            i = bisect.bisect_right(self.los, cp) - 1
            hit = i >= 0 and cp <= self.his[i]
            self.cache[cp] = hit
        return hit


def _parse_ranges(text: str):
    out = []
    for item in text.split():
        lo, _, hi = item.partition("-")
        out.append((int(lo, 16), int(hi or lo, 16)))
    return out


def _parse_map(text: str) -> dict[int, tuple[int, ...]]:
    out = {}
    for item in text.split():
        cp, mapping = item.split(":")
        out[int(cp, 16)] = tuple(int(x, 16) for x in mapping.split("."))
    return out


@functools.lru_cache(maxsize=None)
def _set(name: str) -> _RangeSet:
    if name == "WHITE_SPACE":
        return _RangeSet(_u16.WHITE_SPACE)
    if name == "OTHER_8":
        # unicode_categories' is_other: Cc | Cf from its tables, plus private use by range.
        return _RangeSet(_parse_ranges(_t.CONTROL_FORMAT_8)
                         + [(0xE000, 0xF8FF), (0xF0000, 0xFFFFD), (0x100000, 0x10FFFD)])
    return _RangeSet(_parse_ranges(getattr(_t, name)))


# --- Rust std `char` (Unicode 17.0; White_Space has not changed since 6.x) ----------------

def is_whitespace(ch: str) -> bool:
    """Rust ``char::is_whitespace`` (White_Space property)."""
    return ord(ch) in _set("WHITE_SPACE")


def is_numeric(ch: str) -> bool:
    """Rust ``char::is_numeric`` (general category N*, Unicode 17.0)."""
    return ord(ch) in _set("NUMERIC_17")


@functools.lru_cache(maxsize=None)
def _lower_map() -> dict[int, str]:
    return {cp: "".join(map(chr, m)) for cp, m in _parse_map(_t.LOWERCASE_17).items()}


def to_lowercase(ch: str) -> str:
    """Rust ``char::to_lowercase`` (full, context-free lowercase mapping, Unicode 17.0)."""
    return _lower_map().get(ord(ch), ch)


# --- crate unicode_categories 0.1.1 (Unicode 8.0) -----------------------------------------

def is_punctuation_8(ch: str) -> bool:
    """``is_ascii_punctuation() || is_punctuation()`` as in HF's Bert/Punctuation pre-tokenizers."""
    cp = ord(ch)
    if cp < 0x80:
        return 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E
    return cp in _set("PUNCTUATION_8")


def is_nonspacing_mark_8(ch: str) -> bool:
    return ord(ch) in _set("NONSPACING_MARK_8")


def is_other_8(ch: str) -> bool:
    """unicode_categories' ``is_other`` (Cc, Cf, private use; not Cn or Cs)."""
    return ord(ch) in _set("OTHER_8")


# --- crate unicode-normalization-alignments 0.1.12 (Unicode 9.0) -------------------------

def is_combining_mark_9(ch: str) -> bool:
    return ord(ch) in _set("MARK_9")


# --- Rust regex crate (Unicode 16.0) --------------------------------------------------------

def is_word_16(ch: str) -> bool:
    """``\\w`` of the Rust regex crate: Alphabetic, M, Nd, Pc, Join_Control (Unicode 16.0)."""
    return ord(ch) in _set("WORD_16")


def word_ranges_16():
    return _parse_ranges(_t.WORD_16)


@functools.lru_cache(maxsize=None)
def word_class_16() -> str:
    """``\\w`` (Rust regex, Unicode 16.0) as the body of a ``regex`` character class."""
    def esc(cp: int) -> str:
        return f"\\U{cp:08x}"
    return "".join(esc(lo) if lo == hi else f"{esc(lo)}-{esc(hi)}"
                   for lo, hi in _parse_ranges(_t.WORD_16))


# --- Unicode 9.0 normalization with alignment changes --------------------------------------

_S_BASE, _L_BASE, _V_BASE, _T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
_L_COUNT, _V_COUNT, _T_COUNT = 19, 21, 28
_N_COUNT = _V_COUNT * _T_COUNT
_S_COUNT = _L_COUNT * _N_COUNT


class _Norm9:
    def __init__(self) -> None:
        self.ccc: dict[int, int] = {}
        for cls, text in _t.CCC_9.items():
            for lo, hi in _parse_ranges(text):
                for cp in range(lo, hi + 1):
                    self.ccc[cp] = cls
        self.canonical = _parse_map(_t.CANONICAL_9)
        self.compat = dict(self.canonical)
        self.compat.update(_parse_map(_t.COMPATIBILITY_9))
        excluded = set()
        for lo, hi in _parse_ranges(_t.COMPOSITION_EXCLUSIONS_9):
            excluded.update(range(lo, hi + 1))
        self.compose: dict[tuple[int, int], int] = {}
        for cp, m in self.canonical.items():
            if len(m) == 2 and cp not in excluded and not self.ccc.get(cp) and not self.ccc.get(m[0]):
                self.compose[m] = cp
        self.full: dict[tuple[int, bool], tuple[int, ...]] = {}

    def decompose(self, cp: int, compat: bool) -> tuple[int, ...]:
        key = (cp, compat)
        got = self.full.get(key)
        if got is not None:
            return got
        if _S_BASE <= cp < _S_BASE + _S_COUNT:
            s = cp - _S_BASE
            out = [_L_BASE + s // _N_COUNT, _V_BASE + (s % _N_COUNT) // _T_COUNT]
            if s % _T_COUNT:
                out.append(_T_BASE + s % _T_COUNT)
            got = tuple(out)
        else:
            table = self.compat if compat else self.canonical
            m = table.get(cp)
            if m is None:
                got = (cp,)
            else:
                got = tuple(x for d in m for x in self.decompose(d, compat))
        self.full[key] = got
        return got

    def compose_pair(self, a: int, b: int) -> int | None:
        if _L_BASE <= a < _L_BASE + _L_COUNT and _V_BASE <= b < _V_BASE + _V_COUNT:
            return _S_BASE + ((a - _L_BASE) * _V_COUNT + (b - _V_BASE)) * _T_COUNT
        if (_S_BASE <= a < _S_BASE + _S_COUNT and (a - _S_BASE) % _T_COUNT == 0
                and _T_BASE < b < _T_BASE + _T_COUNT):
            return a + (b - _T_BASE)
        return self.compose.get((a, b))


@functools.lru_cache(maxsize=None)
def _norm9() -> _Norm9:
    return _Norm9()


def decompositions_9(text: str, compat: bool) -> list[tuple[str, int]]:
    """(char, change) pairs of NFD/NFKD as the crate yields them: change is 0 for the first
    character of each input character's decomposition and 1 for the others; each run of
    non-starters is then stably sorted by combining class (the changes travel with the chars)."""
    n = _norm9()
    ccc = n.ccc
    out: list[tuple[int, int, int]] = []  # (ccc, cp, change)
    pending = 0  # start of the run not yet sorted
    for ch in text:
        first = True
        for d in n.decompose(ord(ch), compat):
            cls = ccc.get(d, 0)
            if cls == 0 and pending < len(out):
                if len(out) - pending > 1:
                    out[pending:] = sorted(out[pending:], key=lambda r: r[0])
                pending = len(out)
            out.append((cls, d, 0 if first else 1))
            first = False
    if len(out) - pending > 1:
        out[pending:] = sorted(out[pending:], key=lambda r: r[0])
    return [(chr(cp), change) for _cls, cp, change in out]


def recompositions_9(text: str, compat: bool) -> list[tuple[str, int]]:
    """(char, change) pairs of NFC/NFKC, following the crate's recomposition state machine."""
    n = _norm9()
    ccc = n.ccc
    out: list[tuple[str, int]] = []
    buffer: list[tuple[str, int]] = []
    composee: tuple[str, int] | None = None
    last_ccc: int | None = None
    for ch, change in decompositions_9(text, compat):
        cls = ccc.get(ord(ch), 0)
        if composee is None:
            if cls != 0:
                out.append((ch, change))
                continue
            composee = (ch, change)
            continue
        k = composee
        if last_ccc is None:
            r = n.compose_pair(ord(k[0]), ord(ch))
            if r is not None:
                composee = (chr(r), k[1] + change - 1)
                continue
            if cls == 0:
                composee = (ch, change)
                out.append(k)
                continue
            buffer.append((ch, change))
            last_ccc = cls
            continue
        if last_ccc >= cls:
            if cls == 0:
                composee = (ch, change)
                last_ccc = None
                out.append(k)
                out.extend(buffer)
                buffer.clear()
                continue
            buffer.append((ch, change))
            last_ccc = cls
            continue
        r = n.compose_pair(ord(k[0]), ord(ch))
        if r is not None:
            composee = (chr(r), k[1] + change - 1)
            continue
        buffer.append((ch, change))
        last_ccc = cls
    if composee is not None:
        out.append(composee)
    out.extend(buffer)
    return out
