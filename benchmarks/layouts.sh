#!/usr/bin/env bash
# Per-layout step time on 8 simulated ranks, split into compute, pipeline bubble (time
# blocked on pipeline neighbours) and gradient-communication wait, next to the theoretical
# bubble (p-1)/(m+p-1) of 1F1B and (p-1)/(V*m+p-1) of interleaved 1F1B. Rank 0's view,
# mean over steps 3..STEPS. Timings on an oversubscribed 2-core machine are indicative only:
# compare ratios within one run.
#   benchmarks/layouts.sh [STEPS]      (needs build/glm3d)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${GLM3D_BIN:-$ROOT/build/glm3d}"
STEPS="${1:-6}"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cat > "$WORK/model.ini" <<'INI'
base = tiny
hidden = 256
ffn_hidden = 512
seq_len = 128
INI
printf "%-34s %8s %9s %9s %9s %8s %8s\n" layout step_s compute_s bubble_s comm_s bubble% theory%
for layout in "1 1 8" "8 1 1" "1 8 1" "2 2 2" "2 4 1" "4 1 2" "1 8 1 --schedule gpipe" \
              "1 2 4 --schedule interleaved --virtual-stages 2" "2 2 2 --zero 1"; do
  read -r tp pp dp extra <<<"$layout"
  # shellcheck disable=SC2086
  mpirun --oversubscribe --bind-to none -n 8 -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE "$BIN" train \
    --model "$WORK/model.ini" --synthetic --steps "$STEPS" --global-batch 16 --quiet \
    --tp "$tp" --pp "$pp" --dp "$dp" $extra --metrics "$WORK/m.jsonl" >/dev/null
  python3 - "$WORK/m.jsonl" "$tp" "$pp" "$dp" "$extra" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][2:]
tp, pp, dp, extra = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5].split()
V = int(extra[extra.index("--virtual-stages") + 1]) if "--virtual-stages" in extra else 1
m = 16 // dp
theory = (pp - 1) / (V * m + pp - 1)
mean = lambda k: sum(r[k] for r in rows) / len(rows)
st = mean("step_time_s")
name = "%dx%dx%d %s" % (tp, pp, dp, " ".join(extra))
print("%-34s %8.3f %9.3f %9.3f %9.3f %7.1f%% %7.1f%%" % (name, st, mean("compute_s"), mean("bubble_s"),
      mean("comm_wait_s"), 100 * mean("bubble_s") / st, 100 * theory))
PY
done
