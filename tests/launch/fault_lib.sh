# Helpers for the fault tests (sourced after tests/lib.sh).

# run_timed LIMIT_S cmd... : runs cmd with stdout/stderr in $WORK/out, $WORK/err; sets RC
# and SECS (wall time). A command still running after LIMIT_S seconds is killed and the
# test fails: "never hang" is the property under test, LIMIT_S is far above the
# measured time and only bounds a broken build.
run_timed() {
  local limit=$1; shift
  local t0 t1
  if [ "$1" = mpirun_glm3d ]; then # `timeout` runs programs, not shell functions
    local n=$2; shift 2
    set -- mpirun --oversubscribe --bind-to none -n "$n" -x OMP_NUM_THREADS=1 "$GLM3D_BIN" "$@"
  fi
  t0=$(date +%s.%N)
  RC=0
  timeout --kill-after=5 "$limit" "$@" >"$WORK/out" 2>"$WORK/err" || RC=$?
  t1=$(date +%s.%N)
  SECS=$(python3 -c "print('%.1f' % ($t1 - $t0))")
  # 124: timeout's SIGTERM; 137 after the limit: its SIGKILL (137 before it is the job's own
  # code, e.g. mpirun reporting a rank killed by SIGKILL).
  if [ "$RC" -eq 124 ] || { [ "$RC" -eq 137 ] && python3 -c "import sys; sys.exit(0 if $SECS >= $limit else 1)"; }; then
    cat "$WORK/err" >&2
    fail "still running after ${limit} s: $*"
  fi
}

# expect_fault ROW CODE FRAGMENT LIMIT_S cmd... : the command exits with CODE (or any
# non-zero code for CODE=nonzero), FRAGMENT appears on stderr exactly once, and one
# summary line is printed for docs/faults.md.
expect_fault() {
  local row=$1 code=$2 fragment=$3 limit=$4; shift 4
  run_timed "$limit" "$@"
  if [ "$code" = nonzero ]; then
    [ "$RC" -ne 0 ] || { cat "$WORK/err"; fail "$row: exit code 0, expected non-zero"; }
  else
    [ "$RC" -eq "$code" ] || { cat "$WORK/err"; fail "$row: exit code $RC, expected $code"; }
  fi
  local n
  n=$(grep -cF -- "$fragment" "$WORK/err" || true)
  [ "$n" -eq 1 ] || { cat "$WORK/err"; fail "$row: '$fragment' printed $n times on stderr, expected once"; }
  echo "FAULT-ROW | $row | exit $RC | ${SECS} s | $(grep -F -- "$fragment" "$WORK/err" | head -1)"
}
