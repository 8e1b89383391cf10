"""The GPU path: BERT WordPiece tokenization and packing with CuPy arrays in and out.

``fastprep.cuda`` is imported on demand (never by ``import fastprep``) and needs three things:
CuPy, the ``fastprep._cuda`` extension (built with ``pip install . -C
cmake.define.FASTPREP_CUDA=ON``) and a CUDA device. :func:`is_available` says whether all three
are there and :func:`why_unavailable` which one is missing; the packing functions raise
:class:`CudaUnavailableError` with the same reason.

The functions take the ragged pair ``(flat_ids, offsets)`` as CuPy arrays (or any object with
``__cuda_array_interface__``): sequence i is ``flat_ids[offsets[i]:offsets[i+1]]``. They return
exactly what :func:`fastprep.pack_padded` / :func:`fastprep.pack_varlen` return for the same
arrays on the host (same keys, shapes, dtypes and values), as CuPy arrays on the input's device,
computed on CuPy's current stream. Each call synchronizes once (to learn the output shape).
Invalid input raises the same exception, with the same message, as the CPU path: the kernels
only flag a problem, and the host then copies the batch back and lets the reference name it.

:func:`wordpiece_encode_batch` (and :class:`WordPieceEncoder`, which keeps a tokenizer's device
tables) tokenizes a batch of texts on the device for a tokenizer.json with BertNormalizer +
BertPreTokenizer + WordPiece; its ids equal the CPU path's (:meth:`fastprep.Tokenizer.
encode_batch`) for the same file. See its docstring for what it returns.
"""
from __future__ import annotations

import importlib.util
import struct
import weakref
from typing import Any, Optional

from . import pack as _pack
from .errors import Error, UnsupportedError

__all__ = [
    "CudaUnavailableError", "is_available", "why_unavailable", "pack_padded", "pack_varlen",
    "WordPieceEncoder", "wordpiece_encode_batch",
]

_INT64_MAX = 2**63 - 1
_INT32_MAX = 2**31 - 1
_BAD_OFFSETS, _BAD_IDS = 1, 2  # ScanError bits of cuda/pack_logic.cuh


class CudaUnavailableError(Error, RuntimeError):
    """fastprep.cuda was asked to run but CuPy, the _cuda extension or a CUDA device is missing."""


_status: Optional[tuple] = None  # (cupy, _cuda, reason); reason "" when available


def _probe() -> tuple:
    global _status
    if _status is not None:
        return _status
    missing = []
    try:
        import cupy
    except ImportError as exc:
        cupy = None
        missing.append(f"CuPy is not installed ({exc}): install cupy-cuda12x or cupy-cuda13x")
    try:
        from . import _cuda
    except ImportError as exc:
        _cuda = None
        if importlib.util.find_spec(f"{__package__}._cuda") is None:
            missing.append(
                "fastprep was built without its CUDA module fastprep._cuda: rebuild with "
                "pip install . -C cmake.define.FASTPREP_CUDA=ON (needs nvcc)"
            )
        else:
            missing.append(f"fastprep._cuda is installed but does not load ({exc})")
    if _cuda is not None:  # the device is checked through the CUDA runtime, CuPy or not
        count, error = _cuda.device_count()
        if count == 0:
            missing.append(
                "no CUDA device is visible"
                + (f" (CUDA runtime: {error})" if error else "")
            )
    _status = (cupy, _cuda, "; ".join(missing))
    return _status


def why_unavailable() -> str:
    """Why :mod:`fastprep.cuda` cannot run here ("" if it can): no CuPy, no fastprep._cuda
    extension, or no CUDA device; every missing piece is named."""
    return _probe()[2]


def is_available() -> bool:
    """True when CuPy, the fastprep._cuda extension and a CUDA device are all present."""
    return not why_unavailable()


def _require() -> tuple:
    cupy, core, reason = _probe()
    if reason:
        raise CudaUnavailableError(f"fastprep.cuda is unavailable: {reason}")
    return cupy, core


def _device_array(cupy, obj, name: str):
    if not hasattr(obj, "__cuda_array_interface__"):
        raise TypeError(
            f"{name}: expected a CuPy array (an object with __cuda_array_interface__), got "
            f"{type(obj).__name__}; use fastprep.pack_padded / pack_varlen for host arrays"
        )
    return cupy.asarray(obj)


