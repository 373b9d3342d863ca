#!/usr/bin/env bash
# glm3d finetune --method qlora: LoRA over a base whose layer matrices are NF4 with double
# quantization, on tiny's and tiny-glm2's architectures widened to hidden 128 (and tiny-glm2's FFN
# to 128) so that their tp-2 shards hold whole 64-element NF4 blocks (tiny's own dense weight,
# [64, 64] split by columns, does not: the last check):
#  - 2x2x2 and 2x1x1 give the 1-rank losses within 1e-5 relative at every step (gradient norms
#    5e-5, as the LoRA test), LoRA dropout 0.1 on all four linears;
#  - the adapters train: the loss ends below the same run's with --lr 0;
#  - the NF4 base is what the run uses: every loss equals, within 1e-5, that of a LoRA run whose
#    base is the dequantized NF4 model (a float checkpoint written here with h5py from
#    `glm3d ckpt quantize --bits nf4`), and differs from LoRA on the float base by 10x more;
#  - the same nf4 checkpoint as the base gives the float base's QLoRA losses bit for bit (the
#    same codes, quantized while loading or read);
#  - resume is bit-exact; --precision bf16 runs and stays within 2% of f32;
#  - --dry-run on chatglm-6b: the NF4 base's weights are under a quarter of LoRA's f32 ones;
#  - bad input: a layout whose shards split NF4 blocks, an int8 checkpoint as the base.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SEED=$((RANDOM + 1))
echo "seed $SEED"
TARGETS=query_key_value,dense,dense_h_to_4h,dense_4h_to_h
printf 'base = tiny\nhidden = 128\n' >"$WORK/tiny-wide.ini"
printf 'base = tiny-glm2\nhidden = 128\nffn_hidden = 128\n' >"$WORK/glm2-wide.ini"

compare() { # ref run label tolerance
  python3 - "$@" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
run = [json.loads(l) for l in open(sys.argv[2])]
assert len(ref) == len(run) == 4, (len(ref), len(run))
loss = max(abs(a["loss"] - b["loss"]) / abs(a["loss"]) for a, b in zip(ref, run))
gn = max(abs(a["grad_norm"] - b["grad_norm"]) / abs(a["grad_norm"]) for a, b in zip(ref, run))
print("%-28s loss max rel diff %.2e  grad-norm %.2e" % (sys.argv[3], loss, gn))
sys.exit(0 if loss <= float(sys.argv[4]) and gn <= 5 * float(sys.argv[4]) else 1)
PY
}

