"""Native path for HF tokenizer.json byte-level BPE files: decides whether a file qualifies
(``unsupported_reason``) and wraps ``_core.HfBpeEncoder`` (``NativeHfBpe``), which gives HF's ids
and character offsets before the post-processor. Texts the native path declines (text that a
NFC/NFKC normalizer would change) are encoded by the pure-Python reference
(``_fallback.hf``), so results are always HF's.

Supported: model BPE (merges as "a b" or [a, b], ignore_merges, any unk_token/byte_fallback/
fuse_unk as long as all 256 ByteLevel symbols are in the vocabulary, so those never apply);
normalizer none, empty Sequence, NFC or NFKC (native only on text already normal); pre-tokenizer
ByteLevel (use_regex on = HF's GPT-2 regex, add_prefix_space either way), deepseek_v3.json's
Sequence[Split x 3, ByteLevel(use_regex=false, add_prefix_space=false)], or Sequence[Split(P),
ByteLevel(use_regex=false, add_prefix_space=false)] where P is exactly a regex with a hand-written
lexer (``_core.hf_split_pattern_lexer``: GPT-2, Llama-3, Qwen2, cl100k_base, o200k_base) and the
Split is Isolated or inverted Removed (the same pieces, as these regexes match every character);
added tokens with lstrip/rstrip/normalized. Not supported (reference instead): single_word added
tokens, non-empty continuing_subword_prefix/end_of_word_suffix, dropout, other
normalizers/pre-tokenizers.
"""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

from . import _backend
from .errors import UnsupportedError

_DEFAULT_BATCH_THREADS = 0


def _normalizer_name(obj) -> Optional[str]:
    """'' for none/empty, 'NFC'/'NFKC', or None when unsupported."""
    if obj is None:
        return ""
    kind = obj.get("type")
    if kind == "Sequence":
        subs = [n for n in (obj.get("normalizers") or [])]
        names = [_normalizer_name(n) for n in subs]
        if any(n is None for n in names):
            return None
        names = [n for n in names if n]
        if len(names) > 1:
            return None
        return names[0] if names else ""
    if kind in ("NFC", "NFKC"):
        return kind
    return None


def _pre_tokenizer_spec(obj) -> Tuple[Optional[Tuple[str, bool]], str]:
    """((kind, add_prefix_space), '') or (None, reason)."""
    if obj is None:
        return None, "no pre-tokenizer (not byte-level)"
    kind = obj.get("type")
    if kind == "ByteLevel":
        use_regex = obj.get("use_regex", True)
        return ("gpt2" if use_regex else "whole", bool(obj.get("add_prefix_space", True))), ""
    if kind == "Sequence":
        subs = list(obj.get("pretokenizers") or [])
        if len(subs) == 1:
            return _pre_tokenizer_spec(subs[0])
        if not subs or subs[-1].get("type") != "ByteLevel":
            return None, "pre-tokenizer Sequence not ending in ByteLevel"
        last = subs[-1]
        if last.get("use_regex", True) or last.get("add_prefix_space", True):
            return None, "ByteLevel with use_regex/add_prefix_space after Split"
        patterns, modes = [], []
        for s in subs[:-1]:
            if s.get("type") != "Split":
                return None, f"pre-tokenizer {s.get('type')!r} in a Sequence"
            pat = s.get("pattern") or {}
            if list(pat) != ["Regex"] or not isinstance(pat["Regex"], str):
                return None, "Split with a non-regex pattern"
            patterns.append(pat["Regex"])
            modes.append((s.get("behavior"), bool(s.get("invert", False))))
        core = _backend._native
        if core is None:
            return None, "the native extension is unavailable"
        if len(patterns) == 1:
            lexer = core.hf_split_pattern_lexer(patterns[0])
            # Each of these regexes matches every character, so the unmatched gaps are empty and an
            # inverted Removed split (as tiktoken conversions write it) keeps exactly the matches.
            if lexer is not None and modes[0] in (("Isolated", False), ("Removed", True)):
                return (lexer, False), ""
        elif modes == [("Isolated", False)] * len(modes) and core.hf_deepseek_split_patterns_match(patterns):
            return ("deepseek_v3", False), ""
        return None, "Split regexes without a hand-written lexer"
    return None, f"pre-tokenizer {kind!r}"


