#!/usr/bin/env bash
# --check-replicas-interval (issue 10): parameter copies stay bitwise equal across the dp group,
# the tp group (tp-replicated tensors) and the embedding group (the tied embedding on the first
# and last stage) through 6 steps of several layouts; a rank nudged off its peers
# (--inject-fault diverge@STEP:RANK, after that step's update) is caught at the next check
# (every 2 steps: after step 4): exit 1, one `glm3d: error:` line naming the step, the group and
# two world ranks, printed once (every rank agrees, so no MPI_ABORT), and no step after the check.
# Under ZeRO-1 each step's all-gather rewrites every replica from its shard's owner, healing a
# nudge one step later, so there the fault is injected at the checked step itself.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/launch/fault_lib.sh"
RUN=(train --model tiny --synthetic --global-batch 8 --steps 6 --check-replicas-interval 2 --quiet)

# (2x2x2 without ZeRO and 2x1x4 with it pass their step-2 check in the fault runs below.)
for layout in "2 2 2 --zero 1" "2 1 4"; do
  read -r tp pp dp extra <<<"$layout"
  # shellcheck disable=SC2086
  mpirun_glm3d $((tp * pp * dp)) "${RUN[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra --metrics "$WORK/ok.jsonl" \
    || fail "$layout: replica check failed on a healthy run"
  [ "$(wc -l <"$WORK/ok.jsonl")" -eq 6 ] || fail "$layout: expected 6 steps"
  echo "ok: ${tp}x${pp}x${dp}${extra:+ $extra}: replicas equal at steps 2, 4, 6"
done

# diverged TEST LAYOUT FAULT : the run fails after step 4 with the docs/faults.md row of TEST (the
# exit code, the one message naming the two ranks and the group, no MPI_ABORT banner).
diverged() {
  local test=$1 layout=$2 fault=$3 tp pp dp extra
  read -r tp pp dp extra <<<"$layout"
  rm -f "$WORK/bad.jsonl"
  # shellcheck disable=SC2086
  expect_fault "$test" 10 mpirun_glm3d $((tp * pp * dp)) "${RUN[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra \
    --inject-fault "$fault" --metrics "$WORK/bad.jsonl"
  [ "$(wc -l <"$WORK/bad.jsonl")" -eq 4 ] || fail "$fault: expected steps 1-4 in the metrics, no more"
}
# Rank 5 is on the last stage: its first parameter is the tied embedding (the embedding group
# 1-5 sees it, as does its dp group 5-7; the lowest world rank, 1, reports).
diverged replicas_222 "2 2 2" diverge@3:5
# pp 1: only the dp group holds copies of the embedding.
diverged replicas_214_zero "2 1 4 --zero 1" diverge@4:5
# dp 1: rank 3 (tp 1, middle stage) holds a LayerNorm weight first, a tp-replicated tensor; its
# changed activations reach the other stages' tp rank 1 too, so stage 0 (ranks 0, 1) reports.
diverged replicas_231 "2 3 1 --pp-layers 3,3,2" diverge@3:3
# tp 1, dp 1: only the tied embedding has a copy, on rank 0 and rank 1.
diverged replicas_121 "1 2 1" diverge@3:1
echo "replicas ok"
