"""Built-in tiktoken encodings (cl100k_base, o200k_base, p50k_base), loaded offline from the
rank files bundled in ``fastprep/data`` and cached once per process."""
from __future__ import annotations

import os
import threading
from typing import Optional

from . import _backend
from ._patterns import CL100K_PATTERN, O200K_PATTERN, R50K_PATTERN
from .tokenizer import Tokenizer

_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# name -> (rank file, pattern, special tokens); as published in tiktoken's openai_public.py.
_ENCODINGS: dict[str, tuple[str, str, dict[str, int]]] = {
    "cl100k_base": (
        "cl100k_base.tiktoken",
        CL100K_PATTERN,
        {ENDOFTEXT: 100257, FIM_PREFIX: 100258, FIM_MIDDLE: 100259, FIM_SUFFIX: 100260,
         ENDOFPROMPT: 100276},
    ),
    "o200k_base": (
        "o200k_base.tiktoken",
        O200K_PATTERN,
        {ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    ),
    "p50k_base": (
        "p50k_base.tiktoken",
        R50K_PATTERN,
        {ENDOFTEXT: 50256},
    ),
}

_cache: dict[tuple[str, str], Tokenizer] = {}
_cache_lock = threading.Lock()


def list_encoding_names() -> list[str]:
    """Names accepted by :func:`get_encoding`."""
    return sorted(_ENCODINGS)


def encoding_spec(name: str) -> tuple[str, str, dict[str, int]]:
    """(rank file path, pattern, special tokens) of a built-in encoding."""
    try:
        filename, pattern, specials = _ENCODINGS[name]
    except KeyError:
        raise ValueError(
            f"Unknown encoding {name!r}. Plugins found: {list_encoding_names()}"
        ) from None
    return os.path.join(_DATA_DIR, filename), pattern, dict(specials)


def get_encoding(name: str, *, backend: Optional[str] = None) -> Tokenizer:
    """A built-in encoding, loaded offline and cached per process (and per backend)."""
    backend_name = _backend.resolve(backend)
    key = (name, backend_name)
    enc = _cache.get(key)
    if enc is not None:
        return enc
    with _cache_lock:
        enc = _cache.get(key)
        if enc is None:
            path, pattern, specials = encoding_spec(name)
            enc = Tokenizer.from_tiktoken(
                path, pattern=pattern, special_tokens=specials, name=name, backend=backend_name
            )
            enc._pickle_args = (name, backend_name)
            _cache[key] = enc
    return enc


def _unpickle_encoding(name: str, backend: str) -> Tokenizer:
    if backend not in _backend.available_backends():
        backend = None
    return get_encoding(name, backend=backend)
