"""Packing on the GPU: ragged token ids already on the device -> padded or varlen CuPy arrays.

``fastprep.cuda`` is imported on demand (never by ``import fastprep``) and needs three things:
CuPy, the ``fastprep._cuda`` extension (built with ``pip install . -C
cmake.define.FASTPREP_CUDA=ON``) and a CUDA device. :func:`is_available` says whether all three
are there and :func:`why_unavailable` which one is missing; the packing functions raise
:class:`CudaUnavailableError` with the same reason.

The functions take the ragged pair ``(flat_ids, offsets)`` as CuPy arrays (or any object with
``__cuda_array_interface__``): sequence i is ``flat_ids[offsets[i]:offsets[i+1]]``. They return
exactly what :func:`fastprep.pack_padded` / :func:`fastprep.pack_varlen` return for the same
arrays on the host (same keys, shapes, dtypes and values), as CuPy arrays on the input's device,
computed on CuPy's current stream. Each call synchronizes once (to learn the output shape).
Invalid input raises the same exception, with the same message, as the CPU path: the kernels
only flag a problem, and the host then copies the batch back and lets the reference name it.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Optional

from . import pack as _pack
from .errors import Error

__all__ = ["CudaUnavailableError", "is_available", "why_unavailable", "pack_padded", "pack_varlen"]

_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_BAD_OFFSETS, _BAD_IDS = 1, 2  # ScanError bits of cuda/pack_logic.cuh


class CudaUnavailableError(Error, RuntimeError):
    """fastprep.cuda was asked to run but CuPy, the _cuda extension or a CUDA device is missing."""


_status: Optional[tuple] = None  # (cupy, _cuda, reason); reason "" when available


def _probe() -> tuple:
    global _status
    if _status is not None:
        return _status
    missing = []
    try:
        import cupy
    except ImportError as exc:
        cupy = None
        missing.append(f"CuPy is not installed ({exc}): install cupy-cuda12x or cupy-cuda13x")
    try:
        from . import _cuda
    except ImportError as exc:
        _cuda = None
        if importlib.util.find_spec(f"{__package__}._cuda") is None:
            missing.append(
                "fastprep was built without its CUDA module fastprep._cuda: rebuild with "
                "pip install . -C cmake.define.FASTPREP_CUDA=ON (needs nvcc)"
            )
        else:
            missing.append(f"fastprep._cuda is installed but does not load ({exc})")
    if _cuda is not None:  # the device is checked through the CUDA runtime, CuPy or not
        count, error = _cuda.device_count()
        if count == 0:
            missing.append(
                "no CUDA device is visible"
                + (f" (CUDA runtime: {error})" if error else "")
            )
    _status = (cupy, _cuda, "; ".join(missing))
    return _status


def why_unavailable() -> str:
    """Why :mod:`fastprep.cuda` cannot run here ("" if it can): no CuPy, no fastprep._cuda
    extension, or no CUDA device; every missing piece is named."""
    return _probe()[2]


def is_available() -> bool:
    """True when CuPy, the fastprep._cuda extension and a CUDA device are all present."""
    return not why_unavailable()


def _require() -> tuple:
    cupy, core, reason = _probe()
    if reason:
        raise CudaUnavailableError(f"fastprep.cuda is unavailable: {reason}")
    return cupy, core


def _device_array(cupy, obj, name: str):
    if not hasattr(obj, "__cuda_array_interface__"):
        raise TypeError(
            f"{name}: expected a CuPy array (an object with __cuda_array_interface__), got "
            f"{type(obj).__name__}; use fastprep.pack_padded / pack_varlen for host arrays"
        )
    return cupy.asarray(obj)


def _ragged_on_device(cupy, flat_ids, offsets):
    """Checks ranks and dtypes as the CPU path does; returns (flat int32/int64, offsets int64)."""
    flat = _device_array(cupy, flat_ids, "flat_ids")
    offs = _device_array(cupy, offsets, "offsets")
    if flat.ndim != 1:
        raise TypeError(f"flat_ids: expected a 1-D array of ids, got a {flat.ndim}-D array")
    if flat.dtype.kind not in "iu":
        raise TypeError(f"flat_ids: expected integer ids, got dtype {flat.dtype}")
    if offs.ndim != 1:
        raise TypeError(f"offsets: expected a 1-D array, got a {offs.ndim}-D array")
    if offs.dtype.kind not in "iu":
        raise TypeError(f"offsets: expected integer offsets, got dtype {offs.dtype}")
    if offs.size == 0:
        raise ValueError("offsets is empty; it needs B+1 entries starting at 0")
    if flat.device != offs.device:
        raise ValueError(f"flat_ids is on {flat.device} but offsets on {offs.device}")
    return flat, offs


def _kernel_ids(cupy, flat):
    """flat_ids as int32 or int64 for the kernels; None if a uint64 id exceeds int64."""
    if flat.dtype in (cupy.int32, cupy.int64):
        return cupy.ascontiguousarray(flat)
    if flat.dtype == cupy.uint64 and flat.size and bool((flat > _INT64_MAX).any()):
        return None
    return flat.astype(cupy.int64)


def _host_error(cupy, flat, offs, host_call) -> None:
    """The device flagged a problem: the CPU path, on a host copy, raises the exact error."""
    host_call((cupy.asnumpy(flat), cupy.asnumpy(offs)))
    raise RuntimeError(  # pragma: no cover - the kernels and the reference disagree
        "fastprep.cuda: the device kernels rejected this batch but the CPU path accepted it; "
        "please report this as a bug"
    )


def _scan(cupy, core, flat, offs, max_length, truncate_left, wide, host_call):
    """Validates on the device; returns (ids, kept_begin, kept_length, longest, total)."""
    ids = _kernel_ids(cupy, flat)
    n_seqs = offs.size - 1
    if ids is None or n_seqs == 0:
        _host_error(cupy, flat, offs, host_call)
    offsets64 = cupy.ascontiguousarray(offs.astype(cupy.int64, copy=False))
    kept_begin = cupy.empty(n_seqs, dtype=cupy.int64)
    kept_length = cupy.empty(n_seqs, dtype=cupy.int64)
    stats = cupy.zeros(3, dtype=cupy.uint64)
    stream = cupy.cuda.get_current_stream().ptr
    core.scan(
        ids.data.ptr, bool(ids.dtype == cupy.int64), ids.size, offsets64.data.ptr, n_seqs,
        max_length, truncate_left, _INT64_MAX if wide else _INT32_MAX, kept_begin.data.ptr,
        kept_length.data.ptr, stats.data.ptr, stream,
    )
    errors, longest, total = (int(x) for x in stats.get())  # the one synchronization
    if errors & (_BAD_OFFSETS | _BAD_IDS):
        _host_error(cupy, flat, offs, host_call)
    return ids, kept_begin, kept_length, longest, total


def pack_padded(
    flat_ids,
    offsets,
    *,
    pad_id: int,
    side: str = "right",
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    pad_to_multiple_of: Optional[int] = None,
    dtype: Any = "int32",
) -> dict:
    """:func:`fastprep.pack_padded` of the ragged pair ``(flat_ids, offsets)``, on the GPU.

    Returns ``{"input_ids", "attention_mask", "position_ids"}`` as [B, L] CuPy arrays of
    ``dtype`` (int32 or int64), equal to ``fastprep.pack_padded((flat_ids.get(),
    offsets.get()), ...)`` with the same options.
    """
    wide = _pack._is_wide(dtype)
    pad_id = _pack._pad_id(pad_id, wide)
    pad_left = _pack._is_left("side", side)
    max_length = _pack._optional_positive("max_length", max_length)
    truncate_left = _pack._is_left("truncation_side", truncation_side)
    multiple = _pack._optional_positive("pad_to_multiple_of", pad_to_multiple_of) or 1
    cupy, core = _require()
    flat, offs = _ragged_on_device(cupy, flat_ids, offsets)

    def host_call(seqs):
        return _pack.pack_padded(
            seqs, pad_id=pad_id, side=side, max_length=max_length or None,
            truncation_side=truncation_side, pad_to_multiple_of=multiple, dtype=dtype,
        )

    with flat.device:
        ids, kept_begin, kept_length, longest, _ = _scan(
            cupy, core, flat, offs, max_length, truncate_left, wide, host_call
        )
        n_seqs = kept_begin.size
        width = -(-longest // multiple) * multiple
        out_dtype = cupy.int64 if wide else cupy.int32
        input_ids = cupy.empty((n_seqs, width), dtype=out_dtype)
        attention_mask = cupy.empty((n_seqs, width), dtype=out_dtype)
        position_ids = cupy.empty((n_seqs, width), dtype=out_dtype)
        core.padded(
            ids.data.ptr, bool(ids.dtype == cupy.int64), kept_begin.data.ptr, kept_length.data.ptr,
            n_seqs, width, pad_id, pad_left, wide, input_ids.data.ptr, attention_mask.data.ptr,
            position_ids.data.ptr, cupy.cuda.get_current_stream().ptr,
        )
    return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}


def pack_varlen(
    flat_ids,
    offsets,
    *,
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    dtype: Any = "int32",
) -> dict:
    """:func:`fastprep.pack_varlen` of the ragged pair ``(flat_ids, offsets)``, on the GPU.

    Returns ``{"input_ids": [T], "cu_seqlens": [B+1] int32, "position_ids": [T], "max_seqlen":
    int}``; arrays are CuPy arrays, ``max_seqlen`` a Python int.
    """
    wide = _pack._is_wide(dtype)
    max_length = _pack._optional_positive("max_length", max_length)
    truncate_left = _pack._is_left("truncation_side", truncation_side)
    cupy, core = _require()
    flat, offs = _ragged_on_device(cupy, flat_ids, offsets)

    def host_call(seqs):
        return _pack.pack_varlen(
            seqs, max_length=max_length or None, truncation_side=truncation_side, dtype=dtype
        )

    with flat.device:
        ids, kept_begin, kept_length, longest, total = _scan(
            cupy, core, flat, offs, max_length, truncate_left, wide, host_call
        )
        if total > _INT32_MAX:
            raise ValueError(
                "varlen batch holds more than 2**31-1 tokens, beyond the range of int32 cu_seqlens"
            )
        n_seqs = kept_begin.size
        cu_seqlens = cupy.zeros(n_seqs + 1, dtype=cupy.int32)
        cu_seqlens[1:] = cupy.cumsum(kept_length)  # total < 2**31, so int32 holds every entry
        out_dtype = cupy.int64 if wide else cupy.int32
        input_ids = cupy.empty(total, dtype=out_dtype)
        position_ids = cupy.empty(total, dtype=out_dtype)
        core.varlen(
            ids.data.ptr, bool(ids.dtype == cupy.int64), kept_begin.data.ptr, cu_seqlens.data.ptr,
            n_seqs, total, wide, input_ids.data.ptr, position_ids.data.ptr,
            cupy.cuda.get_current_stream().ptr,
        )
    return {
        "input_ids": input_ids,
        "cu_seqlens": cu_seqlens,
        "position_ids": position_ids,
        "max_seqlen": longest,
    }
