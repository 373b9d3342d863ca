#!/usr/bin/env bash
# The options users type: Megatron-LM spellings change the run exactly as glm3d's own do, a
# --config INI (sections, comments, `_`/`-`, Megatron keys) gives the same run as flags and
# loses to the command line, "did you mean", FILE:LINE in INI errors, --help defaults as
# typed, per-action help of ckpt and data, --version.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
G="$GLM3D_BIN"

expect_ok() { expect_exit 0 out "$@"; }
lacks() { ! grep -qE -- "$2" "$WORK/out" || { cat "$WORK/out"; fail "$1: stdout has '$2'"; }; }

# ---------------------------------------------------------------- Megatron spellings
# Every value differs from glm3d's default, so an alias that did nothing (or set the wrong
# option) changes the checkpoint's metadata or weights. tp 2 x pp 2 x 2 virtual stages.
COMMON=(train --model tiny --synthetic --lr 1e-3 --min-lr 1e-4 --weight-decay 0.05 --seed 77
  --schedule interleaved --log-interval 100)
MEGATRON=(--train-iters 3 --global-batch-size 4 --micro-batch-size 2 --lr-warmup-iters 2 --lr-decay-iters 7
  --adam-beta1 0.8 --adam-beta2 0.9 --adam-eps 1e-6 --seq-length 64 --tensor-model-parallel-size 2
  --pipeline-model-parallel-size 2 --num-virtual-stages-per-pipeline-rank 2 --use-distributed-optimizer)
NATIVE=(--steps 3 --global-batch 4 --micro-batch 2 --warmup-steps 2 --decay-steps 7 --beta1 0.8 --beta2 0.9
  --eps 1e-6 --seq-len 64 --tp 2 --pp 2 --virtual-stages 2 --zero 1)

# run NAME args... : a 4-rank run saved to $WORK/NAME; its `ckpt inspect` (minus the path line)
# in $WORK/NAME.inspect.
run() {
  local name=$1; shift
  mpirun_glm3d 4 "${COMMON[@]}" "$@" --save "$WORK/$name" --metrics "$WORK/$name.jsonl" >"$WORK/$name.log"
  [ "$(wc -l <"$WORK/$name.jsonl")" -eq 3 ] || fail "$name: $(wc -l <"$WORK/$name.jsonl") steps, expected 3"
  # The settings line, as printed before and after the trainer's settings block (main f04570e).
  grep -qE "2 micro-batches of 2 per step|micro-batch 2 \(2 per step" "$WORK/$name.log" ||
    { cat "$WORK/$name.log"; fail "$name: micro-batch"; }
  "$G" ckpt inspect "$WORK/$name" | tail -n +2 >"$WORK/$name.inspect"
}
run megatron "${MEGATRON[@]}"
for want in "step 3 (skipped 0)" "global batch 4, seed 77" \
  "lr max 0.001 min 0.0001, warmup 2, decay 7; adam beta1 0.8 beta2 0.9 eps 1e-06, weight decay 0.05" \
  "layout tp=2 pp=2 dp=1 virtual_stages=2 zero=1" ", seq 64,"; do
  grep -qF -- "$want" "$WORK/megatron.inspect" || { cat "$WORK/megatron.inspect"; fail "Megatron run lacks '$want'"; }
done
echo "ok: Megatron spellings: 3 steps, global batch 4, micro-batch 2, warmup 2, decay 7, betas, eps, seq 64, tp 2, pp 2, 2 virtual stages, ZeRO-1"
run native "${NATIVE[@]}"
cmp -s "$WORK/megatron.inspect" "$WORK/native.inspect" ||
  { diff "$WORK/megatron.inspect" "$WORK/native.inspect" | head; fail "Megatron and glm3d spellings differ"; }
echo "ok: the same run with glm3d's spellings: identical checkpoint metadata, config and tensor checksums"

# ---------------------------------------------------------------- --config INI
# `_` and `-`, both comment characters, a [train] section and another command's section,
# Megatron keys, a switch alias; --train-iters on the command line wins over the file's 5.
cat >"$WORK/run.ini" <<'INI'
# the run of the test above, as a file
[eval]
steps = 999          ; another command's section: skipped by train
tp = 8
[train]
train_iters = 5
global_batch = 4
micro-batch-size = 2
warmup_steps = 2
lr-decay-iters = 7
beta1 = 0.8
adam_beta2 = 0.9     # Megatron's name
eps = 1e-6
seq_length = 64
tensor_model_parallel_size = 2
pp = 2
virtual_stages = 2
use_distributed_optimizer = true
INI
run ini --config "$WORK/run.ini" --train-iters 3
cmp -s "$WORK/ini.inspect" "$WORK/native.inspect" ||
  { diff "$WORK/ini.inspect" "$WORK/native.inspect" | head; fail "the INI run differs from the flags run"; }
echo "ok: --config with _/-, [sections], # and ; comments, Megatron keys = the flags run; the command line wins"