def unsupported_reason(obj: dict) -> Optional[str]:
    """Why this tokenizer.json cannot use the native byte-level BPE path, or None if it can."""
    if _backend._native is None:
        return "the native extension is unavailable"
    model = obj.get("model") or {}
    kind = model.get("type") or ("BPE" if "merges" in model else None)
    if kind != "BPE":
        return f"model {kind!r}"
    if model.get("dropout") not in (None, 0, 0.0):
        return "BPE dropout"
    # An empty prefix/suffix (as Qwen2 files write them) changes nothing in HF's BPE.
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        return "continuing_subword_prefix/end_of_word_suffix"
    if _normalizer_name(obj.get("normalizer")) is None:
        return f"normalizer {obj.get('normalizer')!r}"
    spec, why = _pre_tokenizer_spec(obj.get("pre_tokenizer"))
    if spec is None:
        return why
    if any(t.get("single_word") for t in obj.get("added_tokens") or []):
        return "single_word added tokens"
    return None


def _added_tokens(obj: dict, normalizer_json, skip_special: bool = False) -> List[tuple]:
    """(content, id, normalized, lstrip, rstrip) as HF's AddedVocabulary assigns them; with
    ``skip_special`` the special ones are left out of matching (HF's encode_special_tokens)."""
    vocab = (obj.get("model") or {}).get("vocab") or {}
    norm = None
    if normalizer_json is not None and _normalizer_name(normalizer_json):
        from ._fallback.hf.components import Normalizer
        norm = Normalizer(normalizer_json)
    by_content: dict = {}
    by_id: dict = {}
    next_id = len(vocab)
    for t in obj.get("added_tokens") or []:
        content = t["content"]
        if not content:
            continue
        special = bool(t.get("special", False))
        normalized = t.get("normalized")
        normalized = (not special) if normalized is None else bool(normalized)
        key = (content, bool(t.get("single_word")), bool(t.get("lstrip")), bool(t.get("rstrip")),
               normalized, special)
        known = by_content.get(content)
        if known is not None and by_id.get(known, (None,))[0] == key:
            continue
        new_id = known if known is not None else vocab.get(content)
        if new_id is None:
            new_id = next_id
            next_id += 1
        by_content[content] = new_id
        by_id[new_id] = (key, content)
    out = []
    for tid, (key, content) in by_id.items():
        _, _, lstrip, rstrip, normalized, special = key
        if skip_special and special:
            continue
        match = content
        if normalized and norm is not None:
            from ._fallback.hf.normalized import NormalizedString
            ns = NormalizedString(content)
            norm.normalize(ns)
            match = ns.normalized
        out.append((match, tid, normalized, lstrip, rstrip))
    return out


def _simple_replacements(form: str) -> List[tuple]:
    """(code point, image) for characters HF's NFC/NFKC (Unicode 9.0 data) replaces independently
    of their neighbours: ccc 0, not a composition second element, an image of ccc-0 characters
    whose first is no composition second element and whose last no composition first element."""
    if not form:
        return []
    from ._fallback.hf import _unicode as U
    n = U._norm9()
    compat = form == "NFKC"
    firsts = {a for a, _ in n.compose} | set(range(U._L_BASE, U._L_BASE + U._L_COUNT))
    firsts |= {U._S_BASE + i for i in range(0, U._S_COUNT, U._T_COUNT)}
    seconds = {b for _, b in n.compose} | set(range(U._V_BASE, U._V_BASE + U._V_COUNT))
    seconds |= set(range(U._T_BASE + 1, U._T_BASE + U._T_COUNT))
    table = n.compat if compat else n.canonical
    out = []
    for cp in sorted(table):
        if n.ccc.get(cp, 0) or cp in seconds:
            continue
        image = "".join(c for c, _ in U.recompositions_9(chr(cp), compat))
        if not image or image == chr(cp):
            continue
        if any(n.ccc.get(ord(c), 0) for c in image):
            continue
        if ord(image[0]) in seconds or ord(image[-1]) in firsts:
            continue
        out.append((cp, image))
    return out


