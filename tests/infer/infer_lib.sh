# Sourced by the generation shell tests: a tiny GLM trained a few steps on a token store with its
# own SentencePiece tokenizer (so text prompts, special tokens and decoding are real).
#   make_model DIR : DIR/store (tokenizer.model), DIR/ck (checkpoint), DIR/m.ini (tiny, vocab 512,
#                    context 64)
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"

make_model() {
  local d=$1
  mkdir -p "$d"
  bash "$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$d/corpus" 60 >/dev/null
  printf 'base = tiny\nvocab = 512\nseq_len = 64\n' >"$d/m.ini"
  "$G" prep --input "$d/corpus/en.txt" --out "$d/store" --train-tokenizer --vocab-size 500 \
    --character-coverage 0.98 --tokenizer-threads 1 >/dev/null
  "$G" train --model "$d/m.ini" --data "$d/store" --seq-len 64 --steps 40 --global-batch 8 --seed 7 \
    --save "$d/ck" --quiet >/dev/null
}

# ids_of FILE : the "ids: ..." line of a generate run's output.
ids_of() { grep '^ids: ' "$1" | tail -1; }
