"""Streaming detokenization (fastprep.stream): for every tokenizer fastprep loads, on both
backends, the concatenated step outputs plus flush equal ``tokenizer.decode(ids)`` -- on corpus
text, Hypothesis text (emoji, ZWJ sequences, CJK, combining marks) and random id sequences that
break UTF-8 -- the batched form equals one stream per sequence, the native kernel equals the
Python reference, and emissions agree with HF's own ``tokenizers.decoders.DecodeStream``.
"""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

import fastprep
from fastprep.stream import DecodeStream, DecodeStreams

from conftest import CORPUS_FILES, ENCODING_NAMES, VOCAB_DIR, corpus_text

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HF_FILES = ["bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3"]
BACKENDS = fastprep.available_backends()
TOKENIZER_KEYS = [(n, b) for n in ENCODING_NAMES + HF_FILES for b in BACKENDS]

_cache: dict = {}


def load(name: str, backend: str) -> fastprep.Tokenizer:
    key = (name, backend)
    if key not in _cache:
        if name in HF_FILES:
            _cache[key] = fastprep.Tokenizer.from_file(VOCAB_DIR / f"{name}.json", backend=backend)
        else:
            base = fastprep.get_encoding(name)
            _cache[key] = fastprep.Tokenizer._from_rank_data(
                name, base._rank_data, base.pat_str, base._special_tokens, backend)
    return _cache[key]


def streamed(stream: DecodeStream, ids) -> str:
    parts = []
    for i in ids:
        text = stream.step(i)
        assert text != ""  # nothing new is None, never ""
        if text is not None:
            parts.append(text)
    return "".join(parts) + stream.flush()


def reference(tok, ids, skip=True) -> str:
    return tok.decode(ids, skip_special_tokens=skip)


def special_ids(tok) -> list[int]:
    return sorted(tok.token_to_id(t) for t in tok.special_tokens_set)[:8]


@pytest.fixture(params=TOKENIZER_KEYS, ids=lambda k: f"{k[0]}-{k[1]}")
def tok(request):
    return load(*request.param)


@pytest.fixture(params=[True, False], ids=["skip", "keep"])
def skip(request):
    return request.param


# -- corpus -------------------------------------------------------------------------------------


@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_corpus(tok, corpus, skip):
    ids = tok.encode(corpus_text(corpus, 6000))
    rng = random.Random(corpus)
    for sid in special_ids(tok):  # specials in the middle: skipped or kept as decode does
        ids.insert(rng.randrange(len(ids) + 1), sid)
    stream = DecodeStream(tok, skip)
    assert stream.is_native == (tok.backend == "native" and tok.name != "bert_minilm_uncased")
    assert streamed(stream, ids) == reference(tok, ids, skip)
    # flush reset the stream: it can be reused
    assert streamed(stream, ids[:50]) == reference(tok, ids[:50], skip)


def test_hf_chain_path_equals_byte_path(skip):
    # The general decoder-chain path (ByteLevel stage) agrees with the byte-level path.
    for name in ("claude_v1_bpe", "deepseek_v3"):
        t = load(name, BACKENDS[0])
        ids = t.encode(corpus_text("ja_prose.txt", 3000)) + special_ids(t)
        assert streamed(DecodeStream(t, skip, _force_chain=True), ids) == reference(t, ids, skip)


def test_native_table_matches_reference_lookup():
    if "native" not in BACKENDS:
        pytest.skip("native backend unavailable")
    from fastprep.stream import _byte_lookup, _native_vocabulary

    for name in ("claude_v1_bpe", "deepseek_v3"):
        t = load(name, "native")
        for skip in (True, False):
            lookup = _byte_lookup(t, skip)
            streams = fastprep._backend._native.ByteDecodeStreams(_native_vocabulary(t, skip), 1)
            for i in range(t.n_vocab + 3):
                b = lookup(i)
                streams.reset(0)
                text = streams.step_one(0, i) or ""
                assert (text + streams.flush(0)).encode("utf-8", "surrogatepass") == \
                    (b or b"").decode("utf-8", "replace").encode("utf-8", "surrogatepass")


# -- Hypothesis text and broken UTF-8 ------------------------------------------------------------

_SPECIAL_CHARS = ["\u200d", "\u0301", "\u0308", "\ufe0f", "\U0001F9D1", "\U0001F468", "\U0001F3FD",
                  "\u4e2d", "\u6587", "\u3042", "\uac00", "\u00e9", "e", " ", "\n", "##", "\u2581",
                  "\U0001F1EF", "\U0001F1F5", "\u0915\u094d\u0937"]
_text = st.lists(st.one_of(st.sampled_from(_SPECIAL_CHARS), st.characters(blacklist_categories=("Cs",))),
                 max_size=40).map("".join)

