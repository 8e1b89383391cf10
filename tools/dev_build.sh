#!/usr/bin/env bash
# Developer build: compile fastprep._core (and the C++ tests) into build-dev/<name> and drop the
# module into src/fastprep so `PYTHONPATH=src python -m pytest` runs against the working tree.
# Usage: tools/dev_build.sh [name] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-default}"; shift || true
dir="build-dev/${name}"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTPREP_PYTHON=ON -DFASTPREP_TESTS=ON \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python)" "$@" >/dev/null
cmake --build "$dir" -j2
so=$(ls "$dir"/_core*.so)
cp -f "$so" src/fastprep/.tmp_core.so && mv -f src/fastprep/.tmp_core.so "src/fastprep/$(basename "$so")"
echo "built $so -> src/fastprep/"
