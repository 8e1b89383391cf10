"""Feature packing: ragged token ids -> model-input NumPy arrays (padded, varlen, bins).

Policy lives here (argument checks, defaults, docs); the work happens in the native kernels
(cpp/src/pack.cpp, arrays built natively and handed over without copying) or, with
``FASTPREP_BACKEND=python`` / ``backend="python"``, in the NumPy reference
``fastprep._fallback.pack``, which gives identical arrays and identical errors.

Accepted forms of ``seqs`` (all three functions):

- a ``list`` of sequences, each a list/tuple of Python ints or a 1-D NumPy integer array (int32 and
  int64 C-contiguous arrays are read in place; other integer dtypes are converted);
- a 2-D NumPy integer array ``[B, n]``: B sequences of n ids;
- a ``tuple`` ``(flat_ids, offsets)``: sequence i is ``flat_ids[offsets[i]:offsets[i+1]]``;
  ``offsets`` has B+1 entries, starts at 0, is non-decreasing and ends at ``len(flat_ids)``.
  A tuple is always read as this pair; pass a list for a batch of sequences.

Ids must be >= 0 and fit the output ``dtype`` (int32 or int64); every input id is checked,
including ids that truncation drops. An empty batch is a ``ValueError("empty batch")``.
All per-token outputs (ids, masks, segment and position ids) have the requested ``dtype``, so
they go to a framework in one step (Hugging Face returns int64 for ``return_tensors="np"``; pass
``dtype=np.int64`` to match it). ``cu_seqlens`` are always int32 (flash-attention's type);
offsets and placements are int64.
"""
from __future__ import annotations

import operator
from typing import Any, Optional

from . import _backend

__all__ = ["pack_padded", "pack_varlen", "pack_bins"]

_SIDES = ("right", "left")
_INT32_MAX = 2**31 - 1


def _int(name: str, value) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {type(value).__name__}") from None


_NO_LIMIT = 2**62  # longer than any sequence: a max_length beyond it truncates nothing


def _optional_positive(name: str, value) -> int:
    """None -> 0 (the kernels' "unset"); else an int >= 1 (capped at _NO_LIMIT, which means the
    same thing for a length limit and fits the kernels' int64)."""
    if value is None:
        return 0
    value = _int(name, value)
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    return min(value, _NO_LIMIT)


def _multiple(value) -> int:
    multiple = _optional_positive("pad_to_multiple_of", value) or 1
    if multiple >= 2**31:
        raise ValueError(f"pad_to_multiple_of={value} is wider than any array row (at most 2**31 - 1)")
    return multiple


def _is_left(name: str, side) -> bool:
    if not isinstance(side, str) or side not in _SIDES:
        raise ValueError(f"{name} must be 'right' or 'left', got {side!r}")
    return side == "left"


# Spellings of the two id dtypes already resolved (np.int32, "int64", np.dtype("int32"), ...).
_KNOWN_DTYPES: dict = {"int32": False, "int64": True}


def _is_wide(dtype) -> bool:
    """True for int64, False for int32; anything else is a TypeError."""
    try:
        return _KNOWN_DTYPES[dtype]
    except (KeyError, TypeError):  # unseen spelling, or unhashable
        pass
    import numpy as np

    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be int32 or int64, got {dtype!r}") from None
    if dt == np.dtype(np.int64):
        wide = True
    elif dt == np.dtype(np.int32):
        wide = False
    else:
        raise TypeError(f"dtype must be int32 or int64, got {dt}")
    if isinstance(dtype, (type, np.dtype)):
        _KNOWN_DTYPES[dtype] = wide
    return wide


def _pad_id(pad_id, wide: bool) -> int:
    pad_id = _int("pad_id", pad_id)
    if pad_id < 0:
        raise ValueError(f"pad_id must be >= 0, got {pad_id}")
    if pad_id > (2**63 - 1 if wide else _INT32_MAX):
        raise ValueError(f"pad_id {pad_id} does not fit in {'int64' if wide else 'int32'}")
    return pad_id


def _kernels(backend: Optional[str]):
    core = _backend.core_for(_backend.resolve(backend))
    if core is not None:
        return core
    from ._fallback import pack as reference

    return reference


