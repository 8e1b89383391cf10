"""Streaming detokenization speed: one token at a time, as a serving engine emits them.

Groups (per encoding / tokenizer):

- ``single``: one sequence of the corpus ids, step by step. Implementations: fastprep
  ``DecodeStream``; HF ``tokenizers.decoders.DecodeStream`` (tokenizer.json files, when
  installed); ``redecode_prefix``: what people write by hand -- decode the whole prefix every
  step and return the new suffix (only the first ``PREFIX_TOKENS`` tokens: it is quadratic).
- ``batch-B``: fastprep ``DecodeStreams.step`` at batch 1/32/256, one call per engine step;
  ``extra_info["us_per_token_seq"]`` is the mean time per token per sequence.

Every benchmark records ``correct``: the concatenated output (plus flush) equals
``tokenizer.decode(ids)`` (for HF's stream: equals HF's decode of the ids it emitted text for).
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fastprep
from fastprep.stream import DecodeStream, DecodeStreams

from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
HF_FILES = ["claude_v1_bpe", "bert_minilm_uncased"]
PREFIX_TOKENS = 1500
BATCHES = [1, 32, 256]


@functools.lru_cache(maxsize=None)
def tokenizer(name: str) -> fastprep.Tokenizer:
    if name in HF_FILES:
        return fastprep.Tokenizer.from_file(DATA / "vocab" / f"{name}.json")
    return fastprep.get_encoding(name)


@functools.lru_cache(maxsize=None)
def corpus_ids(name: str, small: bool) -> list[int]:
    text = (DATA / "corpus" / "en_prose.txt").read_text(encoding="utf-8")[:3000 if small else 60000]
    text += (DATA / "corpus" / "ja_prose.txt").read_text(encoding="utf-8")[:1000 if small else 20000]
    return tokenizer(name).encode(text)


def _run_stream(stream, ids) -> str:
    step = stream.step
    parts = [step(i) for i in ids]
    return "".join(p for p in parts if p) + stream.flush()


def _redecode_prefix(tok, ids) -> str:
    out, emitted = [], 0
    for k in range(1, len(ids) + 1):
        text = tok.decode(ids[:k])
        if not text.endswith("\ufffd"):
            out.append(text[emitted:])
            emitted = len(text)
    final = tok.decode(ids)
    out.append(final[emitted:])
    return "".join(out)


NAMES = ["cl100k_base", "o200k_base"] + HF_FILES


@pytest.mark.parametrize("name", NAMES)
def test_single_fastprep(benchmark, name, small):
    tok, ids = tokenizer(name), corpus_ids(name, small)
    stream = DecodeStream(tok)
    benchmark.group = f"stream-single-{name}"
    text = benchmark(_run_stream, stream, ids)
    benchmark.extra_info["correct"] = text == tok.decode(ids)
    benchmark.extra_info["native"] = stream.is_native
    assert benchmark.extra_info["correct"]


@pytest.mark.parametrize("name", HF_FILES)
def test_single_hf(benchmark, name, small):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.decoders import DecodeStream as HfDecodeStream

    hf = tokenizers.Tokenizer.from_file(str(DATA / "vocab" / f"{name}.json"))
    ids = corpus_ids(name, small)

    def run():
        stream = HfDecodeStream(skip_special_tokens=True)
        return "".join(p for p in (stream.step(hf, i) for i in ids) if p)

    benchmark.group = f"stream-single-{name}"
    text = benchmark(run)
    # HF's stream never flushes: it may end short of the full decode, never differ before that.
    benchmark.extra_info["correct"] = hf.decode(ids).startswith(text)
    assert benchmark.extra_info["correct"]


@pytest.mark.parametrize("name", NAMES)
def test_single_redecode_prefix(benchmark, name, small):
    tok = tokenizer(name)
    ids = corpus_ids(name, small)[:200 if small else PREFIX_TOKENS]
    benchmark.group = f"stream-single-{name}"
    text = benchmark(_redecode_prefix, tok, ids)
    benchmark.extra_info["correct"] = text == tok.decode(ids)
    benchmark.extra_info["tokens"] = len(ids)


@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("name", ["cl100k_base", "o200k_base", "claude_v1_bpe"])
def test_batch(benchmark, name, batch, small):
    tok = tokenizer(name)
    ids = np.asarray(corpus_ids(name, small), dtype=np.int64)
    n_steps = 64 if small else 512
    rng = np.random.default_rng(batch)
    starts = rng.integers(0, len(ids) - n_steps, batch)
    steps = np.stack([ids[s:s + n_steps] for s in starts], axis=1)  # [steps, batch]
    streams = DecodeStreams(tok, batch)

    def run():
        streams.reset()
        step = streams.step
        return [step(row) for row in steps]

    benchmark.group = f"stream-batch-{name}"
    outputs = benchmark(run)
    texts = ["".join(out[j] or "" for out in outputs) + streams.flush(j) for j in range(batch)]
    benchmark.extra_info["correct"] = all(
        texts[j] == tok.decode(steps[:, j].tolist()) for j in range(batch))
    benchmark.extra_info["native"] = streams.is_native
    if benchmark.stats is not None and getattr(benchmark.stats, "stats", None) is not None:
        benchmark.extra_info["us_per_token_seq"] = benchmark.stats.stats.mean / (n_steps * batch) * 1e6
    assert benchmark.extra_info["correct"]
