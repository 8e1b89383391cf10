"""Packing on the GPU (fastprep.cuda) against packing on the CPU and copying the result over.

Groups are function x batch size (lengths 64..1024). Implementations, all ending with the arrays
on the GPU and the stream synchronized:

- ``cuda``: ids and offsets already on the device, fastprep.cuda.pack_padded / pack_varlen;
- ``h2d+cuda``: copy the ragged pair (flat ids + offsets) to the device, then pack there;
- ``cpu+h2d``: fastprep.pack_padded / pack_varlen on the CPU, then copy every output array over.

Each benchmark records in ``extra_info`` whether its arrays equal the CPU result (``correct``).
Skips without CuPy, fastprep._cuda or a GPU (fastprep.cuda.why_unavailable() says which). GPU
WordPiece is not implemented, so there is no tokenization group yet.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fastprep.cuda as fcuda
from fastprep.pack import pack_padded, pack_varlen

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not fcuda.is_available(), reason=f"fastprep.cuda: {fcuda.why_unavailable()}"
    ),
]

BATCHES = [1, 64, 1024]
LO, HI = 64, 1024
PAD = 0


@functools.lru_cache(maxsize=None)
def ragged(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(batch)
    lengths = rng.integers(LO, HI + 1, size=batch)
    flat = rng.integers(0, 200_000, size=int(lengths.sum()), dtype=np.int32)
    return flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def _equal(device: dict, host: dict) -> bool:
    import cupy

    return all(
        np.array_equal(cupy.asnumpy(device[k]), v) if isinstance(v, np.ndarray) else device[k] == v
        for k, v in host.items()
    )


FUNCTIONS = {
    "pack_padded": (fcuda.pack_padded, pack_padded, {"pad_id": PAD, "side": "left"}),
    "pack_varlen": (fcuda.pack_varlen, pack_varlen, {}),
}


@pytest.mark.parametrize("impl", ["cuda", "h2d+cuda", "cpu+h2d"])
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_pack_on_device(benchmark, function, batch, impl):
    import cupy

    device_fn, host_fn, opts = FUNCTIONS[function]
    flat, offsets = ragged(batch)
    flat_d, offsets_d = cupy.asarray(flat), cupy.asarray(offsets)
    sync = cupy.cuda.get_current_stream().synchronize

    def run():
        if impl == "cuda":
            out = device_fn(flat_d, offsets_d, **opts)
        elif impl == "h2d+cuda":
            out = device_fn(cupy.asarray(flat), cupy.asarray(offsets), **opts)
        else:
            host = host_fn((flat, offsets), **opts)
            out = {k: cupy.asarray(v) if isinstance(v, np.ndarray) else v for k, v in host.items()}
        sync()
        return out

    benchmark.group = f"{function} batch={batch} len={LO}..{HI}"
    result = benchmark(run)
    benchmark.extra_info["correct"] = _equal(result, host_fn((flat, offsets), **opts))
    assert benchmark.extra_info["correct"]
