"""The whole HF tokenizer.json pipeline in pure Python: added tokens -> normalizer ->
pre-tokenizer -> model -> truncation -> post-processor -> padding, and decoding."""
from __future__ import annotations

import copy
import json
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ...errors import UnsupportedError
from .added_vocabulary import AddedVocabulary
from .components import Decoder, Normalizer, PreTokenizer
from .encoding import HfEncoding, PostProcessor, pad_encodings, truncate_encodings
from .models import build_model
from .normalized import NormalizedString, PreTokenizedString

_DIRECTIONS = {"Left": "left", "Right": "right", "left": "left", "right": "right"}
_STRATEGIES = {"LongestFirst": "longest_first", "OnlyFirst": "only_first",
               "OnlySecond": "only_second", "longest_first": "longest_first",
               "only_first": "only_first", "only_second": "only_second"}


def _truncation_from_json(obj) -> Optional[dict]:
    if obj is None:
        return None
    return {"max_length": obj.get("max_length", 512), "stride": obj.get("stride", 0),
            "strategy": _STRATEGIES[obj.get("strategy", "LongestFirst")],
            "direction": _DIRECTIONS[obj.get("direction", "Right")]}


def _padding_from_json(obj) -> Optional[dict]:
    if obj is None:
        return None
    strategy = obj.get("strategy", "BatchLongest")
    length = strategy["Fixed"] if isinstance(strategy, dict) else None
    return {"length": length, "pad_to_multiple_of": obj.get("pad_to_multiple_of"),
            "pad_id": obj.get("pad_id", 0), "pad_token": obj.get("pad_token", "[PAD]"),
            "pad_type_id": obj.get("pad_type_id", 0),
            "direction": _DIRECTIONS[obj.get("direction", "Right")]}