def _ragged_on_device(cupy, flat_ids, offsets):
    """Checks ranks and dtypes as the CPU path does; returns (flat int32/int64, offsets int64)."""
    flat = _device_array(cupy, flat_ids, "flat_ids")
    offs = _device_array(cupy, offsets, "offsets")
    if flat.ndim != 1:
        raise TypeError(f"flat_ids: expected a 1-D array of ids, got a {flat.ndim}-D array")
    if flat.dtype.kind not in "iu":
        raise TypeError(f"flat_ids: expected integer ids, got dtype {flat.dtype}")
    if offs.ndim != 1:
        raise TypeError(f"offsets: expected a 1-D array, got a {offs.ndim}-D array")
    if offs.dtype.kind not in "iu":
        raise TypeError(f"offsets: expected integer offsets, got dtype {offs.dtype}")
    if offs.size == 0:
        raise ValueError("offsets is empty; it needs B+1 entries starting at 0")
    if flat.device != offs.device:
        raise ValueError(f"flat_ids is on {flat.device} but offsets on {offs.device}")
    return flat, offs


def _kernel_ids(cupy, flat):
    """flat_ids as int32 or int64 for the kernels; None if a uint64 id exceeds int64."""
    if flat.dtype in (cupy.int32, cupy.int64):
        return cupy.ascontiguousarray(flat)
    if flat.dtype == cupy.uint64 and flat.size and bool((flat > _INT64_MAX).any()):
        return None
    return flat.astype(cupy.int64)


def _host_error(cupy, flat, offs, host_call) -> None:
    """The device flagged a problem: the CPU path, on a host copy, raises the exact error."""
    host_call((cupy.asnumpy(flat), cupy.asnumpy(offs)))
    raise RuntimeError(  # pragma: no cover - the kernels and the reference disagree
        "fastprep.cuda: the device kernels rejected this batch but the CPU path accepted it; "
        "please report this as a bug"
    )


def _scan(cupy, core, flat, offs, max_length, truncate_left, wide, host_call):
    """Validates on the device; returns (ids, kept_begin, kept_length, longest, total)."""
    ids = _kernel_ids(cupy, flat)
    n_seqs = offs.size - 1
    if ids is None or n_seqs == 0:
        _host_error(cupy, flat, offs, host_call)
    offsets64 = cupy.ascontiguousarray(offs.astype(cupy.int64, copy=False))
    kept_begin = cupy.empty(n_seqs, dtype=cupy.int64)
    kept_length = cupy.empty(n_seqs, dtype=cupy.int64)
    stats = cupy.zeros(3, dtype=cupy.uint64)
    stream = cupy.cuda.get_current_stream().ptr
    core.scan(
        ids.data.ptr, bool(ids.dtype == cupy.int64), ids.size, offsets64.data.ptr, n_seqs,
        max_length, truncate_left, _INT64_MAX if wide else _INT32_MAX, kept_begin.data.ptr,
        kept_length.data.ptr, stats.data.ptr, stream,
    )
    errors, longest, total = (int(x) for x in stats.get())  # the one synchronization
    if errors & (_BAD_OFFSETS | _BAD_IDS):
        _host_error(cupy, flat, offs, host_call)
    return ids, kept_begin, kept_length, longest, total


def pack_padded(
    flat_ids,
    offsets,
    *,
    pad_id: int,
    side: str = "right",
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    pad_to_multiple_of: Optional[int] = None,
    dtype: Any = "int32",
) -> dict:
    """:func:`fastprep.pack_padded` of the ragged pair ``(flat_ids, offsets)``, on the GPU.

    Returns ``{"input_ids", "attention_mask", "position_ids"}`` as [B, L] CuPy arrays of
    ``dtype`` (int32 or int64), equal to ``fastprep.pack_padded((flat_ids.get(),
    offsets.get()), ...)`` with the same options.
    """
    wide = _pack._is_wide(dtype)
    pad_id = _pack._pad_id(pad_id, wide)
    pad_left = _pack._is_left("side", side)
    max_length = _pack._optional_positive("max_length", max_length)
    truncate_left = _pack._is_left("truncation_side", truncation_side)
    multiple = _pack._optional_positive("pad_to_multiple_of", pad_to_multiple_of) or 1
    cupy, core = _require()
    flat, offs = _ragged_on_device(cupy, flat_ids, offsets)

    def host_call(seqs):
        return _pack.pack_padded(
            seqs, pad_id=pad_id, side=side, max_length=max_length or None,
            truncation_side=truncation_side, pad_to_multiple_of=multiple, dtype=dtype,
        )

    return _padded(cupy, core, flat, offs, pad_id, pad_left, max_length, truncate_left, multiple,
                   wide, host_call)


