#!/usr/bin/env bash
# glm3d prep sft through the command line, with checks that fail if an option is ignored:
# --prompt-key/--response-key, --history-key (the chat prompt), --source-prefix,
# --max-source-len/--max-target-len (seq_len and truncation counts), --valid-fraction and
# --split-seed (split sizes and membership), --skip-bad (warnings naming file:line, the count in
# the manifest), --overwrite, gzip input, prep verify on the store, data sample --split. Then each
# bad input on 2 ranks: exit 2, exactly one `glm3d: error:` line naming file and line, no store.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/c" 20 >/dev/null
"$G" prep --input "$WORK/c/en.txt" --out "$WORK/tok" --train-tokenizer --vocab-size 600 >/dev/null
python3 - "$WORK/c/en.txt" "$WORK" <<'PY'
import gzip, json, sys
lines = [l.strip() for l in open(sys.argv[1], encoding="utf-8") if l.strip()][:200]
w = sys.argv[2]
with open(w + "/qa.jsonl", "w") as f:
    for i, (q, a) in enumerate(zip(lines[0::2], lines[1::2])):
        f.write(json.dumps({"q": q, "a": a, "h": [[lines[i], lines[i + 1]]] if i % 2 else []}) + "\n")
with gzip.open(w + "/qa.jsonl.gz", "wt") as f:
    f.write(open(w + "/qa.jsonl").read())
