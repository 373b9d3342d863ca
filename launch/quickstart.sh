#!/usr/bin/env bash
# The first command on a fresh Debian 12 machine:
#   1. installs what is missing (apt-get) and builds glm3d (tools/setup.sh, the glm3d target only);
#   2. prepares the sample corpus (English fortunes + Chinese Tang/Song poems), trains a
#      SentencePiece tokenizer and writes the HDF5 token store, holding 5% of the documents out
#      as validation data (glm3d prep --valid-fraction), and prints its unigram entropy
#      (glm3d data stats): the loss of a model that ignores context;
#   3. trains the `quickstart` GLM (2 layers, hidden 128) on 8 simulated ranks, tp 2 x pp 2 x dp 2
#      under mpirun, with a live progress line (step, loss, validation loss, tokens/s, ETA),
#      saving a checkpoint;
#   4. draws training and validation loss (gnuplot), checks that the validation loss ended at
#      least 0.5 nat below the unigram entropy of both stores (exit 1 if not), and lets the trained
#      checkpoint continue a prompt and fill a [MASK] (glm3d generate).
# Measured on the 2-core development machine: README.md, "Two commands". Rerunning it starts
# the training afresh (the corpus and token store are kept). QUICKSTART_OUT (default
# quickstart-out/) is where everything goes; QUICKSTART_STEPS (default 300) the steps.
# Only Debian packages and awk/gnuplot: no Python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BUILD_DIR="${BUILD_DIR:-$ROOT/build}"
OUT="${QUICKSTART_OUT:-$ROOT/quickstart-out}"
STEPS="${QUICKSTART_STEPS:-300}"
MIN_GAP=0.5 # nats the validation loss must end below the unigram entropy
GLM3D_BUILD_TARGETS="${GLM3D_BUILD_TARGETS:-glm3d}" "$ROOT/tools/setup.sh"
G="$BUILD_DIR/glm3d"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"

if [ ! -f "$OUT/store/valid/manifest.txt" ]; then
  echo "[quickstart] sample corpus -> tokenizer -> token store ($OUT/store, validation: $OUT/store/valid)"
  rm -rf "$OUT/store"
  "$ROOT/data/corpus/make_sample_corpus.sh" "$OUT/corpus" 400
  mpirun --oversubscribe --bind-to none -n 2 -x OMP_NUM_THREADS=1 "$G" prep \
    --input "$OUT/corpus/en.txt" "$OUT/corpus/zh.txt" --out "$OUT/store" \
    --train-tokenizer --vocab-size 4000 --shard-tokens 100000 --valid-fraction 0.05
fi
# `key value` lines (glm3d data stats); the unigram entropy is the second field of its line.
entropy_of() { "$G" data stats "$1" | awk '$1 == "unigram_entropy" { print $2 }'; }
H_TRAIN=$(entropy_of "$OUT/store")
H_VALID=$(entropy_of "$OUT/store/valid")
echo "[quickstart] unigram entropy: training store $H_TRAIN, validation store $H_VALID nats/token"

echo "[quickstart] training the quickstart GLM (2 layers, hidden 128, seq 64) on 8 simulated ranks: tp 2 x pp 2 x dp 2"
rm -rf "$OUT/ckpt" "$OUT/metrics.jsonl"
"$ROOT/launch/local.sh" 8 train --model quickstart --data "$OUT/store" --seq-len 64 \
  --tp 2 --pp 2 --dp 2 --global-batch 32 --micro-batch 4 --steps "$STEPS" \
  --lr 2e-3 --warmup-steps 20 --log-interval 10 \
  --eval-data "$OUT/store/valid" --eval-interval 25 --eval-samples 64 \
  --metrics "$OUT/metrics.jsonl" --save "$OUT/ckpt" --save-interval 100

# metrics.jsonl -> "step loss" columns (docs/metrics.md: one JSON object per step; "eval_loss" on
# evaluation steps). The keys are matched with their quotes, so "loss" never matches "eval_loss".
awk -v train="$OUT/loss.dat" -v valid="$OUT/eval_loss.dat" '
  function num(key,   v) { if (!match($0, "\"" key "\":-?[0-9.]+([eE][-+]?[0-9]+)?")) return ""
                           v = substr($0, RSTART, RLENGTH); sub(/^[^:]*:/, "", v); return v }
  { s = num("step"); if (s == "") next
    l = num("loss"); if (l != "") print s, l > train
    e = num("eval_loss"); if (e != "") print s, e > valid }' "$OUT/metrics.jsonl"
FINAL_EVAL=$(tail -n 1 "$OUT/eval_loss.dat" | awk '{ printf "%.4f", $2 }')
gnuplot <<GP
set terminal png size 900,540
set output "$OUT/loss.png"
set title "glm3d quickstart: 2-layer GLM on the sample corpus, tp 2 x pp 2 x dp 2 on 8 ranks"
set xlabel "step"; set ylabel "loss (nats/token)"; set grid
plot "$OUT/loss.dat" using 1:2 with lines lw 2 title "training loss", \
     "$OUT/eval_loss.dat" using 1:2 with linespoints lw 2 pt 7 title "validation loss", \
     $H_TRAIN with lines dt 2 lw 2 title "unigram entropy of the training store"
GP

echo
echo "[quickstart] final validation loss $FINAL_EVAL nats/token; unigram entropy $H_TRAIN (training store), $H_VALID (validation store)"
if ! awk -v e="$FINAL_EVAL" -v a="$H_TRAIN" -v b="$H_VALID" -v g="$MIN_GAP" \
  'BEGIN { m = a < b ? a : b; printf "[quickstart] %.3f nats below the smaller unigram entropy\n", m - e; exit !(m - e >= g) }'; then
  echo "[quickstart] FAILED: the model did not learn: the validation loss should end at least $MIN_GAP nat below the unigram entropy" >&2
  exit 1
fi

CK="$OUT/ckpt"
echo
echo "[quickstart] what the trained model says (glm3d generate --load $CK --tokenizer $OUT/store ...)"
echo "  (a 0.9M-parameter model after a few minutes: words and punctuation of the corpus, not yet sense)"
echo "  continuation of \"The best way to\":"
printf '    '
"$G" generate --load "$CK" --tokenizer "$OUT/store" --prompt "The best way to" \
  --max-new-tokens 40 --top-p 0.9 --seed 1
echo
echo "  filling the [MASK] of \"A computer is a [MASK] that never forgets.\":"
printf '    '
"$G" generate --load "$CK" --tokenizer "$OUT/store" --prompt "A computer is a [MASK] that never forgets." \
  --max-new-tokens 16 --top-p 0.9 --seed 1

echo
echo "[quickstart] done"
echo "  metrics     $OUT/metrics.jsonl   (one JSON object per step; eval_loss every 25 steps)"
echo "  checkpoint  $CK/$(cat "$CK/latest")   (resume: add --load $CK; talk: glm3d generate --load $CK --tokenizer $OUT/store --prompt ...)"
echo "  loss curve  $OUT/loss.png"
