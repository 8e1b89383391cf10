"""Implementations for the BPE benchmark suites: fastprep (native) and the installed peers.

The adapters themselves live in ``fastprep.bench`` (shared with ``fastprep bench``); this module
caches one instance per (implementation, encoding) for the pytest session and turns "not
installed / not available" into a pytest skip with the reason.
"""
from __future__ import annotations

import functools
import hashlib
import warnings
from array import array
from typing import Optional

import pytest

with warnings.catch_warnings():
    # An unbuilt native extension makes `import fastprep` warn; the fastprep adapter then
    # reports itself unavailable instead of benchmarking the Python fallback.
    warnings.simplefilter("ignore")
    from fastprep import bench

IMPL_NAMES = bench.IMPL_NAMES
Impl = bench.Impl


@functools.lru_cache(maxsize=None)
def _build(name: str, encoding: str):
    try:
        impls, missing = bench.make_impls(encoding, [name])
    except Exception as exc:  # a broken peer install must not take the other columns down
        return None, f"{type(exc).__name__}: {exc}"
    return (impls[0], None) if impls else (None, missing[name])


def get(name: str, encoding: str) -> Impl:
    """The session's instance of implementation ``name`` for ``encoding``, or a pytest skip."""
    impl, why = _build(name, encoding)
    if impl is None:
        pytest.skip(f"{name} unavailable for {encoding}: {why}")
    return impl


@functools.lru_cache(maxsize=None)
def reference(encoding: str):
    """tiktoken's Encoding (the ids every implementation must reproduce), or None."""
    try:
        return bench.reference_encoding(encoding)
    except bench.Unavailable:
        return None


# Reference ids per (encoding, text digest), so the four implementations' benchmarks of the same
# input pay for the reference once. Stored compactly; outputs compare against array('I', ids).
_REFERENCE_IDS: dict[tuple[str, bytes], tuple[array, str]] = {}


def reference_ids(encoding: str, text: str) -> tuple[Optional[array], str]:
    """tiktoken's ids for ``text`` and "tiktoken"; where tiktoken itself fails (o200k_base on
    1,000,000 spaces overflows its regex stack) another peer's ids and which one; (None, "none")."""
    key = (encoding, hashlib.sha1(text.encode("utf-8", "surrogatepass")).digest())
    if key not in _REFERENCE_IDS:
        found: tuple[Optional[array], str] = (None, "none")
        ref = reference(encoding)
        candidates = [("tiktoken", ref.encode_ordinary)] if ref is not None else []
        for name in ("rs-bpe", "hf-tokenizers"):
            impl, _why = _build(name, encoding)
            if impl is not None:
                source = f"{name} (tiktoken failed)" if ref is not None else name
                candidates.append((source, impl.encode))
        for source, encode in candidates:
            try:
                found = (array("I", encode(text)), source)
                break
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:  # noqa: B036 - pyo3's PanicException is a BaseException
                continue
        _REFERENCE_IDS[key] = found
    return _REFERENCE_IDS[key]
