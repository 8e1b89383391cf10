"""tiktoken encodings: ids identical to tiktoken on every input, on every backend."""
from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprep
from conftest import CORPUS_FILES, ENCODING_NAMES, corpus_text, tiktoken_reference

# The pure-Python backend is the readable reference, not a fast one: give it smaller inputs.
CORPUS_LIMIT = {"native": None, "python": 60_000}

# -- text strategies --------------------------------------------------------------------------

WHITESPACE = [
    "\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680", "\u2000", "\u2001",
    "\u2002", "\u2003", "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\r\n", "\x1c", "\x1d", "\x1e", "\x1f",
    "\u200b", "\u180e", "\ufeff",
]
SPECIAL_LOOKALIKES = [
    "<|endoftext|>", "<|endoftext|", "<|endofprompt|>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|", "|>", "<|endoftext|><|endoftext|>", "<||>", "<|EndOfText|>",
]
FRAGMENTS = [
    "'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'m", "'ll", "'LL", "'d", "'D", "'ſ",
    "'K", "'\u212a", "’s", "'", "''", "a'", "don't", "I'M", "1", "12", "123", "1234", "٣",
    "①", "Ⅻ", "¼", "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "e\u0301", "\u0301", "ǅ", "ᾈ", "ß", "İ",
    "ﬁ", "\u1c89", "\U00010ec2", "\u0c5c", "\U00016ea0", "中文", "日本語", "한국어", "ﾊﾝｶｸ",
    "^", "^^^", "...", "/", "//", "\\", "→", "$", "€", "\x00", "\x7f", "\ufffd", "\U0010ffff",
    "\U000e0001", "\u0378", "a", "A", "Zz", " x", "  x", "\n\nx", "\r\n\r\n", "x\n  ",
]
text_atoms = st.one_of(
    st.sampled_from(WHITESPACE),
    st.sampled_from(SPECIAL_LOOKALIKES),
    st.sampled_from(FRAGMENTS),
    st.text(min_size=1, max_size=8),
    st.characters(codec="utf-8"),
    st.builds(lambda c, n: c * n, st.sampled_from(["a", " ", "1", "^", "\n", "中", "é", "'"]),
              st.integers(2, 40)),
)
texts = st.lists(text_atoms, max_size=30).map("".join)
any_text = st.one_of(texts, st.text(max_size=200))

HYPOTHESIS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(params=ENCODING_NAMES)
def enc_name(request) -> str:
    return request.param


# -- parity with tiktoken ---------------------------------------------------------------------


@pytest.mark.parametrize("corpus", CORPUS_FILES)
def test_corpus_parity(backend, enc_name, corpus):
    text = corpus_text(corpus, CORPUS_LIMIT[backend])
    ref = tiktoken_reference(enc_name)
    enc = fastprep.get_encoding(enc_name, backend=backend)
    # Per line (many short calls) and as one long text (the parallel path for native).
    lines = text.splitlines(keepends=True)[:2000]
    assert [enc.encode_ordinary(line) for line in lines] == [ref.encode_ordinary(x) for x in lines]
    expected = ref.encode_ordinary(text)
    assert enc.encode_ordinary(text) == expected
    assert enc.count(text) == len(expected)
    assert enc.decode(expected) == text


@given(text=any_text)
@HYPOTHESIS
def test_hypothesis_parity(text):
    for backend in fastprep.available_backends():
        for name in ENCODING_NAMES:
            ref = tiktoken_reference(name)
            enc = fastprep.get_encoding(name, backend=backend)
            expected = ref.encode_ordinary(text)
            assert enc.encode_ordinary(text) == expected
            assert enc.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
            assert enc.encode(text, disallowed_special=()) == expected
            assert enc.count(text, disallowed_special=()) == len(expected)
            assert enc.decode(expected) == ref.decode(expected)


@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=300))
@HYPOTHESIS
def test_roundtrip(text):
    for backend in fastprep.available_backends():
        enc = fastprep.get_encoding("o200k_base", backend=backend)
        assert enc.decode(enc.encode_ordinary(text)) == text
        assert enc.decode_bytes(enc.encode(text, allowed_special="all")) == text.encode()


