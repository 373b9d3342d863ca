#!/usr/bin/env bash
# A real Slurm cluster (tests/slurm/slurm_cluster.sh) running glm3d:
#  1. srun --mpi=pmix -n 8 glm3d train (2x2x2) gives the losses of the mpirun run of the
#     same layout, bit for bit (rank, world and local rank come from MPI under both);
#  2. slurm/sim.sbatch does too;
#  3. slurm/preemptible.sbatch, sent the preemption signal (SIGUSR1) while it trains,
#     saves, requeues itself, and the requeued run resumes from that checkpoint with the
#     losses of an uninterrupted run, bit for bit;
#  4. scancel of a running srun job (SIGTERM to every task, SIGKILL KillWait = 5 s later): every
#     rank finishes its step and saves in time; the checkpoint verifies.
# Needs root (slurmd) and Debian's slurm-wlm (tools/setup.sh installs it): otherwise it is
# skipped (77) loudly: a banner on stderr, and tests/run.sh repeats the reason at the end.
source "$GLM3D_SOURCE_DIR/tests/lib.sh"
source "$GLM3D_SOURCE_DIR/tests/slurm/slurm_cluster.sh"
skip() {
  {
    echo "################################################################"
    echo "SKIPPED: slurm (tests/slurm/slurm_test.sh): $* -- srun, sbatch and preemption are NOT tested"
    echo "################################################################"
  } >&2
  exit 77
}
[ "$(id -u)" -eq 0 ] || skip "slurmd needs root (uid $(id -u)); run tests/run.sh as root"
command -v slurmctld >/dev/null || skip "slurm-wlm is not installed (tools/setup.sh installs it)"
export OMPI_MCA_mpi_yield_when_idle=1 # 8 ranks on 2 cores: see slurm/sim.sbatch
slurm_start
cd "$WORK"

same_losses() { # same_losses REF GOT FIRST LAST
  python3 - "$@" <<'PY'
import json, sys
ref = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[1]))}
got = {o["step"]: o["loss"] for o in map(json.loads, open(sys.argv[2]))}
first, last = int(sys.argv[3]), int(sys.argv[4])
assert sorted(got) == list(range(first, last + 1)), "steps %s, expected %d..%d" % (sorted(got), first, last)
bad = [s for s in got if got[s] != ref[s]]
assert not bad, "losses differ at steps %s: %s vs %s" % (bad, [got[s] for s in bad], [ref[s] for s in bad])
print("%s: steps %d..%d equal the mpirun losses (step %d: %r)" % (sys.argv[2].split("/")[-1], first, last, last, got[last]))
PY
}

ARGS=(train --model tiny --synthetic --tp 2 --pp 2 --dp 2 --global-batch 8)
echo "[$(date +%T)] mpirun reference"
mpirun_glm3d 8 "${ARGS[@]}" --steps 40 --quiet --metrics "$WORK/ref.jsonl"
echo "[$(date +%T)] srun"

# 1. srun, direct launch through PMIx.
srun --mpi=pmix -n 8 --kill-on-bad-exit=1 "$GLM3D_BIN" "${ARGS[@]}" --steps 6 --quiet --metrics "$WORK/srun.jsonl"
same_losses "$WORK/ref.jsonl" "$WORK/srun.jsonl" 1 6 || fail "srun losses"

# 2. The simulation sbatch script as shipped, given a command line.
echo "[$(date +%T)] sbatch slurm/sim.sbatch"
id=$(sbatch --parsable -o "$WORK/sim-%j.out" "$GLM3D_SOURCE_DIR/slurm/sim.sbatch" \
  "${ARGS[@]}" --steps 6 --quiet --metrics "$WORK/sbatch.jsonl")
state=$(wait_job "$id" 120)
[ "$state" = COMPLETED ] || { cat "$WORK"/sim-*.out; fail "sbatch job $id ended $state"; }
same_losses "$WORK/ref.jsonl" "$WORK/sbatch.jsonl" 1 6 || fail "sbatch losses"

