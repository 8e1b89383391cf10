"""BERT (BertNormalizer + BertPreTokenizer + WordPiece) speed: fastprep's fused native encoder
against HF tokenizers and blingfire, on bert_minilm_uncased.json (bert-base-uncased's vocabulary).

Workloads as in bench_bpe.py: cold 2 KB documents never encoded before (fresh str objects per
round, so CPython's cached UTF-8 cannot flatter anyone) per corpus file, and ~60-character
calls. Every figure is end to end from Python, single thread, without truncation or padding and
without special tokens. Correctness is recorded beside each timing: each implementation's ids are
compared with HF tokenizers' for the same text (fastprep must match; blingfire's mismatches are
recorded, not fatal). ``fastprep`` returns ids only (the serving path); ``fastprep+offsets``
also builds HF's character offsets.
"""
from __future__ import annotations

import functools
import json
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import fastprep  # noqa: F401
    from fastprep import _backend, bench
    from fastprep._fallback.hf import HfPipeline

BERT_JSON = Path(__file__).resolve().parent.parent / "tests" / "data" / "vocab" / "bert_minilm_uncased.json"
CORPORA = bench.CORPUS_NAMES
IMPL_NAMES = ("fastprep", "fastprep+offsets", "hf-tokenizers", "blingfire", "flash-tokenizer")


@dataclass
class Impl:
    name: str
    version: str
    encode: Callable[[str], list]
    note: str = ""


@functools.lru_cache(maxsize=None)
def _bert_obj() -> dict:
    if not BERT_JSON.exists():
        pytest.skip(f"{BERT_JSON} not present")
    obj = json.loads(BERT_JSON.read_text(encoding="utf-8"))
    obj["truncation"] = None
    obj["padding"] = None
    return obj


@functools.lru_cache(maxsize=None)
def _hf():
    try:
        import tokenizers
    except ImportError:
        return None
    return tokenizers.Tokenizer.from_str(json.dumps(_bert_obj())), tokenizers.__version__


@functools.lru_cache(maxsize=None)
def _native():
    core = _backend._native
    if core is None or not hasattr(core, "BertEncoder"):
        return None
    obj = _bert_obj()
    ref = HfPipeline.from_json(obj)
    vocab = [None] * len(obj["model"]["vocab"])
    for token, i in obj["model"]["vocab"].items():
        vocab[i] = token
    norm = obj["normalizer"]
    added = [(t.content, i, t.lstrip, t.rstrip, t.single_word, t.normalized, t.special)
             for i, t in ref.added.map_r.items()]
    return core.BertEncoder(vocab, obj["model"]["unk_token"], obj["model"]["continuing_subword_prefix"],
                            obj["model"]["max_input_chars_per_word"], norm["clean_text"],
                            norm["handle_chinese_chars"], norm["strip_accents"], norm["lowercase"], added)


@functools.lru_cache(maxsize=None)
def get_impl(name: str) -> Optional[Impl]:
    version = getattr(fastprep, "__version__", "dev")
    if name in ("fastprep", "fastprep+offsets"):
        enc = _native()
        if enc is None:
            return None
        if name == "fastprep":
            return Impl(name, version, enc.encode_ids, "BertEncoder.encode_ids")
        return Impl(name, version, lambda t: enc.encode(t)[0], "BertEncoder.encode (ids + offsets)")
    if name == "hf-tokenizers":
        hf = _hf()
        if hf is None:
            return None
        tok, ver = hf
        return Impl(name, ver, lambda t: tok.encode(t, add_special_tokens=False).ids,
                    "Tokenizer.encode(add_special_tokens=False).ids")
    if name == "blingfire":
        try:
            import blingfire
        except ImportError:
            return None
        model = Path(blingfire.__file__).with_name("bert_base_tok.bin")
        if not model.exists():
            return None
        h = blingfire.load_model(str(model))
        unk = 100

        def encode(text: str):
            # Output buffer: at most one token per byte.
            return blingfire.text_to_ids(h, text, len(text.encode("utf-8")) + 8, unk, True)

        try:
            from importlib.metadata import version as dist_version
            ver = dist_version("blingfire")
        except Exception:  # noqa: BLE001
            ver = "?"
        return Impl(name, ver, encode, "text_to_ids(bert_base_tok.bin, no_padding=True)")
    if name == "flash-tokenizer":
        from fastprep import bench

        try:
            got = bench._flash_tokenizer_impl(BERT_JSON, BERT_JSON.stem)
        except bench.Unavailable:
            return None
        return Impl(name, got.version, got.encode, got.note)
    raise ValueError(name)


