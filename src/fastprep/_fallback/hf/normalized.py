"""Aligned strings for the HF-pipeline reference: HF's NormalizedString and PreTokenizedString.

HF keeps, for every byte of the normalized text, the byte range of the original text it came
from; every character's bytes share one range, so this reference keeps one range per character,
in characters of the original. The transformation rules (which original range an inserted,
replaced or removed character gets) are HF's ``transform_range``; HF reports final offsets in
characters through a byte->char map, reproduced in :func:`char_offsets` (including its quirk of
leaving a range that starts at the very end of the text in bytes).
"""
from __future__ import annotations

from typing import Callable, Iterable, List, Optional, Sequence, Tuple

Offsets = Tuple[int, int]

REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS = (
    "Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous")
BEHAVIORS = (REMOVED, ISOLATED, MERGED_WITH_PREVIOUS, MERGED_WITH_NEXT, CONTIGUOUS)


class Token:
    __slots__ = ("id", "value", "offsets")

    def __init__(self, id: int, value: str, offsets: Offsets) -> None:
        self.id, self.value, self.offsets = id, value, offsets

    def __repr__(self) -> str:
        return f"Token({self.id}, {self.value!r}, {self.offsets})"


class NormalizedString:
    """A normalized string with, per character, its (start, end) range in ``original``."""

    __slots__ = ("original", "normalized", "align", "shift")

    def __init__(self, original: str, normalized: str | None = None,
                 align: list | None = None, shift: int = 0) -> None:
        self.original = original
        self.normalized = original if normalized is None else normalized
        self.align = [(i, i + 1) for i in range(len(original))] if align is None else align
        self.shift = shift

    def __len__(self) -> int:
        return len(self.normalized)

    def offsets_original(self) -> Offsets:
        return (self.shift, self.shift + len(self.original))

    # -- offset conversion (HF convert_offsets) -----------------------------------------------

    def original_to_normalized(self, start: int, end: int) -> Optional[Offsets]:
        if start == end:
            return (start, end)
        if start > end:
            return None
        s = e = None
        for i, (a, b) in enumerate(self.align):
            if end < b:
                break
            if s is None and start <= a and a != b:
                s = i
            e = i + 1
        if s is not None and e is not None:
            return (s, e)
        if s is not None:
            return (s, s)
        if e is not None:
            return (e, e)
        return None

    def normalized_to_original(self, start: int, end: int) -> Optional[Offsets]:
        if start == end:
            return (start, end)
        if start > end:
            return None
        if not self.normalized and (start, end) == (0, 0):
            return (0, len(self.original))
        part = self.align[start:end]
        if not part:
            return None
        return (part[0][0], part[-1][1])

    # -- transformations ----------------------------------------------------------------------

    def transform_range(self, start: int, end: int, dest: Iterable[Tuple[str, int]],
                        initial_offset: int) -> None:
        """Replace normalized[start:end] by ``dest`` ((char, change) pairs: change > 0 inserts,
        0 replaces, -n replaces and removes the n following characters)."""
        old_align = self.align
        n_replaced = end - start
        consumed = min(initial_offset, n_replaced)
        offset = start + consumed
        chars: list[str] = []
        aligns: list[Offsets] = []
        for c, change in dest:
            if change > 0:
                align = old_align[offset - 1] if offset >= 1 else (0, 0)
            else:
                align = old_align[offset]
                if consumed < n_replaced:
                    consumed += 1
                    offset += 1
            if change < 0:
                k = min(-change, n_replaced - consumed)
                consumed += k
                offset += k
            chars.append(c)
            aligns.append(align)
        self.normalized = self.normalized[:start] + "".join(chars) + self.normalized[end:]
        self.align = old_align[:start] + aligns + old_align[end:]

    def transform(self, dest: Sequence[Tuple[str, int]], initial_offset: int = 0) -> None:
        """HF ``transform``: over the normalized range covering the whole original."""
        if initial_offset == 0 and len(dest) == len(self.normalized) and all(
                ch == 0 for _, ch in dest) and self._full_range() == (0, len(self.normalized)):
            self.normalized = "".join(c for c, _ in dest)  # one-to-one: alignments unchanged
            return
        rng = self._full_range()
        if rng is None:
            return
        self.transform_range(rng[0], rng[1], dest, initial_offset)

    def _full_range(self) -> Optional[Offsets]:
        if not self.original:
            return (0, 0)
        return self.original_to_normalized(0, len(self.original))

    def map(self, fn: Callable[[str], str]) -> None:
        self.transform([(fn(c), 0) for c in self.normalized])

    def filter(self, keep: Callable[[str], bool]) -> None:
        dest: list[Tuple[str, int]] = []
        removed = 0
        removed_start = 0
        last = None
        for c in self.normalized:
            if keep(c):
                if last is not None:
                    dest.append((last, -removed))
                else:
                    removed_start = removed
                last = c
                removed = 0
            else:
                removed += 1
        if last is not None:
            dest.append((last, -removed))
        self.transform(dest, removed_start)

    def prepend(self, s: str) -> None:
        if not self.normalized:
            return
        dest = [(c, int(i != 0)) for i, c in enumerate(s)] + [(self.normalized[0], 1)]
        self.transform_range(0, 1, dest, 0)

    def lowercase(self, to_lowercase: Callable[[str], str]) -> None:
        dest = []
        for c in self.normalized:
            low = to_lowercase(c)
            for i, lc in enumerate(low):
                dest.append((lc, int(i > 0)))
        self.transform(dest)

    def replace(self, matches: List[Tuple[Offsets, bool]], content: str) -> None:
        """HF ``replace``: each matched range becomes ``content`` (every new char aligned with
        the last replaced char)."""
        chars: list[str] = []
        aligns: list[Offsets] = []
        last_end = 0
        for (start, end), is_match in matches:
            if not is_match:
                continue
            chars.append(self.normalized[last_end:start])
            aligns.extend(self.align[last_end:start])
            idx = end
            align = self.align[idx - 1] if idx >= 1 else (0, 0)
            chars.append(content)
            aligns.extend([align] * len(content))
            last_end = end
        chars.append(self.normalized[last_end:])
        aligns.extend(self.align[last_end:])
        self.normalized = "".join(chars)
        self.align = aligns

    def lrstrip(self, left: bool, right: bool, is_whitespace: Callable[[str], bool]) -> None:
        s = self.normalized
        lead = 0
        if left:
            while lead < len(s) and is_whitespace(s[lead]):
                lead += 1
        trail = 0
        if right:
            while trail < len(s) and is_whitespace(s[len(s) - 1 - trail]):
                trail += 1
        if lead == 0 and trail == 0:
            return
        count = len(s)
        dest = []
        for i, c in enumerate(s):
            if i < lead or i >= count - trail:
                continue
            if i == count - trail - 1:
                dest.append((c, -trail))
            else:
                dest.append((c, 0))
        self.transform(dest, lead)

    # -- slicing and splitting ----------------------------------------------------------------

    def slice(self, start: int, end: int) -> "NormalizedString":
        orig = self.normalized_to_original(start, end)
        if orig is None:
            raise ValueError("NormalizedString bad split")
        o_start, o_end = orig
        return NormalizedString(
            self.original[o_start:o_end],
            self.normalized[start:end],
            [(a - o_start, b - o_start) for a, b in self.align[start:end]],
            self.shift + o_start,
        )

    def split(self, matches: List[Tuple[Offsets, bool]], behavior: str) -> List["NormalizedString"]:
        if behavior == ISOLATED:
            splits = [(off, False) for off, _ in matches]
        elif behavior == REMOVED:
            splits = matches
        elif behavior == CONTIGUOUS:
            splits = []
            prev = False
            for off, is_match in matches:
                if is_match == prev and splits:
                    splits[-1] = ((splits[-1][0][0], off[1]), False)
                else:
                    splits.append((off, False))
                prev = is_match
        elif behavior == MERGED_WITH_PREVIOUS:
            splits = []
            prev = False
            for off, is_match in matches:
                if is_match and not prev and splits:
                    splits[-1] = ((splits[-1][0][0], off[1]), False)
                else:
                    splits.append((off, False))
                prev = is_match
        elif behavior == MERGED_WITH_NEXT:
            splits = []
            prev = False
            for off, is_match in reversed(matches):
                if is_match and not prev and splits:
                    splits[-1] = ((off[0], splits[-1][0][1]), False)
                else:
                    splits.append((off, False))
                prev = is_match
            splits.reverse()
        else:
            raise ValueError(behavior)
        return [self.slice(s, e) for (s, e), remove in splits if not remove]


