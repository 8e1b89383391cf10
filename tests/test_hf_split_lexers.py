"""Hand-written lexers for tokenizer.json Split regexes (GPT-2, Llama-3, Qwen2, cl100k_base,
o200k_base): chosen only for the exact pattern strings, and splitting, encoding and aligning
exactly as the general path (the pure-Python reference) and HF tokenizers (Oniguruma) do."""
from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastprep import Tokenizer, _backend  # noqa: E402
from fastprep._fallback import unicode_data  # noqa: E402
from fastprep._fallback.hf import HfPipeline  # noqa: E402
from fastprep._fallback.hf.components import PreTokenizer  # noqa: E402
from fastprep._fallback.hf.normalized import PreTokenizedString  # noqa: E402
from fastprep._patterns import (  # noqa: E402
    CL100K_LEGACY_PATTERN, CL100K_PATTERN, GPT2_LEGACY_PATTERN, O200K_PATTERN, R50K_PATTERN,
)

core = _backend._native
if core is None or not hasattr(core, "hf_split_pattern_lexer"):
    pytest.skip("native extension without the HF Split lexers", allow_module_level=True)

from fastprep._hf_native import NativeHfBpe, _pre_tokenizer_spec, unsupported_reason  # noqa: E402

try:
    import tokenizers
except ImportError:  # the reference alone is the oracle then
    tokenizers = None

DATA = Path(__file__).parent / "data"
CORPORA = sorted((DATA / "corpus").glob("*.txt"))

# The regexes as tokenizer.json files spell them (JSON text, decoded here): Meta-Llama-3's, and
# Qwen2/Qwen2.5's (whose only change is \p{N} for \p{N}{1,3}).
LLAMA3_JSON = r'''"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"'''
QWEN2_JSON = r'''"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"'''
LLAMA3 = json.loads(LLAMA3_JSON)
QWEN2 = json.loads(QWEN2_JSON)

# lexer name -> the patterns that select it
LEXERS = {
    "gpt2": [GPT2_LEGACY_PATTERN, R50K_PATTERN],
    "llama3": [LLAMA3],
    "qwen2": [QWEN2],
    "cl100k": [CL100K_PATTERN],
    "o200k": [O200K_PATTERN],
}
KNOWN = {p: name for name, pats in LEXERS.items() for p in pats}


# Synthetic tokenizer.json files: a real vocabulary with one of the Split layouts in the wild.
# name -> (vocabulary file, pattern, (behavior, invert), normalizer, model changes)
FILES = {
    "llama3": ("deepseek_v3", LLAMA3, ("Isolated", False), None, {}),
    "qwen2": ("claude_v1_bpe", QWEN2, ("Isolated", False), {"type": "NFC"},
              {"continuing_subword_prefix": "", "end_of_word_suffix": ""}),
    "cl100k": ("claude_v1_bpe", CL100K_PATTERN, ("Isolated", False), None, {}),
    "o200k": ("claude_v1_bpe", O200K_PATTERN, ("Removed", True), None, {}),  # tiktoken conversions
    "gpt2": ("claude_v1_bpe", GPT2_LEGACY_PATTERN, ("Isolated", False), None, {}),
}


def split_json(pattern: str, behavior: str = "Isolated", invert: bool = False, **byte_level) -> dict:
    level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    level.update(byte_level)
    return {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": pattern}, "behavior": behavior, "invert": invert}, level]}


@functools.lru_cache(maxsize=None)
def vocab_json(name: str) -> dict:
    return json.loads((DATA / "vocab" / f"{name}.json").read_text(encoding="utf-8"))


def file_json(name: str, pattern=None) -> dict:
    base, pat, (behavior, invert), normalizer, model = FILES[name]
    obj = copy.deepcopy(vocab_json(base))
    obj["pre_tokenizer"] = split_json(pattern or pat, behavior, invert)
    obj["normalizer"] = normalizer
    obj["model"].update(model)
    return obj


@functools.lru_cache(maxsize=None)
def native(name: str) -> NativeHfBpe:
    return NativeHfBpe(file_json(name))


@functools.lru_cache(maxsize=None)
def reference(name: str) -> HfPipeline:
    pat = FILES[name][1]
    return HfPipeline.from_json(file_json(name, pat))


@functools.lru_cache(maxsize=None)
def hf(name: str):
    return tokenizers.Tokenizer.from_str(json.dumps(file_json(name)))


def encode_native(name: str, text: str):
    ids, offsets = native(name).encode(text)
    return list(ids), [tuple(o) for o in offsets]


def encode_reference(name: str, text: str):
    enc = reference(name)._encode_one(text, 0)
    return list(enc.ids), [tuple(o) for o in enc.offsets]


def encode_hf(name: str, text: str):
    e = hf(name).encode(text, add_special_tokens=False)
    return list(e.ids), [tuple(o) for o in e.offsets]


@functools.lru_cache(maxsize=None)
def reference_splitter(pattern: str) -> PreTokenizer:
    pat = pattern
    return PreTokenizer({"type": "Split", "pattern": {"Regex": pat}, "behavior": "Isolated", "invert": False})


def reference_pieces(pattern: str, text: str) -> list:
    pts = PreTokenizedString(text)
    reference_splitter(pattern).pre_tokenize(pts)
    return [s for s, _ in pts.get_splits()]


@functools.lru_cache(maxsize=None)
def hf_splitter(pattern: str):
    return tokenizers.pre_tokenizers.Split(tokenizers.Regex(pattern), behavior="isolated", invert=False)


def hf_pieces(pattern: str, text: str) -> list:
    return [s for s, _ in hf_splitter(pattern).pre_tokenize_str(text)]


needs_hf = pytest.mark.skipif(tokenizers is None, reason="HF tokenizers is not installed")
PATTERN_CASES = [pytest.param(name, pat, id=f"{name}-{i}") for name, pats in LEXERS.items()
                 for i, pat in enumerate(pats)]


# -- selection ------------------------------------------------------------------------------------

def test_tokenizer_json_spellings():
    # The files' Llama-3 regex is tiktoken's pre-0.7 cl100k_base spelling, character for character.
    assert LLAMA3 == CL100K_LEGACY_PATTERN
    assert QWEN2 == LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}")
    assert json.loads(json.dumps(O200K_PATTERN)) == O200K_PATTERN


