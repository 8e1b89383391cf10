"""Pure NumPy reference for feature packing: the readable specification of cpp/src/pack.cpp.

The native kernels must return identical arrays and raise the same exceptions with the same
messages, checked in the same order:

1. option checks (done once, in ``fastprep.pack``, for both backends);
2. conversion of ``seqs`` into int64 id arrays, sequence by sequence (type, rank and dtype errors,
   ids that int64 cannot hold, offsets of a ragged pair);
3. ``empty batch``;
4. size checks of the layout (cu_seqlens range for varlen, sequences longer than ``max_tokens``
   for bins);
5. id values, first bad id in input order: negative ids, then ids above the output dtype's range.
   Every input id is checked, including ids that truncation drops.

Inputs here come already normalized by ``fastprep.pack``: ``max_length`` 0 means no truncation,
``wide`` selects int64 outputs (else int32).
"""
from __future__ import annotations

import operator

import numpy as np

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1


def _at(seq: int, pos: int) -> str:
    return f"sequence {seq}, position {pos}"


# ------------------------------------------------------------------------------ input conversion


def _as_array(obj) -> np.ndarray:
    """np.asarray, except that an empty non-array (like ``[]``) counts as int64, not float64."""
    if isinstance(obj, np.ndarray):
        return obj
    arr = np.asarray(obj)
    if arr.size == 0:
        arr = np.asarray(obj, dtype=np.int64)
    return arr


def _id_array(obj, label: str, ndim: int) -> np.ndarray:
    arr = _as_array(obj)
    if arr.ndim != ndim:
        raise TypeError(f"{label}: expected a {ndim}-D array of ids, got a {arr.ndim}-D array")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{label}: expected integer ids, got dtype {arr.dtype}")
    return arr


def _to_int64(arr: np.ndarray, seq: int) -> np.ndarray:
    """Exact int64 copy of an integer array; uint64 ids above 2**63-1 are an error."""
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        too_big = np.flatnonzero(arr > INT64_MAX)
        if too_big.size:
            j = int(too_big[0])
            raise ValueError(f"{_at(seq, j)}: id {int(arr[j])} does not fit in int64")
    return arr.astype(np.int64)


def _check_unchanged(items, size: int, what: str) -> None:
    # __index__ / __array__ can run arbitrary code; a list resized under us is an error.
    if len(items) != size:
        raise RuntimeError(f"{what} changed size during conversion")


def _ids_from_python(seq, i: int, seqs: list) -> np.ndarray:
    n, n_seqs = len(seq), len(seqs)
    out = np.empty(n, dtype=np.int64)
    for j in range(n):
        x = seq[j]
        if isinstance(x, bool):
            raise TypeError(f"{_at(i, j)}: expected an int, got bool")
        try:
            v = operator.index(x)
        except TypeError:
            raise TypeError(f"{_at(i, j)}: expected an int, got {type(x).__name__}") from None
        if not INT64_MIN <= v <= INT64_MAX:
            raise ValueError(f"{_at(i, j)}: id {v} does not fit in int64")
        _check_unchanged(seq, n, f"sequence {i}")
        _check_unchanged(seqs, n_seqs, "seqs")
        out[j] = v
    return out


def _check_offsets(offsets: np.ndarray, flat_length: int) -> None:
    if offsets.size == 0:
        raise ValueError("offsets is empty; it needs B+1 entries starting at 0")
    if offsets[0] != 0:
        raise ValueError(f"offsets[0] = {offsets[0]}; offsets must start at 0")
    for k in range(1, offsets.size):
        if offsets[k] < offsets[k - 1]:
            raise ValueError(
                f"offsets must be non-decreasing: offsets[{k}] = {offsets[k]} "
                f"< offsets[{k - 1}] = {offsets[k - 1]}"
            )
        if offsets[k] > flat_length:
            raise ValueError(
                f"offsets[{k}] = {offsets[k]} runs past the end of flat_ids ({flat_length} ids)"
            )
    if offsets[-1] != flat_length:
        raise ValueError(f"offsets end at {offsets[-1]} but flat_ids has {flat_length} ids")


