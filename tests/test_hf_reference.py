"""The pure-Python HF pipeline reference (fastprep._fallback.hf) against HF `tokenizers` itself:
the three shipped tokenizer.json files on corpus text and Hypothesis text, and small synthetic
tokenizer.json documents (built with HF's own Python API) covering every supported component."""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import CORPUS_DIR, CORPUS_FILES, VOCAB_DIR

tokenizers = pytest.importorskip("tokenizers")
from tokenizers import (  # noqa: E402
    AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors,
)

from fastprep._fallback.hf import HfPipeline  # noqa: E402
from fastprep.errors import UnsupportedError  # noqa: E402

FILES = ["bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3"]
FIELDS = ("ids", "type_ids", "tokens", "offsets", "attention_mask", "special_tokens_mask")

_cache: dict = {}


def _load(name: str):
    if name not in _cache:
        path = VOCAB_DIR / f"{name}.json"
        if not path.exists():
            pytest.skip(f"{path} not present")
        text = path.read_text(encoding="utf-8")
        _cache[name] = (Tokenizer.from_str(text), HfPipeline.from_json(json.loads(text)), text)
    return _cache[name]


def _variant(name: str, trunc_pad: bool):
    """(HF tokenizer, reference) with the file's truncation/padding on, or both turned off."""
    hf, ref, text = _load(name)
    if trunc_pad:
        return hf, ref
    key = (name, "off")
    if key not in _cache:
        hf_off = Tokenizer.from_str(text)
        hf_off.no_truncation()
        hf_off.no_padding()
        _cache[key] = (hf_off, ref.without_truncation().without_padding())
    return _cache[key]


def _assert_same(a, b, context, overflow=True) -> None:
    for field in FIELDS:
        x, y = list(getattr(a, field)), list(getattr(b, field))
        if field == "offsets":
            y = [tuple(o) for o in y]
        assert x == y, f"{field} differs for {context!r}"
    if overflow:
        assert len(a.overflowing) == len(b.overflowing), f"overflowing count for {context!r}"
        for oa, ob in zip(a.overflowing, b.overflowing):
            _assert_same(oa, ob, context, overflow=False)


def _check(hf, ref, text, pair=None, add_special_tokens=True) -> None:
    a = hf.encode(text, pair, add_special_tokens=add_special_tokens)
    b = ref.encode(text, pair, add_special_tokens=add_special_tokens)
    _assert_same(a, b, (text, pair))
    for skip in (True, False):
        assert hf.decode(a.ids, skip_special_tokens=skip) == ref.decode(a.ids, skip), text


def _corpus_samples(per_file: int = 120, paragraphs: int = 3) -> list[str]:
    out = []
    for name in CORPUS_FILES:
        path = CORPUS_DIR / name
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8")
        lines = [line for line in text.split("\n") if line.strip()]
        random.Random(name).shuffle(lines)
        out += lines[:per_file]
        out += [p for p in text.split("\n\n") if p.strip()][:paragraphs]
    if not out:
        pytest.skip("no corpus files")
    return out


# -- the shipped files on corpus text ---------------------------------------------------------

@pytest.mark.parametrize("trunc_pad", [True, False], ids=["trunc_pad", "plain"])
@pytest.mark.parametrize("name", FILES)
def test_corpus_matches_hf(name, trunc_pad):
    hf, ref = _variant(name, trunc_pad)
    for text in _corpus_samples():
        _check(hf, ref, text)


@pytest.mark.parametrize("name", FILES)
def test_encode_batch_matches_hf(name):
    hf, ref = _variant(name, trunc_pad=False)
    hf = Tokenizer.from_str(hf.to_str())
    hf.enable_padding(pad_id=3, pad_token="<pad>", pad_to_multiple_of=8)
    ref = ref.with_padding(pad_id=3, pad_token="<pad>", pad_to_multiple_of=8)
    batch = _corpus_samples(per_file=10, paragraphs=1)
    for got, want in zip(ref.encode_batch(batch), hf.encode_batch(batch)):
        _assert_same(want, got, "batch")
    assert ref.decode_batch([e.ids for e in hf.encode_batch(batch)]) == \
        hf.decode_batch([e.ids for e in hf.encode_batch(batch)])


