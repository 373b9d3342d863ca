#!/usr/bin/env bash
# ChatGLM interchange. The test writes a small ChatGLM-6B-family model itself (python struct:
# config.json + three safetensors shards in F16, BF16 and F32, q/k/v interleaved per head,
# tied lm_head, a rotary inv_freq buffer), then:
#   import --from chatglm-6b -> verify -> one element checked in the HDF5 file (h5dump)
#   export --to chatglm-6b --dtype f32 (2 shards): every tensor's values equal the fixture's
#   export --dtype bf16: the BF16 tensors are byte-identical to the fixture's
#   eval of the imported model on 1 rank and tp=2 agree (the imported checkpoint loads anywhere)
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
python3 - "$WORK/hf" <<'PY'
import json, os, struct, sys
out = sys.argv[1]; os.makedirs(out)
H, L, NH, V, F = 32, 2, 4, 300, 64
names = [("transformer.word_embeddings.weight", [V, H])]
for l in range(L):
    p = "transformer.layers.%d." % l
    names += [(p + "input_layernorm.weight", [H]), (p + "input_layernorm.bias", [H]),
              (p + "attention.query_key_value.weight", [3 * H, H]), (p + "attention.query_key_value.bias", [3 * H]),
              (p + "attention.dense.weight", [H, H]), (p + "attention.dense.bias", [H]),
              (p + "post_attention_layernorm.weight", [H]), (p + "post_attention_layernorm.bias", [H]),
              (p + "mlp.dense_h_to_4h.weight", [F, H]), (p + "mlp.dense_h_to_4h.bias", [F]),
              (p + "mlp.dense_4h_to_h.weight", [H, F]), (p + "mlp.dense_4h_to_h.bias", [H])]
names += [("transformer.final_layernorm.weight", [H]), ("transformer.final_layernorm.bias", [H])]
def values(t, n):
    return [((i * 7919 + t * 104729) % 2001 - 1000) / 1000 * 0.08 + (1.0 if "layernorm.weight" in names[t][0] else 0)
            for i in range(n)]
def enc(dtype, vals):
    if dtype == "F16": return struct.pack("<%de" % len(vals), *vals)
    if dtype == "F32": return struct.pack("<%df" % len(vals), *vals)
    return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0] + 0x8000)[2:] for v in vals)  # BF16
shards = {"F16": [], "BF16": [], "F32": []}
for t, (name, shape) in enumerate(names):
    shards[["F16", "BF16", "F32"][t % 3]].append((name, shape, t))
