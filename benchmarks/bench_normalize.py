"""Unicode normalization speed: fastprep.normalize against unicodedata.normalize, per form and
per corpus file (tests/data/corpus; skipped when missing), plus the UTF-8 core on already-normal
text for the >= 1 GB/s quick-check figure.

Groups are "normalize <form> <file>". Implementations:

- ``fastprep``: ``fastprep.normalize.normalize`` on the process's default backend (a str is
  normalized from its own code-point storage; no UTF-8 round trip). Each round gets a fresh copy
  of the str (made outside the timing), so nothing cached on the object carries over;
- ``unicodedata``: the standard library (Unicode 14.0 on Python 3.11; the corpus only holds
  characters whose normalization is the same in 14.0 and fastprep's 15.0 -- checked below).

``extra_info`` records ``correct`` (output equals unicodedata's), ``same_object`` (the input was
returned unchanged), the UTF-8 size and, when timed, MB/s from the median. Under
``--benchmark-disable`` every body runs once on the first 20,000 characters.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from fastprep.normalize import FORMS, _normalize_utf8, normalize

CORPUS_DIR = Path(os.environ.get("FASTPREP_TEST_DATA", Path(__file__).resolve().parent.parent / "tests" / "data")) / "corpus"
CORPUS_FILES = ["en_prose.txt", "de_prose.txt", "ja_prose.txt", "py_code.txt"]
ROUNDS = 15

_summary: dict[str, dict[str, float]] = {}


def corpus(name: str, small: bool) -> str:
    path = CORPUS_DIR / name
    if not path.exists():
        pytest.skip(f"corpus file {path} not present")
    text = path.read_text(encoding="utf-8")
    return text[:20_000] if small else text


def record_rate(benchmark, nbytes: int, key: str, impl: str) -> None:
    benchmark.extra_info["utf8_bytes"] = nbytes
    stats = getattr(benchmark, "stats", None)
    if stats is not None and getattr(stats, "stats", None) is not None and stats.stats.median > 0:
        rate = nbytes / stats.stats.median / 1e6
        benchmark.extra_info["MB/s"] = round(rate, 1)
        _summary.setdefault(key, {})[impl] = rate


@pytest.mark.parametrize("name", CORPUS_FILES)
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("impl", ["fastprep", "unicodedata"])
def test_normalize_corpus(benchmark, small, impl, form, name):
    text = corpus(name, small)
    assert all(unicodedata.category(c) != "Cn" for c in set(text)), "corpus has code points new since 14.0"
    benchmark.group = f"normalize {form} {name}"
    if impl == "fastprep":
        def run(t):
            return normalize(t, form)
    else:
        def run(t):
            return unicodedata.normalize(form, t)
    holder = {}

    def fresh():
        holder["input"] = text[:-1] + text[-1:]  # a new object, nothing cached on it
        return (holder["input"],), {}

    result = benchmark.pedantic(run, setup=fresh, rounds=1 if small else ROUNDS, iterations=1)
    benchmark.extra_info["correct"] = result == unicodedata.normalize(form, text)
    benchmark.extra_info["same_object"] = result is holder["input"]
    record_rate(benchmark, len(text.encode("utf-8")), f"{form} {name}", impl)
    assert benchmark.extra_info["correct"]


@pytest.mark.parametrize("name, form", [
    ("py_code.txt", "NFC"), ("py_code.txt", "NFKC"), ("en_prose.txt", "NFC"), ("de_prose.txt", "NFC"),
    ("ja_prose.txt", "NFC"), ("ja_prose.txt", "NFKC"),
])
def test_quick_check_utf8_core(benchmark, small, name, form):
    """The C++ core on UTF-8 bytes (what the tokenizer pipeline calls): a validating quick-check
    scan, returning the same bytes object when the text is already normal."""
    data = corpus(name, small).encode("utf-8")
    benchmark.group = "normalize already-normal UTF-8 (core)"
    result = benchmark.pedantic(_normalize_utf8, args=(data, form), rounds=1 if small else 50, iterations=1)
    expected = unicodedata.normalize(form, data.decode("utf-8")).encode("utf-8")
    benchmark.extra_info["correct"] = result == expected
    benchmark.extra_info["same_object"] = result is data
    record_rate(benchmark, len(data), f"utf8 {form} {name}", "fastprep")
    assert benchmark.extra_info["correct"]


def teardown_module(module):
    if not _summary:
        return
    print("\nnormalize MB/s (UTF-8 bytes / median)      fastprep   unicodedata   speedup")
    for key, rates in _summary.items():
        f, u = rates.get("fastprep"), rates.get("unicodedata")
        speed = f"{f / u:8.1f}x" if f and u else ""
        print(f"  {key:38s} {f or 0:12.0f} {u or 0:12.0f} {speed}")
