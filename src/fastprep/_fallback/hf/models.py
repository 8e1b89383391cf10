"""Models of the HF-pipeline reference: BPE, WordPiece and WordLevel turn one pre-token into tokens.

Token offsets are UTF-8 byte offsets inside the pre-token, exactly as HF computes them (this
matters for byte_fallback with a prefix/suffix, where HF's byte count runs past the word).
"""
from __future__ import annotations

import heapq
from typing import Dict, List, Optional, Tuple

from ...errors import UnsupportedError
from .normalized import Token


def _utf8_len(s: str) -> int:
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


class BPE:
    """HF's BPE: merge priority is the merge's index in ``merges``; the lowest rank (then the
    leftmost position) merges first, and a pair merges only if it is listed."""

    def __init__(self, obj: dict) -> None:
        dropout = obj.get("dropout")
        if dropout not in (None, 0, 0.0):
            raise UnsupportedError(f"BPE dropout={dropout} is not supported")
        self.vocab: Dict[str, int] = dict(obj.get("vocab") or {})
        self.vocab_r: Dict[int, str] = {v: k for k, v in self.vocab.items()}
        self.unk_token: Optional[str] = obj.get("unk_token")
        self.prefix: Optional[str] = obj.get("continuing_subword_prefix")
        self.suffix: Optional[str] = obj.get("end_of_word_suffix")
        self.fuse_unk = bool(obj.get("fuse_unk") or False)
        self.byte_fallback = bool(obj.get("byte_fallback") or False)
        self.ignore_merges = bool(obj.get("ignore_merges") or False)
        merges = obj.get("merges") or []
        prefix_len = len(self.prefix.encode()) if self.prefix else 0
        self.merges: Dict[Tuple[int, int], Tuple[int, int]] = {}
        for rank, merge in enumerate(merges):
            if isinstance(merge, str):
                parts = merge.split(" ")
                if len(parts) != 2:
                    raise ValueError(f"BPE merge {rank + 1} is not two tokens: {merge!r}")
                a, b = parts
            else:
                a, b = merge
            try:
                a_id, b_id = self.vocab[a], self.vocab[b]
                new = a + b.encode()[prefix_len:].decode("utf-8", "replace")
                new_id = self.vocab[new]
            except KeyError as e:
                raise ValueError(f"BPE merge token {e.args[0]!r} is not in the vocabulary") from None
            self.merges[(a_id, b_id)] = (rank, new_id)
        self._cache: Dict[str, List[Tuple[int, int, int]]] = {}

    def token_to_id(self, token: str) -> Optional[int]:
        return self.vocab.get(token)

    def id_to_token(self, i: int) -> Optional[str]:
        return self.vocab_r.get(i)

    def get_vocab(self) -> Dict[str, int]:
        return dict(self.vocab)

    def get_vocab_size(self) -> int:
        return len(self.vocab)

    def _unk_id(self) -> int:
        uid = self.vocab.get(self.unk_token)
        if uid is None:
            raise ValueError(f"unk token {self.unk_token!r} is not in the vocabulary")
        return uid

    def _initial_symbols(self, w: str) -> List[List[int]]:
        """[id, byte_len] per initial symbol (HF merge_word before merging)."""
        vocab = self.vocab
        symbols: List[List[int]] = []
        unk: Optional[List[int]] = None
        last = len(w) - 1
        for i, ch in enumerate(w):
            byte_len = _utf8_len(ch)
            s = ch
            if i > 0 and self.prefix is not None:
                s = self.prefix + s
            if i == last and self.suffix is not None:
                s = s + self.suffix
            tid = vocab.get(s)
            if tid is not None:
                if unk is not None:
                    symbols.append(unk)
                    unk = None
                symbols.append([tid, byte_len])
                continue
            if self.byte_fallback:
                ids = [vocab.get(f"<0x{b:02X}>") for b in s.encode("utf-8", "surrogatepass")]
                if all(x is not None for x in ids):
                    symbols.extend([x, 1] for x in ids)
                    continue
            if self.unk_token is not None:
                if unk is not None and self.fuse_unk:
                    unk[1] += byte_len
                else:
                    if unk is not None:
                        symbols.append(unk)
                    unk = [self._unk_id(), byte_len]
        if unk is not None:
            symbols.append(unk)
        return symbols

    def _merge(self, symbols: List[List[int]]) -> List[Tuple[int, int]]:
        n = len(symbols)
        merges = self.merges
        if n < 2:
            return [(s[0], s[1]) for s in symbols]
        ids = [s[0] for s in symbols]
        lens = [s[1] for s in symbols]
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        nxt[-1] = -1
        heap = []
        for i in range(n - 1):
            m = merges.get((ids[i], ids[i + 1]))
            if m is not None:
                heap.append((m[0], i, m[1]))
        heapq.heapify(heap)
        while heap:
            rank, pos, new_id = heapq.heappop(heap)
            if lens[pos] == 0:
                continue
            right = nxt[pos]
            if right == -1:
                continue
            m = merges.get((ids[pos], ids[right]))
            if m is None or m[1] != new_id:
                continue
            ids[pos] = new_id
            lens[pos] += lens[right]
            nxt[pos] = nxt[right]
            lens[right] = 0
            after = nxt[right]
            if after != -1:
                prev[after] = pos
            p = prev[pos]
            if p >= 0:
                m = merges.get((ids[p], new_id))
                if m is not None:
                    heapq.heappush(heap, (m[0], p, m[1]))
            if after != -1:
                m = merges.get((new_id, ids[after]))
                if m is not None:
                    heapq.heappush(heap, (m[0], pos, m[1]))
        return [(ids[i], lens[i]) for i in range(n) if lens[i] != 0]

    def tokenize(self, sequence: str) -> List[Token]:
        if not sequence:
            return []
        if self.ignore_merges:
            tid = self.vocab.get(sequence)
            if tid is not None:
                return [Token(tid, sequence, (0, _utf8_len(sequence)))]
        word = self._cache.get(sequence)
        if word is None:
            word = self._merge(self._initial_symbols(sequence))
            if len(self._cache) < 10000 and len(sequence) < 256:
                self._cache[sequence] = word
        out = []
        pos = 0
        for tid, blen in word:
            out.append(Token(tid, self.vocab_r[tid], (pos, pos + blen)))
            pos += blen
        return out


