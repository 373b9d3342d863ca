#!/usr/bin/env bash
# Resume exactness: 2N steps straight == N steps, save, stop, load, N more (same layout), for
# 1x1x1 and 2x2x2 (ZeRO-1), in f32 and in bf16 (the checkpoint holds the f32 master weights; the
# bf16 compute weights are rebuilt from them): the loss and grad-norm of every resumed step are
# identical to the last bit, and
# the checkpoint records the data position (next_sample = N * global batch), and the final
# parameters and Adam moments of both runs are bit-identical (same checksums). The decay length is
# fixed (--decay-steps) so the first half's LR schedule is the whole run's.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/ckpt/ckpt_lib.sh"
N=3
COMMON=(train --model tiny --synthetic --seed 7 --global-batch 8 --warmup-steps 2 --decay-steps $((2 * N)) --quiet)
for layout in "1 1 1" "2 2 2 --zero 1" "2 2 2 --zero 1 --precision bf16" "1 1 1 --precision bf16"; do
  read -r tp pp dp extra <<<"$layout"
  n=$((tp * pp * dp))
  L=(--tp "$tp" --pp "$pp" --dp "$dp" $extra)
  d="$WORK/$tp$pp$dp$(echo "$extra" | tr -d ' -')"
  mpirun_glm3d "$n" "${COMMON[@]}" "${L[@]}" --steps $((2 * N)) --metrics "$d.straight.jsonl" --save "$d.straight"
  mpirun_glm3d "$n" "${COMMON[@]}" "${L[@]}" --steps "$N" --save "$d.ckpt" --metrics "$d.first.jsonl"
  [ "$(cat "$d.ckpt/latest")" = "step_00000003.h5" ] || fail "latest does not name step 3"
  [ "$(h5_attr "$d.ckpt/step_00000003.h5" next_sample)" = $((N * 8)) ] || fail "next_sample is not $((N * 8))"
  [ "$(h5_attr "$d.ckpt/step_00000003.h5" step)" = "$N" ] || fail "step attribute is not $N"
  # Resume without --model and without the run's settings: the checkpoint's model, seed, batch
  # and LR schedule.
  mpirun_glm3d "$n" train --synthetic --quiet \
    "${L[@]}" --steps $((2 * N)) --load "$d.ckpt" --metrics "$d.second.jsonl" --save "$d.ckpt"
  echo "layout ${tp}x${pp}x${dp} $extra:"
  same_loss_text "$d.straight.jsonl" "$d.first.jsonl" 1 "$N"
  same_loss_text "$d.straight.jsonl" "$d.second.jsonl" $((N + 1)) $((2 * N))
  # Bit for bit: every parameter and optimizer-state tensor at step 2N has the same checksum.
  "$GLM3D_BIN" ckpt inspect "$d.straight" | grep checksum >"$d.sum1"
  "$GLM3D_BIN" ckpt inspect "$d.ckpt" | grep checksum >"$d.sum2"
  [ "$(wc -l <"$d.sum1")" -eq 297 ] || fail "expected 297 tensors (99 params, adam m and v)"
  cmp -s "$d.sum1" "$d.sum2" || fail "the resumed run's step-$((2 * N)) state differs from the straight run's"
  echo "  step $((2 * N)): all 297 tensor checksums identical"
done
echo "resume exactness ok"