def test_bert_pairs_and_batch_longest():
    hf, ref = _variant("bert_minilm_uncased", trunc_pad=True)
    lines = _corpus_samples(per_file=12, paragraphs=0)
    pairs = list(zip(lines[::2], lines[1::2]))
    for a, b in pairs:
        _check(hf, ref, a, b)
        _check(hf, ref, a, b, add_special_tokens=False)
    hf2 = Tokenizer.from_str(hf.to_str())
    hf2.enable_padding(direction="left", pad_id=0, pad_token="[PAD]")
    ref2 = ref.with_padding(direction="left")
    for got, want in zip(ref2.encode_batch(pairs), hf2.encode_batch(pairs)):
        _assert_same(want, got, "pair batch")


@pytest.mark.parametrize("strategy", ["longest_first", "only_first", "only_second"])
@pytest.mark.parametrize("direction", ["right", "left"])
def test_bert_truncation_strategies(strategy, direction):
    hf, ref = _variant("bert_minilm_uncased", trunc_pad=False)
    hf = Tokenizer.from_str(hf.to_str())
    hf.enable_truncation(24, stride=5, strategy=strategy, direction=direction)
    ref = ref.with_truncation(24, stride=5, strategy=strategy, direction=direction)
    assert ref.truncation == hf.truncation
    lines = _corpus_samples(per_file=6, paragraphs=0)
    for a, b in zip(lines[::2], lines[1::2]):
        a, b = (a * 3)[:300], b[:120]
        try:
            want = hf.encode(a, b)
        except BaseException as e:  # HF panics (pyo3 PanicException) when stride >= max_len
            if isinstance(e, KeyboardInterrupt):
                raise
            with pytest.raises(ValueError):
                ref.encode(a, b)
            continue
        _assert_same(want, ref.encode(a, b), (a, b))
        if strategy != "only_second":
            _assert_same(hf.encode(a), ref.encode(a), a)


def test_settings_properties():
    hf, ref = _variant("bert_minilm_uncased", trunc_pad=True)
    assert ref.truncation == hf.truncation
    assert ref.padding == hf.padding
    hf_off, ref_off = _variant("bert_minilm_uncased", trunc_pad=False)
    assert ref_off.truncation is None and ref_off.padding is None
    for name in FILES:
        hf, ref, _ = _load(name)
        assert ref.get_vocab_size(True) == hf.get_vocab_size(True)
        assert ref.get_vocab_size(False) == hf.get_vocab_size(False)
        assert ref.get_vocab(True) == hf.get_vocab(True)
        for i in list(range(0, 300)) + list(range(hf.get_vocab_size() - 50, hf.get_vocab_size() + 5)):
            assert ref.id_to_token(i) == hf.id_to_token(i)
            tok = hf.id_to_token(i)
            if tok is not None:
                assert ref.token_to_id(tok) == hf.token_to_id(tok)


# -- the shipped files on Hypothesis text -----------------------------------------------------

_WHITESPACE = [chr(c) for c in (0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85,
                                0xA0, 0x1680, 0x180E, *range(0x2000, 0x200E), 0x2028, 0x2029,
                                0x202F, 0x205F, 0x3000, 0xFEFF)]
_SPECIAL_LOOKALIKES = ["[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[SEP", "<|endoftext|>",
                       "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<|fim_prefix|>",
                       "<｜tool▁calls▁begin｜>", "<think>", "</think>", "<｜place▁holder▁no▁12｜>",
                       "<EOT>", "<META>", "<pad>", "<｜"]
_FRAGMENT = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
    st.sampled_from(_WHITESPACE),
    st.sampled_from(_SPECIAL_LOOKALIKES),
    st.text(st.characters(min_codepoint=0x300, max_codepoint=0x36F), max_size=4),
    st.sampled_from(["👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "é", "e\u0301", "ﬁ", "Å", "İ", "ß", "Σ", "ǅ", "①",
                     "\u1c89", "\U00016ea0", "\u0c5c", "\U0001e944", "\u1df9", "한국어", "日本語",
                     "\U00020000", "\U0002ebf0", "\uac00\u11a8", "\u1100\u1161\u11a8", "\u0000", "\ufffd"]),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", " ", "\n", "!", "ー", "日", "1", "\u00a0"]),
              st.integers(1, 300)),
)
_TEXT = st.lists(_FRAGMENT, max_size=10).map("".join)


