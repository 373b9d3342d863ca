#!/usr/bin/env bash
# LoRA adapters in Hugging Face PEFT's format (train/peft_io.h, docs/adapters.md), on a tiny GLM
# trained on a token store with its own tokenizer:
#  - a LoRA run that saves writes <save>/peft (the latest save's); it and `glm3d ckpt export --to
#    peft` are the same bytes; read back with json + struct: PEFT's config fields, keys
#    base_model.model.transformer.layers.N..., shapes, and values equal to the checkpoint's adapters;
#  - `finetune --adapter PEFTDIR` (a new run, r/alpha/targets from the config) has the first-step
#    loss of `glm3d eval` of the fine-tuning checkpoint on the same samples (1e-5), bit for bit the
#    one of --adapter FTCKPT, at 1 rank and 2x2x1; it differs from the base's;
#  - `ckpt merge-lora` (from the checkpoint, and from the PEFT directory with --base) writes
#    W + (alpha/r) B A on every adapted linear, the other tensors unchanged (numpy); glm3d eval of
#    the merged model equals the eval of base + adapters (1 rank and tp 2 x pp 2) within 1e-5;
#  - `generate --adapter` (PEFT directory, checkpoint; 1 rank and tp 2) samples the ids of generate
#    on the merged checkpoint, which differ from the base's;
#  - ChatGLM2's architecture: keys transformer.encoder.layers.N.self_attention..., merged = base + adapters;
#  - refusals (exit 2, one line).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
SEED=$((RANDOM + 1))
echo "seed $SEED"
bash "$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/corpus" 60 >/dev/null
printf 'base = tiny\nvocab = 512\nseq_len = 64\n' >"$WORK/m.ini"
"$G" prep --input "$WORK/corpus/en.txt" --out "$WORK/store" --train-tokenizer --vocab-size 500 \
  --character-coverage 0.98 --tokenizer-threads 1 >/dev/null
"$G" train --model "$WORK/m.ini" --data "$WORK/store" --seq-len 64 --steps 20 --global-batch 8 --seed 7 \
  --save "$WORK/base" --quiet
BASE=$(ls "$WORK"/base/step_*.h5)
mpirun_glm3d 2 finetune --load "$WORK/base" --data "$WORK/store" --steps 10 --global-batch 8 --lora-r 4 \
  --lora-alpha 32 --lora-dropout 0.1 --lora-targets query_key_value,dense_4h_to_h --lr 5e-2 --seed "$SEED" \
  --tp 2 --save "$WORK/ft" --save-interval 5 --quiet
FT="$WORK/ft/step_00000010.h5"
[ -f "$WORK/ft/peft/adapter_config.json" ] || fail "no $WORK/ft/peft after the save"

# Export: written at the save and by ckpt export, read back in Python.
"$G" ckpt export "$WORK/ft" --to peft --out "$WORK/exp" >/dev/null
cmp "$WORK/exp/adapter_model.safetensors" "$WORK/ft/peft/adapter_model.safetensors" || fail "export differs from the save's peft/"
cmp "$WORK/exp/adapter_config.json" "$WORK/ft/peft/adapter_config.json" || fail "export config differs"
$SYSTEM_PYTHON "$GLM3D_SOURCE_DIR/tests/train/peft_check.py" export "$WORK/exp" "$FT" || fail "PEFT export"

# The evaluation samples of a new run's step 1 (global samples 0..7 under its seed). The import
# checks compare mean losses over these 8 samples; under some seeds the adapters' changes nearly
# cancel in the mean (seen: 1.3e-5 relative at seed 28998, where 2e-4 to 6e-4 is usual), and a
# lost import would go unseen. So the import run's seed is the first of SEED, SEED + 1, ... (at
# most 8) under which base and fine-tuned differ by more than 2e-5; the assertion below still
# holds the final one to it.
for k in $(seq 0 7); do
  ESEED=$((SEED + k))
  "$G" data sample "$WORK/store" --seed "$ESEED" --count 8 --seq-len 64 --out "$WORK/s8.h5" >/dev/null
  "$G" eval --load "$WORK/ft" --samples "$WORK/s8.h5" --out "$WORK/e_ft.h5" >"$WORK/e_ft.out"
  "$G" eval --load "$WORK/base" --samples "$WORK/s8.h5" --out "$WORK/e_base.h5" >"$WORK/e_base.out"
  $SYSTEM_PYTHON - "$WORK/e_ft.h5" "$WORK/e_base.h5" <<'PY' && break
import h5py, sys
ft, base = (float(h5py.File(p, "r").attrs["mean_loss"]) for p in sys.argv[1:3])
sys.exit(0 if abs(base - ft) / ft > 2e-5 else 1)
PY
done
echo "import-check seed $ESEED"
mpirun_glm3d 4 eval --load "$WORK/ft" --samples "$WORK/s8.h5" --out "$WORK/e_ft4.h5" --tp 2 --pp 2 >"$WORK/e_ft4.out"

