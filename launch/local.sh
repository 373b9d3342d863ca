#!/usr/bin/env bash
# launch/local.sh N glm3d-args... : runs N ranks of glm3d on this machine under
# mpirun (simulation of a cluster). Threads per rank are set so the N ranks share
# the cores (at least 1 each).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${1:?usage: launch/local.sh N glm3d-args...}"; shift
BIN="${GLM3D_BIN:-$ROOT/build/glm3d}"
CORES=$(nproc)
THREADS=$(( CORES / N )); [ "$THREADS" -lt 1 ] && THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
exec mpirun --oversubscribe --bind-to none -n "$N" -x OMP_NUM_THREADS="$THREADS" -x OMP_WAIT_POLICY=PASSIVE \
  "$BIN" "$@"
