#!/usr/bin/env bash
# glm3d finetune --method lora on a frozen base, GLM (tiny) and ChatGLM2's architecture (tiny-glm2):
#  - every layout gives the 1-rank losses within 1e-5 relative at every step (gradient norms 5e-5),
#    with dropout 0.1 on all four linears (counter-based masks: the same elements drop on every
#    layout), tp 2 and 4, pp 4 (1x4x2) (A of column-parallel linears summed over tp, B of row-parallel ones
#    replicated), pp 2, dp 2 and ZeRO-1, and the replica check of the adapters passes;
#  - the adapters train: the loss moves away from the frozen base's (the same run with --lr 1e-12: --lr 0 means the model's default);
#  - the checkpoint holds the adapters only (2 per target per layer) and names its base; a
#    resumed run (which reads the base again from that name) continues bit for bit (same layout;
#    another layout reads it too, within the layouts' 1e-5);
#  - --dry-run prints PEFT's trainable-parameter line (ChatGLM2-6B, r 8 on query_key_value:
#    1,949,696 of 6,245,533,696, as PEFT prints it);
#  - bad inputs: a missing base, adapters given as the base, a resumed run asked for another rank.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SEED=$((RANDOM + 1))
echo "seed $SEED"
TARGETS=query_key_value,dense,dense_h_to_4h,dense_4h_to_h

# Losses within the issue's 1e-5. Gradient norms within 5e-5: at lr 1e-2 Adam's m / sqrt(v) turns
# f32 rounding in near-zero adapter gradients into whole-size updates, so a norm drifts further
# (seen 1.4e-5 at step 3 of tiny-glm2 tp 2, seed 27642, with losses equal to 3e-8).

for model in tiny tiny-glm2; do
  "$GLM3D_BIN" train --model "$model" --synthetic --steps 2 --global-batch 8 --seed "$SEED" --quiet --save "$WORK/base-$model"
  FT=(finetune --load "$WORK/base-$model" --synthetic --steps 6 --global-batch 8 --seed "$SEED"
    --warmup-steps 0 --lora-r 4 --lora-dropout 0.1 --lora-targets "$TARGETS" --quiet)
  "$GLM3D_BIN" "${FT[@]}" --lr 1e-2 --metrics "$WORK/ref-$model.jsonl"
  "$GLM3D_BIN" "${FT[@]}" --lr 1e-12 --metrics "$WORK/frozen-$model.jsonl"
  python3 - "$WORK/ref-$model.jsonl" "$WORK/frozen-$model.jsonl" <<'PY' || fail "$model: the adapters did not train"
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
frozen = [json.loads(l) for l in open(sys.argv[2])]
assert ref[0]["loss"] == frozen[0]["loss"], "B = 0: step 1 is the base model"
moved = abs(ref[-1]["loss"] - frozen[-1]["loss"])
print("step 6 loss %.6f vs frozen %.6f" % (ref[-1]["loss"], frozen[-1]["loss"]))
sys.exit(0 if moved > 1e-3 and all(r["grad_norm"] > 0 for r in ref) else 1)
PY
  for layout in "2 1 1" "4 1 1" "2 2 2" "1 4 2" "1 2 2 --zero 1" "2 1 2 --zero 1" "4 1 2"; do
    read -r tp pp dp extra <<<"$layout"
    # shellcheck disable=SC2086
    mpirun_glm3d $((tp * pp * dp)) "${FT[@]}" --lr 1e-2 --tp "$tp" --pp "$pp" --dp "$dp" $extra --check-replicas-interval 3 \
      --metrics "$WORK/run.jsonl" || fail "$model layout ${tp}x${pp}x${dp} $extra failed (seed $SEED)"
    # Losses within the issue's 1e-5. Gradient norms within 5e-5: at lr 1e-2 Adam's m / sqrt(v) turns
    # f32 rounding in near-zero adapter gradients into whole-size updates, so a norm drifts further
    # (seen 1.4e-5 at step 3 of tiny-glm2 tp 2, seed 27642, with losses equal to 3e-8).
    same_losses "$WORK/ref-$model.jsonl" "$WORK/run.jsonl" "$model ${tp}x${pp}x${dp} $extra" 6 5e-5 ||
      fail "$model layout $layout diverged (seed $SEED)"
  done
done

# Checkpoint: the adapters only, with their spec and base; resume bit for bit.
FT=(finetune --base "$WORK/base-tiny" --synthetic --global-batch 8 --seed "$SEED" --lr 1e-2 --lora-r 4
  --lora-dropout 0.1 --lora-targets "$TARGETS" --quiet)
mpirun_glm3d 4 "${FT[@]}" --steps 6 --tp 2 --dp 2 --metrics "$WORK/straight.jsonl"
mpirun_glm3d 4 "${FT[@]}" --steps 3 --tp 2 --dp 2 --save "$WORK/ft" --metrics "$WORK/resumed.jsonl"
$SYSTEM_PYTHON - "$WORK/ft/step_00000003.h5" <<'PY' || fail "the fine-tuning checkpoint"
import h5py, sys
f = h5py.File(sys.argv[1], "r")
names = sorted(f["params"].keys())
assert len(names) == 8 * 4 * 2, len(names)
assert all(".lora_A." in n or ".lora_B." in n for n in names), names[:4]
a = f.attrs
kind = a["kind"].decode() if isinstance(a["kind"], bytes) else a["kind"]
assert kind == "finetune", kind
assert int(a["lora_r"]) == 4
assert f["params/layers.0.attention.query_key_value.lora_A.weight"].shape == (4, 64)
assert f["params/layers.0.attention.dense.lora_B.weight"].shape == (64, 4)
print("checkpoint holds %d adapter tensors, base %s" % (len(names), a["finetune_base"]))
PY
# The base is read again from the checkpoint's record: no --base on resume.
mpirun_glm3d 4 finetune --load "$WORK/ft" --synthetic --steps 6 --tp 2 --dp 2 --quiet --metrics "$WORK/resumed.jsonl"
python3 - "$WORK/straight.jsonl" "$WORK/resumed.jsonl" <<'PY' || fail "resumed fine-tuning is not bit-exact"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert [r["loss"] for r in a] == [r["loss"] for r in b], ([r["loss"] for r in a], [r["loss"] for r in b])
print("resumed at step 3: losses equal bit for bit")
PY

"$GLM3D_BIN" finetune --model chatglm2-6b --synthetic --dry-run --steps 1 --global-batch 1 --seq-len 512 --bf16 \
  >"$WORK/dry" || fail "--dry-run"
grep -qF "trainable params: 1,949,696 || all params: 6,245,533,696 || trainable%: 0.0312" "$WORK/dry" ||
  { cat "$WORK/dry"; fail "--dry-run trainable line"; }

expect_usage_error "missing base" "--base $WORK/nothing does not exist" \
  "$GLM3D_BIN" finetune --base "$WORK/nothing" --synthetic --steps 1
expect_usage_error "adapters as the base" "holds fine-tuning adapters only" \
  "$GLM3D_BIN" finetune --base "$WORK/ft" --synthetic --steps 1
expect_usage_error "another rank on resume" "--lora-r differs from checkpoint" \
  "$GLM3D_BIN" finetune --load "$WORK/ft" --synthetic --steps 8 --lora-r 8
expect_usage_error "adapters continued as pretraining" "continue it with glm3d finetune" \
  "$GLM3D_BIN" train --load "$WORK/ft" --synthetic --steps 8
echo "LoRA fine-tuning ok"
