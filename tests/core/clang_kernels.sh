#!/usr/bin/env bash
# The kernels built with GCC function multi-versioning (core/cpu/simd_clones.h) still compile with
# clang, which the fuzzing build uses (tests/fuzz/run.sh, the `fuzz` preset): clang 14 does not
# clone function templates, so simd_clones.h compiles them once there. The suite builds with GCC
# only, so this broke once without a test noticing (fixed 2026-12-03). Syntax only, about 5 s.
# Skipped where clang or its OpenMP header is not installed: tools/setup.sh does not install
# them, tests/fuzz/run.sh does (clang, libomp-14-dev).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
CLANG=$(command -v clang++ || command -v clang++-14 || true)
if [ -z "$CLANG" ] || ! echo '#include <omp.h>' | "$CLANG" -fopenmp -fsyntax-only -x c++ - 2>/dev/null; then
  echo "SKIPPED: clang++ with OpenMP (clang, libomp-14-dev) is not installed; tests/fuzz/run.sh installs both"
  exit 77
fi
cd "$GLM3D_SOURCE_DIR"
mapfile -t files < <(grep -rl --include='*.cpp' 'core/cpu/simd_clones.h' core model train data infer launch plan)
[ "${#files[@]}" -ge 10 ] || fail "only ${#files[@]} files include core/cpu/simd_clones.h; expected the 10 kernels"
for f in "${files[@]}"; do
  "$CLANG" -std=gnu++20 -fopenmp -fsyntax-only -I. "$f" || fail "clang ($CLANG) cannot compile $f"
done
echo "clang ($("$CLANG" --version | head -1)) compiles the ${#files[@]} files that use core/cpu/simd_clones.h"