@pytest.mark.parametrize("trunc_pad", [True, False], ids=["trunc_pad", "plain"])
@pytest.mark.parametrize("name", FILES)
@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT)
def test_hypothesis_text_matches_hf(name, trunc_pad, text):
    hf, ref = _variant(name, trunc_pad)
    _check(hf, ref, text)
    _check(hf, ref, text, add_special_tokens=False)
    if hf.normalizer is not None:
        assert ref.normalize_str(text) == hf.normalizer.normalize_str(text)
    if hf.pre_tokenizer is not None:
        assert ref.pre_tokenize_str(text) == hf.pre_tokenizer.pre_tokenize_str(text)


def test_long_runs_match_hf():
    for name in FILES:
        hf, ref = _variant(name, trunc_pad=False)
        for text in ("a" * 20000, "日" * 5000, " " * 5000 + "x", "!?" * 3000, "ab" * 10000):
            _check(hf, ref, text)


# -- synthetic tokenizer.json documents -------------------------------------------------------

_SYN_TEXTS = [
    "Hello, world! It's 2024: the year of 42 tokens.",
    "  Leading and trailing spaces   ",
    "Ünïcödé Àccents façade naïve résumé Ǆemal İstanbul ΣΑΣ",
    "日本語のテキストと English mixed 123456 ４５６",
    "tabs\tand\nnewlines\r\nhere  double  spaces",
    "emoji 👍🏽 and 👨‍👩‍👧 family, ﬁne ligature ①②",
    "special [MASK] tokens <extra> inside[MASK]words and <extra>",
    "digits 3.14159 and 1,000,000 and x2y3z",
    "punct!!! ?? ... --- ((brackets)) \"quotes\" 'single'",
    "",
    " ",
    "a",
    "ṩ̂ e\u0301\u0323 \u1e9b\u0323 K\u212b \u00c5\u0301",
    "unknown chars: ☃ ☄ ᚠ ꙮ 𐍈",
]


def _train(model, trainer_cls, **kw):
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainer_cls(**kw)
    tok.train_from_iterator(_corpus_samples(per_file=200, paragraphs=0) + _SYN_TEXTS, trainer)
    return json.loads(tok.to_str())["model"]


_trained: dict = {}


