"""HF tokenizer.json files through the public Tokenizer: ids, offsets and decode equal HF
tokenizers' for the same file and settings, on every backend."""
from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprep
from conftest import CORPUS_FILES, VOCAB_DIR, corpus_text

tokenizers = pytest.importorskip("tokenizers")

HF_FILES = ["bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3"]
_cache: dict = {}


def load(name: str, backend: str, plain: bool = False):
    """(fastprep Tokenizer, HF Tokenizer); plain=True turns truncation and padding off on both."""
    key = (name, backend, plain)
    if key not in _cache:
        path = VOCAB_DIR / f"{name}.json"
        if not path.exists():
            pytest.skip(f"{path} not present")
        mine = fastprep.Tokenizer.from_file(path, backend=backend)
        ref = tokenizers.Tokenizer.from_file(str(path))
        if plain:
            mine.no_truncation(); mine.no_padding()
            ref.no_truncation(); ref.no_padding()
        _cache[key] = (mine, ref)
    return _cache[key]


@pytest.fixture(params=HF_FILES)
def hf_name(request) -> str:
    return request.param


LOOKALIKES = ["[CLS]", "[SEP]", "[PAD]", "[MASK]", "[UNK]", "<|endoftext|>", "<EOT>", "<META>",
              "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜fim▁hole｜>", "<think>"]
atoms = st.one_of(
    st.text(max_size=12),
    st.sampled_from(LOOKALIKES),
    st.sampled_from([" ", "  ", "\n", "\t", "\u3000", "\xa0", "\u200b", "\r\n", "'s", "n't",
                     "ﬁ", "①", "Ǆ", "İ", "é", "e\u0301", "中文字", "カタカナ", "12345", "😀",
                     "\u1c89", "\U00016ea0", "ǅ", "ß", "Σ", "Ⅻ", "x" * 120]),
)
texts = st.lists(atoms, max_size=20).map("".join)


@pytest.mark.parametrize("plain", [False, True], ids=["file-settings", "no-trunc-pad"])
@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_corpus_parity(backend, hf_name, corpus, plain):
    mine, ref = load(hf_name, backend, plain)
    lines = [l for l in corpus_text(corpus, 40_000).splitlines() if l.strip()][:120]
    expected = [e.ids for e in (ref.encode(l) for l in lines)]
    assert [mine.encode(l) for l in lines] == expected
    assert mine.encode_batch(lines) == [e.ids for e in ref.encode_batch(lines)]
    paragraph = "\n".join(lines[:60])
    assert mine.encode(paragraph, add_special_tokens=False) == ref.encode(
        paragraph, add_special_tokens=False).ids
    ids, offsets = mine.encode_with_offsets(paragraph)
    enc = ref.encode(paragraph)
    assert ids == enc.ids and offsets == enc.offsets
    assert mine.decode(enc.ids) == ref.decode(enc.ids)
    assert mine.decode(enc.ids, skip_special_tokens=False) == ref.decode(
        enc.ids, skip_special_tokens=False)


@given(text=texts)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_hypothesis_parity(text):
    for backend in fastprep.available_backends():
        for name in HF_FILES:
            for plain in (False, True):
                mine, ref = load(name, backend, plain)
                enc = ref.encode(text)
                assert mine.encode(text) == enc.ids
                assert mine.encode(text, add_special_tokens=False) == ref.encode(
                    text, add_special_tokens=False).ids
                assert mine.encode_with_offsets(text) == (enc.ids, enc.offsets)
                assert mine.decode(enc.ids) == ref.decode(enc.ids)


def test_pairs_and_full_encoding(backend):
    mine, ref = load("bert_minilm_uncased", backend)
    a, b = "The first sentence.", "And the second one, which is a bit longer."
    enc = ref.encode(a, b)
    assert mine.encode(a, b) == enc.ids
    full = mine.encode_full(a, b)
    assert full.type_ids == enc.type_ids and full.attention_mask == enc.attention_mask
    assert full.offsets == enc.offsets and full.tokens == enc.tokens
    assert mine.encode_batch([(a, b), (b, a)]) == [e.ids for e in ref.encode_batch([(a, b), (b, a)])]


