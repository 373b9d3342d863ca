#!/usr/bin/env bash
# Stopping a job of launch/local.sh (4 ranks, tp 2 x dp 2, steps of about a second): SIGINT
# and SIGTERM sent to the script's process group, as a terminal's Ctrl-C is, make every rank
# finish its step and save: exit 0, "stopping after step K: SIGUSR1 received" (the script
# relays the signal to mpirun as SIGUSR1), a checkpoint of step K that verifies, no process of
# the job left. A second SIGINT ends the job at once (mpirun's kill: non-zero exit).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
set -m # the script gets its own process group, and SIGINT is not ignored in it
ARGS=(train --model "$GLM3D_SOURCE_DIR/tests/ckpt/stop_model.ini" --synthetic --tp 2 --dp 2 --global-batch 8
  --steps 100)

# run_local NAME SIG [SIG2] : local.sh in the background, SIG to its process group after 2
# steps (SIG2 once the ranks have taken SIG); sets RC, OUT, ERR, D.
run_local() {
  local name=$1 sig=$2 sig2=${3:-}
  OUT="$WORK/$name.out" ERR="$WORK/$name.err" D="$WORK/ck_$name"
  "$GLM3D_SOURCE_DIR/launch/local.sh" 4 "${ARGS[@]}" --save "$D" --metrics "$WORK/$name.jsonl" >"$OUT" 2>"$ERR" &
  local pid=$!
  wait_for_lines "$WORK/$name.jsonl" 2
  local t0
  t0=$(date +%s%N)
  kill -"$sig" -- -"$pid"
  if [ -n "$sig2" ]; then
    wait_for_text "$ERR" "glm3d: SIGUSR1 received"
    kill -"$sig2" -- -"$pid"
  fi
  RC=0
  wait "$pid" || RC=$?
  MS=$((($(date +%s%N) - t0) / 1000000))
  cat "$OUT" "$ERR"
  # No rank or mpirun of this job survives the script (their command lines name $D).
  ! pgrep -f -- "--save $D" >/dev/null || fail "$name: processes of the job are still running"
}

for sig in INT TERM; do
  run_local "$sig" "$sig"
  [ "$RC" -eq 0 ] || fail "SIG$sig: exit code $RC, expected 0"
  grep -qF "launch/local.sh: SIG$sig: asking every rank to finish its step" "$ERR" || fail "SIG$sig: no relay message"
  K=$(sed -n 's/^stopping after step \([0-9]*\): SIGUSR1 received$/\1/p' "$OUT")
  [ -n "$K" ] || fail "SIG$sig: no 'stopping after step K: SIGUSR1 received' line"
  [ "$(cat "$D/latest")" = "$(printf 'step_%08d.h5' "$K")" ] || fail "SIG$sig: latest is not step $K"
  "$GLM3D_BIN" ckpt verify "$D"
  echo "SIG$sig to local.sh: every rank stopped after step $K, saved, exit 0, $MS ms after the signal"
done

run_local twice INT INT
[ "$RC" -ne 0 ] || fail "SIGINT twice: exit code 0, expected the killed job's"
grep -qF "launch/local.sh: SIGINT again: ending the job now, without saving" "$ERR" || fail "SIGINT twice: no message"
echo "SIGINT twice: job ended by mpirun, exit $RC, $MS ms after the first"
echo "local.sh stop ok"
