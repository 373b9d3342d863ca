#!/usr/bin/env bash
# --clip-grad, --beta1, --beta2, --eps, --weight-decay and --lr reach the optimizer (issue 10,
# "every option has a test that fails if it is ignored"), checked exactly on the checkpoint
# after one step (tests/train/adamw_check.py has the formulas):
#  - clipping: ||adam_m|| / (1-beta1) equals min(grad_norm, clip) (Megatron's clip factor
#    clip / (norm + 1e-6)) to 1e-6, with the metrics' pre-clip grad_norm; --clip-grad 0 and a
#    clip above the norm leave the gradient as it is (run A is 2 ranks dp 2 ZeRO-1: each rank
#    clips and updates its own shard);
#  - betas: adam_v / adam_m^2 = (1-beta2) / (1-beta1)^2 element by element;
#  - eps, bias correction and lr: every bias (starts at 0) and LayerNorm weight (starts at 1)
#    equals p0 - lr (m/bc1) / (sqrt(v/bc2) + eps) bit for bit;
#  - weight decay: two runs differing only in it saw the same gradient; weights differ by
#    exactly lr * wd * p0, biases and LayerNorm weights not at all.
# The hyper-parameters are far from the defaults, so an ignored flag fails a check.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SEED=$((RANDOM + 1))
echo "seed $SEED"
LR=0.1 B1=0.8 B2=0.99 EPS=1e-3 WD=0.5 CLIP=0.5
RUN=(train --model tiny --synthetic --global-batch 2 --steps 1 --seed "$SEED" --quiet
  --lr "$LR" --warmup-steps 1 --beta1 "$B1" --beta2 "$B2" --eps "$EPS")
mpirun_glm3d 2 "${RUN[@]}" --dp 2 --zero 1 --clip-grad "$CLIP" --weight-decay "$WD" --save "$WORK/a" \
  --metrics "$WORK/a.jsonl"
"$GLM3D_BIN" "${RUN[@]}" --clip-grad 0 --weight-decay "$WD" --save "$WORK/b" --metrics "$WORK/b.jsonl"
"$GLM3D_BIN" "${RUN[@]}" --clip-grad 1000 --weight-decay 0 --save "$WORK/c" --metrics "$WORK/c.jsonl"
"$SYSTEM_PYTHON" "$GLM3D_SOURCE_DIR/tests/train/adamw_check.py" "$LR" "$B1" "$B2" "$EPS" "$WD" "$CLIP" \
  "$WORK/a" "$WORK/a.jsonl" "$WORK/b" "$WORK/b.jsonl" "$WORK/c" "$WORK/c.jsonl" || fail "AdamW step check"
