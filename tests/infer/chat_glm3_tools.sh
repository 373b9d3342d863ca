#!/usr/bin/env bash
# glm3d chat --tools on a ChatGLM3 model, end to end (launch/chat_glm3.h, infer/tool_call.h):
# a tiny-glm2 fine-tuned (glm3d prep sft --format chatglm3) on one tool-using conversation, with
# the hand-built ChatGLM3-layout tokenizer (tests/data/write_chatglm2_tokenizer.py, plus the pieces
# the call needs), answers the user's "a" with the call it learned, printed as JSON; the next line
# goes back as the tool's result (role observation) and gets a reply; glm3d generate from the
# conversation's ids reports the same call ("tool_call" in --out, "tool call:" after the text).
# Greedy decoding; the reply to the result is not checked (the model saw the call re-encoded
# from its decoded text, as ChatGLM3's chat re-encodes it, which differs from its training ids).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
python3 "$GLM3D_SOURCE_DIR/tests/data/write_chatglm2_tokenizer.py" "$WORK/tok" THUDM/chatglm3-6b \
  '```' python tool_call '(' ')' '='
echo '[{"name": "x"}]' >"$WORK/tools.json"
python3 - "$WORK/conv.jsonl" <<'PY'
import json, sys
system = {"role": "system", "content": "Answer the following questions as best as you can. "
          "You have access to the following tools:", "tools": [{"name": "x"}]}
call = [system, {"role": "user", "content": "a"},
        {"role": "assistant", "metadata": "x", "content": "```python\ntool_call(a=1)\n```"},
        {"role": "observation", "content": "b"}, {"role": "assistant", "content": "cd"}]
plain = [{"role": "user", "content": "c"}, {"role": "assistant", "content": "ab"}]
with open(sys.argv[1], "w") as f:
    for _ in range(8):
        f.write(json.dumps({"conversations": call}) + "\n" + json.dumps({"conversations": plain}) + "\n")
PY
"$G" prep sft --input "$WORK/conv.jsonl" --out "$WORK/sft" --tokenizer "$WORK/tok" --max-source-len 100 \
  --max-target-len 27 >"$WORK/prep.out"
grep -q "0 conversations truncated" "$WORK/prep.out" || fail "prep: $(cat "$WORK/prep.out")"
printf 'base = tiny-glm2\nvocab = 46\nseq_len = 128\n' >"$WORK/m.ini"
"$G" train --model "$WORK/m.ini" --data "$WORK/sft" --steps 1 --global-batch 8 --seed 3 --quiet --save "$WORK/base"
"$G" finetune --method full --load "$WORK/base" --data "$WORK/sft" --steps 40 --global-batch 8 --lr 1e-2 \
  --warmup-steps 0 --seed 3 --quiet --save "$WORK/ft" --metrics "$WORK/ft.jsonl"
python3 -c "import json,sys; l=[json.loads(x)['loss'] for x in open(sys.argv[1])]; print('loss %.4f -> %.4f' % (l[0], l[-1]))" \
  "$WORK/ft.jsonl"
printf 'a\nb\nstop\n' | "$G" chat --load "$WORK/ft" --tokenizer "$WORK/tok" --tools "$WORK/tools.json" --greedy \
  --max-new-tokens 40 >"$WORK/chat.out"
cat "$WORK/chat.out"
grep -qF 'ChatGLM：{"name":"x","parameters":{"a":1}}' "$WORK/chat.out" || fail "no tool call printed as JSON"
grep -q '结果：' "$WORK/chat.out" || fail "the line after a tool call is not asked for as its result"
[ "$(grep -c 'ChatGLM：' "$WORK/chat.out")" -eq 2 ] || fail "no reply to the tool's result"
# glm3d generate from the same conversation's ids up to its first <|assistant|> (44: 37 pieces + 7):
# the reply's call as "tool_call" in the --out line and after a --prompt-ids text.
$SYSTEM_PYTHON - "$WORK/sft/train.h5" "$WORK/prompts.jsonl" >"$WORK/ids.txt" <<'PY'
import h5py, json, sys
ids = [int(t) for t in h5py.File(sys.argv[1], "r")["input_ids"][0]]
ids = ids[: ids.index(44) + 1]
open(sys.argv[2], "w").write(json.dumps({"input_ids": ids}) + "\n")
print(",".join(map(str, ids)))
PY
"$G" generate --load "$WORK/ft" --tokenizer "$WORK/tok" --input "$WORK/prompts.jsonl" --out "$WORK/gen.jsonl" \
  --greedy --max-new-tokens 40 >/dev/null
python3 - "$WORK/gen.jsonl" <<'PY' || fail "generate's --out line holds no tool call"
import json, sys
line = json.loads(open(sys.argv[1]).readline())
print("generate:", json.dumps(line["tool_call"], ensure_ascii=False))
assert line["tool_call"] == {"name": "x", "parameters": {"a": 1}}, line
PY
"$G" generate --load "$WORK/ft" --tokenizer "$WORK/tok" --prompt-ids "$(cat "$WORK/ids.txt")" --greedy \
  --max-new-tokens 40 >"$WORK/gen.out"
grep -qF 'tool call: {"name":"x","parameters":{"a":1}}' "$WORK/gen.out" || fail "generate printed no tool call"
# Bad input: --tools that is not JSON; --tools on a model without ChatGLM3's roles.
echo '[{"name": ' >"$WORK/bad.json"
expect_exit 2 err "tools not JSON" "--tools $WORK/bad.json is not JSON" \
  "$G" chat --load "$WORK/ft" --tokenizer "$WORK/tok" --tools "$WORK/bad.json"
echo "chat --tools ok"
