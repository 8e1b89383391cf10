"""Text to model inputs in one call (Tokenizer.__call__, encode_batch(layout=...)): equal to
tokenizing then packing, and for tokenizer.json files equal to HF's padded encode_batch."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import fastprep
from conftest import VOCAB_DIR, corpus_text

TEXTS = ["Hello world", "", "  leading spaces", "日本語のテキストです。", "x" * 300,
         "a\n\n\tb  ", "The quick brown fox jumps over the lazy dog. " * 5]


def test_tiktoken_padded_equals_pack(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    rows = enc.encode_batch(TEXTS)
    for side in ("right", "left"):
        for dtype in (np.int32, np.int64):
            out = enc(TEXTS, padding_side=side, pad_id=7, pad_to_multiple_of=8, dtype=dtype,
                      return_position_ids=True)
            ref = fastprep.pack_padded(rows, pad_id=7, side=side, pad_to_multiple_of=8, dtype=dtype)
            assert set(out) == {"input_ids", "attention_mask", "position_ids"}
            for key in ref:
                assert out[key].dtype == np.dtype(dtype)
                np.testing.assert_array_equal(out[key], ref[key])
    out = enc(TEXTS, truncation=True, max_length=5, truncation_side="left")
    ref = fastprep.pack_padded(rows, pad_id=0, max_length=5, truncation_side="left", dtype=np.int64)
    np.testing.assert_array_equal(out["input_ids"], ref["input_ids"])
    out = enc.encode_batch(TEXTS, layout="varlen")
    ref = fastprep.pack_varlen(rows, dtype=np.int64)
    for key in ("input_ids", "cu_seqlens", "position_ids"):
        np.testing.assert_array_equal(out[key], ref[key])
    assert out["max_seqlen"] == ref["max_seqlen"]
    fixed = enc(TEXTS, padding="max_length", max_length=400)
    assert fixed["input_ids"].shape == (len(TEXTS), 400)
    np.testing.assert_array_equal(fixed["input_ids"][:, : ref["max_seqlen"]],
                                  enc(TEXTS)["input_ids"])


def test_tiktoken_errors(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    with pytest.raises(ValueError, match="disallowed special token"):
        enc(["fine", "bad <|endoftext|>"])
    assert enc.encode_batch(["a <|endoftext|>"], allowed_special="all", layout="padded")[
        "input_ids"].tolist() == [enc.encode("a <|endoftext|>", allowed_special="all")]
    with pytest.raises(ValueError, match="empty batch"):
        enc([])
    with pytest.raises(ValueError, match="different lengths"):
        enc(["a", "a b c d"], padding=False)
    with pytest.raises(ValueError, match="max_length"):
        enc(["a"], truncation=True)
    with pytest.raises(ValueError, match="layout"):
        enc(["a"], layout="bins")
    with pytest.raises(TypeError):
        enc(["a"], dtype=np.float32)
    with pytest.raises(ValueError, match="padding"):
        enc(["a"], padding="sideways")


HF_CASES = [
    ("bert_minilm_uncased", dict(length=None, pad_to_multiple_of=None, direction="right")),
    ("bert_minilm_uncased", dict(length=None, pad_to_multiple_of=8, direction="left")),
    ("claude_v1_bpe", dict(length=None, pad_to_multiple_of=None, direction="right")),
    ("deepseek_v3", dict(length=None, pad_to_multiple_of=4, direction="left")),
]


@pytest.mark.parametrize("name,pad", HF_CASES, ids=[f"{n}-{p['direction']}" for n, p in HF_CASES])
@pytest.mark.parametrize("max_length", [None, 24])
def test_hf_arrays_equal_hf(backend, name, pad, max_length):
    tokenizers = pytest.importorskip("tokenizers")
    path = VOCAB_DIR / f"{name}.json"
    mine = fastprep.Tokenizer.from_file(path, backend=backend)
    ref = tokenizers.Tokenizer.from_file(str(path))
    lines = [l for l in corpus_text("en_prose.txt", 20_000).splitlines() if l.strip()][:40]
    texts = lines + TEXTS + ["[CLS] look [SEP] alike"]
    ref.no_truncation()
    if max_length is not None:
        ref.enable_truncation(max_length)
    ref.enable_padding(pad_id=3, pad_token="[PAD]", **pad)
    expected = ref.encode_batch(texts)
    out = mine(texts, truncation=max_length is not None, max_length=max_length, pad_id=3,
               padding_side=pad["direction"], pad_to_multiple_of=pad["pad_to_multiple_of"],
               return_token_type_ids=True)
    assert out["input_ids"].tolist() == [e.ids for e in expected]
    assert out["attention_mask"].tolist() == [e.attention_mask for e in expected]
    assert out["token_type_ids"].tolist() == [e.type_ids for e in expected]
    assert out["input_ids"].dtype == np.int64


def test_hf_pairs_and_fixed_length(backend):
    tokenizers = pytest.importorskip("tokenizers")
    path = VOCAB_DIR / "bert_minilm_uncased.json"
    mine = fastprep.Tokenizer.from_file(path, backend=backend)
    ref = tokenizers.Tokenizer.from_file(str(path))  # the file: truncation 128, padding Fixed 128
    a = ["What is the capital of France?", "short", "a much longer question " * 20]
    b = ["Paris is the capital and largest city of France.", "ctx", "another context " * 30]
    expected = ref.encode_batch(list(zip(a, b)))
    out = mine(a, b, truncation=True, max_length=128, padding="max_length")
    assert out["input_ids"].tolist() == [e.ids for e in expected]
    assert out["token_type_ids"].tolist() == [e.type_ids for e in expected]
    assert out["attention_mask"].tolist() == [e.attention_mask for e in expected]
    varlen = mine.encode_batch(a, layout="varlen")
    rows = [e.ids for e in ref.encode_batch(a)]
    rows = [[t for t, m in zip(r, e.attention_mask) if m] for r, e in zip(rows, ref.encode_batch(a))]
    assert varlen["input_ids"].tolist() == [t for r in rows for t in r]


# ---------------------------------------------------------------- one native call for HF files
#
# On the native backend, files a native encoder covers (byte-level BPE, BERT WordPiece) tokenize,
# add the post-processor's specials with HF truncation and pack in one call; everything here is
# compared with HF tokenizers' own encode_batch under the same settings, and with the python
# backend.

HF_FILES = ["bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3"]
LONG = "The quick brown fox jumps over the lazy dog near the riverbank. " * 12


def _texts() -> list[str]:
    lines = [l for l in corpus_text("en_prose.txt", 12_000).splitlines() if l.strip()][:24]
    ja = [l for l in corpus_text("ja_prose.txt", 3_000).splitlines() if l.strip()][:4]
    return lines + ja + ["Hello world", "", "  leading spaces", LONG, "[CLS] look [SEP] alike"]


@functools.lru_cache(maxsize=None)
def _loaded(name: str, backend: str):
    """fastprep's Tokenizer for a file (immutable, so shared between tests)."""
    return fastprep.Tokenizer.from_file(VOCAB_DIR / f"{name}.json", backend=backend)


