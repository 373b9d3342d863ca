#!/usr/bin/env bash
# Fuzzes every file reader of glm3d with libFuzzer under AddressSanitizer and UBSan.
#   tests/fuzz/run.sh [-j N] [SECONDS] [TARGET...]   SECONDS per target (default 60), N targets at
#                                                    a time (default 1), every target by default
# Installs clang, libclang-rt-14-dev and libomp-14-dev when missing (Debian), builds build-fuzz/
# (cmake preset `fuzz`), then runs each target (tests/fuzz/targets/NAME.cpp) from its seeds
# (corpus/NAME) and regression inputs (regressions/NAME). A finding is any of:
#   a crash, an ASan or UBSan report, an exception other than glm3d::UsageError (fuzz_support.h),
#   a leak (LeakSanitizer), an input running past 2 s (-timeout=2), one allocation above 256 MB
#   (GLM3D_FUZZ_MALLOC_LIMIT_MB, checked by fuzz_support.cpp: HDF5's own allocations from lengths
#   in a damaged file are exempt, see there) or the process above 2 GB (-rss_limit_mb=2048).
# Inputs are at most 64 KiB (the tokenizer's 256 KiB: its seed is a 238 KiB SentencePiece model),
# so the allocation cap is 4 KiB of memory per input byte at least. libFuzzer stops a target at
# its first finding and writes the input to build-fuzz/fuzz/findings/NAME/ (crash-*, leak-*,
# timeout-*, oom-*); new inputs that add coverage collect in build-fuzz/fuzz/corpus/NAME (kept
# between runs, not committed). Prints a table (target, executions, coverage, findings) and exits
# 1 when any target found something, with each target's wall time and the machine's 1-minute load
# average when it started and ended. Logs: build-fuzz/fuzz/logs/NAME.log.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
FUZZ="$ROOT/tests/fuzz"
lanes=1
if [ "${1:-}" = -j ]; then
  lanes=$2
  shift 2
fi
seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$FUZZ"/targets/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi

export BUILD_DIR="$ROOT/build-fuzz"
if [ -z "${GLM3D_FUZZ_NO_BUILD:-}" ]; then
  GLM3D_EXTRA_PACKAGES="clang libclang-rt-14-dev libomp-14-dev" GLM3D_CMAKE_ARGS="--preset fuzz" \
    "$ROOT/tools/setup.sh"
fi
out="$BUILD_DIR/fuzz"
mkdir -p "$out"/{corpus,findings,logs}
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# allocator_may_return_null: a request ASan cannot serve fails as in glibc (HDF5 handles that).
# max_allocation_size_mb: one above 2 GB (only HDF5 asks for those, sized by a damaged length; the
# cap below catches glm3d's own from 256 MB) fails at once, as under `ulimit -v 2G`, instead of
# succeeding: ASan then poisons the shadow of all of it, 4 GB in seconds (a 2-s timeout in
# sample_file; the same file is refused in 25 ms without ASan).
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=2048"
export GLM3D_FUZZ_MALLOC_LIMIT_MB=256
export LSAN_OPTIONS="suppressions=$FUZZ/lsan.supp:print_suppressions=0"
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

run_target() {
  local t=$1 bin="$BUILD_DIR/tests/fuzz/fuzz_$1" max_len=65536
  [ "$t" = tokenizer ] && max_len=262144
  mkdir -p "$out/corpus/$t" "$out/findings/$t"
  local seeds=("$FUZZ/corpus/$t")
  [ -d "$FUZZ/regressions/$t" ] && seeds+=("$FUZZ/regressions/$t")
  # -close_fd_mask=1: the ckpt target runs `glm3d ckpt inspect`, which prints to stdout.
  # -malloc_limit_mb=1048576: libFuzzer's own cap off (GLM3D_FUZZ_MALLOC_LIMIT_MB is the cap).
  local load0 start=$SECONDS
  load0=$(cut -d' ' -f1 /proc/loadavg)
  timeout $((seconds + 120)) "$bin" -max_total_time="$seconds" -timeout=2 -rss_limit_mb=2048 \
    -malloc_limit_mb=1048576 -max_len="$max_len" -print_final_stats=1 -close_fd_mask=1 \
    -artifact_prefix="$out/findings/$t/" "$out/corpus/$t" "${seeds[@]}" >"$out/logs/$t.log" 2>&1 || true
  # The machine's 1-minute load average when the target started and ended, and its wall time.
  echo "[fuzz] load $load0 $(cut -d' ' -f1 /proc/loadavg) wall $((SECONDS - start))" >>"$out/logs/$t.log"
}

for t in "${targets[@]}"; do
  [ -x "$BUILD_DIR/tests/fuzz/fuzz_$t" ] || { echo "run.sh: no fuzz target $t" >&2; exit 2; }
  rm -f "$out/logs/$t.log"
done
echo "[fuzz] ${#targets[@]} targets, ${seconds} s each, $lanes at a time; logs in $out/logs"
for t in "${targets[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$lanes" ]; do wait -n || true; done
  run_target "$t" &
done
wait

set +e +o pipefail # a log without a match is an answer, not an error
found=0
printf '\n%-17s %6s %12s %9s %9s %11s  %s\n' target wall_s executions coverage features load findings
for t in "${targets[@]}"; do
  log="$out/logs/$t.log"
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log" | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  # What libFuzzer wrote this run ("Test unit written to PATH"), with the kind of report.
  artifact=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -1 | awk '{print $5}')
  what="none"
  if [ -n "$artifact" ] || ! grep -q "stat::number_of_executed_units" "$log"; then
    found=1
    kind=$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [a-zA-Z-]+|runtime error: .*|FINDING: .*|out-of-memory|timeout' "$log" | head -1)
    what="${kind:-no final stats (see the log)} ${artifact:+-> $artifact}"
  fi
  read -r load0 load1 wall < <(awk '/^\[fuzz\] load / {print $3, $4, $6}' "$log" | tail -1)
  printf '%-17s %6s %12s %9s %9s %11s  %s\n' "$t" "${wall:-?}" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
    "${load0:-?}-${load1:-?}" "$what"
done
if [ $found -ne 0 ]; then
  echo "[fuzz] findings: replay one with build-fuzz/tests/fuzz/fuzz_NAME FILE; fix the reader and commit the"
  echo "       input as tests/fuzz/regressions/NAME/<what-it-was> (ctest fuzz_replay_NAME replays it)"
  exit 1
fi
