# Helpers for the checkpoint tests (sourced after tests/lib.sh).

# same_loss_text REF RUN FIRST LAST : the "loss" and "grad_norm" fields of steps FIRST..LAST are
# textually identical in the two metrics files (the JSON text is the bits the trainer printed).
same_loss_text() {
  python3 - "$@" <<'PY' || fail "losses of $2 differ from $1"
import re, sys
def fields(path):
    out = {}
    for line in open(path):
        step = int(re.search(r'"step":(\d+)', line).group(1))
        out[step] = (re.search(r'"loss":([^,}]+)', line).group(1), re.search(r'"grad_norm":([^,}]+)', line).group(1))
    return out
ref, run = fields(sys.argv[1]), fields(sys.argv[2])
lo, hi = int(sys.argv[3]), int(sys.argv[4])
assert sorted(run) == list(range(lo, hi + 1)), "steps %s" % sorted(run)
bad = [s for s in range(lo, hi + 1) if ref[s] != run[s]]
for s in range(lo, hi + 1):
    print("  step %d  straight %s  resumed %s" % (s, ref[s][0], run[s][0]))
sys.exit(1 if bad else 0)
PY
}

# close_losses REF RUN FIRST LAST TOL : |loss - ref| / ref <= TOL at steps FIRST..LAST.
close_losses() {
  python3 - "$@" <<'PY' || fail "losses of $2 are not within $5 of $1"
import json, sys
ref = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[1]))}
run = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[2]))}
lo, hi, tol = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
assert sorted(run) == list(range(lo, hi + 1)), "steps %s" % sorted(run)
worst = max(abs(run[s] - ref[s]) / abs(ref[s]) for s in run)
print("  steps %d..%d max rel diff %.2e" % (lo, hi, worst))
sys.exit(0 if worst <= tol else 1)
PY
}

# h5_attr FILE ATTR : a scalar attribute of the file root, as h5dump prints it.
h5_attr() {
  h5dump -a "/$2" "$1" | sed -n 's/^ *(0): *//p' | tr -d '"'
}
