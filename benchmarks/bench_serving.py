"""The serving replay (benchmarks/serving_replay.py) at CI size: a 1-second, low-rate trace.

Asserts only what holds on any machine: every request completes, and fastprep's packed ids
equal tiktoken's for each replayed request. Timing figures come from running the script itself.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().with_name("serving_replay.py")


def _load_replay():
    spec = importlib.util.spec_from_file_location("serving_replay", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("serving_replay", module)
    spec.loader.exec_module(module)
    return module


def test_serving_replay_small(encoding):
    pytest.importorskip("tiktoken")
    import fastprep

    if fastprep.backend() != "native":
        pytest.skip("the replay measures the native backend")
    replay = _load_replay()
    if not replay.CORPUS.is_dir():
        pytest.skip("no corpus")
    rep = replay.replay(("fastprep", "tiktoken"), duration=1.0, rate=20.0, seed=0,
                        encoding=encoding, keep_ids=True, rag=(50_000, 120_000), drain_s=60.0)
    assert set(rep["results"]) == {"fastprep", "tiktoken"}, rep["skipped"]
    fp, tk = rep["results"]["fastprep"], rep["results"]["tiktoken"]
    assert fp["requests"] == tk["requests"] > 0
    assert fp["completed"] == fp["requests"] and tk["completed"] == tk["requests"]
    assert fp["ids"] == tk["ids"]
    assert rep["fastprep_p99_ratio"]  # the table's comparison is computed
    assert "fastprep" in replay.format_table(rep)
