"""HF tokenizer.json byte-level BPE speed: fastprep's native path against HF tokenizers and
fastokens (if installed), plus fastprep's own tiktoken path (cl100k_base) on the same text.

Groups are tokenizer file x corpus file; each round encodes 2 KB documents that no implementation
has encoded before in this process (disjoint slices per round, fresh str objects), one call per
document, single thread. ``extra_info`` records whether every document's ids equal HF tokenizers'
(``add_special_tokens=False``); fastprep must be exact. ``--benchmark-disable`` runs each body once
on a couple of documents.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest

from fastprep import bench

tokenizers = pytest.importorskip("tokenizers")

VOCAB = Path(__file__).resolve().parent.parent / "tests" / "data" / "vocab"
FILES = ("deepseek_v3", "claude_v1_bpe")
IMPLS = ("fastprep", "hf_tokenizers", "fastokens", "fastprep_tiktoken_cl100k")
DOCS_PER_ROUND = 40
ROUNDS = 5


@functools.lru_cache(maxsize=None)
def documents() -> dict:
    texts, _source = bench.load_corpus()
    return {name: bench.split_documents(texts[name]) for name in bench.CORPUS_NAMES}


@functools.lru_cache(maxsize=None)
def hf(file: str):
    return tokenizers.Tokenizer.from_file(str(VOCAB / f"{file}.json"))


@functools.lru_cache(maxsize=None)
def make_encoder(impl: str, file: str):
    """(encode(text) -> ids, version) or a skip."""
    if impl == "fastprep":
        from fastprep._hf_native import NativeHfBpe, unsupported_reason
        obj = json.loads((VOCAB / f"{file}.json").read_text(encoding="utf-8"))
        why = unsupported_reason(obj)
        if why:
            pytest.skip(f"native path unavailable: {why}")
        return NativeHfBpe(obj).encode_ids, bench._version("fastprep")
    if impl == "hf_tokenizers":
        tok = hf(file)
        return (lambda t: tok.encode(t, add_special_tokens=False).ids), tokenizers.__version__
    if impl == "fastokens":
        fastokens = pytest.importorskip("fastokens")
        try:
            tok = fastokens.Tokenizer.from_file(str(VOCAB / f"{file}.json"))
        except BaseException as exc:  # noqa: B036 - a Rust panic is a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            pytest.skip(f"fastokens cannot load {file}.json: {str(exc)[:120]}")
        return (lambda t: tok.encode(t, add_special_tokens=False).ids), bench._version("fastokens")
    if impl == "fastprep_tiktoken_cl100k":
        import fastprep
        enc = fastprep.get_encoding("cl100k_base")
        return enc.encode_ordinary, bench._version("fastprep")
    raise ValueError(impl)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("corpus", bench.CORPUS_NAMES)
@pytest.mark.parametrize("file", FILES)
def test_hf_bpe_cold_2kb(benchmark, small, file, corpus, impl):
    encode, version = make_encoder(impl, file)
    docs = documents()[corpus]
    per_round, rounds = (2, 1) if small else (DOCS_PER_ROUND, ROUNDS)
    # Each implementation gets its own disjoint slices so that no result cache sees a repeat.
    offset = IMPLS.index(impl) * per_round * rounds
    if offset + per_round * rounds > len(docs):
        offset = 0
    inputs = [docs[offset + r * per_round: offset + (r + 1) * per_round] for r in range(rounds)]
    feed = iter(inputs)
    outputs = []

    def target(texts):
        outputs.append([encode(t) for t in texts])

    benchmark.group = f"hf_bpe cold 2KB {file} {corpus}"
    benchmark.pedantic(target, setup=lambda: ((bench.fresh_copy(next(feed)),), {}), rounds=rounds,
                       iterations=1)
    nbytes = sum(len(t.encode("utf-8")) for texts in inputs for t in texts)
    info = {"implementation": impl, "version": version, "bytes_per_round": nbytes // rounds}
    if impl != "fastprep_tiktoken_cl100k":  # a different vocabulary: speed reference only
        tok = hf(file)
        mismatched = [t[:60] for texts, outs in zip(inputs, outputs) for t, ids in zip(texts, outs)
                      if list(ids) != tok.encode(t, add_special_tokens=False).ids]
        info.update(checked=sum(len(x) for x in inputs), mismatched=len(mismatched),
                    first_mismatch=mismatched[0] if mismatched else None)
        if impl == "fastprep":
            assert not mismatched, mismatched[:3]
    if benchmark.stats is not None and benchmark.stats.stats.median:
        info["mb_per_s"] = round(nbytes / rounds / benchmark.stats.stats.median / 1e6, 2)
    benchmark.extra_info.update(info)