emb = None
weight_map = {}
for k, (dtype, items) in enumerate(shards.items()):
    header, blobs, off = {}, [], 0
    for name, shape, t in items:
        n = 1
        for d in shape: n *= d
        b = enc(dtype, values(t, n))
        if t == 0: emb = (dtype, shape, b)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(b)]}
        blobs.append(b); off += len(b)
    if k == 0:  # tied LM head (same bytes) and a rotary buffer glm3d recomputes
        header["lm_head.weight"] = {"dtype": emb[0], "shape": emb[1], "data_offsets": [off, off + len(emb[2])]}
        blobs.append(emb[2]); off += len(emb[2])
        inv = struct.pack("<4f", 1, 0.1, 0.01, 0.001)
        header["transformer.layers.0.attention.rotary_emb.inv_freq"] = {"dtype": "F32", "shape": [4], "data_offsets": [off, off + 16]}
        blobs.append(inv); off += 16
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    fn = "model-%05d-of-00003.safetensors" % (k + 1)
    with open(os.path.join(out, fn), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
json.dump({"architectures": ["ChatGLMModel"], "model_type": "chatglm", "hidden_size": H, "num_layers": L,
           "num_attention_heads": NH, "vocab_size": V, "inner_hidden_size": F, "layernorm_epsilon": 1e-5,
           "max_sequence_length": 32, "position_encoding_2d": True, "bos_token_id": 290, "eos_token_id": 291,
           "mask_token_id": 292, "gmask_token_id": 293, "pad_token_id": 3, "torch_dtype": "float16"},
          open(os.path.join(out, "config.json"), "w"))
PY
"$G" ckpt import --from chatglm-6b --out "$WORK/imported.h5" "$WORK/hf"
"$G" ckpt verify "$WORK/imported.h5"
"$G" ckpt inspect "$WORK/imported.h5" | grep -q "special token gmask = 293" || fail "special tokens not imported"
# Element [5, 7] of layer 1's query_key_value (tensor index 15, F16 shard): the fixture's value.
got=$(h5dump -d "/params/layers.1.attention.query_key_value.weight" -s 5,7 -c 1,1 "$WORK/imported.h5" |
  sed -n 's/^ *(5,7): *//p')
python3 -c "
import struct, sys
v = ((167 * 7919 + 15 * 104729) % 2001 - 1000) / 1000 * 0.08
want = struct.unpack('<e', struct.pack('<e', v))[0]
sys.exit(0 if abs(float('$got') - want) <= 1e-6 * abs(want) else 1)" || fail "imported element [5,7] is $got"

"$G" ckpt export "$WORK/imported.h5" --to chatglm-6b --out "$WORK/out32" --dtype f32 --max-shard-mb 0.05
"$G" ckpt export "$WORK/imported.h5" --to chatglm-6b --out "$WORK/out16" --dtype bf16
[ -f "$WORK/out32/model.safetensors.index.json" ] || fail "no index for a sharded export"
python3 - "$WORK/hf" "$WORK/out32" "$WORK/out16" <<'PY' || fail "round trip changed the weights"
import glob, json, struct, sys
def read(d):
    out = {}
    for fn in sorted(glob.glob(d + "/*.safetensors")):
        raw = open(fn, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        for name, t in json.loads(raw[8:8 + n]).items():
            if name == "__metadata__": continue
            b = raw[8 + n + t["data_offsets"][0]: 8 + n + t["data_offsets"][1]]
            if t["dtype"] == "F32": vals = struct.unpack("<%df" % (len(b) // 4), b)
            elif t["dtype"] == "F16": vals = struct.unpack("<%de" % (len(b) // 2), b)
            else: vals = [struct.unpack("<f", b"\0\0" + b[i:i + 2])[0] for i in range(0, len(b), 2)]
            out[name] = (t["dtype"], t["shape"], vals, b)
    return out
src, f32, b16 = read(sys.argv[1]), read(sys.argv[2]), read(sys.argv[3])
del src["transformer.layers.0.attention.rotary_emb.inv_freq"]
assert sorted(src) == sorted(f32) == sorted(b16), set(src) ^ set(f32)
assert len(glob.glob(sys.argv[2] + "/*.safetensors")) > 1, "expected several shards"
for name, (dt, shape, vals, raw) in src.items():
    assert f32[name][1] == shape, (name, f32[name][1], shape)
    assert list(f32[name][2]) == list(vals), name
    if dt == "BF16": assert b16[name][3] == raw, name
cfg = json.load(open(sys.argv[2] + "/config.json"))
assert (cfg["hidden_size"], cfg["num_layers"], cfg["vocab_size"], cfg["gmask_token_id"]) == (32, 2, 300, 293), cfg
print("  round trip: %d tensors identical (f32 values; bf16 bytes)" % len(src))
PY
"$G" eval --load "$WORK/imported.h5" --synthetic --count 2 --out "$WORK/e1.h5" >/dev/null
mpirun_glm3d 2 eval --load "$WORK/imported.h5" --synthetic --count 2 --out "$WORK/e2.h5" --tp 2 >/dev/null
h5dump -d /loss "$WORK/e1.h5" | grep "(0)" >"$WORK/l1"
h5dump -d /loss "$WORK/e2.h5" | grep "(0)" >"$WORK/l2"
cmp -s "$WORK/l1" "$WORK/l2" || { cat "$WORK/l1" "$WORK/l2"; fail "imported model: eval differs between 1 rank and tp=2"; }
echo "chatglm round trip ok"