def _padded(cupy, core, flat, offs, pad_id, pad_left, max_length, truncate_left, multiple, wide,
            host_call, min_width: int = 0) -> dict:
    """pack_padded on checked arguments; rows at least ``min_width`` wide (a multiple of
    ``multiple`` already) -- HF's fixed-length padding."""
    with flat.device:
        ids, kept_begin, kept_length, longest, _ = _scan(
            cupy, core, flat, offs, max_length, truncate_left, wide, host_call
        )
        n_seqs = kept_begin.size
        width = max(-(-longest // multiple) * multiple, min_width)
        out_dtype = cupy.int64 if wide else cupy.int32
        input_ids = cupy.empty((n_seqs, width), dtype=out_dtype)
        attention_mask = cupy.empty((n_seqs, width), dtype=out_dtype)
        position_ids = cupy.empty((n_seqs, width), dtype=out_dtype)
        core.padded(
            ids.data.ptr, bool(ids.dtype == cupy.int64), kept_begin.data.ptr, kept_length.data.ptr,
            n_seqs, width, pad_id, pad_left, wide, input_ids.data.ptr, attention_mask.data.ptr,
            position_ids.data.ptr, cupy.cuda.get_current_stream().ptr,
        )
    return {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids}


def pack_varlen(
    flat_ids,
    offsets,
    *,
    max_length: Optional[int] = None,
    truncation_side: str = "right",
    dtype: Any = "int32",
) -> dict:
    """:func:`fastprep.pack_varlen` of the ragged pair ``(flat_ids, offsets)``, on the GPU.

    Returns ``{"input_ids": [T], "cu_seqlens": [B+1] int32, "position_ids": [T], "max_seqlen":
    int}``; arrays are CuPy arrays, ``max_seqlen`` a Python int.
    """
    wide = _pack._is_wide(dtype)
    max_length = _pack._optional_positive("max_length", max_length)
    truncate_left = _pack._is_left("truncation_side", truncation_side)
    cupy, core = _require()
    flat, offs = _ragged_on_device(cupy, flat_ids, offsets)

    def host_call(seqs):
        return _pack.pack_varlen(
            seqs, max_length=max_length or None, truncation_side=truncation_side, dtype=dtype
        )

    with flat.device:
        ids, kept_begin, kept_length, longest, total = _scan(
            cupy, core, flat, offs, max_length, truncate_left, wide, host_call
        )
        if total > _INT32_MAX:
            raise ValueError(
                "varlen batch holds more than 2**31-1 tokens, beyond the range of int32 cu_seqlens"
            )
        n_seqs = kept_begin.size
        cu_seqlens = cupy.zeros(n_seqs + 1, dtype=cupy.int32)
        cu_seqlens[1:] = cupy.cumsum(kept_length)  # total < 2**31, so int32 holds every entry
        out_dtype = cupy.int64 if wide else cupy.int32
        input_ids = cupy.empty(total, dtype=out_dtype)
        position_ids = cupy.empty(total, dtype=out_dtype)
        core.varlen(
            ids.data.ptr, bool(ids.dtype == cupy.int64), kept_begin.data.ptr, cu_seqlens.data.ptr,
            n_seqs, total, wide, input_ids.data.ptr, position_ids.data.ptr,
            cupy.cuda.get_current_stream().ptr,
        )
    return {
        "input_ids": input_ids,
        "cu_seqlens": cu_seqlens,
        "position_ids": position_ids,
        "max_seqlen": longest,
    }


# -- BERT WordPiece on the device -----------------------------------------------------------------

# The device buffers a word of up to this many characters (cuda/wordpiece_logic.cuh).
_WORD_BUFFER_CHARS = 128
# Option and added-token bits of the serialized spec (cuda/wordpiece_logic.cuh).
_OPT_CLEAN, _OPT_CHINESE, _OPT_STRIP, _OPT_LOWER = 1, 2, 4, 8
_ADDED_LSTRIP, _ADDED_RSTRIP, _ADDED_SINGLE_WORD = 1, 2, 4
_ERR_INVALID_UTF8, _ERR_MISSING_UNK = 1, 2  # error bits of the count kernel
_UINT64_MAX = 2**64 - 1


def _spec_bytes(vocab: list, unk: str, prefix: str, max_chars: int, options: int,
                added: list) -> bytes:
    """The spec that _cuda.wordpiece_tables parses (cuda/wordpiece_tables.h): int64 fields, a
    string as its length and its UTF-8."""
    pack = struct.Struct("<q").pack
    parts = [pack(len(vocab))]
    for token in vocab:
        b = token.encode("utf-8", "surrogatepass")
        parts += (pack(len(b)), b)
    for text in (unk, prefix):
        b = text.encode("utf-8", "surrogatepass")
        parts += (pack(len(b)), b)
    parts += (pack(max_chars), pack(options), pack(len(added)))
    for content, token_id, flags in added:
        b = content.encode("utf-8", "surrogatepass")
        parts += (pack(len(b)), b, pack(token_id), pack(flags))
    return b"".join(parts)


class WordPieceEncoder:
    """A BERT tokenizer.json's tables for the device, built once and kept per device.

    ``tokenizer`` is a :class:`fastprep.Tokenizer` loaded from a tokenizer.json whose normalizer
    is BertNormalizer, pre-tokenizer BertPreTokenizer and model WordPiece (dense ids,
    ``max_input_chars_per_word`` <= 128), with a post-processor that adds fixed ids around a
    single sequence (BertProcessing, TemplateProcessing, ...). Added tokens are matched on the
    raw text as HF does (lstrip, rstrip, single_word included); ``normalized=true`` added tokens
    are not supported. ``split_special_tokens`` treats special added tokens as ordinary text (as
    :meth:`fastprep.Tokenizer.encode_batch` does). Anything else raises
    :class:`fastprep.UnsupportedError` naming it; this happens before any device is needed.
    """

    def __init__(self, tokenizer, *, split_special_tokens: bool = False) -> None:
        from ._hf_native import bert_unsupported_reason

        engine = getattr(tokenizer, "_hf", None)
        if engine is None:
            raise UnsupportedError(
                "GPU WordPiece needs a tokenizer loaded from a tokenizer.json "
                "(fastprep.Tokenizer.from_file / from_str)"
            )
        obj = engine.json_obj
        why = bert_unsupported_reason(obj)
        if why is not None:
            raise UnsupportedError(f"GPU WordPiece: {why}")
        if engine.affixes is None:
            raise UnsupportedError(
                "GPU WordPiece: the post-processor does more than add fixed ids around a single "
                "sequence"
            )
        model, norm = obj["model"], obj["normalizer"]
        max_chars = int(model.get("max_input_chars_per_word", 100))
        if max_chars > _WORD_BUFFER_CHARS:
            raise UnsupportedError(
                f"GPU WordPiece supports max_input_chars_per_word up to {_WORD_BUFFER_CHARS}, "
                f"this tokenizer has {max_chars}"
            )
        lowercase = bool(norm.get("lowercase", True))
        strip = norm.get("strip_accents")
        options = (
            (_OPT_CLEAN if norm.get("clean_text", True) else 0)
            | (_OPT_CHINESE if norm.get("handle_chinese_chars", True) else 0)
            | (_OPT_STRIP if (lowercase if strip is None else bool(strip)) else 0)
            | (_OPT_LOWER if lowercase else 0)
        )
        added = []
        for token_id, token in engine.pipeline.added.map_r.items():
            if split_special_tokens and token.special:
                continue
            if token.normalized:
                raise UnsupportedError(
                    f"GPU WordPiece: added token {token.content!r} has normalized=true (matched "
                    "on normalized text), which the device encoder does not implement"
                )
            flags = ((_ADDED_LSTRIP if token.lstrip else 0) | (_ADDED_RSTRIP if token.rstrip else 0)
                     | (_ADDED_SINGLE_WORD if token.single_word else 0))
            added.append((token.content, token_id, flags))
        vocab = [""] * len(model["vocab"])
        for token, i in model["vocab"].items():
            vocab[i] = token
        self._spec = _spec_bytes(vocab, model.get("unk_token", "[UNK]"),
                                 model.get("continuing_subword_prefix", "##"), max_chars, options,
                                 added)
        self._unk_token = model.get("unk_token", "[UNK]")
        self._has_added = bool(added)
        self._affixes = engine.affixes
        self._truncation = engine.truncation
        self._padding = engine.padding
        self._host_blob = None   # numpy uint8: the tables; its first bytes are the header
        self._device_blobs: dict = {}  # device id -> CuPy copy of the blob
        self._affix_arrays: dict = {}  # device id -> CuPy int32 prefix + suffix ids

    def _tables(self, cupy, core):
        """(device blob, host header pointer) on the current device; built on first use."""
        if self._host_blob is None:
            import numpy as np

            self._host_blob = np.frombuffer(core.wordpiece_tables(self._spec), dtype=np.uint8)
        device = cupy.cuda.Device().id
        blob = self._device_blobs.get(device)
        if blob is None:
            blob = self._device_blobs[device] = cupy.asarray(self._host_blob)
        return blob, self._host_blob.ctypes.data

    def _affix_array(self, cupy, add_special_tokens: bool):
        prefix, suffix = self._affixes if add_special_tokens else ([], [])
        if not prefix and not suffix:
            return None, 0, 0
        key = cupy.cuda.Device().id
        arr = self._affix_arrays.get(key)
        if arr is None:
            import numpy as np

            arr = self._affix_arrays[key] = cupy.asarray(np.array(prefix + suffix, dtype=np.int32))
        return arr, len(prefix), len(suffix)

    def _truncation_limit(self, add_special_tokens: bool) -> tuple:
        """(max_length or -1, truncate_left, only_second) as the CPU path's _finish applies."""
        t = self._truncation
        if t is None:
            return -1, False, False
        max_length = t["max_length"]
        prefix, suffix = self._affixes
        if add_special_tokens and (prefix or suffix):
            max_length -= len(prefix) + len(suffix)
            if max_length < 0:
                raise ValueError(
                    "truncation max_length is smaller than the number of special tokens"
                )
        return max_length, t["direction"] == "left", t["strategy"] == "only_second"

    def encode_batch(self, texts, *, add_special_tokens: bool = True, layout: str = "ragged",
                     dtype: Any = "int32") -> dict:
        """Tokenizes a batch on the device; see :func:`wordpiece_encode_batch`."""
        if layout not in ("ragged", "padded"):
            raise ValueError(f"layout must be 'ragged' or 'padded', got {layout!r}")
        wide = _pack._is_wide(dtype)
        max_length, truncate_left, only_second = self._truncation_limit(add_special_tokens)
        host_texts = None
        if isinstance(texts, (str, bytes)):
            raise TypeError("expected a sequence of str or a (bytes, offsets) pair of CuPy arrays, "
                            "not a single str")
        device_pair = (isinstance(texts, tuple) and len(texts) == 2
                       and hasattr(texts[0], "__cuda_array_interface__"))
        if not device_pair:
            host_texts = _utf8_batch(texts)
        cupy, core = _require()
        if device_pair:
            text, offsets = _text_pair_on_device(cupy, *texts)
        else:
            text, offsets = cupy.asarray(host_texts[0]), cupy.asarray(host_texts[1])
        with text.device:
            ids, final_offsets = self._run(cupy, core, text, offsets, host_texts, max_length,
                                           truncate_left, only_second, add_special_tokens)
            if layout == "ragged":
                if wide:
                    ids = ids.astype(cupy.int64)
                return {"input_ids": ids, "offsets": final_offsets}
            return self._pad(cupy, core, ids, final_offsets, wide)

    def _run(self, cupy, core, text, offsets, host_texts, max_length, truncate_left, only_second,
             add_special_tokens):
        import numpy as np

        blob, header = self._tables(cupy, core)
        n_bytes, n_texts = int(text.size), int(offsets.size) - 1
        stream = cupy.cuda.get_current_stream().ptr
        covered = cupy.zeros(n_bytes, dtype=cupy.int32) if self._has_added else None
        flags = cupy.empty(n_bytes, dtype=cupy.uint8)
        core.wordpiece_segments(blob.data.ptr, header, text.data.ptr, n_bytes, offsets.data.ptr,
                                n_texts, 0 if covered is None else covered.data.ptr,
                                flags.data.ptr, stream)
        counts = cupy.empty(n_bytes, dtype=cupy.int32)
        stats = cupy.asarray(np.array([0, _UINT64_MAX, _UINT64_MAX, 0], dtype=np.uint64))
        core.wordpiece_count(blob.data.ptr, header, text.data.ptr, n_bytes, flags.data.ptr,
                             0 if covered is None else covered.data.ptr, counts.data.ptr,
                             stats.data.ptr, stream)
        raw_inclusive = cupy.cumsum(counts, dtype=cupy.int64)
        affixes, n_prefix, n_suffix = self._affix_array(cupy, add_special_tokens)
        keep_begin = cupy.empty(n_texts, dtype=cupy.int64)
        keep_length = cupy.empty(n_texts, dtype=cupy.int64)
        final_length = cupy.empty(n_texts, dtype=cupy.int64)
        core.wordpiece_plan(offsets.data.ptr, n_texts, raw_inclusive.data.ptr,
                            -1 if only_second else max_length, truncate_left, n_prefix + n_suffix,
                            keep_begin.data.ptr, keep_length.data.ptr, final_length.data.ptr,
                            stats.data.ptr, stream)
        final_offsets = cupy.zeros(n_texts + 1, dtype=cupy.int64)
        if n_texts:
            final_offsets[1:] = cupy.cumsum(final_length)
        errors, utf8_at, unk_at, longest = (int(x) for x in stats.get())  # the synchronization
        if errors:
            self._raise(errors, utf8_at, unk_at, offsets, host_texts)
        if only_second and longest > max_length:
            raise ValueError("Truncation error: Second sequence not provided")
        total = int(final_offsets[-1:].get()[0])
        ids = cupy.empty(total, dtype=cupy.int32)
        core.wordpiece_write(blob.data.ptr, header, text.data.ptr, n_bytes, flags.data.ptr,
                             0 if covered is None else covered.data.ptr, counts.data.ptr,
                             raw_inclusive.data.ptr, offsets.data.ptr, n_texts,
                             keep_begin.data.ptr, keep_length.data.ptr, final_offsets.data.ptr,
                             0 if affixes is None else affixes.data.ptr, n_prefix, n_suffix,
                             ids.data.ptr, stream)
        return ids, final_offsets

    def _raise(self, errors, utf8_at, unk_at, offsets, host_texts):
        """Names the first failing text as the CPU path would: invalid UTF-8 first within it."""
        import numpy as np

        starts = host_texts[1] if host_texts is not None else offsets.get()
        candidates = []
        if errors & _ERR_INVALID_UTF8:
            k = int(np.searchsorted(starts, utf8_at, side="right")) - 1
            at = utf8_at - int(starts[k])
            candidates.append((k, 0, f"BertEncoder: invalid UTF-8 at byte {at} (text {k})"))
        if errors & _ERR_MISSING_UNK:
            k = int(np.searchsorted(starts, unk_at, side="right")) - 1
            candidates.append((k, 1, "WordPiece error: Missing [UNK] token from the vocabulary "
                                     f"(unk_token '{self._unk_token}') (text {k})"))
        raise ValueError(min(candidates)[2])

    def _pad(self, cupy, core, ids, offsets, wide) -> dict:
        """The file's padding (or pad id 0 on the right to the longest row without one)."""
        p = self._padding or {"pad_id": 0, "direction": "right", "pad_to_multiple_of": None,
                              "length": None}
        multiple = p["pad_to_multiple_of"] or 1
        min_width = 0
        if p["length"] is not None:
            min_width = -(-p["length"] // multiple) * multiple
        pad_id = _pack._pad_id(p["pad_id"], wide)
        pad_left = p["direction"] == "left"

        def host_call(seqs):  # pragma: no cover - the write kernel's output is well formed
            return _pack.pack_padded(seqs, pad_id=pad_id, side=p["direction"],
                                     pad_to_multiple_of=multiple,
                                     dtype="int64" if wide else "int32")

        out = _padded(cupy, core, ids, offsets, pad_id, pad_left, 0, False, multiple, wide,
                      host_call, min_width)
        if min_width and out["input_ids"].shape[1] > min_width:
            raise ValueError(
                f"a row is longer than the tokenizer's fixed padding length {p['length']} (no "
                "truncation is configured), so the rows cannot form a [B, L] array; use "
                "layout='ragged'"
            )
        return out


def _utf8_batch(texts) -> tuple:
    """(UTF-8 bytes, int64 offsets [B+1]) of a sequence of str, as NumPy arrays."""
    import numpy as np

    encoded = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"texts[{i}]: expected str, got {type(t).__name__}")
        encoded.append(t.encode("utf-8"))
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), offsets


def _text_pair_on_device(cupy, text, offsets):
    """Checks a (UTF-8 bytes, offsets) pair of device arrays."""
    text = _device_array(cupy, text, "texts[0]")
    offsets = _device_array(cupy, offsets, "texts[1]")
    if text.ndim != 1 or text.dtype != cupy.uint8:
        raise TypeError(
            f"texts[0]: expected a 1-D uint8 array of UTF-8, got {text.ndim}-D {text.dtype}"
        )
    if offsets.ndim != 1 or offsets.dtype.kind not in "iu" or offsets.size == 0:
        raise TypeError("texts[1]: expected a 1-D integer array of B+1 byte offsets")
    if text.device != offsets.device:
        raise ValueError(f"texts[0] is on {text.device} but texts[1] on {offsets.device}")
    offsets = cupy.ascontiguousarray(offsets.astype(cupy.int64))
    host = offsets.get()
    if host[0] != 0 or host[-1] != text.size or (host[1:] < host[:-1]).any():
        raise ValueError(
            f"texts[1]: byte offsets must start at 0, not decrease and end at {text.size}"
        )
    return cupy.ascontiguousarray(text), offsets


_ENCODERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def wordpiece_encode_batch(tokenizer, texts, *, add_special_tokens: bool = True,
                           split_special_tokens: bool = False, layout: str = "ragged",
                           dtype: Any = "int32") -> dict:
    """BERT normalization + WordPiece for a batch of texts on the GPU.

    ``tokenizer``: a :class:`fastprep.Tokenizer` from a BERT tokenizer.json (see
    :class:`WordPieceEncoder`, whose device tables are built on the first call and kept with the
    tokenizer). ``texts``: a sequence of str (encoded to UTF-8 and copied to the device), or a
    pair ``(utf8_bytes, byte_offsets)`` of CuPy arrays already on the device (uint8 [N] and
    integer [B+1]; text i is ``utf8_bytes[byte_offsets[i]:byte_offsets[i+1]]``).

    Returns CuPy arrays on the texts' device, computed on CuPy's current stream:

    - ``layout="ragged"``: ``{"input_ids": [T], "offsets": [B+1] int64}``; row i,
      ``input_ids[offsets[i]:offsets[i+1]]``, equals
      ``tokenizer.encode_batch(texts, add_special_tokens=..., split_special_tokens=...)[i]``
      for the same tokenizer with its padding switched off: the file's truncation and its
      post-processor's ids ([CLS] ... [SEP]) are applied, padding is not (pack the pair with
      :func:`pack_padded` / :func:`pack_varlen`).
    - ``layout="padded"``: ``{"input_ids", "attention_mask", "position_ids"}`` [B, L], where
      ``input_ids`` equals ``numpy.array(tokenizer.encode_batch(texts, ...))``: the file's
      padding (side, pad id, fixed length or the batch's longest, pad_to_multiple_of), or pad
      id 0 on the right to the longest row when the file sets none.

    ``dtype``: int32 or int64 for the id arrays. Invalid UTF-8 in device bytes, or a word that
    needs a ``unk_token`` missing from the vocabulary, raises ValueError naming the first failing
    text. Each call synchronizes once (to size the output), and once more for ``"padded"``.
    """
    key = bool(split_special_tokens)
    per_tokenizer = _ENCODERS.setdefault(tokenizer, {})
    encoder = per_tokenizer.get(key)
    if encoder is None:
        encoder = per_tokenizer[key] = WordPieceEncoder(tokenizer, split_special_tokens=key)
    return encoder.encode_batch(texts, add_special_tokens=add_special_tokens, layout=layout,
                                dtype=dtype)