# 3. Preemption: signal the running job as Slurm does 120 s before its end.
echo "[$(date +%T)] sbatch slurm/preemptible.sbatch"
export GLM3D_CKPT="$WORK/pre"
id=$(sbatch --parsable -o "$WORK/pre-%j.out" "$GLM3D_SOURCE_DIR/slurm/preemptible.sbatch" \
  "${ARGS[@]}" --steps 40 --log-interval 1000)
for i in $(seq 600); do # until run 0 has trained 3 steps
  [ -f "$GLM3D_CKPT/metrics-0.jsonl" ] && [ "$(wc -l <"$GLM3D_CKPT/metrics-0.jsonl")" -ge 3 ] && break
  sleep 0.1
done
scancel --signal=USR1 "$id"
echo "sent SIGUSR1 to job $id after step $(wc -l <"$GLM3D_CKPT/metrics-0.jsonl")"
# Slurm makes a requeued job wait before it is eligible again (EligibleTime about 2 min
# after the requeue); as the cluster's administrator the test releases it at once.
for i in $(seq 600); do
  [ -f "$GLM3D_CKPT/metrics-1.jsonl" ] && break
  # The job may start between the check and the update; a refused update is then harmless
  # (and must not end the test under set -e).
  if scontrol show job "$id" | grep -q "Restarts=1" && [ "$(job_state "$id")" = PENDING ]; then
    scontrol update JobId="$id" StartTime=now 2>/dev/null || true
  fi
  sleep 0.2
done
echo "[$(date +%T)] requeued run started"
state=$(wait_job "$id" 240)
cat "$WORK"/pre-*.out
[ "$state" = COMPLETED ] || fail "preemptible job $id ended $state"
[ -f "$GLM3D_CKPT/metrics-1.jsonl" ] || fail "the job was not requeued"
saved=$(python3 -c "import json,sys; print(max(json.loads(l)['step'] for l in open(sys.argv[1])))" "$GLM3D_CKPT/metrics-0.jsonl")
[ "$saved" -lt 40 ] || fail "run 0 finished all 40 steps before the signal: nothing to resume"
grep -q "step_$(printf %08d "$saved").h5" "$WORK"/pre-*.out || fail "run 0 did not save at its last step $saved"
grep -q "job $id run 1: --load" "$WORK"/pre-*.out || fail "run 1 did not load the checkpoint"
same_losses "$WORK/ref.jsonl" "$GLM3D_CKPT/metrics-0.jsonl" 1 "$saved" || fail "preempted run losses"
same_losses "$WORK/ref.jsonl" "$GLM3D_CKPT/metrics-1.jsonl" $((saved + 1)) 40 || fail "requeued run losses"

# 4. scancel: Slurm sends SIGCONT and SIGTERM to every task, then SIGKILL after KillWait.
echo "[$(date +%T)] srun, then scancel"
srun --mpi=pmix -n 8 --kill-on-bad-exit=1 --job-name=glm3d-cancel "$GLM3D_BIN" "${ARGS[@]}" --steps 4000 \
  --save "$WORK/cancel" --metrics "$WORK/cancel.jsonl" >"$WORK/cancel.out" 2>&1 &
srun_pid=$!
wait_for_lines "$WORK/cancel.jsonl" 3
id=$(squeue -h -n glm3d-cancel -o %i)
t0=$(date +%s%N)
scancel "$id"
rc=0
wait "$srun_pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$WORK/cancel.out"
K=$(sed -n 's/^stopping after step \([0-9]*\): SIGTERM received$/\1/p' "$WORK/cancel.out")
[ -n "$K" ] || fail "scancel: no 'stopping after step K: SIGTERM received' line"
[ "$(cat "$WORK/cancel/latest")" = "$(printf 'step_%08d.h5' "$K")" ] || fail "scancel: latest is not step $K"
"$GLM3D_BIN" ckpt verify "$WORK/cancel"
echo "scancel: every rank stopped after step $K and saved; srun exit $rc, $ms ms after scancel"
