#!/usr/bin/env bash
# check_chatglm_sft.sh BUILD_DIR: glm3d prep sft --format chatglm2 / chatglm3 against the reference's
# code (chatglm_sft_reference.py, Python sentencepiece in a venv from PyPI) on 200 random
# prompt/answer records and 200 random conversations over the hand-built ChatGLM3-layout tokenizer
# of the tests (literal <|user|>, [gMASK], sop, unknown characters, runs of spaces, truncation).
# By hand only; prints the number of differing rows per format (0 expected).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 -m venv "$W/venv" && "$W/venv/bin/pip" install -q sentencepiece
python3 "$SRC/tests/data/write_chatglm2_tokenizer.py" "$W/tok" THUDM/chatglm3-6b
python3 - "$W" <<'PY'
import json, random, sys
rng = random.Random(7)
alpha = ["a", "b", "c", "ab", "cd", " ", "\n", "[", "]", "1", "2", "问", "答", "：", "<|user|>", "[gMASK]", "sop",
         "z", "x", "  ", "é"]
def text(n):
    while True:
        t = "".join(rng.choice(alpha) for _ in range(rng.randint(1, n)))
        if t.strip():
            return t
with open(sys.argv[1] + "/qa.jsonl", "w") as f:
    for i in range(200):
        h = [[text(5), text(5)] for _ in range(rng.randint(0, 2))] if i % 3 == 0 else []
        f.write(json.dumps({"content": text(12), "summary": text(10), "history": h}, ensure_ascii=False) + "\n")
with open(sys.argv[1] + "/conv.jsonl", "w") as f:
    for i in range(200):
        conv = [{"role": "system", "content": text(6)}] if rng.random() < 0.3 else []
        for _ in range(rng.randint(1, 3)):
            conv += [{"role": "user", "content": text(6)}, {"role": "assistant", "content": text(8)}]
            if rng.random() < 0.3:
                conv += [{"role": "observation", "content": text(4)}, {"role": "assistant", "content": text(4)}]
        f.write(json.dumps({"conversations": conv}, ensure_ascii=False) + "\n")
PY
"$W/venv/bin/python" "$SRC/tools/golden/chatglm_sft_reference.py" "$W/tok" "$W/qa.jsonl" "$W/conv.jsonl" 30 20 >"$W/ref.json"
"$BUILD/glm3d" prep sft --input "$W/qa.jsonl" --out "$W/s2" --tokenizer "$W/tok" --format chatglm2 \
  --history-key history --max-source-len 30 --max-target-len 20
"$BUILD/glm3d" prep sft --input "$W/conv.jsonl" --out "$W/s3" --tokenizer "$W/tok" --max-source-len 30 \
  --max-target-len 20
/usr/bin/python3 - "$W" <<'PY'
import h5py, json, sys
w = sys.argv[1]
ref = json.load(open(w + "/ref.json"))
for fmt, d in [("chatglm2", "s2"), ("chatglm3", "s3")]:
    f = h5py.File("%s/%s/train.h5" % (w, d), "r")
    ids, labels = f["input_ids"][:], f["labels"][:]
    S = ids.shape[1]
    bad = sum(list(ids[k]) != ri + [0] * (S - len(ri)) or list(labels[k]) != rl + [-100] * (S - len(rl))
              for k, (ri, rl) in enumerate(ref[fmt]))
    print("%s: %d rows of %d tokens, %d differ from the reference's" % (fmt, len(ref[fmt]), S, bad))
PY
