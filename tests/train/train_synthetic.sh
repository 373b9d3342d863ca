#!/usr/bin/env bash
# glm3d train --model tiny --synthetic --steps 300: the loss must fall below 30% of
# its step-1 value, and the metrics file must carry one JSON object per step.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
"$GLM3D_BIN" train --model tiny --synthetic --steps 300 --log-interval 50 \
  --metrics "$WORK/m.jsonl" | tee "$WORK/log"
[ "$(wc -l < "$WORK/m.jsonl")" -eq 300 ] || fail "expected 300 metrics lines"
first=$(json_field "$WORK/m.jsonl" 1 loss)
last=$(json_field "$WORK/m.jsonl" 300 loss)
python3 -c "import sys; f,l=$first,$last; print('loss step 1 %.4f -> step 300 %.4f (%.1f%%)'%(f,l,100*l/f)); sys.exit(0 if l < 0.3*f else 1)" \
  || fail "loss did not fall below 30% of its first value"
grep -q "ETA" "$WORK/log" || fail "no progress line"
for k in step loss lr grad_norm tokens step_time_s tokens_per_s mfu; do
  json_field "$WORK/m.jsonl" 2 "$k" >/dev/null || fail "metrics lack $k"
done