class WordPiece:
    """Greedy longest-match-first; a word that cannot be covered becomes one unk token."""

    def __init__(self, obj: dict) -> None:
        self.vocab: Dict[str, int] = dict(obj.get("vocab") or {})
        self.vocab_r: Dict[int, str] = {v: k for k, v in self.vocab.items()}
        self.unk_token: str = obj.get("unk_token", "[UNK]")
        self.prefix: str = obj.get("continuing_subword_prefix", "##")
        self.max_chars: int = obj.get("max_input_chars_per_word", 100)
        # No vocabulary entry is longer than this many characters, so longer candidate pieces
        # can be skipped without changing the result (keeps the greedy search near-linear).
        self.max_piece = max((len(k) for k in self.vocab), default=0)

    token_to_id = BPE.token_to_id
    id_to_token = BPE.id_to_token
    get_vocab = BPE.get_vocab
    get_vocab_size = BPE.get_vocab_size

    def _unk(self, sequence: str) -> List[Token]:
        uid = self.vocab.get(self.unk_token)
        if uid is None:
            raise ValueError("WordPiece error: Missing [UNK] token from the vocabulary")
        return [Token(uid, self.unk_token, (0, _utf8_len(sequence)))]

    def tokenize(self, sequence: str) -> List[Token]:
        n = len(sequence)
        if n > self.max_chars:
            return self._unk(sequence)
        if sequence.isascii():
            byte_pos = None
        else:
            byte_pos = [0]
            for ch in sequence:
                byte_pos.append(byte_pos[-1] + _utf8_len(ch))
        vocab = self.vocab
        out: List[Token] = []
        start = 0
        while start < n:
            end = min(n, start + self.max_piece)
            found = None
            while start < end:
                sub = sequence[start:end]
                if start > 0:
                    sub = self.prefix + sub
                tid = vocab.get(sub)
                if tid is not None:
                    found = tid, sub
                    break
                end -= 1
            if found is None:
                return self._unk(sequence)
            b0, b1 = (start, end) if byte_pos is None else (byte_pos[start], byte_pos[end])
            out.append(Token(found[0], found[1], (b0, b1)))
            start = end
        return out


class WordLevel:
    def __init__(self, obj: dict) -> None:
        self.vocab: Dict[str, int] = dict(obj.get("vocab") or {})
        self.vocab_r: Dict[int, str] = {v: k for k, v in self.vocab.items()}
        self.unk_token: str = obj.get("unk_token", "<unk>")

    token_to_id = BPE.token_to_id
    id_to_token = BPE.id_to_token
    get_vocab = BPE.get_vocab
    get_vocab_size = BPE.get_vocab_size

    def tokenize(self, sequence: str) -> List[Token]:
        tid = self.vocab.get(sequence)
        if tid is not None:
            return [Token(tid, sequence, (0, _utf8_len(sequence)))]
        uid = self.vocab.get(self.unk_token)
        if uid is None:
            raise ValueError("WordLevel error: Missing [UNK] token from the vocabulary")
        return [Token(uid, self.unk_token, (0, _utf8_len(sequence)))]


def build_model(obj: dict):
    kind = obj.get("type")
    if kind is None:  # HF accepts untagged models and infers the type from the fields
        if "merges" in obj:
            kind = "BPE"
        elif "max_input_chars_per_word" in obj or "continuing_subword_prefix" in obj:
            kind = "WordPiece"
        elif "vocab" in obj and isinstance(obj["vocab"], dict):
            kind = "WordLevel"
    if kind == "BPE":
        return BPE(obj)
    if kind == "WordPiece":
        return WordPiece(obj)
    if kind == "WordLevel":
        return WordLevel(obj)
    raise UnsupportedError(f"model {kind!r} is not supported")
