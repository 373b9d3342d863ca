#!/usr/bin/env bash
# Peak memory of a streamed ChatGLM3 import and export (launch/ckpt_hf.h): the process holds one
# tensor in f32 plus conversion blocks, not the model. import_memory.sh [SIZE] (SIZE of
# tests/ckpt/chatglm2_fixture.py: mb64 here, gb1 in benchmarks/import_memory.sh) writes an
# all-BF16 ChatGLM3-shaped model (vocabulary 65536: the two largest tensors, word embedding and
# output layer, 64 MiB / 256 MiB each in f32), imports it, exports it as BF16 shards, and asserts
#   peak RSS (VmHWM, /usr/bin/time -f %M)  <  baseline + 1.5 x largest tensor in f32
# where the baseline is the peak RSS of the same command on tiny-glm2's shape (60 K parameters):
# the binary, MPI, HDF5 and its buffers, everything but tensor data. The import also equals the
# fixture element by element (mb64) and carries ChatGLM3's special tokens at the released ids.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
SIZE=${1:-mb64}
G="$GLM3D_BIN"
FIX=("$SYSTEM_PYTHON" "$GLM3D_SOURCE_DIR/tests/ckpt/chatglm2_fixture.py")
"${FIX[@]}" make "$WORK/small" 1 tiny --chatglm3 --bf16
"${FIX[@]}" make "$WORK/big" 1 "$SIZE" --chatglm3 --bf16
LARGEST=$("${FIX[@]}" largest "$WORK/big")

# peak NAME cmd... : runs cmd under /usr/bin/time; its peak RSS (KiB) and wall seconds in $WORK/NAME.kb.
peak() {
  local name=$1; shift
  /usr/bin/time -f "%M %e" -o "$WORK/$name.kb" "$@" >"$WORK/$name.log" || { cat "$WORK/$name.log"; fail "$name failed"; }
}
peak base_import "$G" ckpt import --from chatglm3-6b --out "$WORK/small.h5" "$WORK/small"
peak import "$G" ckpt import --from chatglm3-6b --out "$WORK/big.h5" "$WORK/big"
peak base_export "$G" ckpt export "$WORK/small.h5" --to chatglm3-6b --dtype bf16 --out "$WORK/small_out"
peak export "$G" ckpt export "$WORK/big.h5" --to chatglm3-6b --dtype bf16 --out "$WORK/big_out"

"$G" ckpt inspect "$WORK/big.h5" >"$WORK/inspect"
for t in "gmask = 64790" "sop = 64792" "system = 64794" "user = 64795" "assistant = 64796" "observation = 64797"; do
  grep -q "special token $t\$" "$WORK/inspect" || fail "special token $t not imported"
done
[ "$SIZE" != mb64 ] || "${FIX[@]}" check-import "$WORK/big" "$WORK/big.h5" || fail "the import differs from the fixture"

"$SYSTEM_PYTHON" - "$WORK" "$LARGEST" <<'PY' || fail "peak RSS above the bound"
import glob, os, sys
work, largest = sys.argv[1], int(sys.argv[2])
rec = {n: open(os.path.join(work, n + ".kb")).read().split()[-2:] for n in
       ("base_import", "import", "base_export", "export")}
kb = {n: int(v[0]) for n, v in rec.items()}
shards = sum(os.path.getsize(f) for f in glob.glob(os.path.join(work, "big", "*.safetensors")))
mib = lambda b: b / 2**20
print("  model: %.0f MiB of BF16 shards, %.0f MiB checkpoint (f32); largest tensor %.0f MiB in f32"
      % (mib(shards), mib(os.path.getsize(os.path.join(work, "big.h5"))), mib(largest)))
ok = True
for what in ("import", "export"):
    base, peak = kb["base_" + what] * 1024, kb[what] * 1024
    bound = base + 1.5 * largest
    print("  %s: peak RSS %.0f MiB = baseline %.0f MiB + %.2f x largest tensor; bound %.0f MiB (baseline + 1.5 x); "
          "%s s" % (what, mib(peak), mib(base), (peak - base) / largest, mib(bound), rec[what][1]))
    ok &= peak < bound
sys.exit(0 if ok else 1)
PY
echo "import memory ok"
