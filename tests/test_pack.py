"""Feature packing (pack_padded / pack_varlen / pack_bins): exact layouts, every input form, every
backend, identical native and reference results on random ragged batches, and every input error."""
from __future__ import annotations

import enum
import re
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastprep

try:  # the lead re-exports these from fastprep/__init__.py
    from fastprep import pack_bins, pack_padded, pack_varlen
except ImportError:  # pragma: no cover - until the re-export lands
    from fastprep.pack import pack_bins, pack_padded, pack_varlen

BACKENDS = fastprep.available_backends()
needs_native = pytest.mark.skipif("native" not in BACKENDS, reason="native extension not built")
HYPOTHESIS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            assert isinstance(b[key], np.ndarray), key
            assert a[key].dtype == b[key].dtype, key
            assert a[key].shape == b[key].shape, key
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
        else:
            assert type(a[key]) is type(b[key]) and a[key] == b[key], key


def ragged(seqs):
    lengths = [len(s) for s in seqs]
    flat = np.array([x for s in seqs for x in s], dtype=np.int64)
    return flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


def input_forms(seqs):
    """The same batch in every accepted form."""
    forms = {
        "lists": [list(s) for s in seqs],
        "tuples": [tuple(s) for s in seqs],
        "int32_arrays": [np.array(s, dtype=np.int32) for s in seqs],
        "int64_arrays": [np.array(s, dtype=np.int64) for s in seqs],
        "uint64_arrays": [np.array(s, dtype=np.uint64) for s in seqs],
        "strided_arrays": [np.repeat(np.array(s, dtype=np.int64), 2)[::2] for s in seqs],
        "bigendian_arrays": [np.array(s, dtype=">i4") for s in seqs],
        "ragged_pair": ragged(seqs),
        "ragged_pair_int32": tuple(a.astype(np.int32) for a in ragged(seqs)),
        "ragged_pair_lists": tuple(a.tolist() for a in ragged(seqs)),
    }
    if all(x < 256 for s in seqs for x in s):
        forms["uint8_arrays"] = [np.array(s, dtype=np.uint8) for s in seqs]
    if len({len(s) for s in seqs}) == 1:
        forms["rows_2d"] = np.array(seqs, dtype=np.int64).reshape(len(seqs), len(seqs[0]))
    return forms


# ------------------------------------------------------------------------------ exact layouts


