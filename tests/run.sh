#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages), builds, and runs
# the whole suite with ctest. Exits non-zero on any failure.
#   tests/run.sh [ctest args]             build/, every test
#   tests/run.sh --sanitize [ctest args]  build-asan/ (BUILD_DIR overrides) with AddressSanitizer
#       and UBSan (-DGLM3D_SANITIZE=address,undefined), the unit and single-process tests
#       (ctest labels unit, single; GLM3D_SANITIZE_LABELS=. for every test; tests/README.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELECT=()
if [ "${1:-}" = --sanitize ]; then
  shift
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build-asan}"
  export GLM3D_CMAKE_ARGS="-DGLM3D_SANITIZE=address,undefined -DGLM3D_BUILD_BENCHMARKS=OFF ${GLM3D_CMAKE_ARGS:-}"
  SELECT=(-L "${GLM3D_SANITIZE_LABELS:-unit|single}")
fi
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$BUILD_DIR"
ctest --output-on-failure --timeout 900 -j"$(nproc)" "${SELECT[@]}" "$@"
