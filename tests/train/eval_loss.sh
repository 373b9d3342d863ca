#!/usr/bin/env bash
# Held-out loss during training (--eval-data, --eval-interval, --eval-samples; train/evaluator.h):
# 1. An SFT store (glm3d prep sft, --valid-fraction) trained on with --eval-data of itself
#    (its valid split), 4 steps, --eval-interval 2, 5 samples: eval_loss is in the metrics of
#    steps 2 and 4 only, and on every layout (1x1x1, 2x2x2, 1x2x4, 1x2x1 interleaved with 2
#    virtual stages: 5 samples padded to 6 micro-batches) equals the 1-rank value within 1e-5
#    relative, as do the training losses; the progress line shows it.
# 2. It is the mean loss `glm3d eval` prints for the same samples: the checkpoint of step 4 on
#    `glm3d data sample --split valid --count 5` (1 rank and 2x2x2 runs against it), within 1e-5.
# 3. The same with a token store as --eval-data (the documents `glm3d prep --valid-fraction` held
#    out as STORE/valid; samples 0..K-1 under the run's --seed): equal to glm3d eval on
#    `glm3d data sample STORE/valid --seed S --count K`.
# 4. More samples than the valid split holds: exit 2, one line; an eval store whose vocabulary
#    exceeds the model's (synthetic training, no tokenizer to compare): exit 2.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/corpus" 30 >/dev/null
"$G" prep --input "$WORK/corpus/en.txt" "$WORK/corpus/zh.txt" --out "$WORK/store" --train-tokenizer \
  --vocab-size 2000 --character-coverage 0.98 --valid-fraction 0.1 >/dev/null
python3 - "$WORK/corpus/en.txt" "$WORK/corpus/zh.txt" "$WORK/sft.jsonl" <<'PY'
import json, sys
lines = [l.strip() for f in sys.argv[1:3] for l in open(f, encoding="utf-8") if l.strip()]
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for q, a in zip(lines[0::2], lines[1::2]):
        out.write(json.dumps({"content": q, "summary": a}, ensure_ascii=False) + "\n")
PY
"$G" prep sft --input "$WORK/sft.jsonl" --out "$WORK/sft" --tokenizer "$WORK/store" --max-source-len 24 \
  --max-target-len 24 --valid-fraction 0.05 >"$WORK/prep.out"
cat "$WORK/prep.out"

COMMON=(train --model tiny --data "$WORK/sft" --eval-data "$WORK/sft" --eval-interval 2 --eval-samples 5
        --global-batch 8 --steps 4 --seed 11)
"$G" "${COMMON[@]}" --metrics "$WORK/ref.jsonl" --save "$WORK/ck" >"$WORK/ref.out"
grep -q "^step 2/4 | loss [0-9.]* | eval_loss [0-9.]* |" "$WORK/ref.out" || { cat "$WORK/ref.out"; fail "no eval_loss on the progress line"; }
python3 - "$WORK/ref.jsonl" <<'PY' || fail "eval_loss not at steps 2 and 4 only"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in recs if "eval_loss" in r] == [2, 4], recs
assert all(r["eval_tokens"] > 0 for r in recs if "eval_loss" in r)
assert recs[0]["settings"]["eval_samples"] == 5 and recs[0]["settings"]["eval_interval"] == 2
print("1 rank: eval_loss", [r["eval_loss"] for r in recs if "eval_loss" in r])
PY

