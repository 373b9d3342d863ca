#!/usr/bin/env bash
# Bad input to glm3d generate / chat / ckpt quantize: one line on stderr and exit 2, on one rank
# and on every rank of a layout:
#   an empty prompt, an over-long prompt (naming the model's context), a text prompt without a
#   tokenizer, bad sampling options, unknown adapter formats, a truncated and a corrupted
#   quantized checkpoint (a flipped byte in one layer's int8 weight: its checksum), a quantized
#   checkpoint given to the training loader (eval), bad --bits.
source "$GLM3D_SOURCE_DIR/tests/infer/infer_lib.sh"
make_model "$WORK"
GEN=(generate --load "$WORK/ck" --tokenizer "$WORK/store")

# one_line "what" "fragment" cmd... : exit 2, the fragment on stderr, and glm3d printed one line
# there (under mpirun: one line from all ranks together; mpirun adds its own report).
one_line() {
  expect_usage_error "$@"
  [ "$(grep -c '^glm3d' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$1: not one line from glm3d"; }
  [ "$3" = mpirun_glm3d ] || [ "$(wc -l <"$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$1: more on stderr"; }
}

one_line "empty prompt" "prompt 0 is empty" "$G" "${GEN[@]}" --prompt ""
one_line "empty prompt ids" "prompt 0 is empty" "$G" "${GEN[@]}" --prompt-ids ""
long=$(seq -s, 10 80)
one_line "over-long prompt" "prompt 0 has 73 tokens (with the special tokens added); the model's context is 64 tokens (seq_len)" \
  "$G" "${GEN[@]}" --prompt-ids "$long"
one_line "over-long prompt, tp 2" "the model's context is 64 tokens" mpirun_glm3d 2 "${GEN[@]}" --prompt-ids "$long" --tp 2
one_line "text without tokenizer" "prompt 0 is text: give --tokenizer" "$G" generate --load "$WORK/ck" --prompt "hi"
one_line "bad token id" "token id 600 is outside the model's vocabulary of" "$G" "${GEN[@]}" --prompt-ids 5,600
one_line "bad top-p" "--top-p must be in (0, 1]" "$G" "${GEN[@]}" --prompt hi --top-p 1.5
one_line "bad ids" "--prompt-ids: 'x' is not a token id" "$G" "${GEN[@]}" --prompt-ids 5,x

mkdir -p "$WORK/ia3"
echo '{"peft_type": "IA3", "r": 8}' >"$WORK/ia3/adapter_config.json"
one_line "unknown PEFT type" "unknown adapter format: adapter_config.json has peft_type 'IA3'" \
  "$G" "${GEN[@]}" --prompt hi --adapter "$WORK/ia3"
one_line "unknown PEFT type, pp 2" "unknown adapter format" mpirun_glm3d 2 "${GEN[@]}" --prompt hi --adapter "$WORK/ia3" --pp 2
one_line "not an adapter directory" "no adapter_config.json: not a PEFT adapter directory" \
  "$G" "${GEN[@]}" --prompt hi --adapter "$WORK/store"
echo "not safetensors" >"$WORK/prefix.bin"
one_line "unknown P-tuning file" "--ptuning $WORK/prefix.bin: unknown adapter format: not a safetensors file" \
  "$G" "${GEN[@]}" --prompt hi --ptuning "$WORK/prefix.bin"

"$G" train --synthetic --model tiny-glm2 --steps 1 --save "$WORK/glm2" >/dev/null
one_line "ChatGLM2 prompt without special ids" "prompt 0: the ids of <sop> are unknown: give --tokenizer" \
  "$G" generate --load "$WORK/glm2" --prompt-ids 5,6,7

"$G" ckpt quantize --bits 8 --load "$WORK/ck" --out "$WORK/q8.h5" >/dev/null
head -c 20000 "$WORK/q8.h5" >"$WORK/truncated.h5"
one_line "truncated quantized checkpoint" "cannot be opened (truncated or not HDF5?)" \
  "$G" generate --load "$WORK/truncated.h5" --tokenizer "$WORK/store" --prompt hi
cp "$WORK/q8.h5" "$WORK/flipped.h5"
$SYSTEM_PYTHON - "$WORK/flipped.h5" <<'PY'
import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    d = f["params/layers.6.mlp.dense_h_to_4h.weight"]
    assert d.dtype == "int8" and d.attrs["quant"] == b"int8"
    d[3, 5] = (int(d[3, 5]) + 1) if d[3, 5] < 127 else 0
PY
one_line "corrupted quantized checkpoint" "quantized tensor 'params/layers.6.mlp.dense_h_to_4h.weight' fails its checksum" \
  "$G" generate --load "$WORK/flipped.h5" --tokenizer "$WORK/store" --prompt hi
# Layer 6 lives on the second stage only: every rank still exits 2 with one message.
one_line "corrupted quantized checkpoint, pp 2" "fails its checksum" \
  mpirun_glm3d 2 generate --load "$WORK/flipped.h5" --tokenizer "$WORK/store" --prompt hi --pp 2
"$G" data sample "$WORK/store" --count 2 --out "$WORK/s.h5" >/dev/null
one_line "quantized checkpoint in the training loader" "is quantized (kind 'quantized')" \
  "$G" eval --load "$WORK/q8.h5" --samples "$WORK/s.h5" --out "$WORK/e.h5"
one_line "quantize twice" "is already quantized" "$G" ckpt quantize --bits 4 --load "$WORK/q8.h5" --out "$WORK/x.h5"
one_line "bad bits" "--bits must be 8, 4 or nf4, got '3'" "$G" ckpt quantize --bits 3 --load "$WORK/ck" --out "$WORK/x.h5"
one_line "chat without tokenizer" "glm3d chat needs --tokenizer" "$G" chat --load "$WORK/ck"
echo "PASS"
