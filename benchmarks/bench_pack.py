"""Feature packing speed: fastprep's native pack_padded / pack_varlen / pack_bins against plain
NumPy code doing the same job, plus a memcpy reference measured in the same run.

Groups are function x batch size x length range. Implementations:

- ``fastprep``: the native kernels (skipped when the extension is missing);
- ``numpy_loop``: what people write by hand, one NumPy call or more per sequence
  (np.concatenate / np.pad per row, then np.stack; for bins a Python first-fit scan);
- ``numpy_full_slice``: the better NumPy version, np.full / np.zeros of the whole output then one
  slice assignment per sequence (vectorized arange tricks for varlen).

Every benchmark records in ``extra_info`` whether its arrays equal numpy_loop's (``correct``), the
bytes it moves (ids read + every output byte written) and, when timed, GB/s (from the median) and
that rate as a percentage of ``np.copyto`` on a 64 MiB buffer (counted the same way: bytes read +
written; small batches stay in cache, so they can exceed 100%). The memcpy rate comes from
``test_memcpy_reference`` when it ran, else it is measured once in the same process, so ``-k``
selections report it too. fastprep's entries also record which copy loop ran (``kernel``:
"avx2" or "portable", see FASTPREP_PACK_KERNEL).
A summary table (speedup over numpy_loop, % of memcpy) is printed at the end of the module.

pytest-benchmark times each implementation at a different moment, so a slow phase of a shared
machine (seconds long, ~30% on the project's VM) can land on one side of a ratio only.
``test_speedup_taking_turns`` measures the ratio the way ``fastprep bench`` does: fastprep and
numpy_loop take turns in short blocks on the same batch, and the per-block ratios are summarized
(median and 10th percentile) beside the table.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fastprep
from fastprep.pack import pack_bins, pack_padded, pack_varlen

BATCHES = [8, 64, 512]
LENGTHS = [(16, 128), (64, 1024), (512, 4096)]
MAX_TOKENS = 4096
PAD = 0

_memcpy_rate: dict[str, float] = {}  # "GB/s" -> measured memcpy rate
_summary: list[tuple[str, str, float, float]] = []  # (group, impl, mean seconds, bytes moved)
_turns: list[tuple[str, int, float, float, float]] = []  # (group, blocks, median, p10, p90 of ratios)


@functools.lru_cache(maxsize=None)
def dataset(batch: int, lo: int, hi: int) -> list[np.ndarray]:
    rng = np.random.default_rng(batch * 100_003 + lo * 7 + hi)
    lengths = rng.integers(lo, hi + 1, size=batch)
    return [rng.integers(0, 200_000, size=n, dtype=np.int32) for n in lengths]


# ------------------------------------------------------------------------------ NumPy baselines


def padded_loop(seqs):
    width = max(len(s) for s in seqs)
    ids, mask, pos = [], [], []
    for s in seqs:
        n, p = len(s), width - len(s)
        ids.append(np.concatenate([np.asarray(s, np.int32), np.full(p, PAD, np.int32)]))
        mask.append(np.concatenate([np.ones(n, np.int32), np.zeros(p, np.int32)]))
        pos.append(np.concatenate([np.arange(n, dtype=np.int32), np.zeros(p, np.int32)]))
    return {"input_ids": np.stack(ids), "attention_mask": np.stack(mask), "position_ids": np.stack(pos)}


def padded_full_slice(seqs):
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), PAD, np.int32)
    mask = np.zeros((len(seqs), width), np.int32)
    pos = np.zeros((len(seqs), width), np.int32)
    ramp = np.arange(width, dtype=np.int32)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = 1
        pos[i, : len(s)] = ramp[: len(s)]
    return {"input_ids": ids, "attention_mask": mask, "position_ids": pos}


def varlen_loop(seqs):
    lengths = [len(s) for s in seqs]
    cu = np.zeros(len(seqs) + 1, np.int32)
    cu[1:] = np.cumsum(lengths)
    return {
        "input_ids": np.concatenate(seqs, dtype=np.int32),  # dtype: lists would give int64
        "cu_seqlens": cu,
        "position_ids": np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]),
        "max_seqlen": max(lengths),
    }


def varlen_full_slice(seqs):
    lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
    cu = np.zeros(len(seqs) + 1, np.int32)
    np.cumsum(lengths, out=cu[1:])
    pos = np.arange(cu[-1], dtype=np.int32) - np.repeat(cu[:-1], lengths)
    return {"input_ids": np.concatenate(seqs, dtype=np.int32), "cu_seqlens": cu, "position_ids": pos,
            "max_seqlen": int(lengths.max())}


def _ffd(lengths, max_tokens):
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    used, rows = [], []
    placed = [None] * len(lengths)
    for i in order:
        row = next((r for r, u in enumerate(used) if max_tokens - u >= lengths[i]), len(used))
        if row == len(used):
            used.append(0)
            rows.append([])
        placed[i] = (row, used[row])
        rows[row].append(i)
        used[row] += lengths[i]
    return placed, rows


def bins_numpy(seqs, *, ramp_slices: bool):
    lengths = [len(s) for s in seqs]
    placed, rows = _ffd(lengths, MAX_TOKENS)
    ids = np.full((len(rows), MAX_TOKENS), PAD, np.int32)
    seg = np.zeros((len(rows), MAX_TOKENS), np.int32)
    pos = np.zeros((len(rows), MAX_TOKENS), np.int32)
    ramp = np.arange(MAX_TOKENS, dtype=np.int32)
    cu, offsets = [], [0]
    for r, members in enumerate(rows):
        ends = [0]
        for k, i in enumerate(members):
            start, n = placed[i][1], lengths[i]
            ids[r, start : start + n] = seqs[i]
            seg[r, start : start + n] = k + 1
            pos[r, start : start + n] = ramp[:n] if ramp_slices else np.arange(n, dtype=np.int32)
            ends.append(start + n)
        cu.extend(ends)
        offsets.append(len(cu))
    return {"input_ids": ids, "segment_ids": seg, "position_ids": pos,
            "cu_seqlens": np.array(cu, np.int32), "cu_seqlens_offsets": np.array(offsets, np.int64),
            "placement": np.array(placed, np.int64)}


FUNCTIONS = {
    "pack_padded": {
        "fastprep": lambda seqs: pack_padded(seqs, pad_id=PAD, backend="native"),
        "numpy_loop": padded_loop,
        "numpy_full_slice": padded_full_slice,
    },
    "pack_varlen": {
        "fastprep": lambda seqs: pack_varlen(seqs, backend="native"),
        "numpy_loop": varlen_loop,
        "numpy_full_slice": varlen_full_slice,
    },
    "pack_bins": {
        "fastprep": lambda seqs: pack_bins(seqs, max_tokens=MAX_TOKENS, pad_id=PAD, backend="native"),
        "numpy_loop": functools.partial(bins_numpy, ramp_slices=False),
        "numpy_full_slice": functools.partial(bins_numpy, ramp_slices=True),
    },
}


def same_arrays(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if isinstance(x, np.ndarray):
            if not (isinstance(y, np.ndarray) and x.dtype == y.dtype and np.array_equal(x, y)):
                return False
        elif x != y:
            return False
    return True


def bytes_moved(seqs, out: dict) -> int:
    read = sum(s.nbytes for s in seqs)
    written = sum(v.nbytes for v in out.values() if isinstance(v, np.ndarray))
    return read + written


@pytest.fixture(scope="module", autouse=True)
def print_summary(request):
    yield
    if not _summary:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    memcpy = memcpy_rate()
    medians = {(g, i): (t, b) for g, i, t, b in _summary}
    lines = ["", "feature packing (fastprep, medians, copy loop " + kernel_name() + "): time, speedup over "
             "numpy_loop and numpy_full_slice, GB/s, % of memcpy" + (f" ({memcpy:.1f} GB/s)" if memcpy else "")]
    for (group, impl), (t, nbytes) in sorted(medians.items()):
        if impl != "fastprep":
            continue
        loop = medians.get((group, "numpy_loop"), (float("nan"),))[0]
        full = medians.get((group, "numpy_full_slice"), (float("nan"),))[0]
        rate = nbytes / t / 1e9
        pct = f"{100 * rate / memcpy:5.0f}%" if memcpy else "   n/a"
        lines.append(f"  {group:<36} {t * 1e6:10.1f} us  x{loop / t:6.1f}  x{full / t:6.1f}"
                     f"  {rate:6.2f} GB/s {pct}")
    if _turns:
        lines.append("taking turns (fastprep and numpy_loop alternate in blocks of calls on the same batch): "
                     "speedup over numpy_loop per block")
        for group, blocks, med, p10, p90 in _turns:
            lines.append(f"  {group:<36} median x{med:5.1f}  p10 x{p10:5.1f}  p90 x{p90:5.1f}  ({blocks} blocks)")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if capture is not None:
        with capture.global_and_fixture_disabled():
            for line in lines:
                reporter.write_line(line)
    else:
        for line in lines:
            reporter.write_line(line)


def memcpy_rate() -> float:
    """GB/s of np.copyto on 64 MiB (bytes read + written), measured once per process unless
    test_memcpy_reference already did."""
    if "GB/s" not in _memcpy_rate:
        import time

        src = np.ones(64 << 20, np.uint8)
        dst = np.empty_like(src)
        times = []
        for _ in range(15):
            start = time.perf_counter()
            np.copyto(dst, src)
            times.append(time.perf_counter() - start)
        _memcpy_rate["GB/s"] = 2 * src.nbytes / float(np.median(times)) / 1e9
    return _memcpy_rate["GB/s"]


def kernel_name() -> str:
    from fastprep import _backend

    return getattr(_backend._native, "pack_kernel", "unknown")


def test_memcpy_reference(benchmark, small):
    """np.copyto of a buffer well beyond the caches: the bandwidth ceiling for packing."""
    size = (1 << 16) if small else (64 << 20)
    src = np.ones(size, np.uint8)
    dst = np.empty_like(src)
    benchmark.group = "memcpy reference"
    benchmark(np.copyto, dst, src)
    benchmark.extra_info.update(bytes_moved=2 * size, correct=bool(np.array_equal(dst, src)))
    if benchmark.stats is not None and not small:
        rate = 2 * size / benchmark.stats.stats.median / 1e9
        _memcpy_rate["GB/s"] = rate
        benchmark.extra_info["GB/s"] = round(rate, 2)


@pytest.mark.parametrize("impl", ["fastprep", "numpy_loop", "numpy_full_slice"])
@pytest.mark.parametrize("lengths", LENGTHS, ids=lambda r: f"len{r[0]}-{r[1]}")
@pytest.mark.parametrize("batch", BATCHES, ids=lambda b: f"B{b}")
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_pack(benchmark, small, function, batch, lengths, impl):
    if impl == "fastprep" and "native" not in fastprep.available_backends():
        pytest.skip("native extension not built")
    if small:  # --benchmark-disable: run each body once on a tiny batch
        batch, lengths = min(batch, 8), (min(lengths[0], 16), min(lengths[1], 64))
    seqs = dataset(batch, *lengths)
    call = FUNCTIONS[function][impl]
    group = f"{function} B={batch} len={lengths[0]}..{lengths[1]}"
    benchmark.group = group
    out = benchmark(call, seqs)
    reference = FUNCTIONS[function]["numpy_loop"](seqs)
    nbytes = bytes_moved(seqs, out)
    benchmark.extra_info.update(implementation=impl, correct=same_arrays(out, reference), bytes_moved=nbytes)
    if impl == "fastprep":
        benchmark.extra_info["kernel"] = kernel_name()
    assert benchmark.extra_info["correct"], f"{impl} {group}: arrays differ from the NumPy loop"
    if benchmark.stats is not None and not small:
        median = benchmark.stats.stats.median
        benchmark.extra_info["GB/s"] = round(nbytes / median / 1e9, 3)
        benchmark.extra_info["pct_of_memcpy"] = round(100 * nbytes / median / 1e9 / memcpy_rate(), 1)
        _summary.append((group, impl, median, nbytes))


@pytest.mark.parametrize("impl", ["fastprep", "numpy_loop", "numpy_full_slice"])
@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_pack_from_python_lists(benchmark, small, function, impl):
    """Token ids as Python lists (what tokenizers return): conversion dominates everyone's time."""
    if impl == "fastprep" and "native" not in fastprep.available_backends():
        pytest.skip("native extension not built")
    batch, lengths = (8, (16, 64)) if small else (512, (64, 1024))
    seqs = [s.tolist() for s in dataset(batch, *lengths)]
    group = f"{function} lists B={batch} len={lengths[0]}..{lengths[1]}"
    benchmark.group = group
    out = benchmark(FUNCTIONS[function][impl], seqs)
    reference = FUNCTIONS[function]["numpy_loop"]([np.array(s, np.int32) for s in seqs])
    benchmark.extra_info.update(implementation=impl, correct=same_arrays(out, reference))
    assert benchmark.extra_info["correct"], f"{impl} {group}: arrays differ from the NumPy loop"
    if benchmark.stats is not None and not small:
        _summary.append((group, impl, benchmark.stats.stats.median,
                         sum(a.nbytes for a in out.values() if isinstance(a, np.ndarray))))


