#!/usr/bin/env bash
# The first command on a fresh machine: installs what is missing, builds, and
# trains a tiny GLM with visible progress and loss.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
OUT="${QUICKSTART_OUT:-$ROOT/quickstart-out}"
mkdir -p "$OUT"
echo "[quickstart] training tiny GLM on the synthetic blank-infilling task (1 rank)"
OMP_NUM_THREADS=$(nproc) "$BUILD_DIR/glm3d" train --model tiny --synthetic --steps 300 --global-batch 8 \
  --lr 3e-3 --warmup-steps 20 --log-interval 20 --metrics "$OUT/metrics.jsonl"
echo "[quickstart] metrics: $OUT/metrics.jsonl"
