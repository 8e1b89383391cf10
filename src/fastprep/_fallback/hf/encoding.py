"""Encodings and post-processing of the HF-pipeline reference: HF's Encoding (truncate, merge,
pad), its truncation strategies and padding, and the post-processors that add special tokens."""
from __future__ import annotations

import copy
from typing import Dict, List, Optional, Tuple

from ...errors import UnsupportedError
from . import _unicode as U
from .components import bytes_to_unicode


class HfEncoding:
    """One encoded sequence (or pair), with the fields HF's Python ``Encoding`` exposes."""

    __slots__ = ("ids", "type_ids", "tokens", "words", "offsets", "special_tokens_mask",
                 "attention_mask", "overflowing", "sequence_ranges")

    def __init__(self) -> None:
        self.ids: List[int] = []
        self.type_ids: List[int] = []
        self.tokens: List[str] = []
        self.words: List[Optional[int]] = []
        self.offsets: List[Tuple[int, int]] = []
        self.special_tokens_mask: List[int] = []
        self.attention_mask: List[int] = []
        self.overflowing: List["HfEncoding"] = []
        self.sequence_ranges: Dict[int, Tuple[int, int]] = {}

    @classmethod
    def from_tokens(cls, items, type_id: int) -> "HfEncoding":
        enc = cls()
        for tid, value, offsets, word in items:
            enc.ids.append(tid)
            enc.tokens.append(value)
            enc.offsets.append(offsets)
            enc.words.append(word)
        n = len(enc.ids)
        enc.type_ids = [type_id] * n
        enc.special_tokens_mask = [0] * n
        enc.attention_mask = [1] * n
        return enc

    @classmethod
    def special(cls, ids, tokens, type_id: int) -> "HfEncoding":
        enc = cls()
        n = len(ids)
        enc.ids, enc.tokens = list(ids), list(tokens)
        enc.type_ids = [type_id] * n
        enc.words = [None] * n
        enc.offsets = [(0, 0)] * n
        enc.special_tokens_mask = [1] * n
        enc.attention_mask = [1] * n
        return enc

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return f"HfEncoding(num_tokens={len(self.ids)}, overflowing={len(self.overflowing)})"

    @property
    def word_ids(self) -> List[Optional[int]]:
        return list(self.words)

    @property
    def sequence_ids(self) -> List[Optional[int]]:
        seqs: List[Optional[int]] = [None] * len(self.ids)
        ranges = self.sequence_ranges or {0: (0, len(self.ids))}
        for sid, (a, b) in ranges.items():
            for i in range(a, b):
                seqs[i] = sid
        return seqs

    @property
    def n_sequences(self) -> int:
        return len(self.sequence_ranges) or 1

    def clone(self) -> "HfEncoding":
        return copy.deepcopy(self)

    def set_sequence_id(self, sid: int) -> None:
        self.sequence_ranges[sid] = (0, len(self.ids))

    def _part(self, start: int, stop: int) -> "HfEncoding":
        enc = HfEncoding()
        for name in ("ids", "type_ids", "tokens", "words", "offsets", "special_tokens_mask",
                     "attention_mask"):
            setattr(enc, name, getattr(self, name)[start:stop])
        return enc

    def truncate(self, max_len: int, stride: int, direction: str) -> None:
        n = len(self.ids)
        if max_len >= n:
            return
        if max_len == 0:
            whole = self._part(0, n)
            whole.overflowing, whole.sequence_ranges = self.overflowing, self.sequence_ranges
            empty = HfEncoding()
            empty.overflowing = [whole]
            self._become(empty)
            return
        if stride >= max_len:
            raise ValueError(f"`stride` must be strictly less than `max_len={max_len}` (note that"
                             " `max_len` may be shorter than the max length of the original model,"
                             " as it subtracts the number of special characters")
        step = max_len - stride
        parts: List[Tuple[int, int]] = []
        if direction == "right":
            for start in range(0, n, step):
                stop = min(start + max_len, n)
                parts.append((start, stop))
                if stop == n:
                    break
        else:
            for last in range(n - 1, -1, -step):
                stop = last + 1
                start = max(stop - max_len, 0)
                if start < stop:
                    parts.append((start, stop))
                    if start == 0:
                        break
        first = self._part(*parts[0])
        first.overflowing = [self._part(a, b) for a, b in parts[1:]]
        self._become(first)

    def _become(self, other: "HfEncoding") -> None:
        for name in self.__slots__:
            setattr(self, name, getattr(other, name))

    def merge_with(self, pair: "HfEncoding", growing_offsets: bool) -> None:
        overflowings = []
        for self_o in self.overflowing:
            n_enc = self_o.clone()
            n_enc.merge_with(pair.clone(), growing_offsets)
            overflowings.append(n_enc)
            for other_o in pair.overflowing:
                n_enc = self_o.clone()
                n_enc.merge_with(other_o.clone(), growing_offsets)
                overflowings.append(n_enc)
        for other_o in pair.overflowing:
            n_enc = self.clone()
            n_enc.merge_with(other_o.clone(), growing_offsets)
            overflowings.append(n_enc)
        base = len(self.ids)
        for sid, (a, b) in pair.sequence_ranges.items():
            self.sequence_ranges[sid] = (base + a, base + b)
        self.ids.extend(pair.ids)
        self.type_ids.extend(pair.type_ids)
        self.tokens.extend(pair.tokens)
        self.words.extend(pair.words)
        shift = (self.offsets[-1][1] if self.offsets else 0) if growing_offsets else 0
        self.offsets.extend((a + shift, b + shift) for a, b in pair.offsets)
        self.special_tokens_mask.extend(pair.special_tokens_mask)
        self.attention_mask.extend(pair.attention_mask)
        self.overflowing = overflowings

    @staticmethod
    def merge(encodings: List["HfEncoding"], growing_offsets: bool = False) -> "HfEncoding":
        out = HfEncoding()
        for e in encodings:
            out.merge_with(e, growing_offsets)
        return out

    def pad(self, target: int, pad_id: int, pad_type_id: int, pad_token: str, direction: str) -> None:
        for o in self.overflowing:
            o.pad(target, pad_id, pad_type_id, pad_token, direction)
        n = len(self.ids)
        if n >= target:
            return
        k = target - n
        if direction == "left":
            self.ids = [pad_id] * k + self.ids
            self.type_ids = [pad_type_id] * k + self.type_ids
            self.tokens = [pad_token] * k + self.tokens
            self.words = [None] * k + self.words
            self.attention_mask = [0] * k + self.attention_mask
            self.special_tokens_mask = [1] * k + self.special_tokens_mask
            self.offsets = [(0, 0)] * k + self.offsets
            self.sequence_ranges = {s: (a + k, b + k) for s, (a, b) in self.sequence_ranges.items()}
        else:
            self.ids += [pad_id] * k
            self.type_ids += [pad_type_id] * k
            self.tokens += [pad_token] * k
            self.words += [None] * k
            self.attention_mask += [0] * k
            self.special_tokens_mask += [1] * k
            self.offsets += [(0, 0)] * k


