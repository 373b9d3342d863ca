#!/usr/bin/env bash
# One row of the fault table in docs/faults.md: a bad input or a failure, what glm3d
# prints (once, on stderr) and that every rank ends with the right code. Usage:
#   faults.sh ROW     (ctest runs one test per row; `faults.sh all` runs every row)
# Each row prints "FAULT-ROW | row | exit code | seconds | message" for the table.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/launch/fault_lib.sh"
G="$GLM3D_BIN"
TRAIN=(train --model tiny --synthetic --global-batch 8 --quiet)

# A small token store from the sample corpus (for the data rows).
make_store() {
  "$GLM3D_SOURCE_DIR/data/corpus/make_sample_corpus.sh" "$WORK/corpus" 100 >/dev/null
  "$G" prep --input "$WORK/corpus/en.txt" "$WORK/corpus/zh.txt" --out "$WORK/store" \
    --train-tokenizer --vocab-size 4000 --shard-tokens 20000 >/dev/null
}

row() {
  case "$1" in
  impossible_layout)
    expect_fault "impossible layout (tp 3 on 8 ranks)" 2 "tp=3" 120 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 3 --steps 2 ;;
  world_size_mismatch)
    expect_fault "world size mismatch (2x2x2 on 6 ranks)" 2 "world" 120 \
      mpirun_glm3d 6 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 2 ;;
  missing_data)
    expect_fault "missing data directory" 2 "$WORK/nowhere" 120 \
      mpirun_glm3d 2 train --model tiny --data "$WORK/nowhere" --steps 2 --quiet ;;
  corrupt_shard)
    make_store
    # Overwrite the token chunks of every shard (bytes 25%..90% of each file): whichever
    # window a rank reads first, its chunk checksum fails.
    python3 - "$WORK"/store/*.h5 <<'PY'
import os, sys
for p in sys.argv[1:]:
    n = os.path.getsize(p)
    with open(p, "r+b") as f:
        f.seek(n // 4); f.write(b"\xab" * (n * 90 // 100 - n // 4))
PY
    expect_fault "corrupt token store shard" 2 "corrupted or truncated shard" 120 \
      mpirun_glm3d 2 train --model tiny --data "$WORK/store" --seq-len 64 --steps 3 --quiet ;;
  corrupt_checkpoint)
    mpirun_glm3d 2 "${TRAIN[@]}" --dp 2 --steps 2 --save "$WORK/ck" >/dev/null
    local ck
    ck=$(ls "$WORK"/ck/*.h5 | head -1)
    python3 - "$ck" <<'PY'
import os, sys
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(n // 4); f.write(b"\xab" * (n * 90 // 100 - n // 4))
PY
    expect_fault "corrupt checkpoint" nonzero "$(basename "$ck")" 120 \
      mpirun_glm3d 2 "${TRAIN[@]}" --dp 2 --steps 4 --load "$WORK/ck" ;;
  unknown_option)
    expect_fault "unknown option" 2 "unknown option '--stpes'; did you mean '--steps'?" 120 \
      mpirun_glm3d 4 "${TRAIN[@]}" --stpes 3 ;;
  out_of_range)
    expect_fault "out-of-range value (--embedding-grad-shrink 2)" 2 "--embedding-grad-shrink must be in (0, 1]" 120 \
      mpirun_glm3d 4 "${TRAIN[@]}" --embedding-grad-shrink 2 ;;
  one_rank_throws)
    # Only rank 5 fails; the others wait in the step's collectives. The failure agreement
    # times out (3 s), rank 5 prints its message and MPI_Abort ends the job.
    expect_fault "error on one rank only (rank 5 of 8)" 1 "injected fault on rank 5 at step 3" 120 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 6 --inject-fault throw@3:5
    grep -qF "error on rank 5" "$WORK/err" || fail "the message does not name rank 5" ;;
  hang)
    # Rank 6 stops making progress at step 3; the others block in its collectives. Every
    # watchdog reports what its rank waits on, then the job is aborted with code 3.
    expect_fault "hang of one rank (watchdog, --hang-timeout 5)" nonzero \
      "rank 6 made no progress" 120 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 6 --inject-fault hang@3:6 --hang-timeout 5
    grep -F "rank 6 made no progress" "$WORK/err" | grep -qF "not in a communication call" \
      || fail "the hung rank's report does not say it is outside communication"
    grep -E "glm3d: hang: rank [0-57] .*blocked .* in " "$WORK/err" | head -3
    grep -qE "glm3d: hang: rank [0-57] .*blocked .* in (all_reduce|wait\(irecv\)|wait\(isend\)|wait\(iall_reduce\)|reduce_scatter|all_gather|broadcast|barrier) on group (tp|pp|dp|world|embedding)" \
      "$WORK/err" || fail "no waiting rank named the collective or p2p it is blocked in" ;;
  sigkill)
    # Rank 2 is SIGKILLed at step 3 (as by the OOM killer): mpirun must end the job.
    expect_fault "rank killed with SIGKILL (rank 2 of 8)" nonzero "signal 9 (Killed)" 60 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 50 --inject-fault kill@3:2 ;;
  all)
    for r in impossible_layout world_size_mismatch missing_data corrupt_shard corrupt_checkpoint unknown_option out_of_range \
      one_rank_throws hang sigkill; do row "$r"; done ;;
  *) fail "unknown row '$1'" ;;
  esac
}

row "${1:?usage: faults.sh ROW|all}"
