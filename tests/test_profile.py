"""`fastprep profile` on small inputs: stages, throughput and latency, text and JSON."""
from __future__ import annotations

import io
import json

import pytest

from fastprep import cli, profile

from conftest import CORPUS_DIR, VOCAB_DIR, corpus_text


@pytest.fixture
def small_input(tmp_path):
    path = tmp_path / "input.txt"
    path.write_text(corpus_text("en_prose.txt", 60_000) + corpus_text("ja_prose.txt", 20_000),
                    encoding="utf-8")
    return path


def test_json_report(small_input, capsys):
    rc = cli.main(["profile", "--tokenizer", "cl100k_base", "--input", str(small_input),
                   "--json", "--requests", "40", "--sizes", "mixed", "--threads", "2"])
    assert rc == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar with --json
    rep = json.loads(captured.out)
    assert rep["requests"] == 40 and rep["tokens"] > 0
    assert set(rep["stages"]) == {"normalize", "pretokenize", "model", "pack"}
    assert rep["stages"]["normalize"]["seconds"] is None  # tiktoken encodings do not normalize
    shares = [s["share"] for s in rep["stages"].values() if s["seconds"] is not None]
    assert abs(sum(shares) - 1.0) < 1e-9
    lat = rep["latency_ms"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["max"]
    assert rep["sequential"]["tokens_per_s"] > 0 and rep["batch"]["tokens_per_s"] > 0
    assert rep["batch"]["threads"] == 2


def test_text_report(small_input, capsys):
    rc = cli.main(["profile", "--input", str(small_input), "--requests", "20", "--sizes", "chat"])
    assert rc == 0
    out = capsys.readouterr().out
    for word in ("pretokenize", "model", "pack", "tokens/s", "p99"):
        assert word in out


def test_request_sizes_follow_the_distribution():
    text = "abc def\n" * 10_000
    chat = profile.draw_requests(text, 200, "chat", seed=1)
    assert all(200 <= len(r) <= 2_000 for r in chat)
    rag = profile.draw_requests(text, 5, "rag", seed=1)
    assert all(50_000 <= len(r.encode()) <= 400_000 for r in rag)  # longer than the text: repeated
    mixed = profile.draw_requests(text, 300, "mixed", seed=2)
    big = sum(len(r) > 2_000 for r in mixed)
    assert 10 <= big <= 60
    assert profile.draw_requests(text, 50, "mixed", seed=3) == profile.draw_requests(text, 50, "mixed", seed=3)


def test_hf_tokenizer_file(small_input, capsys):
    path = VOCAB_DIR / "bert_minilm_uncased.json"
    if not path.exists():
        pytest.skip("no tokenizer.json test file")
    rc = cli.main(["profile", "--tokenizer", str(path), "--input", str(small_input), "--json",
                   "--requests", "8", "--sizes", "chat"])
    assert rc == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["stages"]["normalize"]["seconds"] is not None
    assert rep["stages"]["pretokenize"]["seconds"] is not None


def test_progress_bar():
    stream = io.StringIO()
    bar = profile.Progress(3, "profiling", True, stream=stream)
    for _ in range(3):
        bar.update()
    bar.close()
    out = stream.getvalue()
    assert "\rprofiling [" in out and "3/3" in out and out.endswith("\n")
    silent = io.StringIO()
    off = profile.Progress(3, "x", False, stream=silent)
    off.update()
    off.close()
    assert silent.getvalue() == ""


def test_bad_arguments(small_input, capsys):
    assert cli.main(["profile", "--tokenizer", "nope", "--input", str(small_input)]) == 2
    assert "nope" in capsys.readouterr().err
    assert cli.main(["profile", "--input", str(CORPUS_DIR / "missing.txt")]) == 2
