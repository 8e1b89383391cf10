"""Text to model inputs in one call: tokenize a batch and pack it into NumPy arrays.

``Tokenizer.__call__`` and ``Tokenizer.encode_batch(..., layout=...)`` land here. For tiktoken
encodings on the native backend, tokenization and packing run in one native call
(``BpeEncoder.encode_batch_packed``). So they do for HF tokenizer.json files that a native
encoder covers (byte-level BPE, BERT WordPiece): ``encode_batch_packed`` of ``_core.HfBpeEncoder``
/ ``_core.BertEncoder`` tokenizes, adds the post-processor's special ids with HF's truncation
(max_length minus those specials) and pads or concatenates, with the GIL released once. Pairs,
post-processors that do more than add fixed specials, and batches with a text the native encoder
leaves to the reference (NFC/NFKC text that is not already normal) take the general path: ids
from the HF engine, then the packing kernels. Either way the arrays equal what HF ``tokenizers``
gives with the same ``enable_truncation`` / ``enable_padding`` settings followed by
``encode_batch``.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

_PADDING = {True: "longest", "longest": "longest", False: None, None: None,
            "do_not_pad": None, "max_length": "max_length"}
_TRUNCATION = {True: "longest_first", False: None, None: None, "do_not_truncate": None,
               "longest_first": "longest_first", "only_first": "only_first",
               "only_second": "only_second"}


def _choice(table: dict, name: str, value):
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError(f"{name}={value!r} is not one of {sorted(map(repr, table))}") from None


def batch_features(
    tok,
    texts: Sequence[str],
    pairs: Optional[Sequence[str]] = None,
    *,
    add_special_tokens: bool = True,
    padding: Any = "longest",
    truncation: Any = False,
    max_length: Optional[int] = None,
    pad_to_multiple_of: Optional[int] = None,
    layout: str = "padded",
    return_attention_mask: bool = True,
    return_token_type_ids: Optional[bool] = None,
    return_position_ids: bool = False,
    pad_id: Optional[int] = None,
    padding_side: Optional[str] = None,
    truncation_side: str = "right",
    dtype: Any = None,
    num_threads: Optional[int] = None,
    return_tensors: Optional[str] = "np",
    allowed_special: Any = frozenset(),
    disallowed_special: Any = "all",
    split_special_tokens: bool = False,
) -> dict:
    import numpy as np

    from .tokenizer import _num_threads

    if return_tensors not in ("np", None):
        raise ValueError(f"return_tensors={return_tensors!r}: only 'np' is supported")
    if layout not in ("padded", "varlen"):
        raise ValueError(f"layout must be 'padded' or 'varlen', not {layout!r}")
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    if not texts:
        raise ValueError("empty batch")
    if pairs is not None:
        pairs = [pairs] if isinstance(pairs, (str, bytes)) else list(pairs)
        if len(pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(pairs)} pairs")
    if tok._hf is not None:  # the HF pipelines work on str (the tiktoken path takes bytes too)
        texts = _str_items(texts, "texts")
        if pairs is not None:
            pairs = _str_items(pairs, "pairs")
    pad_mode = _choice(_PADDING, "padding", padding)
    trunc_mode = _choice(_TRUNCATION, "truncation", truncation)
    if (trunc_mode or pad_mode == "max_length") and max_length is None:
        raise ValueError("max_length is required for truncation or padding='max_length'")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                   or max_length < 1):
        raise ValueError(f"max_length must be a positive int, not {max_length!r}")
    if truncation_side not in ("left", "right"):
        raise ValueError(f"truncation_side must be 'left' or 'right', not {truncation_side!r}")
    hf = tok._hf
    if split_special_tokens:
        if hf is not None:
            hf = hf.split_specials()
        else:
            allowed_special, disallowed_special = frozenset(), ()
    file_padding = hf.padding if hf is not None else None
    if padding_side is None:
        padding_side = file_padding["direction"] if file_padding else "right"
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', not {padding_side!r}")
    if pad_id is None:
        pad_id = file_padding["pad_id"] if file_padding else 0
    pad_type_id = file_padding["pad_type_id"] if file_padding else 0
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise TypeError(f"dtype must be int32 or int64, not {dtype}")
    threads = _num_threads(num_threads)
    multiple = pad_to_multiple_of if pad_mode else None

    if hf is None:
        if pairs is not None:
            raise ValueError("tiktoken encodings have no pair template; pass no pairs")
        if return_token_type_ids:
            raise ValueError("tiktoken encodings have no token type ids")
        masks = tok._masks(allowed_special, disallowed_special)
        out = _tiktoken_packed(tok, texts, masks, layout, pad_id,
                               padding_side, max_length if trunc_mode else None,
                               truncation_side, multiple, dtype, threads)
        type_rows = None
    else:
        engine = hf.replace_pipeline(_hf_settings(hf.pipeline, trunc_mode, max_length,
                                                  truncation_side))
        if return_token_type_ids is None:
            return_token_type_ids = hf.pipeline.post_processor is not None and \
                hf.pipeline.post_processor.kind in ("TemplateProcessing", "BertProcessing")
        out = None
        if pairs is None and _packs_natively(engine, trunc_mode):
            spec = _packed_spec(engine, add_special_tokens, max_length if trunc_mode else None,
                                truncation_side, layout, pad_id, padding_side, multiple,
                                max_length if pad_mode == "max_length" else None,
                                bool(return_token_type_ids), pad_type_id, dtype)
            out = engine.native.encode_batch_packed(texts, threads, spec)
        if out is None:  # pairs, or a text the native encoder leaves to the reference
            out = _hf_unfused(engine, texts, pairs, add_special_tokens, layout, pad_id,
                              padding_side, multiple, bool(return_token_type_ids),
                              pad_type_id, dtype, tok.backend, threads)

    if layout == "padded":
        ids = out["input_ids"]
        if pad_mode is None:
            lengths = out["attention_mask"].sum(axis=1)
            if (lengths != ids.shape[1]).any():
                raise ValueError("sequences have different lengths: pass padding=True, "
                                 "padding='max_length' or layout='varlen'")
        elif pad_mode == "max_length" and ids.shape[1] < max_length:
            out = _widen(out, max_length, multiple, padding_side, pad_id, pad_type_id)
        if not return_attention_mask:
            out.pop("attention_mask")
        if not return_position_ids:
            out.pop("position_ids")
    return out


def _packs_natively(engine, trunc_mode) -> bool:
    """Whether the engine's native encoder tokenizes, post-processes and packs in one call:
    single sequences whose post-processor only adds fixed specials (HfEngine.affixes)."""
    return (engine.native is not None and engine.affixes is not None
            and trunc_mode != "only_second"  # an error for single sequences; the reference says so
            and hasattr(engine.native, "encode_batch_packed"))


def _packed_spec(engine, add_special_tokens, max_length, truncation_side, layout, pad_id,
                 padding_side, multiple, min_width, type_ids, pad_type_id, dtype) -> dict:
    """The options of the native encoders' encode_batch_packed (read by feature_options in
    cpp/bindings/bind_pack.cpp): what HfEngine._finish and the packing below would do."""
    import numpy as np

    prefix, suffix = engine.affixes if add_special_tokens else ([], [])
    types = _single_type_template(engine.pipeline.post_processor, add_special_tokens)
    prefix_types, sequence_type, suffix_types = types or ([0] * len(prefix), 0, [0] * len(suffix))
    return {
        "prefix": list(prefix), "suffix": list(suffix),
        "prefix_type_ids": prefix_types, "suffix_type_ids": suffix_types,
        "sequence_type_id": sequence_type,
        "max_length": max_length or 0, "truncate_left": truncation_side == "left",
        "varlen": layout == "varlen", "wide": dtype == np.dtype(np.int64),
        "pad_id": pad_id, "pad_left": padding_side == "left",
        "pad_to_multiple_of": multiple or 1, "min_width": min_width or 0,
        "type_ids": type_ids, "pad_type_id": pad_type_id,
    }


def _hf_unfused(engine, texts, pairs, add_special_tokens, layout, pad_id, padding_side, multiple,
                type_ids, pad_type_id, dtype, backend, threads):
    """Ids from the HF engine (native or reference), then the packing kernels."""
    from .pack import pack_padded, pack_varlen

    if pairs is None:
        rows = engine.encode_batch(texts, add_special_tokens, threads)
        type_rows = _single_type_rows(engine, rows, add_special_tokens)
    else:
        encs = [engine.encode_full(a, b, add_special_tokens) for a, b in zip(texts, pairs)]
        rows = [e.ids for e in encs]
        type_rows = [e.type_ids for e in encs]
    if layout == "varlen":
        out = pack_varlen(rows, dtype=dtype, backend=backend)
    else:
        out = pack_padded(rows, pad_id=pad_id, side=padding_side,
                          pad_to_multiple_of=multiple, dtype=dtype, backend=backend)
    if type_ids:
        out["token_type_ids"] = _type_ids_array(out, type_rows, layout, padding_side,
                                                pad_type_id, dtype)
    return out


def _str_items(items: list, what: str) -> list:
    """bytes items decoded as strict UTF-8 (ValueError naming the byte offset); anything but
    str or bytes is a TypeError naming the item."""
    from .tokenizer import _decode_input

    out = items
    for i, item in enumerate(items):
        if item.__class__ is str:
            continue
        if out is items:
            out = list(items)
        if isinstance(item, bytes):
            out[i] = _decode_input(item, "strict")
        elif isinstance(item, str):
            out[i] = str(item)
        else:
            raise TypeError(f"{what}[{i}] must be str or bytes, not {type(item).__name__}")
    return out


def _hf_settings(pipeline, trunc_mode, max_length, truncation_side):
    pipeline = pipeline.without_padding()
    if trunc_mode is None:
        return pipeline.without_truncation()
    return pipeline.with_truncation(max_length, strategy=trunc_mode, direction=truncation_side)


def _single_type_template(pp, add_special_tokens):
    """(prefix type ids, sequence type id, suffix type ids) of a single sequence under the
    post-processor's template, or None when they are all zero (the common case)."""
    if pp is None or pp.kind != "TemplateProcessing" or not add_special_tokens:
        return None
    prefix: list[int] = []
    suffix: list[int] = []
    seq_type = 0
    seen = False
    for piece in pp.single:
        if "Sequence" in piece:
            seq_type, seen = piece["Sequence"].get("type_id", 0), True
        else:
            spec = piece["SpecialToken"]
            n = len(pp.special_tokens[spec["id"]][0])
            (suffix if seen else prefix).extend([spec.get("type_id", 0)] * n)
    if not any(prefix) and not any(suffix) and seq_type == 0:
        return None
    return prefix, seq_type, suffix