def test_settings_methods(backend):
    path = VOCAB_DIR / "bert_minilm_uncased.json"
    mine = fastprep.Tokenizer.from_file(path, backend=backend)
    ref = tokenizers.Tokenizer.from_file(str(path))
    assert mine.truncation == ref.truncation and mine.padding == ref.padding
    text = "word " * 300
    for step in range(5):
        if step == 1:
            mine.enable_truncation(16, direction="left"); ref.enable_truncation(16, direction="left")
        if step == 2:
            mine.enable_padding(length=None, pad_to_multiple_of=8, direction="left")
            ref.enable_padding(length=None, pad_to_multiple_of=8, direction="left")
        if step == 3:
            mine.no_truncation(); ref.no_truncation()
        if step == 4:
            mine.no_padding(); ref.no_padding()
        assert mine.truncation == ref.truncation and mine.padding == ref.padding
        batch = [text, "short", "a bit longer text here"]
        assert mine.encode(text) == ref.encode(text).ids
        assert mine.encode_batch(batch) == [e.ids for e in ref.encode_batch(batch)]
    clone = pickle.loads(pickle.dumps(mine))
    assert clone.encode(text) == mine.encode(text) and clone.padding == mine.padding


def test_vocab_methods(backend, hf_name):
    mine, ref = load(hf_name, backend)
    assert mine.get_vocab_size() == ref.get_vocab_size()
    assert mine.get_vocab_size(with_added_tokens=False) == ref.get_vocab_size(with_added_tokens=False)
    for token_id in (0, 1, 5, 100, 1000, ref.get_vocab_size() - 1):
        token = ref.id_to_token(token_id)
        assert mine.id_to_token(token_id) == token
        assert mine.token_to_id(token) == ref.token_to_id(token)
    assert mine.is_hf


def test_unsupported_component_is_named(backend):
    obj = json.loads((VOCAB_DIR / "bert_minilm_uncased.json").read_text(encoding="utf-8"))
    obj["normalizer"] = {"type": "Precompiled", "precompiled_charsmap": ""}
    with pytest.raises(fastprep.UnsupportedError, match="Precompiled"):
        fastprep.Tokenizer.from_str(json.dumps(obj), backend=backend)
    obj = json.loads((VOCAB_DIR / "claude_v1_bpe.json").read_text(encoding="utf-8"))
    obj["model"]["dropout"] = 0.1
    with pytest.raises(fastprep.UnsupportedError, match="dropout"):
        fastprep.Tokenizer.from_str(json.dumps(obj), backend=backend)
    with pytest.raises(ValueError, match="tokenizer.json"):
        fastprep.Tokenizer.from_str("{not json", backend=backend)


def test_tiktoken_only_methods_refuse_clearly(backend):
    mine, _ = load("claude_v1_bpe", backend)
    with pytest.raises(ValueError, match="tiktoken"):
        mine.eot_token
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    with pytest.raises(ValueError, match="tokenizer.json"):
        enc.enable_padding()
    assert enc.token_to_id("hello") == enc.encode_single_token("hello")
    assert enc.id_to_token(15339) == "hello"


@pytest.mark.parametrize("name", HF_FILES)
def test_split_special_tokens_matches_hf_encode_special_tokens(backend, name):
    path = VOCAB_DIR / f"{name}.json"
    mine = fastprep.Tokenizer.from_file(path, backend=backend)
    ref = tokenizers.Tokenizer.from_file(str(path))
    ref.encode_special_tokens = True
    texts = ["user says [CLS] and [SEP] and [MASK]", "<|endoftext|> <EOT> <META> hi",
             "<｜begin▁of▁sentence｜>hello<｜end▁of▁sentence｜>", "plain text", "<think>x</think>"]
    for text in texts:
        assert mine.encode(text, split_special_tokens=True) == ref.encode(text).ids
        assert mine.encode_with_offsets(text, split_special_tokens=True) == (
            ref.encode(text).ids, ref.encode(text).offsets)
    assert mine.encode_batch(texts, split_special_tokens=True) == [
        e.ids for e in ref.encode_batch(texts)]
    ref.encode_special_tokens = False
    # The default still parses special tokens as HF does.
    assert mine.encode(texts[0]) == ref.encode(texts[0]).ids


def test_split_special_tokens_tiktoken(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    text = "a <|endoftext|> b"
    assert enc.encode(text, split_special_tokens=True) == enc.encode_ordinary(text)
    assert enc.encode_batch([text], split_special_tokens=True) == [enc.encode_ordinary(text)]
