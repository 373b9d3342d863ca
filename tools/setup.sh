#!/usr/bin/env bash
# Installs (only what is missing, from Debian) and builds glm3d. Idempotent: a
# second run with everything in place only re-runs the incremental build.
# Used by launch/quickstart.sh and tests/run.sh.  BUILD_DIR (default build/); GLM3D_BUILD_TARGETS
# (default: everything) the targets to build: the quickstart builds glm3d alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build}"

PACKAGES=(build-essential cmake pkg-config clang-format
  libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev nlohmann-json3-dev libdnnl-dev libsentencepiece-dev sentencepiece
  libgtest-dev libbenchmark-dev fortunes fortunes-zh gnuplot-nox python3 perl gzip
  # Tests read checkpoints with h5py (tests/train/adamw_check.py) under /usr/bin/python3.
  python3-h5py python3-numpy
  # Slurm for tests/slurm and slurm/*.sbatch: srun --mpi=pmix loads mpi_pmix_v4.so from
  # slurm-wlm-basic-plugins, which dlopens libpmix (libpmix2; libpmix-dev for the
  # unversioned name); Open MPI's own PMIx client is inside libopenmpi3.
  slurm-wlm slurmctld slurmd slurm-client slurm-wlm-basic-plugins libpmix2 libpmix-dev
  # gzip input to glm3d prep (data/text_input_gzip.cpp)
  zlib1g-dev
  # GNU time: peak RSS of each rank in tests/plan/memory_vs_measured.sh and benchmarks/scaling.sh
  time)
# Callers may add packages they alone need (tests/fuzz/run.sh: clang and libFuzzer).
# shellcheck disable=SC2206
PACKAGES+=(${GLM3D_EXTRA_PACKAGES:-})
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "[setup] configuring and building in $BUILD_DIR"
# The configure log is kept; only its summary lines (what was found) are shown, and a failed
# configure prints the whole log and stops here.
mkdir -p "$BUILD_DIR"
# shellcheck disable=SC2086
if ! cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${GLM3D_CMAKE_ARGS:-} >"$BUILD_DIR/configure.log" 2>&1; then
  cat "$BUILD_DIR/configure.log" >&2
  echo "[setup] cmake configure failed (log: $BUILD_DIR/configure.log)" >&2
  exit 1
fi
awk '/glm3d|  [A-Za-z]|^CMake (Warning|Deprecation)/' "$BUILD_DIR/configure.log"
targets=()
for t in ${GLM3D_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$BUILD_DIR" -j"$(nproc)" "${targets[@]}"