PY
mf() { python3 -c "import json,sys; m=json.load(open('$1/sft_manifest.json')); print(eval(sys.argv[1]))" "$2"; }
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; echo "ok: $1 = $3"; }
run() { "$G" prep sft "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "prep sft $*"; }; }

run --input "$WORK/qa.jsonl" --out "$WORK/s1" --tokenizer "$WORK/tok" --prompt-key q --response-key a \
  --max-source-len 20 --max-target-len 30
expect_eq "--max-source-len + --max-target-len" "$(mf "$WORK/s1" "m['seq_len']")" 50
expect_eq "--prompt-key / --response-key" "$(mf "$WORK/s1" "m['splits']['train']['examples']")" 100
expect_eq "no valid split without --valid-fraction" "$(mf "$WORK/s1" "'valid' in m['splits']")" False
"$G" prep verify "$WORK/s1" | grep -q "SFT store $WORK/s1 ok: 1 splits, 100 examples" || fail "prep verify"
# --history-key and --source-prefix make longer prompts: more of them are cut at 19 tokens.
run --input "$WORK/qa.jsonl.gz" --out "$WORK/s2" --tokenizer "$WORK/tok/tokenizer.model" --prompt-key q \
  --response-key a --history-key h --source-prefix "Q: " --max-source-len 20 --max-target-len 30
t1=$(mf "$WORK/s1" "m['prep']['prompts_truncated']"); t2=$(mf "$WORK/s2" "m['prep']['prompts_truncated']")
[ "$t2" -gt "$t1" ] || fail "--history-key: $t2 prompts truncated, not more than $t1"
expect_eq "--history-key recorded" "$(mf "$WORK/s2" "m['prep']['history_key']")" h
"$G" data sample "$WORK/s2" --count 2 --out "$WORK/s2.h5" --print 2 >"$WORK/out"
grep -q "A: Q: \[Round 0\]" "$WORK/out" || { cat "$WORK/out"; fail "chat prompt with --source-prefix not in the samples"; }
# --valid-fraction and --split-seed.
run --input "$WORK/qa.jsonl" --out "$WORK/s3" --tokenizer "$WORK/tok" --prompt-key q --response-key a \
  --valid-fraction 0.3 --split-seed 5
v3=$(mf "$WORK/s3" "m['splits']['valid']['examples']")
[ "$v3" -gt 15 ] && [ "$v3" -lt 45 ] || fail "--valid-fraction 0.3 of 100 gave $v3"
"$G" data sample "$WORK/s3" --split valid --count 3 --out "$WORK/v3.h5" >/dev/null
run --input "$WORK/qa.jsonl" --out "$WORK/s3" --tokenizer "$WORK/tok" --prompt-key q --response-key a \
  --valid-fraction 0.3 --split-seed 6 --overwrite
"$G" data sample "$WORK/s3" --split valid --count 3 --out "$WORK/v3b.h5" >/dev/null
h5dump -d tokens "$WORK/v3.h5" | tail -n +3 >"$WORK/v3.txt"
h5dump -d tokens "$WORK/v3b.h5" | tail -n +3 >"$WORK/v3b.txt"
[ -s "$WORK/v3.txt" ] && ! cmp -s "$WORK/v3.txt" "$WORK/v3b.txt" || fail "--split-seed made no difference"
echo "ok: --valid-fraction 0.3 -> $v3 of 100 held out; --split-seed changes the split"

# --skip-bad: the bad lines are skipped, each named on stderr, counted in the manifest.
{ head -3 "$WORK/qa.jsonl"; echo 'oops'; echo '{"q": "x", "a": ""}'; tail -3 "$WORK/qa.jsonl"; } >"$WORK/bad.jsonl"
run --input "$WORK/bad.jsonl" --out "$WORK/s4" --tokenizer "$WORK/tok" --prompt-key q --response-key a --skip-bad 2
grep -qF "glm3d: warning: skipped input file $WORK/bad.jsonl line 4: not valid JSON" "$WORK/err" || { cat "$WORK/err"; fail "no warning for line 4"; }
grep -qF "glm3d: warning: skipped input file $WORK/bad.jsonl line 5: empty answer (field 'a')" "$WORK/err" || fail "no warning for line 5"
expect_eq "--skip-bad count" "$(mf "$WORK/s4" "m['prep']['skipped_lines']")" 2
expect_eq "examples kept" "$(mf "$WORK/s4" "m['splits']['train']['examples']")" 6

# Bad input on 2 ranks: one line, exit 2, nothing written.
refused() { # refused WHAT MESSAGE args...
  local what=$1 msg=$2; shift 2
  expect_usage_error "$what" "glm3d: error: $msg" mpirun_glm3d 2 prep sft "$@"
  [ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$what: not exactly one error line"; }
  [ ! -e "$WORK/no" ] || fail "$what: a store was written"
}
A=(--out "$WORK/no" --tokenizer "$WORK/tok" --prompt-key q --response-key a)
refused "a line that is not JSON" "input file $WORK/bad.jsonl line 4: not valid JSON (at column 1: syntax error while parsing value - invalid literal; last read: 'o') (2 bad lines; --skip-bad 1 allows 1)" \
  --input "$WORK/bad.jsonl" "${A[@]}" --skip-bad 1
printf '{"q": "x", "a": "y"}\n{"q": "x"}\n' >"$WORK/nokey.jsonl"
refused "a missing key" "input file $WORK/nokey.jsonl line 2: no field 'a' (the object's string fields: \"q\"); name the answer's field with --response-key" \
  --input "$WORK/nokey.jsonl" "${A[@]}"
printf '{"q": "x", "a": "y"}\n{"q": "x", "a": ""}\n' >"$WORK/empty.jsonl"
refused "an empty answer" "input file $WORK/empty.jsonl line 2: empty answer (field 'a')" --input "$WORK/empty.jsonl" "${A[@]}"
printf '{"q": "x", "a": "y"}\n{"q": "x\xff", "a": "y"}\n' >"$WORK/utf8.jsonl"
refused "invalid UTF-8" "input file $WORK/utf8.jsonl line 2: invalid UTF-8 at byte 8 of the line" --input "$WORK/utf8.jsonl" "${A[@]}"
refused "a missing tokenizer" "tokenizer $WORK/nothing does not exist" --input "$WORK/qa.jsonl" --out "$WORK/no" \
  --tokenizer "$WORK/nothing"
refused "--valid-fraction 1" "glm3d prep sft: --valid-fraction must be in [0, 1), got 1" --input "$WORK/qa.jsonl" \
  "${A[@]}" --valid-fraction 1
refused "an existing --out" "glm3d prep sft: output $WORK/s1 already exists (use --overwrite to replace it)" \
  --input "$WORK/qa.jsonl" --out "$WORK/s1" --tokenizer "$WORK/tok"
echo "prep sft: all checks passed"