# -- patterns (HF Pattern::find_matches), in character offsets -------------------------------

def find_char_matches(text: str, pred: Callable[[str], bool]) -> List[Tuple[Offsets, bool]]:
    if not text:
        return [((0, 0), False)]
    out: List[Tuple[Offsets, bool]] = []
    last = 0
    for i, c in enumerate(text):
        if pred(c):
            if last < i:
                out.append(((last, i), False))
            out.append(((i, i + 1), True))
            last = i + 1
    if len(text) > last:
        out.append(((last, len(text)), False))
    return out


def find_regex_matches(text: str, compiled) -> List[Tuple[Offsets, bool]]:
    """Matches as Oniguruma's Rust iterator yields them: an empty match right after the
    previous match is skipped."""
    if not text:
        return [((0, 0), False)]
    out: List[Tuple[Offsets, bool]] = []
    prev = 0
    pos = 0
    last_match_end = None
    n = len(text)
    while pos <= n:
        m = compiled.search(text, pos)
        if m is None:
            break
        s, e = m.span()
        if s == e:
            pos = e + 1
            if last_match_end == e:
                continue
        else:
            pos = e
        last_match_end = e
        if prev != s:
            out.append(((prev, s), False))
        out.append(((s, e), True))
        prev = e
    if prev != n:
        out.append(((prev, n), False))
    return out


