#!/usr/bin/env bash
# A small SFT task learns (issue 13): a key -> value lookup the base model cannot know.
# 200 prompt/response pairs "key K" -> "value C" (K a random 3-digit number, C one of 8 colours
# chosen by K mod 8), tokenized with the base's own tokenizer (glm3d prep sft --valid-fraction 0.1:
# 22 held out). The base: tiny trained 80 steps on the sample corpus's token store. LoRA on every
# linear, 80 steps: the held-out eval_loss must fall below the base model's (the same run at lr 0,
# where B = 0 is the base) by at least MARGIN nats.
# Measured (seeds 3 and 7 of the fine-tuning, one JSONL): base 4.79, LoRA 4.20 after 80 steps
# (full fine-tuning of the same base at lr 1e-3 reaches 1.56: LoRA alone plateaus near 4.2 on
# this base, even at r 64 = hidden: the frozen tied embeddings of a briefly trained tiny model have
# row norms ~0.8, which cap every logit near |h| |e| ~ 6 and so the confidence of any prediction).
# Three more random data sets: drops of 0.59, 0.59, 0.60. MARGIN 0.3 is half the measured drop.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
SEED=$((RANDOM + 1))
echo "seed $SEED"
MARGIN=0.3
bash "$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/corpus" 60 >/dev/null
printf 'base = tiny\nvocab = 512\nseq_len = 64\n' >"$WORK/m.ini"
"$G" prep --input "$WORK/corpus/en.txt" --out "$WORK/store" --train-tokenizer --vocab-size 500 \
  --character-coverage 0.98 --tokenizer-threads 1 >/dev/null
"$G" train --model "$WORK/m.ini" --data "$WORK/store" --seq-len 64 --steps 80 --global-batch 8 --seed 7 \
  --lr 1e-2 --save "$WORK/base" --quiet
python3 - "$SEED" "$WORK/kv.jsonl" <<'PY'
import json, random, sys
rng = random.Random(int(sys.argv[1]))
colours = ["red", "green", "blue", "black", "white", "yellow", "brown", "orange"]
with open(sys.argv[2], "w") as f:
    for _ in range(200):
        k = rng.randrange(100, 1000)
        f.write(json.dumps({"content": "key %d" % k, "summary": "value %s" % colours[k % 8]}) + "\n")
PY
"$G" prep sft --input "$WORK/kv.jsonl" --out "$WORK/sft" --tokenizer "$WORK/store" --max-source-len 12 \
  --max-target-len 8 --valid-fraction 0.1 >/dev/null
[ -f "$WORK/sft/valid.h5" ] || fail "no valid split"
FT=(finetune --load "$WORK/base" --data "$WORK/sft" --eval-data "$WORK/sft" --eval-samples 20 --global-batch 8
  --seed "$SEED" --lora-targets query_key_value,dense,dense_h_to_4h,dense_4h_to_h --quiet)
"$G" "${FT[@]}" --steps 1 --lr 0 --metrics "$WORK/base.jsonl"
"$G" "${FT[@]}" --steps 80 --lr 1e-2 --eval-interval 40 --metrics "$WORK/lora.jsonl"
python3 - "$WORK/base.jsonl" "$WORK/lora.jsonl" "$MARGIN" <<'PY' || fail "the SFT task did not learn (seed $SEED)"
import json, sys
base = [json.loads(l) for l in open(sys.argv[1])][-1]["eval_loss"]
evals = [(r["step"], r["eval_loss"]) for r in map(json.loads, open(sys.argv[2])) if "eval_loss" in r]
margin = float(sys.argv[3])
print("held-out eval_loss: base %.4f; LoRA %s; required below %.4f" %
      (base, ", ".join("step %d %.4f" % e for e in evals), base - margin))
assert evals[-1][0] == 80
sys.exit(0 if evals[-1][1] < base - margin else 1)
PY
echo "SFT task learns"
