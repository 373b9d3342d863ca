#!/usr/bin/env bash
# The GPU proof, in one go, for a machine with an NVIDIA GPU (issue 16):
#   1. builds what it needs (or uses BUILD_DIR when it already holds glm3d_gpu_check, such as a
#      bundle from tests/gpu/bundle.sh),
#   2. every CUDA kernel against the CPU f64 path (glm3d_gpu_check),
#   3. the benchmark: cuBLASLt bf16 GEMMs and one training step of the GLM-130B tp-8 slice,
#      with TFLOP/s and MFU against the card's bf16 dense peak (glm3d_gpu_check --bench),
#   4. TODO (needs the model seam: glm3d train --device cuda): `tiny` 20 steps on the GPU
#      against the CPU run within bf16 tolerance, and the layout test on the GPUs there are.
# Writes $OUT/summary.txt (and the full logs beside it). Fails loudly: no GPU, a failed
# build or a failed check ends the script with exit 1 and the reason; while the model steps
# are still TODO it ends with exit 3 after the kernels and the benchmark (never a silent 0).
#
#   OUT=/tmp/proof tests/gpu/prove.sh          # BUILD_DIR=build-gpu by default
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${OUT:?set OUT to the folder for the summary}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-gpu}"
JOBS="${JOBS:-$(nproc)}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
say() { echo "$*" | tee -a "$SUMMARY"; }
die() { say "FAILED: $*"; exit 1; }

say "glm3d GPU proof, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
command -v nvidia-smi > /dev/null || die "nvidia-smi not found: this script needs a machine with an NVIDIA GPU"
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader | tee -a "$SUMMARY" \
  || die "nvidia-smi sees no GPU"

# ---------------------------------------------------------------- 1. build
if [ ! -x "$BUILD_DIR/tests/gpu/glm3d_gpu_check" ]; then
  say "building in $BUILD_DIR (GLM3D_CUDA=ON, architectures 80;90 + this GPU's)"
  {
    cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DGLM3D_CUDA=ON -DGLM3D_BUILD_BENCHMARKS=OFF \
      -DGLM3D_TEST_DIRS="cuda;parallel;gpu" &&
      cmake --build "$BUILD_DIR" -j"$JOBS" --target glm3d glm3d_gpu_check test_cuda_host
  } > "$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; die "build (see build.log)"; }
else
  say "using the build in $BUILD_DIR"
fi
CHECK="$BUILD_DIR/tests/gpu/glm3d_gpu_check"
# A bundle made elsewhere (tests/gpu/bundle.sh) carries its libraries in lib/; cuBLASLt comes
# from this machine's CUDA toolkit.
if [ -d "$BUILD_DIR/lib" ]; then
  export LD_LIBRARY_PATH="$BUILD_DIR/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# ---------------------------------------------------------------- 2. kernels vs the CPU f64 path
say ""
say "== kernels against the CPU f64 path (fresh random inputs, outputs poisoned) =="
set +e
"$CHECK" > "$OUT/kernels.log" 2>&1
rc=$?
set -e
cat "$OUT/kernels.log" >> "$SUMMARY"
grep -q "no CUDA device: skipped" "$OUT/kernels.log" && die "glm3d_gpu_check found no CUDA device"
[ "$rc" -eq 0 ] || die "kernel checks (exit $rc): see the FAIL lines above"

# ---------------------------------------------------------------- 3. benchmark
say ""
say "== benchmark: cuBLASLt bf16 GEMMs and the GLM-130B tp-8 slice (2 layers, seq 2048, mb 1) =="
"$CHECK" --no-checks --bench > "$OUT/bench.log" 2>&1 || { cat "$OUT/bench.log"; die "benchmark"; }
grep "^bench:" "$OUT/bench.log" | tee -a "$SUMMARY"
mfu="$(sed -n 's/.*MFU \([0-9.]*\)%.*/\1/p' "$OUT/bench.log")"
[ -n "$mfu" ] || die "benchmark printed no MFU"
if awk -v m="$mfu" 'BEGIN { exit !(m > 50) }'; then
  say "target (> 50% MFU on H100/H200): met, ${mfu}%"
else
  say "target (> 50% MFU on H100/H200): NOT met, ${mfu}%"
fi

# ---------------------------------------------------------------- 4. model on the GPU (TODO)
say ""
if "$BUILD_DIR/glm3d" train --help 2>&1 | grep -q -- "--device"; then
  die "glm3d train has --device now: fill in the tiny-20-steps and layout steps of tests/gpu/prove.sh"
fi
say "TODO tiny 20 steps on the GPU vs the CPU run (bf16 tolerance): needs 'glm3d train --device cuda' (model seam)"
say "TODO layout test on the GPUs (several ranks may share one): needs 'glm3d train --device cuda' (model seam)"
say ""
say "proof INCOMPLETE: kernels and benchmark done; the two model steps are still TODO (see above)"
exit 3
