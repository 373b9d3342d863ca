#!/usr/bin/env bash
# Checkpoints across precisions and layouts:
#  - a bf16 run saves f32 master weights (param_dtype f32, the same tensors as an f32 run's);
#  - a checkpoint saved in f32 continues in bf16, and that one back in f32: the loss continues
#    within bf16's tolerance of an uninterrupted f32 run, and going back to f32 resumes exactly
#    the bf16 run's master weights;
#  - glm3d ckpt reshard: a 2x2x2 ZeRO-1 checkpoint loaded by 1x1x1, by 1x4x2 and by 4x1x2 ZeRO-1 and
#    saved at once holds every parameter and both Adam moments bit for bit (h5diff), and a
#    resharded bf16 checkpoint resumes within the bf16 layout tolerance of the original layout.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/ckpt/ckpt_lib.sh"
N=3
COMMON=(train --model tiny --synthetic --seed 5 --global-batch 8 --warmup-steps 2 --decay-steps $((3 * N)) --quiet)

# f32 straight, and f32 -> bf16 -> f32 in thirds.
"$GLM3D_BIN" "${COMMON[@]}" --steps $((3 * N)) --metrics "$WORK/f32.jsonl"
"$GLM3D_BIN" "${COMMON[@]}" --steps "$N" --save "$WORK/a" --metrics "$WORK/a.jsonl"
"$GLM3D_BIN" train --synthetic --quiet --steps $((2 * N)) --precision bf16 --load "$WORK/a" --save "$WORK/b" \
  --metrics "$WORK/b.jsonl"
[ "$(h5_attr "$WORK/b/step_00000006.h5" param_dtype)" = f32 ] || fail "the bf16 run saved no f32 master weights"
"$GLM3D_BIN" train --synthetic --quiet --steps $((3 * N)) --precision f32 --load "$WORK/b" --save "$WORK/c" \
  --metrics "$WORK/c.jsonl"
close_losses "$WORK/f32.jsonl" "$WORK/b.jsonl" $((N + 1)) $((2 * N)) 1e-2
close_losses "$WORK/f32.jsonl" "$WORK/c.jsonl" $((2 * N + 1)) $((3 * N)) 1e-2
# Back in f32, the first step starts from exactly the bf16 run's master: a bf16 run resumed from
# the same checkpoint takes the same data, so the two differ only by the compute precision.
"$GLM3D_BIN" train --synthetic --quiet --steps $((2 * N + 1)) --precision bf16 --load "$WORK/b" \
  --metrics "$WORK/cb.jsonl"
python3 - "$WORK/c.jsonl" "$WORK/cb.jsonl" <<'PY' || fail "f32 after bf16 does not start from the bf16 master"
import json, sys
a = json.loads(open(sys.argv[1]).readline())
b = json.loads(open(sys.argv[2]).readline())
rel = abs(a["loss"] - b["loss"]) / abs(a["loss"])
print("step %d: f32 %r, bf16 %r (rel %.1e)" % (a["step"], a["loss"], b["loss"], rel))
sys.exit(0 if a["step"] == b["step"] == 7 and 0 < rel < 1e-2 else 1)
PY
echo "f32 -> bf16 -> f32 ok"

# Reshard, bit for bit: load under another layout, save at once, compare every tensor.
mpirun_glm3d 8 "${COMMON[@]}" --tp 2 --pp 2 --dp 2 --zero 1 --steps "$N" --save "$WORK/src"
SRC="$WORK/src/step_00000003.h5"
for to in "1 1 1" "1 4 2" "4 1 2 --zero 1"; do
  read -r tp pp dp extra <<<"$to"
  out="$WORK/re_$tp$pp$dp"
  # shellcheck disable=SC2086
  mpirun_glm3d $((tp * pp * dp)) ckpt reshard "$WORK/src" --out "$out" --tp "$tp" --pp "$pp" --dp "$dp" $extra \
    >/dev/null
  for g in params adam_m adam_v; do
    h5diff "$SRC" "$out/step_00000003.h5" "/$g" "/$g" >"$WORK/diff" 2>&1 \
      || { head "$WORK/diff"; fail "reshard to ${tp}x${pp}x${dp}: /$g differs"; }
  done
  [ "$(h5_attr "$out/step_00000003.h5" layout_tp)" = "$tp" ] || fail "the resharded file does not record tp $tp"
  [ "$(h5_attr "$out/step_00000003.h5" next_sample)" = "$(h5_attr "$SRC" next_sample)" ] || fail "next_sample"
  echo "reshard 2x2x2 ZeRO-1 -> ${tp}x${pp}x${dp} $extra: params, adam_m, adam_v identical"
done

# bf16: a resharded checkpoint continues like the original.
mpirun_glm3d 8 "${COMMON[@]}" --precision bf16 --tp 2 --pp 2 --dp 2 --zero 1 --steps $((2 * N)) \
  --metrics "$WORK/b222.jsonl"
mpirun_glm3d 8 "${COMMON[@]}" --precision bf16 --tp 2 --pp 2 --dp 2 --zero 1 --steps "$N" --save "$WORK/bs"
mpirun_glm3d 2 ckpt reshard "$WORK/bs" --out "$WORK/bs12" --tp 1 --pp 2 --dp 1 --precision bf16 >/dev/null
mpirun_glm3d 2 train --synthetic --quiet --precision bf16 --tp 1 --pp 2 --dp 1 --steps $((2 * N)) \
  --load "$WORK/bs12" --metrics "$WORK/b12.jsonl"
close_losses "$WORK/b222.jsonl" "$WORK/b12.jsonl" $((N + 1)) $((2 * N)) 2e-3
echo "precision and reshard ok"