@functools.lru_cache(maxsize=None)
def _hf_loaded(name: str):
    tokenizers = pytest.importorskip("tokenizers")
    return tokenizers.Tokenizer.from_file(str(VOCAB_DIR / f"{name}.json"))


def _hf_reference(name, *, max_length=None, truncation_side="right", padding=None):
    """HF tokenizers with exactly these settings (the file's own ones switched off first)."""
    ref = _hf_loaded(name)
    ref.no_truncation()
    ref.no_padding()
    if max_length is not None:
        ref.enable_truncation(max_length, direction=truncation_side)
    if padding is not None:
        ref.enable_padding(pad_token="[PAD]", **padding)
    return ref


def _positions(mask: np.ndarray) -> np.ndarray:
    return np.where(mask == 1, np.cumsum(mask, axis=-1) - 1, 0)


@pytest.fixture
def unfused_calls(monkeypatch):
    """Counts batches that took the general (not one-call) path."""
    import fastprep.features as features

    calls = []
    general = features._hf_unfused
    monkeypatch.setattr(features, "_hf_unfused", lambda *a, **k: (calls.append(a), general(*a, **k))[1])
    return calls


@pytest.mark.parametrize("name", HF_FILES)
@pytest.mark.parametrize("max_length,truncation_side", [(None, "right"), (12, "right"), (12, "left")])
@pytest.mark.parametrize("padding_side,multiple", [("right", None), ("left", 8)])
def test_hf_one_call_padded_equals_hf(backend, unfused_calls, name, max_length, truncation_side,
                                      padding_side, multiple):
    texts = _texts()
    ref = _hf_reference(name, max_length=max_length, truncation_side=truncation_side,
                        padding=dict(direction=padding_side, pad_id=3, pad_type_id=0,
                                     pad_to_multiple_of=multiple))
    expected = ref.encode_batch(texts)
    tok = _loaded(name, backend)
    out = tok(texts, truncation=max_length is not None, max_length=max_length,
              truncation_side=truncation_side, padding_side=padding_side, pad_id=3,
              pad_to_multiple_of=multiple, return_token_type_ids=True, return_position_ids=True)
    assert list(out) == ["input_ids", "attention_mask", "position_ids", "token_type_ids"]
    np.testing.assert_array_equal(out["input_ids"], np.array([e.ids for e in expected]))
    np.testing.assert_array_equal(out["attention_mask"], np.array([e.attention_mask for e in expected]))
    np.testing.assert_array_equal(out["token_type_ids"], np.array([e.type_ids for e in expected]))
    np.testing.assert_array_equal(out["position_ids"], _positions(out["attention_mask"]))
    assert all(a.dtype == np.int64 for a in out.values())
    if backend == "native":
        assert not unfused_calls, "these texts need no normalization: one native call expected"


