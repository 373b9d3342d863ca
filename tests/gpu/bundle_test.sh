#!/usr/bin/env bash
# tests/gpu/bundle.sh on this build: the bundle holds the checker and oneDNN, leaves glibc,
# libstdc++ and cuBLASLt out, and its checker runs with the bundle's folder first in the
# library search path (devices hidden: the one skip line).
#   bundle_test.sh BUILD_DIR
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dest="$(mktemp -d)"
trap 'rm -rf "$dest"' EXIT
"$here/bundle.sh" "$1" "$dest" || { echo "bundle.sh failed"; exit 1; }
fail() { echo "FAIL: $*"; ls -l "$dest/lib"; exit 1; }
[ -x "$dest/tests/gpu/glm3d_gpu_check" ] || fail "no checker in the bundle"
ls "$dest/lib" | grep -q '^libdnnl' || fail "oneDNN missing"
ls "$dest/lib" | grep -Eq '^(libc\.|libstdc\+\+|libcublasLt)' && fail "a library that must stay out is in"
# Only the bundle's folder and the CUDA toolkit's: what prove.sh sets on the GPU machine.
out="$(CUDA_VISIBLE_DEVICES="" LD_LIBRARY_PATH="$dest/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib" \
  "$dest/tests/gpu/glm3d_gpu_check" 2>&1)"
[ "$out" = "no CUDA device: skipped" ] || fail "the bundled checker printed: $out"
echo "ok: bundle of $(ls "$dest/lib" | wc -l) libraries runs"
