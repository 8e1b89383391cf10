"""Chooses, once per process, whether fastprep runs its native kernels or the pure-Python reference.

``FASTPREP_BACKEND=python`` forces the fallback; ``FASTPREP_BACKEND=native`` makes a missing
extension an error instead of a warning. Anything else (or unset) means "native if it imports".
"""
from __future__ import annotations

import os
import warnings
from types import ModuleType
from typing import Optional

_BACKENDS = ("native", "python")


def _load_native() -> tuple[Optional[ModuleType], Optional[BaseException]]:
    try:
        from . import _core
    except ImportError as exc:  # the extension was not built or cannot load
        return None, exc
    return _core, None


_native, _native_error = _load_native()
_requested = os.environ.get("FASTPREP_BACKEND", "").strip().lower()

if _requested not in ("", "auto") + _BACKENDS:
    raise ImportError(
        f"FASTPREP_BACKEND={_requested!r} is not one of 'native', 'python', 'auto'"
    )
if _requested == "native" and _native is None:
    raise ImportError(
        f"FASTPREP_BACKEND=native but the extension fastprep._core failed to load: {_native_error}"
    )
if _requested == "python":
    _active = "python"
elif _native is not None:
    _active = "native"
else:
    _active = "python"
    warnings.warn(
        "fastprep's native extension is unavailable "
        f"({_native_error}); using the pure-Python fallback, which is much slower. "
        "Set FASTPREP_BACKEND=python to silence this warning.",
        RuntimeWarning,
        stacklevel=2,
    )


def backend() -> str:
    """The backend new objects use by default: ``"native"`` or ``"python"``."""
    return _active


def available_backends() -> tuple[str, ...]:
    """Backends that can be selected in this process (the fallback is always available)."""
    return ("native", "python") if _native is not None else ("python",)


def resolve(requested: Optional[str]) -> str:
    """Validates an explicit ``backend=`` argument, or returns the process default."""
    if requested is None:
        return _active
    if requested not in _BACKENDS:
        raise ValueError(f"backend must be 'native' or 'python', not {requested!r}")
    if requested == "native" and _native is None:
        raise RuntimeError(f"the native backend is unavailable: {_native_error}")
    return requested


def native_core() -> Optional[ModuleType]:
    """The ``fastprep._core`` module when the active backend is native, else None."""
    return _native if _active == "native" else None


def core_for(backend_name: str) -> Optional[ModuleType]:
    """The ``fastprep._core`` module for an explicitly resolved backend name, else None."""
    return _native if backend_name == "native" else None
