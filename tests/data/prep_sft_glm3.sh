#!/usr/bin/env bash
# glm3d prep sft for ChatGLM2/3 (docs/sft_store.md) through the CLI, with the hand-built tokenizer of
# sp_model_builder.cpp written in ChatGLM3's layout (write_chatglm2_tokenizer.py; 31 pieces, so
# [gMASK] 32, sop 34, <|system|> 36 .. <|observation|> 39, eos 2, pad 0):
#  - a conversation's row equals the one worked out by hand in test_sft_glm2.cpp;
#  - the tokenizer kind comes from tokenizer_config.json, --tokenizer-kind settles a directory that
#    does not tell, --format chatglm2 lays out prompt/response records; bad lines: exit 2, one line,
#    file:line; --skip-bad;
#  - glm3d finetune of a tiny-glm2 base reads the store and its loss falls (a -> ab, c -> cd).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
python3 "$GLM3D_SOURCE_DIR/tests/data/write_chatglm2_tokenizer.py" "$WORK/glm3" THUDM/chatglm3-6b
python3 "$GLM3D_SOURCE_DIR/tests/data/write_chatglm2_tokenizer.py" "$WORK/plain" ""
python3 - "$WORK/conv.jsonl" <<'PY'
import json, random, sys
rng = random.Random(5)
with open(sys.argv[1], "w") as f:
    f.write(json.dumps({"conversations": [
        {"role": "system", "content": "c"}, {"role": "user", "content": "a"},
        {"role": "assistant", "content": "ab"}, {"role": "user", "content": "c"},
        {"role": "assistant", "metadata": "x", "content": "cd"}, {"role": "observation", "content": "a"},
        {"role": "assistant", "content": "b"}]}, ensure_ascii=False) + "\n")
    for _ in range(63):
        q = rng.choice(["a", "c"])
        f.write(json.dumps({"conversations": [{"role": "user", "content": q},
                                              {"role": "assistant", "content": {"a": "ab", "c": "cd"}[q]}]}) + "\n")
PY
"$G" prep sft --input "$WORK/conv.jsonl" --out "$WORK/s3" --tokenizer "$WORK/glm3" --max-source-len 30 \
  --max-target-len 9 >"$WORK/prep.out"
grep -q "64 examples (format chatglm3)" "$WORK/prep.out" || fail "prep sft: $(cat "$WORK/prep.out")"
"$G" prep verify "$WORK/s3" >/dev/null
$SYSTEM_PYTHON - "$WORK/s3" <<'PY' || fail "the conversation's row differs from the reference's"
import h5py, json, sys
m = json.load(open(sys.argv[1] + "/sft_manifest.json"))
assert m["format_version"] == 2 and m["layout"] == "causal" and m["seq_len"] == 40, m
assert m["tokenizer"]["kind"] == "chatglm3" and m["vocab_size"] == 40, m["tokenizer"]
f = h5py.File(sys.argv[1] + "/train.h5", "r")
X = -100
ids = [32, 34, 36, 3, 7, 29, 37, 3, 7, 17, 38, 3, 7, 20, 37, 3, 7, 29, 38, 28, 7, 30, 39, 3, 7, 17, 38, 3, 7, 3, 5, 2]
labels = [X] * 11 + [3, 7, 20, 37] + [X] * 4 + [28, 7, 30, 39, 3, 7, 17, 38, 3, 7, 3, 5, 2]
assert list(f["input_ids"][0]) == ids + [0] * 8, list(f["input_ids"][0])
assert list(f["labels"][0]) == labels + [X] * 8, list(f["labels"][0])
assert list(f["position_ids"][0]) == list(range(40)) and f["sep"][0] == 0 and f["length"][0] == 32
print("row 0 as the reference's; rows:", f["input_ids"].shape)
PY
# A directory that does not tell ChatGLM2 from ChatGLM3; --tokenizer-kind settles it.
expect_exit 2 err "ambiguous tokenizer" "give --tokenizer-kind chatglm2 or chatglm3" \
  "$G" prep sft --input "$WORK/conv.jsonl" --out "$WORK/s_amb" --tokenizer "$WORK/plain"
