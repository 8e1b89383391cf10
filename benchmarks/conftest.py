"""pytest setup for the benchmark suites: collects ``bench_*.py``, parametrizes encodings.

Run ``pytest benchmarks/`` for timings, or ``pytest benchmarks/ --benchmark-disable`` to execute
every body (and its correctness check) once with small inputs, as CI does.
"""
from __future__ import annotations

import os

import pytest

# HF tokenizers sizes its thread pool once, at first use; the batch benchmark compares 2 threads.
os.environ.setdefault("RAYON_NUM_THREADS", "2")


def pytest_addoption(parser):
    parser.addoption(
        "--bench-encodings",
        default="cl100k_base,o200k_base",
        help="comma-separated encodings for the BPE benchmarks (default: cl100k_base,o200k_base)",
    )


def pytest_collect_file(file_path, parent):
    # pytest collects test_*.py; a bench_*.py named on the command line it collects by itself.
    if file_path.suffix == ".py" and file_path.name.startswith("bench_") \
            and not parent.session.isinitpath(file_path):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


def pytest_generate_tests(metafunc):
    if "encoding" in metafunc.fixturenames:
        option = metafunc.config.getoption("bench_encodings")
        names = [e.strip() for e in option.split(",") if e.strip()]
        metafunc.parametrize("encoding", names)


@pytest.fixture
def small(request) -> bool:
    """True under --benchmark-disable: each body runs once, so keep inputs tiny."""
    return bool(request.config.getoption("benchmark_disable"))
