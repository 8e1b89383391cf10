"""Coverage-guided fuzzing of fastprep's native entry points with atheris (libFuzzer for Python).

The same contract as tests/test_fuzz.py: every call returns or raises ValueError / TypeError /
KeyError / OverflowError (UnicodeError is a ValueError); any other exception is reported as a
crash with the input that caused it, and a segfault or sanitizer report is caught by libFuzzer.
Not run in CI (it runs until stopped); use it for long campaigns.

Usage (from the repository root, with the extension built, e.g. ``tools/dev_build.sh``):

    pip install atheris
    PYTHONPATH=src python tools/fuzz_atheris.py -max_total_time=600 -rss_limit_mb=4096 corpus/
    PYTHONPATH=src python tools/fuzz_atheris.py crash-<sha1>      # replay one input

Under AddressSanitizer (build the module with -DFASTPREP_SANITIZE=ON into its own directory and
preload the runtime, since the Python interpreter itself is not instrumented):

    LD_PRELOAD=$(g++ -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 \\
        PYTHONPATH=<dir holding an ASan-built fastprep package> python tools/fuzz_atheris.py ...

The first input byte picks the entry point (see TARGETS); the rest is decoded by
atheris.FuzzedDataProvider into that entry point's arguments.
"""
from __future__ import annotations

import base64
import sys

import atheris

with atheris.instrument_imports():
    import numpy as np

    import fastprep
    from fastprep import _backend

CORE = _backend.core_for("native")
if CORE is None:
    sys.exit("fuzz_atheris: the native extension is not built (tools/dev_build.sh)")

EXPECTED = (ValueError, TypeError, KeyError, OverflowError)
ENC = fastprep.get_encoding("cl100k_base", backend="native")
BPE = ENC._core
N_SPECIALS = len(ENC.special_tokens_set)
FORMS = ["NFC", "NFD", "NFKC", "NFKD", "nfc", ""]
KINDS = ["cl100k_base", "o200k_base", "gpt2", "cl100k_base_legacy", "x"]
DTYPES = ["int8", "int16", "int32", "int64", "uint8", "uint32", "uint64", ">i4", "float64", "bool"]


def text(fdp: atheris.FuzzedDataProvider, n: int = 64) -> str:
    # ConsumeUnicode can produce lone surrogates, which is what we want.
    return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, n))


def ids(fdp: atheris.FuzzedDataProvider, hi: int = 2**32 + 10):
    values = [fdp.ConsumeIntInRange(-3, hi) for _ in range(fdp.ConsumeIntInRange(0, 12))]
    form = fdp.ConsumeIntInRange(0, 3)
    if form == 0:
        return values
    arr = np.array([v % 2**64 for v in values], dtype=np.uint64).astype(fdp.PickValueInList(DTYPES))
    return arr[::-1] if form == 2 else np.repeat(arr, 2)[::2] if form == 3 else arr


def seqs(fdp: atheris.FuzzedDataProvider):
    kind = fdp.ConsumeIntInRange(0, 2)
    if kind == 0:
        return [ids(fdp, 2**31 + 5) for _ in range(fdp.ConsumeIntInRange(0, 5))]
    if kind == 1:
        flat = ids(fdp, 2**31 + 5)
        n = len(flat)
        offsets = sorted(fdp.ConsumeIntInRange(-1, n + 1) for _ in range(fdp.ConsumeIntInRange(0, 5)))
        return (flat, [0] + offsets + [n] if fdp.ConsumeBool() else offsets)
    b, n = fdp.ConsumeIntInRange(0, 3), fdp.ConsumeIntInRange(0, 4)
    return np.arange(b * n, dtype=np.int64).reshape(b, n)


def t_encode(fdp):
    mask_a = fdp.ConsumeBytes(fdp.ConsumeIntInRange(N_SPECIALS - 1, N_SPECIALS + 1))
    mask_d = fdp.ConsumeBytes(N_SPECIALS)
    data = fdp.ConsumeBytes(64) if fdp.ConsumeBool() else text(fdp)
    BPE.encode(data, mask_a, mask_d, fdp.ConsumeIntInRange(0, 4), fdp.ConsumeBool())


def t_count(fdp):
    BPE.count(text(fdp), bytes(N_SPECIALS), fdp.ConsumeBytes(N_SPECIALS))


