"""The ``fastprep`` command line: ``fastprep bench`` at its smallest settings (a few seconds), its
three suites (bpe, hf, normalize) and their selection with ``--suite``."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastprep
from fastprep import bench, cli

BERT_JSON = Path(__file__).resolve().parent / "data" / "vocab" / "bert_minilm_uncased.json"


def _env_for_subprocess() -> dict:
    # The child must import the same fastprep as this process (installed, or a source checkout).
    package_parent = str(Path(os.path.abspath(importlib.util.find_spec("fastprep").origin)).parent.parent)
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
    # The default run: all three suites.
    proc = subprocess.run(
        [sys.executable, "-m", "fastprep", "bench", "--quick", "--encoding", "cl100k_base"],
        capture_output=True, text=True, timeout=120, env=_env_for_subprocess(),
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for heading in ("machine:", "##### bpe", "=== cl100k_base ===", "Cold throughput",
                    "Short-call latency", "One long prompt", "Worst cases", "Batch throughput",
                    "##### hf", "##### normalize", "Normalization, a distinct chunk",
                    "Already-normal text through NFC"):
        assert heading in out, out
    if bench.vocab_dir() is not None:
        for name in bench.HF_FILES:
            assert f"=== {name} (" in out, out
    header = next(line for line in out.splitlines() if line.strip().startswith("case"))
    assert "vs best peer" in header and "correctness" in header
    if fastprep.backend() == "native":
        assert "fastprep" in header, out
        assert "vs tiktoken path" in out, out
    # A peer may differ (blingfire outside English); fastprep may not.
    differs = [line for line in out.splitlines() if "DIFFERS" in line]
    assert not [line for line in differs if "fastprep " in line.split("DIFFERS", 1)[1]], out


def test_bench_json_records_correctness(capsys, monkeypatch):
    monkeypatch.setenv("RAYON_NUM_THREADS", "2")
    rc = cli.main(["bench", "--quick", "--json", "--suite", "bpe", "--workload", "short,worst",
                   "--impl", "fastprep,tiktoken", "--encoding", "cl100k_base"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert {"machine", "settings", "encodings", "seconds", "suites"} <= set(report)
    assert report["suites"] == ["bpe"]
    assert report["hf"] is None and report["normalize"] is None
    (enc,) = report["encodings"]
    assert enc["encoding"] == "cl100k_base"
    assert {row["workload"] for row in enc["rows"]} == {"short", "worst"}
    if fastprep.backend() == "native" and "tiktoken" in enc["implementations"]:
        assert all("fastprep" in row["values"] and not row["mismatches"] for row in enc["rows"])


def test_bench_bundled_sample_has_the_four_corpus_files(capsys, monkeypatch):
    # The sample shipped in the package stands in for the corpus on machines without it.
    monkeypatch.setenv("RAYON_NUM_THREADS", "2")
    rc = cli.main(["bench", "--quick", "--json", "--bundled-sample", "--workload", "cold",
                   "--impl", "fastprep,tiktoken", "--suite", "bpe"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["text_source"].startswith("bundled sample")
    (enc,) = report["encodings"]
    assert [row["case"] for row in enc["rows"]] == ["en_prose", "de_prose", "ja_prose", "py_code"]


def test_bench_rejects_unknown_implementation(capsys):
    assert cli.main(["bench", "--quick", "--impl", "nope"]) == 2
    assert "nope" in capsys.readouterr().err


def test_bench_suite_option_parses():
    parser = cli.build_parser()
    assert parser.parse_args(["bench"]).suite == ["bpe", "hf", "normalize"]
    assert parser.parse_args(["bench", "--suite", "hf, normalize"]).suite == ["hf", "normalize"]
    assert parser.parse_args(["bench", "--suite", "normalize"]).suite == ["normalize"]


@pytest.mark.parametrize("suite", ["nope", "bpe,nope", ","])
def test_bench_rejects_unknown_suite(capsys, suite):
    assert cli.main(["bench", "--quick", "--suite", suite]) == 2
    err = capsys.readouterr().err
    assert ("nope" in err) if "nope" in suite else ("(none given)" in err)


def test_bench_rejects_missing_hf_file(capsys, tmp_path):
    missing = tmp_path / "nope.json"
    assert cli.main(["bench", "--quick", "--suite", "hf", "--hf-file", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.skipif(not BERT_JSON.is_file(), reason="tests/data/vocab not present")
def test_bench_json_hf_and_normalize_suites(capsys, monkeypatch):
    monkeypatch.setenv("RAYON_NUM_THREADS", "2")
    rc = cli.main(["bench", "--quick", "--json", "--suite", "normalize,hf",
                   "--hf-file", str(BERT_JSON)])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert report["suites"] == ["hf", "normalize"] and report["encodings"] == []
    (block,) = report["hf"]["files"]
    assert block["file"] == "bert_minilm_uncased"
    workloads = [row["workload"] for row in block["rows"]]
    assert workloads == ["hf_cold"] * len(bench.CORPUS_NAMES) + ["hf_short"]
    norm = report["normalize"]
    assert [row["case"] for row in norm["rows"]][:2] == ["NFC en_prose", "NFC de_prose"]
    assert len(norm["rows"]) == len(bench.NORMALIZE_FORMS) * len(bench.CORPUS_NAMES) + 1
    assert norm["rows"][-1]["workload"] == "normalize_quick"
    assert all(row["checked"] for row in norm["rows"])  # unicodedata is always there
    if fastprep.backend() != "native":
        return
    impls = block["implementations"]
    assert impls["fastprep-tiktoken"]["speed_only"] and not impls["fastprep"]["speed_only"]
    for row in block["rows"] + norm["rows"]:
        assert "fastprep" in row["values"], row
        assert "fastprep" not in row["mismatches"], row
        assert "fastprep-tiktoken" not in row["mismatches"], row  # another vocabulary: unchecked
    if "hf-tokenizers" in impls:
        assert all(row["checked"] for row in block["rows"])


def test_bench_hf_suite_without_vocab_files_is_skipped(capsys, monkeypatch):
    # An installed package has no tests/data/vocab: the suite says so instead of failing.
    monkeypatch.setattr(bench, "vocab_dir", lambda: None)
    assert cli.main(["bench", "--quick", "--suite", "hf"]) == 0
    out = capsys.readouterr().out
    assert "##### hf" in out and "(skipped: no tests/data/vocab here" in out
