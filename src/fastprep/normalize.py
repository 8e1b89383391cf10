"""Unicode normalization (NFC, NFD, NFKC, NFKD), the normalizer stage of the pipeline.

``normalize(text, form)`` matches ``unicodedata.normalize(form, text)`` for the Unicode version of
fastprep's tables (15.0.0; Python 3.11's ``unicodedata`` is 14.0.0, so the two differ only on code
points whose data changed since). Text that is already normal -- including all ASCII -- is
returned as the same object, without a copy. Lone surrogates (e.g. from
``"\\udc80"`` or ``errors="surrogateescape"`` decoding) are not valid Unicode and raise ValueError.
"""
from __future__ import annotations

from typing import List, Optional, overload

from . import _backend
from ._fallback import normalize as _reference

FORMS = ("NFC", "NFD", "NFKC", "NFKD")
_FORM_SET = frozenset(FORMS)
UNICODE_VERSION = _reference.UNICODE_VERSION

__all__ = ["FORMS", "UNICODE_VERSION", "is_normalized", "normalize"]


def _check_form(form: object) -> str:
    if not isinstance(form, str):
        raise TypeError(f"normalize: form must be a str, not {type(form).__name__}")
    if form not in FORMS:
        raise ValueError(f"normalize: form must be 'NFC', 'NFD', 'NFKC' or 'NFKD', not {form!r}")
    return form


@overload
def normalize(text_or_texts: str, form: str = ..., *, backend: Optional[str] = ...) -> str: ...
@overload
def normalize(text_or_texts: List[str], form: str = ..., *, backend: Optional[str] = ...) -> List[str]: ...


def normalize(text_or_texts, form="NFC", *, backend=None):
    """Normalizes a str, or a list of str in one call, into ``form``.

    Returns the input object itself for text that is already normal. ``backend`` ("native" or
    "python") overrides the process default chosen by ``FASTPREP_BACKEND``.
    """
    if (text_or_texts.__class__ is str and backend is None and text_or_texts.isascii()
            and form.__class__ is str and form in _FORM_SET):
        return text_or_texts  # ASCII is normal in every form: answer before any dispatch (O(1))
    form = _check_form(form)
    core = _backend.core_for(_backend.resolve(backend))
    if isinstance(text_or_texts, str):
        if core is not None:
            return core.normalize_str(text_or_texts, form)
        return _reference.normalize(text_or_texts, form)
    if isinstance(text_or_texts, (list, tuple)):
        texts = list(text_or_texts)
        if core is not None:
            return core.normalize_list(texts, form)
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"normalize: texts[{i}] must be str, not {type(text).__name__}")
            _reference.check_no_surrogates(text, f"texts[{i}] ")
            out.append(_reference.normalize(text, form))
        return out
    raise TypeError(
        f"normalize: expected a str or a list of str, not {type(text_or_texts).__name__}"
    )


if _backend._native is not None:
    # The same function behind a C entry point that answers ASCII str at C speed (the common
    # case for code and English; a Python-level call would cost ~4x unicodedata.normalize's).
    normalize = _backend._native.make_normalize_entry(
        normalize, "normalize(text_or_texts, form='NFC', *, backend=None)\n--\n\n"
        + (normalize.__doc__ or "").strip())


def is_normalized(text: str, form: str = "NFC", *, backend: Optional[str] = None) -> bool:
    """Whether ``text`` is already in ``form`` (like ``unicodedata.is_normalized``)."""
    form = _check_form(form)
    if not isinstance(text, str):
        raise TypeError(f"is_normalized: text must be a str, not {type(text).__name__}")
    core = _backend.core_for(_backend.resolve(backend))
    if core is not None:
        return core.is_normalized(text, form)
    return _reference.is_normalized(text, form)


def _normalize_utf8(data: bytes, form: str = "NFC", *, backend: Optional[str] = None) -> bytes:
    """UTF-8 bytes in, UTF-8 bytes out (the core's own interface; used by benchmarks and tests)."""
    form = _check_form(form)
    core = _backend.core_for(_backend.resolve(backend))
    if core is not None:
        return core.normalize_utf8(data, form)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"normalize: invalid UTF-8 at byte offset {exc.start}") from None
    out = _reference.normalize(text, form)
    return data if out is text else out.encode("utf-8")
