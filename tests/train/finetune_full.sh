#!/usr/bin/env bash
# glm3d finetune --method full --load BASE (tiny, synthetic task): every weight trains from the base's.
#  - step 1's loss is the base's loss on the same samples (glm3d eval of BASE, 1e-6): the base is loaded;
#  - 2x2x2, 1x4x2 and 4x1x2 (and 2x2x2 with ZeRO-1) give the 1-rank losses within 1e-5 relative at
#    every step (gradient norms too), and the run trains (its loss below a frozen run's).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
SEED=$((RANDOM + 1))
echo "seed $SEED"
"$G" train --model tiny --synthetic --steps 3 --global-batch 8 --seed "$SEED" --quiet --save "$WORK/base"
FT=(finetune --method full --load "$WORK/base" --synthetic --steps 5 --global-batch 8 --seed "$SEED"
  --warmup-steps 0 --lr 1e-3 --quiet)
"$G" "${FT[@]}" --metrics "$WORK/ref.jsonl"
"$G" "${FT[@]/1e-3/1e-12}" --metrics "$WORK/frozen.jsonl" # the same samples, weights (nearly) fixed
"$G" eval --load "$WORK/base" --synthetic --start 0 --count 8 --out "$WORK/e.h5" >/dev/null
# The run trains: over steps 2-5 its loss is below the same samples' loss at lr 1e-12 by 5e-3 on
# average (seen 0.011 to 0.030 over 6 seeds; each step draws new samples, so step 5 against
# step 1 is no test: seed 3544 moved 0.005).
$SYSTEM_PYTHON - "$WORK/ref.jsonl" "$WORK/e.h5" "$WORK/frozen.jsonl" <<'PY' || fail "full fine-tuning (seed $SEED)"
import h5py, json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
base = float(h5py.File(sys.argv[2], "r").attrs["mean_loss"])
frozen = [json.loads(l) for l in open(sys.argv[3])]
gain = sum(f["loss"] - r["loss"] for r, f in zip(ref[1:], frozen[1:])) / (len(ref) - 1)
print("step 1 loss %.9f, base's eval on samples 0..7 %.9f; steps 2-5 below lr 1e-12 by %.4f on average"
      % (ref[0]["loss"], base, gain))
assert abs(ref[0]["loss"] - base) / base <= 1e-6, "full fine-tuning does not start from the base"
assert gain > 5e-3, "the loss did not move"
PY
for layout in "2 2 2" "1 4 2" "4 1 2" "2 2 2 --zero 1"; do
  read -r tp pp dp extra <<<"$layout"
  # shellcheck disable=SC2086
  mpirun_glm3d $((tp * pp * dp)) "${FT[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra --metrics "$WORK/run.jsonl" ||
    fail "layout $layout failed (seed $SEED)"
  same_losses "$WORK/ref.jsonl" "$WORK/run.jsonl" "full $layout" 5 || fail "layout $layout diverged (seed $SEED)"
done
echo "full fine-tuning ok"
