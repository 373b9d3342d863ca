#!/usr/bin/env bash
# --bf16 (issue 10, "every option has a test that fails if it is ignored"): bf16 matmul inputs
# change the numbers (step 1 loss differs from the f32 run by more than 1e-7 relative, its
# gradient norm by more than 1e-6; f32 runs repeat bit for bit, so an ignored flag gives 0),
# yet stay close to f32 over 10 steps of `tiny` (loss within 1e-3 relative, gradient norm
# within 1e-2; measured up to 2.5e-5 and 4.8e-4 over 5 seeds), and the settings record says
# precision bf16.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SEED=$((RANDOM + 1))
echo "seed $SEED"
RUN=(train --model tiny --synthetic --steps 10 --seed "$SEED" --quiet)
"$GLM3D_BIN" "${RUN[@]}" --metrics "$WORK/f32.jsonl"
"$GLM3D_BIN" "${RUN[@]}" --bf16 --metrics "$WORK/bf16.jsonl"
python3 - "$WORK/f32.jsonl" "$WORK/bf16.jsonl" <<'PY' || fail "bf16 against f32"
import json, sys
f32 = [json.loads(l) for l in open(sys.argv[1])]
bf = [json.loads(l) for l in open(sys.argv[2])]
assert f32[0]["settings"]["precision"] == "f32" and bf[0]["settings"]["precision"] == "bf16", bf[0]["settings"]
assert len(f32) == len(bf) == 10
rel = lambda k, i: abs(bf[i][k] - f32[i][k]) / abs(f32[i][k])
print("%s: step 1 loss rel diff %.2e, grad norm %.2e; 10 steps: max loss %.2e, max grad norm %.2e" % (
    sys.argv[2].split("/")[-1], rel("loss", 0), rel("grad_norm", 0),
    max(rel("loss", i) for i in range(10)), max(rel("grad_norm", i) for i in range(10))))
assert rel("loss", 0) > 1e-7 and rel("grad_norm", 0) > 1e-6, "bf16 gives the f32 numbers: --bf16 ignored?"
assert max(rel("loss", i) for i in range(10)) < 1e-3, "bf16 loss too far from f32"
assert max(rel("grad_norm", i) for i in range(10)) < 1e-2, "bf16 gradient norm too far from f32"
PY
