#!/usr/bin/env bash
# glm3d generate on every layout gives the same text (invariant 8 across layouts):
#   greedy and sampled (--seed) ids on 1 rank, tp 2, pp 2 and tp 2 x pp 2 equal; the KV cache
#   and --no-kv-cache equal; a JSONL batch (text and input_ids lines, left-padded) equals the
#   prompts run one by one and is the same on tp 2 x pp 2; blank infilling ([MASK]) fills every
#   blank; quantized checkpoints (int8, int4, nf4) give the same ids on 1 rank and pp 2, int8
#   and int4 on tp 2; an NF4 shard that splits 64-element blocks is refused (exit 2);
#   a ChatGLM2-architecture model (tiny-glm2: RMSNorm, pre-norm, 2 key/value groups, SwiGLU,
#   causal) gives the same greedy and sampled ids on 1 rank, tp 2, pp 2, tp 4 (groups replicated)
#   and tp 2 x pp 2, with and without the KV cache; its int8 checkpoint on 1 rank and tp 4.
source "$GLM3D_SOURCE_DIR/tests/infer/infer_lib.sh"
make_model "$WORK"
ARGS=(generate --load "$WORK/ck" --tokenizer "$WORK/store" --print-ids)
P="The best way to"

run_layouts() { # NAME extra-args...: out files NAME_1, NAME_tp2, NAME_pp2, NAME_tp2pp2
  local name=$1; shift
  "$G" "${ARGS[@]}" "$@" >"$WORK/${name}_1"
  mpirun_glm3d 2 "${ARGS[@]}" "$@" --tp 2 >"$WORK/${name}_tp2"
  mpirun_glm3d 2 "${ARGS[@]}" "$@" --pp 2 >"$WORK/${name}_pp2"
  mpirun_glm3d 4 "${ARGS[@]}" "$@" --tp 2 --pp 2 >"$WORK/${name}_tp2pp2"
  local want; want=$(ids_of "$WORK/${name}_1")
  [ -n "$want" ] || fail "$name: no ids printed"
  for l in tp2 pp2 tp2pp2; do
    [ "$(ids_of "$WORK/${name}_$l")" = "$want" ] || fail "$name: $l printed $(ids_of "$WORK/${name}_$l"), 1 rank $want"
  done
  echo "ok: $name identical on 1 rank, tp 2, pp 2, tp 2 x pp 2: $want"
}
run_layouts greedy --prompt "$P" --greedy --max-new-tokens 16
run_layouts sampled --prompt "$P" --seed 11 --top-k 0 --max-new-tokens 24 --min-new-tokens 12
run_layouts ids --prompt-ids "$(ids_of "$WORK/sampled_1" | cut -c6- | cut -d, -f1-3)" --seed 3 --top-p 0.95 --max-new-tokens 24 --min-new-tokens 12

"$G" "${ARGS[@]}" --prompt "$P" --seed 11 --top-k 0 --max-new-tokens 24 --min-new-tokens 12 --no-kv-cache >"$WORK/nocache"
[ "$(ids_of "$WORK/nocache")" = "$(ids_of "$WORK/sampled_1")" ] || fail "--no-kv-cache differs from the KV cache"
echo "ok: --no-kv-cache equals the KV cache"

# A batch: three prompts of different lengths (one as ids), left-padded, vs one at a time.
cat >"$WORK/in.jsonl" <<'JSONL'
{"prompt": "The best way to"}
{"input_ids": [5, 17, 291, 294]}
{"prompt": "A long time ago in a galaxy far away, there"}
JSONL
"$G" "${ARGS[@]}" --input "$WORK/in.jsonl" --out "$WORK/batch.jsonl" --seed 4 --top-k 0 --min-new-tokens 12 >/dev/null
mpirun_glm3d 4 "${ARGS[@]}" --input "$WORK/in.jsonl" --out "$WORK/batch4.jsonl" --seed 4 --top-k 0 --min-new-tokens 12 --tp 2 --pp 2 --batch-size 2 >/dev/null
"$G" "${ARGS[@]}" --input "$WORK/in.jsonl" --out "$WORK/single.jsonl" --seed 4 --top-k 0 --min-new-tokens 12 --batch-size 1 >/dev/null
python3 - "$WORK/batch.jsonl" "$WORK/batch4.jsonl" "$WORK/single.jsonl" <<'PY' || fail "batched outputs differ"
import json, sys
runs = [[json.loads(l) for l in open(f)] for f in sys.argv[1:]]
assert all(len(r) == 3 for r in runs), runs
for i in range(3):
    ids = [r[i]["output_ids"] for r in runs]
    assert ids[0] == ids[1] == ids[2], (i, ids)
    assert runs[0][i]["index"] == i and isinstance(runs[0][i]["output"], str)
print("ok: a left-padded batch of 3 equals single prompts, and tp 2 x pp 2 batches of 2:",
      [len(r["output_ids"]) for r in runs[0]], "tokens")
PY

