"""Shared fixtures: every test runs against every available backend; peers via importorskip."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import fastprep

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FASTPREP_TEST_DATA", Path(__file__).resolve().parent / "data"))
CORPUS_DIR = DATA_DIR / "corpus"  # ~1 MB each of English, German, Japanese prose and Python code
VOCAB_DIR = DATA_DIR / "vocab"  # HF tokenizer.json files (see data/README.md)
CORPUS_FILES = ["en_prose.txt", "de_prose.txt", "ja_prose.txt", "py_code.txt"]
ENCODING_NAMES = ["cl100k_base", "o200k_base", "p50k_base"]


@pytest.fixture(params=fastprep.available_backends())
def backend(request) -> str:
    return request.param


def corpus_text(name: str, limit: int | None = None) -> str:
    path = CORPUS_DIR / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not present")
    text = path.read_text(encoding="utf-8")
    return text if limit is None else text[:limit]


_reference_cache: dict[str, object] = {}


def tiktoken_reference(name: str):
    """tiktoken's own Encoding for a built-in encoding, built offline from the bundled rank file."""
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    enc = _reference_cache.get(name)
    if enc is None:
        path, pattern, specials = fastprep.encodings.encoding_spec(name)
        enc = tiktoken.Encoding(
            "ref_" + name,
            pat_str=pattern,
            mergeable_ranks=load_tiktoken_bpe(path),
            special_tokens=specials,
        )
        _reference_cache[name] = enc
    return enc
