"""HF tokenizer.json support for :class:`fastprep.Tokenizer`.

The pure-Python pipeline in ``_fallback/hf`` is the specification and handles every file and
option fastprep supports. When the native backend is active and a native encoder accepts the
file (BERT WordPiece, byte-level BPE), ids come from native code and only the cheap, exactly
specified steps around it (truncation, template special tokens, padding) run here; anything
else -- pairs, offsets with a post-processor that rewrites them, overflowing -- uses the
reference pipeline, so results never differ.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Optional, Sequence

from ._fallback.hf import HfEncoding, HfPipeline


def _single_affixes(post_processor) -> Optional[tuple[list[int], list[int]]]:
    """(ids before $A, ids after $A) that the post-processor adds to a single sequence, or None
    when it does something else (then the reference pipeline post-processes)."""
    if post_processor is None:
        return [], []
    kind = post_processor.kind
    if kind == "ByteLevel":
        return [], []  # rewrites offsets only
    if kind in ("BertProcessing", "RobertaProcessing"):
        return [post_processor.cls[1]], [post_processor.sep[1]]
    if kind == "TemplateProcessing":
        prefix: list[int] = []
        suffix: list[int] = []
        seen_sequence = False
        for piece in post_processor.single:
            if "Sequence" in piece:
                if piece["Sequence"]["id"] != "A" or seen_sequence:
                    return None
                seen_sequence = True
            elif "SpecialToken" in piece:
                ids = post_processor.special_tokens[piece["SpecialToken"]["id"]][0]
                (suffix if seen_sequence else prefix).extend(ids)
            else:
                return None
        return (prefix, suffix) if seen_sequence else None
    if kind == "Sequence":
        prefix, suffix = [], []
        for p in post_processor.processors:
            inner = _single_affixes(p)
            if inner is None:
                return None
            prefix = inner[0] + prefix
            suffix = suffix + inner[1]
        return prefix, suffix
    return None


class HfEngine:
    """One immutable (pipeline settings, native encoder) pair. Changing truncation or padding
    builds a new engine that shares the loaded vocabularies."""

    def __init__(self, pipeline: HfPipeline, native: Any, json_obj: dict, backend: str = "python"):
        self.pipeline = pipeline
        self.native = native
        self.json_obj = json_obj
        self.backend = backend
        self._split_variant: Optional["HfEngine"] = None
        self.affixes = _single_affixes(pipeline.post_processor)
        self.truncation = pipeline.truncation
        self.padding = pipeline.padding
        # The common serving call (one str, no truncation or padding configured) in as few
        # Python steps as possible: (core encode_ids, which answers None when the text needs the
        # reference; the reference's ids for those texts; prefix; suffix).
        self._plain = None
        if native is not None and self.affixes is not None and self.truncation is None \
                and self.padding is None:
            core_enc = getattr(native, "_enc", native)
            reference = getattr(native, "reference_ids", native.encode_ids)
            self._plain = (core_enc.encode_ids, reference) + tuple(self.affixes)

    @classmethod
    def load(cls, json_obj: dict, backend: str) -> "HfEngine":
        pipeline = HfPipeline.from_json(json_obj)
        native = None
        if backend == "native":
            native = _native_encoder(json_obj, pipeline)
        return cls(pipeline, native, json_obj, backend)

    def replace_pipeline(self, pipeline: HfPipeline) -> "HfEngine":
        engine = HfEngine(pipeline, self.native, self.json_obj, self.backend)
        if self._split_variant is not None:  # keep the loaded native encoder, new settings
            variant = self._split_variant
            engine._split_variant = HfEngine(
                pipeline.with_split_special_tokens(True), variant.native, self.json_obj,
                self.backend)
            engine._split_variant._split_variant = engine._split_variant
        return engine

    def split_specials(self) -> "HfEngine":
        """The same settings with HF's ``encode_special_tokens`` on: special added tokens in the
        text are ordinary text. Built on first use (its native encoder matches only the
        non-special added tokens)."""
        variant = self._split_variant
        if variant is None:
            pipeline = self.pipeline.with_split_special_tokens(True)
            native = None
            if self.backend == "native":
                native = _native_encoder(self.json_obj, pipeline, skip_special=True)
            variant = HfEngine(pipeline, native, self.json_obj, self.backend)
            variant._split_variant = variant
            self._split_variant = variant
        return variant

    @property
    def uses_native(self) -> bool:
        return self.native is not None

    # -- ids ------------------------------------------------------------------------------------

    def _finish(self, ids: list[int], add_special_tokens: bool, pad: bool = True) -> list[int]:
        """Truncation, single-sequence template and padding, as the reference applies them."""
        prefix, suffix = self.affixes
        t = self.truncation
        if t is not None:
            max_length = t["max_length"]
            if add_special_tokens and (prefix or suffix):
                max_length -= len(prefix) + len(suffix)
                if max_length < 0:
                    raise ValueError("truncation max_length is smaller than the number of "
                                     "special tokens")
            if t["strategy"] == "only_second":
                if len(ids) > max_length:
                    raise ValueError("Truncation error: Second sequence not provided")
            elif len(ids) > max_length:
                ids = ids[:max_length] if t["direction"] == "right" else ids[len(ids) - max_length:]
        if add_special_tokens and (prefix or suffix):
            ids = prefix + ids + suffix
        p = self.padding
        if pad and p is not None:
            target = p["length"] if p["length"] is not None else len(ids)
            multiple = p["pad_to_multiple_of"]
            if multiple and target % multiple:
                target += multiple - target % multiple
            if len(ids) < target:
                pad = [p["pad_id"]] * (target - len(ids))
                ids = ids + pad if p["direction"] == "right" else pad + ids
        return ids

    def _fast(self, pair) -> bool:
        return self.native is not None and pair is None and self.affixes is not None

    def encode(self, text: str, pair: Optional[str], add_special_tokens: bool) -> list[int]:
        plain = self._plain
        if plain is not None and pair is None and text.__class__ is str:
            ids = plain[0](text)
            if ids is None:
                ids = plain[1](text)
            if add_special_tokens and (plain[2] or plain[3]):
                return plain[2] + ids + plain[3]
            return ids
        if self._fast(pair):
            if not isinstance(text, str):
                raise TypeError(f"expected str, got {type(text).__name__}")
            return self._finish(self.native.encode_ids(text), add_special_tokens)
        return self.pipeline.encode(text, pair, add_special_tokens).ids

    def encode_batch(self, texts: Sequence, add_special_tokens: bool,
                     num_threads: int) -> list[list[int]]:
        if self.native is not None and self.affixes is not None and all(
                isinstance(t, str) for t in texts):
            raw = self.native.encode_ids_batch(list(texts), num_threads)
            if self.padding is not None and self.padding["length"] is None:
                # BatchLongest pads every row to the longest row of the batch.
                rows = [self._finish(ids, add_special_tokens, pad=False) for ids in raw]
                return self._pad_batch(rows)
            return [self._finish(ids, add_special_tokens) for ids in raw]
        return [e.ids for e in self.pipeline.encode_batch(list(texts), add_special_tokens)]

    def _pad_batch(self, rows: list[list[int]]) -> list[list[int]]:
        p = self.padding
        target = max((len(r) for r in rows), default=0)
        multiple = p["pad_to_multiple_of"]
        if multiple and target % multiple:
            target += multiple - target % multiple
        out = []
        for r in rows:
            pad = [p["pad_id"]] * (target - len(r))
            out.append(r + pad if p["direction"] == "right" else pad + r)
        return out

    def encode_full(self, text: str, pair: Optional[str], add_special_tokens: bool) -> HfEncoding:
        return self.pipeline.encode(text, pair, add_special_tokens)

    def encode_with_offsets(self, text: str, add_special_tokens: bool):
        if self._fast(None) and self.truncation is None and self.padding is None and not (
                add_special_tokens and any(self.affixes)) and self._offsets_native_ok():
            ids, offsets = self.native.encode(text)
            return list(ids), [tuple(o) for o in offsets]
        enc = self.pipeline.encode(text, None, add_special_tokens)
        return enc.ids, list(enc.offsets)

    def _offsets_native_ok(self) -> bool:
        # A ByteLevel post-processor with trim_offsets rewrites offsets; leave it to the reference.
        pp = self.pipeline.post_processor
        return pp is None or not getattr(pp, "trim_offsets", False)


def _native_encoder(json_obj: dict, pipeline: HfPipeline,
                    skip_special: bool = False) -> Optional[Any]:
    """A native encoder for this file, or None when no native kernel covers it exactly.
    ``skip_special``: special added tokens are not matched (HF's encode_special_tokens)."""
    for factory in _NATIVE_FACTORIES:
        encoder = factory(json_obj, pipeline, skip_special)
        if encoder is not None:
            return encoder
    return None


def _byte_level_bpe(json_obj: dict, pipeline: HfPipeline, skip_special: bool) -> Optional[Any]:
    from ._hf_native import NativeHfBpe, unsupported_reason

    if unsupported_reason(json_obj) is not None:
        return None
    from .errors import UnsupportedError

    try:
        native = NativeHfBpe(json_obj, skip_special)
    except UnsupportedError:
        return None
    native._reference = pipeline  # texts it declines go to the same reference pipeline
    return native


def _bert_wordpiece(json_obj: dict, pipeline: HfPipeline, skip_special: bool) -> Optional[Any]:
    from ._hf_native import bert_unsupported_reason, native_bert

    if bert_unsupported_reason(json_obj) is not None:
        return None
    try:
        return native_bert(json_obj, pipeline, skip_special)
    except ValueError:  # e.g. an added token the native matcher cannot represent
        return None


_NATIVE_FACTORIES: list[Callable[[dict, HfPipeline, bool], Optional[Any]]] = [
    _byte_level_bpe, _bert_wordpiece]


def parse_json(json_text: str) -> dict:
    try:
        obj = json.loads(json_text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not a valid tokenizer.json: {exc}") from None
    if not isinstance(obj, dict) or "model" not in obj:
        raise ValueError("not a tokenizer.json: expected an object with a 'model'")
    return obj
