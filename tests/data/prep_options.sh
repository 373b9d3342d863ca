#!/usr/bin/env bash
# Every `glm3d prep` option, through the command line, with a check that fails if cmd_prep
# ignored it: --input, --out, --tokenizer, --train-tokenizer, --vocab-size (and the warning when
# the input holds fewer pieces), --tokenizer-type, --character-coverage, --tokenizer-threads,
# --shard-tokens, --format (text, lines, jsonl), --json-field, --overwrite, --config,
# --valid-fraction and --split-seed (DIR/valid: held-out documents, another seed another draw); gzip
# input. Then each refusal on 2 ranks: exit 2 and exactly one `glm3d: error:` line.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"
C="$WORK/c"
"$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$C" 60 >/dev/null

prep() { "$G" prep "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err"; fail "prep $*"; }; }
manifest() { awk -v k="$2" '$1 == k { print $2 }' "$1/manifest.txt"; } # manifest DIR KEY
documents() { sed -n 's/.* files, \([0-9]*\) documents.*/\1/p' "$WORK/out"; } # of the last prep
expect_eq() { [ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"; echo "ok: $1 = $3"; }

# --train-tokenizer --vocab-size N: the store's vocabulary is N; --tokenizer-threads is used.
prep --input "$C/en.txt" --out "$WORK/v500" --train-tokenizer --vocab-size 500 --tokenizer-threads 1
prep --input "$C/en.txt" --out "$WORK/v700" --train-tokenizer --vocab-size 700 --tokenizer-threads 2
expect_eq "--vocab-size 500" "$(manifest "$WORK/v500" vocab_size)" 500
expect_eq "--vocab-size 700" "$(manifest "$WORK/v700" vocab_size)" 700
expect_usage_error "--tokenizer-threads 0" "glm3d prep: --tokenizer-threads must be in [1, 1024], got 0" \
  "$G" prep --input "$C/en.txt" --out "$WORK/t0" --train-tokenizer --tokenizer-threads 0
# More pieces asked than the input holds: a warning, and the store says how many it has.
prep --input "$C/en.txt" --out "$WORK/big" --train-tokenizer --vocab-size 30000 --tokenizer-threads 1
got=$(manifest "$WORK/big" vocab_size)
[ "$got" -lt 30000 ] || fail "--vocab-size 30000 on a small input gave $got pieces"
grep -qF "glm3d: warning: the trained tokenizer has $got pieces, fewer than --vocab-size 30000" "$WORK/err" ||
  { cat "$WORK/err"; fail "no vocabulary warning"; }
echo "ok: warning for $got < 30000 pieces"

# --tokenizer MODEL: the store holds exactly that model.
prep --input "$C/zh.txt" --out "$WORK/given" --tokenizer "$WORK/v500/tokenizer.model"
expect_eq "--tokenizer (sha256)" "$(manifest "$WORK/given" tokenizer_sha256)" \
  "$(sha256sum "$WORK/v500/tokenizer.model" | cut -d' ' -f1)"
cmp -s "$WORK/given/tokenizer.model" "$WORK/v500/tokenizer.model" || fail "--tokenizer: model not copied"

# --tokenizer-type: BPE pieces are scored by merge order (integers), unigram ones by log-probability.
score_kind() {
  spm_export_vocab --model="$1" 2>/dev/null | awk -F'\t' 'NR > 300 && $2 != int($2) { f = 1 } END { print f ? "log-prob" : "merge-order" }'
}
prep --input "$C/en.txt" --out "$WORK/bpe" --train-tokenizer --vocab-size 500 --tokenizer-type bpe --tokenizer-threads 1
expect_eq "--tokenizer-type bpe" "$(score_kind "$WORK/bpe/tokenizer.model")" merge-order
expect_eq "--tokenizer-type unigram (default)" "$(score_kind "$WORK/v500/tokenizer.model")" log-prob

# --character-coverage: a character seen once is a piece of its own only with coverage 1.
{ cat "$C/en.txt"; printf '\nthe rare \xe9\xbe\x98 once\n'; } >"$WORK/rare.txt"
has_rare() { spm_export_vocab --model="$1/tokenizer.model" 2>/dev/null | cut -f1 | grep -qx $'\xe9\xbe\x98'; }
for cc in 1 0.98; do
  prep --input "$WORK/rare.txt" --out "$WORK/cc$cc" --train-tokenizer --vocab-size 600 --character-coverage $cc \
    --tokenizer-threads 1
done
has_rare "$WORK/cc1" || fail "--character-coverage 1: the rare character is not a piece"
has_rare "$WORK/cc0.98" && fail "--character-coverage 0.98: the rare character is a piece"
echo "ok: --character-coverage 1 keeps a character seen once, 0.98 does not"

# --shard-tokens: every shard but a file's last closes at the first document end past it.
T="$WORK/v500/tokenizer.model"
prep --input "$C/en.txt" "$C/zh.txt" --out "$WORK/one_shard_each" --tokenizer "$T"
expect_eq "default --shard-tokens: shards" "$(manifest "$WORK/one_shard_each" shard_count)" 2
prep --input "$C/en.txt" "$C/zh.txt" --out "$WORK/sharded" --tokenizer "$T" --shard-tokens 3000
awk '$1 == "shard" { f = substr($2, 7, 5); n[f]++; tok[f, n[f]] = $3 }
     END { for (f in n) for (i = 1; i < n[f]; i++) if (tok[f, i] < 3000) bad = 1
           for (f in n) if (n[f] < 2) bad = 1; exit bad }' "$WORK/sharded/manifest.txt" ||
  { cat "$WORK/sharded/manifest.txt"; fail "--shard-tokens 3000"; }
expect_eq "--shard-tokens 3000: same tokens" "$(manifest "$WORK/sharded" total_tokens)" \
  "$(manifest "$WORK/one_shard_each" total_tokens)"

# --format: blocks of lines (text), one document per line (lines), JSON objects (jsonl).
printf 'one line\nsecond line\nthird line\n' >"$WORK/three.txt"
prep --input "$WORK/three.txt" --out "$WORK/f_text" --tokenizer "$T"
expect_eq "--format auto on .txt: documents" "$(documents)" 1
prep --input "$WORK/three.txt" --out "$WORK/f_lines" --tokenizer "$T" --format lines
expect_eq "--format lines: documents" "$(documents)" 3
printf '{"body": "a b"}\n{"body": "c d"}\n{"body": "e f"}\n{"body": "g h"}\n' >"$WORK/body.dat"
prep --input "$WORK/body.dat" --out "$WORK/f_text2" --tokenizer "$T"
expect_eq "--format auto on .dat: documents" "$(documents)" 1
# --json-field: without it the error names the fields there are and the option.
expect_usage_error "JSONL without --json-field" \
  "input file $WORK/body.dat line 1: no field 'text' (the object's string fields: \"body\"); name the document's field with --json-field" \
  "$G" prep --input "$WORK/body.dat" --out "$WORK/f_json" --tokenizer "$T" --format jsonl
prep --input "$WORK/body.dat" --out "$WORK/f_json" --tokenizer "$T" --format jsonl --json-field body
expect_eq "--format jsonl --json-field body: documents" "$(documents)" 4

# gzip input (by its magic bytes): the same store as the plain file.
gzip -c "$C/en.txt" >"$WORK/en.txt.gz"
prep --input "$C/en.txt" --out "$WORK/plain" --tokenizer "$T"
prep --input "$WORK/en.txt.gz" --out "$WORK/gz" --tokenizer "$T"
cmp -s "$WORK/plain/manifest.txt" "$WORK/gz/manifest.txt" || fail "gzip input: another store"
echo "ok: gzip input gives the plain file's store"

# --valid-fraction, --split-seed: the held-out documents are a token store DIR/valid; the two
# stores hold every document once; another seed draws other documents.
prep --input "$C/en.txt" --out "$WORK/vf" --tokenizer "$T" --valid-fraction 0.3 --split-seed 3
grep -q "glm3d prep: held out [0-9]* documents" "$WORK/out" || { cat "$WORK/out"; fail "no held-out line"; }
prep --input "$C/en.txt" --out "$WORK/vf4" --tokenizer "$T" --valid-fraction 0.3 --split-seed 4
all=$("$G" prep verify "$WORK/plain" | sed 's/.* shards, \([0-9]*\) documents.*/\1/')
tr=$("$G" prep verify "$WORK/vf" | sed 's/.* shards, \([0-9]*\) documents.*/\1/')
va=$("$G" prep verify "$WORK/vf/valid" | sed 's/.* shards, \([0-9]*\) documents.*/\1/')
expect_eq "--valid-fraction: documents in DIR + DIR/valid" "$((tr + va))" "$all"
[ "$va" -gt 0 ] || fail "--valid-fraction 0.3 held out nothing"
cmp -s "$WORK/vf/valid/manifest.txt" "$WORK/vf4/valid/manifest.txt" && fail "--split-seed made no difference"
echo "ok: --valid-fraction 0.3 held out $va of $all documents; --split-seed draws others"

# --overwrite: refused without; replaces a token store; refuses anything else, leaving it be.
expect_usage_error "existing --out" "glm3d prep: output $WORK/given already exists (use --overwrite to replace it)" \
  "$G" prep --input "$C/en.txt" --out "$WORK/given" --tokenizer "$T"
prep --input "$C/en.txt" --out "$WORK/given" --tokenizer "$T" --overwrite
cmp -s "$WORK/given/manifest.txt" "$WORK/plain/manifest.txt" || fail "--overwrite did not replace the store"
ls "$WORK" | grep -qE '\.(tmp|old)-' && fail "--overwrite left a temp or old directory"
mkdir "$WORK/mine" && echo precious >"$WORK/mine/notes"
echo precious >"$WORK/notes.txt"
expect_usage_error "--overwrite on a directory" "--overwrite replaces only a token store, and $WORK/mine has no manifest.txt" \
  "$G" prep --input "$C/en.txt" --out "$WORK/mine" --tokenizer "$T" --overwrite
expect_usage_error "--overwrite on a file" "--overwrite replaces only a token store, and $WORK/notes.txt is a file" \
  "$G" prep --input "$C/en.txt" --out "$WORK/notes.txt" --tokenizer "$T" --overwrite
expect_eq "untouched directory" "$(cat "$WORK/mine/notes")" precious
expect_eq "untouched file" "$(cat "$WORK/notes.txt")" precious

# --config: options from an INI file.
printf 'input = %s\nout = %s\ntokenizer = %s\nformat = lines\n' "$WORK/three.txt" "$WORK/ini" "$T" >"$WORK/prep.ini"
prep --config "$WORK/prep.ini"
expect_eq "--config with format = lines: documents" "$(documents)" 3

# Each refusal on 2 ranks (input i is read by rank i % 2, so the second file is rank 1's):
# exit 2, exactly one `glm3d: error:` line, nothing written.
expect_one_line() {
  local what=$1 fragment=$2; shift 2
  local rc=0
  mpirun_glm3d 2 prep "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
  [ "$rc" -eq 2 ] || { cat "$WORK/err"; fail "$what: exit code $rc, expected 2"; }
  [ "$(grep -c '^glm3d: error' "$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$what: not one error line"; }
  grep -q '^glm3d: error: .*'"$fragment" "$WORK/err" || { cat "$WORK/err"; fail "$what: lacks '$fragment'"; }
  [ -e "$WORK/never" ] && fail "$what: wrote the store"
  echo "ok (2 ranks): $what -> $(grep '^glm3d: error' "$WORK/err")"
}
mkdir "$WORK/adir"
head -c 2000 "$WORK/en.txt.gz" >"$WORK/trunc.gz"
printf '\xfd7zXZ\x00 the xz magic bytes' >"$WORK/en.txt.xz"
printf 'x\n' >"$WORK/plain.gz"
expect_one_line "directory input" "input file $WORK/adir is a directory" --input "$C/en.txt" "$WORK/adir" --out "$WORK/never" --tokenizer "$T"
printf '{"text": "fine"}\n' >"$WORK/good.jsonl"
expect_one_line "JSONL field" "body.dat line 1: no field 'text'.*--json-field" --input "$WORK/good.jsonl" "$WORK/body.dat" --format jsonl --out "$WORK/never" --tokenizer "$T"
expect_one_line "truncated gzip" "input file $WORK/trunc.gz: truncated gzip data" --input "$C/en.txt" "$WORK/trunc.gz" --out "$WORK/never" --tokenizer "$T"
expect_one_line "xz input" "input file $WORK/en.txt.xz is xz-compressed" --input "$C/en.txt" "$WORK/en.txt.xz" --out "$WORK/never" --tokenizer "$T"
expect_one_line ".gz name, no gzip" "is named .gz but is not gzip-compressed" --input "$C/en.txt" "$WORK/plain.gz" --out "$WORK/never" --tokenizer "$T"
expect_one_line "--overwrite on a directory" "has no manifest.txt" --input "$C/en.txt" --out "$WORK/mine" --tokenizer "$T" --overwrite
expect_one_line "input inside the store" "lies inside $WORK/given, the store --overwrite would replace" --input "$WORK/plain/manifest.txt" "$WORK/given/tokenizer.model" --out "$WORK/given" --tokenizer "$T" --overwrite
expect_one_line "--format" "unknown --format 'csv'" --input "$C/en.txt" --out "$WORK/never" --tokenizer "$T" --format csv
expect_one_line "--tokenizer-type" "--tokenizer-type must be unigram or bpe, got 'wordpiece'" --input "$C/en.txt" --out "$WORK/never" --train-tokenizer --tokenizer-type wordpiece
expect_one_line "--character-coverage" "--character-coverage must be in \[0.98, 1\]" --input "$C/en.txt" --out "$WORK/never" --train-tokenizer --character-coverage 0.9
expect_one_line "--vocab-size below the characters" "--vocab-size 400 is too small for this input" --input "$C/en.txt" "$C/zh.txt" --out "$WORK/never" --train-tokenizer --vocab-size 400
expect_eq "untouched directory after 2 ranks" "$(cat "$WORK/mine/notes")" precious
echo "prep options ok"
