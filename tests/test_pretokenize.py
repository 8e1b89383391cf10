"""Pre-tokenization: the native lexers, the general (regex) path and tiktoken split text identically.

tiktoken's splits are observed directly: an Encoding whose vocabulary holds every substring of the
probe texts maps each regex match to exactly one token (tiktoken looks a whole piece up before
merging), so decoding token by token gives back the matches.
"""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastprep._fallback import pretokenize as general
from fastprep._fallback.unicode_data import CATEGORY_RANGES, UNICODE_VERSION, WHITE_SPACE
from fastprep._patterns import (
    CL100K_LEGACY_PATTERN,
    CL100K_PATTERN,
    GPT2_LEGACY_PATTERN,
    O200K_PATTERN,
    R50K_PATTERN,
)

from conftest import CORPUS_FILES, corpus_text

# lexer kind -> the tiktoken pattern it implements
KINDS = {
    "gpt2": R50K_PATTERN,
    "cl100k_base": CL100K_PATTERN,
    "o200k_base": O200K_PATTERN,
    "cl100k_base_legacy": CL100K_LEGACY_PATTERN,
}
KIND_NAMES = list(KINDS)


@pytest.fixture(scope="module")
def core():
    mod = pytest.importorskip("fastprep._core", reason="native extension not built")
    if not hasattr(mod, "split_pieces"):
        pytest.skip("fastprep._core has no pre-tokenizer bindings")
    return mod


def general_split(pattern: str, text: str) -> list[str]:
    return general.split(general.compile_pattern(pattern), text)


def tiktoken_splits(pattern: str, texts: list[str]) -> list[list[str]]:
    """tiktoken's regex matches for each text (see module docstring)."""
    tiktoken = pytest.importorskip("tiktoken")
    ranks = {bytes([i]): i for i in range(256)}
    for text in texts:
        b = text.encode("utf-8")
        for i in range(len(b)):
            for j in range(i + 2, len(b) + 1):
                ranks.setdefault(b[i:j], len(ranks))
    enc = tiktoken.Encoding("probe", pat_str=pattern, mergeable_ranks=ranks, special_tokens={})
    out = []
    for text in texts:
        tokens = enc.encode_ordinary(text)
        out.append([enc.decode_single_token_bytes(t).decode("utf-8") for t in tokens])
    return out


def _cps(cat: str) -> list[int]:
    return [lo for lo, _ in CATEGORY_RANGES[cat]]


# -- test texts ---------------------------------------------------------------------------------

WHITE_SPACE_CHARS = [chr(cp) for lo, hi in WHITE_SPACE for cp in range(lo, hi + 1)]
NEW_IN_16 = ["\u1c89", "\u1c8a", "\U00010ec2", "\U00010d50", "\U0001e5d0", "\U000105c0"]
NEW_IN_17 = ["\u0c5c", "\U00016ea0", "\U00011b60"]
INTERESTING = (
    WHITE_SPACE_CHARS
    + NEW_IN_16
    + NEW_IN_17
    + list("'sdmtlvreSDMTLVRE /\r\n\t0123aZ!?.,-_\"")
    + [
        "\u017f", "\u212a", "\u212b",  # fold to s, k, å
        "\u0301", "\u0308", "\u0903", "\u20dd",  # Mn, Mc, Me
        "\u01c5", "\u1f88", "\u02b0", "\u3042", "\u4e00", "\u00b2", "\u2164", "\u0660",  # Lt Lt Lm Lo Lo No Nl Nd
        "\u200d", "\u200b", "\u180e", "\ufeff", "\x1c", "\x1f", "\u00ad",  # ZWJ, non-White_Space look-alikes
        "\U0001f600", "\U0001f469", "\U0001f3fd", "\ufe0f", "\U000e0001", "\U0010ffff", "\ue000", "\u0378",
    ]
)

interesting_text = st.lists(
    st.one_of(
        st.sampled_from(INTERESTING),
        st.sampled_from(["'s", "'S", "'\u017f", "'ll", "'LL", "'Ve", "'re", "'m", "'D", "'t", "\r\n", " \n"]),
        st.characters(codec="utf-8"),  # any code point but surrogates, assigned or not
    ),
    max_size=40,
).map("".join)
any_text = st.one_of(interesting_text, st.text(max_size=60))