def _ragged_pair(flat_obj, offsets_obj) -> list[np.ndarray]:
    flat = _id_array(flat_obj, "flat_ids", 1)
    offsets = _as_array(offsets_obj)
    if offsets.ndim != 1:
        raise TypeError(f"offsets: expected a 1-D array, got a {offsets.ndim}-D array")
    if offsets.dtype.kind not in "iu":
        raise TypeError(f"offsets: expected integer offsets, got dtype {offsets.dtype}")
    offsets = offsets.astype(np.int64)
    _check_offsets(offsets, flat.size)
    if offsets.size == 1:
        raise ValueError("empty batch")
    return [_to_int64(flat[offsets[i] : offsets[i + 1]], i) for i in range(offsets.size - 1)]


def parse_batch(seqs) -> list[np.ndarray]:
    """The accepted input forms, as one int64 array per sequence.

    - a ``tuple`` is always the ragged pair ``(flat_ids, offsets)``;
    - a 2-D integer ``np.ndarray`` is a batch of equal-length rows;
    - a ``list`` holds one sequence per item: a list/tuple of Python ints (objects with
      ``__index__`` are accepted, ``bool`` is not) or anything ``np.asarray`` turns into a 1-D
      integer array.
    """
    if isinstance(seqs, tuple):
        if len(seqs) != 2:
            raise TypeError(
                "a tuple is read as the ragged pair (flat_ids, offsets) and must have 2 items, "
                f"got {len(seqs)}; pass a list for a batch of sequences"
            )
        return _ragged_pair(*seqs)
    if isinstance(seqs, np.ndarray):
        rows = _id_array(seqs, "seqs", 2)
        if rows.shape[0] == 0:
            raise ValueError("empty batch")
        return [_to_int64(rows[i], i) for i in range(rows.shape[0])]
    if isinstance(seqs, list):
        arrays = []
        n_seqs = len(seqs)
        for i in range(n_seqs):
            seq = seqs[i]
            if isinstance(seq, (list, tuple)):
                arrays.append(_ids_from_python(seq, i, seqs))
            elif isinstance(seq, (str, bytes, bytearray)):
                raise TypeError(f"sequence {i}: expected a sequence of ints, got {type(seq).__name__}")
            else:
                ids = _id_array(seq, f"sequence {i}", 1)
                _check_unchanged(seqs, n_seqs, "seqs")
                arrays.append(_to_int64(ids, i))
        return arrays
    raise TypeError(
        "seqs must be a list of sequences, a 2-D integer array, or a (flat_ids, offsets) tuple; "
        f"got {type(seqs).__name__}"
    )


def _check_not_empty(arrays: list[np.ndarray]) -> None:
    if not arrays:
        raise ValueError("empty batch")


def _check_ids(arrays: list[np.ndarray], dtype: np.dtype) -> None:
    """Every id must satisfy 0 <= id <= the largest value of the output dtype."""
    hi = np.iinfo(dtype).max
    for i, ids in enumerate(arrays):
        bad = np.flatnonzero((ids < 0) | (ids > hi))
        if bad.size:
            j = int(bad[0])
            v = int(ids[j])
            if v < 0:
                raise ValueError(f"{_at(i, j)}: id {v} is negative (token ids must be >= 0)")
            raise ValueError(f"{_at(i, j)}: id {v} does not fit in {dtype.name}")


def _truncate(ids: np.ndarray, max_length: int, truncate_left: bool) -> np.ndarray:
    if max_length <= 0 or ids.size <= max_length:
        return ids
    return ids[ids.size - max_length :] if truncate_left else ids[:max_length]


def _dtype(wide: bool) -> np.dtype:
    return np.dtype(np.int64 if wide else np.int32)


# ---------------------------------------------------------------------------------------- layouts


def pack_padded(seqs, pad_id, pad_left, max_length, truncate_left, pad_to_multiple_of, wide):
    arrays = parse_batch(seqs)
    _check_not_empty(arrays)
    dtype = _dtype(wide)
    _check_ids(arrays, dtype)
    kept = [_truncate(ids, max_length, truncate_left) for ids in arrays]
    width = max(ids.size for ids in kept)
    width = -(-width // pad_to_multiple_of) * pad_to_multiple_of  # round up

    input_ids = np.full((len(kept), width), pad_id, dtype=dtype)
    attention_mask = np.zeros((len(kept), width), dtype=dtype)
    position_ids = np.zeros((len(kept), width), dtype=dtype)  # pads hold position 0
    for i, ids in enumerate(kept):
        cols = slice(width - ids.size, width) if pad_left else slice(0, ids.size)
        input_ids[i, cols] = ids
        attention_mask[i, cols] = 1
        position_ids[i, cols] = np.arange(ids.size)
    return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}