def _bpe_model_json(**options):
    if "bpe" not in _trained:
        from tokenizers import trainers
        _trained["bpe"] = _train(models.BPE(unk_token="<unk>"), trainers.BpeTrainer, vocab_size=600,
                                 special_tokens=["<unk>", "[MASK]", "<extra>"], show_progress=False)
    base = _trained["bpe"]
    vocab = dict(base["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in base["merges"]]
    if options.pop("no_merges", False):  # HF panics on merges whose right side lacks the prefix
        merges = []
    if options.pop("with_bytes", False):
        for b in range(256):
            vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    return models.BPE(vocab=vocab, merges=merges, **options)


def _wordpiece_model(**options):
    if "wp" not in _trained:
        from tokenizers import trainers
        _trained["wp"] = _train(models.WordPiece(unk_token="[UNK]"), trainers.WordPieceTrainer,
                                vocab_size=600, special_tokens=["[UNK]", "[CLS]", "[SEP]", "[PAD]",
                                                                "[MASK]"], show_progress=False)
    return models.WordPiece(vocab=_trained["wp"]["vocab"], unk_token="[UNK]", **options)


def _synthetic():
    """name -> builder of an HF Tokenizer; every builder's JSON is loaded by the reference."""
    S = pre_tokenizers.Split
    cases = {}

    def bpe_case(name, pre=None, norm=None, dec=None, post=None, **model_opts):
        def build():
            tok = Tokenizer(_bpe_model_json(**model_opts))
            if norm is not None:
                tok.normalizer = norm
            if pre is not None:
                tok.pre_tokenizer = pre
            if dec is not None:
                tok.decoder = dec
            if post is not None:
                tok.post_processor = post
            return tok
        cases[name] = build

    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        for invert in (False, True):
            bpe_case(f"split_regex_{behavior}_{'inv' if invert else 'fwd'}",
                     pre=S(Regex(r"\s+|\p{P}+|\d"), behavior, invert=invert))
        bpe_case(f"split_string_{behavior}", pre=S(" ", behavior))
        bpe_case(f"punctuation_{behavior}", pre=pre_tokenizers.Punctuation(behavior))
    for scheme in ["always", "first", "never"]:
        for split in (True, False):
            bpe_case(f"metaspace_{scheme}_{split}",
                     pre=pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split),
                     dec=decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=split))
    bpe_case("metaspace_seq_first", pre=pre_tokenizers.Sequence([
        pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(prepend_scheme="first")]),
        dec=decoders.Metaspace(prepend_scheme="first"))
    bpe_case("whitespace", pre=pre_tokenizers.Whitespace())
    bpe_case("whitespace_split", pre=pre_tokenizers.WhitespaceSplit())
    bpe_case("bert_pre", pre=pre_tokenizers.BertPreTokenizer())
    bpe_case("digits_individual", pre=pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Digits(individual_digits=True)]))
    bpe_case("digits_contiguous", pre=pre_tokenizers.Digits(individual_digits=False))
    bpe_case("char_delimiter", pre=pre_tokenizers.CharDelimiterSplit("e"))
    for aps in (True, False):
        for use_regex in (True, False):
            for trim in (True, False):
                bpe_case(f"bytelevel_aps{aps}_re{use_regex}_trim{trim}",
                         pre=pre_tokenizers.ByteLevel(add_prefix_space=aps, use_regex=use_regex,
                                                      trim_offsets=trim),
                         post=processors.ByteLevel(add_prefix_space=aps, trim_offsets=trim),
                         dec=decoders.ByteLevel())
    bpe_case("roberta", pre=pre_tokenizers.ByteLevel(add_prefix_space=True),
             post=processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                               add_prefix_space=True), dec=decoders.ByteLevel())
    bpe_case("roberta_notrim", pre=pre_tokenizers.ByteLevel(add_prefix_space=False),
             post=processors.RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=False,
                                               add_prefix_space=False))
    norm_cases = {
        "nfc": normalizers.NFC(), "nfd": normalizers.NFD(), "nfkc": normalizers.NFKC(),
        "nfkd": normalizers.NFKD(), "lowercase": normalizers.Lowercase(),
        "strip_accents": normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents()]),
        "strip_both": normalizers.Strip(), "strip_left": normalizers.Strip(left=True, right=False),
        "strip_right": normalizers.Strip(left=False, right=True),
        "replace_string": normalizers.Replace("e", "EE"),
        "replace_regex": normalizers.Replace(Regex(r"\s+"), "_"),
        "replace_delete": normalizers.Replace(Regex(r"[aeiou]"), ""),
        "prepend": normalizers.Prepend("▁"),
        "bert_all": normalizers.BertNormalizer(),
        "bert_cased": normalizers.BertNormalizer(lowercase=False),
        "bert_strip_only": normalizers.BertNormalizer(lowercase=False, strip_accents=True),
        "bert_nostrip": normalizers.BertNormalizer(lowercase=True, strip_accents=False,
                                                   handle_chinese_chars=False, clean_text=False),
        "nmt": normalizers.Nmt(),
        "sequence": normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(),
                                          normalizers.Replace(" ", "▁"), normalizers.Prepend("▁")]),
    }
    for name, norm in norm_cases.items():
        bpe_case(f"norm_{name}", norm=norm, pre=pre_tokenizers.Whitespace())
    bpe_case("norm_nfkc_bytelevel", norm=normalizers.NFKC(), pre=pre_tokenizers.ByteLevel(),
             post=processors.ByteLevel(), dec=decoders.ByteLevel())
    bpe_case("byte_fallback", pre=pre_tokenizers.Metaspace(), with_bytes=True, byte_fallback=True,
             unk_token="<unk>", dec=decoders.Sequence([decoders.Replace("▁", " "),
                                                        decoders.ByteFallback(), decoders.Fuse(),
                                                        decoders.Strip(" ", 1, 0)]))
    bpe_case("byte_fallback_prefix", pre=pre_tokenizers.Whitespace(), with_bytes=True, no_merges=True,
             byte_fallback=True, continuing_subword_prefix="##", end_of_word_suffix="</w>",
             unk_token="<unk>")
    bpe_case("fuse_unk", pre=pre_tokenizers.Whitespace(), unk_token="<unk>", fuse_unk=True)
    bpe_case("no_unk", pre=pre_tokenizers.Whitespace(), unk_token=None)
    bpe_case("ignore_merges", pre=pre_tokenizers.Whitespace(), ignore_merges=True)
    bpe_case("bpe_decoder", pre=pre_tokenizers.Whitespace(), dec=decoders.BPEDecoder(suffix="</w>"))
    bpe_case("bert_processing", pre=pre_tokenizers.Whitespace(),
             post=processors.BertProcessing(("[MASK]", 1), ("<extra>", 2)))
    bpe_case("template", pre=pre_tokenizers.Whitespace(), post=processors.TemplateProcessing(
        single="<extra> $A [MASK]", pair="<extra> $A [MASK] $B:1 [MASK]:1",
        special_tokens=[("<extra>", 2), ("[MASK]", 1)]))
    bpe_case("post_sequence", pre=pre_tokenizers.ByteLevel(), post=processors.Sequence([
        processors.ByteLevel(trim_offsets=True),
        processors.TemplateProcessing(single="<extra> $0", pair="<extra> $A $B:1",
                                      special_tokens=[("<extra>", 2)])]))

    def wp_case(name, pre, norm=None, dec=None, **opts):
        def build():
            tok = Tokenizer(_wordpiece_model(**opts))
            tok.pre_tokenizer = pre
            if norm is not None:
                tok.normalizer = norm
            tok.decoder = dec or decoders.WordPiece()
            return tok
        cases[name] = build

    wp_case("wordpiece_bert", pre_tokenizers.BertPreTokenizer(), normalizers.BertNormalizer())
    wp_case("wordpiece_max_chars", pre_tokenizers.Whitespace(), max_input_chars_per_word=5)
    wp_case("wordpiece_nocleanup", pre_tokenizers.WhitespaceSplit(),
            dec=decoders.WordPiece(prefix="##", cleanup=False))
    return cases


