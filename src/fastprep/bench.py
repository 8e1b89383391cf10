"""`fastprep bench`: fastprep against its peers on unseen text, in three suites (``--suite``).

- ``bpe``: tiktoken encodings, fastprep against tiktoken, rs-bpe and HF tokenizers (cold 2 KB
  documents, ~60-character calls, 1 MB prompts, worst cases, batch); ids checked against
  tiktoken's ``encode_ordinary``.
- ``hf``: HF tokenizer.json files (the checkout's ``tests/data/vocab`` or ``--hf-file``),
  fastprep's ``Tokenizer.from_file`` against HF tokenizers, blingfire (its BERT model) and
  fastokens (files it loads), plus fastprep's own cl100k_base path on the same text for scale;
  ids checked against HF tokenizers'.
- ``normalize``: ``fastprep.normalize`` against ``unicodedata.normalize`` per form and corpus
  file, and already-normal text through NFC; output checked against unicodedata's (Unicode 14.0
  on Python 3.11 against fastprep's 15.0: a difference is shown, with a note where the input
  holds code points 14.0 does not assign).

Every workload is measured in rounds, and every round hands each implementation input that this
implementation has not encoded before in this process (distinct documents, distinct short strings,
a rotated 1 MB prompt, worst cases of a different length or seed), so a result cache (fastokens
keeps one; a future fastprep or peer might) cannot flatter anyone. Implementations take turns
within each round (the order rotates), so a noisy neighbour hurts all of them alike, and each gets
its own copy of the text. The reported figure is the median over rounds. Correctness is recorded
beside every figure, text by text.

The pytest-benchmark suites in ``benchmarks/bench_bpe.py``, ``bench_hf_bpe.py``, ``bench_bert.py``
and ``bench_normalize.py`` measure the same things with more rounds.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import random
import re
import statistics
import string
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------

CORPUS_NAMES = ("en_prose", "de_prose", "ja_prose", "py_code")
_DATA_DIR = Path(__file__).resolve().with_name("data")
_SAMPLE_FILE = _DATA_DIR / "bench_sample.txt"
_SAMPLE_HEADER = re.compile(r"^##### fastprep bench sample: (\w+) #####\n", re.MULTILINE)
DOC_BYTES = 2048
SHORT_CHARS = 60


def corpus_dir() -> Optional[Path]:
    """The benchmark corpus of a source checkout (``tests/data/corpus``, ~1 MB per file), or
    ``$FASTPREP_BENCH_CORPUS``; None when neither exists (e.g. an installed package run elsewhere)."""
    env = os.environ.get("FASTPREP_BENCH_CORPUS")
    candidates = [Path(env)] if env else []
    repo_root = Path(__file__).resolve().parents[2]  # src/fastprep/bench.py -> repo root
    candidates += [repo_root / "tests" / "data" / "corpus", Path.cwd() / "tests" / "data" / "corpus"]
    for path in candidates:
        if all((path / f"{name}.txt").is_file() for name in CORPUS_NAMES):
            return path
    return None


def load_corpus(files: Optional[Sequence[str]] = None,
                bundled: bool = False) -> tuple[dict[str, str], str]:
    """Returns ({name: text}, where it came from). ``files`` overrides the default corpus;
    ``bundled`` uses the sample shipped in the package even where the corpus is present."""
    if bundled:
        return load_bundled_sample(), f"bundled sample ({_SAMPLE_FILE.name}, ~50 KB per file)"
    if files:
        texts = {}
        for f in files:
            path = Path(f)
            texts[path.stem] = path.read_text(encoding="utf-8")
        return texts, "files given with --text"
    found = corpus_dir()
    if found is not None:
        texts = {n: (found / f"{n}.txt").read_text(encoding="utf-8") for n in CORPUS_NAMES}
        return texts, f"corpus ({found})"
    return load_bundled_sample(), f"bundled sample ({_SAMPLE_FILE.name}, ~50 KB per file)"


def load_bundled_sample() -> dict[str, str]:
    """The four sections of ``data/bench_sample.txt`` (see data/README.md for provenance)."""
    raw = _SAMPLE_FILE.read_text(encoding="utf-8")
    heads = list(_SAMPLE_HEADER.finditer(raw))
    out = {}
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(raw)
        out[m.group(1)] = raw[m.end():end]
    return out


def split_documents(text: str, target_bytes: int = DOC_BYTES) -> list[str]:
    """Cuts text into documents of about ``target_bytes`` UTF-8 bytes at line boundaries."""
    docs, cur, size = [], [], 0
    for line in text.splitlines(keepends=True):
        cur.append(line)
        size += len(line.encode("utf-8"))
        if size >= target_bytes:
            docs.append("".join(cur))
            cur, size = [], 0
    if cur and size >= target_bytes // 2:
        docs.append("".join(cur))
    return docs


def short_strings(text: str, length: int = SHORT_CHARS) -> list[str]:
    """Distinct ~``length``-character strings cut from text, in order (whitespace-only ones dropped)."""
    seen, out = set(), []
    for i in range(0, len(text) - length + 1, length):
        s = text[i:i + length]
        if s.strip() and s not in seen:
            seen.add(s)
            out.append(s)
    return out


@dataclasses.dataclass
class Pools:
    """Disjoint inputs per workload, so no instance sees the same text in two workloads."""

    cold: dict[str, list[str]]  # corpus name -> 2 KB documents
    short: list[str]  # ~60-character strings, interleaved across the corpus files
    batch: list[str]  # 2 KB documents, interleaved across the corpus files
    prompts: dict[str, str]  # corpus name -> first ~1 MB (at a line boundary)


def make_pools(texts: dict[str, str], prompt_bytes: int = 1_000_000) -> Pools:
    """Each file's documents are split into thirds: cold docs, short strings, batch docs."""
    cold, short_by_file, batch_by_file, prompts = {}, [], [], {}
    for name, text in texts.items():
        docs = split_documents(text)
        third = max(1, len(docs) // 3)
        cold[name] = docs[:third]
        short_by_file.append(short_strings("".join(docs[third:2 * third])))
        batch_by_file.append(docs[2 * third:])
        prompts[name] = _prefix_at_line(text, prompt_bytes)
    return Pools(cold, _interleave(short_by_file), _interleave(batch_by_file), prompts)


def round_slices(items: list, per_round: int, rounds: int) -> list[list]:
    """Up to ``rounds`` disjoint slices of ``per_round`` items; with fewer items, smaller slices
    (at least one item each) rather than fewer rounds."""
    if len(items) < per_round * rounds:
        per_round = max(1, len(items) // max(1, rounds))
    n = min(rounds, len(items) // per_round)
    return [items[r * per_round:(r + 1) * per_round] for r in range(n)]


def _interleave(lists: list[list[str]]) -> list[str]:
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out


def _prefix_at_line(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data.rfind(b"\n", 0, max_bytes)
    return data[: cut + 1 if cut > 0 else max_bytes].decode("utf-8", "ignore")


def rotate_at_line(text: str, round_index: int) -> str:
    """A different text of the same content per round: rotated at a line boundary, so a
    whole-text result cache misses while the pieces stay those of the original prompt."""
    if round_index == 0:
        return text
    lines = text.splitlines(keepends=True)
    k = (round_index * 7919) % max(1, len(lines)) or 1
    return "".join(lines[k:] + lines[:k])


# Worst cases for the pre-tokenizer and for BPE merging (superlinear in tiktoken before its heap path).
# Each round's input differs a little (run length + round index, or a new seed).
WORST_CASES = {
    # key: (label template, kind, length)
    "a_200k": ("{n:,} x 'a'", "a", 200_000),
    "a_400k": ("{n:,} x 'a'", "a", 400_000),
    "digits_100k": ("{n:,} digits", "digits", 100_000),
    "caret_100k": ("{n:,} x '^'", "^", 100_000),
    "cjk_100k": ("{n:,} CJK chars", "cjk", 100_000),
    "letters_100k": ("{n:,} ASCII letters", "letters", 100_000),
    "spaces_1m": ("{n:,} spaces", " ", 1_000_000),
}


def worst_case_text(kind: str, n: int, round_index: int) -> str:
    rng = random.Random(1000 + round_index)
    if kind == "digits":
        return "".join(rng.choices(string.digits, k=n))
    if kind == "letters":
        return "".join(rng.choices(string.ascii_letters, k=n))
    if kind == "cjk":
        # U+4E00..U+9FA5: assigned since Unicode 1.1, so every peer's Unicode version agrees.
        return "".join(map(chr, (rng.randint(0x4E00, 0x9FA5) for _ in range(n))))
    return kind * (n + round_index)


# --------------------------------------------------------------------------------------------
# Implementations
# --------------------------------------------------------------------------------------------

class Unavailable(Exception):
    """An implementation cannot run here (not installed, no such encoding, fallback backend)."""


@dataclasses.dataclass
class Impl:
    name: str
    version: str
    encoding: str
    encode: Callable[..., Any]  # encode_ordinary semantics; normalize suite: (text, form) -> str
    encode_batch: Optional[Callable[[list[str], int], list[list[int]]]] = None
    note: str = ""
    compared: bool = True  # False: another vocabulary, timed beside the others but never checked


IMPL_NAMES = ("fastprep", "tiktoken", "rs-bpe", "hf-tokenizers")


def rank_file(encoding: str) -> Path:
    path = _DATA_DIR / f"{encoding}.tiktoken"
    if not path.is_file():
        raise Unavailable(f"no rank file {path.name} in fastprep/data")
    return path


def _tiktoken_spec(encoding: str) -> dict:
    """tiktoken's own constructor for the encoding, reading our bundled rank file instead of
    downloading it; the file must have the sha256 tiktoken expects."""
    try:
        import tiktoken_ext.openai_public as public
        from tiktoken.load import load_tiktoken_bpe
    except ImportError as exc:
        raise Unavailable(f"tiktoken not installed ({exc})") from None
    ctor = getattr(public, "ENCODING_CONSTRUCTORS", {}).get(encoding)
    if ctor is None:
        raise Unavailable(f"tiktoken has no encoding {encoding!r}")
    local = rank_file(encoding)

    def load_local(url: str, expected_hash: Optional[str] = None) -> dict[bytes, int]:
        data = local.read_bytes()
        if expected_hash and hashlib.sha256(data).hexdigest() != expected_hash:
            raise Unavailable(f"{local.name} does not have the sha256 tiktoken expects")
        return load_tiktoken_bpe(str(local))

    saved = public.load_tiktoken_bpe
    public.load_tiktoken_bpe = load_local
    try:
        return ctor()
    finally:
        public.load_tiktoken_bpe = saved


_REFERENCES: dict[str, Any] = {}


def reference_encoding(encoding: str):
    """tiktoken's Encoding for ``encoding``, built offline (fastprep.encodings' helper if present)."""
    if encoding not in _REFERENCES:
        enc = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from fastprep import encodings as fp_encodings  # type: ignore
            helper = getattr(fp_encodings, "load_tiktoken_reference", None)
            if helper is not None:
                enc = helper(encoding)
        except Exception:  # the helper is optional; fall back to building it here
            enc = None
        if enc is None:
            try:
                import tiktoken
            except ImportError as exc:
                raise Unavailable(f"tiktoken not installed ({exc})") from None
            spec = _tiktoken_spec(encoding)
            enc = tiktoken.Encoding(
                spec["name"],
                pat_str=spec["pat_str"],
                mergeable_ranks=spec["mergeable_ranks"],
                special_tokens=spec["special_tokens"],
                explicit_n_vocab=spec.get("explicit_n_vocab"),
            )
        _REFERENCES[encoding] = enc
    return _REFERENCES[encoding]


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:
        return "?"


def make_fastprep(encoding: str) -> Impl:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the "native extension unavailable" warning
            import fastprep
        enc = fastprep.get_encoding(encoding)
        backend = fastprep.backend()
    except Exception as exc:  # not importable yet, or no such encoding
        raise Unavailable(
            f"fastprep.get_encoding({encoding!r}) failed: {type(exc).__name__}: {exc}") from None
    if backend != "native":
        raise Unavailable(
            "fastprep's native backend is unavailable (the Python fallback is not benchmarked)")
    version = getattr(fastprep, "__version__", None) or _version("fastprep")
    return Impl(
        "fastprep", f"{version} ({backend})", encoding, enc.encode_ordinary,
        lambda texts, threads: enc.encode_batch(texts, num_threads=threads),
        "encode_ordinary; encode_batch(num_threads=N)",
    )


def make_tiktoken(encoding: str) -> Impl:
    enc = reference_encoding(encoding)
    return Impl(
        "tiktoken", _version("tiktoken"), encoding, enc.encode_ordinary,
        lambda texts, threads: enc.encode_batch(texts, num_threads=threads),
        "encode_ordinary; encode_batch(num_threads=N)",
    )


def make_rs_bpe(encoding: str) -> Impl:
    try:
        from rs_bpe.bpe import openai as rs_openai
    except ImportError as exc:
        raise Unavailable(f"rs-bpe not installed ({exc})") from None
    factory = getattr(rs_openai, encoding, None)
    if factory is None:
        raise Unavailable(f"rs-bpe has no {encoding} (it ships cl100k_base and o200k_base)")
    tok = factory()

    def encode_batch(texts: list[str], threads: int) -> list[list[int]]:
        if threads <= 1:  # returns (token lists, total tokens, seconds)
            return tok.encode_batch(texts)[0]
        # ParallelOptions(min_batch_size, chunk_size, max_threads); returns
        # (token lists, total tokens, seconds, threads used).
        opts = rs_openai.ParallelOptions(1, max(1, len(texts) // (4 * threads)), threads)
        return tok.encode_batch_parallel(texts, opts)[0]

    return Impl(
        "rs-bpe", _version("rs-bpe") if _version("rs-bpe") != "?" else _version("rs_bpe"), encoding,
        tok.encode, encode_batch,
        "Tokenizer.encode; encode_batch (1 thread), encode_batch_parallel(max_threads=N)",
    )


def _byte_chars() -> list[str]:
    """GPT-2's byte-level alphabet: printable bytes stand for themselves, the rest map to U+0100+."""
    keep = set(range(33, 127)) | set(range(161, 173)) | set(range(174, 256))
    out, extra = [], 0
    for b in range(256):
        if b in keep:
            out.append(chr(b))
        else:
            out.append(chr(256 + extra))
            extra += 1
    return out


def derive_merges(ranks: dict[bytes, int]) -> list[tuple[bytes, bytes]]:
    """BPE merges equivalent to tiktoken's rank-ordered merging, one per multi-byte token.

    A token of rank r is made by the last merge of BPE on its own bytes using only ranks < r.
    When exactly one split of the token has both halves of rank < r, that split is it (most
    tokens); otherwise run that restricted BPE to find it.
    """
    merges = []
    for token, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(token) < 2:
            continue
        splits = [
            i for i in range(1, len(token))
            if ranks.get(token[:i], rank) < rank and ranks.get(token[i:], rank) < rank
        ]
        if len(splits) == 1:
            i = splits[0]
            merges.append((token[:i], token[i:]))
            continue
        parts = [token[i:i + 1] for i in range(len(token))]
        while len(parts) > 2:
            best, at = rank, -1
            for i in range(len(parts) - 1):
                r = ranks.get(parts[i] + parts[i + 1], rank)
                if r < best:
                    best, at = r, i
            if at < 0:
                break
            parts[at:at + 2] = [parts[at] + parts[at + 1]]
        if len(parts) == 2:
            merges.append((parts[0], parts[1]))
    return merges


def hf_pattern(pat_str: str) -> str:
    """tiktoken's regex in Oniguruma's dialect: there ``X{1,3}+`` means "(X{1,3}) one or more
    times", not a possessive interval, so drop the ``+`` (nothing follows it, so possessive and
    greedy split identically)."""
    return pat_str.replace("{1,3}+", "{1,3}")


def make_hf_tokenizers(encoding: str) -> Impl:
    try:
        import tokenizers
        from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    except ImportError as exc:
        raise Unavailable(f"tokenizers not installed ({exc})") from None
    spec = _tiktoken_spec(encoding)
    ranks = spec["mergeable_ranks"]
    chars = _byte_chars()

    def as_str(b: bytes) -> str:
        return "".join(chars[x] for x in b)

    vocab = {as_str(tok): rank for tok, rank in ranks.items()}
    merges = [(as_str(a), as_str(b)) for a, b in derive_merges(ranks)]
    # ignore_merges: a piece that is itself a token is emitted whole, as tiktoken does.
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(hf_pattern(spec["pat_str"])), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()

    def encode(text: str) -> list[int]:
        return tok.encode(text, add_special_tokens=False).ids

    def encode_batch(texts: list[str], threads: int) -> list[list[int]]:
        return [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]

    threads = os.environ.get("RAYON_NUM_THREADS", "all cores")
    return Impl(
        "hf-tokenizers", tokenizers.__version__, encoding, encode, encode_batch,
        f"BPE from the same ranks, Split(regex)+ByteLevel; encode_batch on RAYON_NUM_THREADS={threads}",
    )


FACTORIES = {
    "fastprep": make_fastprep,
    "tiktoken": make_tiktoken,
    "rs-bpe": make_rs_bpe,
    "hf-tokenizers": make_hf_tokenizers,
}


def make_impls(encoding: str, names: Iterable[str] = IMPL_NAMES) -> tuple[list[Impl], dict[str, str]]:
    """Builds every requested implementation that can run; returns (impls, {name: why not})."""
    impls, missing = [], {}
    for name in names:
        try:
            impl = FACTORIES[name](encoding)
            impl.encode("warm up: lazy regex compilation, first-call setup")
            impls.append(impl)
        except Unavailable as exc:
            missing[name] = str(exc)
    return impls, missing


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Settings:
    cold_rounds: int = 7
    cold_docs: int = 24  # 2 KB documents per round
    short_rounds: int = 7
    short_calls: int = 1000
    prompt_rounds: int = 3
    prompt_bytes: int = 1_000_000
    worst_rounds: int = 3
    worst_scale: float = 1.0
    batch_rounds: int = 5
    batch_docs: int = 48  # x 5 rounds fits half of the batch pool (~310 docs) for the N-thread row
    threads: int = 2
    budget_s: float = 3.0  # per implementation per case: stop adding rounds past this
    # hf suite, per tokenizer file (each file gets its own documents and strings)
    # 10 x 16 documents: nearly all of each file's share of a corpus (~165 2 KB documents), so the
    # medians rest on as many disjoint rounds as the text allows
    hf_rounds: int = 10
    hf_docs: int = 16  # 2 KB documents per round, per corpus file
    hf_short_rounds: int = 10
    hf_short_calls: int = 300
    # normalize suite
    norm_rounds: int = 7
    norm_bytes: int = 128_000  # a distinct chunk of each corpus file per round
    hf_budget_s: float = 1.0  # hf and normalize suites: per implementation per case

    @classmethod
    def quick(cls) -> "Settings":
        return cls(cold_rounds=3, cold_docs=4, short_rounds=3, short_calls=100, prompt_rounds=3,
                   prompt_bytes=64_000, worst_rounds=3, worst_scale=0.05, batch_rounds=3,
                   batch_docs=8, budget_s=0.5, hf_rounds=2, hf_docs=2, hf_short_rounds=2,
                   hf_short_calls=20, norm_rounds=2, norm_bytes=8_000, hf_budget_s=0.2)


WORKLOADS = ("cold", "short", "prompt", "worst", "batch")


@dataclasses.dataclass
class Row:
    workload: str
    case: str
    label: str
    unit: str  # "MB/s", "us/call", "ms"
    higher_is_better: bool
    values: dict[str, float]  # impl -> median
    rounds: dict[str, int]
    mismatches: dict[str, str]  # impl -> "3/120 texts" (only implementations that differ)
    checked: bool  # whether any reference ids were available
    threads: int = 1
    errors: dict[str, str] = dataclasses.field(default_factory=dict)  # impl -> exception
    reference: str = ""  # "tiktoken", or e.g. "rs-bpe (tiktoken failed)"
    notes: list[str] = dataclasses.field(default_factory=list)  # printed under the table


def _median_rate(nbytes: list[int], secs: list[float]) -> float:
    return statistics.median(b / s / 1e6 for b, s in zip(nbytes, secs))


def fresh_copy(x):
    """New str objects with the same text. CPython caches a str's UTF-8 form inside the object
    the first time native code asks for it, so an implementation handed a str that another one
    already encoded would skip that conversion; every implementation gets its own copies."""
    if isinstance(x, str):
        return x.encode("utf-8", "surrogatepass").decode("utf-8", "surrogatepass")
    return [fresh_copy(t) for t in x]


@dataclasses.dataclass
class CaseResult:
    secs: dict[str, list[float]]  # impl -> seconds per round it ran
    bad: dict[str, int]  # impl -> texts whose ids differ from the reference
    checked: dict[str, int]  # impl -> texts compared
    errors: dict[str, str]  # impl -> the exception that stopped it
    references: set  # which implementation's ids served as the reference


# Who serves as the reference in the bpe suite: tiktoken; where tiktoken itself fails on an input
# (o200k_base on 1,000,000 spaces overflows its regex stack), the next peer that succeeded on it.
_REFERENCE_ORDER = ("tiktoken", "rs-bpe", "hf-tokenizers")


def _short_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[-1][:100] if text else ''}"


def _run_case(impls: list[Impl], inputs: list[Any], call: Callable[[Impl, Any], list[list[int]]],
              reference: Optional[Callable[[Any], list[list[int]]]], budget_s: float,
              reference_order: Sequence[str] = _REFERENCE_ORDER) -> CaseResult:
    """Runs round r's input through every implementation (rotating the order, each on its own
    copy), then compares every implementation's output with the reference's, text by text.

    The reference is the first of ``reference_order`` that ran this round; ``reference(input)``
    stands in for the first of them when it did not (stopped by the budget), untimed.
    An implementation that raises (Rust panics arrive as BaseException) is recorded and not run
    again in this case; one past ``budget_s`` in total stops adding rounds."""
    res = CaseResult({i.name: [] for i in impls}, {i.name: 0 for i in impls},
                     {i.name: 0 for i in impls}, {}, set())
    for r, inp in enumerate(inputs):
        outs = {}
        order = impls[r % len(impls):] + impls[: r % len(impls)] if impls else []
        for impl in order:
            s = res.secs[impl.name]
            if impl.name in res.errors or (s and sum(s) > budget_s):
                continue
            arg = fresh_copy(inp)
            try:
                t0 = time.perf_counter()
                out = call(impl, arg)
                s.append(time.perf_counter() - t0)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: B036 - pyo3's PanicException is a BaseException
                res.errors[impl.name] = _short_error(exc)
                continue
            outs[impl.name] = out
        if reference is None:
            continue
        ref, source = None, None
        first = reference_order[0]
        for name in reference_order:
            if name in outs:
                ref, source = outs[name], name
            elif name == first and first not in res.errors:
                try:
                    ref, source = reference(inp), name
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as exc:  # noqa: B036
                    res.errors.setdefault(first, _short_error(exc))
            if ref is not None:
                break
        if ref is None:
            continue
        res.references.add(source if source == first else f"{source} ({first} failed)")
        compared = {i.name for i in impls if i.compared}
        for name, out in outs.items():
            if name not in compared:
                continue
            res.checked[name] += len(ref)
            res.bad[name] += (sum(1 for x, y in zip(out, ref) if not _same(x, y))
                              + abs(len(out) - len(ref)))
    return res


def _same(x, y) -> bool:
    """Equal outputs; an array of ids (blingfire returns NumPy arrays) equals the same list."""
    if hasattr(x, "tolist"):
        x = x.tolist()
    return x == y


def _make_row(impls: list[Impl], workload: str, case: str, label: str, unit: str, hib: bool,
              res: CaseResult, sizes: Optional[list[int]] = None, per: int = 1) -> Row:
    """One table row from a case's timings: MB/s from bytes per round, us per call, or ms."""
    values, rounds, mism = {}, {}, {}
    for impl in impls:
        s = res.secs.get(impl.name)
        if not s:
            continue
        if unit == "MB/s":
            values[impl.name] = _median_rate(sizes[: len(s)], s)
        elif unit == "us/call":
            values[impl.name] = statistics.median(s) / per * 1e6
        else:
            values[impl.name] = statistics.median(s) * 1e3
        rounds[impl.name] = len(s)
        if res.bad.get(impl.name):
            mism[impl.name] = f"{res.bad[impl.name]}/{res.checked[impl.name]} texts"
    return Row(workload, case, label, unit, hib, values, rounds, mism, bool(res.references),
               errors=dict(res.errors), reference=", ".join(sorted(res.references)))


def run_encoding(encoding: str, texts: dict[str, str], settings: Settings,
                 impl_names: Sequence[str] = IMPL_NAMES, workloads: Sequence[str] = WORKLOADS,
                 progress: Optional[Callable[[str], None]] = None) -> dict:
    impls, missing = make_impls(encoding, impl_names)
    try:
        ref_enc = reference_encoding(encoding)
    except Unavailable:
        ref_enc = None
    pools = make_pools(texts, settings.prompt_bytes)
    rows: list[Row] = []
    say = progress or (lambda _msg: None)

    def ref_of(fn):
        return None if ref_enc is None else fn

    def add(workload, case, label, unit, hib, res: CaseResult, sizes=None, per=1):
        rows.append(_make_row(impls, workload, case, label, unit, hib, res, sizes, per))

    def encode_each(impl, docs):
        enc = impl.encode
        return [enc(d) for d in docs]

    if "cold" in workloads:
        for name, docs in pools.cold.items():
            say(f"{encoding}: cold {name}")
            inputs = round_slices(docs, settings.cold_docs, settings.cold_rounds)
            if not inputs:
                say(f"{encoding}: cold {name}: too short for one 2 KB document, skipped")
                continue
            sizes = [sum(len(d.encode("utf-8")) for d in x) for x in inputs]
            res = _run_case(impls, inputs, encode_each,
                            ref_of(lambda x: [ref_enc.encode_ordinary(d) for d in x]),
                            settings.budget_s)
            add("cold", name, name, "MB/s", True, res, sizes=sizes)

    if "short" in workloads:
        say(f"{encoding}: short calls")
        inputs = round_slices(pools.short, settings.short_calls, settings.short_rounds)
        n = len(inputs[0]) if inputs else 1
        res = _run_case(impls, inputs, encode_each,
                        ref_of(lambda x: [ref_enc.encode_ordinary(d) for d in x]),
                        settings.budget_s)
        add("short", "short_60", f"{SHORT_CHARS}-char strings", "us/call", False, res, per=n)

    if "prompt" in workloads:
        for name, prompt in pools.prompts.items():
            say(f"{encoding}: prompt {name}")
            inputs = [rotate_at_line(prompt, r) for r in range(settings.prompt_rounds)]
            res = _run_case(impls, inputs, lambda impl, t: [impl.encode(t)],
                            ref_of(lambda t: [ref_enc.encode_ordinary(t)]),
                            settings.budget_s)
            label = f"{name} ({len(prompt.encode('utf-8')) / 1e6:.2f} MB)"
            add("prompt", name, label, "ms", False, res)

    if "worst" in workloads:
        for key, (template, kind, n) in WORST_CASES.items():
            n = max(10, int(n * settings.worst_scale))
            say(f"{encoding}: worst {key}")
            inputs = [worst_case_text(kind, n, r) for r in range(settings.worst_rounds)]
            res = _run_case(impls, inputs, lambda impl, t: [impl.encode(t)],
                            ref_of(lambda t: [ref_enc.encode_ordinary(t)]),
                            settings.budget_s)
            add("worst", key, template.format(n=n), "ms", False, res)

    if "batch" in workloads:
        # Each implementation's batch API on N threads, and on 1 thread (a peer whose threaded
        # path is slower than its sequential one is compared at its best: see format_report).
        n = settings.batch_docs
        batch_impls = [i for i in impls if i.encode_batch is not None]
        pool = pools.batch
        for threads in sorted({settings.threads, 1}, reverse=True):
            say(f"{encoding}: batch, {threads} thread(s)")
            one = [i for i in batch_impls if threads > 1 or i.name != "hf-tokenizers"]
            share = pool[: len(pool) // 2] if threads > 1 else pool
            inputs = round_slices(share, n, settings.batch_rounds)
            if not inputs:
                continue
            pool = pool[sum(map(len, inputs)):]  # the next thread count gets documents not seen yet
            sizes = [sum(len(d.encode("utf-8")) for d in x) for x in inputs]
            res = _run_case(one, inputs,
                            lambda impl, docs, t=threads: impl.encode_batch(docs, t),
                            ref_of(lambda x: [ref_enc.encode_ordinary(d) for d in x]),
                            settings.budget_s)
            label = f"{len(inputs[0])} x 2 KB docs, {threads} thread{'s' * (threads > 1)}"
            add("batch", f"batch_{threads}t", label,
                "MB/s", True, res, sizes=sizes)
            rows[-1].threads = threads

    return {
        "encoding": encoding,
        "implementations": {i.name: {"version": i.version, "how": i.note} for i in impls},
        "unavailable": missing,
        "rows": [dataclasses.asdict(r) for r in rows],
    }


# --------------------------------------------------------------------------------------------
# hf suite: HF tokenizer.json files
# --------------------------------------------------------------------------------------------

HF_FILES = ("bert_minilm_uncased", "claude_v1_bpe", "deepseek_v3")
HF_IMPL_NAMES = ("fastprep", "hf-tokenizers", "blingfire", "flash-tokenizer", "fastokens",
                 "fastprep-tiktoken")
# blingfire ships one BERT model (bert_base_tok.bin, bert-base-uncased's vocabulary and rules).
_BLINGFIRE_FILES = ("bert_minilm_uncased",)


def vocab_dir() -> Optional[Path]:
    """The tokenizer.json files of a source checkout (``tests/data/vocab``); None elsewhere."""
    repo_root = Path(__file__).resolve().parents[2]
    for path in (repo_root / "tests" / "data" / "vocab", Path.cwd() / "tests" / "data" / "vocab"):
        if all((path / f"{name}.json").is_file() for name in HF_FILES):
            return path
    return None


def _after_line(text: str, min_bytes: int) -> str:
    """``text`` from the first line that starts at least ``min_bytes`` UTF-8 bytes in."""
    data = text.encode("utf-8")
    cut = data.find(b"\n", min_bytes)
    return text if cut < 0 else data[cut + 1:].decode("utf-8", "ignore")


def hf_pools(texts: dict[str, str], n_files: int) -> list[tuple[dict[str, list[str]], list[str]]]:
    """Per tokenizer file: ({corpus name: 2 KB documents}, ~60-character strings).

    Documents are cut half a document away from the bpe suite's boundaries and strings 30
    characters away, and any that equals a bpe suite input is dropped, so the cl100k_base
    instance that both suites share never sees a text twice; the files take turns through the
    lists, so no two files get the same text either."""
    taken = make_pools(texts, 0)
    seen = set(taken.short) | set(taken.batch) | {d for docs in taken.cold.values() for d in docs}
    docs = {name: [d for d in split_documents(_after_line(text, DOC_BYTES // 2)) if d not in seen]
            for name, text in texts.items()}
    shorts = [s for s in _interleave([short_strings(t[SHORT_CHARS // 2:]) for t in texts.values()])
              if s not in seen]
    return [({name: d[i::n_files] for name, d in docs.items()}, shorts[i::n_files])
            for i in range(n_files)]


def _fastprep_module():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the "native extension unavailable" warning
            import fastprep
        backend = fastprep.backend()
    except Exception as exc:
        raise Unavailable(f"fastprep not importable: {type(exc).__name__}: {exc}") from None
    if backend != "native":
        raise Unavailable(
            "fastprep's native backend is unavailable (the Python fallback is not benchmarked)")
    return fastprep


def _fastprep_version(fastprep) -> str:
    return getattr(fastprep, "__version__", None) or _version("fastprep")


def _panic_guard(what: str, fn: Callable[[], Any]) -> Any:
    """``fn()``, with any failure (a Rust panic arrives as a BaseException) as Unavailable."""
    try:
        return fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except Unavailable:
        raise
    except BaseException as exc:  # noqa: B036
        raise Unavailable(f"{what}: {_short_error(exc)}") from None


def make_hf_impl(name: str, path: Path) -> Impl:
    """Implementation ``name`` of HF_IMPL_NAMES for the tokenizer.json at ``path``: ids without
    special tokens, truncation or padding, one call per text."""
    file = path.stem
    if name == "fastprep":
        fastprep = _fastprep_module()
        tok = _panic_guard("fastprep.Tokenizer.from_file failed",
                           lambda: fastprep.Tokenizer.from_file(path))
        tok.no_truncation()
        tok.no_padding()
        # The file loads everywhere; a file no native encoder covers runs the Python pipeline.
        native = getattr(getattr(tok, "_hf", None), "native", None) is not None
        path_kind = "native" if native else "Python pipeline: no native encoder for this file"
        return Impl("fastprep", f"{_fastprep_version(fastprep)} ({path_kind})",
                    file, lambda t: tok.encode(t, add_special_tokens=False),
                    note="Tokenizer.from_file; encode(add_special_tokens=False)")
    if name == "hf-tokenizers":
        try:
            import tokenizers
        except ImportError as exc:
            raise Unavailable(f"tokenizers not installed ({exc})") from None
        tok = _panic_guard("tokenizers.Tokenizer.from_file failed",
                           lambda: tokenizers.Tokenizer.from_file(str(path)))
        tok.no_truncation()
        tok.no_padding()
        return Impl("hf-tokenizers", tokenizers.__version__, file,
                    lambda t: tok.encode(t, add_special_tokens=False).ids,
                    note="Tokenizer.from_file; encode(add_special_tokens=False).ids")
    if name == "blingfire":
        if file not in _BLINGFIRE_FILES:
            raise Unavailable(f"blingfire's BERT model is not {file}")
        try:
            import blingfire
        except ImportError as exc:
            raise Unavailable(f"blingfire not installed ({exc})") from None
        model = Path(blingfire.__file__).with_name("bert_base_tok.bin")
        if not model.is_file():
            raise Unavailable(f"blingfire has no {model.name}")
        handle = blingfire.load_model(str(model))
        unk = 100  # [UNK] in bert-base-uncased's vocabulary

        def encode(text: str):
            # The output buffer holds at most one token per byte; returns a NumPy array.
            return blingfire.text_to_ids(handle, text, len(text.encode("utf-8")) + 8, unk, True)

        return Impl("blingfire", _version("blingfire"), file, encode,
                    note="text_to_ids(bert_base_tok.bin, no_padding=True)")
    if name == "flash-tokenizer":
        return _flash_tokenizer_impl(path, file)
    if name == "fastokens":
        try:
            import fastokens
        except ImportError as exc:
            raise Unavailable(f"fastokens not installed ({exc})") from None
        tok = _panic_guard("fastokens cannot load it",
                           lambda: fastokens.Tokenizer.from_file(str(path)))
        tok.no_truncation()
        tok.no_padding()
        return Impl("fastokens", _version("fastokens"), file,
                    lambda t: tok.encode(t, add_special_tokens=False).ids,
                    note="Tokenizer.from_file; encode(add_special_tokens=False).ids "
                         "(keeps a result cache: every text is new)")
    if name == "fastprep-tiktoken":
        fastprep = _fastprep_module()
        enc = _panic_guard("fastprep.get_encoding failed",
                           lambda: fastprep.get_encoding("cl100k_base"))
        return Impl("fastprep-tiktoken", _fastprep_version(fastprep), "cl100k_base",
                    enc.encode_ordinary, compared=False,
                    note="cl100k_base encode_ordinary on the same text: another vocabulary, "
                         "timed only (the 'vs tiktoken path' column)")
    raise ValueError(name)


def make_hf_impls(path: Path, names: Iterable[str] = HF_IMPL_NAMES
                  ) -> tuple[list[Impl], dict[str, str], dict[str, float]]:
    """(implementations that load ``path``, {name: why not}, {name: load seconds})."""
    impls, missing, load_s = [], {}, {}
    for name in names:
        t0 = time.perf_counter()
        try:
            impl = make_hf_impl(name, path)
            load_s[name] = time.perf_counter() - t0
            _panic_guard("warm-up call failed", lambda: impl.encode("warm up: first-call setup"))
            impls.append(impl)
        except Unavailable as exc:
            missing[name] = str(exc)
    return impls, missing, load_s


def run_hf_file(path: Path, docs: dict[str, list[str]], shorts: list[str], settings: Settings,
                progress: Optional[Callable[[str], None]] = None) -> dict:
    """The hf suite's block for one tokenizer.json: cold 2 KB documents per corpus file and
    ~60-character calls, every implementation's ids checked against HF tokenizers'."""
    say = progress or (lambda _msg: None)
    file = path.stem
    say(f"hf {file}: loading")
    impls, missing, load_s = make_hf_impls(path)
    hf = next((i for i in impls if i.name == "hf-tokenizers"), None)
    reference = None if hf is None else (lambda texts: [hf.encode(t) for t in texts])
    rows: list[Row] = []

    def encode_each(impl, texts):
        enc = impl.encode
        return [enc(t) for t in texts]

    for corpus, pool in docs.items():
        say(f"hf {file}: cold {corpus}")
        inputs = round_slices(pool, settings.hf_docs, settings.hf_rounds)
        if not inputs:
            continue
        sizes = [sum(len(d.encode("utf-8")) for d in x) for x in inputs]
        res = _run_case(impls, inputs, encode_each, reference, settings.hf_budget_s,
                        reference_order=("hf-tokenizers",))
        rows.append(_make_row(impls, "hf_cold", corpus, corpus, "MB/s", True, res, sizes=sizes))

    say(f"hf {file}: short calls")
    inputs = round_slices(shorts, settings.hf_short_calls, settings.hf_short_rounds)
    if inputs:
        res = _run_case(impls, inputs, encode_each, reference, settings.hf_budget_s,
                        reference_order=("hf-tokenizers",))
        rows.append(_make_row(impls, "hf_short", "short_60", f"{SHORT_CHARS}-char strings",
                              "us/call", False, res, per=len(inputs[0])))
    return {
        "file": file,
        "path": str(path),
        "implementations": {i.name: {"version": i.version, "how": i.note,
                                     "load_s": round(load_s.get(i.name, 0.0), 3),
                                     "speed_only": not i.compared} for i in impls},
        "unavailable": missing,
        "rows": [dataclasses.asdict(r) for r in rows],
    }


def run_hf(texts: dict[str, str], settings: Settings, files: Optional[Sequence[str]] = None,
           progress: Optional[Callable[[str], None]] = None) -> dict:
    """The hf suite: one block per tokenizer.json (``files``, else the checkout's three)."""
    if files:
        paths = [Path(f) for f in files]
        source = "files given with --hf-file"
    else:
        found = vocab_dir()
        if found is None:
            return {"source": None, "skipped": "no tests/data/vocab here (an installed package?); "
                                                "give tokenizer.json files with --hf-file",
                    "files": []}
        paths = [found / f"{name}.json" for name in HF_FILES]
        source = str(found)
    pools = hf_pools(texts, len(paths))
    return {"source": source, "skipped": None,
            "files": [run_hf_file(p, d, s, settings, progress) for p, (d, s) in zip(paths, pools)]}


# --------------------------------------------------------------------------------------------
# normalize suite: Unicode normalization
# --------------------------------------------------------------------------------------------

NORMALIZE_FORMS = ("NFC", "NFKC", "NFD", "NFKD")


def make_normalizers() -> tuple[list[Impl], dict[str, str]]:
    """fastprep.normalize and unicodedata.normalize as Impls whose ``encode(text, form)`` returns
    the normalized str."""
    import unicodedata
    impls, missing = [], {}
    try:
        fastprep = _fastprep_module()
        from fastprep.normalize import UNICODE_VERSION
        impls.append(Impl("fastprep", _fastprep_version(fastprep), f"Unicode {UNICODE_VERSION}",
                          lambda t, form: fastprep.normalize(t, form),
                          note="fastprep.normalize(text, form)"))
    except (Unavailable, ImportError) as exc:
        missing["fastprep"] = str(exc)
    impls.append(Impl("unicodedata", f"Python {platform.python_version()}",
                      f"Unicode {unicodedata.unidata_version}",
                      lambda t, form: unicodedata.normalize(form, t),
                      note="unicodedata.normalize(form, text)"))
    return impls, missing


def _unassigned_in_unicodedata(texts: Iterable[str]) -> int:
    """Distinct code points of ``texts`` that Python's unicodedata has as unassigned (Cn): where
    its Unicode version and fastprep's may legitimately normalize differently."""
    import unicodedata
    chars = set().union(*map(set, texts))
    return sum(1 for c in chars if unicodedata.category(c) == "Cn")


def run_normalize(texts: dict[str, str], settings: Settings,
                  progress: Optional[Callable[[str], None]] = None) -> dict:
    """Every form on every corpus file (a distinct chunk per round), then already-normal English
    through NFC (the quick-check path); output checked against unicodedata's."""
    import unicodedata
    say = progress or (lambda _msg: None)
    impls, missing = make_normalizers()
    rows: list[Row] = []
    chunks = {}
    for name, text in texts.items():
        chunks[name] = split_documents(text, settings.norm_bytes)[: settings.norm_rounds] or [text]

    def add_version_note(row: Row, inputs: list[str]) -> None:
        if all(t.isascii() for t in inputs):
            row.notes.append("all ASCII, normal in every form: both return the input at once")
            return
        newer = _unassigned_in_unicodedata(inputs)
        if newer:
            row.notes.append(f"{newer} code points are unassigned in Python's Unicode "
                             f"{unicodedata.unidata_version}: differences there are version "
                             "differences, not errors")

    for form in NORMALIZE_FORMS:
        say(f"normalize {form}")
        for name, inputs in chunks.items():
            sizes = [len(c.encode("utf-8")) for c in inputs]
            res = _run_case(impls, inputs, lambda impl, t, f=form: [impl.encode(t, f)],
                            lambda t, f=form: [unicodedata.normalize(f, t)], settings.hf_budget_s,
                            reference_order=("unicodedata",))
            row = _make_row(impls, "normalize", f"{form} {name}", f"{form} {name}", "MB/s", True,
                            res, sizes=sizes)
            add_version_note(row, inputs)
            rows.append(row)

    name = "en_prose" if "en_prose" in texts else next(iter(texts), None)
    if name is not None:
        say("normalize: already-normal text through NFC")
        text = texts[name]
        # Rotated at line boundaries: a different str per round, still NFC (a newline starts
        # every line, and nothing composes across it).
        inputs = [rotate_at_line(text, r) for r in range(settings.norm_rounds)]
        returned_input: dict[str, bool] = {}

        def call(impl, t):
            out = impl.encode(t, "NFC")
            returned_input[impl.name] = out is t
            return [out]

        res = _run_case(impls, inputs, call, lambda t: [unicodedata.normalize("NFC", t)],
                        settings.hf_budget_s, reference_order=("unicodedata",))
        normal = unicodedata.is_normalized("NFC", text)
        label = (f"{name} {'already NFC' if normal else 'NOT already NFC'}, whole file "
                 f"({len(text.encode('utf-8')) / 1e6:.2f} MB)")
        row = _make_row(impls, "normalize_quick", f"NFC {name} already normal", label, "MB/s",
                        True, res, sizes=[len(t.encode("utf-8")) for t in inputs])
        same = [n for n, v in returned_input.items() if v]
        row.notes.append("returned the input object (quick check said normal): "
                         + (", ".join(same) if same else "none"))
        add_version_note(row, [text])
        rows.append(row)

    return {
        "unicode_versions": {i.name: i.encoding for i in impls},
        "implementations": {i.name: {"version": i.version, "how": i.note,
                                     "unicode": i.encoding} for i in impls},
        "unavailable": missing,
        "rows": [dataclasses.asdict(r) for r in rows],
    }


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {d: _version(d) for d in ("fastprep", "tiktoken", "rs-bpe", "tokenizers",
                                               "blingfire", "fastokens", "numpy")},
    }


_TITLES = {
    "cold": "Cold throughput, 2 KB documents never seen before (MB/s, higher is better)",
    "short": "Short-call latency, distinct ~60-character strings (us per call, lower is better)",
    "prompt": "One long prompt: the start of each file, up to 1 MB "
              "(size in brackets; ms, lower is better)",
    "worst": "Worst cases (ms, lower is better)",
    "batch": "Batch throughput, each implementation's batch API (MB/s, higher is better; "
             "'vs best peer' takes each peer's best with at most that many threads; "
             "HF's thread count is fixed per process by RAYON_NUM_THREADS)",
}


def _flash_tokenizer_impl(path: Path, file: str) -> Impl:
    """flash-tokenizer's BertTokenizerFlash over the file's WordPiece vocabulary (written to a
    vocab.txt), for BertNormalizer(lowercase) + BertPreTokenizer + WordPiece files only."""
    import json
    import tempfile

    obj = json.loads(Path(path).read_text(encoding="utf-8"))
    norm = obj.get("normalizer") or {}
    if (obj.get("model") or {}).get("type") != "WordPiece" or norm.get("type") != "BertNormalizer":
        raise Unavailable("flash-tokenizer handles BERT WordPiece files only")
    try:
        from flash_tokenizer import BertTokenizerFlash
    except ImportError as exc:
        raise Unavailable(f"flash-tokenizer not installed ({exc})") from None
    vocab = sorted(obj["model"]["vocab"].items(), key=lambda kv: kv[1])
    vocab_file = Path(tempfile.mkdtemp(prefix="fastprep-bench-")) / "vocab.txt"
    vocab_file.write_text("\n".join(t for t, _ in vocab) + "\n", encoding="utf-8")
    tok = BertTokenizerFlash(str(vocab_file), bool(norm.get("lowercase", True)), 1 << 30,
                             bool(norm.get("handle_chinese_chars", True)), bidirectional=False)
    core = tok.tokenizer

    def encode(text: str):
        return core.encode(text, "longest", 1 << 30)[1:-1]  # drop its [CLS] ... [SEP]

    return Impl("flash-tokenizer", _version("flash-tokenizer"), file, encode,
                note="BertTokenizerFlash(vocab.txt).tokenizer.encode without [CLS]/[SEP]")


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _format_rows(rows: list[dict], names: list[str], title: str, speed_only: set[str],
                 default_reference: str) -> list[str]:
    """One table: a row per case, a column per implementation, then fastprep against the best
    peer with correct output, fastprep against fastprep's tiktoken path (hf suite), correctness."""
    tiktoken_path = "fastprep-tiktoken" in names
    header = ["case"] + names + ["vs best peer"] + (["vs tiktoken path"] if tiktoken_path else [])
    header.append("correctness")
    notes: list[str] = []
    table = [header]
    for row in rows:
        vals = row["values"]
        errs = row.get("errors", {})
        hib = row["higher_is_better"]
        cells = [row["label"]] + [
            _fmt(vals[n]) if n in vals else ("FAILED" if n in errs else "-") for n in names]

        def ratio(other: Optional[float]) -> str:
            if "fastprep" not in vals or not other:
                return "-"
            fp = vals["fastprep"]
            return f"{(fp / other if hib else other / fp):.2f}x"

        # Peers whose output differs from the reference, or that use another vocabulary, are
        # not competitors.
        peers = [vals[n] for n in vals
                 if n != "fastprep" and n not in row["mismatches"] and n not in speed_only]
        if row["workload"] == "batch":  # a peer's best with at most this many threads
            peers = [v for r in rows if r["threads"] <= row["threads"]
                     for n, v in r["values"].items()
                     if n != "fastprep" and n not in r["mismatches"]]
        cells.append(ratio((max(peers) if hib else min(peers)) if peers else None))
        if tiktoken_path:
            cells.append(ratio(vals.get("fastprep-tiktoken")))
        if not row["checked"]:
            verdict = "n/a (no reference)"
        elif row["mismatches"]:
            verdict = "DIFFERS: " + ", ".join(f"{k} {v}" for k, v in row["mismatches"].items())
        else:
            verdict = "all equal"
        if row.get("reference", default_reference) not in ("", default_reference):
            verdict += f" (vs {row['reference']})"
        cells.append(verdict)
        table.append(cells)
        notes.extend(f"{row['label']}: {n} failed: {e}" for n, e in errs.items())
        notes.extend(f"{row['label']}: {n}" for n in row.get("notes", ()))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    out = ["", title]
    for r in table:
        line = "  ".join(c.ljust(w) if i in (0, len(r) - 1) else c.rjust(w)
                         for i, (c, w) in enumerate(zip(r, widths)))
        out.append("  " + line.rstrip())
    out.extend(f"  note: {n}" for n in notes)
    return out


def _format_block(block: dict, titles: dict[str, str], default_reference: str) -> list[str]:
    """A block's unavailable implementations, then one table per workload."""
    impls = block["implementations"]
    names = list(impls)
    speed_only = {n for n, info in impls.items() if info.get("speed_only")}
    out = [f"  (not measured: {name}: {why})" for name, why in block["unavailable"].items()]
    by_workload: dict[str, list[dict]] = {}
    for row in block["rows"]:
        by_workload.setdefault(row["workload"], []).append(row)
    for workload, rows in by_workload.items():
        out.extend(_format_rows(rows, names, titles[workload], speed_only, default_reference))
    return out


_HF_TITLES = {
    "hf_cold": "Cold throughput, 2 KB documents never seen before (MB/s, higher is better; "
               "'vs tiktoken path' = fastprep on this file against fastprep's cl100k_base "
               "encode_ordinary on the same documents)",
    "hf_short": "Short-call latency, distinct ~60-character strings (us per call, lower is better)",
}
_NORMALIZE_TITLES = {
    "normalize": "Normalization, a distinct chunk of each corpus file per round "
                 "(~{kb} KB; MB/s of UTF-8 input, higher is better)",
    "normalize_quick": "Already-normal text through NFC: the quick-check path "
                       "(MB/s, higher is better)",
}


def format_report(report: dict) -> str:
    """The human-readable tables: a block per encoding (bpe), per tokenizer.json file (hf), and
    one for normalization."""
    out = []
    m = report["machine"]
    suites = report.get("suites", ["bpe"])
    out.append(f"fastprep bench{' --quick' if report['quick'] else ''} "
               f"(suites: {', '.join(suites)}) — {report['text_source']}")
    out.append(f"machine: {m['cpu']}, {m['usable_cores']}/{m['cores']} cores usable, "
               f"Python {m['python']}, {m['os']}")
    out.append("versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items()))
    out.append("figures: median over rounds; every round gives each implementation text it has "
               "not seen; 'vs best peer' = fastprep against the fastest peer with correct output "
               "(> 1: fastprep faster)")
    if "bpe" in suites:
        out.append("")
        out.append("##### bpe: tiktoken encodings; correctness = ids equal tiktoken's "
                   "encode_ordinary, text by text")
    for enc_report in report["encodings"]:
        out.append("")
        out.append(f"=== {enc_report['encoding']} ===")
        out.extend(_format_block(enc_report, _TITLES, "tiktoken"))
    hf = report.get("hf")
    if hf is not None:
        out.append("")
        out.append("##### hf: tokenizer.json files, one call per text, no special tokens, "
                   "truncation or padding; correctness = ids equal HF tokenizers', text by text")
        if hf["skipped"]:
            out.append(f"  (skipped: {hf['skipped']})")
        for block in hf["files"]:
            out.append("")
            out.append(f"=== {block['file']} ({block['path']}) ===")
            versions = ", ".join(f"{n} {i['version']}" for n, i in block["implementations"].items())
            loads = ", ".join(f"{n} {i['load_s']:.2f} s"
                              for n, i in block["implementations"].items()
                              if not i.get("speed_only"))
            out.append(f"  implementations: {versions}")
            out.append(f"  load time: {loads}")
            out.extend(_format_block(block, _HF_TITLES, "hf-tokenizers"))
    norm = report.get("normalize")
    if norm is not None:
        out.append("")
        versions = ", ".join(f"{n} {v}" for n, v in norm["unicode_versions"].items())
        out.append("##### normalize: fastprep.normalize(text, form) against "
                   "unicodedata.normalize(form, text), each on its own fresh str; correctness = "
                   f"equal output (Unicode versions: {versions})")
        kb = f"{report['settings'].get('norm_bytes', 0) / 1000:.0f}"
        titles = {k: v.replace("{kb}", kb) for k, v in _NORMALIZE_TITLES.items()}
        out.extend(_format_block(norm, titles, "unicodedata"))
    out.append("")
    out.append(f"total {report['seconds']:.1f} s")
    return "\n".join(out)


SUITES = ("bpe", "hf", "normalize")


def run(encodings: Sequence[str] = ("cl100k_base",), text_files: Optional[Sequence[str]] = None,
        quick: bool = False, impl_names: Sequence[str] = IMPL_NAMES,
        workloads: Sequence[str] = WORKLOADS, threads: int = 2,
        progress: Optional[Callable[[str], None]] = None, bundled: bool = False,
        suites: Sequence[str] = SUITES, hf_files: Optional[Sequence[str]] = None) -> dict:
    """Runs the selected suites and returns a JSON-serialisable report: ``encodings`` (the bpe
    suite, a block per encoding; empty when not selected), ``hf`` and ``normalize`` (None when
    not selected)."""
    t0 = time.perf_counter()
    settings = Settings.quick() if quick else Settings()
    settings.threads = threads
    texts, source = load_corpus(text_files, bundled)
    report = {
        "quick": quick,
        "suites": [s for s in SUITES if s in suites],
        "text_source": source,
        "machine": machine_info(),
        "settings": dataclasses.asdict(settings),
        "encodings": [run_encoding(e, texts, settings, impl_names, workloads, progress)
                      for e in encodings] if "bpe" in suites else [],
        "hf": run_hf(texts, settings, hf_files, progress) if "hf" in suites else None,
        "normalize": run_normalize(texts, settings, progress) if "normalize" in suites else None,
    }
    blocks = report["encodings"] + (report["hf"]["files"] if report["hf"] else [])
    if report["normalize"]:
        blocks.append(report["normalize"])
    for block in blocks:  # an uninstalled checkout has no distribution metadata
        info = block["implementations"].get("fastprep")
        if info:  # only the native backend is benchmarked
            report["machine"]["versions"]["fastprep"] = info["version"].split(" (")[0] + " (native)"
            break
    report["seconds"] = time.perf_counter() - t0
    return report


# --------------------------------------------------------------------------------------------
# Command line (wired into `fastprep bench` by cli.py)
# --------------------------------------------------------------------------------------------

def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def add_arguments(parser) -> None:
    parser.add_argument("--encoding", default="cl100k_base", type=_csv,
                        help="comma-separated encodings (default: cl100k_base), "
                             "e.g. cl100k_base,o200k_base")
    parser.add_argument("--text", nargs="+", metavar="FILE",
                        help="UTF-8 text files to use instead of the default corpus")
    parser.add_argument("--bundled-sample", action="store_true",
                        help="use the ~200 KB sample shipped in the package "
                             "even where the corpus exists")
    parser.add_argument("--json", action="store_true",
                        help="print the report as JSON instead of tables")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few rounds (a smoke test)")
    parser.add_argument("--impl", default=",".join(IMPL_NAMES), type=_csv,
                        help="comma-separated implementations for the bpe suite "
                             f"(default: {','.join(IMPL_NAMES)})")
    parser.add_argument("--workload", default=",".join(WORKLOADS), type=_csv,
                        help="comma-separated workloads for the bpe suite "
                             f"(default: {','.join(WORKLOADS)})")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for the batch workload (default: 2)")
    parser.add_argument("--suite", default=",".join(SUITES), type=_csv,
                        help=f"comma-separated suites (default: {','.join(SUITES)}): bpe = "
                             "tiktoken encodings, hf = tokenizer.json files, "
                             "normalize = Unicode normalization")
    parser.add_argument("--hf-file", nargs="+", metavar="PATH",
                        help="tokenizer.json files for the hf suite (default: the checkout's "
                             f"tests/data/vocab/{{{','.join(HF_FILES)}}}.json)")


def command(args) -> int:
    bad = [n for n in args.impl if n not in IMPL_NAMES]
    bad += [w for w in args.workload if w not in WORKLOADS]
    bad += [s for s in args.suite if s not in SUITES]
    if bad or not args.suite:
        print("fastprep bench: unknown implementation, workload or suite: "
              f"{', '.join(bad) or '(none given)'}", file=sys.stderr)
        return 2
    missing = [f for f in args.hf_file or () if not Path(f).is_file()]
    if missing:
        print(f"fastprep bench: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    # HF tokenizers sizes its thread pool once, from RAYON_NUM_THREADS, at first use.
    if "tokenizers" not in sys.modules:
        os.environ.setdefault("RAYON_NUM_THREADS", str(args.threads))
    progress = None if args.json else (lambda msg: print(f"  ... {msg}", file=sys.stderr, flush=True))
    report = run(args.encoding, args.text, args.quick, args.impl, args.workload, args.threads, progress,
                 bundled=args.bundled_sample, suites=args.suite, hf_files=args.hf_file)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return 0
