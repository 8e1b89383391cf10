"""The native fused BERT encoder (BertNormalizer -> BertPreTokenizer -> WordPiece) against HF
tokenizers and the pure-Python reference (fastprep._fallback.hf): ids and character offsets,
before post-processing, on the corpus and on Hypothesis text aimed at every normalizer rule.

Until the Python layer wraps it, the native encoder is reached through the loaded extension
(``fastprep._backend``); ``native_from_json`` below is how a tokenizer.json maps onto it.
"""
from __future__ import annotations

import copy
import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
tokenizers = pytest.importorskip("tokenizers")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastprep import _backend  # noqa: E402
from fastprep._fallback.hf import HfPipeline  # noqa: E402

from conftest import CORPUS_DIR, CORPUS_FILES, REPO_ROOT, VOCAB_DIR  # noqa: E402

_core = _backend._native
if _core is None or not hasattr(_core, "BertEncoder"):
    pytest.skip("native extension with BertEncoder not built", allow_module_level=True)

BERT_JSON = VOCAB_DIR / "bert_minilm_uncased.json"


def native_from_json(obj: dict, pipeline: HfPipeline):  # noqa: D401 - kept for the tests
    """_core.BertEncoder for a BertNormalizer + BertPreTokenizer + WordPiece tokenizer.json; the
    added tokens (ids resolved as HF's AddedVocabulary does) come from the reference."""
    model = obj["model"]
    vocab_map = model["vocab"]
    vocab = [None] * len(vocab_map)
    for token, i in vocab_map.items():
        vocab[i] = token
    norm = obj["normalizer"]
    added = [(t.content, i, t.lstrip, t.rstrip, t.single_word, t.normalized, t.special)
             for i, t in pipeline.added.map_r.items()]
    return _core.BertEncoder(
        vocab, model.get("unk_token", "[UNK]"), model.get("continuing_subword_prefix", "##"),
        model.get("max_input_chars_per_word", 100), norm.get("clean_text", True),
        norm.get("handle_chinese_chars", True), norm.get("strip_accents"),
        norm.get("lowercase", True), added)


class Trio:
    """HF tokenizers, the reference and the native encoder for one tokenizer.json."""

    def __init__(self, obj: dict) -> None:
        obj = copy.deepcopy(obj)
        obj["truncation"] = None
        obj["padding"] = None
        self.hf = tokenizers.Tokenizer.from_str(json.dumps(obj))
        self.ref = HfPipeline.from_json(obj)
        self.native = native_from_json(obj, self.ref)

    def hf_encode(self, text: str):
        e = self.hf.encode(text, add_special_tokens=False)
        return e.ids, e.offsets

    def ref_encode(self, text: str):
        e = self.ref.encode(text, add_special_tokens=False)
        return list(e.ids), [tuple(o) for o in e.offsets]

    def check(self, text: str, reference: bool = True) -> None:
        got = self.native.encode(text)
        want = self.hf_encode(text)
        assert got[0] == want[0], f"ids differ from HF for {text!r}"
        assert got[1] == want[1], f"offsets differ from HF for {text!r}"
        assert self.native.encode_ids(text) == want[0]
        if reference:
            assert self.ref_encode(text) == want, f"reference differs from HF for {text!r}"


