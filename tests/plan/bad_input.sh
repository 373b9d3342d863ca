#!/usr/bin/env bash
# glm3d plan on bad input: one clear line on stderr and exit code 2.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
P=("$GLM3D_BIN" plan --model glm-130b --gpus 768 --device a100-40g --global-batch 4224)
PIN=(--virtual-stages 1 --micro-batch 1 --zero 1 --recompute full --precision bf16)
one_line() { [ "$(wc -l <"$WORK/err")" -eq 1 ] || { cat "$WORK/err"; fail "$1: more than one line on stderr"; }; }

expect_usage_error "unknown device" "unknown --device 'a100-4g' (known: a100-40g, a100-80g, h100-80g, h200, cpu)" \
  "$GLM3D_BIN" plan --model glm-130b --gpus 768 --device a100-4g --global-batch 4224
one_line "unknown device"
expect_usage_error "no device" "glm3d plan needs --device" "$GLM3D_BIN" plan --model tiny --gpus 8 --global-batch 8
expect_usage_error "tp x pp x dp is not the gpus" "--gpus 768 is not tp x pp x dp for the pinned tp=4 pp=8 dp=12" \
  "${P[@]}" --tp 4 --pp 8 --dp 12 "${PIN[@]}"
one_line "tp x pp x dp"
expect_usage_error "heads not divisible" "heads not divisible by tp" \
  "$GLM3D_BIN" plan --model glm-130b --device a100-40g --gpus 5 --tp 5 --pp 1 --dp 1 "${PIN[@]}" --global-batch 5
expect_usage_error "layers not divisible" "layers not divisible over pp x virtual stages" \
  "${P[@]}" --tp 4 --pp 8 --dp 24 --virtual-stages 3 --micro-batch 1 --zero 1 --recompute full --precision bf16
expect_usage_error "uneven split that does not add up" "--pp-layers sums to 72 but the model has num_layers=70" \
  "${P[@]}" --tp 4 --pp 8 --dp 24 "${PIN[@]}" --pp-layers 9,9,9,9,9,9,9,9
expect_usage_error "batch not divisible" "global batch not divisible by micro-batch x dp" \
  "$GLM3D_BIN" plan --model glm-130b --gpus 768 --device a100-40g --tp 4 --pp 8 --dp 24 "${PIN[@]}" --global-batch 4000
one_line "batch not divisible"
expect_usage_error "zero gpus" "--gpus must be positive, got 0" "$GLM3D_BIN" plan --model tiny --gpus 0 --device cpu --global-batch 8
expect_usage_error "negative batch" "--global-batch must be positive, got -8" \
  "$GLM3D_BIN" plan --model tiny --gpus 8 --device a100-40g --global-batch -8
expect_usage_error "negative micro-batch" "--micro-batch must be positive, got -1" "${P[@]}" --micro-batch -1
expect_usage_error "zero seq-len is the model's, negative is not" "--seq-len must be positive" "${P[@]}" --seq-len -5
expect_usage_error "negative override" "--memory-gb must be positive, got -40" "${P[@]}" --memory-gb -40
expect_usage_error "unknown recompute" "none, selective or full" "${P[@]}" --recompute some
expect_usage_error "unknown preset" "unknown model preset 'glm-13b'" \
  "$GLM3D_BIN" plan --model glm-13b --gpus 8 --device a100-40g --global-batch 8
echo "plan bad input: all ok"
