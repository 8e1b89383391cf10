"""fastprep.cuda: device packing equals fastprep.pack_padded / pack_varlen (gpu-marked tests, which
need CuPy, fastprep._cuda and a CUDA device), and clear errors everywhere else."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastprep
import fastprep.cuda as fcuda
from fastprep.pack import pack_padded, pack_varlen

needs_gpu = pytest.mark.skipif(
    not fcuda.is_available(), reason=f"fastprep.cuda unavailable: {fcuda.why_unavailable()}"
)


# ------------------------------------------------------------------------- without a GPU as well


def test_import_fastprep_does_not_import_cuda_or_cupy():
    code = "import sys, fastprep; print('fastprep.cuda' in sys.modules, 'cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_availability_is_consistent_with_the_reason():
    assert fcuda.is_available() == (fcuda.why_unavailable() == "")


@pytest.mark.skipif(fcuda.is_available(), reason="a GPU, CuPy and fastprep._cuda are present")
def test_unavailable_says_why_and_calls_raise_it():
    reason = fcuda.why_unavailable()
    assert any(part in reason for part in ("CuPy", "fastprep._cuda", "no CUDA device")), reason
    with pytest.raises(fcuda.CudaUnavailableError, match="fastprep.cuda is unavailable: ") as info:
        fcuda.pack_padded(np.arange(3), np.array([0, 3]), pad_id=0)
    assert reason in str(info.value)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, fastprep.Error)
    with pytest.raises(fcuda.CudaUnavailableError):
        fcuda.pack_varlen(np.arange(3), np.array([0, 3]))


def test_missing_cupy_is_named(monkeypatch):
    monkeypatch.setattr(fcuda, "_status", None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    assert "CuPy is not installed" in fcuda.why_unavailable()
    assert not fcuda.is_available()


def test_missing_extension_is_named(monkeypatch):
    monkeypatch.setattr(fcuda, "_status", None)
    monkeypatch.setitem(sys.modules, "fastprep._cuda", None)
    assert "FASTPREP_CUDA=ON" in fcuda.why_unavailable()


def test_options_are_checked_before_the_device():
    with pytest.raises(ValueError, match="side must be 'right' or 'left'"):
        fcuda.pack_padded(None, None, pad_id=0, side="middle")
    with pytest.raises(TypeError, match="dtype must be int32 or int64"):
        fcuda.pack_varlen(None, None, dtype=np.float32)
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        fcuda.pack_varlen(None, None, max_length=0)


# ------------------------------------------- on the GPU, and on the NumPy stand-in for CuPy


@pytest.fixture(params=["stand-in", pytest.param("cuda", marks=[pytest.mark.gpu, needs_gpu])])
def cp(request, monkeypatch):
    """The CuPy module to make inputs with: the real one on a GPU, or the NumPy stand-in (with
    stand-in kernels) that runs fastprep.cuda's host logic anywhere."""
    if request.param == "cuda":
        import cupy

        return cupy
    import cuda_stand_in

    monkeypatch.setattr(fcuda, "_status", (cuda_stand_in.cupy, cuda_stand_in.Kernels, ""))
    return cuda_stand_in.cupy


def _assert_same(cp, device: dict, host: dict) -> None:
    assert device.keys() == host.keys()
    for key, want in host.items():
        got = device[key]
        if isinstance(want, np.ndarray):
            assert isinstance(got, cp.ndarray), key
            got = cp.asnumpy(got)
            assert got.dtype == want.dtype and got.shape == want.shape, key
            np.testing.assert_array_equal(got, want, err_msg=key)
        else:
            assert type(got) is type(want) and got == want, key


def _random_ragged(rng, n_seqs, max_len, id_dtype, high=50_000):
    lengths = rng.integers(0, max_len + 1, size=n_seqs)
    flat = rng.integers(0, high, size=int(lengths.sum())).astype(id_dtype)
    return flat, np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64, np.uint8, np.uint16, np.uint64])