# -- truncation and padding -------------------------------------------------------------------

def truncate_encodings(encoding: HfEncoding, pair: Optional[HfEncoding], params: dict) -> None:
    """HF truncate_encodings (in place)."""
    max_length, stride = params["max_length"], params["stride"]
    direction, strategy = params["direction"], params["strategy"]
    if max_length == 0:
        encoding.truncate(0, stride, direction)
        if pair is not None:
            pair.truncate(0, stride, direction)
        return
    total = len(encoding) + (len(pair) if pair is not None else 0)
    if total <= max_length:
        return
    to_remove = total - max_length
    if strategy == "longest_first":
        if pair is None:
            encoding.truncate(total - to_remove, stride, direction)
            return
        n1, n2 = len(encoding), len(pair)
        swap = n1 > n2
        if swap:
            n1, n2 = n2, n1
        if n1 > max_length:
            n2 = n1
        else:
            n2 = max(n1, max_length - n1)
        if n1 + n2 > max_length:
            n1 = max_length // 2
            n2 = n1 + max_length % 2
        if swap:
            n1, n2 = n2, n1
        encoding.truncate(n1, stride, direction)
        pair.truncate(n2, stride, direction)
        return
    if strategy == "only_first":
        target = encoding
    else:
        if pair is None:
            raise ValueError("Truncation error: Second sequence not provided")
        target = pair
    if len(target) > to_remove:
        target.truncate(len(target) - to_remove, stride, direction)
    else:
        raise ValueError("Truncation error: Sequence to truncate too short to respect the "
                         "provided max_length")