def t_encode_ordinary(fdp):
    BPE.encode_ordinary(fdp.ConsumeBytes(64) if fdp.ConsumeBool() else text(fdp), fdp.ConsumeIntInRange(0, 4))


def t_encode_batch(fdp):
    texts = [text(fdp, 32) for _ in range(fdp.ConsumeIntInRange(0, 4))]  # a list: see F1 in the report
    BPE.encode_batch(texts, bytes(N_SPECIALS), fdp.ConsumeBytes(N_SPECIALS), fdp.ConsumeIntInRange(0, 4))


def t_encode_batch_packed(fdp):
    texts = [text(fdp, 32) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    BPE.encode_batch_packed(texts, bytes(N_SPECIALS), bytes(N_SPECIALS), fdp.ConsumeIntInRange(0, 4),
                            fdp.ConsumeBool(), fdp.ConsumeIntInRange(-2**63, 2**63 - 1), fdp.ConsumeBool(),
                            fdp.ConsumeIntInRange(-2**63, 2**63 - 1), fdp.ConsumeBool(),
                            fdp.PickValueInList([-1, 0, 1, 2, 8, 2**62, -2**63]), fdp.ConsumeBool())


def t_encode_pieces(fdp):
    BPE.encode_pieces([text(fdp, 16) for _ in range(fdp.ConsumeIntInRange(0, 6))])


def t_decode(fdp):
    BPE.decode_bytes(ids(fdp))


def t_token_bytes(fdp):
    BPE.token_bytes(fdp.ConsumeIntInRange(-2**63, 2**63 - 1))


def t_rank_of(fdp):
    BPE.rank_of(fdp.ConsumeBytes(8))


def t_rank_file(fdp):
    if fdp.ConsumeBool():
        data = fdp.ConsumeBytes(400)
    else:
        lines = [base64.b64encode(bytes([i])) + b" %d" % i for i in range(256)]
        for _ in range(fdp.ConsumeIntInRange(0, 6)):
            lines.insert(fdp.ConsumeIntInRange(0, len(lines)), fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 12)))
        data = b"\n".join(lines)
    specials = [(text(fdp, 8), fdp.ConsumeIntInRange(0, 2**32 - 1)) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    enc = CORE.BpeEncoder(data, fdp.PickValueInList(["", ENC.pat_str, r"\S+|\s+"]), specials)
    enc.encode_ordinary(text(fdp), 1)
    enc.decode_bytes(list(range(0, 300, 3)))


def t_split(fdp):
    CORE.split_pieces(fdp.PickValueInList(KINDS), text(fdp))


def t_known_pattern(fdp):
    CORE.known_pattern(text(fdp, 200))


def t_normalize(fdp):
    form = fdp.PickValueInList(FORMS)
    which = fdp.ConsumeIntInRange(0, 3)
    if which == 0:
        CORE.normalize_str(text(fdp), form)
    elif which == 1:
        CORE.normalize_list([text(fdp, 16) for _ in range(fdp.ConsumeIntInRange(0, 4))], form)
    elif which == 2:
        CORE.normalize_utf8(fdp.ConsumeBytes(64), form)
    else:
        CORE.is_normalized(text(fdp), form)


def t_pack(fdp):
    which = fdp.ConsumeIntInRange(0, 2)
    batch = seqs(fdp)
    wide = fdp.ConsumeBool()
    if which == 0:
        CORE.pack_padded(batch, fdp.ConsumeIntInRange(-2**63, 2**63 - 1), fdp.ConsumeBool(),
                         fdp.ConsumeIntInRange(-2**63, 2**63 - 1), fdp.ConsumeBool(),
                         fdp.PickValueInList([-1, 0, 1, 3, 64, 2**62]), wide)
    elif which == 1:
        CORE.pack_varlen(batch, fdp.ConsumeIntInRange(-2**63, 2**63 - 1), fdp.ConsumeBool(), wide)
    else:  # max_tokens bounded: rows x max_tokens is allocated
        CORE.pack_bins(batch, fdp.ConsumeIntInRange(-2, 4096), fdp.ConsumeBool(),
                       fdp.ConsumeIntInRange(-2**63, 2**63 - 1), wide)


def t_streams(fdp):
    n = fdp.ConsumeIntInRange(0, 4)
    tokens = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 4)) if fdp.ConsumeBool() else None for _ in range(n + 2)]
    kinds = bytes(fdp.ConsumeIntInRange(0, 2) for _ in range(len(tokens)))
    vocab = CORE.ByteVocabulary(tokens, kinds, fdp.ConsumeBool())
    streams = CORE.ByteDecodeStreams(vocab, n)
    for _ in range(fdp.ConsumeIntInRange(0, 8)):
        op = fdp.ConsumeIntInRange(0, 4)
        try:
            if op == 0:
                streams.step_one(fdp.ConsumeIntInRange(-1, n), fdp.ConsumeIntInRange(-2, n + 3))
            elif op == 1:
                k = fdp.ConsumeIntInRange(0, n)
                slots = [fdp.ConsumeIntInRange(-1, n) for _ in range(k)] if fdp.ConsumeBool() else None
                streams.step([fdp.ConsumeIntInRange(-2, n + 3) for _ in range(k)], slots)
            elif op == 2:
                streams.flush(fdp.ConsumeIntInRange(-1, n))
            elif op == 3:
                streams.pending(fdp.ConsumeIntInRange(-1, n))
            else:
                n = fdp.ConsumeIntInRange(0, 6)
                streams.resize(n)
        except EXPECTED:
            pass