"$G" prep sft --input "$WORK/conv.jsonl" --out "$WORK/s_amb" --tokenizer "$WORK/plain" --tokenizer-kind chatglm3 \
  --max-source-len 30 --max-target-len 9 >/dev/null
python3 -c "import json,sys; a,b=[json.load(open(p))['splits']['train']['crc32'] for p in sys.argv[1:]]; sys.exit(a!=b)" \
  "$WORK/s3/sft_manifest.json" "$WORK/s_amb/sft_manifest.json" || fail "--tokenizer-kind chatglm3 rows differ"
# Bad lines: file:line, exit 2; --skip-bad N skips them.
printf '{"conversations": [{"role": "user", "content": "a"}]}\n' >"$WORK/bad.jsonl"
cat "$WORK/conv.jsonl" >>"$WORK/bad.jsonl"
expect_exit 2 err "conversation without an answer" "bad.jsonl line 1: no assistant message: nothing to learn" \
  "$G" prep sft --input "$WORK/bad.jsonl" --out "$WORK/s_bad" --tokenizer "$WORK/glm3"
"$G" prep sft --input "$WORK/bad.jsonl" --out "$WORK/s_bad" --tokenizer "$WORK/glm3" --skip-bad 1 \
  2>"$WORK/skip.err" >/dev/null
grep -q "skipped input file .*bad.jsonl line 1" "$WORK/skip.err" || fail "no warning for the skipped line"
expect_exit 2 err "chatglm format, chatglm3 tokenizer" "use --format chatglm2 or chatglm3" \
  "$G" prep sft --input "$WORK/conv.jsonl" --out "$WORK/s_no" --tokenizer "$WORK/glm3" --format chatglm
# ChatGLM2's P-tuning layout from prompt/response records.
printf '{"content": "ab", "summary": "ab cd"}\n' >"$WORK/qa.jsonl"
"$G" prep sft --input "$WORK/qa.jsonl" --out "$WORK/s2" --tokenizer "$WORK/glm3" --format chatglm2 \
  --max-source-len 10 --max-target-len 5 >/dev/null
$SYSTEM_PYTHON - "$WORK/s2" <<'PY' || fail "the chatglm2 row differs from the reference's"
import h5py, sys
f = h5py.File(sys.argv[1] + "/train.h5", "r")
X = -100  # "[Round 1]\n\n问：ab\n\n答：" keeps 8 ids after [gMASK] sop; answer "ab cd" = 20 30; eos
assert list(f["input_ids"][0]) == [32, 34, 11, 10, 3, 12, 9, 7, 7, 14, 20, 30, 2, 0, 0, 0], list(f["input_ids"][0])
assert list(f["labels"][0]) == [X] * 10 + [20, 30, 2, X, X, X], list(f["labels"][0])
PY
# Fine-tuning a tiny-glm2 base on the conversations: the loss falls.
# The base's vocabulary is padded past the tokenizer's 40 ids, as ChatGLM2/3's 65024 rows are past 64798.
printf 'base = tiny-glm2\nvocab = 64\nseq_len = 40\n' >"$WORK/m.ini"
"$G" train --model "$WORK/m.ini" --synthetic --steps 1 --global-batch 8 --seed 3 --quiet --save "$WORK/base"
"$G" finetune --method full --load "$WORK/base" --data "$WORK/s3" --steps 30 --global-batch 8 --lr 1e-2 \
  --warmup-steps 0 --seed 3 --quiet --metrics "$WORK/ft.jsonl"
python3 - "$WORK/ft.jsonl" <<'PY' || fail "fine-tuning on the ChatGLM3 store did not learn"
import json, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
print("finetune loss: step 1 %.4f, step 30 %.4f" % (loss[0], loss[-1]))
assert loss[-1] < loss[0] - 1.0
PY
echo "prep sft chatglm2/3 ok"
