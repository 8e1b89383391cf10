"""Native HF byte-level BPE (fastprep._hf_native) == HF tokenizers == the pure-Python reference,
ids and character offsets, on corpus text and Hypothesis text."""
from __future__ import annotations

import copy
import functools
import json
import time
from pathlib import Path

import pytest

tokenizers = pytest.importorskip("tokenizers")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastprep import _backend  # noqa: E402

if _backend._native is None or not hasattr(_backend._native, "HfBpeEncoder"):
    pytest.skip("native extension without HfBpeEncoder", allow_module_level=True)

from fastprep._hf_native import NativeHfBpe, unsupported_reason  # noqa: E402
from fastprep._fallback.hf import HfPipeline  # noqa: E402

DATA = Path(__file__).parent / "data"
FILES = ["deepseek_v3", "claude_v1_bpe"]
CORPORA = sorted((DATA / "corpus").glob("*.txt"))


@functools.lru_cache(maxsize=None)
def load_json(name: str) -> dict:
    return json.loads((DATA / "vocab" / f"{name}.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def native(name: str) -> NativeHfBpe:
    return NativeHfBpe(load_json(name))


@functools.lru_cache(maxsize=None)
def hf(name: str):
    return tokenizers.Tokenizer.from_file(str(DATA / "vocab" / f"{name}.json"))


@functools.lru_cache(maxsize=None)
def reference(name: str) -> HfPipeline:
    return HfPipeline.from_json(load_json(name))


def hf_encode(tok, text: str):
    e = tok.encode(text, add_special_tokens=False)
    return list(e.ids), [tuple(o) for o in e.offsets]


def check_native(name: str, text: str, with_reference: bool = False) -> None:
    got = native(name).encode(text)
    got = (list(got[0]), [tuple(o) for o in got[1]])
    want = hf_encode(hf(name), text)
    assert got == want, f"{name}: native != HF for {text[:120]!r}"
    assert native(name).encode_ids(text) == want[0]
    if with_reference:
        enc = reference(name)._encode_one(text, 0)
        assert (list(enc.ids), [tuple(o) for o in enc.offsets]) == want


@functools.lru_cache(maxsize=None)
def corpus_lines(path: Path) -> list:
    lines = [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln]
    step = max(1, len(lines) // 400)
    return lines[::step][:400]


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.stem)
def test_corpus_lines(name, corpus):
    lines = corpus_lines(corpus)
    tok = hf(name)
    nat = native(name)
    got = nat.encode_batch(lines, 2)
    for text, (ids, offs) in zip(lines, got):
        assert (list(ids), [tuple(o) for o in offs]) == hf_encode(tok, text), text[:120]
    # Whole 8 KB blocks too (pre-tokens and offsets across many lines).
    block = "\n".join(lines)[:8192]
    check_native(name, block)
    for text in lines[:25]:
        check_native(name, text, with_reference=True)


@pytest.mark.parametrize("name", FILES)
def test_batch_matches_single(name):
    texts = ["", " ", "hello world", "<｜User｜>hi<think>x</think>", "a\u00a0b\u2026", "x" * 300] * 3
    nat = native(name)
    singles = [nat.encode(t) for t in texts]
    assert nat.encode_batch(texts, 2) == singles
    assert nat.encode_ids_batch(texts, 2) == [s[0] for s in singles]


# -- Hypothesis text ------------------------------------------------------------------------------

WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008" \
             "\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x1c\x1d\x1e\x1f\u200b\u180e"
COMPAT = ["\u00a0", "\u2026", "\ufb01", "\u3231", "\uff21", "\uff08", "\uff11", "\u2460", "\u00bd",
          "\u212b", "\u2126", "e\u0301", "A\u030a", "\u1100\u1161", "\u3131", "\uff76\uff9e",
          "\u0958", "\u00c5", "\u1e9b\u0323", "\u01c4", "\u33a1", "\u2163", "\u017f"]
NEW_CPS = [0x1DF9, 0x1F16C, 0x1F1AD, 0xA7F2, 0x1E030, 0x1C89, 0x16EA0, 0x0C5C, 0x1E5F1, 0x11F00,
           0x10D40, 0x1E4D0, 0x31350, 0x2B739, 0x1E944, 0x11C92, 0x16FE4, 0x11938, 0x11935, 0x11930]
EMOJI = ["\U0001F469\u200D\U0001F4BB", "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "\U0001F1EF\U0001F1F5",
         "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F"]
ADDED = ["<｜User｜>", "<｜Assistant｜>", "<｜User", "｜>", "<think>", "</think>", "<think", "<|EOT|>",
         "<EOT>", "<META>", "<META_START>", "<META_", "<SOS>", "<｜begin▁of▁sentence｜>", "<dsml:",
         "</dsml:", "｜DSML｜", "<｜tool▁sep｜>", "<｜/table>｜"]
WORDS = ["hello", " world", "Straße", " über", "日本語", "テキスト", "ひらがな", "中文字", "'s", "'ll",
         "don't", "  ", "123", "4567890", "١٢٣", "²³", "Ⅻ", "ゟ", "゠", "・", "ー", "〇", "々",
         " ,", "...", "!!", "\r\n", "\n\n", " (x)", "#include", "->", "`code`", "x=1;", "ǅ", "ﬃ"]


def _code_point():
    return st.integers(0, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF).map(chr)


piece = st.one_of(
    _code_point(),
    st.sampled_from([chr(c) for c in NEW_CPS]),
    st.sampled_from(list(WHITESPACE)),
    st.sampled_from(COMPAT),
    st.sampled_from(EMOJI),
    st.sampled_from(ADDED),
    st.sampled_from(WORDS),
    st.text(alphabet="0123456789", min_size=1, max_size=8),
    st.text(alphabet="一二三中文日本語ぁあアカ゛゜ヽヾ〆", min_size=1, max_size=6),
    st.text(alphabet=" \t\n\r", min_size=1, max_size=5),
    st.builds(lambda c, k: c * k, st.sampled_from(["a", " ", "\n", "1", "中", "!", "é", "\u00a0"]),
              st.integers(2, 200)),
)
texts = st.lists(piece, max_size=24).map("".join)

HSETTINGS = settings(max_examples=250, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", FILES)
@HSETTINGS
@given(text=texts)
def test_hypothesis_native_equals_hf(name, text):
    check_native(name, text)


@pytest.mark.parametrize("name", FILES)
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_hypothesis_reference_agrees(name, text):
    check_native(name, text, with_reference=True)


def test_deepseek_splitter_equals_reference():
    from fastprep._fallback.hf.components import PreTokenizer
    obj = load_json("deepseek_v3")
    splits = {"type": "Sequence", "pretokenizers": obj["pre_tokenizer"]["pretokenizers"][:3]}
    pre = PreTokenizer(splits)
    from fastprep._fallback.hf.normalized import PreTokenizedString
    core = _backend._native

    @settings(max_examples=300, deadline=None, derandomize=True)
    @given(text=texts)
    def run(text):
        pts = PreTokenizedString(text)
        pre.pre_tokenize(pts)
        assert core.hf_split_deepseek_v3(text) == [s for s, _ in pts.get_splits()]
    run()


@functools.lru_cache(maxsize=None)
def deepseek_hf_splitter():
    """HF tokenizers' pre-tokenizer made of the file's three Splits (without its ByteLevel step)."""
    obj = copy.deepcopy(load_json("deepseek_v3"))
    obj["pre_tokenizer"]["pretokenizers"] = obj["pre_tokenizer"]["pretokenizers"][:3]
    return tokenizers.Tokenizer.from_str(json.dumps(obj)).pre_tokenizer


def deepseek_hf_pieces(text: str) -> list:
    return [s for s, _ in deepseek_hf_splitter().pre_tokenize_str(text)]


def _deepseek_sweep_texts():
    """Every number, mark, space, letter of the CJK ranges and their neighbours, punctuation and
    symbol below U+3100, and every 23rd code point, run together and between neighbours that
    end or continue a run (digit, CJK, ASCII letter, punctuation, space, line break)."""
    from fastprep._fallback import unicode_data
    wanted = {c for cat in ["Nd", "Nl", "No", "Mn", "Mc", "Me", "Lt", "Lm"]
              for lo, hi in unicode_data.CATEGORY_RANGES[cat] for c in range(lo, hi + 1)}
    wanted.update(c for lo, hi in unicode_data.WHITE_SPACE for c in range(lo, hi + 1))
    wanted.update(range(0x3000, 0x3100))
    wanted.update(range(0x4DFF, 0x4E02))
    wanted.update(range(0x9FA3, 0x9FA8))
    wanted.update(c for cat in ["Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So"]
                  for lo, hi in unicode_data.CATEGORY_RANGES[cat] for c in range(lo, min(hi, 0x30FF) + 1))
    wanted.update(c for c in range(0, 0x110000, 23) if not 0xD800 <= c <= 0xDFFF)
    cps = [chr(c) for c in sorted(wanted)]
    for joiner in ["", " ", "a", "7", "\u4e2d", "!", "\n", " \r\n", "\u00a0", "\u3099"]:
        for i in range(0, len(cps), 1500):
            yield joiner.join(cps[i:i + 1500]) + joiner


def test_deepseek_splitter_code_point_sweep():
    core = _backend._native
    for text in _deepseek_sweep_texts():
        assert core.hf_split_deepseek_v3(text) == deepseek_hf_pieces(text), text[:40]


@pytest.mark.parametrize("corpus", CORPORA, ids=lambda p: p.stem)
def test_deepseek_splitter_on_corpus(corpus):
    text = corpus.read_text(encoding="utf-8")[:200_000]
    assert _backend._native.hf_split_deepseek_v3(text) == deepseek_hf_pieces(text)


# -- options on modified files ----------------------------------------------------------------------

def _variant(name: str, **changes) -> dict:
    obj = copy.deepcopy(load_json(name))
    for path, value in changes.items():
        node = obj
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return obj


@pytest.mark.parametrize("variant", ["prefix_space", "no_regex", "strip_tokens", "ignore_merges",
                                     "nfc", "no_normalizer"])
def test_option_variants(variant):
    if variant == "prefix_space":
        obj = _variant("claude_v1_bpe", pre_tokenizer__add_prefix_space=True)
    elif variant == "no_regex":
        obj = _variant("claude_v1_bpe", pre_tokenizer__use_regex=False)
    elif variant == "ignore_merges":
        obj = _variant("claude_v1_bpe", model__ignore_merges=True)
    elif variant == "nfc":
        obj = _variant("claude_v1_bpe", normalizer={"type": "NFC"})
    elif variant == "no_normalizer":
        obj = _variant("claude_v1_bpe", normalizer=None)
    else:
        obj = copy.deepcopy(load_json("claude_v1_bpe"))
        obj["added_tokens"][0].update(lstrip=True, rstrip=True)
        obj["added_tokens"][1].update(rstrip=True)
        obj["added_tokens"][2].update(lstrip=True)
        obj["added_tokens"].append({"id": 65005, "content": "ﬁle", "single_word": False, "lstrip": True,
                                    "rstrip": False, "normalized": True, "special": False})
        obj["added_tokens"].append({"id": 65006, "content": " xyz ", "single_word": False, "lstrip": False,
                                    "rstrip": True, "normalized": False, "special": False})
    assert unsupported_reason(obj) is None
    nat = NativeHfBpe(obj)
    tok = tokenizers.Tokenizer.from_str(json.dumps(obj))
    samples = ["hello world", "  <EOT>  x <META>\ty<META_START> z", "file ﬁle  fi\u00a0le", " xyz  xyz ",
               "<EOT><EOT>", "\u3000<META>\u00a0", "ab'sdéf  \n\n x", "x" * 500 + " " + "é" * 100,
               "e\u0301 \u212b\u2126 \u00c5"]
    for line in corpus_lines(CORPORA[0])[:60] + samples:
        got = nat.encode(line)
        assert (list(got[0]), [tuple(o) for o in got[1]]) == hf_encode(tok, line), (variant, line[:80])

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(text=texts)
    def run(text):
        got = nat.encode(text)
        assert (list(got[0]), [tuple(o) for o in got[1]]) == hf_encode(tok, text), (variant, text[:80])
    run()


def test_unsupported_reasons():
    assert unsupported_reason(load_json("deepseek_v3")) is None
    assert unsupported_reason(load_json("claude_v1_bpe")) is None
    assert "single_word" in unsupported_reason(
        _variant("claude_v1_bpe", added_tokens=[{"id": 0, "content": "<EOT>", "single_word": True}]))
    assert "normalizer" in unsupported_reason(_variant("claude_v1_bpe", normalizer={"type": "Lowercase"}))
    assert "continuing_subword_prefix" in unsupported_reason(
        _variant("claude_v1_bpe", model__continuing_subword_prefix="##"))
    assert unsupported_reason(_variant("claude_v1_bpe", pre_tokenizer={"type": "Whitespace"})) is not None


@pytest.mark.parametrize("name", FILES)
def test_long_runs_near_linear(name):
    nat = native(name)
    for ch in ["a", " ", "中", "1", "é"]:
        small = ch * 20_000
        t0 = time.perf_counter()
        nat.encode_ids(small)
        t_small = time.perf_counter() - t0
        big = ch * 200_000
        t0 = time.perf_counter()
        ids = nat.encode_ids(big)
        t_big = time.perf_counter() - t0
        assert ids == hf(name).encode(big, add_special_tokens=False).ids
        assert t_big < 40 * t_small + 0.05, (ch, t_small, t_big)
    t0 = time.perf_counter()
    nat.encode_ids("a" * 1_000_000)
    assert time.perf_counter() - t0 < 2.0


# -- the model's fast paths on synthetic vocabularies -----------------------------------------------

def _bytes_to_unicode() -> dict:
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
          + list(range(ord("®"), ord("ÿ") + 1)))
    cs = bs[:]
    extra = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


_B2U = _bytes_to_unicode()


def _sym(b: bytes) -> str:
    return "".join(_B2U[x] for x in b)


def _synthetic_bpe(seed: int, chars: str, ignore_merges: bool = False) -> dict:
    """A byte-level BPE file whose merges, in random order, build three-byte characters inside
    (byte pairs, then either split of the whole character) and across their edges (a trailing
    byte or byte pair with the next lead byte or character, an ASCII byte with a lead byte or
    character, two whole characters): crossing merges that come before a character's own must
    keep it from being merged alone first. Odd seeds put the characters' own merges first but
    for a few crossing ones, so that pre-merging applies and the context checks decide; ids in
    random order too."""
    import random
    rng = random.Random(seed)
    enc = [c.encode() for c in chars]
    ascii_ = [b"a", b" ", b"."]
    inner = set()
    for x in enc:
        inner |= {(x[:1], x[1:2]), (x[1:2], x[2:]), (x[:2], x[2:]), (x[:1], x[1:])}
    pairs = set(inner)
    for _ in range(6 * len(enc)):
        x, y = rng.choice(enc), rng.choice(enc)
        a = rng.choice(ascii_)
        pairs |= {rng.choice([(x[2:], y[:1]), (x[1:], y[:1]), (x[2:], y[:2]), (x, y[:1]), (x[2:], y),
                              (x, y), (x[1:], y[:2]), (a, x[:1]), (a, x[:2]), (x[2:], a), (x[1:], a),
                              (a, x), (x, a), (a + x[:1], x[1:]), (x[:2], x[2:] + a)])}
    merges = sorted(pairs)
    rng.shuffle(merges)
    if seed % 2:  # characters' own merges mostly first: pre-merging applies, guards decide
        merges.sort(key=lambda m: m not in inner and rng.random() > 0.15)
    tokens = {bytes([b]) for b in range(256)}
    for a, b in merges:
        tokens |= {a, b, a + b}
    tokens = sorted(tokens)
    ids = list(range(len(tokens)))
    rng.shuffle(ids)
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                          "use_regex": False},
        "post_processor": None, "decoder": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": ignore_merges,
                  "vocab": {_sym(t): i for t, i in zip(tokens, ids)},
                  "merges": [[_sym(a), _sym(b)] for a, b in merges]},
    }


