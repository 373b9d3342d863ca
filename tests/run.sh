#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages), builds, and runs
# the whole suite with ctest. Exits non-zero on any failure, and when ctest finds no
# tests at all (a build that registered none must not pass). Skipped tests are listed
# at the end with the reason each printed.
#   tests/run.sh [ctest args]             build/, every test
#   tests/run.sh --sanitize [ctest args]  build-asan/ (BUILD_DIR overrides) with AddressSanitizer
#       and UBSan (-DGLM3D_SANITIZE=address,undefined), the unit and single-process tests
#       (ctest labels unit, single; GLM3D_SANITIZE_LABELS=. for every test; tests/README.md)
#   tests/run.sh --sanitize-readers [ctest args]  build-asan-readers/ (BUILD_DIR overrides), the
#       same sanitizers on the replay of the fuzz seeds and regression inputs of the readers in
#       glm3d_data and glm3d_core alone (target fuzz_replay_data, ctest label fuzz_data): nothing
#       else is built (tests/fuzz/README.md, "Sanitized replay")
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELECT=()
if [ "${1:-}" = --sanitize ]; then
  shift
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build-asan}"
  export GLM3D_CMAKE_ARGS="-DGLM3D_SANITIZE=address,undefined -DGLM3D_BUILD_BENCHMARKS=OFF ${GLM3D_CMAKE_ARGS:-}"
  SELECT=(-L "${GLM3D_SANITIZE_LABELS:-unit|single}")
elif [ "${1:-}" = --sanitize-readers ]; then
  shift
  export BUILD_DIR="${BUILD_DIR:-$ROOT/build-asan-readers}"
  export GLM3D_CMAKE_ARGS="-DGLM3D_SANITIZE=address,undefined -DGLM3D_BUILD_BENCHMARKS=OFF -DGLM3D_TEST_DIRS=fuzz ${GLM3D_CMAKE_ARGS:-}"
  export GLM3D_BUILD_TARGETS=fuzz_replay_data
  SELECT=(-L fuzz_data)
fi
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$BUILD_DIR"
rc=0
ctest --no-tests=error --output-on-failure --timeout 900 -j"$(nproc)" "${SELECT[@]}" "$@" || rc=$?
# A skip (exit code 77, e.g. tests/slurm without root) prints a "SKIPPED: why" line; ctest
# keeps it in its log only, so repeat it where it is seen.
skipped=$(grep -h "^SKIPPED: " Testing/Temporary/LastTest.log 2>/dev/null || true)
if [ -n "$skipped" ]; then
  echo "==================== SKIPPED TESTS ===================="
  echo "$skipped"
  echo "======================================================="
fi
exit "$rc"
