"""Reference byte-level BPE over a tiktoken rank file: the specification the C++ core matches.

Encoding one pre-token piece (tiktoken's semantics): if the piece is itself a token, emit it;
otherwise start from single bytes and repeatedly merge the adjacent pair whose concatenation has
the lowest rank (ties: the leftmost pair), until no adjacent pair forms a token.
"""
from __future__ import annotations

import base64
import binascii
import heapq
from typing import Iterable, Optional

# Pieces up to this many bytes use the direct quadratic scan; longer ones a heap (O(n log n)).
_SHORT_PIECE = 64


def parse_tiktoken_ranks(data: bytes) -> dict[bytes, int]:
    """Parses ``<base64 token> <rank>`` lines; errors name the 1-based line."""
    ranks: dict[bytes, int] = {}
    seen_ranks: set[int] = set()
    for line_no, line in enumerate(data.split(b"\n"), start=1):
        line = line.strip(b"\r")
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise ValueError(f"rank file line {line_no}: expected '<base64 token> <rank>'")
        try:
            token = base64.b64decode(fields[0], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"rank file line {line_no}: invalid base64 token") from None
        if not fields[1].isdigit() or int(fields[1]) > 0xFFFFFFFE:
            raise ValueError(f"rank file line {line_no}: invalid rank {fields[1]!r}")
        if not token:
            raise ValueError(f"rank file line {line_no}: empty token")
        rank = int(fields[1])
        if token in ranks:
            raise ValueError(f"rank file line {line_no}: duplicate token")
        if rank in seen_ranks:
            raise ValueError(f"rank file line {line_no}: duplicate rank {rank}")
        ranks[token] = rank
        seen_ranks.add(rank)
    if not ranks:
        raise ValueError("rank file holds no tokens")
    # The native core indexes tokens by rank; a file whose ranks are mostly holes is refused
    # rather than allocating for them (same rule and message on both backends).
    max_rank = max(ranks.values())
    if max_rank // 4 > len(ranks) + 65536:
        raise ValueError(f"ranks too sparse: largest rank {max_rank} for {len(ranks)} tokens")
    return ranks


def _merge_short(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    # parts[i] is the start offset of part i; parts[-1] == len(piece).
    parts = list(range(len(piece) + 1))
    get = ranks.get
    while len(parts) > 2:
        best_rank = None
        best_i = -1
        for i in range(len(parts) - 2):
            rank = get(piece[parts[i] : parts[i + 2]])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_rank, best_i = rank, i
        if best_rank is None:
            break
        del parts[best_i + 1]
    return [ranks[piece[parts[i] : parts[i + 1]]] for i in range(len(parts) - 1)]


def _merge_long(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    # A doubly linked list of parts (by start offset) and a heap of (rank, start) for the pair
    # beginning at each part. Stale heap entries are skipped by re-checking the current pair rank.
    n = len(piece)
    nxt = list(range(1, n + 1))
    prv = list(range(-1, n - 1))
    alive = [True] * n
    get = ranks.get
    heap = []
    for i in range(n - 1):
        rank = get(piece[i : i + 2])
        if rank is not None:
            heap.append((rank, i))
    heapq.heapify(heap)

    def pair_rank(i: int) -> Optional[int]:
        j = nxt[i]
        if j >= n:
            return None
        return get(piece[i : nxt[j]])

    while heap:
        rank, i = heapq.heappop(heap)
        if not alive[i] or pair_rank(i) != rank:
            continue
        j = nxt[i]
        alive[j] = False
        nxt[i] = nxt[j]
        if nxt[j] < n:
            prv[nxt[j]] = i
        new_rank = pair_rank(i)
        if new_rank is not None:
            heapq.heappush(heap, (new_rank, i))
        p = prv[i]
        if p >= 0:
            left_rank = pair_rank(p)
            if left_rank is not None:
                heapq.heappush(heap, (left_rank, p))
    out = []
    i = 0
    while i < n:
        out.append(ranks[piece[i : nxt[i]]])
        i = nxt[i]
    return out


def encode_piece(piece: bytes, ranks: dict[bytes, int]) -> list[int]:
    """Ids of one pre-token piece."""
    rank = ranks.get(piece)
    if rank is not None:
        return [rank]
    for byte in set(piece):
        if bytes((byte,)) not in ranks:
            raise ValueError(f"byte 0x{byte:02x} has no rank: the vocabulary is not byte-level")
    if len(piece) <= _SHORT_PIECE:
        return _merge_short(piece, ranks)
    return _merge_long(piece, ranks)


class PyBpeEncoder:
    """Same surface as the native ``fastprep._core.BpeEncoder`` for the general (regex) path."""

    has_lexer = False

    def __init__(self, rank_data: bytes, pattern: str, specials: list[tuple[str, int]]):
        self._ranks = parse_tiktoken_ranks(bytes(rank_data))
        self._decoder: dict[int, bytes] = {rank: tok for tok, rank in self._ranks.items()}
        for text, token_id in specials:  # an ordinary token keeps its id (tiktoken decodes it first)
            self._decoder.setdefault(token_id, text.encode("utf-8"))

    def encode_pieces(self, pieces: Iterable[str]) -> list[int]:
        ranks = self._ranks
        out: list[int] = []
        for piece in pieces:
            out.extend(encode_piece(piece.encode("utf-8"), ranks))
        return out

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        decoder = self._decoder
        parts = []
        for token_id in ids:
            if isinstance(token_id, bool) or not hasattr(token_id, "__index__"):
                raise TypeError(f"token ids must be int, got {type(token_id).__name__}")
            token_id = int(token_id)
            try:
                parts.append(decoder[token_id])
            except KeyError:
                raise KeyError(f"Invalid token for decoding: {token_id}") from None
        return b"".join(parts)

    def token_bytes(self, token_id: int) -> bytes:
        try:
            return self._decoder[token_id]
        except KeyError:
            raise KeyError(f"Invalid token for decoding: {token_id}") from None

    def rank_of(self, token: bytes) -> Optional[int]:
        return self._ranks.get(token)

    @property
    def n_ranks(self) -> int:
        return len(self._ranks)

    @property
    def max_rank(self) -> int:
        return max(self._ranks.values())