class NativeHfBpe:
    """HF's ids and character offsets (before the post-processor) for one tokenizer.json."""

    def __init__(self, obj: dict, skip_special: bool = False) -> None:
        why = unsupported_reason(obj)
        if why is not None:
            raise UnsupportedError(f"native HF BPE path: {why}")
        self._json = obj
        self._reference = None
        model = obj["model"]
        spec, _ = _pre_tokenizer_spec(obj.get("pre_tokenizer"))
        normalizer = _normalizer_name(obj.get("normalizer"))
        core = _backend._native
        try:
            self._enc = core.HfBpeEncoder(
                dict(model.get("vocab") or {}), list(model.get("merges") or []),
                _added_tokens(obj, obj.get("normalizer"), skip_special), spec[0], spec[1], normalizer,
                bool(model.get("ignore_merges") or False), _simple_replacements(normalizer))
        except ValueError as exc:
            raise UnsupportedError(f"native HF BPE path: {exc}") from None

    @property
    def reference(self):
        """The pure-Python pipeline (built on first use)."""
        if self._reference is None:
            from ._fallback.hf import HfPipeline
            self._reference = HfPipeline.from_json(self._json)
        return self._reference

    def _reference_encode(self, text: str):
        enc = self.reference._encode_one(text, 0)
        return list(enc.ids), list(enc.offsets)

    def encode(self, text: str) -> Tuple[List[int], List[Tuple[int, int]]]:
        r = self._enc.encode(text)
        return r if r is not None else self._reference_encode(text)

    def encode_ids(self, text: str) -> List[int]:
        r = self._enc.encode_ids(text)
        return r if r is not None else self.reference_ids(text)

    def reference_ids(self, text: str) -> List[int]:
        """Ids of a text the native encoder declined (it needs the reference's normalizer)."""
        return self._reference_encode(text)[0]

    def encode_batch(self, texts: Sequence[str], num_threads: int = _DEFAULT_BATCH_THREADS):
        out = self._enc.encode_batch(list(texts), num_threads)
        for i, r in enumerate(out):
            if r is None:
                out[i] = self._reference_encode(texts[i])
        return out

    def encode_ids_batch(self, texts: Sequence[str], num_threads: int = _DEFAULT_BATCH_THREADS):
        out = self._enc.encode_ids_batch(list(texts), num_threads)
        for i, r in enumerate(out):
            if r is None:
                out[i] = self._reference_encode(texts[i])[0]
        return out

    def encode_batch_packed(self, texts: Sequence[str], num_threads: int, spec: dict):
        """Tokenize, add the post-processor's specials with HF truncation and pack, in one native
        call (``spec`` as built by features._packed_spec). None when a text is not a str or needs
        the reference: the caller then takes its general path."""
        return self._enc.encode_batch_packed(texts, num_threads, spec)

    def encode_with_words(self, text: str):
        """(ids, offsets, words); words are HF's word (split) indices."""
        r = self._enc.encode(text, True)
        if r is not None:
            return r
        enc = self.reference._encode_one(text, 0)
        return list(enc.ids), list(enc.offsets), list(enc.words)


# -- BERT: BertNormalizer + BertPreTokenizer + WordPiece, one fused native pass ------------------

def bert_unsupported_reason(obj: dict) -> Optional[str]:
    """None when ``_core.BertEncoder`` reproduces this file's pipeline before post-processing."""
    norm = obj.get("normalizer") or {}
    pre = obj.get("pre_tokenizer") or {}
    model = obj.get("model") or {}
    if norm.get("type") != "BertNormalizer":
        return "normalizer is not BertNormalizer"
    if pre.get("type") != "BertPreTokenizer":
        return "pre-tokenizer is not BertPreTokenizer"
    if model.get("type") != "WordPiece":
        return "model is not WordPiece"
    vocab = model.get("vocab") or {}
    ids = sorted(vocab.values())
    if ids != list(range(len(ids))) or any(not t for t in vocab):
        return "WordPiece vocabulary is not dense (ids 0..n-1, no empty tokens)"
    return None


def native_bert(obj: dict, pipeline, skip_special: bool = False):
    """``_core.BertEncoder`` for the file; added-token ids as the reference's AddedVocabulary
    assigns them (HF's rules). ``skip_special`` leaves special added tokens out of matching."""
    model = obj["model"]
    vocab_map = model["vocab"]
    vocab = [""] * len(vocab_map)
    for token, i in vocab_map.items():
        vocab[i] = token
    norm = obj["normalizer"]
    added = [(t.content, i, t.lstrip, t.rstrip, t.single_word, t.normalized, t.special)
             for i, t in pipeline.added.map_r.items() if not (skip_special and t.special)]
    return _backend._native.BertEncoder(
        vocab, model.get("unk_token", "[UNK]"), model.get("continuing_subword_prefix", "##"),
        model.get("max_input_chars_per_word", 100), norm.get("clean_text", True),
        norm.get("handle_chinese_chars", True), norm.get("strip_accents"),
        norm.get("lowercase", True), added)
