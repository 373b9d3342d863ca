#!/usr/bin/env bash
# glm3d finetune --method full --load BASE (tiny, synthetic task): every weight trains from the base's.
#  - step 1's loss is the base's loss on the same samples (glm3d eval of BASE, 1e-6): the base is loaded;
#  - 2x2x2, 1x4x2 and 4x1x2 (and 2x2x2 with ZeRO-1) give the 1-rank losses within 1e-5 relative at
#    every step (gradient norms too), and the loss moves (the run trains).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
SEED=$((RANDOM + 1))
echo "seed $SEED"
"$G" train --model tiny --synthetic --steps 3 --global-batch 8 --seed "$SEED" --quiet --save "$WORK/base"
FT=(finetune --method full --load "$WORK/base" --synthetic --steps 5 --global-batch 8 --seed "$SEED"
  --warmup-steps 0 --lr 1e-3 --quiet)
"$G" "${FT[@]}" --metrics "$WORK/ref.jsonl"
"$G" eval --load "$WORK/base" --synthetic --start 0 --count 8 --out "$WORK/e.h5" >/dev/null
$SYSTEM_PYTHON - "$WORK/ref.jsonl" "$WORK/e.h5" <<'PY' || fail "full fine-tuning does not start from the base"
import h5py, json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
base = float(h5py.File(sys.argv[2], "r").attrs["mean_loss"])
print("step 1 loss %.9f, base's eval on samples 0..7 %.9f; step 5 %.6f" % (ref[0]["loss"], base, ref[-1]["loss"]))
assert abs(ref[0]["loss"] - base) / base <= 1e-6
assert abs(ref[-1]["loss"] - ref[0]["loss"]) > 1e-2, "the loss did not move"
PY
for layout in "2 2 2" "1 4 2" "4 1 2" "2 2 2 --zero 1"; do
  read -r tp pp dp extra <<<"$layout"
  # shellcheck disable=SC2086
  mpirun_glm3d $((tp * pp * dp)) "${FT[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra --metrics "$WORK/run.jsonl" ||
    fail "layout $layout failed (seed $SEED)"
  same_losses "$WORK/ref.jsonl" "$WORK/run.jsonl" "full $layout" 5 || fail "layout $layout diverged (seed $SEED)"
done
echo "full fine-tuning ok"