same_as_ref() { # same_as_ref RUN.jsonl NAME
  python3 - "$WORK/ref.jsonl" "$1" "$2" <<'PY' || fail "$2: losses differ from the 1-rank run"
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
run = [json.loads(l) for l in open(sys.argv[2])]
rel = lambda a, b: abs(a - b) / abs(a)
ev = [rel(a["eval_loss"], b["eval_loss"]) for a, b in zip(ref, run) if "eval_loss" in a]
assert len(ev) == 2 and [r["step"] for r in run if "eval_loss" in r] == [2, 4]
tr = max(rel(a["loss"], b["loss"]) for a, b in zip(ref, run))
print("%-34s eval_loss max rel diff %.2e, loss %.2e" % (sys.argv[3], max(ev), tr))
assert max(ev) <= 1e-5 and tr <= 1e-5
PY
}
run_layout() { # run_layout TP PP DP NAME [flags...]
  local tp=$1 pp=$2 dp=$3 name=$4; shift 4
  mpirun_glm3d $((tp * pp * dp)) "${COMMON[@]}" --tp "$tp" --pp "$pp" --dp "$dp" "$@" --quiet \
    --metrics "$WORK/run.jsonl" || fail "$name failed to run"
  same_as_ref "$WORK/run.jsonl" "$name"
}
run_layout 2 2 2 "2x2x2"
run_layout 1 2 4 "1x2x4"
run_layout 1 2 1 "1x2x1 interleaved, 2 virtual stages" --virtual-stages 2 --schedule interleaved

# 2. glm3d eval of the step-4 checkpoint on the same samples.
"$G" data sample "$WORK/sft" --split valid --count 5 --out "$WORK/valid.h5" >/dev/null
eval_equals() { # eval_equals OUT_FILE METRICS.jsonl NAME
  python3 - "$1" "$2" "$3" <<'PY' || fail "$3: glm3d eval and eval_loss differ"
import json, re, sys
m = re.search(r"eval: mean loss ([0-9.]+) over (\d+) target tokens", open(sys.argv[1]).read())
last = [json.loads(l) for l in open(sys.argv[2])][-1]
rel = abs(float(m.group(1)) - last["eval_loss"]) / last["eval_loss"]
print("%-34s glm3d eval %s over %s tokens, eval_loss %.6f at step %d (rel diff %.1e)"
      % (sys.argv[3], m.group(1), m.group(2), last["eval_loss"], last["step"], rel))
assert int(m.group(2)) == last["eval_tokens"] and rel <= 1e-5
PY
}
"$G" eval --load "$WORK/ck" --samples "$WORK/valid.h5" --out "$WORK/e1.h5" >"$WORK/e1.out"
eval_equals "$WORK/e1.out" "$WORK/ref.jsonl" "SFT valid split, eval on 1 rank"
mpirun_glm3d 8 eval --load "$WORK/ck" --samples "$WORK/valid.h5" --out "$WORK/e8.h5" --tp 2 --pp 2 --dp 2 \
  >"$WORK/e8.out"
eval_equals "$WORK/e8.out" "$WORK/ref.jsonl" "SFT valid split, eval on 2x2x2"

# 3. A token store as --eval-data: samples 0..6 of the held-out store under --seed 11.
"$G" train --model tiny --data "$WORK/store" --eval-data "$WORK/store/valid" --eval-samples 7 --seq-len 64 \
  --global-batch 8 --steps 2 --seed 11 --quiet --metrics "$WORK/tok.jsonl" --save "$WORK/ck2"
"$G" data sample "$WORK/store/valid" --seed 11 --count 7 --seq-len 64 --out "$WORK/tok.h5" >/dev/null
"$G" eval --load "$WORK/ck2" --samples "$WORK/tok.h5" --out "$WORK/e3.h5" >"$WORK/e3.out"
eval_equals "$WORK/e3.out" "$WORK/tok.jsonl" "token store, eval on 1 rank"

# 4.
VALID=$(python3 -c "import json; print(json.load(open('$WORK/sft/sft_manifest.json'))['splits']['valid']['examples'])")
expect_usage_error "--eval-samples past the valid split" \
  "--eval-samples 1000 is more than the $VALID examples of the valid split of $WORK/sft" \
  mpirun_glm3d 2 train --model tiny --data "$WORK/sft" --eval-data "$WORK/sft" --eval-samples 1000 --steps 1 --quiet
[ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "expected one error line"; }
expect_usage_error "--eval-data with a larger vocabulary than the model's" \
  "--eval-data $WORK/store/valid holds token ids up to 2000, more than the model's vocabulary of 256" \
  "$G" train --model tiny --synthetic --eval-data "$WORK/store/valid" --steps 1 --quiet
echo "eval_loss: all checks passed"
