#!/usr/bin/env bash
# Non-finite steps and the GLM-130B loss-spike tools, on 4 ranks (tp 2 x dp 2):
#  1. --inject-fault nan@3 (a NaN in rank 0's gradient at step 3): step 3 is skipped and
#     counted on every rank, steps 1-3 keep the clean losses, training goes on.
#  2. --skip-iters 3-3 makes no update at step 3 either, so from step 4 on its losses
#     equal those of the NaN run bit for bit (same parameters, same data, same AdamW count).
#  3. nan@2-9 with --max-skipped 3 stops at step 4 with one clear message (exit 2 on every rank).
#  4. --embedding-grad-shrink 0.1 leaves step 1's loss and changes step 2's.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/launch/fault_lib.sh"
ARGS=(train --model tiny --synthetic --tp 2 --dp 2 --global-batch 8 --steps 6 --quiet)
mpirun_glm3d 4 "${ARGS[@]}" --metrics "$WORK/ref.jsonl"
mpirun_glm3d 4 "${ARGS[@]}" --metrics "$WORK/nan.jsonl" --inject-fault nan@3
mpirun_glm3d 4 "${ARGS[@]}" --metrics "$WORK/skip.jsonl" --skip-iters 3-3
mpirun_glm3d 4 "${ARGS[@]}" --metrics "$WORK/shrink.jsonl" --embedding-grad-shrink 0.1
python3 - "$WORK" <<'PY' || fail "skipped-step semantics"
import json, sys
def load(name):
    return {o["step"]: o for o in map(json.loads, open(sys.argv[1] + "/" + name))}
ref, nan, skip, shrink = load("ref.jsonl"), load("nan.jsonl"), load("skip.jsonl"), load("shrink.jsonl")
assert len(nan) == 6 and len(skip) == 6, "every step has a metrics line"
for s in (1, 2, 3):
    assert nan[s]["loss"] == ref[s]["loss"], "NaN run step %d loss %r != clean %r" % (s, nan[s]["loss"], ref[s]["loss"])
assert nan[3]["grad_norm"] is None, "step 3 grad norm should be non-finite (null), got %r" % nan[3]["grad_norm"]
assert [nan[s]["skipped"] for s in range(1, 7)] == [False, False, True, False, False, False]
assert [nan[s]["skipped_total"] for s in range(1, 7)] == [0, 0, 1, 1, 1, 1]
assert nan[4]["loss"] != ref[4]["loss"], "step 3's update was not skipped"
assert skip[3]["skipped"] and skip[3]["loss"] is None and skip[3]["skipped_total"] == 1
for s in (1, 2):
    assert skip[s]["loss"] == ref[s]["loss"]
for s in (4, 5, 6):
    print("step %d: clean %r  nan@3 %r  --skip-iters 3-3 %r" % (s, ref[s]["loss"], nan[s]["loss"], skip[s]["loss"]))
    assert skip[s]["loss"] == nan[s]["loss"], "step %d" % s
assert shrink[1]["loss"] == ref[1]["loss"], "the shrink must not change the forward pass"
assert shrink[1]["grad_norm"] != ref[1]["grad_norm"] and shrink[2]["loss"] != ref[2]["loss"], "shrink had no effect"
print("shrink 0.1: step 1 grad norm %r (clean %r), step 2 loss %r (clean %r)"
      % (shrink[1]["grad_norm"], ref[1]["grad_norm"], shrink[2]["loss"], ref[2]["loss"]))
PY
expect_fault loss_spike 8 \
  mpirun_glm3d 4 "${ARGS[@]}" --metrics "$WORK/stop.jsonl" --inject-fault nan@2-9 --max-skipped 3
[ "$(wc -l < "$WORK/stop.jsonl")" -eq 3 ] || fail "expected metrics for steps 1-3 before the stop"