def pack_padded(
    seqs,
    *,
    pad_id: int,
    side: str = "right",
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    pad_to_multiple_of: Optional[int] = None,
    dtype: Any = "int32",
    backend: Optional[str] = None,
) -> dict:
    """Pads a batch to a rectangle: ``{"input_ids", "attention_mask", "position_ids"}``, each [B, L].

    Each sequence is first cut to ``max_length`` ids (``truncation_side="right"`` keeps the first
    ids, ``"left"`` the last). ``L`` is the longest result, rounded up to a multiple of
    ``pad_to_multiple_of`` (so L may exceed ``max_length``, as in Hugging Face). Pads go on
    ``side`` ("right" or "left").

    Real tokens: their id, mask 1, positions 0, 1, ..., n-1 (counted from the first real token on
    either side). Pads: ``pad_id``, mask 0 and position 0 (Hugging Face's default for pad
    positions). All three arrays have ``dtype`` (int32 or int64, default int32).
    """
    wide = _is_wide(dtype)
    args = (
        _pad_id(pad_id, wide),
        _is_left("side", side),
        _optional_positive("max_length", max_length),
        _is_left("truncation_side", truncation_side),
        _multiple(pad_to_multiple_of),
        wide,
    )
    return _kernels(backend).pack_padded(seqs, *args)


def pack_varlen(
    seqs,
    *,
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    dtype: Any = "int32",
    backend: Optional[str] = None,
) -> dict:
    """Concatenates a batch in flash-attention's varlen layout.

    Returns ``{"input_ids": [T], "cu_seqlens": [B+1] int32, "position_ids": [T], "max_seqlen": int}``:
    sequence i is ``input_ids[cu_seqlens[i]:cu_seqlens[i+1]]`` (``cu_seqlens[0] == 0``), its
    positions restart at 0, and ``max_seqlen`` is the longest (truncated) length. Sequences are
    first cut to ``max_length`` ids (``truncation_side`` as in :func:`pack_padded`). Empty
    sequences keep their slot (a repeated cu_seqlens entry). ``T`` must stay below 2**31.
    """
    wide = _is_wide(dtype)
    args = (
        _optional_positive("max_length", max_length),
        _is_left("truncation_side", truncation_side),
        wide,
    )
    return _kernels(backend).pack_varlen(seqs, *args)


def pack_bins(
    seqs,
    *,
    max_tokens: int,
    truncate: bool = False,
    pad_id: int = 0,
    dtype: Any = "int32",
    backend: Optional[str] = None,
) -> dict:
    """Packs whole sequences into rows of exactly ``max_tokens`` ids, first-fit-decreasing.

    First-fit-decreasing, exactly: visit the sequences by length descending, ties broken by input
    index ascending. Put each into the lowest-numbered row whose free space
    (``max_tokens`` - tokens used) is at least its length, directly after the row's last token; if
    no row has room, open a new row (rows are numbered in the order they open). So sequences never
    split, each row holds its sequences back to back in placement order, and zero-length
    sequences land in row 0. A sequence longer than ``max_tokens`` is a ``ValueError`` unless
    ``truncate=True``, which keeps its first ``max_tokens`` ids. Runs in O(B log B).

    Returns a dict:

    - ``input_ids`` [R, max_tokens]: ids, then ``pad_id`` after each row's last sequence;
    - ``segment_ids`` [R, max_tokens]: 1, 2, ... for a row's sequences in placement order, 0 on pads;
    - ``position_ids`` [R, max_tokens]: 0..n-1 within each sequence, 0 on pads;
    - ``cu_seqlens`` int32 and ``cu_seqlens_offsets`` int64 [R+1], a ragged pair: row r's
      flash-attention cu_seqlens are ``cu_seqlens[cu_seqlens_offsets[r]:cu_seqlens_offsets[r+1]]``,
      i.e. ``[0, end_1, ..., end_k]`` in row-local columns (padding excluded; k + 1 entries for k
      sequences, a zero-length sequence repeats an entry). B + R entries in all;
    - ``placement`` int64 [B, 2]: ``(row, start column)`` of each input sequence.

    ``input_ids``, ``segment_ids`` and ``position_ids`` have ``dtype`` (int32 or int64).
    """
    wide = _is_wide(dtype)
    max_tokens = _int("max_tokens", max_tokens)
    if not 1 <= max_tokens <= _INT32_MAX:
        raise ValueError(f"max_tokens must be in [1, 2**31-1], got {max_tokens}")
    args = (max_tokens, bool(truncate), _pad_id(pad_id, wide), wide)
    return _kernels(backend).pack_bins(seqs, *args)
