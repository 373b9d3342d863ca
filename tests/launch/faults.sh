#!/usr/bin/env bash
# One row of the fault table in docs/faults.md: a bad input or a failure, the exact exit
# code and message the table documents (expect_fault in fault_lib.sh reads them from it),
# and that every rank ends within a few seconds of the measured time. Usage:
#   faults.sh ROW     (ctest runs one test per row; `faults.sh all` runs every row)
# Each row prints "FAULT-ROW | test | exit code | seconds | message" for the table.
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
    expect_fault fault_impossible_layout 6 mpirun_glm3d 8 "${TRAIN[@]}" --tp 3 --steps 2 ;;
  world_size_mismatch)
    expect_fault fault_world_size_mismatch 6 \
      mpirun_glm3d 6 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 2 ;;
  missing_data)
    expect_fault fault_missing_data 8 \
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
    expect_fault fault_corrupt_shard 8 \
      mpirun_glm3d 2 train --model tiny --data "$WORK/store" --seq-len 64 --steps 3 --quiet ;;
  corrupt_checkpoint)
    mpirun_glm3d 2 "${TRAIN[@]}" --dp 2 --steps 2 --save "$WORK/ck" >/dev/null
    python3 - "$WORK/ck/step_00000002.h5" <<'PY'
import os, sys
p = sys.argv[1]; n = os.path.getsize(p)
with open(p, "r+b") as f:
    f.seek(n // 4); f.write(b"\xab" * (n * 90 // 100 - n // 4))
PY
    expect_fault fault_corrupt_checkpoint 8 \
      mpirun_glm3d 2 "${TRAIN[@]}" --dp 2 --steps 4 --load "$WORK/ck" ;;
  unknown_option)
    expect_fault fault_unknown_option 6 \
      mpirun_glm3d 4 "${TRAIN[@]}" --stpes 3 ;;
  out_of_range)
    expect_fault fault_out_of_range 6 mpirun_glm3d 4 "${TRAIN[@]}" --embedding-grad-shrink 2 ;;
  one_rank_throws)
    # Only rank 5 fails; the others wait in the step's collectives. The failure agreement
    # times out (3 s), rank 5 prints its message and MPI_Abort ends the job.
    expect_fault fault_one_rank_throws 16 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 6 --inject-fault throw@3:5 ;;
  hang)
    # Rank 6 stops making progress at step 3; the others block in its collectives. Every
    # watchdog reports what its rank waits on, then the job is aborted with code 3.
    expect_fault fault_hang 20 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 6 --inject-fault hang@3:6 --hang-timeout 5
    grep -E "glm3d: hang: rank [0-57] .*blocked .* in " "$WORK/err" | head -3
    grep -qE "glm3d: hang: rank [0-57] .*blocked .* in (all_reduce|wait\(irecv\)|wait\(isend\)|wait\(iall_reduce\)|reduce_scatter|all_gather|broadcast|barrier) on group (tp|pp|dp|world|embedding)" \
      "$WORK/err" || fail "no waiting rank named the collective or p2p it is blocked in" ;;
  sigkill)
    # Rank 2 is SIGKILLed at step 3 (as by the OOM killer): mpirun must end the job.
    expect_fault fault_sigkill 10 \
      mpirun_glm3d 8 "${TRAIN[@]}" --tp 2 --pp 2 --dp 2 --steps 50 --inject-fault kill@3:2 ;;
  all)
    for r in impossible_layout world_size_mismatch missing_data corrupt_shard corrupt_checkpoint unknown_option out_of_range \
      one_rank_throws hang sigkill; do row "$r"; done ;;
  *) fail "unknown row '$1'" ;;
  esac
}

row "${1:?usage: faults.sh ROW|all}"
