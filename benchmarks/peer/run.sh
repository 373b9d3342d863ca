#!/usr/bin/env bash
# glm3d against PyTorch on the same GLM, in one run (glm3d issue 11). See README.md here.
#   benchmarks/peer/run.sh            # builds what is missing, makes the venv once, runs, prints the table
# Environment: BUILD (default build), THREADS (2), WARMUP (2), STEPS (4), MATMUL_REPS (4 of 0.5 s),
# TORCH_VERSION (2.15.0: pinned so that runs on different days compare the same peer),
# GLM3D_LABEL (what the table calls the glm3d measured; default: this checkout's commit),
# TORCH_HEAP (GLIBC_TUNABLES for PyTorch; default: the heap policy glm3d's step loops apply to
# themselves, launch/heap_policy.h, so that both keep freed memory; "" for glibc's default).
# Writes benchmarks/peer/out/ (raw outputs) and benchmarks/peer/last_run.txt (the table).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
BUILD="${BUILD:-build}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-2}"
STEPS="${STEPS:-4}"
MATMUL_REPS="${MATMUL_REPS:-4}"
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
TORCH_HEAP="${TORCH_HEAP-glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295}"
out="$here/out"
venv="$here/.venv"
py="$venv/bin/python"
export OMP_NUM_THREADS="$THREADS"

