#!/usr/bin/env bash
# Packs glm3d_gpu_check with the shared libraries a GPU machine without glm3d's build
# dependencies lacks (oneDNN and what it loads, OpenMP, the CUDA runtime), so the GPU proof
# runs there from a build made elsewhere:
#   tests/gpu/bundle.sh BUILD_DIR DEST        # then on the GPU machine:
#   BUILD_DIR=DEST OUT=/tmp/proof tests/gpu/prove.sh
# DEST/tests/gpu/glm3d_gpu_check and DEST/lib/. glibc, libstdc++ and libgcc are left out (the
# GPU machine has its own, newer ones), and so is cuBLASLt (about 540 MB; it comes with every
# CUDA toolkit: prove.sh adds /usr/local/cuda's library folders to the search path).
set -euo pipefail
BUILD_DIR="${1:?usage: tests/gpu/bundle.sh BUILD_DIR DEST}"
DEST="${2:?usage: tests/gpu/bundle.sh BUILD_DIR DEST}"
CHECK="$BUILD_DIR/tests/gpu/glm3d_gpu_check"
[ -x "$CHECK" ] || { echo "bundle.sh: $CHECK not found: build the target glm3d_gpu_check first" >&2; exit 1; }
mkdir -p "$DEST/tests/gpu" "$DEST/lib"
cp "$CHECK" "$DEST/tests/gpu/"
skip='^(linux-vdso|ld-linux|libc\.|libm\.|libdl\.|libpthread\.|librt\.|libstdc\+\+|libgcc_s|libcublasLt)'
ldd "$CHECK" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' | while read -r name path; do
  if [[ ! "$name" =~ $skip ]]; then
    cp -L "$path" "$DEST/lib/$name"
  fi
done
missing="$(ldd "$CHECK" | grep "not found" || true)"
[ -z "$missing" ] || { echo "bundle.sh: unresolved here: $missing" >&2; exit 1; }
echo "bundle.sh: $DEST ($(du -sh "$DEST" | cut -f1)): $(ls "$DEST/lib" | tr '\n' ' ')"
