#!/usr/bin/env bash
# Reshard: a checkpoint saved at 2x2x2 with ZeRO-1 resumes at 1x1x1, 4x2x1 (padded vocabulary
# 512 instead of 256) and 1x4x2, and one saved at 1x1x1 resumes at 2x2x2 with ZeRO-1: every
# resumed loss is within 1e-5 relative of an uninterrupted 1-rank run (the layout-invariance
# tolerance). tiny has a GeGLU FFN, so a wrongly split up-projection would show in the loss.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/ckpt/ckpt_lib.sh"
N=3
COMMON=(train --model tiny --synthetic --seed 11 --global-batch 8 --warmup-steps 2 --decay-steps $((2 * N)) --quiet)
"$GLM3D_BIN" "${COMMON[@]}" --steps $((2 * N)) --metrics "$WORK/ref.jsonl"
mpirun_glm3d 8 "${COMMON[@]}" --tp 2 --pp 2 --dp 2 --zero 1 --steps "$N" --save "$WORK/from222"
"$GLM3D_BIN" "${COMMON[@]}" --steps "$N" --save "$WORK/from111"
for run in "from222 1 1 1" "from222 4 2 1" "from222 1 4 2" "from111 2 2 2 --zero 1"; do
  read -r src tp pp dp extra <<<"$run"
  echo "$src -> ${tp}x${pp}x${dp} $extra"
  mpirun_glm3d $((tp * pp * dp)) "${COMMON[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra --steps $((2 * N)) \
    --load "$WORK/$src" --metrics "$WORK/run.jsonl"
  close_losses "$WORK/ref.jsonl" "$WORK/run.jsonl" $((N + 1)) $((2 * N)) 1e-5
done
echo "reshard ok"
