# A private Slurm cluster of one node for the tests (sourced after tests/lib.sh):
# slurmctld and slurmd from Debian's slurm-wlm, AuthType=auth/none (no munge), state,
# spool, logs and pid files under $WORK/slurm, ports chosen free on localhost. The node
# declares 16 CPUs whatever the machine has (SlurmdParameters=config_overrides), so
# 8-rank jobs fit on a 2-core machine. slurm_stop kills only what slurm_start started
# (by the pid files it wrote) after cancelling the jobs submitted to it.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

slurm_start() {
  local dir="$WORK/slurm" node
  node=$(hostname -s)
  mkdir -p "$dir/state" "$dir/spool"
  export SLURM_CONF="$dir/slurm.conf"
  cat >"$SLURM_CONF" <<CONF
ClusterName=glm3dtest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/none
CredType=cred/none
SlurmUser=$(id -un)
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
JobRequeue=1
KillWait=5
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=16 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  trap 'slurm_stop; rm -rf "$WORK"' EXIT
  slurmctld -f "$SLURM_CONF" -i
  slurmd -f "$SLURM_CONF" -N "$node"
  local i
  for i in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && return 0
    sleep 0.2
  done
  tail -20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
  fail "the test Slurm cluster did not come up"
}

slurm_stop() {
  local dir="$WORK/slurm" i pid
  [ -f "$dir/slurm.conf" ] || return 0
  scancel --full --quiet --partition=test 2>/dev/null || true
  for i in $(seq 50); do
    [ -z "$(squeue -h 2>/dev/null)" ] && break
    sleep 0.2
  done
  for f in slurmd slurmctld; do
    [ -f "$dir/$f.pid" ] || continue
    pid=$(cat "$dir/$f.pid")
    kill "$pid" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
}

# job_state ID : PENDING, RUNNING, COMPLETED, FAILED, ...
job_state() { { scontrol show job "$1" 2>/dev/null || true; } | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }

# wait_job ID LIMIT_S : until the job leaves the queue for good; fails on a timeout.
wait_job() {
  local id=$1 limit=$2 t0=$SECONDS s
  while :; do
    s=$(job_state "$id")
    case "$s" in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) echo "$s"; return 0 ;; esac
    [ $((SECONDS - t0)) -lt "$limit" ] || { scontrol show job "$id" >&2; fail "job $id still $s after $limit s"; }
    sleep 0.5
  done
}
