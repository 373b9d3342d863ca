#!/usr/bin/env bash
# The first command on a fresh Debian 12 machine:
#   1. installs what is missing (apt-get) and builds glm3d (tools/setup.sh);
#   2. prepares the sample corpus (English fortunes + Chinese Tang/Song poems), trains a
#      SentencePiece tokenizer and writes the HDF5 token store (glm3d prep);
#   3. trains a small GLM on 8 simulated ranks, tp 2 x pp 2 x dp 2 under mpirun, with a
#      live progress line (step, loss, tokens/s, ETA), saving a checkpoint;
#   4. draws the loss curve (gnuplot) and prints where the metrics, the checkpoint and
#      the PNG are.
# Measured on a 2-core machine with the build done: about 2 minutes. Rerunning it starts
# the training afresh (the corpus and token store are kept). QUICKSTART_OUT (default
# quickstart-out/) is where everything goes; QUICKSTART_STEPS (default 300) the steps.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
OUT="${QUICKSTART_OUT:-$ROOT/quickstart-out}"
STEPS="${QUICKSTART_STEPS:-300}"
"$ROOT/tools/setup.sh"
G="$BUILD_DIR/glm3d"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"

if [ ! -f "$OUT/store/manifest.txt" ]; then
  echo "[quickstart] sample corpus -> tokenizer -> token store ($OUT/store)"
  "$ROOT/data/corpus/make_sample_corpus.sh" "$OUT/corpus" 400
  mpirun --oversubscribe --bind-to none -n 2 -x OMP_NUM_THREADS=1 "$G" prep \
    --input "$OUT/corpus/en.txt" "$OUT/corpus/zh.txt" --out "$OUT/store" \
    --train-tokenizer --vocab-size 4000 --shard-tokens 100000
fi

echo "[quickstart] training a small GLM (tiny, seq 64) on 8 simulated ranks: tp 2 x pp 2 x dp 2"
rm -rf "$OUT/ckpt"
"$ROOT/launch/local.sh" 8 train --model tiny --data "$OUT/store" --seq-len 64 \
  --tp 2 --pp 2 --dp 2 --global-batch 32 --micro-batch 4 --steps "$STEPS" \
  --lr 2e-3 --warmup-steps 20 --log-interval 10 \
  --metrics "$OUT/metrics.jsonl" --save "$OUT/ckpt" --save-interval 100

python3 - "$OUT/metrics.jsonl" > "$OUT/loss.dat" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line)
    if o["loss"] is not None:
        print(o["step"], o["loss"])
PY
gnuplot <<GP
set terminal png size 900,540
set output "$OUT/loss.png"
set title "glm3d quickstart: tiny GLM on the sample corpus, 2x2x2 on 8 ranks"
set xlabel "step"; set ylabel "loss (nats/token)"; set grid
plot "$OUT/loss.dat" using 1:2 with lines lw 2 title "training loss"
GP

echo
echo "[quickstart] done"
echo "  metrics     $OUT/metrics.jsonl   (one JSON object per step)"
echo "  checkpoint  $OUT/ckpt/$(cat "$OUT/ckpt/latest")   (resume: add --load $OUT/ckpt)"
echo "  loss curve  $OUT/loss.png"
