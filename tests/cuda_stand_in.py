"""A NumPy stand-in for CuPy and fastprep._cuda, so fastprep.cuda's host-side logic (dtype
handling, the one synchronization, error reproduction, output allocation) runs without a GPU.

The packing stand-in kernels follow the launch contract of cuda/pack_launch.h, written
independently in NumPy; the real per-element logic is checked by test_cuda_logic.py, the real
kernels by the gpu-marked tests. The WordPiece "kernels" are the real per-element logic and table
builder, compiled for the host (cuda/tests/wordpiece_host_kernels.cpp) and loaded with
:func:`load_wordpiece_kernels`. "Device pointers" here are host addresses of NumPy buffers.
"""
from __future__ import annotations

import ctypes
from types import SimpleNamespace
from typing import Optional

import numpy as np


class _Device:
    id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __repr__(self):
        return "<StandIn Device 0>"


_DEVICE = _Device()


class DeviceArray(np.ndarray):
    """An ndarray that quacks like a cupy.ndarray where fastprep.cuda looks."""

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str,
                "data": (self.ctypes.data, False), "version": 3}

    @property
    def data(self):
        return SimpleNamespace(ptr=self.ctypes.data)

    @property
    def device(self):
        return _DEVICE

    def get(self):
        return np.array(self.view(np.ndarray))


def _dev(a) -> DeviceArray:
    return np.asarray(a).view(DeviceArray)


cupy = SimpleNamespace(
    ndarray=DeviceArray,
    uint8=np.uint8, int32=np.int32, int64=np.int64, uint64=np.uint64,
    asarray=lambda a, dtype=None: _dev(np.array(a, dtype=dtype)),  # a copy, as a transfer is
    ascontiguousarray=lambda a: _dev(np.ascontiguousarray(a)),
    empty=lambda shape, dtype: _dev(np.empty(shape, dtype)),
    zeros=lambda shape, dtype: _dev(np.zeros(shape, dtype)),
    cumsum=lambda a, dtype=None: _dev(np.cumsum(np.asarray(a), dtype=dtype)),
    asnumpy=lambda a: np.array(np.asarray(a)),
    cuda=SimpleNamespace(get_current_stream=lambda: SimpleNamespace(ptr=0),
                         Device=lambda: _DEVICE),
)


def _buffer(ptr: int, dtype, n: int) -> np.ndarray:
    dtype = np.dtype(dtype)
    if n == 0:
        return np.empty(0, dtype)
    return np.frombuffer((ctypes.c_byte * (n * dtype.itemsize)).from_address(ptr), dtype=dtype)


def _ids_dtype(wide: bool):
    return np.int64 if wide else np.int32


