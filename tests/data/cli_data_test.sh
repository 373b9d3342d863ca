#!/usr/bin/env bash
# glm3d prep / prep verify / data sample / data stats end to end on a slice of the sample corpus, read
# back with the HDF5 command-line tools, and every bad input ending with exit code 2 and a
# message naming the file. Needs: the glm3d binary ($GLM3D_BIN), hdf5-tools, fortunes,
# fortunes-zh, mpirun.
set -uo pipefail

bin=${GLM3D_BIN:?GLM3D_BIN must point at the glm3d binary}
src=${GLM3D_SOURCE_DIR:?GLM3D_SOURCE_DIR must point at the source tree}
mpirun_cmd=(mpirun --allow-run-as-root --oversubscribe --bind-to none -x OMP_NUM_THREADS=1)
work=$(mktemp -d /tmp/glm3d_cli_data_XXXXXX)
trap 'rm -rf "$work"' EXIT
failures=0

fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# expect_code CODE NEEDLE cmd...: runs cmd, checks its exit code and that stderr+stdout contain NEEDLE.
expect_code() {
  local code=$1 needle=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [[ $rc -ne $code ]]; then fail "exit $rc (expected $code): $*"$'\n'"$out"; return; fi
  if [[ -n $needle && $out != *"$needle"* ]]; then fail "output lacks '$needle': $*"$'\n'"$out"; return; fi
  echo "ok: exit $code: ${*: -4}"
}

# ------------------------------------------------------------------ corpus and store
bash "$src/data/corpus/make_sample_corpus.sh" "$work/corpus" 60 || { echo "FAIL: corpus" >&2; exit 1; }
expect_code 0 "glm3d prep: 2 files" "${mpirun_cmd[@]}" -n 2 "$bin" prep --input "$work/corpus/en.txt" \
  "$work/corpus/zh.txt" --out "$work/store" --train-tokenizer --vocab-size 2000 --character-coverage 0.98 \
  --shard-tokens 8000 --tokenizer-threads 1
[[ -f $work/store/manifest.txt && -f $work/store/tokenizer.model ]] || { echo "FAIL: no store, stopping" >&2; exit 1; }
ls "$work" | grep -q '\.tmp-' && fail "temp dir left behind"
expect_code 0 "ok:" "$bin" prep verify "$work/store"

# ------------------------------------------------------------------ h5dump reads a shard back
shard="$work/store/shard-00000-0000.h5"
manifest_line=$(grep '^shard shard-00000-0000.h5 ' "$work/store/manifest.txt")
n_tokens=$(echo "$manifest_line" | awk '{print $3}')
crc_manifest=$(echo "$manifest_line" | awk '{print $5}')
h5_n=$(h5dump -a /n_tokens "$shard" | awk '/\(0\)/{print $2}')
[[ $h5_n == "$n_tokens" ]] || fail "h5dump n_tokens '$h5_n' != manifest '$n_tokens'"
h5dump -H "$shard" | grep -q "DATASET \"tokens\"" || fail "no tokens dataset"
h5dump -H -d tokens "$shard" | grep -q "H5T_STD_U32LE" || fail "tokens not uint32 LE"
h5dump -H -d doc_offsets "$shard" | grep -q "H5T_STD_U64LE" || fail "doc_offsets not uint64 LE"
# The raw little-endian tokens, dumped by h5dump, have the manifest's CRC-32 (gzip's trailer
# holds the zlib CRC-32 of the uncompressed bytes).
h5dump -d tokens -b LE -o "$work/tokens.bin" "$shard" >/dev/null || fail "h5dump -b failed"
size=$(stat -c %s "$work/tokens.bin")
[[ $size -eq $((n_tokens * 4)) ]] || fail "binary dump has $size bytes, expected $((n_tokens * 4))"
crc_dump=0x$(gzip -c "$work/tokens.bin" | tail -c 8 | od -An -tx4 -N4 | tr -d ' ')
if [[ $crc_dump == "$crc_manifest" ]]; then echo "ok: h5dump tokens crc32 $crc_dump matches the manifest"
else fail "crc32 of h5dump bytes $crc_dump != manifest $crc_manifest"; fi

# ------------------------------------------------------------------ data sample (+ INI config)
cat > "$work/sample.ini" <<INI
out = $work/samples.h5
count = 12
seq-len = 64
seed = 7
INI
expect_code 0 "12 samples of 64 tokens" "$bin" data sample "$work/store" --config "$work/sample.ini" --print 2
for d in tokens position_ids block_position_ids targets loss_mask; do
  h5dump -H -d $d "$work/samples.h5" | grep -q "( 12, 64 )" || fail "samples.h5 $d is not [12, 64]"
  h5dump -H -d $d "$work/samples.h5" | grep -q "H5T_STD_I32LE" || fail "samples.h5 $d is not int32"
done
h5dump -H -d sep "$work/samples.h5" | grep -q "( 12 )" || fail "samples.h5 sep is not [12]"
# Same options, same samples (the file content is a function of store, seed and indices).
"$bin" data sample "$work/store" --config "$work/sample.ini" --out "$work/samples2.h5" >/dev/null 2>&1
cmp -s <(h5dump -d tokens "$work/samples.h5" | tail -n +3) <(h5dump -d tokens "$work/samples2.h5" | tail -n +3) ||
  fail "data sample is not deterministic"

