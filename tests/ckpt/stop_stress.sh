#!/usr/bin/env bash
# Stop signals at random moments: RUNS single-process runs (3 steps, a checkpoint after every
# step), each sent SIGTERM, SIGINT or SIGUSR1 (to its process group) after a random delay
# spanning the whole life of a run: start-up, steps, checkpoint saves, shutdown. Each run must
# end in one of these ways, and never otherwise (no abort, no crash, no heap-corruption message,
# no corrupt checkpoint):
#   stopped  exit 0, "stopping after step K: SIGx received", latest = step K, verifies
#   early    exit 0, "stopping before step 1", nothing saved (signal during start-up)
#   finished exit 0, all 3 steps, latest = step 3, verifies (signal after the last step)
#   unborn   killed by the signal itself with no output and nothing written (it arrived while
#            the dynamic loader ran, before main() took the signals over)
# No partial (.tmp) checkpoint may remain. The seed and every delay are printed;
# GLM3D_STRESS_SEED and GLM3D_STRESS_RUNS override them.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
set -m # own process group per run, SIGINT not ignored
RUNS=${GLM3D_STRESS_RUNS:-24}
SEED=${GLM3D_STRESS_SEED:-$(date +%s)}
RANDOM=$SEED
# Sequence 128: the attention's batched products (K = 128) run on oneDNN's gemm:jit, whose stack
# pointer sits in a heap workspace (train/checkpoint_signal.h), about a fifth of the matmul time.
printf '[model]\nbase = tiny\nnum_layers = 4\nhidden = 256\nnum_heads = 8\nffn_hidden = 512\nvocab = 2048\nseq_len = 128\n' \
  >"$WORK/m.ini"
ARGS=(train --model "$WORK/m.ini" --synthetic --global-batch 8 --steps 3 --save-interval 1)

# One undisturbed run sets the span of the delays: its wall time, start-up to exit.
t0=$(date +%s%N)
"$GLM3D_BIN" "${ARGS[@]}" --save "$WORK/ref" --quiet
SPAN_MS=$((($(date +%s%N) - t0) / 1000000))
echo "seed $SEED; an undisturbed run takes $SPAN_MS ms; delays drawn from [0, $((SPAN_MS * 11 / 10))] ms"

show() { cat "$D.out" "$D.err" >&2; } # the current run's output
SIGS=(TERM INT USR1)
declare -A seen
for i in $(seq "$RUNS"); do
  sig=${SIGS[$((RANDOM % 3))]}
  delay_ms=$((((RANDOM << 15) | RANDOM) % (SPAN_MS * 11 / 10 + 1)))
  D="$WORK/run$i"
  "$GLM3D_BIN" "${ARGS[@]}" --save "$D" >"$D.out" 2>"$D.err" &
  pid=$!
  sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
  kill -"$sig" -- -"$pid" 2>/dev/null || true # it may have finished already
  rc=0
  wait "$pid" 2>/dev/null || rc=$?
  if grep -qiE "abort|corrupt|invalid pointer|double free|sanitizer|runtime error|segmentation" "$D.err"; then
    show
    fail "run $i (SIG$sig after $delay_ms ms): crash or heap message"
  fi
  ! ls "$D"/*.tmp >/dev/null 2>&1 || { show; fail "run $i: a partial checkpoint remains"; }
  K=$(sed -n "s/^stopping after step \([0-9]*\): SIG$sig received$/\1/p" "$D.out")
  if [ "$rc" -eq 0 ] && [ -n "$K" ]; then
    outcome="stopped after step $K"
  elif [ "$rc" -eq 0 ] && grep -q "^stopping before step 1: SIG$sig received during start-up" "$D.out"; then
    outcome=early K=""
    [ ! -e "$D/latest" ] || { show; fail "run $i: stopped before step 1 but a checkpoint exists"; }
  elif [ "$rc" -eq 0 ] && grep -q "^done: 3 steps" "$D.out"; then
    outcome=finished K=3
  elif [ "$rc" -eq $((128 + $(kill -l "$sig"))) ] && [ ! -s "$D.out" ] && [ ! -s "$D.err" ] && [ ! -e "$D" ]; then
    outcome=unborn K=""
  else
    show
    fail "run $i (SIG$sig after $delay_ms ms): exit code $rc and no recognised outcome"
  fi
  if [ -n "$K" ]; then
    [ "$(cat "$D/latest")" = "$(printf 'step_%08d.h5' "$K")" ] || { show; fail "run $i: latest is not step $K"; }
    "$GLM3D_BIN" ckpt verify "$D" >/dev/null || { show; fail "run $i: the checkpoint of step $K does not verify"; }
  fi
  seen[${outcome%% *}]=$((${seen[${outcome%% *}]:-0} + 1))
  echo "run $i: SIG$sig after $delay_ms ms -> exit $rc, $outcome"
  rm -rf "$D"
done
echo "outcomes: $(for k in "${!seen[@]}"; do printf '%s %d, ' "$k" "${seen[$k]}"; done)"
echo "stop stress ok"