# Blank infilling: both blanks filled, the text around them kept.
"$G" "${ARGS[@]}" --prompt "The [MASK] way to [MASK] is" --seed 2 --max-new-tokens 4 >"$WORK/infill"
grep -q "MASK" "$WORK/infill" && fail "a blank was left: $(cat "$WORK/infill")"
"$G" "${ARGS[@]}" --input <(echo '{"prompt": "The [MASK] way to [MASK] is"}') --out "$WORK/infill.jsonl" \
  --seed 2 --max-new-tokens 4 >/dev/null
python3 - "$WORK/infill.jsonl" "$(ids_of "$WORK/infill" | cut -c6-)" <<'PY' || fail "infill output"
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert len(r["spans"]) == 2, r
assert ",".join(map(str, r["output_ids"])) == sys.argv[2], (r, sys.argv[2])
print("ok: blank infilling filled 2 blanks with", [len(s) for s in r["spans"]], "tokens")
PY

# Quantized checkpoints on every layout they can be cut for.
for b in 8 4 nf4; do
  "$G" ckpt quantize --bits "$b" --load "$WORK/ck" --out "$WORK/q$b.h5" >/dev/null
  QA=(generate --load "$WORK/q$b.h5" --tokenizer "$WORK/store" --max-new-tokens 16 --min-new-tokens 12 --print-ids
    --prompt "$P" --seed 5 --top-k 0)
  "$G" "${QA[@]}" >"$WORK/q${b}_1"
  mpirun_glm3d 2 "${QA[@]}" --pp 2 >"$WORK/q${b}_pp2"
  [ "$(ids_of "$WORK/q${b}_pp2")" = "$(ids_of "$WORK/q${b}_1")" ] || fail "int$b: pp 2 differs"
  if [ "$b" = nf4 ]; then
    expect_usage_error "nf4 shard splitting blocks" "do not fall on NF4 blocks of 64" mpirun_glm3d 2 "${QA[@]}" --tp 2
  else
    mpirun_glm3d 2 "${QA[@]}" --tp 2 >"$WORK/q${b}_tp2"
    [ "$(ids_of "$WORK/q${b}_tp2")" = "$(ids_of "$WORK/q${b}_1")" ] || fail "int$b: tp 2 differs"
  fi
  echo "ok: $b quantized: $(ids_of "$WORK/q${b}_1")"
done

# ChatGLM2's architecture: a few training steps on the same store (its tokenizer's specials).
printf 'base = tiny-glm2\nvocab = 512\nseq_len = 64\n' >"$WORK/g2.ini"
"$G" train --model "$WORK/g2.ini" --data "$WORK/store" --seq-len 64 --steps 4 --global-batch 8 --seed 7 \
  --save "$WORK/ck2" --quiet >/dev/null
G2=(generate --load "$WORK/ck2" --tokenizer "$WORK/store" --print-ids --prompt "$P")
for mode in "--greedy --max-new-tokens 16" "--seed 11 --top-k 0 --max-new-tokens 16 --min-new-tokens 12"; do
  read -ra M <<<"$mode"
  "$G" "${G2[@]}" "${M[@]}" >"$WORK/g2_1"
  want=$(ids_of "$WORK/g2_1")
  [ -n "$want" ] || fail "glm2 $mode: no ids printed"
  "$G" "${G2[@]}" "${M[@]}" --no-kv-cache >"$WORK/g2_nocache"
  mpirun_glm3d 2 "${G2[@]}" "${M[@]}" --tp 2 >"$WORK/g2_tp2"
  mpirun_glm3d 2 "${G2[@]}" "${M[@]}" --pp 2 >"$WORK/g2_pp2"
  mpirun_glm3d 4 "${G2[@]}" "${M[@]}" --tp 4 >"$WORK/g2_tp4"
  mpirun_glm3d 4 "${G2[@]}" "${M[@]}" --tp 2 --pp 2 >"$WORK/g2_tp2pp2"
  for l in nocache tp2 pp2 tp4 tp2pp2; do
    [ "$(ids_of "$WORK/g2_$l")" = "$want" ] || fail "glm2 $mode: $l printed $(ids_of "$WORK/g2_$l"), 1 rank $want"
  done
  echo "ok: glm2 ($mode) identical on 1 rank, no cache, tp 2, pp 2, tp 4, tp 2 x pp 2: $want"
done
# int8 weights: the quantized rows of [Q | K | V] cut for tp 4 (key/value groups replicated).
"$G" ckpt quantize --bits 8 --load "$WORK/ck2" --out "$WORK/g2q8.h5" >/dev/null
Q2=(generate --load "$WORK/g2q8.h5" --tokenizer "$WORK/store" --print-ids --prompt "$P" --greedy --max-new-tokens 12)
"$G" "${Q2[@]}" >"$WORK/g2q_1"
mpirun_glm3d 4 "${Q2[@]}" --tp 4 >"$WORK/g2q_tp4"
[ -n "$(ids_of "$WORK/g2q_1")" ] && [ "$(ids_of "$WORK/g2q_tp4")" = "$(ids_of "$WORK/g2q_1")" ] ||
  fail "glm2 int8: tp 4 printed $(ids_of "$WORK/g2q_tp4"), 1 rank $(ids_of "$WORK/g2q_1")"
echo "ok: glm2 int8 identical on 1 rank and tp 4: $(ids_of "$WORK/g2q_1")"
echo "PASS"