_hyp = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@_hyp
@given(text=_text)
def test_hypothesis_text(tok, text):
    ids = tok.encode(text)
    assert streamed(DecodeStream(tok), ids) == reference(tok, ids)


def _valid_random_ids(tok, data, max_size=30):
    n = tok.n_vocab
    # Bias towards ids whose bytes are single non-ASCII bytes or short fragments (broken UTF-8).
    ids = data.draw(st.lists(st.one_of(st.integers(0, n + 5), st.integers(0, 600)), max_size=max_size))
    if tok.is_hf:
        return ids  # decode drops unknown ids
    valid = []
    for i in ids:
        try:
            tok.decode_single_token_bytes(i)
        except KeyError:
            continue
        valid.append(i)
    return valid


@_hyp
@given(data=st.data())
def test_hypothesis_random_ids(tok, data):
    ids = _valid_random_ids(tok, data)
    for skip in (True, False):
        assert streamed(DecodeStream(tok, skip), ids) == reference(tok, ids, skip)


def test_broken_utf8_positions():
    # U+FFFD exactly where decode puts it: each maximal invalid subpart, and a truncated tail.
    t = load("cl100k_base", BACKENDS[0])
    byte_ids = {t.decode_single_token_bytes(i): i for i in range(300)
                if len(t.decode_single_token_bytes(i)) == 1}
    cases = [b"\xe2\x82", b"\xe2\x82A", b"\xf0\x9f\x98\x80", b"\x80\x80", b"\xed\xa0\x80",
             b"\xf4\x90\x80\x80", b"\xf0\x9f\xc3\xa9", b"\xc3", b"\xff\xe4\xb8"]
    for backend in BACKENDS:
        tb = load("cl100k_base", backend)
        for case in cases:
            ids = [byte_ids[bytes([b])] for b in case]
            assert streamed(DecodeStream(tb), ids) == case.decode("utf-8", "replace")
    stream = DecodeStream(t)
    assert stream.step(byte_ids[b"\xe2"]) is None
    assert stream.step(byte_ids[b"\x82"]) is None
    assert stream.step(byte_ids[b"A"]) == "\ufffdA"  # invalid as soon as it is known to be
    assert stream.step(byte_ids[b"\xc3"]) is None
    assert stream.flush() == "\ufffd"
    assert stream.flush() == ""


def test_invalid_ids(tok):
    ids = tok.encode("a\u00e9 \u4e2d")
    stream = DecodeStream(tok)
    parts = [stream.step(ids[0]) or ""]
    with pytest.raises(ValueError):
        stream.step(-1)
    with pytest.raises(TypeError):
        stream.step("3")
    bad = tok.n_vocab + 10
    if tok.is_hf:
        assert stream.step(bad) is None  # decode drops unknown ids
    else:
        with pytest.raises(KeyError):
            stream.step(bad)
    # the failed steps changed nothing
    parts += [stream.step(i) or "" for i in ids[1:]]
    assert "".join(parts) + stream.flush() == tok.decode(ids)


def test_reset(tok):
    ids = tok.encode("\u4e2d\u6587 text")
    stream = DecodeStream(tok)
    for i in ids[:1]:
        stream.step(i)
    stream.reset()
    assert streamed(stream, ids) == tok.decode(ids)


# -- synthetic decoder chains (every decoder the reference implements) --------------------------

_WORDS = ["<unk>", "<s>", "\u2581hello", "\u2581wor", "ld", "\u2581", "<0xE4>", "<0xB8>", "<0xAD>",
          "<0xFF>", "<0x41>", "a</w>", "b", "</w>", "##ing", "play", " ", "  ", ".", "\u00e9",
          "x</w>y", "\u0120hi", "\u010a", "ab", "\u2581\u2581"]


def _wordlevel_json(decoder) -> str:
    obj = {"version": "1.0", "truncation": None, "padding": None,
           "added_tokens": [{"id": 1, "content": "<s>", "single_word": False, "lstrip": False,
                             "rstrip": False, "normalized": False, "special": True}],
           "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"}, "post_processor": None,
           "decoder": decoder,
           "model": {"type": "WordLevel", "vocab": {w: i for i, w in enumerate(_WORDS)},
                     "unk_token": "<unk>"}}
    return json.dumps(obj)


