"""Packing on the GPU (fastprep.cuda) against packing on the CPU and copying the result over.

Groups are function x batch size (lengths 64..1024). Implementations, all ending with the arrays
on the GPU and the stream synchronized:

- ``cuda``: ids and offsets already on the device, fastprep.cuda.pack_padded / pack_varlen;
- ``h2d+cuda``: copy the ragged pair (flat ids + offsets) to the device, then pack there;
- ``cpu+h2d``: fastprep.pack_padded / pack_varlen on the CPU, then copy every output array over.

WordPiece groups are batch sizes 1, 64, 1024 of ~1 KB texts from tests/data/corpus/en_prose.txt,
with the BERT tokenizer.json in tests/data/vocab (its truncation and [CLS]/[SEP], padding off),
ending with the ragged ids and offsets on the GPU:

- ``cuda``: fastprep.cuda.wordpiece_encode_batch on a list of str (UTF-8 copied over);
- ``cuda-resident``: the same on (bytes, offsets) already on the device;
- ``cpu+h2d``: fastprep's CPU Tokenizer.encode_batch (all cores), flattened and copied over.

Each benchmark records in ``extra_info`` whether its arrays equal the CPU result (``correct``).
Skips without CuPy, fastprep._cuda or a GPU (fastprep.cuda.why_unavailable() says which).
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest

import fastprep
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


# -- WordPiece ----------------------------------------------------------------------------------

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
TEXT_CHARS = 1000


@functools.lru_cache(maxsize=None)
def bert_tokenizer() -> fastprep.Tokenizer:
    obj = json.loads((DATA / "vocab" / "bert_minilm_uncased.json").read_text(encoding="utf-8"))
    obj["padding"] = None  # ragged rows: the device result is (ids, offsets)
    return fastprep.Tokenizer.from_str(json.dumps(obj))


@functools.lru_cache(maxsize=None)
def prose_texts(batch: int) -> list[str]:
    text = (DATA / "corpus" / "en_prose.txt").read_text(encoding="utf-8")
    chunks = [text[i:i + TEXT_CHARS] for i in range(0, len(text) - TEXT_CHARS, TEXT_CHARS)]
    return [chunks[i % len(chunks)] for i in range(batch)]


def _flatten(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    flat = np.fromiter((i for r in rows for i in r), dtype=np.int32, count=int(offsets[-1]))
    return flat, offsets


@pytest.mark.parametrize("impl", ["cuda", "cuda-resident", "cpu+h2d"])
@pytest.mark.parametrize("batch", BATCHES)
def test_wordpiece_on_device(benchmark, batch, impl):
    import cupy

    tok = bert_tokenizer()
    texts = prose_texts(batch)
    encoded = [t.encode() for t in texts]
    data = cupy.asarray(np.frombuffer(b"".join(encoded), dtype=np.uint8))
    starts = cupy.asarray(np.concatenate([[0], np.cumsum([len(b) for b in encoded])]))
    sync = cupy.cuda.get_current_stream().synchronize
    fcuda.wordpiece_encode_batch(tok, texts[:1])  # device tables built outside the timing

    def run():
        if impl == "cuda":
            out = fcuda.wordpiece_encode_batch(tok, texts)
            out = (out["input_ids"], out["offsets"])
        elif impl == "cuda-resident":
            out = fcuda.wordpiece_encode_batch(tok, (data, starts))
            out = (out["input_ids"], out["offsets"])
        else:
            flat, offsets = _flatten(tok.encode_batch(texts))
            out = (cupy.asarray(flat), cupy.asarray(offsets))
        sync()
        return out

    benchmark.group = f"wordpiece batch={batch} text={TEXT_CHARS} chars"
    ids, offsets = benchmark(run)
    want_ids, want_offsets = _flatten(tok.encode_batch(texts))
    benchmark.extra_info["correct"] = bool(
        np.array_equal(cupy.asnumpy(ids), want_ids)
        and np.array_equal(cupy.asnumpy(offsets), want_offsets)
    )
    assert benchmark.extra_info["correct"]