def test_padded_right(backend):
    out = pack_padded([[5, 6, 7], [8], []], pad_id=9, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [[5, 6, 7], [8, 9, 9], [9, 9, 9]])
    np.testing.assert_array_equal(out["attention_mask"], [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(out["position_ids"], [[0, 1, 2], [0, 0, 0], [0, 0, 0]])
    assert all(a.dtype == np.int32 for a in out.values())


def test_padded_left_with_multiple_and_int64(backend):
    out = pack_padded([[5, 6, 7], [8]], pad_id=0, side="left", pad_to_multiple_of=4, dtype=np.int64, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [[0, 5, 6, 7], [0, 0, 0, 8]])
    np.testing.assert_array_equal(out["attention_mask"], [[0, 1, 1, 1], [0, 0, 0, 1]])
    np.testing.assert_array_equal(out["position_ids"], [[0, 0, 1, 2], [0, 0, 0, 0]])
    assert all(a.dtype == np.int64 for a in out.values())


@pytest.mark.parametrize(
    "truncation_side, expected", [("right", [[1, 2, 3], [5, 6, 0]]), ("left", [[2, 3, 4], [5, 6, 0]])]
)
def test_padded_truncation(backend, truncation_side, expected):
    out = pack_padded([[1, 2, 3, 4], [5, 6]], pad_id=0, max_length=3, truncation_side=truncation_side, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], expected)
    np.testing.assert_array_equal(out["position_ids"], [[0, 1, 2], [0, 1, 0]])


def test_padded_width_is_longest_not_max_length(backend):
    out = pack_padded([[1, 2]], pad_id=0, max_length=100, pad_to_multiple_of=8, backend=backend)
    assert out["input_ids"].shape == (1, 8)
    out = pack_padded([[], []], pad_id=0, backend=backend)
    assert out["input_ids"].shape == (2, 0)


def test_varlen_layout(backend):
    out = pack_varlen([[1, 2, 3], [], [4, 5]], backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(out["cu_seqlens"], [0, 3, 3, 5])
    np.testing.assert_array_equal(out["position_ids"], [0, 1, 2, 0, 1])
    assert out["cu_seqlens"].dtype == np.int32 and out["input_ids"].dtype == np.int32
    assert out["max_seqlen"] == 3 and type(out["max_seqlen"]) is int
    out = pack_varlen([[1, 2, 3], [4, 5]], max_length=2, truncation_side="left", dtype="int64", backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [2, 3, 4, 5])
    assert out["input_ids"].dtype == np.int64 and out["max_seqlen"] == 2


def test_bins_exact_layout(backend):
    # Visit order: len 5 (#1), 4 (#3), 3 (#0), 2 (#2), 0 (#4); max_tokens 6.
    seqs = [[1] * 3, [2] * 5, [3] * 2, [4] * 4, []]
    out = pack_bins(seqs, max_tokens=6, pad_id=7, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [[2, 2, 2, 2, 2, 7], [4, 4, 4, 4, 3, 3], [1, 1, 1, 7, 7, 7]])
    np.testing.assert_array_equal(out["segment_ids"], [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 2, 2], [1, 1, 1, 0, 0, 0]])
    np.testing.assert_array_equal(out["position_ids"], [[0, 1, 2, 3, 4, 0], [0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 0]])
    np.testing.assert_array_equal(out["cu_seqlens"], [0, 5, 5, 0, 4, 6, 0, 3])
    np.testing.assert_array_equal(out["cu_seqlens_offsets"], [0, 3, 6, 8])
    np.testing.assert_array_equal(out["placement"], [[2, 0], [0, 0], [1, 4], [1, 0], [0, 5]])
    assert out["cu_seqlens"].dtype == np.int32
    assert out["cu_seqlens_offsets"].dtype == np.int64 and out["placement"].dtype == np.int64


def test_bins_truncate(backend):
    out = pack_bins([[1, 2, 3, 4, 5], [6]], max_tokens=3, truncate=True, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [[1, 2, 3], [6, 0, 0]])
    out = pack_bins([[]], max_tokens=3, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [[0, 0, 0]])
    np.testing.assert_array_equal(out["cu_seqlens"], [0, 0])


# ------------------------------------------------------------------------------ input forms

FORM_BATCH = [[3, 1, 4, 1, 5], [9, 2], [6, 5, 3, 5, 8, 9, 7], [], [255, 0]]


@pytest.mark.parametrize("form", sorted(input_forms(FORM_BATCH)))
def test_every_input_form_gives_the_same_arrays(backend, form):
    batch = input_forms(FORM_BATCH)[form]
    assert_same(pack_padded(batch, pad_id=0, backend=backend), pack_padded(FORM_BATCH, pad_id=0, backend=backend))
    assert_same(pack_varlen(batch, backend=backend), pack_varlen(FORM_BATCH, backend=backend))
    assert_same(pack_bins(batch, max_tokens=8, backend=backend), pack_bins(FORM_BATCH, max_tokens=8, backend=backend))


def test_two_d_rows(backend):
    rows = np.arange(12, dtype=np.int64).reshape(3, 4)
    assert_same(pack_varlen(rows, backend=backend), pack_varlen(rows.tolist(), backend=backend))
    fortran = np.asfortranarray(rows)
    assert_same(pack_padded(fortran, pad_id=0, backend=backend), pack_padded(rows.tolist(), pad_id=0, backend=backend))


def test_numpy_scalars_and_int_subclasses_are_ids(backend):
    class Token(enum.IntEnum):
        EOS = 5

    out = pack_varlen([[np.int64(3), np.uint8(4)], [Token.EOS]], backend=backend)
    np.testing.assert_array_equal(out["input_ids"], [3, 4, 5])


def test_list_resized_during_conversion(backend):
    class Shrinking:
        def __init__(self, victim):
            self.victim = victim

        def __index__(self):
            self.victim.clear()
            return 1

    inner = [0, 0, 0]
    inner[0] = Shrinking(inner)
    with pytest.raises(RuntimeError, match=r"^sequence 0 changed size during conversion$"):
        pack_varlen([inner], backend=backend)
    outer = [[1], [2]]
    outer[0] = [Shrinking(outer)]
    with pytest.raises(RuntimeError, match=r"^seqs changed size during conversion$"):
        pack_varlen(outer, backend=backend)


def test_inputs_are_not_modified(backend):
    flat, offsets = ragged([[1, 2, 3], [4]])
    arrays = [np.array([7, 8, 9], dtype=np.int32)]
    pack_padded((flat, offsets), pad_id=0, max_length=1, backend=backend)
    pack_bins(arrays, max_tokens=2, truncate=True, backend=backend)
    np.testing.assert_array_equal(flat, [1, 2, 3, 4])
    np.testing.assert_array_equal(arrays[0], [7, 8, 9])


def test_int64_ids_beyond_int32(backend):
    big = [2**40, 2**63 - 1]
    out = pack_varlen([big, np.array(big, dtype=np.uint64)], dtype=np.int64, backend=backend)
    np.testing.assert_array_equal(out["input_ids"], big + big)
    with pytest.raises(ValueError, match=r"^sequence 0, position 0: id 1099511627776 does not fit in int32$"):
        pack_varlen([big], backend=backend)


def test_read_only_and_sliced_inputs(backend):
    base = np.arange(40, dtype=np.int64)
    base.flags.writeable = False
    seqs = [base[:10], base[10:25], base[25:]]  # read-only views into one buffer
    out = pack_padded(seqs, pad_id=0, backend=backend)
    np.testing.assert_array_equal(out["input_ids"][1, :15], np.arange(10, 25))


def test_rows_at_every_offset_and_length(backend):
    # The copy loop steps each row's start to a 32-byte boundary, then copies in vector steps, then
    # a tail: rows of every length, starting at every offset, through all three layouts.
    lengths = [n for n in range(0, 40) for _ in range(2)] + [63, 64, 65, 200]
    rng = np.random.default_rng(3)
    for in_type in (np.int32, np.int64):
        seqs = [rng.integers(0, 2**31 - 1, size=n).astype(in_type) for n in lengths]
        as_lists = [s.tolist() for s in seqs]
        for dtype in (np.int32, np.int64):
            for cut, side in ((None, "right"), (17, "right"), (17, "left")):
                out = pack_varlen(seqs, max_length=cut, truncation_side=side, dtype=dtype, backend=backend)
                assert_same(out, pack_varlen(as_lists, max_length=cut, truncation_side=side, dtype=dtype,
                                             backend="python"))
                for i, s in enumerate(seqs):
                    k = min(len(s), cut or len(s))
                    want = s[:k] if side == "right" else s[len(s) - k:]
                    lo, hi = out["cu_seqlens"][i], out["cu_seqlens"][i + 1]
                    np.testing.assert_array_equal(out["input_ids"][lo:hi], want)
                    np.testing.assert_array_equal(out["position_ids"][lo:hi], np.arange(k))
            kw = dict(pad_id=5, side="left", pad_to_multiple_of=3, dtype=dtype)
            assert_same(pack_padded(seqs, backend=backend, **kw), pack_padded(as_lists, backend="python", **kw))
            kw = dict(max_tokens=256, pad_id=5, dtype=dtype)
            assert_same(pack_bins(seqs, backend=backend, **kw), pack_bins(as_lists, backend="python", **kw))


@pytest.mark.parametrize("bad_id, message", [(-1, "is negative"), (2**31, "does not fit in int32")])
def test_bad_id_found_in_every_part_of_a_row(backend, bad_id, message):
    # A row of n ids after a row of `shift` ids: the bad id sits in the scalar steps before the
    # first aligned store, in the vector part or in the tail, depending on shift and position.
    for shift in range(9):
        for n in (1, 7, 8, 9, 23, 40):
            for j in range(n):
                row = np.arange(n, dtype=np.int64)
                row[j] = bad_id
                seqs = [np.ones(shift, np.int64), row]
                for call in (lambda: pack_varlen(seqs, backend=backend),
                             lambda: pack_padded(seqs, pad_id=0, side="left", backend=backend),
                             lambda: pack_bins(seqs, max_tokens=64, backend=backend)):
                    with pytest.raises(ValueError, match=rf"^sequence 1, position {j}: id {bad_id} {message}"):
                        call()
                if bad_id < 0:  # int32 arrays are read in place
                    with pytest.raises(ValueError, match=rf"^sequence 1, position {j}: id -1 is negative"):
                        pack_varlen([seqs[0].astype(np.int32), row.astype(np.int32)], backend=backend)


class _IdArray(np.ndarray):
    """An ndarray subclass: valid ids, but not the plain arrays the native binding reads directly."""


def test_plain_arrays_mixed_with_other_forms(backend):
    # The native binding reads a leading run of plain int32/int64 arrays in one pass and everything
    # from the first other item on through the general conversion; the result must not depend on
    # where that switch happens.
    plain = [np.array([3, 1, 4], np.int32), np.array([1, 5], np.int64), np.array([], np.int32)]
    others = [[9, 2, 6], (5, 3), np.array([5, 8], ">i4"), np.arange(10, dtype=np.int64)[::3],
              np.array([9, 7], np.uint8), np.array([9], np.uint64), np.array([3, 2], np.int32).view(_IdArray),
              np.array([[3, 8]], np.int32)[0], []]
    for batch in (plain + others, others + plain, plain[:1] + others[:3] + plain[1:] + others[3:],
                  [plain[0]] * 5 + [others[0]] + [plain[1]] * 5):
        as_lists = [list(map(int, s)) for s in batch]
        assert_same(pack_varlen(batch, backend=backend), pack_varlen(as_lists, backend=backend))
        assert_same(pack_padded(batch, pad_id=0, backend=backend), pack_padded(as_lists, pad_id=0, backend=backend))
        assert_same(pack_bins(batch, max_tokens=16, backend=backend),
                    pack_bins(as_lists, max_tokens=16, backend=backend))


@pytest.mark.parametrize("bad, exc, pattern", [
    ("abc", TypeError, r"^sequence 3: expected a sequence of ints, got str$"),
    (np.zeros((2, 2), np.int32), TypeError, r"^sequence 3: expected a 1-D array of ids, got a 2-D array$"),
    (np.array([1.5]), TypeError, r"^sequence 3: expected integer ids, got dtype float64$"),
    ([1, -2], ValueError, r"^sequence 3, position 1: id -2 is negative"),
    (np.array([2**63], np.uint64), ValueError, r"^sequence 3, position 0: id 9223372036854775808 does not fit"),
])
def test_errors_after_plain_arrays_name_the_right_sequence(backend, bad, exc, pattern):
    seqs = [np.arange(4, dtype=np.int32), np.arange(5, dtype=np.int64), np.arange(2, dtype=np.int32), bad,
            np.arange(3, dtype=np.int32)]
    with pytest.raises(exc, match=pattern):
        pack_varlen(seqs, backend=backend)


def test_list_resized_after_plain_arrays(backend):
    class Shrinking:
        def __index__(self):
            outer.clear()
            return 1

    outer = [np.arange(3, dtype=np.int32), np.arange(2, dtype=np.int64), [Shrinking()]]
    with pytest.raises(RuntimeError, match=r"^seqs changed size during conversion$"):
        pack_varlen(outer, backend=backend)


def test_input_arrays_are_released(backend):
    import sys

    seqs = [np.arange(n, dtype=np.int32) for n in (3, 0, 5)] + [np.arange(4, dtype=np.int64)]
    before = [sys.getrefcount(s) for s in seqs]
    for _ in range(3):
        pack_varlen(seqs, backend=backend)
        pack_padded(seqs, pad_id=0, backend=backend)
        pack_bins(seqs, max_tokens=8, backend=backend)
        with pytest.raises(TypeError):
            pack_varlen(seqs + ["abc"], backend=backend)
        with pytest.raises(ValueError):
            pack_varlen(seqs + [np.array([-1], np.int32)], backend=backend)
    assert [sys.getrefcount(s) for s in seqs] == before


@needs_native
def test_batch_replaced_while_packing():
    # The kernels run without the GIL: another thread may empty the list meanwhile, and the arrays
    # being read must stay alive until the copy is done.
    rng = np.random.default_rng(5)
    old = [rng.integers(0, 1000, size=n).astype(np.int32) for n in rng.integers(0, 3000, size=64)]
    new = [rng.integers(0, 1000, size=n).astype(np.int32) for n in rng.integers(0, 3000, size=64)]
    expected = [pack_varlen(list(old), backend="python"), pack_varlen(list(new), backend="python")]
    seqs = list(old)
    stop = threading.Event()

    def swap():
        while not stop.is_set():
            seqs[:] = [np.array(s) for s in new]  # fresh copies: the replaced ones are freed
            seqs[:] = [np.array(s) for s in old]

    thread = threading.Thread(target=swap)
    thread.start()
    try:
        for _ in range(200):
            out = pack_varlen(seqs, backend="native")
            assert any(out["input_ids"].shape == e["input_ids"].shape and
                       np.array_equal(out["input_ids"], e["input_ids"]) for e in expected)
    finally:
        stop.set()
        thread.join()


@needs_native
def test_large_batches_match_reference():
    # Outputs above 16 MiB are filled on the thread pool; all go through the block cache.
    rng = np.random.default_rng(7)
    seqs = [rng.integers(0, 2**31 - 1, size=n) for n in rng.integers(0, 6000, size=400)]
    seqs[123][17] = -1
    for backend in ("native", "python"):
        with pytest.raises(ValueError, match=r"^sequence 123, position 17: id -1 is negative"):
            pack_padded(seqs, pad_id=0, backend=backend)
    seqs[123][17] = 1
    for _ in range(2):  # the second round reuses cached blocks
        assert_same(pack_padded(seqs, pad_id=5, side="left", backend="native"),
                    pack_padded(seqs, pad_id=5, side="left", backend="python"))
        assert_same(pack_varlen(seqs, max_length=5000, dtype=np.int64, backend="native"),
                    pack_varlen(seqs, max_length=5000, dtype=np.int64, backend="python"))
        assert_same(pack_bins(seqs, max_tokens=8192, dtype=np.int64, backend="native"),
                    pack_bins(seqs, max_tokens=8192, dtype=np.int64, backend="python"))


@needs_native
def test_native_outputs_are_owned_by_capsules():
    out = pack_padded([[1, 2], [3]], pad_id=0, backend="native")
    for arr in out.values():
        assert type(arr.base).__name__ == "PyCapsule"
        assert arr.flags.c_contiguous and arr.flags.writeable
    arr = out["input_ids"]
    del out
    arr[0, 0] = 42  # still valid after the dict is gone
    assert arr[0, 0] == 42


@needs_native
def test_native_is_thread_safe():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(0, 50_000, size=rng.integers(1, 300)) for _ in range(64)]
    expected = pack_bins(seqs, max_tokens=512, backend="native")
    results = []

    def work():
        results.append(pack_bins(seqs, max_tokens=512, backend="native"))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    for r in results:
        assert_same(r, expected)


