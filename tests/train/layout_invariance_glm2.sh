#!/usr/bin/env bash
# Layout invariance of ChatGLM2/3's architecture (tiny-glm2: 8 heads, 2 key/value groups, RMSNorm,
# pre-norm, SwiGLU, half-interleaved RoPE, causal, untied output layer): every layout below gives
# the 1-rank loss and gradient norm within 1e-5 relative at every step (f32, flash attention),
# with tp 1, 2 and 4 — at tp 4 each key/value group lives on 2 ranks, which sum its gradients — and
# the replica check (--check-replicas-interval 2) passes, replicated key/value rows included.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SEED=$((RANDOM + 1))
echo "seed $SEED"
COMMON=(train --model tiny-glm2 --synthetic --steps 8 --seed "$SEED" --global-batch 8 --quiet)
"$GLM3D_BIN" "${COMMON[@]}" --metrics "$WORK/ref.jsonl"
for layout in "2 1 1" "4 1 1" "4 1 2" "2 2 2" "4 2 1" "2 1 4 --zero 1" "4 1 2 --zero 1" "1 2 4"; do
  read -r tp pp dp extra <<<"$layout"
  # shellcheck disable=SC2086
  mpirun_glm3d $((tp * pp * dp)) "${COMMON[@]}" --tp "$tp" --pp "$pp" --dp "$dp" $extra --check-replicas-interval 2 \
    --metrics "$WORK/run.jsonl" || fail "layout ${tp}x${pp}x${dp} $extra failed (seed $SEED)"
  python3 - "$WORK/ref.jsonl" "$WORK/run.jsonl" "${tp}x${pp}x${dp} $extra" <<'PY' || fail "layout $layout diverged (seed $SEED)"
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
run = [json.loads(l) for l in open(sys.argv[2])]
assert len(ref) == len(run) == 8
loss = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(ref, run))
gn = max(abs(a["grad_norm"] - b["grad_norm"]) / abs(a["grad_norm"]) for a, b in zip(ref, run))
print("layout %-16s loss max rel diff %.2e  grad-norm %.2e" % (sys.argv[3], loss, gn))
sys.exit(0 if loss <= 1e-5 and gn <= 1e-5 else 1)
PY
done
echo "ChatGLM2 layout invariance ok"
