#!/usr/bin/env bash
# Stop signals in a single process, with steps of about a second (stop_model.ini), each signal
# sent to the process group as a terminal's Ctrl-C is:
# 1. SIGINT and SIGTERM while training: exit 0, "stopping after step K: SIGx received", the
#    checkpoint of step K verifies; resuming it to step K+2 gives the straight run's loss text
#    and, bit for bit, its parameters and Adam moments (every tensor checksum of step K+2).
# 2. While training (two OpenMP threads), every thread but the listener has SIGINT, SIGTERM and
#    SIGUSR1 blocked: no signal handler can run on a thread inside oneDNN (the heap corruption
#    of train/checkpoint_signal.h).
# 3. SIGTERM during start-up: exit 0, "stopping before step 1", nothing saved.
# 4. Ctrl-C twice: the process ends at once, killed by SIGINT, saying so.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/ckpt/ckpt_lib.sh"
set -m # background jobs get their own process group, and SIGINT is not ignored in them
COMMON=(train --model "$GLM3D_SOURCE_DIR/tests/ckpt/stop_model.ini" --synthetic --seed 3 --global-batch 8
  --warmup-steps 2 --decay-steps 100)

# start NAME args... : glm3d in the background (its own process group); PID, OUT, ERR set.
start() {
  OUT="$WORK/$1.out" ERR="$WORK/$1.err"
  shift
  "$GLM3D_BIN" "$@" >"$OUT" 2>"$ERR" &
  PID=$!
}
# finish : waits for PID; RC is its exit status.
finish() {
  RC=0
  wait "$PID" || RC=$?
}
# blocked_mask PID THREAD : the SigBlk mask of one thread, as a number.
blocked_mask() { echo $((16#$(sed -n 's/^SigBlk:\s*//p' "/proc/$1/task/$2/status"))); }
STOP_BITS=$(((1 << (2 - 1)) | (1 << (15 - 1)) | (1 << (10 - 1)))) # SIGINT, SIGTERM, SIGUSR1

KMAX=0
for sig in INT TERM; do
  D="$WORK/ck_$sig"
  start "$sig" "${COMMON[@]}" --steps 100 --save "$D" --metrics "$WORK/$sig.jsonl"
  wait_for_lines "$WORK/$sig.jsonl" 2
  t0=$(date +%s%N)
  kill -"$sig" -- -"$PID"
  finish
  ms=$((($(date +%s%N) - t0) / 1000000))
  cat "$OUT" "$ERR"
  [ "$RC" -eq 0 ] || fail "SIG$sig: exit code $RC, expected 0"
  K=$(sed -n "s/^stopping after step \([0-9]*\): SIG$sig received$/\1/p" "$OUT")
  [ -n "$K" ] || fail "SIG$sig: no 'stopping after step K: SIG$sig received' line"
  grep -qF "glm3d: SIG$sig received: stopping after the current step" "$ERR" || fail "SIG$sig: no message on receipt"
  [ "$(cat "$D/latest")" = "$(printf 'step_%08d.h5' "$K")" ] || fail "SIG$sig: latest is not step $K"
  last=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).readlines()[-1])["step"])' "$WORK/$sig.jsonl")
  [ "$last" = "$K" ] || fail "SIG$sig: the metrics end at step $last, not $K"
  "$GLM3D_BIN" ckpt verify "$D"
  echo "SIG$sig: stopped after step $K, saved, exit 0, $ms ms after the signal"
  [ "$K" -gt "$KMAX" ] && KMAX=$K
  eval "K_$sig=$K"
done

