#!/usr/bin/env bash
# --keep N (issue 10, "every option has a test that fails if it is ignored"): with a save
# every step, --keep 2 --steps 5 leaves exactly step 4 and step 5 with `latest` naming step 5;
# a resumed run with --keep 1 to step 7 leaves step 7 only; --keep 0 (the default) keeps all.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
RUN=(train --model tiny --synthetic --global-batch 1 --save-interval 1 --quiet)

# expect_dir DIR LATEST FILES... : DIR holds exactly `latest` and FILES, `latest` names LATEST.
expect_dir() {
  local dir=$1 latest=$2; shift 2
  local want got
  want=$(printf '%s\n' latest "$@" | sort)
  got=$(ls "$dir" | sort)
  [ "$got" = "$want" ] || fail "$dir holds [$(echo $got)], expected [$(echo $want)]"
  [ "$(cat "$dir/latest")" = "$latest" ] || fail "$dir/latest names '$(cat "$dir/latest")', expected $latest"
  echo "ok: $dir holds $(echo "$@"), latest -> $latest"
}

"$GLM3D_BIN" "${RUN[@]}" --steps 5 --keep 2 --save "$WORK/k2"
expect_dir "$WORK/k2" step_00000005.h5 step_00000004.h5 step_00000005.h5
"$GLM3D_BIN" train --synthetic --steps 7 --keep 1 --load "$WORK/k2" --save "$WORK/k2" --save-interval 1 --quiet
expect_dir "$WORK/k2" step_00000007.h5 step_00000007.h5
"$GLM3D_BIN" "${RUN[@]}" --steps 5 --keep 0 --save "$WORK/k0"
expect_dir "$WORK/k0" step_00000005.h5 step_0000000{1,2,3,4,5}.h5