# A float checkpoint holding the dequantized NF4 matrices of a quantized one (checksums rewritten).
dequantize_ckpt() { # float.h5 nf4.h5 out.h5
  $SYSTEM_PYTHON - "$@" <<'PY'
import h5py, numpy as np, shutil, sys
src, q, out = sys.argv[1:4]
shutil.copy(src, out)
def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
with np.errstate(over="ignore"), h5py.File(q, "r") as fq, h5py.File(out, "r+") as fo:
    n = 0
    for name, d in fq["params"].items():
        if d.attrs.get("quant") is None:
            continue
        quant = d.attrs["quant"]
        assert (quant.decode() if isinstance(quant, bytes) else quant) == "nf4"
        rows, cols = (int(v) for v in d.attrs["shape"])
        packed = d[()]
        codes = np.empty(rows * cols, np.uint8)
        codes[0::2], codes[1::2] = packed >> 4, packed & 15
        table = fq["params"][name + ".quant_map"][()].astype(np.float32)
        amax = (fq["params"][name + ".nested_quant_map"][()][fq["params"][name + ".absmax"][()]] *
                np.repeat(fq["params"][name + ".nested_absmax"][()], 256)[: (rows * cols + 63) // 64]).astype(np.float32)
        amax = (amax + np.float32(d.attrs["nested_offset"])).astype(np.float32)
        w = (table[codes] * np.repeat(amax, 64)[: rows * cols]).astype(np.float32)
        dst = fo["params"][name]
        dst[()] = w.reshape(rows, cols)
        idx = np.arange(rows * cols, dtype=np.uint64)
        dst.attrs["checksum"] = np.uint64(mix64(idx * np.uint64(0x9E3779B97F4A7C15) + w.view(np.uint32).astype(np.uint64)).sum(dtype=np.uint64))
        n += 1
    print("dequantized %d NF4 matrices into %s" % (n, out))
PY
}

for model in tiny-wide glm2-wide; do
  "$GLM3D_BIN" train --model "$WORK/$model.ini" --synthetic --steps 2 --global-batch 8 --seed "$SEED" --quiet \
    --save "$WORK/base-$model"
  # Adam eps 1e-5: near-zero adapter gradients would otherwise take whole-lr steps whose sign is
  # f32 rounding (tests/train/finetune_lora.sh).
  FT=(finetune --synthetic --steps 4 --global-batch 8 --seed "$SEED" --warmup-steps 0 --eps 1e-5 --lora-r 4
    --lora-dropout 0.1 --lora-targets "$TARGETS" --quiet)
  "$GLM3D_BIN" "${FT[@]}" --method qlora --load "$WORK/base-$model" --lr 1e-2 --metrics "$WORK/ref-$model.jsonl"
  "$GLM3D_BIN" "${FT[@]}" --method qlora --load "$WORK/base-$model" --lr 0 --metrics "$WORK/frozen-$model.jsonl"
  python3 - "$WORK/ref-$model.jsonl" "$WORK/frozen-$model.jsonl" <<'PY' || fail "$model: QLoRA did not train"
import json, sys
ref = [json.loads(l)["loss"] for l in open(sys.argv[1])]
frozen = [json.loads(l)["loss"] for l in open(sys.argv[2])]
assert ref[0] == frozen[0], "B = 0: step 1 is the base model"
print("step 4 loss %.6f vs --lr 0 %.6f" % (ref[-1], frozen[-1]))
sys.exit(0 if ref[-1] < frozen[-1] - 1e-3 else 1)
PY
  for layout in "2 2 2" "2 1 1"; do
    read -r tp pp dp <<<"$layout"
    mpirun_glm3d $((tp * pp * dp)) "${FT[@]}" --method qlora --load "$WORK/base-$model" --lr 1e-2 --tp "$tp" \
      --pp "$pp" --dp "$dp" --metrics "$WORK/run.jsonl" || fail "$model layout ${tp}x${pp}x${dp} failed (seed $SEED)"
    compare "$WORK/ref-$model.jsonl" "$WORK/run.jsonl" "$model ${tp}x${pp}x${dp}" 1e-5 ||
      fail "$model layout $layout diverged (seed $SEED)"
  done
done

# The NF4 base is the one used: LoRA on the dequantized NF4 model gives QLoRA's losses.
M=tiny-wide
CK="$WORK/base-$M/step_00000002.h5"
"$GLM3D_BIN" ckpt quantize --bits nf4 --load "$WORK/base-$M" --out "$WORK/nf4.h5" >/dev/null
dequantize_ckpt "$CK" "$WORK/nf4.h5" "$WORK/deq.h5" || fail "dequantized checkpoint"
FT=(finetune --synthetic --steps 4 --global-batch 8 --seed "$SEED" --warmup-steps 0 --eps 1e-5 --lora-r 4
  --lora-dropout 0.1 --lora-targets "$TARGETS" --lr 1e-2 --quiet)
"$GLM3D_BIN" "${FT[@]}" --method lora --load "$WORK/deq.h5" --metrics "$WORK/lora-deq.jsonl"
"$GLM3D_BIN" "${FT[@]}" --method lora --load "$WORK/base-$M" --metrics "$WORK/lora-float.jsonl"
python3 - "$WORK/ref-$M.jsonl" "$WORK/lora-deq.jsonl" "$WORK/lora-float.jsonl" <<'PY' || fail "QLoRA is not LoRA on the dequantized NF4 base"
import json, sys
q, deq, flt = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:4])
d_deq = max(abs(a - b) / a for a, b in zip(q, deq))
d_flt = max(abs(a - b) / a for a, b in zip(q, flt))
print("QLoRA vs LoRA on the dequantized NF4 base: %.2e; vs LoRA on the float base: %.2e" % (d_deq, d_flt))
sys.exit(0 if d_deq <= 1e-5 and d_flt > 10 * d_deq else 1)
PY
# The nf4 checkpoint itself as the base (read, not quantized again): the same codes, the same losses.
mpirun_glm3d 2 "${FT[@]}" --method qlora --load "$WORK/nf4.h5" --tp 2 --metrics "$WORK/q-nf4.jsonl"
mpirun_glm3d 2 "${FT[@]}" --method qlora --load "$WORK/base-$M" --tp 2 --metrics "$WORK/q-float.jsonl"
python3 - "$WORK/q-nf4.jsonl" "$WORK/q-float.jsonl" <<'PY' || fail "QLoRA from the nf4 checkpoint differs"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:3])
assert a == b, (a, b)
print("base from the nf4 checkpoint: losses equal bit for bit")
PY