@pytest.mark.parametrize("function", list(FUNCTIONS))
def test_speedup_taking_turns(small, function):
    """fastprep against numpy_loop in alternating blocks of calls (same batch, each block's
    outputs kept alive until the next block of the same side, as pytest-benchmark's loop does),
    for B=512, 64..1024 tokens: the ratio per block, robust to slow phases of the machine."""
    import time

    if "native" not in fastprep.available_backends():
        pytest.skip("native extension not built")
    batch, lengths = (8, (16, 64)) if small else (512, (64, 1024))
    seqs = dataset(batch, *lengths)
    fast, loop = FUNCTIONS[function]["fastprep"], FUNCTIONS[function]["numpy_loop"]
    assert same_arrays(fast(seqs), loop(seqs)), f"{function}: arrays differ from the NumPy loop"
    blocks, calls = (2, 1) if small else (201, 10)
    ratios = []
    kept = {}
    for b in range(blocks):
        times = {}
        for name, fn in ((("fastprep", fast), ("numpy_loop", loop)) if b % 2 == 0 else
                         (("numpy_loop", loop), ("fastprep", fast))):
            start = time.perf_counter()
            for _ in range(calls):
                kept[name] = fn(seqs)
            times[name] = time.perf_counter() - start
        ratios.append(times["numpy_loop"] / times["fastprep"])
    if not small:
        q = np.percentile(ratios, [50, 10, 90])
        _turns.append((f"{function} B={batch} len={lengths[0]}..{lengths[1]}", blocks, *map(float, q)))
