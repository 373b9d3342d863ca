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

# diverged LAYOUT FAULT WHO : the run fails after step 4 and the message names WHO (a regex).
diverged() {
  local layout=$1 fault=$2 who=$3 tp pp dp extra
  read -r tp pp dp extra <<<"$layout"
  rm -f "$WORK/bad.jsonl"
  # shellcheck disable=SC2086
  expect_fault "${tp}x${pp}x${dp}${extra:+ $extra} --inject-fault $fault" 1 "glm3d: error: replica check after step 4" \
    120 mpirun_glm3d $((tp * pp * dp)) "${RUN[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra \
    --inject-fault "$fault" --metrics "$WORK/bad.jsonl"
  grep -qE "^glm3d: error: replica check after step 4: parameters that must be identical differ \(world ranks $who group hold different values\); the run is no longer consistent: resume from the last checkpoint$" \
    "$WORK/err" || { cat "$WORK/err"; fail "$fault: the message does not name '$who'"; }
  [ "$(grep -c "glm3d: error" "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$fault: expected one error line"; }
  grep -q "MPI_ABORT" "$WORK/err" && { cat "$WORK/err"; fail "$fault: every rank agrees, yet MPI_ABORT"; }
  [ "$(wc -l <"$WORK/bad.jsonl")" -eq 4 ] || fail "$fault: expected steps 1-4 in the metrics, no more"
}
# Rank 5 is on the last stage: its first parameter is the tied embedding (the embedding group
# 1-5 sees it, as does its dp group 5-7; the lowest world rank reports).
diverged "2 2 2" diverge@3:5 "[0-9]+ and [0-9]+ of the (embedding|dp)"
# pp 1: only the dp group holds copies of the embedding.
diverged "2 1 4 --zero 1" diverge@4:5 "1 and 5 of the dp"
# dp 1: rank 3 (tp 1, middle stage) holds a LayerNorm weight first, a tp-replicated tensor; its
# changed activations reach the other stages' tp rank 1 too, so stage 0 (ranks 0, 1) reports.
diverged "2 3 1 --pp-layers 3,3,2" diverge@3:3 "0 and 1 of the tp"
# tp 1, dp 1: only the tied embedding has a copy, on rank 0 and rank 1.
diverged "1 2 1" diverge@3:1 "0 and 1 of the embedding"
