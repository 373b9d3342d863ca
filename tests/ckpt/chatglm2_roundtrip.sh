#!/usr/bin/env bash
# ChatGLM2/3 interchange on a random model of tiny-glm2's shape (2 layers, hidden 64, 4 heads,
# 2 key/value groups, ffn 48, vocab 128) that tests/ckpt/chatglm2_fixture.py writes as Hugging
# Face does: config.json (the released fields), model.safetensors.index.json and three shards
# in F16, BF16 and F32, the rotary inv_freq buffer.
#   import --from chatglm2-6b -> verify -> every tensor equals the fixture element by element
#     (bf16/f16 widened exactly), config and special tokens (eos, pad) as config.json says
#   export --to chatglm2-6b --dtype f32 (6 shards + index), bf16, f16: names, shapes, index and
#     config.json equal to the fixture's, every value the fixture's rounded to nearest even, bit
#     for bit; importing the f32 export gives the first import back (h5diff)
#   eval of the import: logits equal a float64 numpy forward pass of the fixture with
#     modeling_chatglm.py's semantics (1e-5 of the largest logit); on tp 2 as well
#   train --load IMPORTED --steps 2 on 1 rank and on tp 4: the same losses within 1e-5, the
#     first equal to eval's mean loss on the same 4 samples
#   ChatGLM3: rope_ratio 2 (rope_base 20000: eval logits match the forward pass with it), a
#     tokenizer.model of 100 pieces numbers the 9 special tokens (gmask 101, user 106, ...),
#     export --to chatglm3-6b writes rope_ratio back; --to chatglm2-6b refuses it
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
FIX=("$SYSTEM_PYTHON" "$GLM3D_SOURCE_DIR/tests/ckpt/chatglm2_fixture.py")
SEED=$((RANDOM + 1))
echo "seed $SEED"

"${FIX[@]}" make "$WORK/hf" "$SEED" tiny
"$G" ckpt import --from chatglm2-6b --out "$WORK/imported.h5" "$WORK/hf"
"$G" ckpt verify "$WORK/imported.h5"
"${FIX[@]}" check-import "$WORK/hf" "$WORK/imported.h5" || fail "imported tensors differ from the fixture"

"$G" ckpt export "$WORK/imported.h5" --to chatglm2-6b --out "$WORK/out32" --dtype f32 --max-shard-mb 0.05
[ "$(ls "$WORK"/out32/*.safetensors | wc -l)" -gt 1 ] || fail "expected several shards"
"${FIX[@]}" check-export "$WORK/hf" "$WORK/out32" f32 || fail "f32 export differs from the fixture"
for dt in bf16 f16; do
  "$G" ckpt export "$WORK/imported.h5" --to chatglm2-6b --out "$WORK/out_$dt" --dtype "$dt"
  "${FIX[@]}" check-export "$WORK/hf" "$WORK/out_$dt" "$dt" || fail "$dt export is not the fixture rounded to nearest even"
done
"$G" ckpt import --from chatglm2-6b --out "$WORK/again.h5" "$WORK/out32" >/dev/null
h5diff "$WORK/imported.h5" "$WORK/again.h5" /params /params || fail "import of the f32 export differs from the first import"

"${FIX[@]}" samples "$WORK/hf" "$WORK/samples.h5" 3 32 "$SEED"
"$G" eval --load "$WORK/imported.h5" --samples "$WORK/samples.h5" --out "$WORK/e1.h5" >/dev/null
"${FIX[@]}" check-logits "$WORK/hf" "$WORK/samples.h5" "$WORK/e1.h5" || fail "eval logits differ from the reference forward"
mpirun_glm3d 2 eval --load "$WORK/imported.h5" --samples "$WORK/samples.h5" --out "$WORK/e2.h5" --tp 2 >/dev/null
"${FIX[@]}" check-logits "$WORK/hf" "$WORK/samples.h5" "$WORK/e2.h5" || fail "tp 2 eval logits differ from the reference forward"

TRAIN=(train --load "$WORK/imported.h5" --synthetic --steps 2 --global-batch 4 --seed 0 --quiet)
"$G" "${TRAIN[@]}" --metrics "$WORK/m1.jsonl"
mpirun_glm3d 4 "${TRAIN[@]}" --tp 4 --metrics "$WORK/m4.jsonl"
"$G" eval --load "$WORK/imported.h5" --synthetic --count 4 --out "$WORK/es.h5" >/dev/null
"$SYSTEM_PYTHON" - "$WORK/m1.jsonl" "$WORK/m4.jsonl" "$WORK/es.h5" <<'PY' || fail "training the import: tp 1 and tp 4 disagree"
import json, sys, h5py
one = [json.loads(l)["loss"] for l in open(sys.argv[1])]
four = [json.loads(l)["loss"] for l in open(sys.argv[2])]
e = h5py.File(sys.argv[3], "r")
ev = e["loss_sum"][...].sum() / e["loss_tokens"][...].sum()
rel = max(abs(a - b) / abs(a) for a, b in zip(one, four))
print("  train of the import: losses tp1 %s, tp4 %s (max rel diff %.1e); eval of the same samples %.9f"
      % (one, four, rel, ev))
assert len(one) == len(four) == 2 and rel <= 1e-5
assert abs(one[0] - ev) <= 1e-6 * abs(ev), "step 1 did not start from the imported weights"
PY

"${FIX[@]}" make "$WORK/hf3" "$SEED" tiny --chatglm3 --tokenizer 100
"$G" ckpt import --from chatglm3-6b --out "$WORK/glm3.h5" "$WORK/hf3" >/dev/null
"$G" ckpt inspect "$WORK/glm3.h5" >"$WORK/inspect"
for t in "mask = 100" "gmask = 101" "sop = 103" "system = 105" "user = 106" "assistant = 107" "observation = 108" \
  "eos = 2" "pad = 0"; do
  grep -q "special token $t\$" "$WORK/inspect" || { cat "$WORK/inspect"; fail "special token $t not imported"; }
done
"$G" eval --load "$WORK/glm3.h5" --samples "$WORK/samples.h5" --out "$WORK/e3.h5" >/dev/null
"${FIX[@]}" check-logits "$WORK/hf3" "$WORK/samples.h5" "$WORK/e3.h5" || fail "ChatGLM3 (rope_ratio 2) logits differ"
"$G" ckpt export "$WORK/glm3.h5" --to chatglm3-6b --out "$WORK/out3" --dtype f32 >/dev/null
"${FIX[@]}" check-export "$WORK/hf3" "$WORK/out3" f32 || fail "ChatGLM3 export differs from the fixture"
expect_usage_error "--to chatglm2-6b of rope_base 20000" \
  "cannot be written as ChatGLM2-6B: rope_base is 20000, ChatGLM2-6B needs 10000" \
  "$G" ckpt export "$WORK/glm3.h5" --to chatglm2-6b --out "$WORK/refused"
[ ! -e "$WORK/refused" ] || fail "a refused export left $WORK/refused"
echo "chatglm2 round trip ok"