# Import into a new run: first-step loss = the fine-tuned model's loss on those samples.
IMPORT=(finetune --load "$WORK/base" --data "$WORK/store" --steps 1 --global-batch 8 --lr 1e-2 --seed "$ESEED"
  --lora-dropout 0 --quiet)
"$G" "${IMPORT[@]}" --adapter "$WORK/exp" --metrics "$WORK/imp_peft.jsonl"
"$G" "${IMPORT[@]}" --adapter "$WORK/ft" --metrics "$WORK/imp_ckpt.jsonl"
mpirun_glm3d 4 "${IMPORT[@]}" --adapter "$WORK/exp" --tp 2 --pp 2 --metrics "$WORK/imp_4.jsonl"
$SYSTEM_PYTHON - "$WORK/e_ft.h5" "$WORK/e_base.h5" "$(json_field "$WORK/imp_peft.jsonl" 1 loss)" \
  "$(json_field "$WORK/imp_ckpt.jsonl" 1 loss)" "$(json_field "$WORK/imp_4.jsonl" 1 loss)" <<'PY' || fail "import"
import h5py, sys
ft, base = (float(h5py.File(p, "r").attrs["mean_loss"]) for p in sys.argv[1:3])
peft, ckpt, four = map(float, sys.argv[3:])
print("step-1 loss with --adapter PEFTDIR %.9f, FTCKPT %.9f, 2x2x1 %.9f; eval of the checkpoint %.9f, base %.9f"
      % (peft, ckpt, four, ft, base))
assert peft == ckpt, "PEFT directory and checkpoint start differently"
# Measured: 6e-10 relative between the trainer's and eval's loss; the adapters move it by ~5e-4.
assert abs(peft - ft) / ft <= 1e-6 and abs(four - ft) / ft <= 1e-5
assert abs(base - ft) / ft > 2e-5, "the adapters barely change the model: the test would not see a lost import"
PY

# merge-lora: from the checkpoint (its base), and from the PEFT directory with --base.
"$G" ckpt merge-lora --adapter "$WORK/ft" --out "$WORK/merged.h5" >/dev/null
"$G" ckpt merge-lora --base "$WORK/base" --adapter "$WORK/exp" --out "$WORK/merged2.h5" >/dev/null
$SYSTEM_PYTHON "$GLM3D_SOURCE_DIR/tests/train/peft_check.py" merged "$WORK/merged.h5" "$BASE" "$FT" || fail "merged weights"
$SYSTEM_PYTHON "$GLM3D_SOURCE_DIR/tests/train/peft_check.py" merged "$WORK/merged2.h5" "$BASE" "$FT" || fail "merged weights (PEFT)"
"$G" eval --load "$WORK/merged.h5" --samples "$WORK/s8.h5" --out "$WORK/e_m.h5" >"$WORK/e_m.out"
$SYSTEM_PYTHON - "$WORK/e_ft.h5" "$WORK/e_m.h5" "$WORK/e_ft4.h5" "$WORK/e_base.h5" <<'PY' || fail "merged eval"
import h5py, numpy as np, sys
ft, m, ft4, base = (h5py.File(p, "r") for p in sys.argv[1:])
rel = lambda a, b: np.abs(a - b).max() / np.abs(a).max()
lf, lm, l4, lb = (f["logits"][...].astype(np.float64) for f in (ft, m, ft4, base))
print("logits: merged vs base + adapters %.1e, base + adapters at 2x2 %.1e; base differs by %.1e; mean loss %.6f vs %.6f"
      % (rel(lf, lm), rel(lf, l4), rel(lf, lb), ft.attrs["mean_loss"], m.attrs["mean_loss"]))
assert rel(lf, lm) <= 1e-5 and rel(lf, l4) <= 1e-5 and rel(lf, lb) > 1e-4
assert abs(ft.attrs["mean_loss"] - m.attrs["mean_loss"]) / ft.attrs["mean_loss"] <= 1e-5
PY

# generate --adapter: LoRA merged as the matrices load.
GEN=(generate --tokenizer "$WORK/store" --prompt "The best way to" --seed 5 --top-k 0 --min-new-tokens 16
  --max-new-tokens 16 --print-ids)
ids() { grep '^ids: ' "$1" | tail -1; }
"$G" "${GEN[@]}" --load "$WORK/merged.h5" >"$WORK/g_merged"
"$G" "${GEN[@]}" --load "$WORK/base" --adapter "$WORK/exp" >"$WORK/g_peft"
"$G" "${GEN[@]}" --load "$WORK/base" --adapter "$WORK/ft" >"$WORK/g_ckpt"
mpirun_glm3d 2 "${GEN[@]}" --load "$WORK/base" --adapter "$WORK/exp" --tp 2 >"$WORK/g_tp2"
"$G" "${GEN[@]}" --load "$WORK/base" >"$WORK/g_base"
want=$(ids "$WORK/g_merged")
[ -n "$want" ] || fail "generate printed no ids"
for g in g_peft g_ckpt g_tp2; do
  [ "$(ids "$WORK/$g")" = "$want" ] || fail "$g: $(ids "$WORK/$g"), merged checkpoint: $want"
