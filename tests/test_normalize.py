"""Unicode normalization: NormalizationTest.txt in full on every backend, the Part 1 invariant,
native == reference on random text, agreement with unicodedata where the versions agree, the
no-copy fast path, and errors."""
from __future__ import annotations

import bz2
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprep
from fastprep.normalize import FORMS, UNICODE_VERSION, _normalize_utf8, is_normalized, normalize

from conftest import CORPUS_FILES, corpus_text

TEST_FILE = Path(__file__).parent / "data" / f"NormalizationTest-{UNICODE_VERSION}.txt.bz2"
HAS_NATIVE = "native" in fastprep.available_backends()
native_only = pytest.mark.skipif(not HAS_NATIVE, reason="native extension not built")


@lru_cache(maxsize=None)
def conformance_rows() -> tuple[list[tuple[str, ...]], frozenset[int]]:
    rows, part1 = [], set()
    section = ""
    with bz2.open(TEST_FILE, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("@"):
                section = line.split()[0]
                continue
            line = line.split("#")[0].strip()
            if not line:
                continue
            cols = tuple("".join(chr(int(x, 16)) for x in c.split()) for c in line.split(";")[:5])
            rows.append(cols)
            if section == "@Part1":
                part1.add(ord(cols[0]))
    return rows, frozenset(part1)


def test_versions_agree():
    assert UNICODE_VERSION == "15.0.0"
    with bz2.open(TEST_FILE, "rt", encoding="utf-8") as f:
        assert f.readline().strip() == f"# NormalizationTest-{UNICODE_VERSION}.txt"
    if HAS_NATIVE:
        from fastprep import _backend

        assert _backend.core_for("native").NORMALIZATION_UNICODE_VERSION == UNICODE_VERSION


def test_conformance_file(backend):
    rows, _ = conformance_rows()
    assert len(rows) > 19000
    failures = []
    for c1, c2, c3, c4, c5 in rows:
        expected = {
            "NFC": (c2, c2, c2, c4, c4),
            "NFD": (c3, c3, c3, c5, c5),
            "NFKC": (c4,) * 5,
            "NFKD": (c5,) * 5,
        }
        for form, wants in expected.items():
            for source, want in zip((c1, c2, c3, c4, c5), wants):
                if normalize(source, form, backend=backend) != want:
                    failures.append((form, source, want))
    assert not failures[:5], f"{len(failures)} conformance failures"


def test_conformance_file_batched(backend):
    """The list API gives the per-string results (one call per form and column)."""
    rows, _ = conformance_rows()
    columns = list(zip(*rows))
    for form, want_col in (("NFC", 1), ("NFD", 2), ("NFKC", 3), ("NFKD", 4)):
        assert normalize(list(columns[0]), form, backend=backend) == list(columns[want_col])


def _part1_complement(start: int = 0, stop: int = 0x110000, step: int = 1) -> list[str]:
    _, part1 = conformance_rows()
    return [chr(cp) for cp in range(start, min(stop, 0x110000), step)
            if cp not in part1 and not 0xD800 <= cp <= 0xDFFF]


@native_only
def test_every_other_code_point_unchanged_native():
    """NormalizationTest Part 2: X == NFC(X) == NFD(X) == NFKC(X) == NFKD(X) outside Part 1,
    returned as the same object."""
    checked = 0
    for start in range(0, 0x110000, 0x20000):
        chunk = _part1_complement(start, start + 0x20000)
        checked += len(chunk)
        for form in FORMS:
            out = normalize(chunk, form, backend="native")
            bad = [c for c, o in zip(chunk, out) if o is not c]
            assert not bad, (form, [hex(ord(c)) for c in bad[:5]])
    assert checked > 1_000_000


def test_every_other_code_point_unchanged_sample(backend):
    chars = _part1_complement(step=97)
    for form in FORMS:
        assert normalize(chars, form, backend=backend) == chars


# ---- random text -------------------------------------------------------------------------------

# Ranges rich in decompositions, marks, Hangul and compatibility characters, plus anything else.
_INTERESTING = [
    (0x41, 0x7A), (0xA0, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x591, 0x5C7), (0x900, 0x9FF),
    (0xF40, 0xF84), (0x1100, 0x11FF), (0x1E00, 0x1FFF), (0x2000, 0x2190), (0x3099, 0x309C),
    (0x3040, 0x30FF), (0x3300, 0x33FF), (0xAC00, 0xAC60), (0xD7A0, 0xD7FF), (0xF900, 0xFAFF),
    (0xFB00, 0xFB4F), (0xFE30, 0xFFEF), (0x1D15E, 0x1D1C0), (0x1D400, 0x1D7FF), (0x1E030, 0x1E08F),
    (0x2F800, 0x2FA1D), (0x11100, 0x11140), (0x110000 - 0x10, 0x10FFFF),
]
_char = st.one_of(
    st.sampled_from(_INTERESTING).flatmap(lambda r: st.integers(r[0], r[1]).map(chr)),
    st.characters(blacklist_categories=("Cs",)),
)
_text = st.lists(_char, max_size=24).map("".join)
_relaxed = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _known_to_stdlib(text: str) -> bool:
    """True when every character was assigned in the stdlib's Unicode version: their
    decompositions and combining classes are stable, so the two versions must agree."""
    return all(unicodedata.category(c) != "Cn" for c in text)


@native_only
@_relaxed
@given(_text)
def test_native_matches_reference(text):
    for form in FORMS:
        assert normalize(text, form, backend="native") == normalize(text, form, backend="python")


@_relaxed
@given(_text)
def test_idempotent_and_consistent(text):
    nfc, nfd = normalize(text, "NFC"), normalize(text, "NFD")
    nfkc, nfkd = normalize(text, "NFKC"), normalize(text, "NFKD")
    assert normalize(nfc, "NFC") == nfc == normalize(nfd, "NFC")
    assert normalize(nfd, "NFD") == nfd == normalize(nfc, "NFD")
    assert normalize(nfkc, "NFKC") == nfkc == normalize(nfkd, "NFKC")
    assert normalize(nfkd, "NFKD") == nfkd == normalize(nfc, "NFKD")
    for form, value in (("NFC", nfc), ("NFD", nfd), ("NFKC", nfkc), ("NFKD", nfkd)):
        assert is_normalized(value, form)
        assert is_normalized(text, form) == (value == text)


@_relaxed
@given(_text)
def test_matches_unicodedata_where_versions_agree(text):
    if not _known_to_stdlib(text):
        text = "".join(c for c in text if unicodedata.category(c) != "Cn")
    for form in FORMS:
        assert normalize(text, form) == unicodedata.normalize(form, text)
        assert is_normalized(text, form) == unicodedata.is_normalized(form, text)


def test_follows_unicode_15_not_stdlib():
    # U+1E030 MODIFIER LETTER CYRILLIC SMALL A (new in 15.0) has a <super> compatibility mapping.
    assert normalize("\U0001E030", "NFKC") == "\u0430"
    assert normalize("\U0001E030", "NFKD", backend="python") == "\u0430"
    assert normalize("\U0001E030", "NFC") == "\U0001E030"


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_matches_unicodedata(backend, name):
    text = corpus_text(name, limit=20_000 if backend == "python" else None)
    for form in FORMS:
        assert normalize(text, form, backend=backend) == unicodedata.normalize(form, text)


# ---- fast path ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["plain ASCII", "", "Grüße, naïve café", "☕ — 日本語のテキスト", "한국어",
                                  "emoji 😀 and 𝒳", "ordered marks a\u0316\u0363"])