@pytest.mark.parametrize("name", HF_FILES)
@pytest.mark.parametrize("max_length,truncation_side", [(None, "right"), (9, "left")])
@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_hf_one_call_varlen_equals_hf(backend, unfused_calls, name, max_length, truncation_side,
                                      dtype):
    texts = _texts()
    expected = _hf_reference(name, max_length=max_length,
                             truncation_side=truncation_side).encode_batch(texts)
    tok = _loaded(name, backend)
    out = tok.encode_batch(texts, layout="varlen", truncation=max_length is not None,
                           max_length=max_length, truncation_side=truncation_side, dtype=dtype,
                           return_token_type_ids=True)
    lengths = [len(e.ids) for e in expected]
    np.testing.assert_array_equal(out["input_ids"], [t for e in expected for t in e.ids])
    np.testing.assert_array_equal(out["token_type_ids"], [t for e in expected for t in e.type_ids])
    np.testing.assert_array_equal(out["cu_seqlens"], np.concatenate([[0], np.cumsum(lengths)]))
    np.testing.assert_array_equal(out["position_ids"], [j for n in lengths for j in range(n)])
    assert out["max_seqlen"] == max(lengths)
    assert out["input_ids"].dtype == np.dtype(dtype) and out["cu_seqlens"].dtype == np.int32
    if backend == "native":
        assert not unfused_calls


@pytest.mark.parametrize("truncation", [True, False])
@pytest.mark.parametrize("fixed", [True, False])
def test_bert_file_settings_equal_hf(backend, unfused_calls, truncation, fixed):
    """bert_minilm_uncased.json itself asks for truncation at 128 and padding to 128."""
    tokenizers = pytest.importorskip("tokenizers")
    ref = tokenizers.Tokenizer.from_file(str(VOCAB_DIR / "bert_minilm_uncased.json"))
    texts = _texts() + [LONG * 3]
    if not truncation:
        ref.no_truncation()
        if fixed:  # rows past 128 would stay longer than the rest: keep every text short
            texts = [t for t in texts if len(ref.encode(t).ids) <= 128]
    if not fixed:
        ref.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest
    expected = ref.encode_batch(texts)
    tok = fastprep.Tokenizer.from_file(VOCAB_DIR / "bert_minilm_uncased.json", backend=backend)
    out = tok(texts, truncation=truncation, max_length=128 if truncation or fixed else None,
              padding="max_length" if fixed else True)
    np.testing.assert_array_equal(out["input_ids"], np.array([e.ids for e in expected]))
    np.testing.assert_array_equal(out["attention_mask"], np.array([e.attention_mask for e in expected]))
    np.testing.assert_array_equal(out["token_type_ids"], np.array([e.type_ids for e in expected]))
    if fixed:
        assert out["input_ids"].shape[1] == 128
    if backend == "native":
        assert not unfused_calls