_KERNEL_SCRIPT = """
import sys
import numpy as np
from fastprep.pack import pack_bins, pack_padded, pack_varlen
rng = np.random.default_rng(11)
out = {}
for in_type in (np.int32, np.int64):
    seqs = [rng.integers(0, 2**31 - 1, size=n).astype(in_type) for n in rng.integers(0, 300, size=50)]
    for dtype in (np.int32, np.int64):
        runs = {
            "padded": pack_padded(seqs, pad_id=3, side="left", max_length=200, truncation_side="left",
                                  pad_to_multiple_of=8, dtype=dtype, backend="native"),
            "varlen": pack_varlen(seqs, max_length=150, dtype=dtype, backend="native"),
            "bins": pack_bins(seqs, max_tokens=256, truncate=True, dtype=dtype, backend="native"),
        }
        for name, arrays in runs.items():
            for key, value in arrays.items():
                out[f"{in_type.__name__}-{dtype.__name__}-{name}-{key}"] = np.asarray(value)
np.savez(sys.argv[1], **out)
"""


@needs_native
def test_portable_and_simd_copy_loops_agree(tmp_path):
    """The copy loop is chosen once at load (AVX2 where available); FASTPREP_PACK_KERNEL=portable
    forces the portable one. Both must give the same arrays."""
    import os
    import subprocess
    import sys

    script = tmp_path / "pack_all.py"
    script.write_text(_KERNEL_SCRIPT)
    results = {}
    for kernel in ("portable", "default"):
        env = dict(os.environ)
        env.pop("FASTPREP_PACK_KERNEL", None)
        if kernel == "portable":
            env["FASTPREP_PACK_KERNEL"] = "portable"
        path = tmp_path / f"{kernel}.npz"
        subprocess.run([sys.executable, str(script), str(path)], env=env, check=True)
        results[kernel] = dict(np.load(path))
    assert results["portable"].keys() == results["default"].keys()
    for key, value in results["portable"].items():
        np.testing.assert_array_equal(value, results["default"][key], err_msg=key)


