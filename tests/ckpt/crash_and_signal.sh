#!/usr/bin/env bash
# Crash safety and stop signals.
# 1. Rank 0 is SIGKILLed halfway through writing the step-4 checkpoint (GLM3D_TEST_CRASH_IN_SAVE):
#    `latest` still names step 2, which verifies and resumes to losses identical to a straight run;
#    the partial file is rejected; the next successful save removes it.
# 2. SIGUSR1 to mpirun (forwarded to every rank) and SIGTERM to a 1-rank run: every rank finishes
#    its step, saves, exits 0; resuming from that checkpoint matches a straight run exactly.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/ckpt/ckpt_lib.sh"
COMMON=(train --model tiny --synthetic --seed 5 --global-batch 8 --warmup-steps 2 --decay-steps 400 --quiet)
D="$WORK/crash"
mpirun_glm3d 2 "${COMMON[@]}" --dp 2 --steps 4 --metrics "$WORK/straight.jsonl"
rc=0
export GLM3D_TEST_CRASH_IN_SAVE=4 # mpirun passes the environment of its shell to local ranks
mpirun_glm3d 2 "${COMMON[@]}" --dp 2 --steps 4 --save-interval 2 --save "$D" >/dev/null 2>&1 || rc=$?
unset GLM3D_TEST_CRASH_IN_SAVE
[ "$rc" -ne 0 ] || fail "the crashing run exited 0"
[ "$(cat "$D/latest")" = "step_00000002.h5" ] || fail "latest is '$(cat "$D/latest")' after the crash"
[ ! -e "$D/step_00000004.h5" ] || fail "a step-4 checkpoint exists after the crash"
[ -e "$D/step_00000004.h5.tmp" ] || fail "no partial step-4 file: the crash hook did not fire mid-save"
expect_usage_error "partial checkpoint" "step_00000004.h5.tmp" "$GLM3D_BIN" ckpt verify "$D/step_00000004.h5.tmp"
"$GLM3D_BIN" ckpt verify "$D"
mpirun_glm3d 2 "${COMMON[@]}" --dp 2 --steps 4 --save-interval 2 --save "$D" --load "$D" --metrics "$WORK/after.jsonl"
same_loss_text "$WORK/straight.jsonl" "$WORK/after.jsonl" 3 4
[ ! -e "$D/step_00000004.h5.tmp" ] || fail "the stale partial file survived the next save"
[ "$(cat "$D/latest")" = "step_00000004.h5" ] || fail "latest does not name step 4"
echo "crash mid-save ok"

for how in "mpirun 2 USR1" "direct 1 TERM"; do
  read -r launcher n sig <<<"$how"
  S="$WORK/sig$n"
  rm -f "$WORK/sig.jsonl" "$WORK/sig_straight.jsonl" "$WORK/sig_resumed.jsonl"
  if [ "$launcher" = mpirun ]; then
    # mpirun itself in the background (not a shell function: $! must be mpirun's pid).
    mpirun --oversubscribe --bind-to none -n "$n" -x OMP_NUM_THREADS=1 "$GLM3D_BIN" "${COMMON[@]}" --dp "$n" \
      --steps 400 --save "$S" --metrics "$WORK/sig.jsonl" &
  else
    "$GLM3D_BIN" "${COMMON[@]}" --steps 400 --save "$S" --metrics "$WORK/sig.jsonl" &
  fi
  pid=$!
  wait_for_lines "$WORK/sig.jsonl" 2
  kill -"$sig" "$pid"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 0 ] || fail "SIG$sig: exit code $rc, expected 0"
  K=$(tail -1 "$WORK/sig.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["step"])')
  [ "$K" -lt 400 ] || fail "SIG$sig: the run did not stop early"
  [ "$(cat "$S/latest")" = "$(printf 'step_%08d.h5' "$K")" ] || fail "SIG$sig: latest is not step $K"
  echo "SIG$sig via $launcher: stopped after step $K and saved"
  mpirun_glm3d "$n" "${COMMON[@]}" --dp "$n" --steps $((K + 2)) --metrics "$WORK/sig_straight.jsonl"
  mpirun_glm3d "$n" "${COMMON[@]}" --dp "$n" --steps $((K + 2)) --load "$S" --metrics "$WORK/sig_resumed.jsonl"
  same_loss_text "$WORK/sig_straight.jsonl" "$WORK/sig_resumed.jsonl" $((K + 1)) $((K + 2))
done
echo "crash and signal ok"
