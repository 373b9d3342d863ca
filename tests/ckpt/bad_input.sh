#!/usr/bin/env bash
# Bad checkpoints and mismatches: one clear line naming the file and the field, exit code 2, on
# every rank (2-rank runs: a rank that failed alone would abort with a different message).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
M=(mpirun --oversubscribe --bind-to none -n 2 -x OMP_NUM_THREADS=1 "$G")
T=(train --model tiny --synthetic --quiet --tp 2)
"${M[@]}" "${T[@]}" --steps 1 --save "$WORK/good"
CK="$WORK/good/step_00000001.h5"

expect_usage_error "missing checkpoint" "checkpoint $WORK/nothing.h5 does not exist" "${M[@]}" "${T[@]}" --steps 2 --load "$WORK/nothing.h5"
mkdir "$WORK/nolatest"
cp "$CK" "$WORK/nolatest/"
expect_usage_error "directory without latest but with step files" \
  "no \`latest\` in $WORK/nolatest, but it holds step_00000001.h5: pass one of them" \
  "${M[@]}" "${T[@]}" --steps 2 --load "$WORK/nolatest"

cp "$CK" "$WORK/truncated.h5"
truncate -s $(($(stat -c %s "$CK") / 2)) "$WORK/truncated.h5"
expect_usage_error "truncated checkpoint" "checkpoint $WORK/truncated.h5 cannot be opened (truncated" \
  "${M[@]}" "${T[@]}" --steps 2 --load "$WORK/truncated.h5"

# Overwrite 16 bytes in the middle of one tensor's raw data (its file offset from h5dump).
TENSOR=/params/layers.3.mlp.dense_h_to_4h.weight
OFFSET=$(h5dump -p -H -d "$TENSOR" "$CK" | sed -n 's/^ *OFFSET *\([0-9]*\).*/\1/p' | head -1)
[ -n "$OFFSET" ] || fail "no storage offset for $TENSOR"
cp "$CK" "$WORK/corrupt.h5"
printf 'GLM3D-CORRUPTED!' | dd of="$WORK/corrupt.h5" bs=1 seek=$((OFFSET + 4096)) conv=notrunc status=none
expect_usage_error "corrupted checkpoint (train)" \
  "checkpoint $WORK/corrupt.h5: tensor 'params/layers.3.mlp.dense_h_to_4h.weight' fails its checksum" \
  "${M[@]}" "${T[@]}" --steps 2 --load "$WORK/corrupt.h5"
expect_usage_error "corrupted checkpoint (verify)" "fails its checksum" "$G" ckpt verify "$WORK/corrupt.h5"

printf 'base = tiny\nhidden = 128\n' >"$WORK/wide.ini"
expect_usage_error "config mismatch" "checkpoint $CK: model config mismatch: hidden: 64 in the checkpoint, 128 requested" \
  "${M[@]}" train --model "$WORK/wide.ini" --synthetic --steps 2 --quiet --tp 2 --load "$WORK/good"

# Two token stores with different tokenizers of the same vocabulary size.
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/c1" 120 >/dev/null
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/c2" 60 >/dev/null
"$G" prep --input "$WORK/c1/en.txt" --out "$WORK/storeA" --train-tokenizer --vocab-size 1000 >/dev/null
"$G" prep --input "$WORK/c2/en.txt" --out "$WORK/storeB" --train-tokenizer --vocab-size 1000 >/dev/null
D=(train --model tiny --seq-len 32 --quiet --tp 2)
"${M[@]}" "${D[@]}" --data "$WORK/storeA" --steps 1 --save "$WORK/onA"
expect_usage_error "tokenizer mismatch (train)" "checkpoint $WORK/onA/step_00000001.h5: field tokenizer_sha256 is" \
  "${M[@]}" "${D[@]}" --data "$WORK/storeB" --steps 2 --load "$WORK/onA"
"$G" data sample "$WORK/storeB" --count 2 --seq-len 32 --out "$WORK/samplesB.h5" >/dev/null
expect_usage_error "tokenizer mismatch (eval)" "but sample file $WORK/samplesB.h5 was made with tokenizer" \
  "${M[@]}" eval --load "$WORK/onA" --samples "$WORK/samplesB.h5" --out "$WORK/e.h5" --tp 2
echo "bad input ok"