@pytest.mark.parametrize("name,pattern", PATTERN_CASES)
def test_exact_pattern_selects_lexer(name, pattern):
    assert core.hf_split_pattern_lexer(pattern) == name
    for mode in [("Isolated", False), ("Removed", True)]:
        spec, why = _pre_tokenizer_spec(split_json(pattern, *mode))
        assert spec == (name, False), why
    # Layouts whose pieces differ (or that add a prefix space to every piece) stay on the
    # general path.
    for pre in [split_json(pattern, "Isolated", True), split_json(pattern, "Removed", False),
                split_json(pattern, "MergedWithPrevious"), split_json(pattern, add_prefix_space=True),
                split_json(pattern, use_regex=True),
                {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
                {"type": "Sequence", "pretokenizers": split_json(pattern)["pretokenizers"] * 2}]:
        assert _pre_tokenizer_spec(pre)[0] is None, pre


@pytest.mark.parametrize("name,pattern", PATTERN_CASES)
def test_one_character_off_is_not_selected(name, pattern):
    """Every deletion, duplication and replacement of one character leaves the hand lexers."""
    mutants = set()
    for i in range(len(pattern)):
        mutants.add(pattern[:i] + pattern[i + 1:])
        mutants.add(pattern[:i] + pattern[i] + pattern[i:])
        mutants.add(pattern[:i] + ("x" if pattern[i] != "x" else "y") + pattern[i + 1:])
    mutants.update([pattern + "|x", " " + pattern, pattern.replace("\\", "\\\\"),
                    pattern.replace(r"\r", "\r"), pattern.upper(), pattern.replace(r"\p{N}", r"\d")])
    for m in mutants - set(KNOWN):
        assert core.hf_split_pattern_lexer(m) is None, m
    spec, why = _pre_tokenizer_spec(split_json(pattern[:-1]))
    assert spec is None and "hand-written lexer" in why


@needs_hf
def test_near_miss_pattern_stays_exact():
    """A pattern one character away from Llama-3's still gives HF's result (general path)."""
    obj = file_json("cl100k", LLAMA3.replace(r"\p{N}{1,3}", r"\p{N}{1,4}"))
    assert unsupported_reason(obj) is not None
    tok = Tokenizer.from_str(json.dumps(obj))
    want = tokenizers.Tokenizer.from_str(json.dumps(obj))
    for text in ["12345678 it's", "  x\r\n\r\n  ", "\u212a'S \u017f"]:
        assert tok.encode(text) == want.encode(text).ids


# -- pieces ---------------------------------------------------------------------------------------

def _chars(categories) -> list:
    return [chr(c) for cat in categories for lo, hi in unicode_data.CATEGORY_RANGES[cat]
            for c in range(lo, hi + 1)]


NUMBERS = _chars(["Nd", "Nl", "No"])
MARKS = _chars(["Mn", "Mc", "Me"])
WHITESPACE = [chr(c) for lo, hi in unicode_data.WHITE_SPACE for c in range(lo, hi + 1)]
CASE_LETTERS = ["s", "S", "t", "T", "r", "R", "e", "E", "v", "V", "m", "M", "l", "L", "d", "D", "k", "K",
                "i", "I", "\u212a", "\u017f", "\u0130", "\u0131", "\u00df", "\ufb06", "\u1e9e"]
CONTRACTIONS = ["'" + a + b for a in CASE_LETTERS for b in ["", "e", "E", "l", "L", "\u017f"]]
EMOJI = ["\U0001F469\u200D\U0001F4BB", "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "\U0001F1EF\U0001F1F5"]
WORDS = ["hello", " World", "Stra\u00dfe", "\u01c5ungla", "\u02b0x", "\u65e5\u672c\u8a9e", "e\u0301",
         " \u0301", "x/y", " //", "don't", "DON'T", "I'M", "we'Ve", "a\u00a0b", " ,", "...", "#x", "\x00",
         "\u00ad", "\ufeff"]


def _code_point():
    return st.integers(0, 0x10FFFF).filter(lambda c: not 0xD800 <= c <= 0xDFFF).map(chr)


piece = st.one_of(
    _code_point(),
    st.sampled_from(CONTRACTIONS),
    st.sampled_from(WORDS),
    st.sampled_from(EMOJI),
    st.sampled_from(MARKS),
    st.lists(st.sampled_from(NUMBERS), min_size=1, max_size=8).map("".join),
    st.text(alphabet="0123456789", min_size=1, max_size=9),
    st.lists(st.sampled_from(WHITESPACE), min_size=1, max_size=5).map("".join),
    st.text(alphabet=" \r\n", min_size=1, max_size=6),
    st.builds(lambda c, k: c * k, st.sampled_from(["a", " ", "\n", "1", "\u4e2d", "!", "\u00a0", "\r\n"]),
              st.integers(2, 40)),
)
texts = st.lists(piece, max_size=20).map("".join)


@pytest.mark.parametrize("name,pattern", PATTERN_CASES)
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_pieces_equal_reference_and_hf(name, pattern, text):
    got = core.hf_split_pieces(name, text)
    assert got == reference_pieces(pattern, text)
    if tokenizers is not None:
        assert got == hf_pieces(pattern, text)


def _sweep_texts():
    """Every number, mark, space and titlecase/modifier letter and every 29th code point, next
    to each other and between a few neighbours the patterns treat specially."""
    wanted = set(map(ord, NUMBERS + MARKS + WHITESPACE + _chars(["Lt", "Lm"])))
    wanted.update(c for c in range(0, 0x110000, 29) if not 0xD800 <= c <= 0xDFFF)
    cps = [chr(c) for c in sorted(wanted)]
    for joiner in ["", " ", "'s"]:
        for i in range(0, len(cps), 2000):
            yield joiner.join(cps[i:i + 2000]) + joiner


@pytest.mark.parametrize("name,pattern", PATTERN_CASES)
def test_pieces_code_point_sweep(name, pattern):
    for text in _sweep_texts():
        got = core.hf_split_pieces(name, text)
        if tokenizers is not None:
            assert got == hf_pieces(pattern, text)
        else:
            assert got == reference_pieces(pattern, text)


@needs_hf
@pytest.mark.parametrize("name,pattern", PATTERN_CASES)
def test_pieces_on_corpus(name, pattern):
    for path in CORPORA:
        text = path.read_text(encoding="utf-8")[:100_000]
        assert core.hf_split_pieces(name, text) == hf_pieces(pattern, text), path.name


def test_reference_cl100k_number_runs():
    """Oniguruma (HF) has no possessive interval: cl100k's `\\p{N}{1,3}+` is `(?:\\p{N}{1,3})+`,
    so a digit run stays one piece (tiktoken splits it in threes)."""
    text = "year 20250101, \u0661\u0662\u0663\u0664\u0665"
    pts = PreTokenizedString(text)
    PreTokenizer({"type": "Split", "pattern": {"Regex": CL100K_PATTERN}, "behavior": "Isolated",
                  "invert": False}).pre_tokenize(pts)
    assert [s for s, _ in pts.get_splits()] == core.hf_split_pieces("cl100k", text)


# -- encoding: ids and character offsets -----------------------------------------------------------

@functools.lru_cache(maxsize=None)
def corpus_lines(path: Path) -> list:
    lines = [ln for ln in path.read_text(encoding="utf-8").split("\n") if ln]
    step = max(1, len(lines) // 120)
    return lines[::step][:120]


@pytest.mark.parametrize("name", FILES)
def test_file_selects_native_lexer(name):
    assert unsupported_reason(file_json(name)) is None
    assert _pre_tokenizer_spec(file_json(name)["pre_tokenizer"])[0] == (name, False)


@pytest.mark.parametrize("name", FILES)
def test_corpus_equals_reference_and_hf(name):
    for path in CORPORA:
        lines = corpus_lines(path)
        got = native(name).encode_batch(lines, 2)
        got = [(list(ids), [tuple(o) for o in offs]) for ids, offs in got]
        for text, g in list(zip(lines, got))[:6]:
            assert g == encode_reference(name, text), text[:80]
        if tokenizers is not None:
            block = "\n".join(lines)[:8192]
            assert encode_native(name, block) == encode_hf(name, block)
            for text, g in zip(lines, got):
                assert g == encode_hf(name, text), text[:80]


@pytest.mark.parametrize("name", FILES)
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_hypothesis_equals_reference(name, text):
    assert encode_native(name, text) == encode_reference(name, text)


@needs_hf
@pytest.mark.parametrize("name", FILES)
@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_hypothesis_equals_hf(name, text):
    assert encode_native(name, text) == encode_hf(name, text)