@pytest.mark.parametrize("offsets_dtype", [np.int32, np.int64])
def test_pack_padded_matches_cpu(cp, id_dtype, offsets_dtype):
    rng = np.random.default_rng(7)
    high = 256 if id_dtype == np.uint8 else 50_000
    for trial in range(40):
        flat, offsets = _random_ragged(rng, int(rng.integers(1, 70)), 40, id_dtype, high)
        offsets = offsets.astype(offsets_dtype)
        opts = dict(
            pad_id=int(rng.choice([0, 3, 2**31 - 1])),
            side=str(rng.choice(["left", "right"])),
            max_length=[None, 1, 5, 33][trial % 4],
            truncation_side=str(rng.choice(["left", "right"])),
            pad_to_multiple_of=[None, 1, 8, 64][(trial // 4) % 4],
            dtype=[np.int32, np.int64, "int64", "int32"][trial % 4],
        )
        want = pack_padded((flat, offsets), **opts)
        got = fcuda.pack_padded(cp.asarray(flat), cp.asarray(offsets), **opts)
        _assert_same(cp, got, want)


@pytest.mark.parametrize("id_dtype", [np.int32, np.int64, np.uint32])
def test_pack_varlen_matches_cpu(cp, id_dtype):
    rng = np.random.default_rng(11)
    for trial in range(40):
        flat, offsets = _random_ragged(rng, int(rng.integers(1, 200)), 60, id_dtype)
        opts = dict(
            max_length=[None, 1, 7, 59][trial % 4],
            truncation_side=str(rng.choice(["left", "right"])),
            dtype=[np.int32, np.int64][trial % 2],
        )
        want = pack_varlen((flat, offsets), **opts)
        got = fcuda.pack_varlen(cp.asarray(flat), cp.asarray(offsets), **opts)
        _assert_same(cp, got, want)


def test_large_batch_and_all_empty(cp):
    rng = np.random.default_rng(3)
    flat, offsets = _random_ragged(rng, 5000, 700, np.int64)  # grid-stride loops engage on a GPU
    for fn, cpu, opts in ((fcuda.pack_padded, pack_padded, {"pad_id": 1, "side": "left"}),
                          (fcuda.pack_varlen, pack_varlen, {})):
        _assert_same(cp, fn(cp.asarray(flat), cp.asarray(offsets), **opts),
                     cpu((flat, offsets), **opts))
    empty, zeros = np.zeros(0, np.int64), np.zeros(4, np.int64)
    _assert_same(cp, fcuda.pack_padded(cp.asarray(empty), cp.asarray(zeros), pad_id=0),
                 pack_padded((empty, zeros), pad_id=0))
    _assert_same(cp, fcuda.pack_varlen(cp.asarray(empty), cp.asarray(zeros)),
                 pack_varlen((empty, zeros)))


BAD_INPUTS = [
    (np.array([1, 2, 3]), np.array([1, 3])),
    (np.array([1, 2, 3]), np.array([0, 2, 1, 3])),
    (np.array([1, 2, 3]), np.array([0, 4])),
    (np.array([1, 2, 3]), np.array([0, 2])),
    (np.array([1, 2, 3]), np.array([0])),
    (np.array([1, 2, 3]), np.array([], dtype=np.int64)),
    (np.zeros(0, np.int64), np.array([0])),
    (np.array([1, -2, 3]), np.array([0, 1, 3])),
    (np.array([1, 2**31, 3]), np.array([0, 1, 3])),
    (np.array([1, 2**63 + 5], dtype=np.uint64), np.array([0, 2])),
    (np.array([-1, 2]), np.array([0, 3])),
    (np.array([[1, 2]]), np.array([0, 2])),
    (np.array([1.0, 2.0]), np.array([0, 2])),
    (np.array([1, 2]), np.array([0.0, 2.0])),
    (np.array([1, 2]), np.array([[0, 2]])),
]


@pytest.mark.parametrize("flat, offsets", BAD_INPUTS)
def test_errors_match_cpu(cp, flat, offsets):
    for fn, cpu, opts in ((fcuda.pack_padded, pack_padded, {"pad_id": 0}),
                          (fcuda.pack_varlen, pack_varlen, {})):
        with pytest.raises((ValueError, TypeError)) as want:
            cpu((flat, offsets), **opts)
        with pytest.raises(type(want.value)) as got:
            fn(cp.asarray(flat), cp.asarray(offsets), **opts)
        assert str(got.value) == str(want.value)


def test_rejects_host_arrays(cp):
    with pytest.raises(TypeError, match="expected a CuPy array"):
        fcuda.pack_padded(np.arange(3), cp.asarray([0, 3]), pad_id=0)
    with pytest.raises(TypeError, match="expected a CuPy array"):
        fcuda.pack_varlen(cp.asarray([1, 2, 3]), [0, 3])


def test_no_device_is_named(monkeypatch):
    import cuda_stand_in

    class NoDevice(cuda_stand_in.Kernels):
        @staticmethod
        def device_count():
            return 0, "no CUDA-capable device is detected"

    monkeypatch.setattr(fcuda, "_status", None)
    monkeypatch.setitem(sys.modules, "cupy", cuda_stand_in.cupy)
    monkeypatch.setitem(sys.modules, "fastprep._cuda", NoDevice)
    monkeypatch.setattr(fastprep, "_cuda", NoDevice, raising=False)
    assert fcuda.why_unavailable() == (
        "no CUDA device is visible (CUDA runtime: no CUDA-capable device is detected)"
    )


@pytest.mark.gpu
@needs_gpu
def test_gpu_runs_on_the_current_stream():
    import cupy

    rng = np.random.default_rng(5)
    flat, offsets = _random_ragged(rng, 300, 100, np.int64)
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        got = fcuda.pack_varlen(cupy.asarray(flat), cupy.asarray(offsets), dtype=np.int64)
        stream.synchronize()
    _assert_same(cupy, got, pack_varlen((flat, offsets), dtype=np.int64))
