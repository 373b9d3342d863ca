# Helpers for the fault tests (sourced after tests/lib.sh). The expected exit code and
# message of each fault come from its row of docs/faults.md, so the table and the tests
# cannot drift apart.

# run_timed LIMIT_S cmd... : runs cmd with stdout/stderr in $WORK/out, $WORK/err; sets RC
# and SECS (wall time). A command still running after LIMIT_S seconds is killed and the
# test fails: "never hang" is the property under test. LIMIT_S is a few seconds above the
# times measured on the 2-core test machine under a parallel ctest run (docs/faults.md).
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
    fail "still running after ${limit} s (measured times in docs/faults.md): $*"
  fi
}

# expect_fault TEST LIMIT_S cmd... : runs cmd (bounded by LIMIT_S) and checks it against
# the row of docs/faults.md that names TEST (`fault_corrupt_shard`, `kill_resume`, ...):
#  - the exit code is exactly the documented one;
#  - exactly one stderr line matches the documented message in full; in the table `<tmp>`
#    stands for the test's temporary directory, `<src>:<line>` for a source location,
#    `<n>` for a number and `<host>` for the node name;
#  - a `glm3d: error...` message is the only line on stderr that starts `glm3d: error`
#    (one rank prints, on one line), a `glm3d: hang: rank R ...` one the only line of rank R;
#  - a `glm3d: error: ...` message (every rank failed and agreed) comes without Open MPI's
#    `MPI_ABORT was invoked` banner: the job ended through MPI_Finalize, not MPI_Abort;
#  - in rows that end in MPI_Abort, identical stderr lines count once (Open MPI repeats some
#    lines when several ranks abort at once; docs/faults.md, Notes).
# FRAGMENT=TEXT instead only requires the `glm3d: error: ` line to contain TEXT (for a
# message that is being reworded). Prints "FAULT-ROW | TEST | exit | seconds | message".
expect_fault() {
  local test=$1 limit=$2; shift 2
  local code
  code=$(fault_doc "$test" code)
  run_timed "$limit" "$@"
  [ "$RC" -eq "$code" ] || { cat "$WORK/err"; fail "$test: exit code $RC, expected $code (docs/faults.md)"; }
  python3 - "$GLM3D_SOURCE_DIR/docs/faults.md" "$test" "$WORK/err" "$WORK" "${FRAGMENT:-}" <<'PY' ||
import re, sys
sys.path.insert(0, sys.argv[1].rsplit("/", 2)[0] + "/tests/launch")
from fault_doc import doc_row
code, message = doc_row(sys.argv[1], sys.argv[2])
lines = open(sys.argv[3], errors="replace").read().splitlines()
if not message.startswith("glm3d: error: "):
    # Rows that end in MPI_Abort: when several ranks abort at once (the watchdog), Open MPI
    # 4.1's mpirun logs "ORTE_ERROR_LOG: Data unpack had inadequate space" and repeats some
    # ranks' lines verbatim, so identical lines count once there (never for agreed errors).
    lines = list(dict.fromkeys(lines))
work, fragment = sys.argv[4], sys.argv[5]
placeholders = {"<tmp>": re.escape(work), "<src>:<line>": r"/\S+:\d+", "<n>": r"\d+(\.\d+)?", "<host>": r"\S+"}
pattern = "".join(placeholders.get(p, re.escape(p)) for p in re.split(r"(<tmp>|<src>:<line>|<n>|<host>)", message))
if fragment:
    assert message.startswith("glm3d: error: "), "FRAGMENT is for glm3d: error: rows"
    pattern = r"glm3d: error: .*" + re.escape(fragment) + ".*"
hits = [l for l in lines if re.fullmatch(pattern, l)]
assert len(hits) == 1, "%d stderr lines match the documented message, expected 1:\n  %s" % (len(hits), message)
anchor = re.match(r"glm3d: error|glm3d: hang: rank \d+ |mpirun noticed", message)
if anchor:
    same = [l for l in lines if l.startswith(anchor.group(0))]
    assert len(same) == 1, "%d stderr lines start with '%s', expected 1" % (len(same), anchor.group(0))
if message.startswith("glm3d: error: "):
    assert not any("MPI_ABORT was invoked" in l for l in lines), "MPI_ABORT banner although every rank agreed"
print(hits[0])
PY
    { cat "$WORK/err"; fail "$test: stderr does not match its row of docs/faults.md"; }
  echo "FAULT-ROW | $test | exit $RC | ${SECS} s (limit ${limit} s) | $(fault_doc "$test" message)"
}

# fault_doc TEST code|message : that field of TEST's row in docs/faults.md.
fault_doc() {
  python3 - "$GLM3D_SOURCE_DIR/docs/faults.md" "$1" "$2" <<'PY'
import sys
sys.path.insert(0, sys.argv[1].rsplit("/", 2)[0] + "/tests/launch")
from fault_doc import doc_row
code, message = doc_row(sys.argv[1], sys.argv[2])
print(code if sys.argv[3] == "code" else message)
PY
}