class Kernels:
    """fastprep._cuda's functions, per cuda/pack_launch.h, on host memory."""

    @staticmethod
    def device_count():
        return 1, ""

    @staticmethod
    def runtime_version():
        return 0

    @staticmethod
    def scan(flat_ids, flat_wide, flat_length, offsets, n_seqs, max_length, truncate_left,
             largest_id, kept_begin, kept_length, stats, stream):
        flat = _buffer(flat_ids, _ids_dtype(flat_wide), flat_length).astype(np.int64)
        offs = _buffer(offsets, np.int64, n_seqs + 1)
        bits = 0
        if (offs[0] != 0 or offs[-1] != flat_length or np.any(np.diff(offs) < 0)
                or np.any(offs > flat_length)):
            bits |= 1
        if np.any((flat < 0) | (flat > largest_id)):
            bits |= 2
        begin, length = offs[:-1].copy(), np.clip(np.diff(offs), 0, None)
        if bits & 1:
            begin[:], length[:] = 0, 0
        if max_length > 0:
            cut = length > max_length
            if truncate_left:
                begin[cut] += length[cut] - max_length
            length[cut] = max_length
        _buffer(kept_begin, np.int64, n_seqs)[:] = begin
        _buffer(kept_length, np.int64, n_seqs)[:] = length
        out = _buffer(stats, np.uint64, 3)
        out[0] |= bits
        out[1] = max(int(out[1]), int(length.max(initial=0)))
        out[2] += int(length.sum())

    @staticmethod
    def padded(flat_ids, flat_wide, kept_begin, kept_length, n_seqs, width, pad_id, pad_left,
               out_wide, input_ids, attention_mask, position_ids, stream):
        begin = _buffer(kept_begin, np.int64, n_seqs)
        length = _buffer(kept_length, np.int64, n_seqs)
        flat = _buffer(flat_ids, _ids_dtype(flat_wide), int((begin + length).max(initial=0)))
        shape, dt = (n_seqs, width), _ids_dtype(out_wide)
        ids = _buffer(input_ids, dt, n_seqs * width).reshape(shape)
        mask = _buffer(attention_mask, dt, n_seqs * width).reshape(shape)
        pos = _buffer(position_ids, dt, n_seqs * width).reshape(shape)
        ids[:], mask[:], pos[:] = pad_id, 0, 0
        for i in range(n_seqs):
            n = int(length[i])
            cols = slice(width - n, width) if pad_left else slice(0, n)
            ids[i, cols] = flat[begin[i] : begin[i] + n]
            mask[i, cols] = 1
            pos[i, cols] = np.arange(n)

    @staticmethod
    def varlen(flat_ids, flat_wide, kept_begin, cu_seqlens, n_seqs, total, out_wide, input_ids,
               position_ids, stream):
        begin = _buffer(kept_begin, np.int64, n_seqs)
        cu = _buffer(cu_seqlens, np.int32, n_seqs + 1)
        lengths = np.diff(cu)
        flat = _buffer(flat_ids, _ids_dtype(flat_wide), int((begin + lengths).max(initial=0)))
        dt = _ids_dtype(out_wide)
        ids, pos = _buffer(input_ids, dt, total), _buffer(position_ids, dt, total)
        for i in range(n_seqs):
            ids[cu[i] : cu[i + 1]] = flat[begin[i] : begin[i] + lengths[i]]
            pos[cu[i] : cu[i + 1]] = np.arange(lengths[i])

    # -- WordPiece: the real per-element logic, compiled for the host --------------------------

    @staticmethod
    def wordpiece_tables(spec: bytes) -> bytes:
        lib = _wordpiece_library()
        size = lib.wp_build_tables(spec, len(spec))
        if size < 0:
            raise ValueError("fastprep._cuda: " + lib.wp_error().decode())
        out = ctypes.create_string_buffer(size)
        lib.wp_copy_tables(out)
        return out.raw

    @staticmethod
    def wordpiece_segments(*args):
        _check(_wordpiece_library().wp_segments(*args[:-1]))  # the stream is not passed on

    @staticmethod
    def wordpiece_count(*args):
        _check(_wordpiece_library().wp_count(*args[:-1]))

    @staticmethod
    def wordpiece_plan(*args):
        _check(_wordpiece_library().wp_plan(*args[:-1]))

    @staticmethod
    def wordpiece_write(*args):
        _check(_wordpiece_library().wp_write(*args[:-1]))


_library: Optional[ctypes.CDLL] = None


def load_wordpiece_kernels(path) -> None:
    """Loads the host build of cuda/tests/wordpiece_host_kernels.cpp (a shared library)."""
    global _library
    lib = ctypes.CDLL(str(path))
    p, i64, i32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    lib.wp_build_tables.argtypes, lib.wp_build_tables.restype = [ctypes.c_char_p, i64], i64
    lib.wp_copy_tables.argtypes, lib.wp_copy_tables.restype = [ctypes.c_char_p], None
    lib.wp_error.argtypes, lib.wp_error.restype = [], ctypes.c_char_p
    lib.wp_segments.argtypes = [p, p, p, i64, p, i64, p, p]
    lib.wp_count.argtypes = [p, p, p, i64, p, p, p, p]
    lib.wp_plan.argtypes = [p, i64, p, i64, i32, i64, p, p, p, p]
    lib.wp_write.argtypes = [p, p, p, i64, p, p, p, p, p, i64, p, p, p, p, i64, i64, p]
    for fn in (lib.wp_segments, lib.wp_count, lib.wp_plan, lib.wp_write):
        fn.restype = i32
    _library = lib


def _wordpiece_library() -> ctypes.CDLL:
    if _library is None:
        raise RuntimeError("cuda_stand_in: call load_wordpiece_kernels() first")
    return _library


def _check(error: int) -> None:
    if error != 0:
        raise RuntimeError(f"stand-in WordPiece kernel failed ({error})")
