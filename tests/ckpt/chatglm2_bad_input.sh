#!/usr/bin/env bash
# Bad ChatGLM2/3 input to glm3d ckpt import/export (docs/faults.md, "Bad input to ckpt import and
# export"): each is refused with exit 2 and exactly one line `glm3d: error: ...` naming the
# tensor, field or file, and leaves neither the output nor its .tmp behind.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
FIX=("$SYSTEM_PYTHON" "$GLM3D_SOURCE_DIR/tests/ckpt/chatglm2_fixture.py")
OUT="$WORK/out.h5"

# refused "what" "message" cmd... : exit 2, one error line holding the message, no output written.
refused() {
  local what=$1 message=$2; shift 2
  expect_usage_error "$what" "glm3d: error: $message" "$@"
  [ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$what: not exactly one error line"; }
  [ ! -e "$OUT" ] && [ ! -e "$OUT.tmp" ] || fail "$what: left $OUT or $OUT.tmp"
}
# edit_config DIR JSON : merges JSON into DIR/config.json (null removes a field).
edit_config() {
  "$SYSTEM_PYTHON" - "$1/config.json" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
for k, v in json.loads(sys.argv[2]).items():
    c.pop(k) if v is None else c.__setitem__(k, v)
json.dump(c, open(sys.argv[1], "w"))
PY
}
fixture() { rm -rf "$WORK/hf"; "${FIX[@]}" make "$WORK/hf" 3 tiny "$@"; }
import_hf() { "$G" ckpt import --from chatglm2-6b --out "$OUT" "$WORK/hf"; }

refused "unknown --from" "--from expects chatglm-6b, chatglm2-6b or chatglm3-6b, got 'chatglm-9b'" \
  "$G" ckpt import --from chatglm-9b --out "$OUT" "$WORK"
refused "not a directory" "$WORK/nowhere is not a directory" \
  "$G" ckpt import --from chatglm2-6b --out "$OUT" "$WORK/nowhere"

L1=transformer.encoder.layers.1
fixture --drop "$L1.mlp.dense_4h_to_h.weight"
refused "missing tensor" "$WORK/hf: missing tensor '$L1.mlp.dense_4h_to_h.weight' (config.json: 2 layers)" import_hf

fixture
edit_config "$WORK/hf" '{"ffn_hidden_size": 40}'
refused "wrong shape" "$WORK/hf/model-00001-of-00003.safetensors: tensor 'transformer.encoder.layers.0.mlp.dense_h_to_4h.weight' has shape [96,64], config.json makes it [80,64]" import_hf

fixture --extra "$L1.self_attention.rotary.weight"
refused "unexpected tensor" "$WORK/hf/model-00003-of-00003.safetensors: unexpected tensor '$L1.self_attention.rotary.weight' (not part of the ChatGLM2-6B model config.json describes)" import_hf
fixture
edit_config "$WORK/hf" '{"num_layers": 1}'
refused "fewer layers than the tensors" "$WORK/hf/model-00003-of-00003.safetensors: unexpected tensor '$L1.input_layernorm.weight' (not part of the ChatGLM2-6B model config.json describes)" import_hf

fixture
edit_config "$WORK/hf" '{"apply_residual_connection_post_layernorm": true}'
refused "residual after the norm" "$WORK/hf/config.json: apply_residual_connection_post_layernorm is true (residual taken after the layer norm); glm3d's ChatGLM2 layer adds the residual before it (x + f(norm(x)))" import_hf
edit_config "$WORK/hf" '{"apply_residual_connection_post_layernorm": false, "rmsnorm": "yes"}'
refused "config value of the wrong type" "$WORK/hf/config.json: field 'rmsnorm' must be true or false, got \"yes\"" import_hf
edit_config "$WORK/hf" '{"rmsnorm": true, "multi_query_group_num": 3}'
refused "groups that do not divide the heads" "$WORK/hf/config.json: multi_query_group_num 3 must divide num_attention_heads 4" import_hf
edit_config "$WORK/hf" '{"multi_query_group_num": 2, "padded_vocab_size": null}'
refused "missing config field" "$WORK/hf/config.json: missing integer field 'padded_vocab_size'" import_hf

fixture --inv-freq-base 500000
refused "rotary buffer of another base" "$WORK/hf/model-00003-of-00003.safetensors: transformer.rotary_pos_emb.inv_freq[1] is 0.037606, glm3d's RoPE uses 0.1 (1 / 10000^(2i / (head_dim / 2)), head_dim from config.json)" import_hf

fixture
rm "$WORK/hf/model-00003-of-00003.safetensors"
refused "index naming a missing shard" "$WORK/hf/model.safetensors.index.json puts tensor '" import_hf
grep -qF "in model-00003-of-00003.safetensors, which is not in $WORK/hf" "$WORK/err" || fail "missing shard not named"

rm -rf "$WORK/hf" && mkdir "$WORK/hf" && cp "$GLM3D_SOURCE_DIR/tests/ckpt/chatglm2_fixture.py" "$WORK/hf/pytorch_model-00001-of-00001.bin"
refused "PyTorch shards only" "$WORK/hf holds PyTorch *.bin shards but no *.safetensors: convert each shard first" import_hf

# Export: a model the format cannot hold is refused before anything is written.
"$G" train --model tiny --synthetic --steps 1 --global-batch 2 --save "$WORK/tiny" --quiet
OUT="$WORK/exported"
refused "export of another architecture" "model 'tiny' cannot be written as ChatGLM2-6B: residual is deepnorm, ChatGLM2-6B needs prenorm" \
  "$G" ckpt export "$WORK/tiny" --to chatglm2-6b --out "$OUT"
fixture
"$G" ckpt import --from chatglm2-6b --out "$WORK/glm2.h5" "$WORK/hf" >/dev/null
refused "ChatGLM2 exported as ChatGLM-6B" "model 'chatglm2-import' cannot be written as ChatGLM-6B: residual is prenorm, ChatGLM-6B needs deepnorm" \
  "$G" ckpt export "$WORK/glm2.h5" --to chatglm-6b --out "$OUT"
echo "chatglm2 bad input ok"
