"""A NumPy stand-in for CuPy and fastprep._cuda, so fastprep.cuda's host-side logic (dtype
handling, the one synchronization, error reproduction, output allocation) runs without a GPU.

The stand-in kernels follow the launch contract of cuda/pack_launch.h, written independently in
NumPy; the real per-element logic is checked by test_cuda_logic.py, the real kernels by the
gpu-marked tests. "Device pointers" here are host addresses of NumPy buffers.
"""
from __future__ import annotations

import ctypes
from types import SimpleNamespace

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
    int32=np.int32, int64=np.int64, uint64=np.uint64,
    asarray=lambda a, dtype=None: _dev(np.asarray(a, dtype=dtype)),
    ascontiguousarray=lambda a: _dev(np.ascontiguousarray(a)),
    empty=lambda shape, dtype: _dev(np.empty(shape, dtype)),
    zeros=lambda shape, dtype: _dev(np.zeros(shape, dtype)),
    cumsum=lambda a: _dev(np.cumsum(np.asarray(a))),
    asnumpy=lambda a: np.array(np.asarray(a)),
    cuda=SimpleNamespace(get_current_stream=lambda: SimpleNamespace(ptr=0)),
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