LONG_RUNS = [
    ("a", 200_000), ("a", 1_000_000), ("1", 100_000), ("^", 100_000), (" ", 200_000),
    ("\n", 100_000), ("中", 50_000), ("é", 100_000), ("😀", 30_000), ("'", 50_000),
]


@pytest.mark.parametrize("char,n", LONG_RUNS, ids=[f"{c!r}x{n}" for c, n in LONG_RUNS])
def test_long_runs(backend, enc_name, char, n):
    if backend == "python":
        n = min(n, 5_000)
    text = char * n
    ref = tiktoken_reference(enc_name)
    enc = fastprep.get_encoding(enc_name, backend=backend)
    assert enc.encode_ordinary(text) == ref.encode_ordinary(text)


def test_random_letters_without_spaces(backend, enc_name):
    import random

    rng = random.Random(7)
    n = 100_000 if backend == "native" else 3_000
    text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))
    mixed = "".join(rng.choice("abcxyzäöüßéè中文日本") for _ in range(n // 2))
    ref = tiktoken_reference(enc_name)
    enc = fastprep.get_encoding(enc_name, backend=backend)
    assert enc.encode_ordinary(text) == ref.encode_ordinary(text)
    assert enc.encode_ordinary(mixed) == ref.encode_ordinary(mixed)


@given(words=st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüß日本語文章をです、。 0123456789!?",
                                min_size=1, max_size=14), min_size=1, max_size=40),
       seps=st.lists(st.sampled_from([" ", "", ", ", "\n", "。", " - ", "  "]), min_size=1, max_size=5))