def pack_varlen(seqs, max_length, truncate_left, wide):
    arrays = parse_batch(seqs)
    _check_not_empty(arrays)
    kept = [_truncate(ids, max_length, truncate_left) for ids in arrays]
    lengths = [ids.size for ids in kept]
    if sum(lengths) > INT32_MAX:
        raise ValueError(
            "varlen batch holds more than 2**31-1 tokens, beyond the range of int32 cu_seqlens"
        )
    dtype = _dtype(wide)
    _check_ids(arrays, dtype)

    cu_seqlens = np.zeros(len(kept) + 1, dtype=np.int32)
    cu_seqlens[1:] = np.cumsum(lengths)
    return {
        "input_ids": np.concatenate(kept).astype(dtype),
        "cu_seqlens": cu_seqlens,
        "position_ids": np.concatenate([np.arange(n) for n in lengths]).astype(dtype),
        "max_seqlen": max(lengths),
    }


def first_fit_decreasing(lengths: list[int], max_tokens: int) -> tuple[list[int], list[int], list[int]]:
    """(row_of, start_of, visit order) of the sequences under first-fit-decreasing.

    Visit sequences by length descending, ties by input index ascending; put each in the
    lowest-numbered row whose free space (max_tokens - used) is at least its length, at offset
    ``used``; if none has room, open a new row. Lengths must be <= max_tokens.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    used = np.zeros(len(lengths) + 1, dtype=np.int64)  # rows not yet opened are entirely free
    rows_open = 0
    row_of = [0] * len(lengths)
    start_of = [0] * len(lengths)
    for i in order:
        n = lengths[i]
        # The first open row with room, or else the first unopened row (always has room).
        row = int(np.argmax(used[: rows_open + 1] <= max_tokens - n))
        row_of[i], start_of[i] = row, int(used[row])
        used[row] += n
        rows_open = max(rows_open, row + 1)
    return row_of, start_of, order


def pack_bins(seqs, max_tokens, truncate, pad_id, wide):
    arrays = parse_batch(seqs)
    _check_not_empty(arrays)
    if not 1 <= max_tokens <= INT32_MAX:
        raise ValueError(f"max_tokens must be in [1, 2**31-1], got {max_tokens}")
    for i, ids in enumerate(arrays):
        if ids.size > max_tokens and not truncate:
            raise ValueError(
                f"sequence {i} has {ids.size} tokens, more than max_tokens = {max_tokens} "
                "(pass truncate=True to cut it)"
            )
    dtype = _dtype(wide)
    _check_ids(arrays, dtype)
    kept = [ids[:max_tokens] for ids in arrays]  # truncation keeps the first max_tokens ids

    row_of, start_of, order = first_fit_decreasing([ids.size for ids in kept], max_tokens)
    members = [[] for _ in range(max(row_of) + 1)]  # each row's sequences in placement order
    for i in order:
        members[row_of[i]].append(i)
    n_rows = len(members)

    input_ids = np.full((n_rows, max_tokens), pad_id, dtype=dtype)
    segment_ids = np.zeros((n_rows, max_tokens), dtype=dtype)  # 0 marks padding
    position_ids = np.zeros((n_rows, max_tokens), dtype=dtype)
    cu_rows = []
    for row, row_members in enumerate(members):
        ends = [0]
        for k, i in enumerate(row_members):
            start, n = start_of[i], kept[i].size
            input_ids[row, start : start + n] = kept[i]
            segment_ids[row, start : start + n] = k + 1
            position_ids[row, start : start + n] = np.arange(n)
            ends.append(start + n)
        cu_rows.append(ends)
    return {
        "input_ids": input_ids,
        "segment_ids": segment_ids,
        "position_ids": position_ids,
        "cu_seqlens": np.array([e for ends in cu_rows for e in ends], dtype=np.int32),
        "cu_seqlens_offsets": np.cumsum([0] + [len(ends) for ends in cu_rows], dtype=np.int64),
        "placement": np.array([row_of, start_of], dtype=np.int64).T.copy(),
    }
