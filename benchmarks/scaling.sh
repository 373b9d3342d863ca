#!/usr/bin/env bash
# Weak and strong scaling on this machine at 1, 2, 4 and 8 ranks over several layouts, each run
# next to what glm3d plan --device cpu predicts for it. Writes $OUT/scaling.tsv and
# $OUT/scaling.png (measured against planned peak memory per rank; measured step time next to the
# predicted one). Ranks beyond the core count share cores, so measured times are indicative only.
#   benchmarks/scaling.sh                 (GLM3D_BIN=build/glm3d OUT=benchmarks/out MODEL=tiny SEQ=128)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${GLM3D_BIN:-$ROOT/build/glm3d}"
OUT="${OUT:-$ROOT/benchmarks/out}"
MODEL="${MODEL:-tiny}"
SEQ="${SEQ:-128}"
STEPS="${STEPS:-4}"
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
CORES=$(getconf _NPROCESSORS_ONLN) # not nproc: it honours OMP_NUM_THREADS
run_mpi() { local n=$1; shift; mpirun --oversubscribe --bind-to none -n "$n" -x OMP_NUM_THREADS=1 -x OMP_WAIT_POLICY=PASSIVE "$@"; }

# mode ranks tp pp dp global_batch
CASES=(
  "strong 1 1 1 1 8" "strong 2 1 1 2 8" "strong 2 2 1 1 8" "strong 2 1 2 1 8"
  "strong 4 2 1 2 8" "strong 4 1 2 2 8" "strong 4 2 2 1 8" "strong 8 2 2 2 8" "strong 8 1 4 2 8"
  "weak 1 1 1 1 2" "weak 2 1 1 2 4" "weak 4 1 1 4 8" "weak 8 1 1 8 16" "weak 8 2 2 2 16"
)
TSV="$OUT/scaling.tsv"
printf "mode\tranks\tlayout\tplanned_mem_mb\tmeasured_mem_mb\tplanned_step_s\tmeasured_step_s\n" >"$TSV"
for n in 1 2 4 8; do # the cpu profile as n ranks on this machine see it
  run_mpi "$n" "$BIN" bench matmul --out "$OUT/cpu_$n.json" >/dev/null
done
for c in "${CASES[@]}"; do
  read -r mode n tp pp dp gb <<<"$c"
  common=(--model "$MODEL" --tp "$tp" --pp "$pp" --dp "$dp" --virtual-stages 1 --micro-batch 1 --zero 0
          --recompute none --precision f32 --global-batch "$gb" --seq-len "$SEQ")
  rm -f "$OUT"/rss.*
  run_mpi "$n" bash -c 'exec /usr/bin/time -f "GLM3D_MAXRSS_KB %M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$OUT/rss" \
    "$BIN" train "${common[@]}" --synthetic --steps "$STEPS" --quiet --metrics "$OUT/m.jsonl" >/dev/null
  "$BIN" plan "${common[@]}" --gpus "$n" --gpus-per-node "$n" --device cpu --cpu-profile "$OUT/cpu_$n.json" \
    --json >"$OUT/plan.json"
  python3 - "$OUT/plan.json" "$OUT/m.jsonl" "$OUT/rss" "$mode" "$n" "tp$tp.pp$pp.dp$dp" >>"$TSV" <<'PY'
import glob, json, re, statistics, sys
plan = json.load(open(sys.argv[1]))
recs = [json.loads(l) for l in open(sys.argv[2])]
mem = [r["mem"]["peak_rss_bytes"] for r in recs if "mem" in r]
rss = [int(kb) * 1024 for f in glob.glob(sys.argv[3] + ".*") for kb in re.findall(r"GLM3D_MAXRSS_KB (\d+)", open(f).read())]
measured_mem = max(mem) if mem else max(rss)
steps = [r["step_time_s"] for r in recs[1:]] or [recs[0]["step_time_s"]]  # step 1 creates primitives
print("\t".join([sys.argv[4], sys.argv[5], sys.argv[6], "%.1f" % (plan["memory_per_rank_bytes"]["total"] / 1e6),
                 "%.1f" % (measured_mem / 1e6), "%.4f" % plan["step_time_s"], "%.4f" % statistics.median(steps)]))
PY
  tail -1 "$TSV"
done
column -t "$TSV"
gnuplot <<GP
set terminal pngcairo size 1300,560
set output '$OUT/scaling.png'
set datafile separator '\t'
set multiplot layout 1,2 title "glm3d plan --device cpu against measured runs ($MODEL, seq $SEQ, f32) on $CORES cores"
set title 'peak memory per rank (MB)'
set xlabel 'planned'; set ylabel 'measured (VmHWM, max over ranks)'
set key top left
plot '$TSV' every ::1 using 4:5 with points pt 7 ps 1.4 title 'layouts', x with lines dt 2 title 'measured = planned'
set title "step time (s): measured times indicative only, up to 8 ranks share $CORES cores"
set xlabel ''; set ylabel 'seconds'; set logscale y
set style data histograms; set style histogram clustered gap 1; set style fill solid 0.7 border -1
set xtics rotate by -45 font ',8'
plot '$TSV' every ::1 using 6:xtic(sprintf('%s %s', strcol(1), strcol(3))) title 'predicted', '' every ::1 using 7 title 'measured'
unset multiplot
GP
echo "wrote $TSV and $OUT/scaling.png"
