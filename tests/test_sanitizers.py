"""The C++ unit tests (cpp/tests/test_*.cpp, via ctest) built and run under AddressSanitizer,
LeakSanitizer and UndefinedBehaviorSanitizer.

The core builds without Python (no FASTPREP_PYTHON), so this needs only cmake and a C++ compiler
with the sanitizer runtimes; it skips, saying which is missing, otherwise. The build directory is
``build-sanitize/`` in the repository (ignored by git through ``build-*/``), so a second run only
rebuilds what changed. Any sanitizer report aborts the test binary, which fails ctest and so
this test, with the report in the failure message.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BUILD_DIR = REPO_ROOT / "build-sanitize"
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
SANITIZER_ENV = {
    # abort_on_error: a report kills the binary with SIGABRT, which ctest records as a failure.
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1",
}
BUILD_TIMEOUT_S = 1800
TEST_TIMEOUT_S = 900

pytestmark = pytest.mark.slow


def _compiler() -> str | None:
    """The C++ compiler cmake would pick: $CXX, else the usual names on PATH."""
    cxx = os.environ.get("CXX")
    if cxx:
        return shutil.which(cxx)
    for name in ("c++", "g++", "clang++"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _sanitizers_link(cxx: str) -> tuple[bool, str]:
    """Whether `cxx` can build and run a program with ASan and UBSan (runtimes installed)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.cpp"
        exe = Path(tmp) / "probe"
        src.write_text("int main() { return 0; }\n")
        build = subprocess.run([cxx, *SANITIZE_FLAGS, str(src), "-o", str(exe)],
                               capture_output=True, text=True)
        if build.returncode != 0:
            return False, build.stderr.strip()[-400:]
        run = subprocess.run([str(exe)], capture_output=True, text=True)
        if run.returncode != 0:
            return False, (run.stderr or run.stdout).strip()[-400:]
    return True, ""


def _run(cmd: list[str], *, env: dict | None = None, cwd: Path = REPO_ROOT, timeout: int) -> None:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr)[-20000:]
        pytest.fail(f"{' '.join(cmd)} exited with {proc.returncode}:\n{output}", pytrace=False)


def test_cpp_tests_under_asan_and_ubsan():
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.skip("cmake is not on PATH; cannot build the C++ tests")
    cxx = _compiler()
    if cxx is None:
        pytest.skip("no C++ compiler found ($CXX, c++, g++ or clang++)")
    ok, why = _sanitizers_link(cxx)
    if not ok:
        pytest.skip(f"{cxx} cannot build with -fsanitize=address,undefined: {why}")
    ctest = shutil.which("ctest") or str(Path(cmake).with_name("ctest"))

    configure = [
        cmake, "-S", str(REPO_ROOT), "-B", str(BUILD_DIR),
        "-DFASTPREP_TESTS=ON", "-DFASTPREP_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
    ]
    if not (BUILD_DIR / "CMakeCache.txt").exists():
        configure.append(f"-DCMAKE_CXX_COMPILER={cxx}")  # later runs keep the cached choice
    _run(configure, timeout=300)
    _run([cmake, "--build", str(BUILD_DIR), "-j2"], timeout=BUILD_TIMEOUT_S)

    env = dict(os.environ, **SANITIZER_ENV)
    _run([ctest, "--output-on-failure", "-j2", "--timeout", str(TEST_TIMEOUT_S)], env=env,
         cwd=BUILD_DIR, timeout=TEST_TIMEOUT_S + 60)


if __name__ == "__main__":  # python tests/test_sanitizers.py: the same check without pytest
    sys.exit(pytest.main([__file__, "-v"]))