# Prep from an INI file with a given tokenizer.
cat > "$work/prep.ini" <<INI
input = $work/corpus/zh.txt
out = $work/store_ini
tokenizer = $work/store/tokenizer.model
shard-tokens = 100000
INI
expect_code 0 "1 files" "$bin" prep --config "$work/prep.ini"

# ------------------------------------------------------------------ bad input: exit 2, file named, nothing written
: > "$work/empty.txt"
expect_code 2 "$work/empty.txt: no documents" "$bin" prep --input "$work/empty.txt" --out "$work/o1" \
  --tokenizer "$work/store/tokenizer.model"
printf 'fine text\n\nbroken \xff\xfe text\n' > "$work/bad.txt"
expect_code 2 "$work/bad.txt: invalid UTF-8 at byte 18 (line 3)" "$bin" prep --input "$work/bad.txt" \
  --out "$work/o2" --tokenizer "$work/store/tokenizer.model"
expect_code 2 "cannot read input file $work/missing.txt" "$bin" prep --input "$work/missing.txt" \
  --out "$work/o3" --tokenizer "$work/store/tokenizer.model"
# A bad file that only rank 1 reads: both ranks stop, exit 2, nothing written.
expect_code 2 "$work/bad.txt: invalid UTF-8" "${mpirun_cmd[@]}" -n 2 "$bin" prep --input "$work/corpus/zh.txt" \
  "$work/bad.txt" --out "$work/o4" --tokenizer "$work/store/tokenizer.model"
for o in o1 o2 o3 o4; do [[ -e $work/$o ]] && fail "$o was written"; done
ls "$work" | grep -q '\.tmp-' && fail "temp dir left behind after a failure"
expect_code 2 "token store $work/nostore is not a directory" "$bin" prep verify "$work/nostore"
mkdir -p "$work/nomanifest"
expect_code 2 "token store manifest $work/nomanifest/manifest.txt is missing" "$bin" prep verify "$work/nomanifest"

# Corrupted shard: bytes in the middle of the token data overwritten.
cp -r "$work/store" "$work/corrupt"
victim="$work/corrupt/shard-00001-0000.h5"
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$victim" bs=1 seek=$(( $(stat -c %s "$victim") / 2 )) conv=notrunc status=none
expect_code 2 "token store shard $victim" "$bin" prep verify "$work/corrupt"
# Truncated shard.
cp -r "$work/store" "$work/trunc"
truncate -s 5000 "$work/trunc/shard-00000-0000.h5"
expect_code 2 "token store shard $work/trunc/shard-00000-0000.h5" "$bin" prep verify "$work/trunc"
expect_code 2 "$work/trunc/shard-00000-0000.h5" "$bin" data sample "$work/trunc" --count 2 --seq-len 64 \
  --out "$work/never.h5"
[[ -e $work/never.h5 ]] && fail "sample file written from a broken store"

# --out is checked before any sample is drawn: a missing directory, a directory.
mkdir -p "$work/adir"
expect_code 2 "glm3d: error: --out $work/nodir/s.h5: the directory $work/nodir does not exist" \
  "$bin" data sample "$work/store" --count 2 --seq-len 64 --out "$work/nodir/s.h5"
expect_code 2 "glm3d: error: --out $work/adir is a directory" "$bin" data sample "$work/store" --count 2 \
  --seq-len 64 --out "$work/adir"

# ------------------------------------------------------------------ data stats
# Tokens and documents equal the manifest's sums; the unigram entropy equals -sum p ln p over the
# token counts of every shard's raw tokens as h5dump writes them (an independent count in awk).
"$bin" data stats "$work/store" > "$work/stats.txt" || fail "data stats failed"
stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$work/stats.txt"; }
m_tokens=$(awk '$1 == "shard" { t += $3 } END { print t }' "$work/store/manifest.txt")
m_docs=$(awk '$1 == "shard" { d += $4 } END { print d }' "$work/store/manifest.txt")
[[ $(stat_of tokens) == "$m_tokens" ]] || fail "data stats tokens $(stat_of tokens) != manifest $m_tokens"
[[ $(stat_of documents) == "$m_docs" ]] || fail "data stats documents $(stat_of documents) != manifest $m_docs"
[[ $(stat_of vocab) == 2000 ]] || fail "data stats vocab $(stat_of vocab) != 2000"
for s in "$work"/store/shard-*.h5; do
  h5dump -d tokens -b LE -o "$work/t.bin" "$s" >/dev/null && od -An -tu4 -v "$work/t.bin"
done | awk -v h="$(stat_of unigram_entropy)" -v used="$(stat_of vocab_used)" '
  { for (i = 1; i <= NF; ++i) { c[$i]++; n++ } }
  END { for (t in c) { e -= c[t] / n * log(c[t] / n); k++ }
        d = e - h; if (d < 0) d = -d
        printf "data stats: entropy %.6f (awk %.6f), %d ids used (awk %d)\n", h, e, used, k
        exit !(d < 2e-6 && k == used) }' || fail "data stats entropy or vocab_used differ from the awk count"
expect_code 2 "token store $work/nostore is not a directory" "$bin" data stats "$work/nostore"

if [[ $failures -ne 0 ]]; then echo "$failures failure(s)" >&2; exit 1; fi
echo "all data CLI checks passed"