@pytest.fixture(params=IMPL_NAMES)
def impl(request) -> Impl:
    got = get_impl(request.param)
    if got is None:
        pytest.skip(f"{request.param} unavailable")
    return got


@functools.lru_cache(maxsize=None)
def pools() -> bench.Pools:
    texts, _source = bench.load_corpus()
    return bench.make_pools(texts)


_REFERENCE: dict[str, list] = {}


def reference_ids(text: str) -> Optional[list]:
    hf = _hf()
    if hf is None:
        return None
    got = _REFERENCE.get(text)
    if got is None:
        got = _REFERENCE[text] = hf[0].encode(text, add_special_tokens=False).ids
    return got


def _rounds(items: list, per_round: int, max_rounds: int) -> list[list]:
    n = min(max_rounds, len(items) // per_round)
    assert n >= 1, f"not enough distinct inputs: {len(items)} items, {per_round} per round"
    return [items[r * per_round:(r + 1) * per_round] for r in range(n)]


def _measure(benchmark, impl: Impl, group: str, inputs: list[list[str]], *, calls_per_round=None):
    benchmark.group = group
    feed = iter(inputs)
    outputs = []
    encode = impl.encode

    def target(texts):
        outputs.append([encode(t) for t in texts])

    benchmark.pedantic(target, setup=lambda: ((bench.fresh_copy(next(feed)),), {}),
                       rounds=len(inputs), iterations=1)

    checked = mismatched = 0
    first_bad = None
    for texts, out in zip(inputs, outputs):
        for text, ids in zip(texts, out):
            want = reference_ids(text)
            if want is None:
                continue
            checked += 1
            if [int(i) for i in ids] != want:
                mismatched += 1
                first_bad = first_bad or text[:80]
    sizes = [sum(len(t.encode("utf-8")) for t in texts) for texts in inputs[: len(outputs)]]
    info = benchmark.extra_info
    info.update(implementation=impl.name, version=impl.version, how=impl.note,
                correct=None if not checked else mismatched == 0, reference="hf-tokenizers",
                mismatched=f"{mismatched}/{checked} texts", bytes_per_round=statistics.median(sizes))
    if first_bad is not None:
        info["first_mismatch"] = first_bad
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None:
        info["median_MB_per_s"] = round(info["bytes_per_round"] / stats.median / 1e6, 2)
        if calls_per_round:
            info["median_us_per_call"] = round(stats.median / calls_per_round * 1e6, 3)
    if impl.name.startswith("fastprep"):
        assert checked, "HF tokenizers is needed to check fastprep's ids"
        assert mismatched == 0, f"fastprep differs from HF on {mismatched}/{checked} texts, first: {first_bad!r}"


@pytest.mark.parametrize("corpus", CORPORA)
def test_bert_cold_2kb_documents(benchmark, impl, corpus, small):
    docs = pools().cold[corpus]
    inputs = _rounds(docs, 2, 1) if small else _rounds(docs, 8, 40)
    _measure(benchmark, impl, f"bert cold-2KB {corpus}", inputs)


def test_bert_short_calls(benchmark, impl, small):
    per_round = 20 if small else 500
    inputs = _rounds(pools().short, per_round, 1 if small else 10)
    _measure(benchmark, impl, "bert short-60chars", inputs, calls_per_round=per_round)