done
[ "$(ids "$WORK/g_base")" != "$want" ] || fail "the base samples the same ids: the check cannot see the adapter"
echo "ok: generate --adapter (PEFT, checkpoint, tp 2) = merged checkpoint: $want; base $(ids "$WORK/g_base")"

# ChatGLM2's architecture (tiny-glm2): PEFT keys under transformer.encoder.layers.N.self_attention,
# and the merged model evaluates as base + adapters.
"$G" train --model tiny-glm2 --synthetic --steps 2 --global-batch 8 --seed "$SEED" --quiet --save "$WORK/b2"
"$G" finetune --load "$WORK/b2" --synthetic --steps 4 --global-batch 8 --seed "$SEED" --lr 5e-2 --lora-r 4 \
  --lora-targets query_key_value,dense --quiet --save "$WORK/ft2"
$SYSTEM_PYTHON - "$WORK/ft2/peft/adapter_model.safetensors" <<'PY' || fail "ChatGLM2 PEFT names"
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    keys = sorted(k for k in json.loads(f.read(struct.unpack("<Q", f.read(8))[0])) if k != "__metadata__")
want = "base_model.model.transformer.encoder.layers.0.self_attention.query_key_value.lora_A.weight"
assert want in keys and all(".self_attention.dense." in k or ".self_attention.query_key_value." in k for k in keys), keys[:4]
print("tiny-glm2: %d PEFT tensors, e.g. %s" % (len(keys), want))
PY
"$G" ckpt merge-lora --adapter "$WORK/ft2/peft" --base "$WORK/b2" --out "$WORK/m2.h5" >/dev/null
"$G" eval --load "$WORK/ft2" --synthetic --count 4 --out "$WORK/e2a.h5" >/dev/null
"$G" eval --load "$WORK/m2.h5" --synthetic --count 4 --out "$WORK/e2b.h5" >/dev/null
"$G" eval --load "$WORK/b2" --synthetic --count 4 --out "$WORK/e2c.h5" >/dev/null
$SYSTEM_PYTHON - "$WORK/e2a.h5" "$WORK/e2b.h5" "$WORK/e2c.h5" <<'PY' || fail "tiny-glm2 merged eval"
import h5py, numpy as np, sys
a, b, c = (h5py.File(p, "r")["logits"][...].astype(np.float64) for p in sys.argv[1:])
rel = lambda x, y: np.abs(x - y).max() / np.abs(x).max()
print("tiny-glm2 logits: merged vs base + adapters %.1e; base differs by %.1e" % (rel(a, b), rel(a, c)))
assert rel(a, b) <= 1e-5 and rel(a, c) > 1e-4
PY

# Refusals.
expect_usage_error "adapter for full fine-tuning" "starts LoRA adapters: give --method lora" \
  "$G" finetune --load "$WORK/base" --data "$WORK/store" --steps 1 --method full --adapter "$WORK/exp"
expect_usage_error "--lora-r against the adapter" "--lora-r differs from --adapter" \
  "$G" "${IMPORT[@]}" --adapter "$WORK/exp" --lora-r 8
$SYSTEM_PYTHON "$GLM3D_SOURCE_DIR/tests/train/peft_check.py" layer0 "$WORK/exp" "$WORK/some"
expect_usage_error "adapter of some layers" "adapts query_key_value in 1 of 8 layers; glm3d trains a module in every layer" \
  "$G" "${IMPORT[@]}" --adapter "$WORK/some"
"$G" ckpt merge-lora --base "$WORK/base" --adapter "$WORK/some" --out "$WORK/some.h5" | grep -q "merged 2 LoRA linears" ||
  fail "merge-lora of a layers_to_transform adapter"
expect_usage_error "merge a PEFT adapter without base" "needs --base CKPT for a PEFT adapter" \
  "$G" ckpt merge-lora --adapter "$WORK/exp" --out "$WORK/x.h5"
expect_usage_error "merge onto adapters" "merge-lora needs a whole float model" \
  "$G" ckpt merge-lora --base "$WORK/ft" --adapter "$WORK/exp" --out "$WORK/x.h5"
expect_usage_error "adapter that is a whole model" "not LoRA adapters" \
  "$G" ckpt merge-lora --base "$WORK/base" --adapter "$WORK/base" --out "$WORK/x.h5"
expect_usage_error "export of a model without adapters" "not LoRA adapters" \
  "$G" ckpt export "$WORK/base" --to peft --out "$WORK/x"
echo "PEFT adapters ok"