def t_hf_bpe(fdp):
    alphabet = ["a", "b", "ab", "Ġ", "Ġa", "é", "<x>"]
    vocab = {tok: fdp.ConsumeIntInRange(0, 20) for tok in alphabet if fdp.ConsumeBool()}
    merges = [f"{fdp.PickValueInList(alphabet)} {fdp.PickValueInList(alphabet)}" for _ in range(fdp.ConsumeIntInRange(0, 4))]
    added = [(fdp.PickValueInList(["<x>", "ab", " "]), fdp.ConsumeIntInRange(0, 30), fdp.ConsumeBool(),
              fdp.ConsumeBool(), fdp.ConsumeBool()) for _ in range(fdp.ConsumeIntInRange(0, 2))]
    enc = CORE.HfBpeEncoder(vocab, merges, added, fdp.PickValueInList(["whole", "gpt2", "deepseek_v3"]),
                            fdp.ConsumeBool(), fdp.PickValueInList(["", "NFC", "NFKC"]), fdp.ConsumeBool())
    enc.encode(text(fdp), fdp.ConsumeBool())
    enc.encode_batch([text(fdp, 16), text(fdp, 16)], 2)
    enc.encode_word(fdp.ConsumeBytes(8))


def t_deepseek_split(fdp):
    CORE.hf_split_deepseek_v3(text(fdp))


def t_bert(fdp):
    if not hasattr(CORE, "BertEncoder"):
        return
    pool = ["[UNK]", "a", "##a", "b", "##b", "ab", "é", "日", "[CLS]"]
    vocab = [tok for tok in pool if fdp.ConsumeBool()]
    added = [(fdp.PickValueInList(["[CLS]", "ab", "x y"]), fdp.ConsumeIntInRange(0, 20), *[fdp.ConsumeBool()] * 5)
             for _ in range(fdp.ConsumeIntInRange(0, 2))]
    enc = CORE.BertEncoder(vocab, "[UNK]", "##", fdp.ConsumeIntInRange(0, 100), fdp.ConsumeBool(), fdp.ConsumeBool(),
                           fdp.PickValueInList([None, True, False]), fdp.ConsumeBool(), added)
    enc.encode(text(fdp))
    enc.encode_ids_batch([text(fdp, 16), text(fdp, 16)], 2)


def t_tokenizer_call(fdp):
    texts = [text(fdp, 24) for _ in range(fdp.ConsumeIntInRange(1, 3))]
    ENC(texts, padding=fdp.PickValueInList([True, False, "max_length"]),
        truncation=fdp.ConsumeBool(), max_length=fdp.PickValueInList([None, 0, 1, 4, 64]),
        layout=fdp.PickValueInList(["padded", "varlen"]), pad_to_multiple_of=fdp.PickValueInList([None, 1, 8]))


TARGETS = [t_encode, t_count, t_encode_ordinary, t_encode_batch, t_encode_batch_packed, t_encode_pieces, t_decode,
           t_token_bytes, t_rank_of, t_rank_file, t_split, t_known_pattern, t_normalize, t_pack, t_streams,
           t_hf_bpe, t_deepseek_split, t_bert, t_tokenizer_call]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    target = TARGETS[fdp.ConsumeIntInRange(0, len(TARGETS) - 1)]
    try:
        target(fdp)
    except EXPECTED:
        pass


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