# ------------------------------------------------------------------------------ random batches

ids = st.integers(min_value=0, max_value=2**31 - 1)
batches = st.lists(st.lists(ids, max_size=40), min_size=1, max_size=30)


def naive_ffd(lengths, max_tokens):
    """Independent restatement of the documented first-fit-decreasing rule."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    used, placed = [], {}
    for i in order:
        row = next((r for r, u in enumerate(used) if max_tokens - u >= lengths[i]), len(used))
        if row == len(used):
            used.append(0)
        placed[i] = (row, used[row])
        used[row] += lengths[i]
    return [placed[i] for i in range(len(lengths))]


@needs_native
@HYPOTHESIS
@given(
    seqs=batches,
    side=st.sampled_from(["right", "left"]),
    truncation_side=st.sampled_from(["right", "left"]),
    max_length=st.one_of(st.none(), st.integers(1, 45)),
    multiple=st.one_of(st.none(), st.integers(1, 16)),
    dtype=st.sampled_from([np.int32, np.int64]),
    form=st.sampled_from(["lists", "int32_arrays", "int64_arrays", "ragged_pair", "strided_arrays"]),
)
def test_padded_native_matches_reference(seqs, side, truncation_side, max_length, multiple, dtype, form):
    batch = input_forms(seqs)[form]
    kw = dict(pad_id=7, side=side, max_length=max_length, truncation_side=truncation_side,
              pad_to_multiple_of=multiple, dtype=dtype)
    native, reference = pack_padded(batch, backend="native", **kw), pack_padded(batch, backend="python", **kw)
    assert_same(native, reference)
    # Properties, independent of either implementation.
    mask = native["attention_mask"]
    kept = [min(len(s), max_length or len(s)) for s in seqs]
    np.testing.assert_array_equal(mask.sum(axis=1), kept)
    assert native["input_ids"].shape[1] % (multiple or 1) == 0
    for row, s, n in zip(range(len(seqs)), seqs, kept):
        real = native["input_ids"][row][mask[row] == 1]
        want = s[:n] if truncation_side == "right" else s[len(s) - n:]
        np.testing.assert_array_equal(real, np.array(want, dtype=np.int64))
        np.testing.assert_array_equal(native["position_ids"][row][mask[row] == 1], np.arange(n))


@needs_native
@HYPOTHESIS
@given(
    seqs=batches,
    max_length=st.one_of(st.none(), st.integers(1, 45)),
    truncation_side=st.sampled_from(["right", "left"]),
    dtype=st.sampled_from([np.int32, np.int64]),
    form=st.sampled_from(["lists", "int32_arrays", "uint64_arrays", "ragged_pair"]),
)
def test_varlen_native_matches_reference(seqs, max_length, truncation_side, dtype, form):
    batch = input_forms(seqs)[form]
    kw = dict(max_length=max_length, truncation_side=truncation_side, dtype=dtype)
    native = pack_varlen(batch, backend="native", **kw)
    assert_same(native, pack_varlen(batch, backend="python", **kw))
    lengths = np.diff(native["cu_seqlens"])
    assert native["max_seqlen"] == lengths.max()
    for i, s in enumerate(seqs):
        lo, hi = native["cu_seqlens"][i], native["cu_seqlens"][i + 1]
        np.testing.assert_array_equal(native["position_ids"][lo:hi], np.arange(hi - lo))


@HYPOTHESIS
@given(
    lengths=st.lists(st.integers(0, 64), min_size=1, max_size=60),
    max_tokens=st.integers(1, 64),
    truncate=st.booleans(),
    dtype=st.sampled_from([np.int32, np.int64]),
    data=st.data(),
)
def test_bins_invariants_and_backends(lengths, max_tokens, truncate, dtype, data):
    if not truncate:
        lengths = [min(n, max_tokens) for n in lengths]
    seqs = [data.draw(st.lists(ids, min_size=n, max_size=n)) for n in lengths]
    results = {b: pack_bins(seqs, max_tokens=max_tokens, truncate=truncate, pad_id=3, dtype=dtype, backend=b)
               for b in BACKENDS}
    out = results[BACKENDS[0]]
    for other in results.values():
        assert_same(other, out)

    kept = [min(n, max_tokens) for n in lengths]
    placement = out["placement"]
    assert [tuple(p) for p in placement.tolist()] == naive_ffd(kept, max_tokens)
    n_rows = out["input_ids"].shape[0]
    assert out["input_ids"].shape == (n_rows, max_tokens)
    assert out["cu_seqlens_offsets"][-1] == len(seqs) + n_rows == out["cu_seqlens"].size
    counted = np.zeros((n_rows, max_tokens), dtype=int)
    for i, (row, start) in enumerate(placement):
        n = kept[i]
        assert 0 <= start and start + n <= max_tokens
        counted[row, start:start + n] += 1  # each sequence whole, in exactly one place
        np.testing.assert_array_equal(out["input_ids"][row, start:start + n], seqs[i][:n])
        np.testing.assert_array_equal(out["position_ids"][row, start:start + n], np.arange(n))
        seg = out["segment_ids"][row, start:start + n]
        assert len(set(seg.tolist())) <= 1 and (n == 0 or seg[0] >= 1)
    assert counted.max() <= 1
    np.testing.assert_array_equal(out["segment_ids"] == 0, counted == 0)
    np.testing.assert_array_equal(out["input_ids"][counted == 0], 3)
    for r in range(n_rows):
        cu = out["cu_seqlens"][out["cu_seqlens_offsets"][r]:out["cu_seqlens_offsets"][r + 1]]
        assert cu[0] == 0 and np.all(np.diff(cu) >= 0) and cu[-1] == counted[r].sum()
        segs = out["segment_ids"][r][counted[r] == 1]
        assert np.all(np.diff(segs) >= 0)  # numbered in placement (= column) order
        assert cu.size - 1 == (placement[:, 0] == r).sum()


def test_bins_large_batch_is_fast_and_first_fit(backend):
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 2048, size=3000)
    seqs = (np.zeros(lengths.sum(), dtype=np.int32), np.concatenate([[0], np.cumsum(lengths)]))
    out = pack_bins(seqs, max_tokens=2048, backend=backend)
    assert [tuple(p) for p in out["placement"].tolist()] == naive_ffd(lengths.tolist(), 2048)


# ------------------------------------------------------------------------------ errors

BAD_INPUTS = [
    # (name, call, exception, message pattern)
    ("empty list", lambda f, b: f([], backend=b), ValueError, r"^empty batch$"),
    ("empty pair", lambda f, b: f(([], [0]), backend=b), ValueError, r"^empty batch$"),
    ("empty rows", lambda f, b: f(np.zeros((0, 3), np.int64), backend=b), ValueError, r"^empty batch$"),
    ("negative id", lambda f, b: f([[1], [2, -3]], backend=b), ValueError,
     r"^sequence 1, position 1: id -3 is negative"),
    ("negative in dropped part", lambda f, b: f([[1, 2, -3]], cut_to=1, backend=b), ValueError,
     r"^sequence 0, position 2: id -3 is negative"),
    ("too big for int32", lambda f, b: f([np.array([1, 2**31])], backend=b), ValueError,
     r"^sequence 0, position 1: id 2147483648 does not fit in int32$"),
    ("too big for int64 list", lambda f, b: f([[0], [2**63]], dtype=np.int64, backend=b), ValueError,
     r"^sequence 1, position 0: id 9223372036854775808 does not fit in int64$"),
    ("too big for int64 uint64", lambda f, b: f([np.array([5, 2**64 - 1], np.uint64)], dtype="int64", backend=b),
     ValueError, r"^sequence 0, position 1: id 18446744073709551615 does not fit in int64$"),
    ("float id", lambda f, b: f([[1, 2.0]], backend=b), TypeError, r"^sequence 0, position 1: expected an int, got float$"),
    ("bool id", lambda f, b: f([[True]], backend=b), TypeError, r"expected an int, got bool"),
    ("float array", lambda f, b: f([np.array([1.0])], backend=b), TypeError,
     r"^sequence 0: expected integer ids, got dtype float64$"),
    ("bool array", lambda f, b: f([np.array([True])], backend=b), TypeError, r"got dtype bool"),
    ("2-D element", lambda f, b: f([np.zeros((2, 2), np.int64)], backend=b), TypeError,
     r"^sequence 0: expected a 1-D array of ids, got a 2-D array$"),
    ("scalar element", lambda f, b: f([5], backend=b), TypeError, r"^sequence 0: expected a 1-D array of ids, got a 0-D"),
    ("string element", lambda f, b: f(["abc"], backend=b), TypeError, r"^sequence 0: expected a sequence of ints, got str$"),
    ("dict batch", lambda f, b: f({1: 2}, backend=b), TypeError, r"^seqs must be a list of sequences"),
    ("1-D array batch", lambda f, b: f(np.arange(3), backend=b), TypeError, r"^seqs: expected a 2-D array of ids, got a 1-D"),
    ("float rows", lambda f, b: f(np.zeros((2, 2)), backend=b), TypeError, r"^seqs: expected integer ids, got dtype float64$"),
    ("3-tuple", lambda f, b: f((np.arange(2), np.array([0, 2]), 0), backend=b), TypeError,
     r"tuple is read as the ragged pair"),
    ("offsets decreasing", lambda f, b: f((np.arange(4), np.array([0, 3, 2, 4])), backend=b), ValueError,
     r"^offsets must be non-decreasing: offsets\[2\] = 2 < offsets\[1\] = 3$"),
    ("offsets past buffer", lambda f, b: f((np.arange(4), np.array([0, 5, 5])), backend=b), ValueError,
     r"^offsets\[1\] = 5 runs past the end of flat_ids \(4 ids\)$"),
    ("offsets short", lambda f, b: f((np.arange(4), np.array([0, 3])), backend=b), ValueError,
     r"^offsets end at 3 but flat_ids has 4 ids$"),
    ("offsets not at 0", lambda f, b: f((np.arange(4), np.array([1, 4])), backend=b), ValueError,
     r"^offsets\[0\] = 1; offsets must start at 0$"),
    ("offsets empty", lambda f, b: f((np.arange(4), np.array([], np.int64)), backend=b), ValueError, r"offsets is empty"),
    ("offsets float", lambda f, b: f((np.arange(4), np.array([0.0, 4.0])), backend=b), TypeError,
     r"^offsets: expected integer offsets, got dtype float64$"),
    ("offsets 2-D", lambda f, b: f((np.arange(4), np.array([[0, 4]])), backend=b), TypeError, r"^offsets: expected a 1-D"),
    ("flat float", lambda f, b: f((np.arange(4.0), np.array([0, 4])), backend=b), TypeError,
     r"^flat_ids: expected integer ids, got dtype float64$"),
    ("bad dtype", lambda f, b: f([[1]], dtype=np.float32, backend=b), TypeError, r"^dtype must be int32 or int64, got float32$"),
    ("bad dtype int16", lambda f, b: f([[1]], dtype="int16", backend=b), TypeError, r"dtype must be int32 or int64"),
    ("unknown backend", lambda f, b: f([[1]], backend="gpu"), ValueError, r"backend must be"),
]

PADDED_ONLY = [
    ("unknown side", dict(side="middle"), ValueError, r"^side must be 'right' or 'left', got 'middle'$"),
    ("unknown truncation side", dict(truncation_side="up"), ValueError, r"^truncation_side must be"),
    ("max_length 0", dict(max_length=0), ValueError, r"^max_length must be >= 1, got 0$"),
    ("max_length float", dict(max_length=2.5), TypeError, r"^max_length must be an int, got float$"),
    ("multiple 0", dict(pad_to_multiple_of=0), ValueError, r"^pad_to_multiple_of must be >= 1, got 0$"),
    ("negative pad", dict(pad_id=-1), ValueError, r"^pad_id must be >= 0, got -1$"),
    ("pad too big", dict(pad_id=2**31), ValueError, r"^pad_id 2147483648 does not fit in int32$"),
    ("pad bool", dict(pad_id=True), TypeError, r"^pad_id must be an int, got bool$"),
]


class _Call:
    """Calls one packing function with its required keywords filled in; ``cut_to=n`` truncates
    (max_length for padded/varlen, truncate=True with max_tokens=n for bins)."""

    def __init__(self, function):
        self.function = function

    def __call__(self, seqs, cut_to=None, **kw):
        if self.function is pack_bins:
            kw.setdefault("max_tokens", 16)
            if cut_to is not None:
                kw.update(max_tokens=cut_to, truncate=True)
        elif cut_to is not None:
            kw["max_length"] = cut_to
        if self.function is pack_padded:
            kw.setdefault("pad_id", 0)
        return self.function(seqs, **kw)


FUNCTIONS = pytest.mark.parametrize("function", [pack_padded, pack_varlen, pack_bins], ids=lambda f: f.__name__)


@pytest.mark.parametrize("name, call, exc, pattern", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
@FUNCTIONS
def test_bad_input_errors(backend, function, name, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call(_Call(function), backend)


@pytest.mark.parametrize("name, kw, exc, pattern", PADDED_ONLY, ids=[c[0] for c in PADDED_ONLY])
def test_padded_option_errors(backend, name, kw, exc, pattern):
    kw = {"pad_id": 0, **kw}
    with pytest.raises(exc, match=pattern):
        pack_padded([[1]], backend=backend, **kw)


def test_varlen_and_bins_option_errors(backend):
    with pytest.raises(ValueError, match=r"^max_length must be >= 1, got -2$"):
        pack_varlen([[1]], max_length=-2, backend=backend)
    with pytest.raises(ValueError, match=r"^truncation_side must be"):
        pack_varlen([[1]], truncation_side=None, backend=backend)
    with pytest.raises(ValueError, match=re.escape("max_tokens must be in [1, 2**31-1], got 0")):
        pack_bins([[1]], max_tokens=0, backend=backend)
    with pytest.raises(ValueError, match=re.escape("max_tokens must be in [1, 2**31-1], got 2147483648")):
        pack_bins([[1]], max_tokens=2**31, backend=backend)
    with pytest.raises(ValueError, match=re.escape("sequence 1 has 3 tokens, more than max_tokens = 2 (pass truncate=True")):
        pack_bins([[1], [1, 2, 3]], max_tokens=2, backend=backend)
    with pytest.raises(ValueError, match=r"^pad_id must be >= 0"):
        pack_bins([[1]], max_tokens=2, pad_id=-5, backend=backend)


@needs_native
@pytest.mark.parametrize("name, call, exc, pattern", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
@FUNCTIONS
def test_backends_raise_identical_errors(function, name, call, exc, pattern):
    messages = []
    for backend in ("native", "python"):
        with pytest.raises(exc) as info:
            call(_Call(function), backend)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_first_error_in_input_order(backend):
    # Conversion errors (types) come before value errors; value errors in input order.
    with pytest.raises(TypeError, match="sequence 2"):
        pack_varlen([[-1], [1], [1.5]], backend=backend)
    with pytest.raises(ValueError, match="sequence 0, position 0: id -1"):
        pack_bins([[-1], [1, 2, 3], [2**40]], max_tokens=4, backend=backend)
    with pytest.raises(ValueError, match="sequence 1 has 5 tokens"):
        pack_bins([[-1], [1, 2, 3, 4, 5]], max_tokens=4, backend=backend)