# 1: one straight run with a checkpoint at every step, then each stopped run resumed to K+2.
S="$WORK/straight"
"$GLM3D_BIN" "${COMMON[@]}" --steps $((KMAX + 2)) --save "$S" --save-interval 1 --metrics "$WORK/straight.jsonl" --quiet
for sig in INT TERM; do
  K=$(eval echo "\$K_$sig")
  D="$WORK/ck_$sig"
  "$GLM3D_BIN" "${COMMON[@]}" --steps $((K + 2)) --load "$D" --save "$D" --metrics "$WORK/$sig.resumed.jsonl" --quiet
  echo "SIG$sig run, steps 1..$K and resumed $((K + 1))..$((K + 2)), against the straight run:"
  same_loss_text "$WORK/straight.jsonl" "$WORK/$sig.jsonl" 1 "$K"
  same_loss_text "$WORK/straight.jsonl" "$WORK/$sig.resumed.jsonl" $((K + 1)) $((K + 2))
  f=$(printf 'step_%08d.h5' $((K + 2)))
  "$GLM3D_BIN" ckpt inspect "$S/$f" | grep checksum >"$WORK/sum_straight"
  "$GLM3D_BIN" ckpt inspect "$D/$f" | grep checksum >"$WORK/sum_resumed"
  n=$(wc -l <"$WORK/sum_straight")
  [ "$n" -gt 0 ] && cmp -s "$WORK/sum_straight" "$WORK/sum_resumed" ||
    fail "SIG$sig: the resumed step-$((K + 2)) state differs from the straight run's"
  echo "  step $((K + 2)): all $n tensor checksums (parameters, Adam m and v) identical"
done

# 3: SIGTERM as soon as the listener is up (its mask is set), long before the first step.
start early "${COMMON[@]}" --steps 100 --save "$WORK/ck_early"
for _ in $(seq 2000); do
  [ -e "/proc/$PID/status" ] && [ $(($(blocked_mask "$PID" "$PID") & STOP_BITS)) -eq "$STOP_BITS" ] && break
  sleep 0.005
done
t0=$(date +%s%N)
# To the whole process group, as a terminal's Ctrl-C: before glm3d made its singleton isolated
# (launch/mpi_session.cpp) this also killed the daemon MPI_Init forked at this moment, and
# MPI_Init failed (seen twice: exit 1, "Unable to start a daemon on the local node").
kill -TERM -- -"$PID"
finish
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$OUT" "$ERR"
echo "SIGTERM in start-up: exit $RC $ms ms after the signal"
[ "$RC" -eq 0 ] || fail "SIGTERM in start-up: exit code $RC, expected 0"
grep -q "^stopping before step 1: SIGTERM received during start-up (nothing trained, nothing saved)$" "$OUT" ||
  fail "SIGTERM in start-up: no 'stopping before step 1' line"
[ ! -e "$WORK/ck_early/latest" ] || fail "SIGTERM in start-up: a checkpoint was written"

# 2 and 4: with two OpenMP threads per process, the mask of every thread mid-training; then
# Ctrl-C, and Ctrl-C again once the first was taken.
OMP_NUM_THREADS=2 start twice "${COMMON[@]}" --steps 100 --metrics "$WORK/twice.jsonl"
wait_for_lines "$WORK/twice.jsonl" 1
threads=0 unblocked=()
for t in /proc/"$PID"/task/*; do
  threads=$((threads + 1))
  [ $(($(blocked_mask "$PID" "${t##*/}") & STOP_BITS)) -eq "$STOP_BITS" ] ||
    unblocked+=("${t##*/}:$(cat "$t/wchan")")
done
echo "$threads threads; without the stop signals blocked: ${unblocked[*]:-none}"
[ "$threads" -ge 5 ] || fail "expected at least 5 threads (main, OpenMP, listener, MPI's two), got $threads"
[ "${#unblocked[@]}" -eq 1 ] && [[ "${unblocked[0]}" == *sigtimedwait* ]] ||
  fail "threads other than the listener (in sigtimedwait) take the stop signals: ${unblocked[*]:-none}"
kill -INT -- -"$PID"
wait_for_text "$ERR" "glm3d: SIGINT received"
t0=$(date +%s%N)
kill -INT -- -"$PID"
finish
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$ERR"
[ "$RC" -eq 130 ] || fail "Ctrl-C twice: exit code $RC, expected 130 (killed by SIGINT)"
grep -qF "glm3d: SIGINT after a stop request: quitting at once, without saving" "$ERR" ||
  fail "Ctrl-C twice: no message"
! grep -q "^stopping after step" "$OUT" || fail "Ctrl-C twice: the run still finished its step"
echo "Ctrl-C twice: killed by SIGINT $ms ms after the second"
echo "stop signals ok"