@pytest.fixture(scope="module")
def bert_obj() -> dict:
    if not BERT_JSON.exists():
        pytest.skip(f"{BERT_JSON} not present")
    return json.loads(BERT_JSON.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def trio(bert_obj) -> Trio:
    return Trio(bert_obj)


def _variant(obj: dict, **normalizer) -> dict:
    obj = copy.deepcopy(obj)
    obj["normalizer"].update(normalizer)
    return obj


VARIANTS = {
    "keep_accents": dict(strip_accents=False),
    "cased": dict(lowercase=False),  # strip_accents None -> follows lowercase -> off
    "cased_strip": dict(lowercase=False, strip_accents=True),
    "no_clean": dict(clean_text=False),
    "no_chinese": dict(handle_chinese_chars=False),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def variant_trio(request, bert_obj) -> Trio:
    return Trio(_variant(bert_obj, **VARIANTS[request.param]))


@pytest.fixture(scope="module")
def flagged_trio(bert_obj) -> Trio:
    """Added tokens with lstrip / rstrip / single_word, and ones outside the vocabulary."""
    obj = copy.deepcopy(bert_obj)
    for tok in obj["added_tokens"]:
        if tok["content"] == "[MASK]":
            tok.update(lstrip=True, rstrip=True)
        if tok["content"] == "[SEP]":
            tok.update(single_word=True)
    next_id = len(obj["model"]["vocab"])
    obj["added_tokens"] += [
        {"id": next_id, "content": "<ñ x>", "single_word": True, "lstrip": True, "rstrip": False,
         "normalized": False, "special": True},
        {"id": next_id + 1, "content": "[CLS][CLS]", "single_word": False, "lstrip": False,
         "rstrip": True, "normalized": False, "special": False},
    ]
    return Trio(obj)


@pytest.fixture(scope="module")
def normalized_trio(bert_obj) -> Trio:
    """normalized=true added tokens: HF matches their normalized content on normalized text."""
    obj = copy.deepcopy(bert_obj)
    next_id = len(obj["model"]["vocab"])
    extra = [
        ("HeLLo  Wörld", dict()), ("naïve", dict(single_word=True)), ("中", dict()),
        ("hello", dict()), ("##", dict(rstrip=True)), ("Ünter", dict(lstrip=True, rstrip=True)),
        ("[sep]", dict()),
    ]
    for k, (content, flags) in enumerate(extra):
        tok = {"id": next_id + k, "content": content, "single_word": False, "lstrip": False,
               "rstrip": False, "normalized": True, "special": False}
        tok.update(flags)
        obj["added_tokens"].append(tok)
    return Trio(obj)


# -- fixed tricky inputs ---------------------------------------------------------------------

TRICKY = [
    "", " ", "Hello, World!", "UNAFFABLE unaffable", "[CLS] hi [SEP]", "[CLS][SEP][MASK][PAD][UNK]",
    "[cls] [Cls] [CLS [SEP", "x[SEP]y", "Café café cafe\u0301 CAFE\u0301", "\u0130stanbul \u0130 i\u0307",
    "ΣΊΣΥΦΟΣ", "Straße STRASSE \u1e9e", "中文字符 and 日本語のテキスト", "\uf900\uf9ff\U0002f800",
    "がぎぐげご パピプペポ", "한국어 텍스트", "a\x00b\x01c\x7fd\x85e\u200bf\ufeffg\ufffdh",
    "tab\tnew\nline\rcr\x0bvt\x0cff\u00a0nb\u3000ideo\u2028ls", "\x1c\x1d\x1e\x1f", "a" * 100,
    "a" * 101, "é" * 101, "x" * 99 + "é", "#hash ##tag ###", "e\u0323\u0301 e\u0301\u0323 a\u0f73\u0f72",
    "\u1e69\u0323 \u0344 q\u0345\u0301", "\u16ea0\u1c89 \U00016ea0\U0001e944 \u2e43 \U0001da87",
    "$+^`|~<=>", "\U0010ffff\U000e0001\U000f0000", "\u0130" * 60, "🙂👍🏽 emoji 🇩🇪",
    "ﬁ ﬂ ǅ ǈ ᾈ", "\u0d4d\u0d4e \u1d165\u1d16d", "word\u0301\u0301\u0301\u0301end",
]


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_inputs(trio, text):
    trio.check(text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_inputs_variants(variant_trio, text):
    variant_trio.check(text)


@pytest.mark.parametrize("text", TRICKY + ["a <ñ x> b", "a<ñ x>b", "  [MASK]  x", "a[SEP]b [SEP] c",
                                           "[CLS][CLS][CLS]  z", "<ñ x><ñ x>"])
def test_tricky_added_token_flags(flagged_trio, text):
    flagged_trio.check(text)


@pytest.mark.parametrize("text", TRICKY + [
    "Say HELLO  WORLD! hello  wo\u0308rld[CLS]", "naive NAÏVE naïveté a-naïve-b", "中文 中", "###x ## #",
    "x  unter  y ÜNTER", "[SEP] [sep] [Sep]", "hellohello othello"])
def test_tricky_normalized_added_tokens(normalized_trio, text):
    normalized_trio.check(text)


# -- corpus ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_lines(trio, name):
    path = CORPUS_DIR / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    sample = lines[::4]  # ~4,000-7,000 lines per file
    for text in sample:
        trio.check(text, reference=False)
    for text in sample[:400]:
        assert trio.ref_encode(text) == trio.hf_encode(text), text
    # Whole 2 KB-ish documents with newlines and indentation, and the batch APIs.
    docs = ["\n".join(lines[i:i + 30]) for i in range(0, min(len(lines), 3000), 30)]
    got = trio.native.encode_batch(docs, 2)
    ids_only = trio.native.encode_ids_batch(docs, 2)
    for doc, (ids, offsets), ids2 in zip(docs, got, ids_only):
        want = trio.hf_encode(doc)
        assert (ids, offsets) == want
        assert ids2 == want[0]


# -- Hypothesis ------------------------------------------------------------------------------

_SPECIAL_CHARS = (
    # every White_Space character and look-alikes that are not
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f\u180e\u200b\ufeff"
    # controls, format, private use, replacement
    "\x00\x01\x7f\x9f\xad\u0600\u061c\u200d\u2066\ue000\U000f0000\ufffd\U000110bd\U000110cd"
    # accents and marks (Mn, Mc with ccc, different ccc orders), precomposed letters
    "\u0300\u0301\u0308\u0323\u0327\u0345\u0f71\u0f72\u0f73\u0f74\u0f80\u0f81\u302a\u3099\u309a"
    "\U0001d165\U0001d16d\U0001e944\u1df9\u0d3e\u0d57\u09be\u0b57"
    "àáâãäåçèéêëìíîïñòóôõöùúûüýÿĀāĂăĄąǅǈǋǲΆΈΉΊΌΎΏᾈᾼῼ\u1e69\u1e9e\u0344\u0958"
    # casing: full mappings, Greek sigma, Cherokee, new letters
    "\u0130\u0131ΣσςẞÅ\u212a\u2126\u13a0\uab70\u1c89\U00016ea0\U00016e40\u0c5c\ua7f2\ua7dc"
    # CJK (each range of handle_chinese_chars and just outside), kana, Hangul
    "\u4e00\u9fff\u3400\u4dbf\uf900\ufaff\U00020000\U0002a6df\U0002a700\U0002b81f\U0002b920"
    "\U0002ceaf\U0002f800\U0002fa1f\u33ff\ua000\U0002ceb0\U00030000"
    "がぎパピかカｶﾞ가각힣\u1100\u1161\u11a8"
    # punctuation at Unicode 8.0 and later
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡§«¶·»¿\u037e\u0387\u2010\u2026\u2e42\u2e43\u2e4f"
    "\U0001da87\U0001e95e\u3001\u3002\uff01\uff1f"
    # digits and letters
    "0123456789abcxyzABCXYZ"
)

_fragments = st.sampled_from([
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[CLS", "SEP]", "[[SEP]]", "##", "[",
    "hello", "unaffable", "İstanbul", "straße", "naïve", "東京", "a" * 100, "b" * 101,
    "é" * 100, "ab" * 51, "x" * 99 + "\u0301", "\u0130" * 50, " ", "\n",
])
_text = st.lists(
    st.one_of(
        st.text(alphabet=st.sampled_from(_SPECIAL_CHARS), max_size=12),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8),
        st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=16),
        _fragments,
    ),
    max_size=8,
).map("".join)

_hyp = settings(max_examples=400, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("text", ["\u0300\x1f\U0001D165", "x\u0300\x1f\U0001D165", "x\u0301\x00\u0300\U0001D165 b",
                                  "\u0300\x7f\x1f\u0316a", "a\u0301\x1f\u0301\x1f\u0316"])
def test_marks_reordered_across_dropped_ascii_controls(trio, text):
    """clean_text drops an ASCII control before NFD, so marks on both sides of it are reordered
    (and aligned) as one run, as HF does (a Hypothesis find: U+0300 <U+001F> U+1D165)."""
    trio.check(text)


@_hyp
@given(text=_text)
def test_hypothesis_default(trio, text):
    trio.check(text)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=_text)
def test_hypothesis_variants(variant_trio, text):
    variant_trio.check(text)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.one_of(_text, st.sampled_from(["<ñ x>", "[CLS][CLS]", " [MASK] ", "[SEP]"])),
                     max_size=5).map("".join))
