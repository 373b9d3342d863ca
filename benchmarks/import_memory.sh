#!/usr/bin/env bash
# Peak RSS of the streamed ChatGLM3 import and export on a model of about 1 GB of BF16 shards
# (13 layers, hidden 1024, vocabulary 65536: word embedding and output layer 256 MiB each in f32),
# against baseline + 1.5 x the largest tensor in f32 (the bound ctest checks on a 64 MiB-tensor
# model: tests/ckpt/import_memory.sh, whose header explains the baseline). Needs about 4 GB of disk
# in WORK_DIR (shards, the f32 checkpoint, the export). Not part of ctest.
# Usage: benchmarks/import_memory.sh [BUILD_DIR] [WORK_DIR]
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
export GLM3D_BIN="$(cd "${1:-build}" && pwd)/glm3d" GLM3D_SOURCE_DIR="$SRC"
[ -n "${2:-}" ] && export TMPDIR="$2"
/usr/bin/time -f "whole benchmark: %e s wall" bash "$SRC/tests/ckpt/import_memory.sh" gb1
