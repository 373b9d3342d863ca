#!/usr/bin/env bash
# Makes tests/core/golden/quant_golden.h5: bitsandbytes NF4 (+ double quantization) and
# ChatGLM-6B int8/int4 reference data for tests/core/test_quant_golden.cpp.
#
# Run by hand when the reference versions change; the build, the tests and CI never run it.
# It makes a Python venv (python3 -m venv) and installs the reference packages from PyPI:
# torch's PyPI wheel pulls its CUDA libraries (about 7 GB on disk) even though only the CPU is used.
#   GOLDEN_VENV   venv folder (default ~/.cache/glm3d/quant-golden-venv)
#   TORCH_VERSION, BNB_VERSION   pinned reference versions (defaults below)
#   OUT           output file (default tests/core/golden/quant_golden.h5)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${GOLDEN_VENV:-$HOME/.cache/glm3d/quant-golden-venv}"
TORCH_VERSION="${TORCH_VERSION:-2.9.1}"
BNB_VERSION="${BNB_VERSION:-0.49.2}"
OUT="${OUT:-$ROOT/tests/core/golden/quant_golden.h5}"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi
"$VENV/bin/pip" install -q "torch==$TORCH_VERSION" "bitsandbytes==$BNB_VERSION" h5py numpy
# Single-threaded torch: its float reductions (the double-quantization offset is a mean) then
# sum in one fixed order.
OMP_NUM_THREADS=1 "$VENV/bin/python" "$ROOT/tools/golden/quant_golden.py" --out "$OUT"
ls -l "$OUT"
