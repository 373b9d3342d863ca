#!/usr/bin/env bash
# MFU divides by the job's peak in the run's precision (train/mfu_peak.h): --peak-tflops when
# given; else this machine's measured matmul peak, from the CPU profile of glm3d bench matmul,
# times the job's nodes; else no MFU at all (not on the progress line, null in the metrics).
# A profile with made-up rates (2 cores, matmuls measured on 1 thread, so x 2) must give f32
# 0.3 and bf16 0.6 TFLOP/s, and every step's mfu must be flops_per_token * tokens_per_s / peak.
# A damaged profile costs the MFU, not the run.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
RUN=(train --model tiny --synthetic --steps 3 --global-batch 8)
# check METRICS TFLOPS SOURCE_FRAGMENT: the settings' peak and every step's mfu.
check() {
  python3 - "$@" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
want, frag = float(sys.argv[2]), sys.argv[3]
st = recs[0]["settings"]
assert abs(st["peak_tflops"] - want) <= 1e-12 * max(want, 1.0), (st["peak_tflops"], want)
assert frag in st["peak_source"], (st["peak_source"], frag)
for r in recs:
    if want == 0:
        assert r["mfu"] is None, r["mfu"]
    else:
        exp = st["flops_per_token"] * r["tokens_per_s"] / (want * 1e12)
        assert r["mfu"] > 0 and abs(r["mfu"] - exp) <= 1e-9 * exp, (r["mfu"], exp)
print("peak %g TFLOP/s from '%s': the mfu of %d steps checked" % (want, st["peak_source"], len(recs)))
PY
}
progress_mfu() { grep '^step ' "$1" | grep -c 'MFU' || true; } # progress lines that show an MFU

export XDG_CACHE_HOME="$WORK/none"
"$GLM3D_BIN" "${RUN[@]}" --metrics "$WORK/none.jsonl" >"$WORK/none.log"
check "$WORK/none.jsonl" 0 "no CPU profile at $WORK/none/glm3d/cpu_profile.json" || fail "no profile"
[ "$(progress_mfu "$WORK/none.log")" -eq 0 ] || fail "an MFU was printed without a peak"

export XDG_CACHE_HOME="$WORK/cache"
mkdir -p "$WORK/cache/glm3d"
cat >"$WORK/cache/glm3d/cpu_profile.json" <<'JSON'
{"format": "glm3d cpu profile 1", "cpu": "test CPU", "impl_f32": "f32-impl", "impl_bf16": "bf16-impl",
 "cores": 2, "threads": 1, "memory_bytes": 1e10, "process_baseline_bytes": 1e8, "mem_bw": 1e10,
 "allreduce_bw": 5e9, "allreduce_measured": false,
 "gemm_f32": [[1e9, 1e11], [1e10, 1.5e11]], "gemm_bf16": [[1e9, 2e11], [1e10, 3e11]]}
JSON
"$GLM3D_BIN" "${RUN[@]}" --metrics "$WORK/f32.jsonl" >"$WORK/f32.log"
check "$WORK/f32.jsonl" 0.3 "(f32 matmul, f32-impl, x 1 node)" || fail "f32 peak from the profile"
[ "$(progress_mfu "$WORK/f32.log")" -gt 0 ] || fail "no MFU on the progress lines"
mpirun --oversubscribe --bind-to none -n 2 -x OMP_NUM_THREADS=1 -x XDG_CACHE_HOME "$GLM3D_BIN" "${RUN[@]}" \
  --dp 2 --precision bf16 --quiet --metrics "$WORK/bf16.jsonl"
check "$WORK/bf16.jsonl" 0.6 "(bf16 matmul, bf16-impl, x 1 node)" || fail "bf16 peak from the profile, 2 ranks"
"$GLM3D_BIN" "${RUN[@]}" --peak-tflops 1.5 --quiet --metrics "$WORK/given.jsonl"
check "$WORK/given.jsonl" 1.5 "--peak-tflops" || fail "--peak-tflops ignored"

echo '{"format": "glm3d cpu' >"$WORK/cache/glm3d/cpu_profile.json"
"$GLM3D_BIN" "${RUN[@]}" --quiet --metrics "$WORK/bad.jsonl" || fail "a damaged profile stopped the run"
check "$WORK/bad.jsonl" 0 "unreadable" || fail "damaged profile"
