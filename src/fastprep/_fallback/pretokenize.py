"""Pre-tokenization, general path: split text with the encoding's regex (reference for the lexers).

tiktoken matches its patterns with Rust fancy-regex, whose ``\\p{..}`` and ``\\s`` follow
Unicode 16.0. The ``regex`` package follows its own Unicode version, so before compiling, each
general-category property (``\\p{L}``, ``\\p{Lu}``, ``\\pN``, ``\\P{..}``, long names such as
``\\p{Letter}``), ``\\s``/``\\S`` (White_Space) and ``\\d``/``\\D`` (``\\p{Nd}``) is replaced by an
explicit code-point class built from :mod:`fastprep._fallback.unicode_data`, inside and outside
brackets. ``$`` becomes ``\\Z`` (Rust's ``$`` is end of text; Python's also matches before a final
newline) unless the pattern turns on multi-line mode.

Left as written (the installed ``regex`` decides): ``\\w``/``\\W``/``\\b`` (need Alphabetic, not a
general category), script and other binary properties (``\\p{Han}``, ``\\p{Emoji}``), negated
``\\p{^..}``, nested character classes and class set operations (``[a[b]]``, ``&&``, ``--``), and
``$`` in multi-line patterns. Patterns that can match the empty string produce no empty pieces.
"""
from __future__ import annotations

import functools

import regex

from .unicode_data import CATEGORY_RANGES, WHITE_SPACE

__all__ = ["compile_pattern", "split", "translate_pattern"]

_MAX_CP = 0x10FFFF

_LONG_NAMES = {
    "letter": "L", "casedletter": "LC", "uppercaseletter": "Lu", "lowercaseletter": "Ll",
    "titlecaseletter": "Lt", "modifierletter": "Lm", "otherletter": "Lo",
    "mark": "M", "combiningmark": "M", "nonspacingmark": "Mn", "spacingmark": "Mc", "enclosingmark": "Me",
    "number": "N", "decimalnumber": "Nd", "letternumber": "Nl", "othernumber": "No",
    "punctuation": "P", "connectorpunctuation": "Pc", "dashpunctuation": "Pd", "openpunctuation": "Ps",
    "closepunctuation": "Pe", "initialpunctuation": "Pi", "finalpunctuation": "Pf", "otherpunctuation": "Po",
    "symbol": "S", "mathsymbol": "Sm", "currencysymbol": "Sc", "modifiersymbol": "Sk", "othersymbol": "So",
    "separator": "Z", "spaceseparator": "Zs", "lineseparator": "Zl", "paragraphseparator": "Zp",
    "other": "C", "control": "Cc", "format": "Cf", "surrogate": "Cs", "privateuse": "Co", "unassigned": "Cn",
    "whitespace": "WS", "wspace": "WS", "space": "WS",
}


def _property_ranges(name: str) -> tuple | None:
    """Sorted, merged code-point ranges of a general category (or White_Space); None if unknown."""
    key = name.strip()
    loose = key.lower().replace("_", "").replace("-", "").replace(" ", "")
    for prefix in ("gc=", "gc:", "generalcategory=", "generalcategory:"):
        if loose.startswith(prefix):
            key = key.split(prefix[-1], 1)[1].strip()
            break
    if key in CATEGORY_RANGES:
        return CATEGORY_RANGES[key]
    loose = key.lower().replace("_", "").replace("-", "").replace(" ", "")
    short = {"l&": "LC", "lc": "LC"}.get(loose) or _LONG_NAMES.get(loose)
    if short is None and len(key) == 1 and key.isupper():
        short = key
    if short is None:
        return None
    if short == "WS":
        return WHITE_SPACE
    cats = ("Lu", "Ll", "Lt") if short == "LC" else [c for c in CATEGORY_RANGES if c.startswith(short)]
    if not cats:
        return None
    return _merge([r for c in cats for r in CATEGORY_RANGES[c]])


def _merge(ranges) -> tuple:
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _complement(ranges) -> tuple:
    out, nxt = [], 0
    for lo, hi in ranges:
        if lo > nxt:
            out.append((nxt, lo - 1))
        nxt = hi + 1
    if nxt <= _MAX_CP:
        out.append((nxt, _MAX_CP))
    return tuple(out)


def _escape(cp: int) -> str:
    return f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}"


def _class_body(ranges) -> str:
    """Ranges written for the inside of a ``[...]`` class."""
    return "".join(_escape(lo) if lo == hi else f"{_escape(lo)}-{_escape(hi)}" for lo, hi in ranges)


def _parse_property(pat: str, i: int) -> tuple[str, int] | None:
    """At pat[i] == '\\' and pat[i+1] in 'pP': the property name and the index after it."""
    if i + 2 >= len(pat):
        return None
    if pat[i + 2] == "{":
        close = pat.find("}", i + 3)
        if close < 0:
            return None
        return pat[i + 3 : close], close + 1
    return pat[i + 2], i + 3


def translate_pattern(pat: str) -> str:
    """The pattern with Unicode 16.0 classes spelled out for the ``regex`` package (see module doc)."""
    multiline = bool(regex.search(r"\(\?[a-zA-Z]*m", pat))
    out: list[str] = []
    in_class = False
    class_start = -1  # index just after '[' or '[^' of the open class
    i, n = 0, len(pat)
    while i < n:
        ch = pat[i]
        if ch == "\\" and i + 1 < n:
            nxt = pat[i + 1]
            ranges, negate, end = None, False, i + 2
            if nxt in "pP":
                parsed = _parse_property(pat, i)
                if parsed is not None:
                    ranges = _property_ranges(parsed[0])
                    negate, end = nxt == "P", parsed[1]
            elif nxt in "sS":
                ranges, negate = WHITE_SPACE, nxt == "S"
            elif nxt in "dD":
                ranges, negate = CATEGORY_RANGES["Nd"], nxt == "D"
            if ranges is None:
                out.append(pat[i : i + 2])
                i += 2
                continue
            if in_class:
                out.append(_class_body(_complement(ranges) if negate else ranges))
            else:
                out.append(("[^" if negate else "[") + _class_body(ranges) + "]")
            i = end
            continue
        if in_class:
            if ch == "]" and i != class_start:
                in_class = False
            out.append(ch)
            i += 1
            continue
        if ch == "[":
            in_class = True
            class_start = i + 1
            if i + 1 < n and pat[i + 1] == "^":
                class_start += 1
                out.append("[^")
                i += 2
                continue
        elif ch == "$" and not multiline:
            out.append(r"\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=64)
def compile_pattern(pat_str: str):
    """Compile a tiktoken-style pattern for :func:`split` (cached per pattern string)."""
    return regex.compile(translate_pattern(pat_str))


def split(compiled, text: str) -> list[str]:
    """The pattern's successive matches in ``text`` (text between matches is dropped, as in tiktoken)."""
    if compiled.groups == 0:
        pieces = compiled.findall(text)
    else:
        pieces = [m.group() for m in compiled.finditer(text)]
    return [p for p in pieces if p]