def pad_encodings(encodings: List[HfEncoding], params: dict) -> None:
    if not encodings:
        return
    length = params.get("length")
    target = length if length is not None else max(len(e) for e in encodings)
    multiple = params.get("pad_to_multiple_of")
    if multiple and target % multiple:
        target += multiple - target % multiple
    for e in encodings:
        e.pad(target, params["pad_id"], params["pad_type_id"], params["pad_token"],
              params["direction"])


# -- post-processors --------------------------------------------------------------------------

def _trim_byte_level_offsets(enc: HfEncoding, add_prefix_space: bool) -> None:
    space = bytes_to_unicode()[ord(" ")]

    def is_space(c: str) -> bool:
        return c == space or U.is_whitespace(c)
    for i, (token, (start, end)) in enumerate(zip(enc.tokens, enc.offsets)):
        lead = 0
        while lead < len(token) and is_space(token[lead]):
            lead += 1
        trail = 0
        while trail < len(token) and is_space(token[len(token) - 1 - trail]):
            trail += 1
        if lead == 0 and trail == 0:
            continue
        if lead > 0:
            is_first = i == 0 or start == 0
            if is_first and add_prefix_space and lead == 1:
                lead = 0
            start = min(start + lead, end)
        if trail > 0 and end >= trail:
            end = max(end - trail, start)
        enc.offsets[i] = (start, end)


