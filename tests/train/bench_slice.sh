#!/usr/bin/env bash
# `glm3d bench slice` (one rank's shard of a model, its tp peers stood in for): its report
# against closed forms of `small` (hidden 768, 12 heads, GeLU FFN 3072, seq 512) at tp 2:
#  - parameters of one tp-rank layer: qkv 3H/tp x H + 3H/tp, dense H x H/tp + H, FFN in
#    F/tp x H + F/tp, FFN out H x F/tp + H, two LayerNorms 4H = 3,546,240;
#  - model state: bf16 weights 2 + f32 gradients 4 + master and Adam m, v 12/dp bytes per
#    parameter (f32: 16), the planned figure within 0.1% of the allocated one;
#  - tp traffic: two all-reduces of [N, H] f32 per layer in forward and two in backward, two
#    more under --recompute full (the forward rerun);
#  - activations held per layer: the planned figure within 10% of the measured one;
#  - the sequence length reported is the one run (the model's without --seq-len).
# Times are not asserted (benchmarks/ holds speed).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
slice() { # name args...: one slice run, its JSON report in $WORK/name.json
  local name=$1
  shift
  "$GLM3D_BIN" bench slice --model small --tp 2 --layers 2 --micro-batch 1 --steps 1 "$@" \
    --json "$WORK/$name.json" >"$WORK/$name.out" || fail "bench slice $name"
}
slice bf16-full --seq-len 256 --precision bf16 --recompute full
slice f32-none --seq-len 256 --precision f32 --recompute none
slice zero --seq-len 256 --precision bf16 --recompute selective --zero --dp 4
slice model-seq --precision bf16 --recompute full
grep -q "seq 512," "$WORK/model-seq.out" || fail "the report names seq $(grep -o 'seq [0-9]*' "$WORK/model-seq.out")"
python3 - "$WORK" <<'PY' || fail "bench slice report"
import json, sys
H, F, tp, layers = 768, 3072, 2, 2
per_layer = (3 * H // tp * H + 3 * H // tp) + (H * H // tp + H) + (F // tp * H + F // tp) + (H * F // tp + H) + 4 * H
want_params = layers * per_layer
bad = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        bad.append(what)
for name, seq, state_bytes, allreduces in [("bf16-full", 256, 18, 6), ("f32-none", 256, 16, 4),
                                           ("zero", 256, 6 + 12 / 4, 4), ("model-seq", 512, 18, 6)]:
    r = json.load(open(f"{sys.argv[1]}/{name}.json"))
    check(r["params"] == want_params, f"{name}: params {r['params']} == {want_params}")
    check(r["seq_len"] == seq, f"{name}: seq_len {r['seq_len']} == {seq}")
    per_param = r["model_state_bytes"] / r["params"]
    check(state_bytes <= per_param <= state_bytes * 1.01,
          f"{name}: model state {per_param:.4f} bytes/param in [{state_bytes}, +1%]")
    planned = r["planned_model_state_bytes"]
    check(abs(planned - r["model_state_bytes"]) <= 1e-3 * r["model_state_bytes"],
          f"{name}: planned model state {planned} within 0.1% of {r['model_state_bytes']}")
    tp_bytes = allreduces * layers * seq * H * 4
    check(r["tp_bytes_per_step"] == tp_bytes, f"{name}: tp bytes {r['tp_bytes_per_step']} == {tp_bytes}")
    act, plan = r["activation_bytes_per_layer"], r["planned_activation_bytes_per_layer"]
    check(act > 0 and abs(plan - act) <= 0.1 * act, f"{name}: activations {act} planned {plan} within 10%")
    check(r["peak_rss_bytes"] > r["model_state_bytes"], f"{name}: peak RSS above the model state")
sys.exit(1 if bad else 0)
PY