_STRIP_LEAD = {"type": "Strip", "content": " ", "start": 1, "stop": 0}
DECODERS = {
    "none": None,
    "metaspace": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
    "metaspace_never": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "never", "split": True},
    "wordpiece": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    "bpe": {"type": "BPEDecoder", "suffix": "</w>"},
    "bytelevel": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                  "use_regex": True},
    "llama": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"}, _STRIP_LEAD]},
    "bytefallback_only": {"type": "ByteFallback"},
    "fuse_strip_both": {"type": "Sequence", "decoders": [
        {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 2, "stop": 2}]},
    "strip_tokens": {"type": "Strip", "content": "a", "start": 1, "stop": 1},
    "fuse_replace": {"type": "Sequence", "decoders": [
        {"type": "Fuse"}, {"type": "Replace", "pattern": {"String": "ab"}, "content": "Z"}]},
    "fuse_metaspace": {"type": "Sequence", "decoders": [
        {"type": "Fuse"}, {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True}]},
    "fuse_bpe": {"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "BPEDecoder", "suffix": "</w>"}]},
    "bytefallback_metaspace": {"type": "Sequence", "decoders": [
        {"type": "ByteFallback"}, {"type": "Metaspace", "replacement": "\u2581",
                                   "prepend_scheme": "always", "split": True}]},
}


@pytest.fixture(params=sorted(DECODERS), scope="module")
def synthetic(request):
    return fastprep.Tokenizer.from_str(_wordlevel_json(DECODERS[request.param]))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.integers(0, len(_WORDS) + 1), max_size=14))
def test_synthetic_decoders(synthetic, ids):
    for skip in (True, False):
        assert streamed(DecodeStream(synthetic, skip), ids) == synthetic.decode(ids, skip_special_tokens=skip)


def test_synthetic_decoders_match_hf():
    tokenizers = pytest.importorskip("tokenizers")
    rng = random.Random(7)
    for name, dec in DECODERS.items():
        js = _wordlevel_json(dec)
        ours = fastprep.Tokenizer.from_str(js)
        hf = tokenizers.Tokenizer.from_str(js)
        for _ in range(50):
            ids = [rng.randrange(len(_WORDS)) for _ in range(rng.randrange(10))]
            try:
                expected = hf.decode(ids)
            except BaseException as exc:  # HF 0.23.3's Strip panics when it strips everything
                if type(exc).__name__ != "PanicException":
                    raise
                continue
            assert streamed(DecodeStream(ours), ids) == expected, (name, ids)


def test_bytefallback_holds_valid_run_only():
    t = fastprep.Tokenizer.from_str(_wordlevel_json(DECODERS["llama"]))
    s = DecodeStream(t)
    w = {w: i for i, w in enumerate(_WORDS)}
    assert s.step(w["\u2581hello"]) == "hello"  # Strip removed the leading space
    assert s.step(w["<0xE4>"]) is None
    assert s.step(w["<0xB8>"]) is None
    assert s.step(w["<0xAD>"]) is None  # complete, but a later byte could still void the run
    assert s.step(w["ld"]) == "\u4e2dld"
    assert s.step(w["<0x41>"]) is None
    assert s.step(w["<0xFF>"]) == "\ufffd\ufffd"  # the run is invalid: final at once
    assert s.step(w["<0x41>"]) == "\ufffd"
    assert s.flush() == ""


# -- parity with HF's DecodeStream ----------------------------------------------------------------


@pytest.mark.parametrize("name", HF_FILES)
@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_matches_hf_decode_stream(name, corpus):
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.decoders import DecodeStream as HfDecodeStream

    hf = tokenizers.Tokenizer.from_file(str(VOCAB_DIR / f"{name}.json"))
    t = load(name, BACKENDS[0])
    text = corpus_text(corpus, 2500) + " \U0001F9D1\u200d\U0001F9D1\u200d\U0001F9D2 e\u0301"
    ids = t.encode(text)
    ours, theirs = DecodeStream(t), HfDecodeStream(skip_special_tokens=True)
    ours_text, hf_text = "", ""
    for i in ids:
        ours_text += ours.step(i) or ""
        piece = theirs.step(hf, i)
        if piece is not None:
            hf_text += piece
            # HF emits only complete text; at those points we have emitted exactly the same.
            assert ours_text == hf_text
    assert ours_text + ours.flush() == hf.decode(ids)


# -- batches ------------------------------------------------------------------------------------


def test_batch_equals_per_sequence(tok, skip):
    rng = random.Random(tok.name)
    texts = [corpus_text(c, 4000)[rng.randrange(2000):][:rng.randrange(50, 600)] + "\U0001F9D1\u200d"
             for c in CORPUS_FILES for _ in range(3)]
    seqs = [tok.encode(x) for x in texts]
    streams = DecodeStreams(tok, len(seqs), skip)
    assert streams.batch_size == len(seqs)
    assert streams.is_native == DecodeStream(tok).is_native
    out = ["" for _ in seqs]
    longest = max(len(s) for s in seqs)
    for k in range(longest):
        ids = [s[k] if k < len(s) else -1 for s in seqs]
        arg = np.asarray(ids, dtype=np.int64) if k % 2 else ids
        for j, piece in enumerate(streams.step(arg)):
            assert piece != ""
            if piece is not None:
                out[j] += piece
    for j, s in enumerate(seqs):
        assert out[j] + streams.flush(j) == tok.decode(s, skip_special_tokens=skip)


