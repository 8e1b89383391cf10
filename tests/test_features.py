"""Text to model inputs in one call (Tokenizer.__call__, encode_batch(layout=...)): equal to
tokenizing then packing, and for tokenizer.json files equal to HF's padded encode_batch."""
from __future__ import annotations

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