def invert(matches: List[Tuple[Offsets, bool]]) -> List[Tuple[Offsets, bool]]:
    return [(off, not flag) for off, flag in matches]


class PreTokenizedString:
    """HF PreTokenizedString: the original text and its splits (each maybe already tokenized)."""

    __slots__ = ("original", "splits")

    def __init__(self, original: str, splits: list | None = None) -> None:
        self.original = original
        self.splits = [[NormalizedString(original), None]] if splits is None else splits

    def split(self, fn) -> None:
        """``fn(index, NormalizedString)`` returns NormalizedStrings or (ns, tokens) pairs."""
        new = []
        for i, (ns, tokens) in enumerate(self.splits):
            if tokens is not None:
                new.append([ns, tokens])
                continue
            for item in fn(i, ns):
                if isinstance(item, NormalizedString):
                    item = (item, None)
                if item[0].normalized:
                    new.append([item[0], item[1]])
        self.splits = new

    def normalize(self, fn) -> None:
        for ns, tokens in self.splits:
            if tokens is None:
                fn(ns)

    def tokenize(self, fn, limit: Optional[Tuple[int, str]] = None) -> None:
        """Tokenize untokenized splits; with ``limit`` = (max_tokens, direction) stop once that
        many tokens exist, dropping the splits beyond (HF's early exit for truncation)."""
        if limit is None:
            for split in self.splits:
                if split[1] is None:
                    split[1] = fn(split[0])
            return
        max_tokens, direction = limit
        total = 0
        order = range(len(self.splits))
        if direction == "left":
            order = reversed(order)
        edge = 0 if direction == "right" else len(self.splits)
        for i in order:
            split = self.splits[i]
            if split[1] is None:
                split[1] = fn(split[0])
                total += len(split[1])
                edge = i + 1 if direction == "right" else i
                if total >= max_tokens:
                    break
            else:
                total += len(split[1])
                edge = i + 1 if direction == "right" else i
        if direction == "right":
            del self.splits[edge:]
        else:
            del self.splits[:edge]

    def get_splits(self) -> List[Tuple[str, Offsets]]:
        return [(ns.normalized, char_offsets(self.original, ns.offsets_original()))
                for ns, _ in self.splits]

    def into_tokens(self, word_idx: Optional[int] = None):
        """(id, value, offsets in original chars, word) per token, as HF's into_encoding."""
        out = []
        original = self.original
        for idx, (ns, tokens) in enumerate(self.splits):
            shift = ns.shift
            word = idx if word_idx is None else word_idx
            text = ns.normalized
            if text.isascii():
                char_of = None
                n_bytes = len(text)
            else:
                char_of = [i for i, c in enumerate(text)
                           for _ in range(len(c.encode("utf-8", "surrogatepass")))]
                n_bytes = len(char_of)
            for tok in tokens:
                bs, be = tok.offsets  # bytes of ns.normalized
                if bs < be <= n_bytes:
                    cs, ce = (bs, be) if char_of is None else (char_of[bs], char_of[be - 1] + 1)
                    a, b = ns.align[cs][0], ns.align[ce - 1][1]
                    offsets = char_offsets(original, (shift + a, shift + b))
                elif bs == be:  # HF returns the normalized byte range as it is, shifted
                    shift_b = len(original[:shift].encode("utf-8", "surrogatepass"))
                    offsets = hf_bytes_to_chars(original, (shift_b + bs, shift_b + be))
                else:  # past the end of the pre-token (byte_fallback + prefix): raw offsets
                    offsets = hf_bytes_to_chars(original, (bs, be))
                out.append((tok.id, tok.value, offsets, word))
        return out


def char_offsets(original: str, offsets: Offsets) -> Offsets:
    """HF's byte->char conversion applied to offsets kept in characters: identical, except that
    a range starting at (or past) the end of the text is not in HF's map and stays in bytes."""
    start, end = offsets
    if start < len(original):
        return offsets
    total = len(original.encode("utf-8", "surrogatepass"))
    return (total + start - len(original), total + end - len(original))


def hf_bytes_to_chars(original: str, offsets: Offsets) -> Offsets:
    """HF's BytesToCharOffsetConverter on byte offsets (used only on HF's odd paths)."""
    start, end = offsets
    char_of = [i for i, c in enumerate(original)
               for _ in range(len(c.encode("utf-8", "surrogatepass")))]
    n = len(char_of)
    if start >= n:
        return offsets
    s = char_of[start]
    if end < n:
        return (s, char_of[end])
    last = char_of[end - 1] if 0 <= end - 1 < n else s + 1
    return (s, last + 1)