EDGE_CASES = [
    "", " ", "  ", "\n", "a", "'", "''", "'s", "'S", "'\u017f", "'\u212a", "x'\u017f", "don't", "DON'T",
    "I'm we'll they've you're he'd it's can't", "Hello world", "HTMLParser camelCase ABC",
    "a\n  ", "a \n ", "x\r\n\t", "a\r\n\r\n  b", "a   b", "a \tb", "a\tb", "  a", "\n\n\n", " \n \n ",
    "!!\n\nx", " ?!\r\nx", "a/b//\n", "1234567", " 12 345", "\u0301ABC", "A\u0301BC", "e\u0301",
    " \u0301", "!!\u0301", "\u0301\u0301", "\u01c5a", "a\x85b", "a\u3000b", "\u00a0\u00a0x", "a\u2028\u2029",
    "\U0001f469\u200d\U0001f4bb ok", "\u1c89x", "\u0c5cx", "$", "a$\n", "x\u180ey",
]


# -- known_pattern --------------------------------------------------------------------------------


def test_known_pattern(core):
    assert core.known_pattern(R50K_PATTERN) == "gpt2"
    assert core.known_pattern(GPT2_LEGACY_PATTERN) == "gpt2"
    assert core.known_pattern(CL100K_PATTERN) == "cl100k_base"
    assert core.known_pattern(CL100K_LEGACY_PATTERN) == "cl100k_base_legacy"
    assert core.known_pattern(O200K_PATTERN) == "o200k_base"
    assert core.known_pattern(CL100K_PATTERN + "|x") is None
    assert core.known_pattern("") is None


def test_patterns_are_tiktokens():
    tiktoken_ext = pytest.importorskip("tiktoken_ext.openai_public")
    import inspect

    source = inspect.getsource(tiktoken_ext)
    assert tiktoken_ext.r50k_pat_str == R50K_PATTERN
    assert CL100K_PATTERN in source
    for part in O200K_PATTERN.split("|"):
        assert part in source


def test_unknown_kind_raises(core):
    with pytest.raises(ValueError, match="unknown lexer kind"):
        core.split_pieces("p50k", "x")


def test_cl100k_legacy_spelling_differs():
    """Why the pre-0.7 cl100k spelling gets its own lexer: it splits trailing whitespace differently."""
    text = "a\n  "
    assert tiktoken_splits(CL100K_PATTERN, [text]) == [["a", "\n  "]]
    assert tiktoken_splits(CL100K_LEGACY_PATTERN, [text]) == [["a", "\n", "  "]]


@given(text=any_text)
@settings(max_examples=300, deadline=None)
def test_gpt2_legacy_spelling_splits_identically(text):
    assert general_split(GPT2_LEGACY_PATTERN, text) == general_split(R50K_PATTERN, text)


# -- lexer == general path == tiktoken --------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_edge_cases(core, kind):
    pattern = KINDS[kind]
    expected = tiktoken_splits(pattern, EDGE_CASES)
    for text, want in zip(EDGE_CASES, expected):
        assert core.split_pieces(kind, text) == want, text
        assert general_split(pattern, text) == want, text


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_white_space_and_version_match_tiktoken(core, kind):
    """Every White_Space character, look-alikes that are not, and code points new in 16.0 / 17.0."""
    probes = []
    for c in WHITE_SPACE_CHARS + ["\x1c", "\x1d", "\x1e", "\x1f", "\u180e", "\u200b", "\ufeff"]:
        probes += [c + c + "b", "a" + c + "b", c + c]
    for c in NEW_IN_16 + NEW_IN_17:
        probes += ["a" + c + "a", " " + c + "1", "A" + c + "a", "'" + c]
    pattern = KINDS[kind]
    for text, want in zip(probes, tiktoken_splits(pattern, probes)):
        assert core.split_pieces(kind, text) == want, ascii(text)
        assert general_split(pattern, text) == want, ascii(text)


def test_long_s_and_kelvin_case_folding():
    """tiktoken's (?i) uses simple case folding: U+017F matches s; U+212A (k) is in no contraction."""
    assert tiktoken_splits(CL100K_PATTERN, ["'\u017fa", "'\u212aa"]) == [["'\u017f", "a"], ["'\u212aa"]]
    assert tiktoken_splits(O200K_PATTERN, ["x'\u017fx"]) == [["x'\u017f", "x"]]


@pytest.mark.parametrize("kind", KIND_NAMES)
@given(text=any_text)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_lexer_matches_general_path(core, kind, text):
    assert core.split_pieces(kind, text) == general_split(KINDS[kind], text)


@pytest.mark.parametrize("kind", KIND_NAMES)
@given(texts=st.lists(interesting_text.map(lambda s: s[:24]), min_size=1, max_size=8))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_lexer_matches_tiktoken(core, kind, texts):
    for text, want in zip(texts, tiktoken_splits(KINDS[kind], texts)):
        assert core.split_pieces(kind, text) == want


# -- general path: translation -------------------------------------------------------------------