@HYPOTHESIS
def test_pieces_merged_in_pairs(words, seps):
    # The native encoder merges two pieces that need merging in lockstep (a piece with the next
    # such piece a few ahead, its ids held until its turn) and caches both: runs of such pieces,
    # repeats within the look-ahead, and pieces that hit the cache in between must all come out
    # in order and exact, also in a fresh process-wide cache state.
    text = "".join(w + seps[i % len(seps)] for i, w in enumerate(words))
    text = text + text[: len(text) // 2]  # repeats: cache hits between deferred pieces
    for name in ENCODING_NAMES:
        ref = tiktoken_reference(name)
        for backend in fastprep.available_backends():
            enc = fastprep.get_encoding(name, backend=backend)
            assert enc.encode_ordinary(text) == ref.encode_ordinary(text)
            assert enc.encode(text + "<|endoftext|>" + text, allowed_special="all") == \
                ref.encode(text + "<|endoftext|>" + text, allowed_special="all")


# -- special tokens ---------------------------------------------------------------------------


def test_special_tokens(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    ref = tiktoken_reference("cl100k_base")
    text = "hello <|endoftext|> world<|fim_prefix|>x<|endofprompt|>"
    with pytest.raises(ValueError, match=r"disallowed special token '<\|endoftext\|>'"):
        enc.encode(text)
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_batch(["fine", text])
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.count(text)
    with pytest.raises(ValueError, match="disallowed special token"):
        enc.encode_to_numpy(text)
    for allowed in ["all", {"<|endoftext|>"}, {"<|fim_prefix|>"}, set()]:
        for disallowed in [(), "all"]:
            try:
                expected = ref.encode(text, allowed_special=allowed, disallowed_special=disallowed)
            except ValueError:
                with pytest.raises(ValueError):
                    enc.encode(text, allowed_special=allowed, disallowed_special=disallowed)
                continue
            assert enc.encode(text, allowed_special=allowed, disallowed_special=disallowed) == expected
    assert enc.encode("<|endoftext|>", allowed_special="all") == [100257]
    assert enc.encode("<|endoftext|>", disallowed_special=()) == ref.encode_ordinary("<|endoftext|>")
    assert enc.encode_ordinary("<|endoftext|>") == ref.encode_ordinary("<|endoftext|>")
    # A special that is explicitly disallowed while others are allowed.
    with pytest.raises(ValueError, match="fim_prefix"):
        enc.encode(text, allowed_special={"<|endoftext|>"}, disallowed_special={"<|fim_prefix|>"})
    assert enc.eot_token == 100257
    assert enc.special_tokens_set == ref.special_tokens_set
    assert enc.n_vocab == ref.n_vocab == 100277
    assert enc.max_token_value == ref.max_token_value
    assert enc.name == "cl100k_base"
    assert enc.encode_single_token("<|endoftext|>") == 100257
    assert enc.encode_single_token("hello") == ref.encode_single_token("hello")
    with pytest.raises(KeyError):
        enc.encode_single_token("hello world")
    assert enc.decode([100257]) == "<|endoftext|>"
    assert enc.decode_single_token_bytes(100257) == b"<|endoftext|>"


# -- API surface ------------------------------------------------------------------------------


def test_numpy_count_batch(backend, enc_name):
    np = pytest.importorskip("numpy")
    enc = fastprep.get_encoding(enc_name, backend=backend)
    texts = ["Hello world", "", "  leading", "日本語のテキスト", "x" * 1000, "a\n\n\tb  "]
    expected = [enc.encode(t) for t in texts]
    for num_threads in (None, 1, 2, 4):
        assert enc.encode_batch(texts, num_threads=num_threads) == expected
        assert enc.encode_ordinary_batch(texts, num_threads=num_threads) == expected
    assert enc.encode_batch([]) == []
    for t, ids in zip(texts, expected):
        arr = enc.encode_to_numpy(t)
        assert arr.dtype == np.uint32 and arr.ndim == 1
        assert arr.tolist() == ids
        assert enc.count(t) == len(ids)
    with pytest.raises(TypeError):
        enc.encode_batch("not a list")


def test_numpy_is_zero_copy():
    if "native" not in fastprep.available_backends():
        pytest.skip("native backend not built")
    enc = fastprep.get_encoding("cl100k_base", backend="native")
    arr = enc.encode_to_numpy("zero copy " * 100)
    assert not arr.flags.owndata  # the buffer belongs to the native vector, held by a capsule
    assert arr.base is not None


def test_decode_errors(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    ref = tiktoken_reference("cl100k_base")
    for bad in ([100256], [100261], [10**12], [-1]):
        with pytest.raises(KeyError):
            enc.decode(bad)
    with pytest.raises(TypeError):
        enc.decode(["a"])
    with pytest.raises(TypeError):
        enc.decode([1.5])
    with pytest.raises(KeyError):
        enc.decode_single_token_bytes(100256)
    # Invalid UTF-8 across token boundaries is replaced, as tiktoken does.
    ids = enc.encode("héllo 中文")
    for cut in range(len(ids) + 1):
        assert enc.decode(ids[:cut]) == ref.decode(ids[:cut])
    assert enc.decode_bytes([]) == b""
    assert enc.decode_tokens_bytes(ids) == ref.decode_tokens_bytes(ids)


def test_lone_surrogates_match_tiktoken(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    ref = tiktoken_reference("cl100k_base")
    for text in ["a\ud800b", "\udfff", "x\ud83d\ude00y", "\ud83d", "ok \udc00\ud800 end"]:
        assert enc.encode(text) == ref.encode(text)
        assert enc.encode_ordinary(text) == ref.encode_ordinary(text)
        assert enc.encode_batch([text, "fine"]) == [ref.encode(text), ref.encode("fine")]
        assert enc.count(text) == len(ref.encode(text))


def test_wrong_types(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    for bad in (None, 12, ["a"]):
        with pytest.raises(TypeError):
            enc.encode(bad)
        with pytest.raises(TypeError):
            enc.encode_ordinary(bad)
    with pytest.raises(TypeError):
        enc.encode_batch(["ok", None])
    with pytest.raises(ValueError):
        enc.encode_batch(["ok"], num_threads=-1)


def test_pickle(backend):
    enc = fastprep.get_encoding("o200k_base", backend=backend)
    clone = pickle.loads(pickle.dumps(enc))
    assert clone is enc  # built-in encodings unpickle to the per-process cached instance
    path, pattern, specials = fastprep.encodings.encoding_spec("p50k_base")
    custom = fastprep.Tokenizer.from_tiktoken(path, pattern=pattern, special_tokens=specials,
                                              name="mine", backend=backend)
    clone = pickle.loads(pickle.dumps(custom))
    assert clone.name == "mine" and clone.backend == backend
    assert clone.encode("hi there <|endoftext|>", allowed_special="all") == custom.encode(
        "hi there <|endoftext|>", allowed_special="all")


def test_threads_share_one_tokenizer(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    texts = [f"thread text {i} " * (i % 17 + 1) + "日本語 🙂" for i in range(200)]
    expected = [enc.encode(t) for t in texts]
    results: dict[int, list] = {}
    errors = []

    def work(k):
        try:
            results[k] = [enc.encode(t) for t in texts] + enc.encode_batch(texts, num_threads=2)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(8):
        assert results[k] == expected + expected


def test_backend_selection():
    assert fastprep.backend() in fastprep.available_backends()
    code = "import fastprep; print(fastprep.backend(), fastprep.get_encoding('cl100k_base').backend)"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**__import__("os").environ, "FASTPREP_BACKEND": "python"},
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert out == ["python", "python"]
    with pytest.raises(ValueError):
        fastprep.get_encoding("cl100k_base", backend="gpu")
    with pytest.raises(ValueError, match="Unknown encoding"):
        fastprep.get_encoding("nope")


def test_get_encoding_is_cached():
    assert fastprep.get_encoding("cl100k_base") is fastprep.get_encoding("cl100k_base")
    assert sorted(fastprep.list_encoding_names()) == ["cl100k_base", "o200k_base", "p50k_base"]


# -- other rank files and patterns (the general path) -----------------------------------------


GENERAL_PATTERNS = [
    # Not a known spelling, so it exercises the regex path on both backends.
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s""",
    # o200k with single-digit numbers: no lexer knows this spelling.
    fastprep._patterns.O200K_PATTERN.replace(r"\p{N}{1,3}", r"\p{N}"),
    r"""\p{L}+|\p{N}|[^\p{L}\p{N}]""",
]


@pytest.mark.parametrize("pattern", GENERAL_PATTERNS)
@given(text=any_text)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
def test_general_path_matches_tiktoken(pattern, text):
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    path, _, specials = fastprep.encodings.encoding_spec("cl100k_base")
    key = ("general", pattern)
    from conftest import _reference_cache

    ref = _reference_cache.get(key)
    if ref is None:
        ref = tiktoken.Encoding("g", pat_str=pattern, mergeable_ranks=load_tiktoken_bpe(path),
                                special_tokens=specials)
        _reference_cache[key] = ref
    for backend in fastprep.available_backends():
        mine = _reference_cache.get((key, backend))
        if mine is None:
            mine = fastprep.Tokenizer.from_tiktoken(path, pattern=pattern, special_tokens=specials,
                                                    backend=backend)
            _reference_cache[(key, backend)] = mine
        assert mine.encode(text, allowed_special="all") == ref.encode(text, allowed_special="all")
        assert mine.encode_ordinary(text) == ref.encode_ordinary(text)


def test_tiktoken_style_constructor(backend):
    from tiktoken.load import load_tiktoken_bpe

    path, pattern, specials = fastprep.encodings.encoding_spec("p50k_base")
    ranks = load_tiktoken_bpe(path)
    enc = fastprep.Encoding("p50k_copy", pat_str=pattern, mergeable_ranks=ranks,
                            special_tokens=specials, explicit_n_vocab=50281, backend=backend)
    ref = tiktoken_reference("p50k_base")
    text = "The tiktoken-style constructor works, doesn't it?  "
    assert enc.encode(text) == ref.encode(text)


@pytest.mark.parametrize(
    "data,match",
    [
        (b"", "no tokens"),
        (b"IQ== 0\n!!!! 1\n", "line 2"),
        (b"IQ== 0\nIg==\n", "line 2"),
        (b"IQ== 0\nIQ== 1\n", "duplicate"),
        (b"IQ== 0\nIg== 0\n", "duplicate"),
        (b"IQ== x\n", "line 1"),
    ],
)
def test_bad_rank_files(backend, tmp_path, data, match):
    path = tmp_path / "bad.tiktoken"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=match):
        fastprep.Tokenizer.from_tiktoken(path, pattern=fastprep._patterns.CL100K_PATTERN,
                                         backend=backend)


def test_missing_byte_ranks_is_an_error_not_a_crash(backend, tmp_path):
    path = tmp_path / "tiny.tiktoken"
    path.write_bytes(b"YQ== 0\nYg== 1\nYWI= 2\n")  # only "a", "b", "ab"
    enc = fastprep.Tokenizer.from_tiktoken(path, pattern=fastprep._patterns.CL100K_PATTERN,
                                           backend=backend)
    assert enc.encode("ab") == [2]
    assert enc.encode("aba") == [2, 0]
    with pytest.raises(ValueError):
        enc.encode("abc")


def test_missing_extension_falls_back_with_a_warning():
    code = """
import sys, warnings, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "fastprep._core":
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastprep
assert any("pure-Python fallback" in str(w.message) for w in caught), caught
assert fastprep.backend() == "python" and fastprep.available_backends() == ("python",)
print(fastprep.get_encoding("cl100k_base").encode("hello world"))
"""
    env = {k: v for k, v in __import__("os").environ.items() if k != "FASTPREP_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[15339, 1917]"


BAD_UTF8 = [b"\xff", b"ok\x80", b"\xc3", b"a\xed\xa0\x80b", b"\xf4\x90\x80\x80", b"\xe0\x80\x80",
            b"good \xe6\x97\xa5\xe6\x9c", b"\xc0\xaf"]


def test_bytes_input(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    for text in ["hello world", "日本語 😀", "", "<|endoftext|> x"]:
        data = text.encode()
        assert enc.encode(data, disallowed_special=()) == enc.encode(text, disallowed_special=())
        assert enc.encode_ordinary(data) == enc.encode_ordinary(text)
    assert enc.encode_batch([b"a b", "c"]) == [enc.encode("a b"), enc.encode("c")]
    for data in BAD_UTF8:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            offset = exc.start
        with pytest.raises(ValueError, match=f"invalid UTF-8 at byte offset {offset}"):
            enc.encode(data)
        with pytest.raises(ValueError, match=f"byte offset {offset}"):
            enc.encode_ordinary(data)
        with pytest.raises(ValueError, match="invalid UTF-8"):
            enc.encode_batch(["fine", data])
        replaced = data.decode("utf-8", "replace")
        assert enc.encode(data, errors="replace") == enc.encode(replaced)
        assert enc.encode_ordinary(data, errors="replace") == enc.encode_ordinary(replaced)


@given(data=st.binary(max_size=64))
@settings(max_examples=200, deadline=None)
def test_arbitrary_bytes_never_crash(data):
    for backend in fastprep.available_backends():
        enc = fastprep.get_encoding("o200k_base", backend=backend)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            with pytest.raises(ValueError, match="invalid UTF-8"):
                enc.encode_ordinary(data)
        else:
            assert enc.encode_ordinary(data) == enc.encode_ordinary(text)
        assert enc.encode_ordinary(data, errors="replace") == enc.encode_ordinary(
            data.decode("utf-8", "replace"))


def test_limits(backend):
    enc = fastprep.get_encoding("cl100k_base", backend=backend)
    safe = enc.with_limits(max_input_bytes=100, max_tokens=10)
    assert isinstance(safe, fastprep.Tokenizer) and enc.limits is None
    assert safe.limits == {"max_input_bytes": 100, "max_tokens": 10}
    assert safe.encode("hello world") == enc.encode("hello world")
    with pytest.raises(fastprep.LimitExceededError, match="max_input_bytes=100"):
        safe.encode("x" * 101)
    with pytest.raises(fastprep.LimitExceededError, match="bytes"):
        safe.encode("é" * 51)  # 102 bytes in 51 characters
    with pytest.raises(ValueError, match="max_tokens=10"):
        safe.encode("one two three four five six seven eight nine ten eleven")
    with pytest.raises(fastprep.LimitExceededError):
        safe.encode_batch(["fine", "y" * 200])
    with pytest.raises(fastprep.LimitExceededError):
        safe.count(b"z" * 101)
    with pytest.raises(fastprep.LimitExceededError):
        safe(["fine", "w" * 101])
    assert safe.encode_to_numpy("ok").tolist() == enc.encode("ok")
    clone = pickle.loads(pickle.dumps(safe))
    assert clone.limits == safe.limits
    with pytest.raises(ValueError):
        enc.with_limits(max_tokens=-1)
