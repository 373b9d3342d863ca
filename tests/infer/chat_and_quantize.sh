#!/usr/bin/env bash
# glm3d chat against glm3d generate: every reply is ChatGLM-6B's process_response of the
# generation from the prompt chat() builds (the query alone in the first round, then
# "[Round 0]\n问：q\n答：r\n[Round 1]\n问：q2\n答："), with the turn's index as the sampling key;
# "clear" empties the history, "stop" ends. Then the quantized checkpoints' files against the
# reference formulas (tests/infer/quantize_format.py), and ChatGLM-6B's own int8 / int4 form:
# --export writes weight I8 + weight_scale F16 safetensors and quantization_bit, --import reads
# them back into a checkpoint whose every dataset equals the original's (f32 floats: bit for bit);
# NF4 has no ChatGLM form (exit 2).
source "$GLM3D_SOURCE_DIR/tests/infer/infer_lib.sh"
make_model "$WORK"
OPTS=(--load "$WORK/ck" --tokenizer "$WORK/store" --seed 9 --max-new-tokens 6 --top-p 0.7 --temperature 0.95 --top-k 50)
printf 'The best way to\nA long time ago\nclear\nThe best way to\nstop\n' | "$G" chat "${OPTS[@]}" >"$WORK/chat.out"
python3 - "$WORK/chat.out" "$WORK/in.jsonl" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
replies = [part.split("\n\n用户：")[0].rstrip("\n") for part in text.split("\nChatGLM：")[1:]]
assert len(replies) == 3, text
json.dump(replies, open(sys.argv[2] + ".replies", "w"))
prompts = ["The best way to",
           "[Round 0]\n问：The best way to\n答：%s\n[Round 1]\n问：A long time ago\n答：" % replies[0],
           "The best way to"]  # after clear: the query alone again (the turn's key is 2)
with open(sys.argv[2], "w") as f:
    for p in prompts:
        f.write(json.dumps({"prompt": p}) + "\n")
PY
"$G" generate "${OPTS[@]}" --input "$WORK/in.jsonl" --out "$WORK/gen.jsonl" >/dev/null
python3 - "$WORK/gen.jsonl" "$WORK/in.jsonl.replies" <<'PY' || fail "chat replies differ from generate"
import json, re, sys
def process_response(r):  # modeling_chatglm.py process_response
    r = r.strip(" \t\n\r\v\f").replace("[[训练时间]]", "2023年")
    for a, b in [[",", "，"], ["!", "！"], [":", "："], [";", "；"], ["\\?", "？"]]:
        r = re.sub(r"([\u4e00-\u9fff])%s" % a, r"\1%s" % b, r)
        r = re.sub(r"%s([\u4e00-\u9fff])" % a, r"%s\1" % b, r)
    return r
gen = [process_response(json.loads(l)["output"]) for l in open(sys.argv[1])]
replies = json.load(open(sys.argv[2]))
assert gen == replies, (gen, replies)
print("ok: 3 chat replies (history, clear) equal generate's:", replies)
PY

for b in 8:int8 4:int4 nf4:nf4; do
  "$G" ckpt quantize --bits "${b%%:*}" --load "$WORK/ck" --out "$WORK/q.h5" >/dev/null
  $SYSTEM_PYTHON "$GLM3D_SOURCE_DIR/tests/infer/quantize_format.py" "$(cat "$WORK/ck/latest" | sed "s|^|$WORK/ck/|")" \
    "$WORK/q.h5" "${b##*:}" || fail "${b##*:} file format"
  if [ "${b%%:*}" = nf4 ]; then
    expect_usage_error "NF4 to ChatGLM" "ChatGLM-6B's quantized checkpoints hold int8 or int4 only" \
      "$G" ckpt quantize --load "$WORK/q.h5" --export "$WORK/hf_nf4"
    continue
  fi
  "$G" ckpt quantize --load "$WORK/q.h5" --export "$WORK/hf_$b" --dtype f32 >/dev/null
  "$G" ckpt quantize --import "$WORK/hf_$b" --out "$WORK/back.h5" >/dev/null
  $SYSTEM_PYTHON - "$WORK/q.h5" "$WORK/back.h5" "$WORK/hf_$b" "${b%%:*}" <<'PY' || fail "ChatGLM round trip of int$b"
import h5py, json, struct, sys
import numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert sorted(a["params"]) == sorted(b["params"])
for k in a["params"]:
    x, y = a["params/" + k], b["params/" + k]
    assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x[...], y[...]), k
f = open(sys.argv[3] + "/model.safetensors", "rb")
h = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
w, s = h["transformer.layers.0.mlp.dense_4h_to_h.weight"], h["transformer.layers.0.mlp.dense_4h_to_h.weight_scale"]
cols = a["params/layers.0.mlp.dense_4h_to_h.weight"].attrs["shape"][1]
assert w["dtype"] == "I8" and w["shape"][1] == cols // (8 // int(sys.argv[4])) and s["dtype"] == "F16", (w, s)
assert json.load(open(sys.argv[3] + "/config.json"))["quantization_bit"] == int(sys.argv[4])
print("ok: int%s to ChatGLM-6B's form and back: %d datasets equal" % (sys.argv[4], len(a["params"])))
PY
done
echo "PASS"