printf 'steps = 3\n\n[train]\nglobal_bach = 4\n' >"$WORK/typo.ini"
expect_usage_error "INI unknown key" "$WORK/typo.ini:4: unknown key 'global_bach'; did you mean 'global_batch'?" \
  "$G" train --model tiny --synthetic --config "$WORK/typo.ini"
printf '# x\nseed = 7\nsteps = abc\n' >"$WORK/value.ini"
expect_usage_error "INI bad value" "$WORK/value.ini:3: key 'steps' expects an integer, got 'abc'" \
  "$G" train --model tiny --synthetic --config "$WORK/value.ini"
printf 'steps 3\n' >"$WORK/noeq.ini"
expect_usage_error "INI line without =" "$WORK/noeq.ini:1: expected 'key = value', got 'steps 3'" \
  "$G" train --model tiny --synthetic --config "$WORK/noeq.ini"
printf 'count = 2\n[model]\nhidden = 64\n' >"$WORK/section.ini"
expect_usage_error "INI unknown section" "$WORK/section.ini:2: unknown section '[model]'" \
  "$G" data sample "$WORK/nowhere" --out "$WORK/x.h5" --config "$WORK/section.ini"

# ---------------------------------------------------------------- did you mean
expect_usage_error "typo" "unknown option '--stpes'; did you mean '--steps'?" "$G" train --model tiny --stpes 3
expect_usage_error "typo of a Megatron name (eval)" \
  "unknown option '--tensor-model-paralel-size'; did you mean '--tensor-model-parallel-size'?" \
  "$G" eval --tensor-model-paralel-size 2
expect_usage_error "Megatron name without a twin" \
  "unknown option '--num-layers'; did you mean '--model' (a preset, or a model INI file with num_layers = N)?" \
  "$G" train --num-layers 4
expect_usage_error "alias whose target the command lacks" \
  "unknown option '--train-iters' (see glm3d data sample --help)" "$G" data sample "$WORK/s" --train-iters 3
expect_usage_error "unknown command" "unknown command 'trian'; did you mean 'train'?" "$G" trian

# ---------------------------------------------------------------- --help
expect_ok "train --help: weight decay 0.1" "--weight-decay arg (=0.1)" "$G" train --help
for want in "--eps arg (=1e-08)" "--beta2 arg (=0.95)" "--peak-tflops arg (=0)" "--train-iters = --steps" \
  "--use-distributed-optimizer = --zero 1"; do
  grep -qF -- "$want" "$WORK/out" || { cat "$WORK/out"; fail "train --help lacks '$want'"; }
done
for cmd in train prep "data sample" eval "ckpt export" "prep verify"; do
  # shellcheck disable=SC2086
  expect_ok "$cmd --help" "--help" "$G" $cmd --help
  lacks "$cmd --help: defaults as typed" '[0-9]\.[0-9]{9,}'
done
expect_ok "prep --help: character coverage" "--character-coverage arg (=0.9995)" "$G" prep --help

# ---------------------------------------------------------------- ckpt and data actions, version
expect_ok "ckpt --help lists the actions" "inspect" "$G" ckpt --help
for a in verify export import; do grep -qE "^  $a " "$WORK/out" || fail "ckpt --help lacks $a"; done
expect_ok "ckpt export --help" "--max-shard-mb arg (=4096)" "$G" ckpt export --help
grep -qF -- "--dtype arg (=f16)" "$WORK/out" || fail "ckpt export --help lacks --dtype"
lacks "ckpt export --help: only its own options" "--from"
expect_ok "ckpt import --help" "--from arg" "$G" ckpt import --help
lacks "ckpt import --help: only its own options" "--dtype|--max-shard-mb|--to "
expect_ok "ckpt inspect --help" "--path arg" "$G" ckpt inspect --help
lacks "ckpt inspect --help: only its own options" "--out|--from|--dtype"
expect_ok "ckpt verify --help" "NaN/Inf" "$G" ckpt verify --help
expect_usage_error "ckpt action typo" "unknown ckpt action 'inspct'; did you mean 'inspect'?" "$G" ckpt inspct x
rc=0; "$G" ckpt >"$WORK/out" 2>&1 || rc=$?
[ "$rc" -eq 2 ] && grep -qF "usage: glm3d ckpt <action>" "$WORK/out" || fail "glm3d ckpt: exit $rc, expected 2 and the listing"
expect_ok "data --help" "sample" "$G" data --help
grep -qF "usage: glm3d data <action>" "$WORK/out" || fail "data --help: no usage line"
expect_ok "data sample --help" "--mask-ratio arg" "$G" data sample --help
VERSION=$(sed -n 's/^project(glm3d VERSION \([0-9.]*\).*/\1/p' "$GLM3D_SOURCE_DIR/CMakeLists.txt")
expect_ok "--version" "glm3d $VERSION" "$G" --version
expect_ok "version" "glm3d $VERSION" "$G" version
echo "options ok"