_SYNTHETIC = _synthetic()


def _added(tok):
    tok.add_special_tokens(["[MASK]", AddedToken("<extra>", lstrip=True, rstrip=True)])
    tok.add_tokens([AddedToken("word", single_word=True), AddedToken("ONE", normalized=True),
                    AddedToken(" raw", normalized=False, rstrip=True), AddedToken("é", lstrip=True)])
    return tok


@pytest.mark.parametrize("case", sorted(_SYNTHETIC))
def test_synthetic_matches_hf(case):
    hf = _SYNTHETIC[case]()
    if case.startswith(("norm_", "split_regex_isolated", "bert_processing", "template", "wordpiece_bert",
                        "bytelevel_apsTrue_reTrue_trimTrue")):
        hf = _added(hf)
    ref = HfPipeline.from_json(json.loads(hf.to_str()))
    texts = _SYN_TEXTS + ["a word, words and sword word", "ONE one One  raw raw  é e\u0301"]
    for text in texts:
        _check(hf, ref, text)
        if hf.pre_tokenizer is not None:
            assert ref.pre_tokenize_str(text) == hf.pre_tokenizer.pre_tokenize_str(text), text
        if hf.normalizer is not None:
            assert ref.normalize_str(text) == hf.normalizer.normalize_str(text), text
    for a, b in zip(texts[::2], texts[1::2]):
        _check(hf, ref, a, b)
    hf.enable_truncation(6, stride=2, direction="left")
    hf.enable_padding(direction="left", pad_to_multiple_of=4, pad_id=0, pad_token="<unk>")
    ref = ref.with_truncation(6, stride=2, direction="left").with_padding(
        direction="left", pad_to_multiple_of=4, pad_token="<unk>")
    for text in texts[:6]:
        _check(hf, ref, text)
    for got, want in zip(ref.encode_batch(texts), hf.encode_batch(texts)):
        _assert_same(want, got, "batch")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT, case=st.sampled_from(["norm_bert_all", "norm_nfkc", "norm_nfd", "metaspace_first_True",
                                          "byte_fallback", "split_regex_merged_with_next_inv",
                                          "whitespace", "norm_strip_accents", "norm_lowercase",
                                          "wordpiece_bert", "norm_replace_regex"]))
def test_synthetic_hypothesis(text, case):
    key = ("syn", case)
    if key not in _cache:
        hf = _added(_SYNTHETIC[case]())
        _cache[key] = (hf, HfPipeline.from_json(json.loads(hf.to_str())))
    hf, ref = _cache[key]
    _check(hf, ref, text)


# -- Unicode versions of each HF path (see fastprep._fallback.hf's docstring) ----------------

def _probe_code_points() -> list[int]:
    """Every code point below U+20000 except the middle of the large uniform blocks (CJK, Hangul
    syllables, private use), plus the CJK compatibility supplement and every 61st code point
    above: enough to catch any Unicode-version difference without a million-char string."""
    skip = [(0x3410, 0x4DB0), (0x4E10, 0x9FF0), (0xAC10, 0xD790), (0xD800, 0xDFFF), (0xE010, 0xF8F0)]
    out = []
    for cp in range(0x110000):
        if any(lo <= cp <= hi for lo, hi in skip):
            continue
        if cp < 0x20000 or 0x2F800 <= cp <= 0x2FA1F or cp % 61 == 0:
            out.append(cp)
    return out