class HfPipeline:
    """A tokenizer.json pipeline; immutable (the ``with_*`` methods return new pipelines)."""

    def __init__(self) -> None:  # use from_json
        self.normalizer: Optional[Normalizer] = None
        self.pre_tokenizer: Optional[PreTokenizer] = None
        self.model = None
        self.post_processor: Optional[PostProcessor] = None
        self.decoder: Optional[Decoder] = None
        self.added: Optional[AddedVocabulary] = None
        self._truncation: Optional[dict] = None
        self._padding: Optional[dict] = None
        self.split_special_tokens = False

    @classmethod
    def from_json(cls, obj: Union[dict, str]) -> "HfPipeline":
        if isinstance(obj, str):
            obj = json.loads(obj)
        p = cls()
        norm = obj.get("normalizer")
        p.normalizer = Normalizer(norm) if norm else None
        pre = obj.get("pre_tokenizer")
        p.pre_tokenizer = PreTokenizer(pre) if pre else None
        if obj.get("model") is None:
            raise UnsupportedError("a tokenizer.json without a model is not supported")
        p.model = build_model(obj["model"])
        post = obj.get("post_processor")
        p.post_processor = PostProcessor(post) if post else None
        dec = obj.get("decoder")
        p.decoder = Decoder(dec) if dec else None
        p._truncation = _truncation_from_json(obj.get("truncation"))
        p._padding = _padding_from_json(obj.get("padding"))
        p.added = AddedVocabulary(obj.get("added_tokens") or [], p.model, p.normalizer)
        return p

    @classmethod
    def from_file(cls, path: str) -> "HfPipeline":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(json.load(f))

    # -- settings ---------------------------------------------------------------------------

    @property
    def truncation(self) -> Optional[dict]:
        return None if self._truncation is None else dict(self._truncation)

    @property
    def padding(self) -> Optional[dict]:
        return None if self._padding is None else dict(self._padding)

    def _replace(self, **changes) -> "HfPipeline":
        new = copy.copy(self)
        for k, v in changes.items():
            setattr(new, k, v)
        return new

    def with_truncation(self, max_length: int, stride: int = 0, strategy: str = "longest_first",
                        direction: str = "right") -> "HfPipeline":
        if strategy not in ("longest_first", "only_first", "only_second"):
            raise ValueError(f"unknown truncation strategy {strategy!r}")
        if direction not in ("left", "right"):
            raise ValueError(f"unknown truncation direction {direction!r}")
        return self._replace(_truncation={"max_length": max_length, "stride": stride,
                                          "strategy": strategy, "direction": direction})

    def without_truncation(self) -> "HfPipeline":
        return self._replace(_truncation=None)

    def with_padding(self, direction: str = "right", pad_id: int = 0, pad_type_id: int = 0,
                     pad_token: str = "[PAD]", length: Optional[int] = None,
                     pad_to_multiple_of: Optional[int] = None) -> "HfPipeline":
        if direction not in ("left", "right"):
            raise ValueError(f"unknown padding direction {direction!r}")
        return self._replace(_padding={"length": length, "pad_to_multiple_of": pad_to_multiple_of,
                                       "pad_id": pad_id, "pad_token": pad_token,
                                       "pad_type_id": pad_type_id, "direction": direction})

    def with_split_special_tokens(self, flag: bool) -> "HfPipeline":
        """HF's ``encode_special_tokens``: special added tokens in the text are encoded as
        ordinary text instead of becoming control tokens."""
        return self._replace(split_special_tokens=bool(flag))

    def without_padding(self) -> "HfPipeline":
        return self._replace(_padding=None)

    # -- components alone -------------------------------------------------------------------

    def normalize_str(self, text: str) -> str:
        ns = NormalizedString(text)
        if self.normalizer is not None:
            self.normalizer.normalize(ns)
        return ns.normalized

    def pre_tokenize_str(self, text: str) -> List[Tuple[str, Tuple[int, int]]]:
        pts = PreTokenizedString(text)
        if self.pre_tokenizer is not None:
            self.pre_tokenizer.pre_tokenize(pts)
        return pts.get_splits()

    # -- vocabulary -------------------------------------------------------------------------

    def token_to_id(self, token: str) -> Optional[int]:
        i = self.added.map.get(token)
        return i if i is not None else self.model.token_to_id(token)

    def id_to_token(self, i: int) -> Optional[str]:
        tok = self.added.simple_id_to_token(i)
        return tok if tok is not None else self.model.id_to_token(i)

    def get_vocab(self, with_added_tokens: bool = True) -> Dict[str, int]:
        vocab = self.model.get_vocab()
        if with_added_tokens:
            vocab.update(self.added.map)
        return vocab

    def get_vocab_size(self, with_added_tokens: bool = True) -> int:
        base = self.model.get_vocab_size()
        if not with_added_tokens:
            return base
        overlap = sum(1 for t in self.added.map if self.model.token_to_id(t) is not None)
        return base + len(self.added.map) - overlap

    # -- encoding ---------------------------------------------------------------------------

    def _encode_one(self, text: str, type_id: int) -> HfEncoding:
        pts = self.added.extract_and_normalize(self.normalizer, text, self.split_special_tokens)
        if self.pre_tokenizer is not None:
            self.pre_tokenizer.pre_tokenize(pts)
        # Every pre-token is tokenized even under truncation: HF's Rust sources since 0.23.1
        # stop early (tokenize_with_limit), but the 0.23.3 Python wheel does not -- its
        # `overflowing` holds the whole text -- and the wheel is the reference.
        pts.tokenize(lambda ns: self.model.tokenize(ns.normalized))
        return HfEncoding.from_tokens(pts.into_tokens(), type_id)

    def _post_process(self, enc: HfEncoding, pair: Optional[HfEncoding],
                      add_special_tokens: bool, pad: bool) -> HfEncoding:
        t = self._truncation
        if t is not None:
            n_added = self.post_processor.added_tokens(pair is not None) if self.post_processor else 0
            params = t
            if add_special_tokens and n_added > 0:
                params = dict(t, max_length=t["max_length"] - n_added)
                if params["max_length"] < 0:
                    raise ValueError("truncation max_length is smaller than the number of "
                                     "special tokens")
            truncate_encodings(enc, pair, params)
        if self.post_processor is not None:
            final = self.post_processor.process(enc, pair, add_special_tokens)
        elif pair is None:
            final = enc
        else:
            final = HfEncoding()
            for i, e in enumerate((enc, pair)):
                e.set_sequence_id(i)
                final.merge_with(e, False)
        if pad and self._padding is not None:
            pad_encodings([final], self._padding)
        return final

    def encode(self, text: str, pair: Optional[str] = None,
               add_special_tokens: bool = True) -> HfEncoding:
        return self._encode(text, pair, add_special_tokens, pad=True)

    def _encode(self, text: str, pair: Optional[str], add_special_tokens: bool,
                pad: bool) -> HfEncoding:
        if not isinstance(text, str) or (pair is not None and not isinstance(pair, str)):
            raise TypeError("encode expects str inputs")
        # A str with lone surrogates has no UTF-8 form: refuse it (UnicodeEncodeError, a
        # ValueError) as the native path does; HF tokenizers refuses it too.
        text.encode("utf-8")
        if pair is not None:
            pair.encode("utf-8")
        enc = self._encode_one(text, 0)
        pair_enc = self._encode_one(pair, 1) if pair is not None else None
        return self._post_process(enc, pair_enc, add_special_tokens, pad)

    def encode_batch(self, inputs: Sequence[Union[str, Tuple[str, str]]],
                     add_special_tokens: bool = True) -> List[HfEncoding]:
        out = []
        for item in inputs:
            if isinstance(item, str):
                out.append(self._encode(item, None, add_special_tokens, pad=True))
            else:
                a, b = item
                out.append(self._encode(a, b, add_special_tokens, pad=True))
        if self._padding is not None:
            pad_encodings(out, self._padding)
        return out

    # -- decoding ---------------------------------------------------------------------------

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        tokens = []
        for i in ids:
            tok = self.id_to_token(int(i))
            if tok is None:
                continue
            if skip_special_tokens and tok in self.added.special:
                continue
            tokens.append(tok)
        if self.decoder is not None:
            if not tokens and self.decoder.kind == "BPEDecoder":
                return ""
            return self.decoder.decode(tokens)
        return " ".join(tokens)

    def decode_batch(self, sequences: Sequence[Sequence[int]],
                     skip_special_tokens: bool = True) -> List[str]:
        return [self.decode(ids, skip_special_tokens) for ids in sequences]
