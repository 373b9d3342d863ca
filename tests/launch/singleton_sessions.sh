#!/usr/bin/env bash
# Concurrent single-process runs (Open MPI singletons, launch/mpi_session.cpp). A long run A
# saves a checkpoint after every step while short runs B, one after another, save theirs and
# finish. Every isolated singleton is job 1 of job family 0, so before each got its own session
# directory they shared /tmp/ompi.<host>.<uid>/jf.0/1: the first to finish removed it, and A's
# next MPI_File_open failed (the sharedfp component's mmap file was gone; seen in CI as
# finetune_qlora and infer_bad_input). Asserted: every run exits 0 with every checkpoint
# verifying, no "sharedfp" or "mmap" complaint on any stderr, no session directory left behind,
# and a stale one (of a process that is gone) removed by the next run.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
export TMPDIR="$WORK/tmp" # the session directories go under TMPDIR: this test's own
mkdir -p "$TMPDIR"
ARGS=(train --model "$GLM3D_SOURCE_DIR/tests/ckpt/stop_model.ini" --synthetic --global-batch 4 --save-interval 1)
PREFIX="$TMPDIR/ompi.glm3d.$(id -u)."

# A process id that is certainly gone: a finished subshell's.
(exit 0) &
DEAD=$!
wait "$DEAD"
mkdir -p "$PREFIX$DEAD/jf.0/1/0"

"$GLM3D_BIN" "${ARGS[@]}" --steps 30 --save "$WORK/a" --metrics "$WORK/a.jsonl" >"$WORK/a.out" 2>"$WORK/a.err" &
A=$!
wait_for_lines "$WORK/a.jsonl" 1
[ ! -e "$PREFIX$DEAD" ] || fail "the stale session directory of process $DEAD was not removed"
[ -d "$PREFIX$A" ] || fail "run A has no session directory of its own ($PREFIX$A)"
b=0
while kill -0 "$A" 2>/dev/null && [ "$b" -lt 6 ]; do
  b=$((b + 1))
  "$GLM3D_BIN" "${ARGS[@]}" --steps 2 --save "$WORK/b$b" --quiet 2>"$WORK/b$b.err" ||
    { cat "$WORK/b$b.err"; fail "short run $b failed"; }
  "$GLM3D_BIN" ckpt verify "$WORK/b$b" >/dev/null || fail "short run $b: its checkpoint does not verify"
done
RC=0
wait "$A" || RC=$?
[ "$RC" -eq 0 ] || { cat "$WORK/a.err"; fail "run A: exit code $RC after $b short runs beside it"; }
[ "$b" -ge 2 ] || fail "run A finished before two short runs could overlap it ($b)"
"$GLM3D_BIN" ckpt verify "$WORK/a" >/dev/null || fail "run A: its last checkpoint does not verify"
! grep -il "sharedfp\|mmap" "$WORK"/*.err || fail "an Open MPI session-directory complaint (above)"
left=$(find "$TMPDIR" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -eq 0 ] || { ls -R "$TMPDIR"; fail "$left session entries left behind"; }
echo "run A: 30 steps, a checkpoint each, beside $b short runs; no session directory left"
