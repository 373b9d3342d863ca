#!/usr/bin/env bash
# glm3d eval: forward only, any layout.
# 1. A checkpoint after step 3; eval on the synthetic samples of step 4 ([24, 32)): the mean of
#    the per-sample losses, weighted by target count, is the straight run's step-4 training loss
#    (within 1e-6), on 1 rank and on 2x2x2 (micro-batch 2).
# 2. A checkpoint trained on a token store; eval of `glm3d data sample` output on 1 rank and on
#    2x2x2: logits [N, S, vocab] and losses agree within the layout-invariance tolerance.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
COMMON=(train --model tiny --synthetic --seed 3 --global-batch 8 --warmup-steps 2 --decay-steps 4 --quiet)
"$G" "${COMMON[@]}" --steps 4 --metrics "$WORK/straight.jsonl"
"$G" "${COMMON[@]}" --steps 3 --save "$WORK/ck"
"$G" eval --load "$WORK/ck" --synthetic --start 24 --count 8 --out "$WORK/e1.h5"
mpirun_glm3d 8 eval --load "$WORK/ck" --synthetic --start 24 --count 8 --out "$WORK/e8.h5" --tp 2 --pp 2 --dp 2 \
  --micro-batch 2

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
"$G" eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/d1.h5"
mpirun_glm3d 8 eval --load "$WORK/ckd" --samples "$WORK/s.h5" --out "$WORK/d8.h5" --tp 2 --pp 2 --dp 2
compare "$WORK/d1.h5" "$WORK/d8.h5" || fail "eval on a sample file"
echo "eval ok"
