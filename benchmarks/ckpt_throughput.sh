#!/usr/bin/env bash
# Checkpoint save and load throughput (MB/s = checkpoint file bytes / wall time of the save or
# load, as the trainer reports it) for the `small` preset on 1 rank and on 8 ranks (2x2x2, ZeRO-1).
# Usage: benchmarks/ckpt_throughput.sh [BUILD_DIR] [WORK_DIR]. Not part of ctest.
set -euo pipefail
BIN="${1:-build}/glm3d"
WORK="${2:-$(mktemp -d)}"
mkdir -p "$WORK"
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One cheap step (short sequences, one sample) so the run is dominated by the checkpoint.
T=(train --model small --synthetic --seq-len 64 --micro-batch 1 --global-batch 2 --log-interval 100)
for n in 1 8; do
  L=(); [ "$n" -eq 8 ] && L=(--tp 2 --pp 2 --dp 2 --zero 1)
  rm -rf "$WORK/ck$n"
  mpirun --oversubscribe --bind-to none -n "$n" "$BIN" "${T[@]}" "${L[@]}" --steps 1 --save "$WORK/ck$n" >"$WORK/save$n.log"
  mpirun --oversubscribe --bind-to none -n "$n" "$BIN" "${T[@]}" "${L[@]}" --steps 1 --load "$WORK/ck$n" >"$WORK/load$n.log"
  bytes=$(stat -c %s "$WORK/ck$n/step_00000001.h5")
  save_s=$(sed -n 's/^saved .* (\([0-9.]*\) s)$/\1/p' "$WORK/save$n.log")
  load_s=$(sed -n 's/^resumed from .* in \([0-9.]*\) s$/\1/p' "$WORK/load$n.log")
  python3 -c "b=$bytes/1e6; print('small, %d rank%s: checkpoint %.0f MB, save %.2f s = %.0f MB/s, load %.2f s = %.0f MB/s' % ($n, '' if $n == 1 else 's', b, $save_s, b / $save_s, $load_s, b / $load_s))"
done