OPTION_SETS = [
    dict(),
    dict(add_special_tokens=False, truncation=True, max_length=7),
    dict(truncation=True, max_length=2),  # room for the specials only (BERT)
    dict(padding="max_length", max_length=40, pad_to_multiple_of=16, padding_side="left"),
    dict(truncation="only_first", max_length=5, dtype=np.int32, return_attention_mask=False),
    dict(layout="varlen", truncation=True, max_length=6, truncation_side="left"),
    dict(split_special_tokens=True),
]


@pytest.mark.skipif("native" not in fastprep.available_backends(), reason="native extension not built")
@pytest.mark.parametrize("name", HF_FILES)
@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: ",".join(o) or "defaults")
def test_hf_one_call_equals_python_backend(name, options):
    texts = _texts()
    native = _loaded(name, "native")(texts, **options)
    python = _loaded(name, "python")(texts, **options)
    assert native.keys() == python.keys()
    for key, value in native.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == python[key].dtype, key
            np.testing.assert_array_equal(value, python[key], err_msg=key)
        else:
            assert value == python[key], key


def test_hf_declined_texts_fall_back(backend, unfused_calls):
    """claude_v1_bpe.json normalizes with NFKC: a batch holding text that NFKC changes takes the
    general path, with HF's arrays all the same."""
    texts = ["ﬁne ligature ①", "plain text", "ｆｕｌｌｗｉｄｔｈ"]
    expected = _hf_reference("claude_v1_bpe", padding=dict(pad_id=0)).encode_batch(texts)
    out = _loaded("claude_v1_bpe", backend)(texts)
    np.testing.assert_array_equal(out["input_ids"], np.array([e.ids for e in expected]))
    np.testing.assert_array_equal(out["attention_mask"], np.array([e.attention_mask for e in expected]))
    if backend == "native":
        assert len(unfused_calls) == 1


def test_hf_one_call_errors(backend):
    tok = _loaded("bert_minilm_uncased", backend)
    with pytest.raises(ValueError, match="smaller than the number of special tokens"):
        tok(["a b c"], truncation=True, max_length=1)
    with pytest.raises(ValueError, match="empty batch"):
        tok([])
    with pytest.raises(ValueError, match="different lengths"):
        tok(["a", "a b c d"], padding=False)
    with pytest.raises(ValueError, match="pad_id must be >= 0"):
        tok(["a"], pad_id=-1)
    with pytest.raises(ValueError, match="Second sequence not provided"):
        tok(["a b c d e f"], truncation="only_second", max_length=4)


@pytest.mark.parametrize("name", ["bert_minilm_uncased", "claude_v1_bpe"])
def test_hf_bytes_items(backend, name):
    # bytes items are strict UTF-8, as in encode/encode_batch; other item types are named.
    tok = _loaded(name, backend)
    as_str = tok(["hello world", "zwei Wörter"], padding=True)
    as_bytes = tok([b"hello world", "zwei Wörter".encode()], padding=True)
    for key in as_str:
        np.testing.assert_array_equal(as_str[key], as_bytes[key])
    with pytest.raises(ValueError, match="invalid UTF-8 at byte offset 2"):
        tok([b"ab\xff"])
    with pytest.raises(TypeError, match=r"texts\[1\] must be str or bytes, not int"):
        tok(["a", 1])