def test_normal_text_is_returned_as_is(backend, text):
    assert normalize(text, "NFC", backend=backend) is text
    assert is_normalized(text, "NFC", backend=backend)
    out = normalize([text, "e\u0301"], "NFC", backend=backend)
    assert out[0] is text and out[1] == "\u00e9"


def test_normal_corpus_text_is_returned_as_is(backend):
    text = corpus_text("ja_prose.txt", limit=None if backend == "native" else 5_000)
    assert normalize(text, "NFC", backend=backend) is text


@native_only
def test_large_list_uses_the_pool():
    texts = [f"caf\u0065\u0301 {i} Ａｂｃ ﬁ 가" for i in range(40_000)]  # > 256 KB of UTF-8
    out = normalize(texts, "NFKC", backend="native")
    assert out[:50] == [normalize(t, "NFKC", backend="python") for t in texts[:50]]
    assert out == [normalize(t, "NFKC", backend="native") for t in texts]
    assert out[123] == "caf\u00e9 123 Abc fi 가"


def test_utf8_bytes(backend):
    data = "Ａ e\u0301".encode()
    assert _normalize_utf8(data, "NFKC", backend=backend) == "A \u00e9".encode()
    normal = "Grüße".encode()
    assert _normalize_utf8(normal, "NFC", backend=backend) is normal


@native_only
@_relaxed
@given(st.binary(max_size=24) | _text.map(lambda t: t.encode("utf-8")))
def test_utf8_validation_matches_reference(data):
    """Random bytes: both backends accept and reject the same inputs, at the same offset."""
    outcomes = []
    for backend in ("native", "python"):
        try:
            outcomes.append(_normalize_utf8(data, "NFKC", backend=backend))
        except ValueError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


# ---- errors ------------------------------------------------------------------------------------

def test_unknown_form(backend):
    with pytest.raises(ValueError, match="form must be 'NFC', 'NFD', 'NFKC' or 'NFKD', not 'nfc'"):
        normalize("x", "nfc", backend=backend)
    with pytest.raises(ValueError, match="not 'NFX'"):
        is_normalized("x", "NFX", backend=backend)
    with pytest.raises(TypeError):
        normalize("x", None, backend=backend)


def test_bad_input_types(backend):
    with pytest.raises(TypeError, match="expected a str or a list of str"):
        normalize(b"bytes", "NFC", backend=backend)
    with pytest.raises(TypeError, match=r"texts\[1\] must be str"):
        normalize(["a", 3], "NFC", backend=backend)
    with pytest.raises(ValueError, match="backend must be"):
        normalize("x", "NFC", backend="gpu")


def test_lone_surrogates_are_rejected(backend):
    with pytest.raises(ValueError, match=r"normalize: text contains a lone surrogate U\+DC80 at index 3"):
        normalize("abc\udc80", "NFC", backend=backend)
    with pytest.raises(ValueError, match=r"texts\[1\] contains a lone surrogate U\+D800 at index 0"):
        normalize(["ok", "\ud800x"], "NFD", backend=backend)


@pytest.mark.parametrize("data, offset", [
    (b"abc\xc0\x80", 3), (b"abc\xed\xa0\x80", 3), (b"\xf4\x90\x80\x80", 0), (b"ab\xe2\x82", 2),
    (b"e\xcc\x81\xff", 3), (b"0123456789abcdef0123\xf8", 20),
])
def test_invalid_utf8_names_the_offset(backend, data, offset):
    with pytest.raises(ValueError, match=f"invalid UTF-8 at byte offset {offset}$"):
        _normalize_utf8(data, "NFC", backend=backend)
