"""Serving replay: an open-loop Poisson request stream through an asyncio front end.

Each request goes arrival -> tokenize -> pack to padded int32 arrays (input_ids, attention_mask,
position_ids, length rounded up to a multiple of 8) -> done, as a serving stack's preprocessing
does. The same trace (same seed) is replayed for:

- fastprep: ``fastprep.aio.aencode_padded`` (bounded executor, small requests inline);
- tiktoken: ``encode_ordinary`` + NumPy packing in the loop's default executor;
- hf-tokenizers: ``Tokenizer.encode`` (BPE built from the same ranks, see fastprep.bench) +
  NumPy packing in the default executor, as a typical stack runs it.

Prompts: 90% chat-sized (200-2,000 characters), 10% RAG-sized (50-400 KB of UTF-8), cut at
random offsets from tests/data/corpus/*.txt. Latency runs from the scheduled arrival time (so a
late dispatcher counts against the implementation: no coordinated omission) to the packed
arrays. A 1 ms ticker task measures event-loop lag.

    python benchmarks/serving_replay.py --duration 10 --rate 500 --seed 0 [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import json
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "data" / "corpus"
IMPLS = ("fastprep", "tiktoken", "hf-tokenizers")
PAD_MULTIPLE = 8


@dataclasses.dataclass
class Request:
    at: float  # seconds after the start
    source: int  # corpus file index
    start: int  # character offset
    chars: int
    rag: bool


def load_corpus() -> list[str]:
    files = sorted(CORPUS.glob("*.txt"))
    if not files:
        raise SystemExit(f"no corpus in {CORPUS}")
    return [f.read_text(encoding="utf-8") for f in files]


def make_trace(corpus: list[str], duration: float, rate: float, seed: int,
               rag_share: float = 0.1, chat=(200, 2_000), rag=(50_000, 400_000)) -> list[Request]:
    rng = random.Random(seed)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        src = rng.randrange(len(corpus))
        text = corpus[src]
        is_rag = rng.random() < rag_share
        if is_rag:
            bytes_per_char = len(text.encode("utf-8")) / len(text)
            chars = int(rng.randint(*rag) / bytes_per_char)
        else:
            chars = rng.randint(*chat)
        chars = min(chars, len(text) - 1)
        out.append(Request(t, src, rng.randrange(len(text) - chars), chars, is_rag))


def numpy_pack(ids: list, pad_id: int = 0) -> dict:
    """What a stack without fastprep does: one padded row as int32 NumPy arrays."""
    import numpy as np

    n = len(ids)
    width = -(-n // PAD_MULTIPLE) * PAD_MULTIPLE
    input_ids = np.full((1, width), pad_id, dtype=np.int32)
    input_ids[0, :n] = ids
    mask = np.zeros((1, width), dtype=np.int32)
    mask[0, :n] = 1
    positions = np.zeros((1, width), dtype=np.int32)
    positions[0, :n] = np.arange(n, dtype=np.int32)
    return {"input_ids": input_ids, "attention_mask": mask, "position_ids": positions}


def make_handler(name: str, encoding: str) -> Callable[[str], Any]:
    """An async function text -> packed dict, for one implementation."""
    sys.path.insert(0, str(REPO / "src"))
    from fastprep import bench

    if name == "fastprep":
        import fastprep
        from fastprep import aio

        enc = fastprep.get_encoding(encoding)

        async def handle(text: str) -> dict:
            return await aio.aencode_padded(enc, [text], pad_id=0, pad_to_multiple_of=PAD_MULTIPLE,
                                            disallowed_special=())
        return handle
    impl = bench.make_tiktoken(encoding) if name == "tiktoken" else bench.make_hf_tokenizers(encoding)
    encode = impl.encode

    def work(text: str) -> dict:
        return numpy_pack(encode(text))

    async def handle(text: str) -> dict:
        return await asyncio.get_running_loop().run_in_executor(None, work, text)
    return handle


def _pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


async def _replay(handle, trace: list[Request], corpus: list[str], keep_ids: bool,
                  drain_s: float) -> dict:
    loop = asyncio.get_running_loop()
    pool = concurrent.futures.ThreadPoolExecutor()  # the default executor's usual size
    loop.set_default_executor(pool)
    lags: list[float] = []
    stop = asyncio.Event()

    async def ticker():
        while not stop.is_set():
            t = loop.time()
            await asyncio.sleep(0.001)
            lags.append(loop.time() - t - 0.001)

    latencies: list[Optional[float]] = [None] * len(trace)
    ids: list[Optional[list]] = [None] * len(trace)
    tokens = [0]

    async def one(i: int, req: Request, arrival: float):
        text = corpus[req.source][req.start:req.start + req.chars]
        out = await handle(text)
        latencies[i] = time.perf_counter() - arrival
        n = int(out["attention_mask"][0].sum())
        tokens[0] += n
        if keep_ids:
            ids[i] = out["input_ids"][0, :n].tolist()

    await handle("warm up the executor and the tokenizer " * 20)
    tick = asyncio.create_task(ticker())
    tasks = []
    t0 = time.perf_counter()
    for i, req in enumerate(trace):
        delay = t0 + req.at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, req, t0 + req.at)))
    done, pending = await asyncio.wait(tasks, timeout=drain_s) if tasks else (set(), set())
    t_end = time.perf_counter()
    stop.set()
    await tick
    for t in pending:
        t.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    finished = [x for x in latencies if x is not None]
    last = max((t0 + r.at + x for r, x in zip(trace, latencies) if x is not None), default=t_end)
    nbytes = sum(len(corpus[r.source][r.start:r.start + r.chars].encode("utf-8"))
                 for r, x in zip(trace, latencies) if x is not None)
    span = max(1e-9, last - t0)
    return {
        "requests": len(trace),
        "completed": len(finished),
        "latency_ms": {k: _pct(finished, p) * 1e3 for k, p in
                       (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "throughput": {"requests_per_s": len(finished) / span, "mb_per_s": nbytes / span / 1e6,
                       "tokens_per_s": tokens[0] / span},
        "loop_lag_ms": {"p99": _pct(lags, 99) * 1e3, "max": max(lags, default=0.0) * 1e3},
        "ids": ids if keep_ids else None,
    }


def replay(impls=IMPLS, duration: float = 10.0, rate: float = 500.0, seed: int = 0,
           encoding: str = "cl100k_base", keep_ids: bool = False, drain_s: float = 120.0,
           rag=(50_000, 400_000), log: Optional[Callable[[str], None]] = None) -> dict:
    corpus = load_corpus()
    trace = make_trace(corpus, duration, rate, seed, rag=rag)
    results, skipped = {}, {}
    for name in impls:
        try:
            handle = make_handler(name, encoding)
        except Exception as exc:  # peer not installed
            skipped[name] = f"{type(exc).__name__}: {exc}"
            continue
        if log:
            log(f"replaying {len(trace)} requests through {name} ...")
        results[name] = asyncio.run(_replay(handle, trace, corpus, keep_ids, drain_s))
    fp = results.get("fastprep", {}).get("latency_ms", {}).get("p99")
    ratios = {f"p99 vs {peer}": (fp / results[peer]["latency_ms"]["p99"])
              for peer in results if peer != "fastprep" and fp is not None}
    return {
        "settings": {"duration_s": duration, "rate_per_s": rate, "seed": seed, "encoding": encoding,
                     "chat_chars": [200, 2_000], "rag_bytes": list(rag), "rag_share": 0.1,
                     "pad_to_multiple_of": PAD_MULTIPLE},
        "machine": {"cpu": platform.processor() or platform.machine(),
                    "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                    else os.cpu_count(),
                    "load_avg": os.getloadavg() if hasattr(os, "getloadavg") else None},
        "results": results,
        "skipped": skipped,
        "fastprep_p99_ratio": ratios,
    }


def format_table(rep: dict) -> str:
    s = rep["settings"]
    lines = [f"serving replay: {s['rate_per_s']:g} req/s for {s['duration_s']:g} s, seed {s['seed']}, "
             f"{s['encoding']}; machine {rep['machine']['cores']} cores, "
             f"load avg {', '.join(f'{x:.1f}' for x in rep['machine']['load_avg'] or [])}",
             "",
             f"{'implementation':<15}{'done':>11}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
             f"{'max ms':>9}{'req/s':>8}{'MB/s':>7}{'lag p99':>9}{'lag max':>9}"]
    for name, r in rep["results"].items():
        lat, thr, lag = r["latency_ms"], r["throughput"], r["loop_lag_ms"]
        lines.append(f"{name:<15}{r['completed']:>5}/{r['requests']:<5}{lat['p50']:>9.2f}"
                     f"{lat['p95']:>9.2f}{lat['p99']:>9.2f}{lat['max']:>9.1f}"
                     f"{thr['requests_per_s']:>8.0f}{thr['mb_per_s']:>7.1f}"
                     f"{lag['p99']:>9.2f}{lag['max']:>9.1f}")
    for name, why in rep["skipped"].items():
        lines.append(f"{name:<15} skipped: {why}")
    if rep["fastprep_p99_ratio"]:
        lines.append("")
        lines.append("fastprep p99 / peer p99: " + ", ".join(
            f"{k.split()[-1]} {v:.3f}" for k, v in rep["fastprep_p99_ratio"].items())
            + "   (targets: <= 0.2 vs hf-tokenizers, <= 0.5 vs tiktoken)")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=float, default=10.0, help="seconds of arrivals (default 10)")
    p.add_argument("--rate", type=float, default=500.0, help="mean requests per second (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--encoding", default="cl100k_base")
    p.add_argument("--impl", default=",".join(IMPLS),
                   help=f"comma-separated implementations (default {','.join(IMPLS)})")
    p.add_argument("--drain", type=float, default=120.0,
                   help="seconds to wait for outstanding requests after the last arrival")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    os.environ.setdefault("RAYON_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    impls = [x.strip() for x in args.impl.split(",") if x.strip()]
    bad = [x for x in impls if x not in IMPLS]
    if bad:
        p.error(f"unknown implementation(s): {', '.join(bad)}")
    log = None if args.json else (lambda m: print(f"  ... {m}", file=sys.stderr, flush=True))
    rep = replay(impls, args.duration, args.rate, args.seed, args.encoding, drain_s=args.drain, log=log)
    for r in rep["results"].values():
        r.pop("ids", None)
    print(json.dumps(rep, indent=2) if args.json else format_table(rep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
