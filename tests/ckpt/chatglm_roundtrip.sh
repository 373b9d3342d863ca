#!/usr/bin/env bash
# ChatGLM interchange, on a small ChatGLM-6B-family model the test writes itself
# (tests/ckpt/chatglm_fixture.py: config.json + three safetensors shards in F16, BF16 and F32,
# q/k/v interleaved per head, tied lm_head, a rotary inv_freq buffer):
#   import --from chatglm-6b -> verify -> every tensor of the HDF5 file (h5dump) equals the
#     fixture element by element (query_key_value: every head, its q, k and v blocks)
#   export --to chatglm-6b --dtype f32 (2 shards): every value equals the fixture's
#   export --dtype bf16 and --dtype f16: every element is the fixture's f32 value rounded to
#     nearest even, bit for bit (the fixture holds ties both ways and values truncation misses)
#   export (glm3d bf16 weights) -> export --to chatglm-6b --dtype f32 of that: the bf16-rounded
#     values, read back through glm3d's own checkpoint reader
#   eval of the imported model on 1 rank and tp=2 agree (the imported checkpoint loads anywhere)
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
FIXTURE=(python3 "$GLM3D_SOURCE_DIR/tests/ckpt/chatglm_fixture.py")
"${FIXTURE[@]}" make "$WORK/hf"
"$G" ckpt import --from chatglm-6b --out "$WORK/imported.h5" "$WORK/hf"
"$G" ckpt verify "$WORK/imported.h5"
"$G" ckpt inspect "$WORK/imported.h5" | grep -q "special token gmask = 293" || fail "special tokens not imported"
"${FIXTURE[@]}" check-import "$WORK/imported.h5" || fail "imported tensors differ from the fixture"

"$G" ckpt export "$WORK/imported.h5" --to chatglm-6b --out "$WORK/out32" --dtype f32 --max-shard-mb 0.05
[ -f "$WORK/out32/model.safetensors.index.json" ] || fail "no index for a sharded export"
[ "$(ls "$WORK"/out32/*.safetensors | wc -l)" -gt 1 ] || fail "expected several shards"
"${FIXTURE[@]}" check-export "$WORK/out32" f32 || fail "f32 export changed the weights"
for dt in bf16 f16; do
  "$G" ckpt export "$WORK/imported.h5" --to chatglm-6b --out "$WORK/out_$dt" --dtype "$dt"
  "${FIXTURE[@]}" check-export "$WORK/out_$dt" "$dt" || fail "$dt export is not the round-to-nearest-even of the weights"
done
python3 - "$WORK/out32/config.json" "$WORK/out_f16/config.json" <<'PY' || fail "exported config.json"
import json, sys
for path, dtype in zip(sys.argv[1:], ["float32", "float16"]):
    cfg = json.load(open(path))
    assert (cfg["hidden_size"], cfg["num_layers"], cfg["num_attention_heads"], cfg["vocab_size"],
            cfg["gmask_token_id"], cfg["torch_dtype"]) == (32, 2, 4, 300, 293, dtype), cfg
PY
"$G" ckpt export "$WORK/imported.h5" --out "$WORK/weights_bf16.h5"
"$G" ckpt inspect "$WORK/weights_bf16.h5" | grep -q "params bf16" || fail "glm3d export is not bf16"
"$G" ckpt export "$WORK/weights_bf16.h5" --to chatglm-6b --out "$WORK/out_w" --dtype f32
"${FIXTURE[@]}" check-export "$WORK/out_w" f32 bf16 || fail "glm3d bf16 export is not the round-to-nearest-even of the weights"

"$G" eval --load "$WORK/imported.h5" --synthetic --count 2 --out "$WORK/e1.h5" >/dev/null
mpirun_glm3d 2 eval --load "$WORK/imported.h5" --synthetic --count 2 --out "$WORK/e2.h5" --tp 2 >/dev/null
h5dump -d /loss "$WORK/e1.h5" | grep "(0)" >"$WORK/l1"
h5dump -d /loss "$WORK/e2.h5" | grep "(0)" >"$WORK/l2"
cmp -s "$WORK/l1" "$WORK/l2" || { cat "$WORK/l1" "$WORK/l2"; fail "imported model: eval differs between 1 rank and tp=2"; }
echo "chatglm round trip ok"
