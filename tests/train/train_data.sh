#!/usr/bin/env bash
# glm3d train --data DIR on the sample bilingual corpus: prep (trained SentencePiece
# tokenizer) -> train `tiny` on 2 ranks; the loss must fall (mean of the last 10 steps at
# least 1.0 nat below the mean of the first 5; measured ~8.3 -> ~6.5).
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/corpus" 300 >/dev/null
mpirun_glm3d 2 prep --input "$WORK/corpus/en.txt" "$WORK/corpus/zh.txt" --out "$WORK/store" \
  --train-tokenizer --vocab-size 4000 --shard-tokens 50000
mpirun_glm3d 2 train --model tiny --data "$WORK/store" --seq-len 64 --steps 80 --global-batch 8 \
  --dp 2 --log-interval 20 --metrics "$WORK/m.jsonl"
python3 - "$WORK/m.jsonl" <<'PY' || fail "loss on the sample corpus did not fall"
import json, sys
loss = [json.loads(l)["loss"] for l in open(sys.argv[1])]
head, tail = sum(loss[:5]) / 5, sum(loss[-10:]) / 10
print("loss first 5 steps %.3f -> last 10 steps %.3f" % (head, tail))
sys.exit(0 if tail < head - 1.0 else 1)
PY