@pytest.mark.parametrize("ignore_merges", [False, True])
def test_synthetic_three_byte_characters(ignore_merges):
    import random
    chars = "日本語中文あいアイ一"
    for seed in range(40):
        obj = _synthetic_bpe(seed, chars, ignore_merges)
        nat = NativeHfBpe(obj)
        tok = tokenizers.Tokenizer.from_str(json.dumps(obj))
        rng = random.Random(1000 + seed)
        alphabet = list(chars) + ["a", " ", ".", "é", "\U0001F600"]
        samples = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 90))) for _ in range(60)]
        samples += [rng.choice(chars) * k for k in (1, 2, 3, 100)]  # one character, up to > 255 bytes
        samples += ["".join(rng.choice(chars) for _ in range(120))]
        for text in samples:
            got = nat.encode(text)
            assert (list(got[0]), [tuple(o) for o in got[1]]) == hf_encode(tok, text), (seed, text)


def test_no_merges():
    """A byte-level BPE file without merges: every byte is its own token."""
    obj = _synthetic_bpe(0, "日本")
    obj["model"]["merges"] = []
    nat = NativeHfBpe(obj)
    tok = tokenizers.Tokenizer.from_str(json.dumps(obj))
    for text in ["", "a", "hello world", "日本語 and more 日本", "\U0001F600 x" * 40]:
        got = nat.encode(text)
        assert (list(got[0]), [tuple(o) for o in got[1]]) == hf_encode(tok, text), text


def test_piece_cache_many_words_two_vocabularies():
    """More distinct words than the per-thread piece cache holds, words over 8 bytes that share
    their first 8 (cache keys and whole-token slots compare more than the prefix), and two
    vocabularies taking turns on the same cache: ids stay HF's."""
    import random
    rng = random.Random(7)
    letters = "abcdefghijklmnopqrstuvwxyzäöü"
    words = {"".join(rng.choice(letters) for _ in range(rng.randint(3, 12))) for _ in range(6000)}
    words |= {"internation" + s for s in ["al", "ally", "alization", "alism", "alist", "als", "ale"]}
    words |= {"abcdefgh" + "".join(rng.choice(letters) for _ in range(rng.randint(1, 10)))
              for _ in range(300)}
    words = sorted(words)
    rng.shuffle(words)
    chunks = [" ".join(words[i:i + 200]) for i in range(0, len(words), 200)]
    for _ in range(2):
        for text in chunks:
            for name in FILES:
                assert native(name).encode_ids(text) == hf(name).encode(text, add_special_tokens=False).ids