def test_batch_slots_come_and_go(tok):
    # Continuous batching: sequences start in freed slots, the batch grows and shrinks, steps
    # name a subset of slots in any order; each sequence still decodes exactly.
    rng = np.random.default_rng(3)
    pool = tok.encode(corpus_text("ja_prose.txt", 3000) + corpus_text("en_prose.txt", 2000))
    streams = DecodeStreams(tok, 4)
    active: dict[int, list] = {}  # slot -> [ids, emitted text]
    finished = []
    for step in range(300):
        if step == 100:
            streams.resize(8)
        if step == 200:
            for slot in [s for s in active if s >= 6]:
                finished.append((active[slot][0], active[slot][1] + streams.flush(slot)))
                del active[slot]
            streams.resize(6)
        for slot in range(streams.batch_size):
            if slot not in active and rng.random() < 0.3:
                streams.reset(slot)
                active[slot] = [[], ""]
        slots = [s for s in active if rng.random() < 0.8]
        rng.shuffle(slots)
        ids = [int(pool[rng.integers(len(pool))]) for _ in slots]
        for slot, i, piece in zip(slots, ids, streams.step(np.asarray(ids, np.int32), slots)):
            active[slot][0].append(i)
            active[slot][1] += piece or ""
        for slot in list(active):
            if rng.random() < 0.05:
                finished.append((active[slot][0], active[slot][1] + streams.flush(slot)))
                del active[slot]
    for slot, (ids, text) in active.items():
        finished.append((ids, text + streams.flush(slot)))
    assert len(finished) > 20
    for ids, text in finished:
        assert text == tok.decode(ids)


def test_batch_errors_change_nothing(tok):
    streams = DecodeStreams(tok, 3)
    part = tok.encode("\u4e2d")  # possibly several byte-level tokens
    texts = [piece or "" for piece in streams.step([part[0], part[0], -1])]
    with pytest.raises(ValueError):
        streams.step([1, 2])  # one id per slot without slots=
    with pytest.raises(ValueError):
        streams.step([1, 2], slots=[0, 0])
    with pytest.raises(ValueError):
        streams.step([1], slots=[3])
    if not tok.is_hf:
        with pytest.raises(KeyError):
            streams.step([part[-1], tok.n_vocab + 1, -1])
    for i in part[1:]:
        for j, piece in enumerate(streams.step([i, i, -1])):
            texts[j] += piece or ""
    assert texts[0] + streams.flush(0) == tok.decode(part)
    assert texts[1] + streams.flush(1) == tok.decode(part)
    assert streams.flush(2) == ""
    with pytest.raises(ValueError):
        streams.flush(3)
    with pytest.raises(ValueError):
        DecodeStreams(tok, -1)


def test_batch_native_equals_python(tok):
    if not DecodeStreams(tok, 1).is_native:
        pytest.skip("no native batch path for this tokenizer/backend")
    rng = np.random.default_rng(11)
    ids = np.array(tok.encode(corpus_text("ja_prose.txt", 4000)), dtype=np.int64)
    native, python = DecodeStreams(tok, 16), DecodeStreams(tok, 16, _force_python=True)
    assert not python.is_native
    for _ in range(200):
        step = rng.choice(ids, 16)
        step[rng.random(16) < 0.1] = rng.integers(0, 400)  # single bytes: broken UTF-8
        step[rng.random(16) < 0.1] = -1
        assert native.step(step) == python.step(step)
    assert [native.flush(j) for j in range(16)] == [python.flush(j) for j in range(16)]


def test_dtypes(tok):
    ids = tok.encode("hello \u4e2d\u6587")
    for dtype in (np.int32, np.int64, np.uint32, np.uint16 if max(ids) < 65536 else np.int64):
        streams = DecodeStreams(tok, 1)
        text = "".join(streams.step(np.asarray([i], dtype=dtype))[0] or "" for i in ids)
        assert text + streams.flush(0) == tok.decode(ids)


def test_repr_and_api():
    t = load("cl100k_base", BACKENDS[0])
    assert "DecodeStream" in repr(DecodeStream(t)) and "batch_size=2" in repr(DecodeStreams(t, 2))
    assert len(DecodeStreams(t, 5)) == 5
    with pytest.raises(TypeError):
        DecodeStream("not a tokenizer")
