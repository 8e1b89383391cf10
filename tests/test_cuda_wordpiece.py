"""fastprep.cuda.wordpiece_encode_batch: BERT normalization + WordPiece on the device gives the CPU
path's ids (fastprep.Tokenizer.encode_batch) for the same tokenizer.json.

Every comparison runs twice: on a GPU (gpu-marked, needs CuPy, fastprep._cuda and a device), and
anywhere with the real per-element logic compiled for the host. For the latter,
cuda/tests/wordpiece_host_kernels.cpp -- the kernel bodies of cuda/wordpiece_logic.cuh in host
loops, and the table builder of cuda/wordpiece_tables.h -- is compiled with the system C++
compiler and plugged, with the NumPy stand-in for CuPy, under fastprep.cuda; so the host code of
fastprep.cuda, the tables and the per-element logic all run exactly as on the device, minus the
parallel schedule. Inputs: the corpus in tests/data, and Hypothesis text full of accents,
combining marks, CJK, controls, odd whitespace, punctuation, added-token literals and long words.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprep
import fastprep.cuda as fcuda
from conftest import CORPUS_FILES, REPO_ROOT, VOCAB_DIR, corpus_text

BERT_FILE = VOCAB_DIR / "bert_minilm_uncased.json"
needs_gpu = pytest.mark.skipif(
    not fcuda.is_available(), reason=f"fastprep.cuda unavailable: {fcuda.why_unavailable()}"
)


def _bert_json() -> dict:
    if not BERT_FILE.exists():
        pytest.skip(f"{BERT_FILE} not present")
    return json.loads(BERT_FILE.read_text(encoding="utf-8"))


def _variant(**changes) -> dict:
    """The BERT file with some settings changed: keys are 'normalizer', 'model', 'truncation',
    'padding', 'added_tokens' (dict values update, others replace)."""
    obj = _bert_json()
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(obj.get(key), dict):
            obj[key] = {**obj[key], **value}
        else:
            obj[key] = value
    return obj


_TOKENIZERS: dict = {}


def _tokenizer(obj: dict, backend: str = "native") -> fastprep.Tokenizer:
    """The tokenizer of a JSON object, loaded once per session (its device tables with it)."""
    if backend not in fastprep.available_backends():
        pytest.skip(f"backend {backend} unavailable")
    key = (json.dumps(obj), backend)
    tok = _TOKENIZERS.get(key)
    if tok is None:
        tok = _TOKENIZERS[key] = fastprep.Tokenizer.from_str(key[0], backend=backend)
    return tok


# Non-starters that accent stripping keeps (Mc, or not Mn in Unicode 8.0), in vocabulary tokens
# whose order is the canonical one: only then does the reordering of marks show in the ids.
KEPT_MARKS = ["\U0001d165", "\U0001d166", "\U0001d16d", "\U0001d16e"]  # ccc 216 216 226 216
EXTRA_VOCAB = [
    "q\U0001d165\U0001d16d", "q\U0001d165\U0001d16e\U0001d16d", "q\U0001d166\U0001d16d",
    "##\U0001d165\U0001d16d", "##\U0001d16d", "##\U0001d165", "##\U0001d166",
    "\U0001d165\U0001d16d", "\u00e9t\u00e9",
]


def _with_extra_vocab(obj: dict) -> dict:
    vocab = dict(obj["model"]["vocab"])
    for token in EXTRA_VOCAB:
        vocab.setdefault(token, len(vocab))
    return {**obj, "model": {**obj["model"], "vocab": vocab}}


# ------------------------------------------------------------------------- the device, two ways


def _compiler():
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def host_kernels(tmp_path_factory):
    """The shared library of cuda/tests/wordpiece_host_kernels.cpp."""
    cxx = _compiler()
    if cxx is None:
        pytest.skip("no C++ compiler (CXX, c++, g++ or clang++) on PATH")
    lib = tmp_path_factory.mktemp("cuda_wordpiece") / "wordpiece_host_kernels.so"
    source = REPO_ROOT / "cuda" / "tests" / "wordpiece_host_kernels.cpp"
    cmd = [cxx, "-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC",
           str(source), "-o", str(lib)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stderr}"
    return lib


@pytest.fixture(params=["host-logic", pytest.param("cuda", marks=[pytest.mark.gpu, needs_gpu])])
def cp(request, monkeypatch):
    """The CuPy module to make inputs with: the real one on a GPU, or the NumPy stand-in whose
    WordPiece kernels are the host build of the device logic."""
    if request.param == "cuda":
        import cupy

        return cupy
    import cuda_stand_in

    cuda_stand_in.load_wordpiece_kernels(request.getfixturevalue("host_kernels"))
    monkeypatch.setattr(fcuda, "_status", (cuda_stand_in.cupy, cuda_stand_in.Kernels, ""))
    return cuda_stand_in.cupy


def _rows(cp, out: dict) -> list[list[int]]:
    ids, offsets = cp.asnumpy(out["input_ids"]), cp.asnumpy(out["offsets"])
    assert ids.dtype == np.int32 and offsets.dtype == np.int64
    assert offsets[0] == 0 and offsets[-1] == ids.size
    return [ids[offsets[i]:offsets[i + 1]].tolist() for i in range(offsets.size - 1)]


def _check_batch(cp, tok, texts, add_special_tokens=True, split_special_tokens=False,
                 cpu_tok=None) -> None:
    """Device ids (ragged) equal the CPU rows of the same tokenizer with padding off."""
    cpu_tok = cpu_tok or tok
    want = cpu_tok.encode_batch(texts, add_special_tokens=add_special_tokens,
                                split_special_tokens=split_special_tokens)
    got = _rows(cp, fcuda.wordpiece_encode_batch(
        tok, texts, add_special_tokens=add_special_tokens,
        split_special_tokens=split_special_tokens))
    for i, (g, w) in enumerate(zip(got, want)):
        assert g == w, f"text {i}: {texts[i]!r}"
    assert len(got) == len(want)


def _plain(obj=None) -> dict:
    """The BERT file without truncation and padding: the raw WordPiece ids."""
    return {**(obj or _bert_json()), "truncation": None, "padding": None}


# ------------------------------------------------------------------------- corpus


def _corpus_texts(name: str, limit: int) -> list[str]:
    lines = corpus_text(name, limit).splitlines()
    # whole lines, a few paragraphs, and one long text: segments of every size
    paragraphs = ["\n".join(lines[i:i + 40]) for i in range(0, len(lines), 40)]
    return lines + paragraphs + ["\n".join(lines)]


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_matches_cpu(cp, name):
    tok = _tokenizer(_plain())
    _check_batch(cp, tok, _corpus_texts(name, 60_000), add_special_tokens=False)


def test_corpus_with_the_files_truncation_and_template(cp):
    tok = _tokenizer(_bert_json())  # truncation 128, [CLS] ... [SEP], fixed padding 128
    texts = _corpus_texts("en_prose.txt", 30_000) + _corpus_texts("ja_prose.txt", 30_000)
    cpu = fastprep.Tokenizer.from_str(json.dumps({**_bert_json(), "padding": None}))
    _check_batch(cp, tok, texts, cpu_tok=cpu)
    padded = fcuda.wordpiece_encode_batch(tok, texts, layout="padded", dtype="int64")
    want = np.array(tok.encode_batch(texts), dtype=np.int64)
    got = cp.asnumpy(padded["input_ids"])
    assert got.dtype == np.int64 and got.shape == want.shape == (len(texts), 128)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(cp.asnumpy(padded["attention_mask"]),
                                  (np.arange(128)[None, :] < np.array(
                                      [len(r) for r in cpu.encode_batch(texts)])[:, None]))


# ------------------------------------------------------------------------- Hypothesis text

# Characters that exercise every normalizer stage and the pre-tokenizer.
SPECIAL_CHARS = (
    list("aZ09 .,!?#'\"-_[](){}\t\n\r") +
    ["\x00", "\x07", "\x0b", "\x7f", "\u200b", "\u00ad", "\ufffd", "\ue000"] +       # controls, Cf
    ["\u00a0", "\u2000", "\u2001", "\u3000", "\u0085", "\u2028"] +                    # whitespace
    ["\u00e9", "\u00c5", "\u1e09", "\u1f82", "\u0130", "\u00df", "\u01c5", "\u0390"] +  # accents
    ["\u0301", "\u0327", "\u0308", "\u0345", "\u0344", "\u0f73", "\u0f75"] +          # marks
    ["\U0001d165", "\U0001d166", "\U0001d16d", "\U0001d16e", "\u0903", "\u093c"] +    # non-Mn marks
    KEPT_MARKS + ["q", "\u2063"] +
    ["\u4e2d", "\u6587", "\uf900", "\U00020000", "\u3042", "\u30ab", "\uac00", "\ud55c"] +
    ["\u0391", "\u03a3", "\u0410", "\u00bf", "\u2014", "\u3002", "\uff01", "\u2764"] +
    ["[CLS]", "[SEP]", "[MASK]", "[UNK]", "##", "un", "##able", "playing"]
)


def _texts_strategy():
    piece = st.one_of(
        st.sampled_from(SPECIAL_CHARS),
        st.characters(blacklist_categories=("Cs",)),
        st.text(alphabet="abcdefghij", min_size=90, max_size=140),  # around max_input_chars
    )
    text = st.lists(piece, max_size=30).map("".join)
    return st.lists(text, min_size=1, max_size=8)


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

OPTION_VARIANTS = {
    "file": {},
    "kept_marks": {"model": _with_extra_vocab(_bert_json())["model"]} if BERT_FILE.exists() else {},
    "cased": {"normalizer": {"lowercase": False}},
    "cased_strip": {"normalizer": {"lowercase": False, "strip_accents": True}},
    "lower_keep_accents": {"normalizer": {"strip_accents": False}},
    "no_clean_no_cjk": {"normalizer": {"clean_text": False, "handle_chinese_chars": False}},
    "short_words": {"model": {"max_input_chars_per_word": 6}},
}


@pytest.mark.parametrize("variant", list(OPTION_VARIANTS))
@given(texts=_texts_strategy())
@SETTINGS
def test_hypothesis_text_matches_cpu(cp, variant, texts):
    tok = _tokenizer(_plain(_variant(**OPTION_VARIANTS[variant])))
    _check_batch(cp, tok, texts, add_special_tokens=False)


@given(texts=_texts_strategy())
@SETTINGS
def test_hypothesis_text_matches_the_reference_pipeline(cp, texts):
    # The pure-Python reference (HF's rules, no native code) as the CPU side.
    tok = _tokenizer(_plain())
    ref = _tokenizer(_plain(), backend="python")
    _check_batch(cp, tok, texts, cpu_tok=ref)


@given(texts=_texts_strategy())
@SETTINGS
def test_added_token_options(cp, texts):
    added = _bert_json()["added_tokens"] + [
        {"id": 30522, "content": "ab", "single_word": True, "lstrip": False, "rstrip": False,
         "normalized": False, "special": False},
        {"id": 30523, "content": "[CLS]x", "single_word": False, "lstrip": True, "rstrip": True,
         "normalized": False, "special": True},
        {"id": 30524, "content": "\u00e9t\u00e9", "single_word": False, "lstrip": False,
         "rstrip": True, "normalized": False, "special": False},
        {"id": 103, "content": "[MASK]", "single_word": False, "lstrip": True, "rstrip": False,
         "normalized": False, "special": True},
    ]
    tok = _tokenizer(_plain(_variant(added_tokens=added)))
    texts = texts + ["ab [CLS]x  ab\u00e9t\u00e9 cab ab.", "  [MASK]  [CLS]x[CLS]x  x"]
    _check_batch(cp, tok, texts)
    _check_batch(cp, tok, texts, split_special_tokens=True)


# ------------------------------------------------------------------------- options and edges


@pytest.mark.parametrize("strip_accents", [None, False])
def test_canonical_reordering_of_kept_marks(cp, strip_accents):
    obj = _plain(_with_extra_vocab(_variant(normalizer={"strip_accents": strip_accents})))
    tok = _tokenizer(obj)
    d165, d166, d16d, d16e = KEPT_MARKS
    texts = [
        "q" + d16d + d165,                          # two kept marks, out of order
        "q" + d16d + "\u0301" + d165 + "\u0327",     # stripped marks in between
        "q" + d16d + "\u200b" + d165,                # a dropped control inside the run
        "q" + d16d + "\x1f" + d165 + "\x00" + d16e,    # dropped ASCII controls inside the run
        "q" + d16d + d16e + d165,                   # three, two classes, stable among equals
        "q" + d16d + d165 + "q" + d16d + d166 + " " + d16d + d165,
        "Q" + d16d + d165 + "\u00e9" + d16d + d165 + "!" + d16d + d165,
        "q" + (d16d + d165) * 40,                   # a long run
        "\u1e09" + d16d + d165,                      # a decomposition that starts the run
    ]
    _check_batch(cp, tok, texts, add_special_tokens=False)
    if strip_accents is None:  # the vocabulary really is hit (the order matters)
        ids = tok.encode_batch(texts[:1], add_special_tokens=False)[0]
        assert ids == [obj["model"]["vocab"]["q" + d165 + d16d]]



@pytest.mark.parametrize("truncation", [
    {"max_length": 7, "strategy": "LongestFirst", "stride": 0, "direction": "Right"},
    {"max_length": 7, "strategy": "OnlyFirst", "stride": 0, "direction": "Left"},
    {"max_length": 2, "strategy": "LongestFirst", "stride": 0, "direction": "Right"},
])
@pytest.mark.parametrize("add_special_tokens", [True, False])
def test_truncation_and_template(cp, truncation, add_special_tokens):
    tok = _tokenizer(_variant(truncation=truncation, padding=None))
    texts = ["", "a", "Hello, wonderful world of tokenizers!", "中文 文本 " * 5, "x " * 30]
    _check_batch(cp, tok, texts, add_special_tokens=add_special_tokens)


def test_only_second_truncation_raises_as_the_cpu_path(cp):
    trunc = {"max_length": 6, "strategy": "OnlySecond", "stride": 0, "direction": "Right"}
    tok = _tokenizer(_variant(truncation=trunc, padding=None))
    _check_batch(cp, tok, ["short", "ok"])
    with pytest.raises(ValueError) as want:
        tok.encode_batch(["a b c d e f g h"])
    with pytest.raises(ValueError) as got:
        fcuda.wordpiece_encode_batch(tok, ["a b c d e f g h"])
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("padding", [
    None,
    {"strategy": "BatchLongest", "direction": "Left", "pad_to_multiple_of": 8, "pad_id": 5,
     "pad_type_id": 0, "pad_token": "[PAD]"},
    {"strategy": {"Fixed": 20}, "direction": "Right", "pad_to_multiple_of": None, "pad_id": 0,
     "pad_type_id": 0, "pad_token": "[PAD]"},
])
def test_padded_layout_equals_encode_batch(cp, padding):
    trunc = {"max_length": 20, "strategy": "LongestFirst", "stride": 0, "direction": "Right"}
    tok = _tokenizer(_variant(truncation=trunc, padding=padding))
    texts = ["", "a", "Hello, wonderful world of tokenizers!", "x " * 30]
    rows = tok.encode_batch(texts)
    if padding is None:  # the CPU path leaves rows ragged; the device pads with 0 on the right
        width = max(map(len, rows))
        rows = [r + [0] * (width - len(r)) for r in rows]
    got = fcuda.wordpiece_encode_batch(tok, texts, layout="padded")
    ids = cp.asnumpy(got["input_ids"])
    assert ids.dtype == np.int32
    np.testing.assert_array_equal(ids, np.array(rows, dtype=np.int32))
    assert set(got) == {"input_ids", "attention_mask", "position_ids"}


def test_fixed_padding_shorter_than_a_row_is_an_error(cp):
    pad = {"strategy": {"Fixed": 4}, "direction": "Right", "pad_to_multiple_of": None,
           "pad_id": 0, "pad_type_id": 0, "pad_token": "[PAD]"}
    tok = _tokenizer(_variant(truncation=None, padding=pad))
    with pytest.raises(ValueError, match="longer than the tokenizer's fixed padding length 4"):
        fcuda.wordpiece_encode_batch(tok, ["one two three four five"], layout="padded")


def test_missing_unk_raises_as_the_cpu_path(cp):
    tok = _tokenizer(_plain(_variant(model={"unk_token": "[NOPE]"})))
    texts = ["fine", "also fine", "\u2764 needs unk", "\u2764 again"]
    with pytest.raises(ValueError) as want:
        tok.encode_batch(texts)
    with pytest.raises(ValueError) as got:
        fcuda.wordpiece_encode_batch(tok, texts)
    assert str(got.value) == str(want.value)


def test_texts_already_on_the_device(cp):
    tok = _tokenizer(_bert_json())
    texts = ["Grüße aus Köln!", "", "日本語のテキスト", "plain ascii words"]
    encoded = [t.encode() for t in texts]
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in encoded])]).astype(np.int32)
    got = fcuda.wordpiece_encode_batch(tok, (cp.asarray(data), cp.asarray(offsets)))
    assert _rows(cp, got) == _rows(cp, fcuda.wordpiece_encode_batch(tok, texts))


@pytest.mark.parametrize("bad, where", [
    (b"ok \xff", "at byte 3 (text 1)"),
    (b"\xc3", "at byte 0 (text 1)"),
    (b"ab\xe2\x82", "at byte 2 (text 1)"),
    (b"\xed\xa0\x80", "at byte 0 (text 1)"),   # a surrogate
    (b"\xc0\xaf", "at byte 0 (text 1)"),       # overlong
])
def test_invalid_utf8_on_the_device_is_named(cp, bad, where):
    tok = _tokenizer(_bert_json())
    encoded = [b"fine", bad, b"\xff later text"]
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    offsets = np.concatenate([[0], np.cumsum([len(b) for b in encoded])])
    with pytest.raises(ValueError, match=re.escape("invalid UTF-8 " + where)):
        fcuda.wordpiece_encode_batch(tok, (cp.asarray(data), cp.asarray(offsets)))


def test_bad_device_offsets(cp):
    tok = _tokenizer(_bert_json())
    data = cp.asarray(np.frombuffer(b"abc", dtype=np.uint8))
    for offsets in ([0, 2], [1, 3], [0, 2, 1, 3]):
        with pytest.raises(ValueError, match="byte offsets must start at 0"):
            fcuda.wordpiece_encode_batch(tok, (data, cp.asarray(np.array(offsets))))
    with pytest.raises(TypeError, match="1-D uint8"):
        fcuda.wordpiece_encode_batch(tok, (cp.asarray(np.arange(3)), cp.asarray(np.array([0, 3]))))


def test_empty_batches(cp):
    tok = _tokenizer(_bert_json())
    got = fcuda.wordpiece_encode_batch(tok, [])
    assert cp.asnumpy(got["input_ids"]).size == 0 and cp.asnumpy(got["offsets"]).tolist() == [0]
    got = fcuda.wordpiece_encode_batch(tok, ["", ""], add_special_tokens=False)
    assert _rows(cp, got) == [[], []]


def test_int64_ids(cp):
    tok = _tokenizer(_plain())
    got = fcuda.wordpiece_encode_batch(tok, ["hello world"], dtype=np.int64)
    assert cp.asnumpy(got["input_ids"]).dtype == np.int64
    assert cp.asnumpy(got["input_ids"]).tolist() == tok.encode_batch(["hello world"])[0]


# ------------------------------------------------------------------------- without a GPU as well


def test_without_a_device_the_error_says_why(monkeypatch):
    monkeypatch.setattr(fcuda, "_status", None)
    monkeypatch.setitem(sys.modules, "cupy", None)
    tok = _tokenizer(_bert_json())
    with pytest.raises(fcuda.CudaUnavailableError, match="CuPy is not installed"):
        fcuda.wordpiece_encode_batch(tok, ["text"])


@pytest.mark.parametrize("change, message", [
    ({"normalizer": {"type": "NFC"}}, "normalizer is not BertNormalizer"),
    ({"model": {"max_input_chars_per_word": 500}}, "max_input_chars_per_word up to 128"),
    ({"added_tokens": [{"id": 30522, "content": "hello", "special": False, "single_word": False,
                        "lstrip": False, "rstrip": False, "normalized": True}]},
     "normalized=true"),
])
def test_unsupported_files_are_named_before_the_device(monkeypatch, change, message):
    monkeypatch.setattr(fcuda, "_status", (None, None, "no device here"))
    tok = _tokenizer(_variant(**change), backend="python")
    with pytest.raises(fastprep.UnsupportedError, match=message):
        fcuda.WordPieceEncoder(tok)


def test_a_bpe_file_is_unsupported():
    path = VOCAB_DIR / "claude_v1_bpe.json"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with pytest.raises(fastprep.UnsupportedError, match="GPU WordPiece"):
        fcuda.WordPieceEncoder(fastprep.Tokenizer.from_file(path))


def test_options_are_checked_before_the_device(monkeypatch):
    monkeypatch.setattr(fcuda, "_status", (None, None, "no device here"))
    tok = _tokenizer(_bert_json())
    with pytest.raises(ValueError, match="layout must be"):
        fcuda.wordpiece_encode_batch(tok, ["a"], layout="varlen")
    with pytest.raises(TypeError, match="dtype must be int32 or int64"):
        fcuda.wordpiece_encode_batch(tok, ["a"], dtype=np.float32)
    with pytest.raises(TypeError, match="not a single str"):
        fcuda.wordpiece_encode_batch(tok, "a")
    with pytest.raises(TypeError, match=r"texts\[1\]: expected str"):
        fcuda.wordpiece_encode_batch(tok, ["a", 3])


@pytest.mark.gpu
@needs_gpu
def test_gpu_large_batch_on_a_side_stream():
    import cupy

    tok = _tokenizer(_plain())
    texts = _corpus_texts("de_prose.txt", 400_000) * 3
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        got = fcuda.wordpiece_encode_batch(tok, texts, add_special_tokens=False)
        stream.synchronize()
    assert _rows(cupy, got) == tok.encode_batch(texts, add_special_tokens=False)
