#!/usr/bin/env bash
# glm3d eval: forward only, any layout.
# 1. A checkpoint after step 3; eval on the synthetic samples of step 4 ([24, 32)): the mean of
#    the per-sample losses, weighted by target count, is the straight run's step-4 training loss
#    (within 1e-6), on 1 rank and on 2x2x2 (micro-batch 2).
# 2. A checkpoint trained on a token store; eval of `glm3d data sample` output on 1 rank and on
#    2x2x2: logits [N, S, vocab] and losses agree within the layout-invariance tolerance.
# Every run prints the mean loss over all target tokens and its perplexity: they equal
# sum(loss_sum) / sum(loss_tokens) of the output file (and its mean_loss attribute) and exp of it.
# 3. A sample file with only the datasets (no attributes, no kind: as another tool writes it)
#    gives the same logits; one without `targets`, or made with another tokenizer, is refused
#    (exit 2, one line) on every rank.
# 4. --out in a missing directory or naming a directory: one line, exit 2, before any work.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
COMMON=(train --model tiny --synthetic --seed 3 --global-batch 8 --warmup-steps 2 --decay-steps 4 --quiet)
"$G" "${COMMON[@]}" --steps 4 --metrics "$WORK/straight.jsonl"
"$G" "${COMMON[@]}" --steps 3 --save "$WORK/ck"
"$G" eval --load "$WORK/ck" --synthetic --start 24 --count 8 --out "$WORK/e1.h5" >"$WORK/e1.h5.out"
mpirun_glm3d 8 eval --load "$WORK/ck" --synthetic --start 24 --count 8 --out "$WORK/e8.h5" --tp 2 --pp 2 --dp 2 \
  --micro-batch 2 >"$WORK/e8.h5.out"

# printed_mean FILE.h5: the mean loss and perplexity printed for FILE.h5 (FILE.h5.out) are the
# file's token-weighted mean loss (and its mean_loss attribute) and exp of it.
printed_mean() {
  for d in loss_sum loss_tokens; do h5dump -d "/$d" -b LE -o "$1.$d.bin" "$1" >/dev/null; done
  h5dump -m %.17g -a /mean_loss "$1" | awk '/\(0\)/ { print $2 }' >"$1.attr"
  python3 - "$1" <<'PY'
import math, re, struct, sys
f = sys.argv[1]
def load(d, fmt):
    raw = open("%s.%s.bin" % (f, d), "rb").read()
    return struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw)
total, tokens = sum(load("loss_sum", "d")), sum(load("loss_tokens", "q"))
mean = total / tokens
m = re.search(r"eval: mean loss ([0-9.]+) over (\d+) target tokens, perplexity ([0-9.]+)", open(f + ".out").read())
assert m, "no mean loss line in " + open(f + ".out").read()
shown, shown_tokens, ppl = float(m.group(1)), int(m.group(2)), float(m.group(3))
attr = float(open(f + ".attr").read())
print("  %s: printed mean loss %.6f over %d tokens, perplexity %.4f; file: %.9f over %d, attribute %.9f"
      % (f.split("/")[-1], shown, shown_tokens, ppl, mean, tokens, attr))
assert shown_tokens == tokens and abs(shown - mean) <= 5.1e-7 and abs(attr - mean) <= 1e-12 * mean
assert abs(ppl - math.exp(mean)) <= 5.1e-5 + 1e-6 * math.exp(mean)
PY
}
for f in e1 e8; do printed_mean "$WORK/$f.h5" || fail "printed mean loss of $f"; done

# compare A.h5 B.h5 [TRAIN_METRICS STEP]: logits and losses agree; optionally the weighted mean
# loss equals the training loss of STEP.
compare() {
  for f in "$1" "$2"; do
    for d in logits loss loss_sum loss_tokens; do h5dump -d "/$d" -b LE -o "$f.$d.bin" "$f" >/dev/null; done
  done
  python3 - "$@" <<'PY'
import json, struct, sys
def load(f, d, fmt):
    raw = open("%s.%s.bin" % (f, d), "rb").read()
    return struct.unpack("<%d%s" % (len(raw) // struct.calcsize(fmt), fmt), raw)
a, b = sys.argv[1], sys.argv[2]
la, lb = load(a, "logits", "f"), load(b, "logits", "f")
assert len(la) == len(lb) > 0
scale = max(abs(x) for x in la)
dl = max(abs(x - y) for x, y in zip(la, lb)) / scale
sa, sb = load(a, "loss", "d"), load(b, "loss", "d")
ds = max(abs(x - y) / abs(x) for x, y in zip(sa, sb))
print("  %d logits: max diff %.2e of max |logit| %.3f; %d per-sample losses: max rel diff %.2e" % (len(la), dl, scale, len(sa), ds))
ok = dl <= 1e-5 and ds <= 1e-5
if len(sys.argv) > 3:
    step = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[3]))}[int(sys.argv[4])]
    for f in (a, b):
        mean = sum(load(f, "loss_sum", "d")) / sum(load(f, "loss_tokens", "q"))
        print("  %s: weighted mean loss %.9f, training loss of step %s %.9f" % (f.split("/")[-1], mean, sys.argv[4], step))
        ok = ok and abs(mean - step) <= 1e-6 * step