# Resume bit for bit (the base is read again from the checkpoint's record).
QF=(finetune --method qlora --base "$WORK/base-$M" --synthetic --global-batch 8 --seed "$SEED" --lr 1e-2 --lora-r 4
  --lora-targets "$TARGETS" --quiet --tp 2)
mpirun_glm3d 2 "${QF[@]}" --steps 4 --metrics "$WORK/straight.jsonl"
mpirun_glm3d 2 "${QF[@]}" --steps 2 --save "$WORK/ft" --metrics "$WORK/resumed.jsonl"
mpirun_glm3d 2 finetune --load "$WORK/ft" --synthetic --steps 4 --tp 2 --quiet --metrics "$WORK/resumed.jsonl"
python3 - "$WORK/straight.jsonl" "$WORK/resumed.jsonl" <<'PY' || fail "resumed QLoRA is not bit-exact"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:3])
assert a == b, (a, b)
print("resumed at step 2: losses equal bit for bit")
PY

# bf16: bf16 activations into the dequantized f32 matmul, f32 adapters.
"$GLM3D_BIN" "${FT[@]}" --method qlora --load "$WORK/base-$M" --precision bf16 --metrics "$WORK/bf16.jsonl"
python3 - "$WORK/ref-$M.jsonl" "$WORK/bf16.jsonl" <<'PY' || fail "QLoRA bf16"
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p)] for p in sys.argv[1:3])
d = max(abs(x - y) / x for x, y in zip(a, b))
print("bf16 vs f32 losses: max rel diff %.2e" % d)
sys.exit(0 if 0 < d < 2e-2 else 1)
PY

# Model state on chatglm-6b: the NF4 base against LoRA's f32 one.
weights() { # method -> the weights' GB of the dry-run line
  "$GLM3D_BIN" finetune --method "$1" --model chatglm-6b --synthetic --dry-run --steps 1 --global-batch 1 \
    --seq-len 512 | sed -n 's/.*(weights \([0-9.]*\) GB.*/\1/p'
}
LW=$(weights lora)
QW=$(weights qlora)
echo "chatglm-6b weights: lora $LW GB, qlora $QW GB"
python3 -c "import sys; sys.exit(0 if 0 < $QW < 0.25 * $LW else 1)" || fail "QLoRA weights $QW GB vs LoRA $LW GB"

"$GLM3D_BIN" train --model tiny --synthetic --steps 1 --global-batch 8 --seed "$SEED" --quiet --save "$WORK/base-tiny"
expect_usage_error "a layout splitting NF4 blocks" "do not fall on NF4 blocks" \
  mpirun_glm3d 2 finetune --method qlora --load "$WORK/base-tiny" --synthetic --steps 1 --global-batch 8 --tp 2 \
  --lora-targets dense
"$GLM3D_BIN" ckpt quantize --bits 8 --load "$WORK/base-$M" --out "$WORK/int8.h5" >/dev/null
expect_usage_error "an int8 base" "is not NF4 with double quantization" \
  "$GLM3D_BIN" finetune --method qlora --load "$WORK/int8.h5" --synthetic --steps 1 --global-batch 8
echo "QLoRA fine-tuning ok"
