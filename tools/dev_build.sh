#!/usr/bin/env bash
# Developer build: compile fastprep._core (and the C++ tests) into build-dev/<name>.
# By default the module is dropped into src/fastprep so `PYTHONPATH=src python -m pytest` runs
# against the working tree. With FASTPREP_DEV_SITE=1 it is left in build-dev/<name>/site/fastprep
# instead (every other file there a symlink into src/fastprep), so several builds can coexist:
# `PYTHONPATH=build-dev/<name>/site python -m pytest ...`.
# Usage: [FASTPREP_DEV_SITE=1] tools/dev_build.sh [name] [extra cmake args...]
set -euo pipefail
cd "$(dirname "$0")/.."
name="${1:-default}"; shift || true
dir="build-dev/${name}"
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFASTPREP_PYTHON=ON -DFASTPREP_TESTS=ON \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" -DPython_EXECUTABLE="$(command -v python)" "$@" >/dev/null
cmake --build "$dir" -j2
so=$(ls "$dir"/_core*.so)
if [[ "${FASTPREP_DEV_SITE:-0}" == "1" ]]; then
  site="$dir/site/fastprep"
  rm -rf "$site" && mkdir -p "$site"
  src="$(pwd)/src/fastprep"
  for entry in "$src"/*; do
    base=$(basename "$entry")
    [[ "$base" == _core*.so || "$base" == __pycache__ ]] && continue
    ln -s "$entry" "$site/$base"
  done
  cp -f "$so" "$site/"
  echo "built $so -> $site (PYTHONPATH=$dir/site)"
else
  cp -f "$so" src/fastprep/.tmp_core.so && mv -f src/fastprep/.tmp_core.so "src/fastprep/$(basename "$so")"
  echo "built $so -> src/fastprep/"
fi
