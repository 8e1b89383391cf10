"""The CUDA packing kernels' per-element logic (cuda/pack_logic.cuh), run on the CPU.

cuda/tests/pack_logic_check.cpp calls the same __host__ __device__ functions the kernels call,
one loop iteration per CUDA thread; it is compiled here with the system C++ compiler and fed the
random ragged batches that fastprep.pack_padded / pack_varlen see. Outputs and error detection
must match every backend exactly. Skips when no C++ compiler is installed.
"""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import fastprep
from fastprep.pack import pack_padded, pack_varlen

from conftest import REPO_ROOT

CUDA_DIR = REPO_ROOT / "cuda"
BACKENDS = fastprep.available_backends()


def _compiler():
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="module")
def logic_check(tmp_path_factory):
    cxx = _compiler()
    if cxx is None:
        pytest.skip("no C++ compiler (CXX, c++, g++ or clang++) on PATH")
    exe = tmp_path_factory.mktemp("cuda_logic") / "pack_logic_check"
    source = CUDA_DIR / "tests" / "pack_logic_check.cpp"
    cmd = [cxx, "-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", str(source), "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return exe


def _case_line(mode, flat, offsets, in_wide, wide, pad_id=0, pad_left=False, max_length=0,
               truncate_left=False, multiple=1) -> str:
    head = f"{mode} {int(in_wide)} {int(wide)} {pad_id} {int(pad_left)} {max_length} "
    head += f"{int(truncate_left)} {multiple}"
    return "\n".join([
        head,
        " ".join(map(str, [len(flat), *np.asarray(flat).tolist()])),
        " ".join(map(str, [len(offsets), *np.asarray(offsets).tolist()])),
    ])


def _run(exe, cases: list[str]) -> list[dict]:
    done = subprocess.run([str(exe)], input="\n".join(cases) + "\n", capture_output=True,
                          text=True, check=True)
    results, current = [], {}
    for line in done.stdout.splitlines():
        key, *values = line.split()
        if key == "end":
            results.append(current)
            current = {}
        else:
            current[key] = [int(v) for v in values]
    assert len(results) == len(cases)
    return results


def _random_batch(rng, in_wide: bool, wide: bool):
    n_seqs = int(rng.integers(1, 12))
    lengths = rng.integers(0, 20, size=n_seqs)
    if rng.random() < 0.2:
        lengths[:] = 0
    hi = (2**63 - 1 if wide else 2**31 - 1) if in_wide else 2**31 - 1
    flat = rng.integers(0, min(hi, 2**62), size=int(lengths.sum()), dtype=np.int64)
    if rng.random() < 0.5:
        flat %= 50_000
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return flat.astype(np.int64 if in_wide else np.int32), offsets


@pytest.mark.parametrize("backend", BACKENDS)
def test_padded_logic_matches_pack_padded(logic_check, backend):
    rng = np.random.default_rng(1234)
    cases, expected = [], []
    for _ in range(300):
        in_wide, wide = bool(rng.integers(2)), bool(rng.integers(2))
        flat, offsets = _random_batch(rng, in_wide, wide)
        opts = dict(
            pad_id=int(rng.choice([0, 7, 2**31 - 1])),
            pad_left=bool(rng.integers(2)),
            max_length=int(rng.choice([0, 1, 3, 8])),
            truncate_left=bool(rng.integers(2)),
            multiple=int(rng.choice([1, 2, 8])),
        )
        cases.append(_case_line("padded", flat, offsets, in_wide, wide, **opts))
        expected.append(pack_padded(
            (flat, offsets), pad_id=opts["pad_id"], side="left" if opts["pad_left"] else "right",
            max_length=opts["max_length"] or None,
            truncation_side="left" if opts["truncate_left"] else "right",
            pad_to_multiple_of=opts["multiple"], dtype=np.int64 if wide else np.int32,
            backend=backend,
        ))
    for got, want in zip(_run(logic_check, cases), expected):
        assert got["errors"] == [0]
        width = want["input_ids"].shape[1]
        assert got["width"] == [width]
        for key in ("input_ids", "attention_mask", "position_ids"):
            assert got[key] == want[key].ravel().tolist(), key


@pytest.mark.parametrize("backend", BACKENDS)
def test_varlen_logic_matches_pack_varlen(logic_check, backend):
    rng = np.random.default_rng(99)
    cases, expected = [], []
    for _ in range(300):
        in_wide, wide = bool(rng.integers(2)), bool(rng.integers(2))
        flat, offsets = _random_batch(rng, in_wide, wide)
        max_length, truncate_left = int(rng.choice([0, 1, 3, 8])), bool(rng.integers(2))
        cases.append(_case_line("varlen", flat, offsets, in_wide, wide, max_length=max_length,
                                truncate_left=truncate_left))
        expected.append(pack_varlen(
            (flat, offsets), max_length=max_length or None,
            truncation_side="left" if truncate_left else "right",
            dtype=np.int64 if wide else np.int32, backend=backend,
        ))
    for got, want in zip(_run(logic_check, cases), expected):
        assert got["errors"] == [0]
        for key in ("input_ids", "cu_seqlens", "position_ids"):
            assert got[key] == want[key].tolist(), key
        assert got["max_seqlen"] == [want["max_seqlen"]]


# (flat, offsets, wide, error bits the scan must raise); the CPU path raises ValueError for each.
BAD_BATCHES = [
    ([1, 2, 3], [1, 3], True, 1),          # offsets do not start at 0
    ([1, 2, 3], [0, 2, 1, 3], True, 1),    # decreasing
    ([1, 2, 3], [0, 4], True, 1),          # past the end
    ([1, 2, 3], [0, 2], True, 1),          # stops short of the end
    ([1, 2, 3], [0], True, 1),             # no sequences, ids left over
    ([1, -2, 3], [0, 3], True, 2),         # negative id
    ([1, 2**31, 3], [0, 1, 3], False, 2),  # id beyond int32 output
    ([-1, 2], [0, 3], True, 3),            # both
]


@pytest.mark.parametrize("flat, offsets, wide, bits", BAD_BATCHES)
def test_scan_flags_what_the_cpu_path_rejects(logic_check, flat, offsets, wide, bits):
    flat, offsets = np.array(flat, dtype=np.int64), np.array(offsets, dtype=np.int64)
    for mode in ("padded", "varlen"):
        (got,) = _run(logic_check, [_case_line(mode, flat, offsets, True, wide)])
        assert got["errors"] == [bits]
        with pytest.raises(ValueError):
            dtype = np.int64 if wide else np.int32
            if mode == "padded":
                pack_padded((flat, offsets), pad_id=0, dtype=dtype)
            else:
                pack_varlen((flat, offsets), dtype=dtype)


def test_scan_accepts_the_empty_batch_offsets_but_reports_nothing(logic_check):
    # offsets [0] with no ids is well-formed; the host then raises "empty batch" as the CPU does.
    (got,) = _run(logic_check, [_case_line("padded", np.zeros(0, np.int64), [0], True, True)])
    assert got == {"errors": [0]}
    with pytest.raises(ValueError, match="empty batch"):
        pack_padded((np.zeros(0, np.int64), np.array([0])), pad_id=0)
