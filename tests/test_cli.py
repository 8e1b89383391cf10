"""The ``fastprep`` command line: ``fastprep bench`` at its smallest settings (a few seconds)."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastprep
from fastprep import cli


def _env_for_subprocess() -> dict:
    # The child must import the same fastprep as this process (installed, or a source checkout).
    package_parent = str(Path(importlib.util.find_spec("fastprep").origin).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH")) if p)
    return env


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    assert "bench" in capsys.readouterr().out


def test_subcommand_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2


def test_bench_quick_prints_table():
    proc = subprocess.run(
        [sys.executable, "-m", "fastprep", "bench", "--quick", "--encoding", "cl100k_base"],
        capture_output=True, text=True, timeout=120, env=_env_for_subprocess(),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for heading in ("machine:", "=== cl100k_base ===", "Cold throughput", "Short-call latency",
                    "One long prompt", "Worst cases", "Batch throughput"):
        assert heading in out, out
    header = next(line for line in out.splitlines() if line.strip().startswith("case"))
    assert "vs best peer" in header and "correctness" in header
    if fastprep.backend() == "native":
        assert "fastprep" in header, out
    assert "DIFFERS" not in out, out


def test_bench_json_records_correctness(capsys, monkeypatch):
    monkeypatch.setenv("RAYON_NUM_THREADS", "2")
    rc = cli.main(["bench", "--quick", "--json", "--workload", "short,worst",
                   "--impl", "fastprep,tiktoken", "--encoding", "cl100k_base"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert {"machine", "settings", "encodings", "seconds"} <= set(report)
    (enc,) = report["encodings"]
    assert enc["encoding"] == "cl100k_base"
    assert {row["workload"] for row in enc["rows"]} == {"short", "worst"}
    if fastprep.backend() == "native" and "tiktoken" in enc["implementations"]:
        assert all("fastprep" in row["values"] and not row["mismatches"] for row in enc["rows"])


def test_bench_bundled_sample_has_the_four_corpus_files(capsys, monkeypatch):
    # The sample shipped in the package stands in for the corpus on machines without it.
    monkeypatch.setenv("RAYON_NUM_THREADS", "2")
    rc = cli.main(["bench", "--quick", "--json", "--bundled-sample", "--workload", "cold",
                   "--impl", "fastprep,tiktoken"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["text_source"].startswith("bundled sample")
    (enc,) = report["encodings"]
    assert [row["case"] for row in enc["rows"]] == ["en_prose", "de_prose", "ja_prose", "py_code"]


def test_bench_rejects_unknown_implementation(capsys):
    assert cli.main(["bench", "--quick", "--impl", "nope"]) == 2
    assert "nope" in capsys.readouterr().err