class PostProcessor:
    def __init__(self, obj: dict) -> None:
        kind = obj.get("type")
        self.kind = kind
        if kind == "TemplateProcessing":
            self.special_tokens = {k: (v["ids"], v["tokens"])
                                   for k, v in (obj.get("special_tokens") or {}).items()}
            self.single = obj.get("single") or []
            self.pair = obj.get("pair") or []

            def count(template):
                return sum(len(self.special_tokens[p["SpecialToken"]["id"]][0])
                           for p in template if "SpecialToken" in p)
            self.n_added = (count(self.single), count(self.pair))
        elif kind == "BertProcessing":
            self.sep, self.cls = tuple(obj["sep"]), tuple(obj["cls"])
            self.n_added = (2, 3)
        elif kind == "RobertaProcessing":
            self.sep, self.cls = tuple(obj["sep"]), tuple(obj["cls"])
            self.trim_offsets = obj.get("trim_offsets", True)
            self.add_prefix_space = obj.get("add_prefix_space", True)
            self.n_added = (2, 4)
        elif kind == "ByteLevel":
            self.trim_offsets = obj.get("trim_offsets", True)
            self.add_prefix_space = obj.get("add_prefix_space", True)
            self.n_added = (0, 0)
        elif kind == "Sequence":
            self.processors = [PostProcessor(p) for p in obj.get("processors") or []]
            self.n_added = (sum(p.n_added[0] for p in self.processors),
                            sum(p.n_added[1] for p in self.processors))
        else:
            raise UnsupportedError(f"post-processor {kind!r} is not supported")

    def added_tokens(self, is_pair: bool) -> int:
        return self.n_added[1 if is_pair else 0]

    def process(self, encoding: HfEncoding, pair: Optional[HfEncoding],
                add_special_tokens: bool) -> HfEncoding:
        encodings = [encoding] if pair is None else [encoding, pair]
        for i, enc in enumerate(encodings):
            enc.set_sequence_id(i)
            for o in enc.overflowing:
                o.set_sequence_id(i)
            enc.type_ids = [i] * len(enc)
        return HfEncoding.merge(self.process_encodings(encodings, add_special_tokens), False)

    def process_encodings(self, encodings: List[HfEncoding], add_special_tokens: bool):
        kind = self.kind
        if kind == "Sequence":
            for p in self.processors:
                encodings = p.process_encodings(encodings, add_special_tokens)
            return encodings
        if kind == "ByteLevel":
            if self.trim_offsets:
                for enc in encodings:
                    _trim_byte_level_offsets(enc, self.add_prefix_space)
                    for o in enc.overflowing:
                        _trim_byte_level_offsets(o, self.add_prefix_space)
            for i, enc in enumerate(encodings):
                enc.set_sequence_id(i)
            return encodings
        if kind == "TemplateProcessing":
            template = self.pair if len(encodings) == 2 else self.single
            out = []
            for piece in template:
                if "Sequence" in piece:
                    seq = piece["Sequence"]
                    i = 0 if seq["id"] == "A" else 1
                    enc = encodings[i]
                    enc.type_ids = [seq["type_id"]] * len(enc)
                    enc.set_sequence_id(i)
                    out.append(enc.clone())
                elif add_special_tokens:
                    sp = piece["SpecialToken"]
                    ids, toks = self.special_tokens[sp["id"]]
                    out.append(HfEncoding.special(ids, toks, sp["type_id"]))
            return out
        if kind == "RobertaProcessing":
            if self.trim_offsets:
                for enc in encodings:
                    _trim_byte_level_offsets(enc, self.add_prefix_space)
                    for o in enc.overflowing:
                        _trim_byte_level_offsets(o, self.add_prefix_space)
            for enc in encodings:
                enc.type_ids = [0] * len(enc)
        if not add_special_tokens:
            return encodings
        roberta = kind == "RobertaProcessing"
        out = []
        for i, enc in enumerate(encodings):
            wrapped = self._wrap(enc, i, roberta)
            wrapped.overflowing = [self._wrap(o, i, roberta) for o in enc.overflowing]
            out.append(wrapped)
        return out

    def _wrap(self, enc: HfEncoding, i: int, roberta: bool) -> HfEncoding:
        """Bert/Roberta: [CLS] A [SEP] for the first sequence; B [SEP] (Bert, type 1) or
        [SEP] B [SEP] (Roberta, type 0) for the second."""
        (sep_tok, sep_id), (cls_tok, cls_id) = self.sep, self.cls
        n = len(enc)
        out = HfEncoding()
        if i == 0 or roberta:
            first = (cls_tok, cls_id) if i == 0 else (sep_tok, sep_id)
            out.ids = [first[1]] + enc.ids + [sep_id]
            out.tokens = [first[0]] + enc.tokens + [sep_tok]
            if i == 0 and not roberta:
                out.type_ids = [0] + enc.type_ids + [0]
            else:
                out.type_ids = [0] * (n + 2) if roberta else [0] + enc.type_ids + [0]
            out.words = [None] + enc.words + [None]
            out.offsets = [(0, 0)] + enc.offsets + [(0, 0)]
            out.special_tokens_mask = [1] + [0] * n + [1]
            out.attention_mask = [1] * (n + 2)
            out.sequence_ranges = {i: (1, n + 1)}
        else:
            out.ids = enc.ids + [sep_id]
            out.tokens = enc.tokens + [sep_tok]
            out.type_ids = enc.type_ids + [1]
            out.words = enc.words + [None]
            out.offsets = enc.offsets + [(0, 0)]
            out.special_tokens_mask = [0] * n + [1]
            out.attention_mask = [1] * (n + 1)
            out.sequence_ranges = {1: (0, n)}
        return out
