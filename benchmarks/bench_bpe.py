"""Byte-level BPE speed: fastprep (native) against tiktoken, rs-bpe and HF tokenizers.

Groups are workload x corpus file (or case) x encoding; every round encodes input that the
instance has never encoded (distinct documents/strings per round, a rotated prompt, worst cases of
a new length or seed), so result caches cannot flatter. Each benchmark records in ``extra_info``
whether its ids equal tiktoken's ``encode_ordinary`` for the same text; fastprep must be correct.
Workloads draw on disjoint parts of each corpus file (see ``fastprep.bench.make_pools``); the
whole-file prompt benchmarks run last.
"""
from __future__ import annotations

import functools
import statistics
from array import array

import pytest

import _peers
from _peers import bench

CORPORA = bench.CORPUS_NAMES


@pytest.fixture(params=_peers.IMPL_NAMES)
def impl(request, encoding):
    return _peers.get(request.param, encoding)


@functools.lru_cache(maxsize=None)
def pools() -> bench.Pools:
    texts, _source = bench.load_corpus()
    return bench.make_pools(texts)


def _rounds(items: list, per_round: int, max_rounds: int) -> list[list]:
    n = min(max_rounds, len(items) // per_round)
    assert n >= 1, f"not enough distinct inputs: {len(items)} items, {per_round} per round"
    return [items[r * per_round:(r + 1) * per_round] for r in range(n)]


def _measure(benchmark, impl, group: str, inputs: list[list[str]], call, *, calls_per_round=None):
    """Times ``call(texts)`` once per round on that round's texts, then records correctness."""
    benchmark.group = f"{group} {impl.encoding}"
    feed = iter(inputs)
    outputs = []

    def target(texts):
        outputs.append(call(texts))

    # Fresh str objects per round: CPython caches a str's UTF-8 form inside it once any native
    # code asked, and the pools' strings are shared by all implementations.
    try:
        benchmark.pedantic(target, setup=lambda: ((bench.fresh_copy(next(feed)),), {}),
                           rounds=len(inputs), iterations=1)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: B036 - pyo3's PanicException is a BaseException
        # pytest-benchmark marks only Exception subclasses as errors; a Rust panic is a
        # BaseException, and an unmarked benchmark without data breaks its JSON report.
        benchmark.has_error = True
        if impl.name == "fastprep":
            raise
        benchmark.extra_info.update(implementation=impl.name, version=impl.version,
                                    error=bench._short_error(exc))
        pytest.xfail(f"{impl.name} fails on this input: {bench._short_error(exc)}")

    checked = mismatched = 0
    first_bad = None
    sources = set()
    for texts, out in zip(inputs, outputs):
        for i, text in enumerate(texts):
            want, source = _peers.reference_ids(impl.encoding, text)
            if want is None:
                continue
            sources.add(source)
            checked += 1
            if i >= len(out) or array("I", out[i]) != want:
                mismatched += 1
                first_bad = first_bad or text[:80]
    sizes = [sum(len(t.encode("utf-8")) for t in texts) for texts in inputs[: len(outputs)]]
    info = benchmark.extra_info
    info.update(implementation=impl.name, version=impl.version, how=impl.note,
                correct=None if not checked else mismatched == 0,
                reference=", ".join(sorted(sources)) or "none",
                mismatched=f"{mismatched}/{checked} texts", bytes_per_round=statistics.median(sizes))
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    if stats is not None:
        info["median_MB_per_s"] = round(info["bytes_per_round"] / stats.median / 1e6, 2)
        if calls_per_round:
            info["median_us_per_call"] = round(stats.median / calls_per_round * 1e6, 3)
    if impl.name == "fastprep":
        assert checked, "no reference implementation could check fastprep's ids"
        assert mismatched == 0, (
            f"fastprep differs from {sorted(sources)} on {mismatched}/{checked} texts, "
            f"first: {first_bad!r}")


def _encode_each(impl):
    enc = impl.encode
    return lambda texts: [enc(t) for t in texts]


@pytest.mark.parametrize("corpus", CORPORA)
def test_cold_2kb_documents(benchmark, impl, corpus, small):
    docs = pools().cold[corpus]
    inputs = _rounds(docs, 2, 1) if small else _rounds(docs, 8, 50)
    _measure(benchmark, impl, f"cold-2KB {corpus}", inputs, _encode_each(impl))


def test_short_calls(benchmark, impl, small):
    per_round = 20 if small else 500
    inputs = _rounds(pools().short, per_round, 1 if small else 10)
    _measure(benchmark, impl, "short-60chars", inputs, _encode_each(impl), calls_per_round=per_round)


@pytest.mark.parametrize("case", list(bench.WORST_CASES))
def test_worst_case(benchmark, impl, case, small):
    _label, kind, n = bench.WORST_CASES[case]
    if small:
        n = max(10, n // 100)
    inputs = [[bench.worst_case_text(kind, n, r)] for r in range(1 if small else 3)]
    _measure(benchmark, impl, f"worst {case}", inputs, lambda texts: [impl.encode(texts[0])])


@pytest.mark.parametrize("threads", [2, 1])
def test_batch(benchmark, impl, threads, small):
    """Each implementation's batch API on 2 threads (tiktoken's and fastprep's
    ``encode_batch(num_threads=2)``, rs-bpe's ``encode_batch_parallel``, HF's ``encode_batch``
    with RAYON_NUM_THREADS=2), and on 1 thread, where rs-bpe's sequential batch is faster here."""
    if impl.encode_batch is None:
        pytest.skip(f"{impl.name} has no batch API")
    if threads == 1 and impl.name == "hf-tokenizers":
        pytest.skip("HF tokenizers fixes its thread count per process (RAYON_NUM_THREADS)")
    pool = pools().batch
    half = len(pool) // 2
    pool = pool[:half] if threads == 2 else pool[half:]  # distinct documents per thread count
    inputs = _rounds(pool, 4 if small else 32, 1 if small else 8)
    _measure(benchmark, impl, f"batch-{threads}thread", inputs,
             lambda texts: impl.encode_batch(texts, threads))


@pytest.mark.parametrize("corpus", CORPORA)
def test_prompt_1mb(benchmark, impl, corpus, small):
    prompt = pools().prompts[corpus]
    if small:
        prompt = bench._prefix_at_line(prompt, 32_000)
    inputs = [[bench.rotate_at_line(prompt, r)] for r in range(1 if small else 3)]
    _measure(benchmark, impl, f"prompt-1MB {corpus}", inputs, lambda texts: [impl.encode(texts[0])])
