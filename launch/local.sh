#!/usr/bin/env bash
# launch/local.sh N glm3d-args... : runs N ranks of glm3d on this machine under
# mpirun (simulation of a cluster). Threads per rank are set so the N ranks share
# the cores (at least 1 each).
#
# Stopping (see launch/README.md): Ctrl-C, SIGTERM or SIGHUP to this script asks every rank
# to finish its step, save (with --save) and exit 0: the script relays them to mpirun as
# SIGUSR1, which mpirun forwards to every rank. mpirun runs in its own session so that a
# terminal's Ctrl-C (SIGINT to the whole foreground process group) reaches this script only:
# mpirun's own reaction to SIGINT/SIGTERM is to kill the job (SIGTERM to the ranks, SIGKILL
# odls_base_sigkill_timeout later) and exit 1. A second signal ends the job that way, at once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:?usage: launch/local.sh N glm3d-args...}"; shift
BIN="${GLM3D_BIN:-$ROOT/build/glm3d}"
CORES=$(nproc)
THREADS=$(( CORES / N )); [ "$THREADS" -lt 1 ] && THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# glm3d reads no input: mpirun gets /dev/null rather than a terminal it no longer controls.
setsid mpirun --oversubscribe --bind-to none -n "$N" -x OMP_NUM_THREADS="$THREADS" -x OMP_WAIT_POLICY=PASSIVE \
  "$BIN" "$@" </dev/null &
MPIRUN=$!

requests=0
relay() { # relay SIGNAME
  requests=$((requests + 1))
  if [ "$requests" -eq 1 ]; then
    echo "launch/local.sh: $1: asking every rank to finish its step, save (with --save) and exit" \
      "(relayed to mpirun as SIGUSR1); $1 again ends the job at once, without saving" >&2
    kill -USR1 "$MPIRUN" 2>/dev/null || true
  else
    echo "launch/local.sh: $1 again: ending the job now, without saving" >&2
    kill -TERM "$MPIRUN" 2>/dev/null || true
  fi
}
trap 'relay SIGINT' INT
trap 'relay SIGTERM' TERM
trap 'relay SIGHUP' HUP

# A trapped signal interrupts `wait` (status > 128, `reaped` left unset) while mpirun still
# runs: wait again until wait reports mpirun itself (bash >= 5.1 for wait -p).
while :; do
  unset reaped
  rc=0
  wait -p reaped "$MPIRUN" || rc=$?
  [ -z "${reaped-}" ] || break
done
exit "$rc"