sys.exit(0 if ok else 1)
PY
}
compare "$WORK/e1.h5" "$WORK/e8.h5" "$WORK/straight.jsonl" 4 || fail "eval on synthetic samples"

"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/c" 120 >/dev/null
"$G" prep --input "$WORK/c/en.txt" --out "$WORK/store" --train-tokenizer --vocab-size 1000 >/dev/null
"$G" train --model tiny --data "$WORK/store" --seq-len 32 --steps 2 --quiet --save "$WORK/ckd"
"$G" data sample "$WORK/store" --count 6 --seq-len 32 --out "$WORK/s.h5" >/dev/null
"$G" eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/d1.h5" >"$WORK/d1.h5.out"
mpirun_glm3d 8 eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/d8.h5" --tp 2 --pp 2 --dp 2 >"$WORK/d8.h5.out"
compare "$WORK/d1.h5" "$WORK/d8.h5" || fail "eval on a sample file"
for f in d1 d8; do printed_mean "$WORK/$f.h5" || fail "printed mean loss of $f"; done

# The datasets alone (h5copy: no seq_len, format_version or tokenizer attribute, no kind).
for d in tokens position_ids block_position_ids targets loss_mask sep; do
  h5copy -i "$WORK/s.h5" -o "$WORK/bare.h5" -s "/$d" -d "/$d"
done
h5dump -A "$WORK/bare.h5" | grep -q 'ATTRIBUTE' && fail "bare.h5 has attributes"
"$G" eval --load "$WORK/ckd" --samples "$WORK/bare.h5" --out "$WORK/b1.h5" >"$WORK/b1.h5.out"
compare "$WORK/d1.h5" "$WORK/b1.h5" || fail "eval on the bare datasets"
printed_mean "$WORK/b1.h5" || fail "printed mean loss of b1"
for d in tokens position_ids block_position_ids loss_mask sep; do
  h5copy -i "$WORK/s.h5" -o "$WORK/notargets.h5" -s "/$d" -d "/$d"
done
expect_usage_error "sample file without targets (2 ranks)" "glm3d: error: sample file $WORK/notargets.h5 has no dataset 'targets'" \
  mpirun_glm3d 2 eval --load "$WORK/ckd" --samples "$WORK/notargets.h5" --out "$WORK/never.h5"
[ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "not one error line"; }
# Samples of a store made with another tokenizer of the same vocabulary size.
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/c2" 60 >/dev/null
"$G" prep --input "$WORK/c2/en.txt" --out "$WORK/store2" --train-tokenizer --vocab-size 1000 >/dev/null
"$G" data sample "$WORK/store2" --count 2 --seq-len 32 --out "$WORK/s2.h5" >/dev/null
expect_usage_error "samples of another tokenizer (2 ranks)" "but sample file $WORK/s2.h5 was made with tokenizer sha256" \
  mpirun_glm3d 2 eval --load "$WORK/ckd" --samples "$WORK/s2.h5" --out "$WORK/never.h5"
[ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "not one error line"; }
[ -e "$WORK/never.h5" ] && fail "eval wrote an output for refused samples"
# --out is checked before the checkpoint is read and the forward pass runs (issue 10, defect 4):
# a path in a missing directory, or a directory, is one line and exit 2 on every rank.
mkdir -p "$WORK/adir"
expect_usage_error "--out in a missing directory (2 ranks)" \
  "glm3d: error: --out $WORK/nodir/e.h5: the directory $WORK/nodir does not exist" \
  mpirun_glm3d 2 eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/nodir/e.h5"
[ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "not one error line"; }
expect_usage_error "--out a directory (2 ranks)" "glm3d: error: --out $WORK/adir is a directory" \
  mpirun_glm3d 2 eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/adir"
[ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "not one error line"; }
grep -q "mean loss" "$WORK/out" && fail "eval ran before refusing its --out"
echo "eval ok"
