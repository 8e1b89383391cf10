"""`fastprep profile`: where preprocessing time goes, per stage, over a serving-like request mix.

Requests are cut from one input file with sizes drawn from a distribution (``chat``: 200-2,000
characters; ``rag``: 50-400 KB; ``mixed``: 90% chat, 10% rag). Each request runs the stages
separately, timed one after another:

- normalize: the tokenizer.json normalizer (``normalize_str``); tiktoken encodings have none;
- pre-tokenize: tiktoken encodings, the native lexer (``split_pieces``) less the measured cost
  of making one Python str per piece (which the lexer alone does not pay); tokenizer.json files,
  ``pre_tokenize_str`` on the normalized text;
- model: the full ``encode`` less the stages before it (so it includes building the id list);
- pack: ``fastprep.pack_padded`` of the ids (int32, one row).

When a tokenizer.json is encoded by a native kernel, its normalize/pre-tokenize stages exist
only in the reference pipeline: they are then timed there, reported as such, and the native
``encode`` is reported whole (``model`` = encode, ``fused``). Latency per request is encode +
pack; tokens/s is over the whole mix, sequentially, and for ``encode_batch`` on ``--threads``.
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any, Optional

SIZES = {
    "chat": [(1.0, 200, 2_000)],
    "rag": [(1.0, 50_000, 400_000)],
    "mixed": [(0.9, 200, 2_000), (0.1, 50_000, 400_000)],
}
STAGES = ("normalize", "pretokenize", "model", "pack")
PROGRESS_MIN_BYTES = 1_000_000


class Progress:
    """A one-line progress bar on stderr, drawn at most ~10 times a second; silent when off."""

    def __init__(self, total: int, label: str, enabled: bool, stream=None, width: int = 30):
        self.total = max(1, total)
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self._last = 0.0

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and self.done < self.total:
            return
        self._last = now
        filled = self.width * self.done // self.total
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def load_tokenizer(spec: str):
    """A built-in encoding name, or a path to a tokenizer.json."""
    import fastprep

    if spec in fastprep.list_encoding_names():
        return fastprep.get_encoding(spec)
    if os.path.isfile(spec):
        return fastprep.Tokenizer.from_file(spec)
    raise ValueError(f"--tokenizer {spec!r} is neither an encoding name "
                     f"({', '.join(fastprep.list_encoding_names())}) nor a tokenizer.json file")


def draw_requests(text: str, n: int, sizes: str, seed: int = 0) -> list[str]:
    """``n`` request texts cut at random offsets from ``text`` (repeated when a size exceeds
    it), with sizes drawn from ``SIZES[sizes]``; rag sizes are in UTF-8 bytes, approximately."""
    if not text:
        raise ValueError("the input file is empty")
    rng = random.Random(seed)
    bytes_per_char = max(1.0, len(text.encode("utf-8")) / len(text))
    out = []
    for _ in range(n):
        r, acc = rng.random(), 0.0
        for share, lo, hi in SIZES[sizes]:
            acc += share
            if r < acc:
                break
        size = rng.randint(lo, hi)
        chars = size if hi <= 2_000 else max(1, int(size / bytes_per_char))
        if chars > len(text):
            source = text * (chars // len(text) + 2)
        else:
            source = text + text[:chars]
        start = rng.randrange(len(text))
        out.append(source[start:start + chars])
    return out


def _fresh(text: str) -> str:
    # A new str without a cached UTF-8 form, so every stage pays the same conversion.
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "max": 0.0}
    s = sorted(values)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": s[-1]}


class _Stages:
    """How to run each stage alone for one tokenizer."""

    def __init__(self, tok):
        from . import _backend

        self.tok = tok
        self.is_hf = tok.is_hf
        self.lexer = None
        self.core = None
        self.fused = False
        self.notes: dict[str, str] = {}
        if self.is_hf:
            self.fused = bool(getattr(tok._hf, "uses_native", False))
            where = "reference pipeline" if self.fused else "same pipeline as encode"
            self.notes["normalize"] = f"normalize_str ({where})"
            self.notes["pretokenize"] = f"pre_tokenize_str ({where})"
            self.notes["model"] = ("native encode, all stages fused" if self.fused
                                   else "encode minus normalize and pre-tokenize")
        else:
            core = _backend.core_for(tok.backend)
            kind = core.known_pattern(tok.pat_str) if core is not None else None
            if kind is not None:
                self.core, self.lexer = core, kind
                self.notes["pretokenize"] = (f"native lexer {kind} (split_pieces less the cost "
                                             "of one Python str per piece)")
            else:
                self.notes["pretokenize"] = "not separable (regex or Python path)"
            self.notes["normalize"] = "none (tiktoken encodings do not normalize)"
            self.notes["model"] = "encode minus pre-tokenize (includes the id list)"
        self.notes["pack"] = "pack_padded, int32, one row"

    def run(self, text: str) -> tuple[dict[str, Optional[float]], int]:
        """Stage seconds for one request (None where the stage does not apply) and its token count."""
        from .pack import pack_padded

        t: dict[str, Optional[float]] = {s: None for s in STAGES}
        tok = self.tok
        clock = time.perf_counter
        if self.is_hf:
            a = clock()
            normalized = tok.normalize_str(_fresh(text))
            b = clock()
            tok.pre_tokenize_str(normalized)
            c = clock()
            t["normalize"], t["pretokenize"] = b - a, c - b
            text = _fresh(text)
            a = clock()
            ids = tok.encode(text, add_special_tokens=False)
            encode_s = clock() - a
            t["model"] = encode_s if self.fused else max(0.0, encode_s - (c - a))
        else:
            before = 0.0
            if self.lexer is not None:
                fresh = _fresh(text)
                a = clock()
                pieces = self.core.split_pieces(self.lexer, fresh)
                split_s = clock() - a
                raw = [p.encode("utf-8") for p in pieces]
                a = clock()
                rebuilt = list(map(bytes.decode, raw))
                materialize_s = clock() - a
                del rebuilt, raw, pieces
                before = t["pretokenize"] = max(0.0, split_s - materialize_s)
            fresh = _fresh(text)
            a = clock()
            ids = tok.encode(fresh, disallowed_special=())
            encode_s = clock() - a
            t["model"] = max(0.0, encode_s - before)
        a = clock()
        pack_padded([ids], pad_id=0)
        t["pack"] = clock() - a
        t["_encode"] = encode_s
        return t, len(ids)


def run(tokenizer_spec: str, input_path: str, requests: int = 200, sizes: str = "mixed",
        threads: int = 0, seed: int = 0, progress: Optional[bool] = None) -> dict[str, Any]:
    """Profiles; returns the report as a dict (what ``--json`` prints)."""
    tok = load_tokenizer(tokenizer_spec)
    with open(input_path, encoding="utf-8") as f:
        text = f.read()
    reqs = draw_requests(text, requests, sizes, seed)
    total_bytes = sum(len(r.encode("utf-8")) for r in reqs)
    if progress is None:
        progress = sys.stderr.isatty() and total_bytes >= PROGRESS_MIN_BYTES
    stages = _Stages(tok)
    stages.run("warm up: first calls compile regexes and allocate")
    totals = {s: 0.0 for s in STAGES}
    applies = {s: False for s in STAGES}
    latencies, n_tokens, encode_total = [], 0, 0.0
    bar = Progress(len(reqs), "profiling", progress)
    for r in reqs:
        t, n = stages.run(r)
        for s in STAGES:
            if t[s] is not None:
                totals[s] += t[s]
                applies[s] = True
        latencies.append(t["_encode"] + t["pack"])
        encode_total += t["_encode"]
        n_tokens += n
        bar.update()
    bar.close()
    batch = [_fresh(r) for r in reqs]
    kwargs = {} if tok.is_hf else {"disallowed_special": ()}
    a = time.perf_counter()
    batch_ids = tok.encode_batch(batch, num_threads=threads or None, **kwargs) if not tok.is_hf \
        else tok.encode_batch(batch, num_threads=threads or None, add_special_tokens=False)
    batch_s = time.perf_counter() - a
    batch_tokens = sum(len(x) for x in batch_ids)
    staged = sum(totals[s] for s in STAGES if applies[s])
    return {
        "tokenizer": tokenizer_spec,
        "backend": tok.backend,
        "input": os.fspath(input_path),
        "sizes": sizes,
        "requests": len(reqs),
        "bytes": total_bytes,
        "tokens": n_tokens,
        "stages": {
            s: ({"seconds": totals[s], "share": totals[s] / staged if staged else 0.0,
                 "how": stages.notes.get(s, "")} if applies[s] else
                {"seconds": None, "share": None, "how": stages.notes.get(s, "")})
            for s in STAGES
        },
        "sequential": {"seconds": encode_total, "tokens_per_s": n_tokens / encode_total if encode_total else 0.0,
                       "mb_per_s": total_bytes / encode_total / 1e6 if encode_total else 0.0},
        "batch": {"threads": threads or "all", "seconds": batch_s,
                  "tokens_per_s": batch_tokens / batch_s if batch_s else 0.0,
                  "mb_per_s": total_bytes / batch_s / 1e6 if batch_s else 0.0},
        "latency_ms": {k: v * 1e3 for k, v in _percentiles(latencies).items()},
    }


def format_report(rep: dict) -> str:
    lines = [
        f"fastprep profile: {rep['tokenizer']} ({rep['backend']}) on {rep['input']}",
        f"{rep['requests']} requests ({rep['sizes']}), {rep['bytes'] / 1e6:.2f} MB, "
        f"{rep['tokens']:,} tokens",
        "",
        f"{'stage':<12} {'ms':>10} {'share':>7}  how",
    ]
    for name, st in rep["stages"].items():
        if st["seconds"] is None:
            lines.append(f"{name:<12} {'-':>10} {'-':>7}  {st['how']}")
        else:
            lines.append(f"{name:<12} {st['seconds'] * 1e3:>10.2f} {st['share'] * 100:>6.1f}%  {st['how']}")
    seq, bat, lat = rep["sequential"], rep["batch"], rep["latency_ms"]
    lines += [
        "",
        f"throughput   sequential encode: {seq['tokens_per_s'] / 1e6:.2f} M tokens/s "
        f"({seq['mb_per_s']:.1f} MB/s); encode_batch on {bat['threads']} threads: "
        f"{bat['tokens_per_s'] / 1e6:.2f} M tokens/s ({bat['mb_per_s']:.1f} MB/s)",
        "latency ms   (encode + pack, per request) "
        + "  ".join(f"{k} {v:.3f}" for k, v in lat.items()),
    ]
    return "\n".join(lines)


# -- command line (wired into `fastprep profile` by cli.py) ----------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("--tokenizer", default="cl100k_base",
                        help="encoding name (cl100k_base, ...) or path to a tokenizer.json")
    parser.add_argument("--input", required=True, help="UTF-8 text file the requests are cut from")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--requests", type=int, default=200, help="number of requests (default 200)")
    parser.add_argument("--sizes", choices=sorted(SIZES), default="mixed",
                        help="request sizes: chat 200-2,000 chars, rag 50-400 KB, "
                             "mixed 90%% chat + 10%% rag (default)")
    parser.add_argument("--threads", type=int, default=0,
                        help="threads for the encode_batch throughput figure (default: all cores)")
    parser.add_argument("--seed", type=int, default=0, help="seed for request sizes and offsets")


def command(args) -> int:
    if args.requests < 1 or args.threads < 0:
        print("fastprep profile: --requests must be >= 1 and --threads >= 0", file=sys.stderr)
        return 2
    try:
        rep = run(args.tokenizer, args.input, args.requests, args.sizes, args.threads, args.seed,
                  progress=False if args.json else None)
    except (OSError, ValueError) as exc:
        print(f"fastprep profile: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rep, indent=2) if args.json else format_report(rep))
    return 0