def test_hypothesis_added_token_flags(flagged_trio, text):
    flagged_trio.check(text)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.one_of(_text, st.sampled_from(
    ["HeLLo  Wörld", "hello  world", "naïve", "NAIVE", "中", "##", "ünter", " UNTER ", "[SEP]"])),
    max_size=5).map("".join))
def test_hypothesis_normalized_added_tokens(normalized_trio, text):
    normalized_trio.check(text)


# -- API behaviour ---------------------------------------------------------------------------

def test_batch_matches_single(trio):
    texts = TRICKY * 3
    singles = [trio.native.encode(t) for t in texts]
    for threads in (0, 1, 2):
        assert trio.native.encode_batch(texts, threads) == singles
        assert trio.native.encode_ids_batch(texts, threads) == [ids for ids, _ in singles]
    assert trio.native.encode_batch([], 2) == []


def test_errors(trio, bert_obj):
    with pytest.raises(TypeError):
        trio.native.encode(b"bytes")
    with pytest.raises(UnicodeEncodeError):
        trio.native.encode("lone \ud800 surrogate")
    with pytest.raises(TypeError):
        trio.native.encode_batch(["ok", 3], 1)
    vocab = ["[UNK]", "a"]
    with pytest.raises(ValueError, match="empty"):
        _core.BertEncoder(vocab, "[UNK]", "##", 100, True, True, None, True,
                          [("\x01", 2, False, False, False, True, False)])
    with pytest.raises(ValueError, match="duplicate"):
        _core.BertEncoder(["a", "a"], "[UNK]", "##", 100, True, True, None, True, [])
    no_unk = _core.BertEncoder(["a"], "[UNK]", "##", 100, True, True, None, True, [])
    assert no_unk.encode_ids("a a") == [0, 0]
    with pytest.raises(ValueError, match="UNK"):
        no_unk.encode_ids("b")
    assert trio.native.vocab_size == 30522
    assert trio.native.token_to_id("hello") == 7592


def test_native_tables_match_reference_tables():
    """cpp/src/hf_unicode_tables.inc is generated from the reference's tables: regenerating it
    must give the committed file (the native path and the reference share one source)."""
    import importlib.util

    gen = REPO_ROOT / "tools" / "gen_hf_unicode_tables.py"
    inc = REPO_ROOT / "cpp" / "src" / "hf_unicode_tables.inc"
    if not gen.exists() or not inc.exists():
        pytest.skip("source checkout not present")
    spec = importlib.util.spec_from_file_location("gen_hf_unicode_tables", gen)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.generate() == inc.read_text(), "run tools/gen_hf_unicode_tables.py"