_PROBES = _probe_code_points()


def _wordlevel(**components):
    doc = {"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}
    doc.update(components)
    return HfPipeline.from_json(doc)


def test_lowercase_follows_rust_std():
    text = "".join(chr(c) for c in _PROBES)
    ref = _wordlevel(normalizer={"type": "Lowercase"})
    assert ref.normalize_str(text) == normalizers.Lowercase().normalize_str(text)


def test_word_class_follows_rust_regex():
    """\\w of the Whitespace pre-tokenizer (Rust regex, Unicode 16.0): "aX" is one piece iff X is \\w."""
    text = " ".join("a" + chr(c) for c in _PROBES)
    ref = _wordlevel(pre_tokenizer={"type": "Whitespace"})
    assert ref.pre_tokenize_str(text) == pre_tokenizers.Whitespace().pre_tokenize_str(text)


def test_bert_pretokenizer_classes():
    """Punctuation (unicode_categories, Unicode 8.0) and whitespace (Rust std)."""
    text = "".join("a" + chr(c) for c in _PROBES)
    ref = _wordlevel(pre_tokenizer={"type": "BertPreTokenizer"})
    assert ref.pre_tokenize_str(text) == pre_tokenizers.BertPreTokenizer().pre_tokenize_str(text)


@pytest.mark.parametrize("i, pattern", list(enumerate([
    r"\w+", r"\W+", r"\b", r"[\w-]+", r"[^\w\s]+", r"\w+|[^\w\s]+", r"\h+", r"\p{L}+|\p{N}",
    r"\s+(?!\S)|\s+", r"[\p{P}\p{S}]+$"])))
def test_oniguruma_classes(i, pattern):
    """Split regexes: Oniguruma's \\p{..} (Unicode 16.0), \\s, \\w/\\b (its own word class), \\h."""
    text = " ".join("a" + chr(c) for c in _PROBES[i % 3::3])
    ref = _wordlevel(pre_tokenizer={"type": "Split", "pattern": {"Regex": pattern},
                                    "behavior": "Isolated", "invert": False})
    hf = pre_tokenizers.Split(Regex(pattern), "isolated")
    assert ref.pre_tokenize_str(text) == hf.pre_tokenize_str(text)


@pytest.mark.parametrize("form", ["NFC", "NFD", "NFKC", "NFKD"])
def test_unicode_normalization_version(form):
    """Unicode 9.0 normalization (unicode-normalization-alignments), each code point after a
    base letter and before combining marks, so reordering and composition are exercised."""
    text = "".join("a" + chr(c) + "\u0301\u0323" for c in _PROBES)
    ref = _wordlevel(normalizer={"type": form})
    assert ref.normalize_str(text) == getattr(normalizers, form)().normalize_str(text)


def test_bert_clean_text_strip_accents_and_digits():
    text = "".join("a" + chr(c) for c in _PROBES)
    ref = _wordlevel(normalizer={"type": "BertNormalizer", "clean_text": True,
                                 "handle_chinese_chars": True, "strip_accents": True,
                                 "lowercase": False},
                     pre_tokenizer={"type": "Digits", "individual_digits": True})
    hf_norm = normalizers.BertNormalizer(lowercase=False, strip_accents=True)
    assert ref.normalize_str(text) == hf_norm.normalize_str(text)
    assert ref.pre_tokenize_str(text) == pre_tokenizers.Digits(True).pre_tokenize_str(text)


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("doc, message", [
    ({"normalizer": {"type": "Precompiled", "precompiled_charsmap": ""}}, "normalizer 'Precompiled'"),
    ({"pre_tokenizer": {"type": "UnicodeScripts"}}, "pre-tokenizer 'UnicodeScripts'"),
    ({"decoder": {"type": "CTC"}}, "decoder 'CTC'"),
    ({"model": {"type": "Unigram", "vocab": []}}, "model 'Unigram'"),
    ({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "dropout": 0.1}},
     "BPE dropout=0.1"),
])
def test_unsupported_components_raise(doc, message):
    full = {"model": {"type": "WordLevel", "vocab": {"a": 0}, "unk_token": "a"}}
    full.update(doc)
    with pytest.raises(UnsupportedError, match=message.replace("(", r"\(")):
        HfPipeline.from_json(full)
