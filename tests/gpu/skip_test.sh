#!/usr/bin/env bash
# glm3d_gpu_check with all devices hidden: one line "no CUDA device: skipped", exit 0.
set -u
out="$(CUDA_VISIBLE_DEVICES="" "$1" 2>&1)"
rc=$?
if [ "$rc" -ne 0 ] || [ "$out" != "no CUDA device: skipped" ]; then
  echo "expected exit 0 and the one skip line; got exit $rc and:"
  echo "$out"
  exit 1
fi
echo "ok: $out"
