"""Added tokens of the HF-pipeline reference: HF's AddedVocabulary.

Non-normalized added tokens are found on the raw text first, then each remaining piece is
normalized and normalized added tokens are found on the result. Matching is leftmost-longest and
non-overlapping over the whole piece; a match that fails its single_word check is dropped without
rescanning the text it covered (as HF's Aho-Corasick iterator does). lstrip/rstrip widen the
match over Unicode 16.0 whitespace (Rust regex ``\\s``), single_word looks at Rust regex ``\\w``.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import regex

from . import _unicode as U
from .normalized import NormalizedString, PreTokenizedString, Token


class AddedToken:
    __slots__ = ("content", "single_word", "lstrip", "rstrip", "normalized", "special")

    def __init__(self, obj: dict) -> None:
        self.content: str = obj["content"]
        self.special = bool(obj.get("special", False))
        self.single_word = bool(obj.get("single_word", False))
        self.lstrip = bool(obj.get("lstrip", False))
        self.rstrip = bool(obj.get("rstrip", False))
        normalized = obj.get("normalized")
        self.normalized = (not self.special) if normalized is None else bool(normalized)

    def key(self):
        return (self.content, self.single_word, self.lstrip, self.rstrip, self.normalized,
                self.special)


def _matcher(pairs: List[Tuple[str, int]]):
    """Leftmost-longest matcher: at the leftmost position, alternatives are tried longest first."""
    if not pairs:
        return None
    by_content = {}
    for content, tid in pairs:
        by_content[content] = tid  # several ids for one pattern: the last one wins
    alts = sorted(by_content, key=lambda s: (-len(s.encode("utf-8", "surrogatepass")), s))
    return regex.compile("|".join(regex.escape(a) for a in alts)), by_content


class AddedVocabulary:
    def __init__(self, tokens: List[dict], model, normalizer) -> None:
        self.map: Dict[str, int] = {}
        self.map_r: Dict[int, AddedToken] = {}
        self.special: set = set()
        self.normalized_cache: Dict[int, str] = {}
        next_id = model.get_vocab_size()
        for obj in tokens:
            tok = AddedToken(obj)
            if not tok.content:
                continue
            known = self.map.get(tok.content)
            if known is not None and self.map_r.get(known) is not None \
                    and self.map_r[known].key() == tok.key():
                continue
            new_id = self.map.get(tok.content)
            if new_id is None:
                new_id = model.token_to_id(tok.content)
            if new_id is None:
                new_id = next_id
                next_id += 1
            if tok.normalized and normalizer is not None:
                ns = NormalizedString(tok.content)
                normalizer.normalize(ns)
                if ns.normalized != tok.content:
                    self.normalized_cache[new_id] = ns.normalized
            self.map[tok.content] = new_id
            if tok.special:
                self.special.add(tok.content)
            self.map_r[new_id] = tok
        raw = [(t.content, i) for i, t in self.map_r.items() if not t.normalized]
        norm = [(self.normalized_cache.get(i, t.content), i) for i, t in self.map_r.items()
                if t.normalized]
        self.raw_matcher = _matcher(raw)
        self.norm_matcher = _matcher(norm)
        self._word = regex.compile(f"[{U.word_class_16()}]")

    def simple_id_to_token(self, i: int) -> Optional[str]:
        tok = self.map_r.get(i)
        if tok is None:
            return None
        return self.normalized_cache.get(i, tok.content)

    def _find(self, s: str, matcher, skip_special: bool = False) -> List[Tuple[Optional[int], Tuple[int, int]]]:
        if not s:
            return [(None, (0, 0))]
        if matcher is None:
            return [(None, (0, len(s)))]
        pat, by_content = matcher
        splits = []
        start_offset = 0
        is_space = U.is_whitespace
        for m in pat.finditer(s):
            start, stop = m.span()
            tid = by_content[m.group()]
            tok = self.map_r[tid]
            if skip_special and tok.special:
                continue  # HF's encode_special_tokens: special-token text stays ordinary text
            if tok.single_word:
                start_space = start == 0 or not self._word.match(s[start - 1])
                stop_space = stop == len(s) or not self._word.match(s[stop])
                if not (start_space and stop_space):
                    continue
            if tok.lstrip:
                new_start = start
                while new_start > 0 and is_space(s[new_start - 1]):
                    new_start -= 1
                start = max(new_start, start_offset)
            if tok.rstrip:
                while stop < len(s) and is_space(s[stop]):
                    stop += 1
            if start_offset < start:
                splits.append((None, (start_offset, start)))
            splits.append((tid, (start, stop)))
            start_offset = stop
        if start_offset != len(s):
            splits.append((None, (start_offset, len(s))))
        return splits

    def _split(self, ns: NormalizedString, matcher, skip_special: bool = False):
        out = []
        for tid, (a, b) in self._find(ns.normalized, matcher, skip_special):
            piece = ns.slice(a, b)
            if tid is None:
                out.append((piece, None))
            else:
                value = piece.normalized
                out.append((piece, [Token(tid, value, (0, len(value.encode("utf-8", "surrogatepass"))))]))
        return out

    def extract_and_normalize(self, normalizer, text: str,
                              split_special_tokens: bool = False) -> PreTokenizedString:
        """HF's extract_and_normalize; ``split_special_tokens`` is HF's
        ``encode_special_tokens``: special added tokens are not matched."""
        pts = PreTokenizedString(text)
        pts.split(lambda _i, ns: self._split(ns, self.raw_matcher, split_special_tokens))

        def normalize_then_split(_i, ns):
            if normalizer is not None:
                normalizer.normalize(ns)
            return self._split(ns, self.norm_matcher, split_special_tokens)
        pts.split(normalize_then_split)
        return pts
