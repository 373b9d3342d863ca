# Helpers for the shell tests (sourced). GLM3D_BIN and GLM3D_SOURCE_DIR come from ctest.
set -eEuo pipefail
# A command that ends the test through set -e says which one it was (inherited by functions).
trap 'echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: exit $? from: $BASH_COMMAND" >&2' ERR
: "${GLM3D_BIN:?GLM3D_BIN must point at the glm3d binary}"
# One thread per process and passive OpenMP waiting: ctest runs tests in parallel and
# mpirun oversubscribes the cores; spinning OpenMP threads would starve each other.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# Debian's python, which has python3-h5py and python3-numpy (tools/setup.sh); the python3 on
# PATH may be another one (pyenv) without them. Plain json/math checks use python3.
SYSTEM_PYTHON=/usr/bin/python3

# mpirun_glm3d N args... : N ranks of glm3d on this machine.
mpirun_glm3d() {
  local n=$1; shift
  mpirun --oversubscribe --bind-to none -n "$n" -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE "$GLM3D_BIN" "$@"
}

# json_field FILE STEP FIELD : a numeric field of the metrics line of step STEP.
json_field() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["step"] == int(sys.argv[2]):
        print(repr(o[sys.argv[3]])); break
else:
    sys.exit("no step %s in %s" % (sys.argv[2], sys.argv[1]))
PY
}

# expect_exit CODE out|err "what" "fragment" cmd... : exit code CODE and the fragment on
# stdout (out) or stderr (err); both streams are left in $WORK/out and $WORK/err.
expect_exit() {
  local code=$1 stream=$2 what=$3 fragment=$4; shift 4
  local rc=0
  "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" -eq "$code" ] || { cat "$WORK/err"; fail "$what: exit code $rc, expected $code"; }
  grep -qF -- "$fragment" "$WORK/$stream" || { cat "$WORK/$stream"; fail "$what: std$stream lacks '$fragment'"; }
  echo "ok: $what -> $(head -1 "$WORK/$stream")"
}

# expect_usage_error "what" "message fragment" cmd... : exit code 2 and the fragment on stderr.
expect_usage_error() { expect_exit 2 err "$@"; }

# wait_for_lines FILE N : until FILE has at least N lines (a metrics file: N steps done).
wait_for_lines() {
  for _ in $(seq 6000); do
    [ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "no progress in $1"
}

# wait_for_text FILE TEXT : until FILE contains TEXT (fixed string).
wait_for_text() {
  for _ in $(seq 6000); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "'$2' never appeared in $1"
}

# compare_losses REF RUN LABEL STEPS [GRAD_NORM_TOL] : metrics file RUN against REF: STEPS steps
# each, losses within 1e-5 relative at every step (the layout-invariance bound) and, when given,
# gradient norms within GRAD_NORM_TOL relative. Prints the largest differences.
compare_losses() {
  python3 - "$@" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
run = [json.loads(l) for l in open(sys.argv[2])]
assert len(ref) == len(run) == int(sys.argv[4]), (len(ref), len(run))
loss = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(ref, run))
gn = max(abs(a["grad_norm"] - b["grad_norm"]) / abs(a["grad_norm"]) for a, b in zip(ref, run))
print("layout %-24s loss max rel diff %.2e  grad-norm %.2e" % (sys.argv[3], loss, gn))
gn_tol = float(sys.argv[5]) if len(sys.argv) > 5 else float("inf")
sys.exit(0 if loss <= 1e-5 and gn <= gn_tol else 1)
PY
}
