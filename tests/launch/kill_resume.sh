#!/usr/bin/env bash
# A rank SIGKILLed mid-training (2x2x2 on 8 ranks, checkpoints every 2 steps): the job
# must end within seconds (limit and code from docs/faults.md), and rerunning the same command with --load resumes from the
# latest checkpoint (step 4) with the losses of an uninterrupted run, bit for bit.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/launch/fault_lib.sh"
ARGS=(train --model tiny --synthetic --tp 2 --pp 2 --dp 2 --global-batch 8 --steps 8 --quiet)
mpirun_glm3d 8 "${ARGS[@]}" --metrics "$WORK/ref.jsonl"

expect_fault kill_resume 12 \
  mpirun_glm3d 8 "${ARGS[@]}" --save "$WORK/ck" --save-interval 2 --inject-fault kill@6:2
[ -f "$WORK/ck/step_00000004.h5" ] || { ls -la "$WORK/ck"; fail "no checkpoint of step 4"; }
[ ! -e "$WORK/ck/step_00000006.h5" ] || fail "a checkpoint of step 6 exists although rank 2 died before it"

mpirun_glm3d 8 "${ARGS[@]}" --save "$WORK/ck" --save-interval 2 --load "$WORK/ck" --metrics "$WORK/resumed.jsonl"
python3 - "$WORK/ref.jsonl" "$WORK/resumed.jsonl" <<'PY' || fail "resumed losses differ from the uninterrupted run"
import json, sys
ref = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[1]))}
got = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[2]))}
assert min(got) == 5, "resumed at step %d, expected 5 (after the step-4 checkpoint)" % min(got)
for s in range(5, 9):
    print("step %d: uninterrupted %r resumed %r" % (s, ref[s], got[s]))
    assert ref[s] == got[s], "step %d" % s
PY