def _single_type_rows(engine, rows, add_special_tokens):
    """Token type ids of single sequences from the post-processor's template, or None when they
    are all zero (the common case, kept as one np.zeros)."""
    template = _single_type_template(engine.pipeline.post_processor, add_special_tokens)
    if template is None:
        return None
    prefix, seq_type, suffix = template
    return [prefix + [seq_type] * (len(ids) - len(prefix) - len(suffix)) + suffix for ids in rows]


def _type_ids_array(out, type_rows, layout, padding_side, pad_type_id, dtype):
    import numpy as np

    ids = out["input_ids"]
    if type_rows is None and pad_type_id == 0:
        return np.zeros_like(ids)
    if layout == "varlen":
        flat = [t for row in (type_rows or []) for t in row]
        return np.asarray(flat, dtype=dtype) if type_rows else np.zeros_like(ids)
    result = np.full(ids.shape, pad_type_id, dtype=dtype)
    mask = out["attention_mask"]
    for i in range(ids.shape[0]):
        n = int(mask[i].sum())
        row = type_rows[i] if type_rows else [0] * n
        if padding_side == "right":
            result[i, :n] = row
        else:
            result[i, ids.shape[1] - n:] = row
    return result


def _widen(out, max_length, multiple, padding_side, pad_id, pad_type_id):
    import numpy as np

    width = max_length
    if multiple and width % multiple:
        width += multiple - width % multiple
    extra = width - out["input_ids"].shape[1]
    fills = {"input_ids": pad_id, "attention_mask": 0, "position_ids": 0,
             "token_type_ids": pad_type_id}
    for key, value in list(out.items()):
        if key not in fills:
            continue
        spec = ((0, 0), (0, extra)) if padding_side == "right" else ((0, 0), (extra, 0))
        out[key] = np.pad(value, spec, constant_values=fills[key])
    return out


