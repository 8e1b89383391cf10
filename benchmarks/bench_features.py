"""Text to padded model inputs: fastprep's one-call path (``tok(texts, ...)``) against HF
tokenizers' ``enable_padding`` + ``enable_truncation`` + ``encode_batch`` and conversion to NumPy,
on 512 chat-sized texts (200-2,000 characters) never seen before by either instance.

Implementations for the HF files:

- ``fastprep``: ``tok(texts, truncation=True, max_length=512, padding=True)``; on the native backend
  one call tokenizes, adds the specials with HF truncation and pads (``encode_batch_packed``);
- ``fastprep-general-path``: the same call forced onto the path that pairs and texts needing the
  reference take (ids as Python lists from the engine, then ``pack_padded``): what the one-call
  path saves;
- ``hf-tokenizers``: HF's padded ``encode_batch`` and conversion to NumPy.

Each benchmark records in ``extra_info`` whether fastprep's arrays equal HF's for the same texts.
"""
from __future__ import annotations

import functools
import random
from pathlib import Path

import numpy as np
import pytest

import _peers
from _peers import bench

tokenizers = pytest.importorskip("tokenizers")

VOCAB = Path(__file__).resolve().parent.parent / "tests" / "data" / "vocab"
BATCH = 512
MAX_LENGTH = 512


@functools.lru_cache(maxsize=None)
def chat_texts() -> list[str]:
    """Distinct 200-2,000-character texts cut from every corpus file, shuffled reproducibly."""
    texts, _ = bench.load_corpus()
    rng = random.Random(0)
    out = []
    for text in texts.values():
        pos = 0
        while pos < len(text) - 2000:
            n = rng.randint(200, 2000)
            out.append(text[pos:pos + n])
            pos += n
    rng.shuffle(out)
    return out


def _rounds(small: bool) -> list[list[str]]:
    batch = 16 if small else BATCH
    texts = chat_texts()
    n_rounds = 1 if small else min(5, len(texts) // batch)
    return [texts[r * batch:(r + 1) * batch] for r in range(n_rounds)]


def _warm_up_texts(small: bool) -> list[str]:
    """Texts no timed round uses: one untimed call on them first, so that no implementation is
    charged for first-touch costs (page faults on freshly loaded vocabularies, pool start-up)."""
    batch = 16 if small else BATCH
    texts = chat_texts()
    used = len(_rounds(small)) * batch
    return texts[used:used + batch] or texts[-batch:]


def _hf_arrays(tok, texts):
    encs = tok.encode_batch(texts)
    return {"input_ids": np.array([e.ids for e in encs], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encs], dtype=np.int64)}


FILES = ["bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3"]


@pytest.fixture
def general_path(request, monkeypatch):
    """For ``fastprep-general-path``: no batch takes the one-call native path."""
    if request.node.callspec.params.get("impl") == "fastprep-general-path":
        import fastprep.features

        monkeypatch.setattr(fastprep.features, "_packs_natively", lambda engine, trunc_mode: False)


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("impl", ["fastprep", "fastprep-general-path", "hf-tokenizers"])
def test_text_to_padded_arrays(benchmark, small, general_path, name, impl):
    path = VOCAB / f"{name}.json"
    if impl.startswith("fastprep"):
        import fastprep

        tok = fastprep.Tokenizer.from_file(path)

        def call(texts):
            return tok(texts, truncation=True, max_length=MAX_LENGTH, padding=True)
    else:
        tok = tokenizers.Tokenizer.from_file(str(path))
        tok.enable_truncation(MAX_LENGTH)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")

        def call(texts):
            return _hf_arrays(tok, texts)

    inputs = _rounds(small)
    feed = iter(inputs)
    outputs = []
    call(bench.fresh_copy(_warm_up_texts(small)))
    benchmark.group = f"text->padded arrays {name} ({len(inputs[0])} chat-sized texts)"
    benchmark.pedantic(lambda texts: outputs.append(call(texts)),
                       setup=lambda: ((bench.fresh_copy(next(feed)),), {}),
                       rounds=len(inputs), iterations=1)
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.enable_truncation(MAX_LENGTH)
    ref.enable_padding(pad_id=0, pad_token="[PAD]")
    correct = all(
        np.array_equal(out["input_ids"], want["input_ids"])
        and np.array_equal(out["attention_mask"], want["attention_mask"])
        for out, want in zip(outputs, (_hf_arrays(ref, t) for t in inputs)))
    benchmark.extra_info.update(correct=correct, texts=len(inputs[0]), backend=(
        __import__("fastprep").backend() if impl.startswith("fastprep") else "hf"))
    if impl.startswith("fastprep"):
        assert correct


@pytest.mark.parametrize("impl", ["fastprep", "hf-tokenizers"])
def test_text_to_padded_arrays_cl100k(benchmark, small, impl):
    """The same for cl100k_base: fastprep's single native tokenize+pack call against HF
    tokenizers running the same BPE (built from the same ranks) + padding + NumPy."""
    if impl == "fastprep":
        import fastprep

        enc = fastprep.get_encoding("cl100k_base")

        def call(texts):
            return enc(texts, padding=True, truncation=True, max_length=MAX_LENGTH)
    else:
        adapter = _peers.get("hf-tokenizers", "cl100k_base")

        def call(texts):
            rows = [ids[:MAX_LENGTH] for ids in adapter.encode_batch(texts, 2)]
            width = max(len(r) for r in rows)
            return {"input_ids": np.array([r + [0] * (width - len(r)) for r in rows]),
                    "attention_mask": np.array([[1] * len(r) + [0] * (width - len(r))
                                                for r in rows])}

    inputs = _rounds(small)
    feed = iter(inputs)
    outputs = []
    benchmark.group = f"text->padded arrays cl100k_base ({len(inputs[0])} chat-sized texts)"
    benchmark.pedantic(lambda texts: outputs.append(call(texts)),
                       setup=lambda: ((bench.fresh_copy(next(feed)),), {}),
                       rounds=len(inputs), iterations=1)
    ref = bench.reference_encoding("cl100k_base")
    correct = True
    for out, texts in zip(outputs, inputs):
        for row, mask, text in zip(out["input_ids"], out["attention_mask"], texts):
            want = ref.encode_ordinary(text)[:MAX_LENGTH]
            correct &= row[mask.astype(bool)].tolist() == want
    benchmark.extra_info.update(correct=bool(correct), texts=len(inputs[0]))
    if impl == "fastprep":
        assert correct