say() { printf '== %s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }

# ------------------------------------------------------------------ glm3d and glm3d_bench
if [[ ! -x "$BUILD/glm3d" || ! -x "$BUILD/benchmarks/glm3d_bench" ]]; then
  say "building glm3d and glm3d_bench in $BUILD"
  [[ -f "$BUILD/CMakeCache.txt" ]] ||
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGLM3D_BUILD_TESTS=OFF -DGLM3D_BUILD_BENCHMARKS=ON >&2
  cmake --build "$BUILD" -j2 --target glm3d glm3d_bench >&2
fi

# ------------------------------------------------------------------ PyTorch venv (once)
# Never run by the build, the tests or CI. The CPU wheel index avoids torch's CUDA libraries
# (about 5 GB in the venv from PyPI); where it cannot be reached, PyPI's wheel runs the same CPU code.
have_torch="$("$py" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null || true)"
if [[ "$have_torch" != "$TORCH_VERSION" ]]; then
  say "making $venv with torch $TORCH_VERSION (CPU wheel index if reachable, else PyPI)"
  [[ -x "$py" ]] || python3 -m venv "$venv"
  "$py" -m pip install --quiet --upgrade pip >&2
  if ! "$py" -m pip install --retries 0 --timeout 20 --index-url https://download.pytorch.org/whl/cpu \
    "torch==$TORCH_VERSION" >&2; then
    say "CPU wheel index not reachable: installing torch $TORCH_VERSION from PyPI (pulls its CUDA libraries too)"
    "$py" -m pip install "torch==$TORCH_VERSION" >&2
  fi
fi
"$py" -c 'import h5py' 2>/dev/null || "$py" -m pip install --quiet h5py >&2 # same_model.py reads checkpoints

rm -rf "$out" && mkdir -p "$out"
glm3d_prec_flag() { # --precision P on current builds, --bf16 on older ones
  if "$BUILD/glm3d" train --help 2>&1 | grep -q -- '--precision'; then
    echo "--precision $1"
  elif [[ "$1" == bf16 ]]; then echo "--bf16"; fi
}
phase() { echo "$1 $(loadavg)" >>"$out/load.txt"; }

# ------------------------------------------------------------------ 1. matmul rate, glm3d's gemm
# Measured before and after the training steps, MATMUL_REPS repetitions each; the table uses the
# best repetition (the one least disturbed by other processes).
matmul_run() {
  say "matmul 2048^3 through core/cpu/matmul.h (oneDNN), $THREADS threads ($1)"
  phase "matmul_$1"
  "$BUILD/benchmarks/glm3d_bench" --benchmark_filter=MatmulPeak --benchmark_min_time=0.5 \
    --benchmark_repetitions="$MATMUL_REPS" --benchmark_format=json >"$out/matmul_$1.json" 2>"$out/matmul_$1.err"
}
matmul_run before
say "matmul 2048^3 through PyTorch's own library (torch.matmul), $THREADS threads"
phase torch_matmul
"$py" "$here/glm_block.py" matmul --threads "$THREADS" >"$out/torch_matmul.json" 2>"$out/torch_matmul.err" ||
  say "PyTorch matmul failed (see $out/torch_matmul.err)"

# ------------------------------------------------------------------ 2./3. training steps
glm3d_run() {
  local prec="$1"
  say "glm3d train $prec: $WARMUP warm-up + $STEPS timed steps"
  phase "glm3d_$prec"
  # shellcheck disable=SC2046
  "$BUILD/glm3d" train --model "$here/reference.ini" --synthetic --global-batch 4 --micro-batch 4 \
    --steps $((WARMUP + STEPS)) $(glm3d_prec_flag "$prec") --metrics "$out/glm3d_$prec.jsonl" \
    >"$out/glm3d_$prec.log" 2>&1 || { say "glm3d $prec failed (see $out/glm3d_$prec.log)"; tail -5 "$out/glm3d_$prec.log" >&2; }
}
torch_run() {
  local prec="$1"
  say "PyTorch $prec: $WARMUP warm-up + $STEPS timed steps"
  phase "torch_$prec"
  GLIBC_TUNABLES="$TORCH_HEAP" "$py" "$here/glm_block.py" speed --threads "$THREADS" --precision "$prec" --warmup "$WARMUP" \
    --steps "$STEPS" >"$out/torch_$prec.json" 2>"$out/torch_$prec.err" ||
    { say "PyTorch $prec failed (see $out/torch_$prec.err)"; tail -5 "$out/torch_$prec.err" >&2; }
}
# Interleaved so that a change in the machine's load hits both sides of a ratio alike.
glm3d_run f32
torch_run f32
glm3d_run bf16
torch_run bf16

matmul_run after

say "same model: glm3d eval logits vs glm_block.py on one glm3d checkpoint"
phase same_model
"$py" "$here/same_model.py" --glm3d "$BUILD/glm3d" --workdir "$out/same_model" >"$out/same_model.json" \
  2>"$out/same_model.err" || true

say "PyTorch check: loss falls over 20 steps, parameter count"
phase torch_check
"$py" "$here/glm_block.py" check --threads "$THREADS" >"$out/torch_check.json" 2>"$out/torch_check.err" || true

say "oneDNN implementations of one glm3d bf16 step (ONEDNN_VERBOSE)"
phase glm3d_verbose
# shellcheck disable=SC2046
ONEDNN_VERBOSE=1 DNNL_VERBOSE=1 "$BUILD/glm3d" train --model "$here/reference.ini" --synthetic --global-batch 4 \
  --micro-batch 4 --steps 1 $(glm3d_prec_flag bf16) --metrics "$out/glm3d_verbose.jsonl" \
  >"$out/glm3d_verbose.log" 2>&1 || true

# ------------------------------------------------------------------ 4. the table
{
  echo "cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "cpu_flags_amx $(grep -m1 -o 'amx_bf16' /proc/cpuinfo || echo none)"
  echo "glm3d_commit ${GLM3D_LABEL:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- core model train 2>/dev/null || echo ' (+local changes)')}"
  echo "threads $THREADS"
  echo "torch_heap ${TORCH_HEAP:-glibc default}"
  echo "warmup $WARMUP"
  echo "steps $STEPS"
  echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
} >"$out/env.txt"
"$py" - >>"$out/env.txt" 2>/dev/null <<'EOF' || true
import re, torch
cfg = torch.__config__.show()
find = lambda pat: (re.search(pat, cfg) or [None, "?"])[1]
print("torch", torch.__version__)
print("torch_libs", "oneDNN " + find(r"MKL-DNN v(\S+)") + ", MKL " + find(r"Math Kernel Library Version (\S+)"))
EOF
"$py" "$here/report.py" "$out" | tee "$here/last_run.txt"