def _tiktoken_packed(tok, texts, masks, layout, pad_id, padding_side, max_length,
                     truncation_side, multiple, dtype, threads):
    import numpy as np

    from .pack import pack_padded, pack_varlen
    from .tokenizer import _raise_disallowed

    wide = dtype == np.dtype(np.int64)
    if tok._general is None:  # native lexer: tokenize + pack in one native call
        from .tokenizer import _fix_surrogates

        args = (masks[0], masks[1], threads, layout == "varlen", pad_id, padding_side == "left",
                max_length or 0, truncation_side == "left", multiple or 1, wide)
        try:
            result = tok._core.encode_batch_packed(texts, *args)
        except UnicodeEncodeError:  # lone surrogates: replaced, as encode() does (tiktoken's rule)
            texts = [_fix_surrogates(t) if isinstance(t, str) else t for t in texts]
            result = tok._core.encode_batch_packed(texts, *args)
        if isinstance(result, tuple):
            _raise_disallowed(tok._special_texts[result[1]])
        return result
    rows = tok._encode_batch(texts, masks[0], masks[1], threads)
    if layout == "varlen":
        return pack_varlen(rows, max_length=max_length, truncation_side=truncation_side,
                           dtype=dtype, backend=tok.backend)
    return pack_padded(rows, pad_id=pad_id, side=padding_side, max_length=max_length,
                       truncation_side=truncation_side, pad_to_multiple_of=multiple, dtype=dtype,
                       backend=tok.backend)
