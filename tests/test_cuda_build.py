"""The optional CUDA build (-DFASTPREP_CUDA=ON) keeps compiling: CI has nvcc but no GPU, so this
configures and builds fastprep._cuda into build-cuda/ (reused between runs) whenever nvcc is on
PATH, and checks that asking for CUDA without a CUDA compiler fails loudly at configure time."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

BUILD_DIR = REPO_ROOT / "build-cuda"


def _cmake() -> str:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH")
    return cmake


def _pybind11_dir() -> str:
    pybind11 = pytest.importorskip("pybind11")
    return pybind11.get_cmake_dir()


@pytest.mark.slow
def test_cuda_module_builds_with_nvcc():
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc is not on PATH")
    cmake = _cmake()
    configure = [
        cmake, "-S", str(REPO_ROOT), "-B", str(BUILD_DIR), "-DFASTPREP_CUDA=ON",
        "-DFASTPREP_PYTHON=ON", f"-Dpybind11_DIR={_pybind11_dir()}",
        f"-DPython_EXECUTABLE={sys.executable}", "-DCMAKE_BUILD_TYPE=Release",
    ]
    if shutil.which("ninja") and not (BUILD_DIR / "CMakeCache.txt").exists():
        configure += ["-G", "Ninja"]
    for cmd in (configure, [cmake, "--build", str(BUILD_DIR), "--target", "_cuda", "-j2"]):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"

    ninja_file = BUILD_DIR / "build.ninja"
    if ninja_file.exists():  # SASS for sm_80 and sm_90, PTX for compute_90
        rules = ninja_file.read_text()
        assert "arch=compute_80,code=[sm_80]" in rules
        assert "arch=compute_90,code=[compute_90,sm_90]" in rules
    (module,) = list((BUILD_DIR / "cuda").glob("_cuda*.so")) or [None]
    assert module is not None, "the build produced no _cuda module"
    # The module loads and answers without a GPU (the CUDA runtime is linked statically).
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import _cuda; "
        "count, error = _cuda.device_count(); print(_cuda.runtime_version() > 0, count >= 0)"
    )
    out = subprocess.run([sys.executable, "-c", probe, str(module.parent)], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "True"]
    ldd = shutil.which("ldd")
    if ldd:
        libs = subprocess.run([ldd, str(module)], capture_output=True, text=True).stdout
        assert "libcudart" not in libs, "the CUDA runtime should be linked statically"


@pytest.mark.slow
def test_cuda_without_a_cuda_compiler_fails_loudly(tmp_path):
    cmake = _cmake()
    # PATH without any directory holding nvcc, and no CUDACXX: CMake finds no CUDA compiler.
    path = os.pathsep.join(
        d for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not os.path.exists(os.path.join(d, "nvcc"))
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CUDACXX", "CUDA_PATH", "CUDA_HOME")}
    env["PATH"] = path
    cmd = [cmake, "-S", str(REPO_ROOT), "-B", str(tmp_path / "build"), "-DFASTPREP_CUDA=ON"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    assert "FASTPREP_CUDA=ON but no CUDA compiler was found" in done.stderr