def _agrees_with_installed_regex(c: str) -> bool:
    """Whether the installed `regex` package classifies c as Unicode 16.0 does (for raw patterns)."""
    import regex

    cp = ord(c)

    def ours(cats):
        return any(lo <= cp <= hi for cat in cats for lo, hi in CATEGORY_RANGES[cat])

    checks = [
        (r"\p{Lu}", ["Lu"]), (r"\p{Ll}", ["Ll"]), (r"\p{Lt}", ["Lt"]), (r"\p{Lm}", ["Lm"]), (r"\p{Lo}", ["Lo"]),
        (r"\p{M}", ["Mn", "Mc", "Me"]), (r"\p{N}", ["Nd", "Nl", "No"]),
    ]
    if any(bool(regex.match(p, c)) != ours(cats) for p, cats in checks):
        return False
    return bool(regex.match(r"\s", c)) == any(lo <= cp <= hi for lo, hi in WHITE_SPACE)


@pytest.mark.parametrize("kind", KIND_NAMES)
@given(text=st.lists(st.one_of(st.sampled_from(INTERESTING), st.characters(codec="utf-8"))
                     .filter(_agrees_with_installed_regex), max_size=30).map("".join))
@settings(max_examples=150, deadline=None)
def test_translation_keeps_raw_pattern_meaning(kind, text):
    """Where Unicode versions agree, the translated pattern matches like the raw one."""
    import regex

    raw = regex.compile(KINDS[kind].replace("$", r"\Z"))
    assert general_split(KINDS[kind], text) == [p for p in raw.findall(text) if p]


def test_translation_details():
    t = general.translate_pattern
    assert t(r"\p{Lu}").startswith("[\\u0041-\\u005a")
    assert t(r"[^\p{L}]").startswith("[^\\u0041-\\u005a\\u0061-\\u007a")
    assert t(r"[\P{L}x]").startswith("[\\u0000-\\u0040\\u005b-\\u0060")  # complement inside a class
    assert t(r"\pN") == t(r"\p{N}") == t(r"\p{Number}")
    assert t(r"\p{Han}") == r"\p{Han}"  # scripts are left to the regex package
    assert t(r"\w+$") == r"\w+\Z"
    assert t(r"(?m)\s$").endswith("$")
    assert t(r"[$\s]").startswith("[$")
    assert t(r"\\s") == r"\\s"
    assert t(r"[]\s]").startswith("[]\\u0009")
    compiled = general.compile_pattern(r"\p{L}+")
    assert general.compile_pattern(r"\p{L}+") is compiled
    assert general.split(compiled, "ab 12 \u1c89x") == ["ab", "\u1c89x"]  # unmatched text is dropped
    assert general.split(general.compile_pattern(r"(a)|b"), "ab") == ["a", "b"]


def test_unicode_data_is_16():
    assert UNICODE_VERSION == "16.0.0"
    ud2 = pytest.importorskip("unicodedata2")
    if ud2.unidata_version != UNICODE_VERSION:
        pytest.skip(f"unicodedata2 is {ud2.unidata_version}")
    for cat, ranges in CATEGORY_RANGES.items():
        for lo, hi in ranges[::7]:
            assert ud2.category(chr(lo)) == cat and ud2.category(chr(hi)) == cat


# -- corpus and worst cases ---------------------------------------------------------------------


@pytest.mark.parametrize("corpus", CORPUS_FILES)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_corpus(core, kind, corpus):
    text = corpus_text(corpus, limit=150_000)
    pieces = core.split_pieces(kind, text)
    assert "".join(pieces) == text
    assert pieces == general_split(KINDS[kind], text)


WORST_CASES = {
    "spaces": " " * 1_000_000,
    "spaces_then_word": " " * 999_999 + "x",
    "letters": "a" * 1_000_000,
    "capitals": "A" * 1_000_000,
    "digits": "7" * 1_000_000,
    "carets": "^" * 1_000_000,
    "newlines": "\n" * 1_000_000,
    "mixed_white_space": " \t\r\n\u00a0\u3000\u2028" * 142_858,
    "mark_capital": "\u0301A" * 500_000,
    "apostrophes": "'" * 1_000_000,
    "space_newline": " \n" * 500_000,
}


@pytest.mark.parametrize("case", list(WORST_CASES))
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_worst_case_runs_are_linear(core, kind, case):
    text = WORST_CASES[case]
    t0 = time.perf_counter()
    pieces = core.split_pieces(kind, text)
    elapsed = time.perf_counter() - t0
    assert "".join(pieces) == text
    assert elapsed < 0.5, f"{kind} on {case}: {elapsed:.3f} s"
