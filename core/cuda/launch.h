#pragma once
// Launch-shape arithmetic of the CUDA kernels, kept in host+device functions so the unit
// tests (tests/cuda/test_launch.cpp) check it on the CPU, and the kernels use the very same
// code: grid sizes, row-chunking of reductions, and the flash-attention tiling of the GLM mask.
#include <cstddef>
#include <cstdint>

#ifdef __CUDACC__
#define GLM3D_HD __host__ __device__
#else
#define GLM3D_HD
#endif

namespace glm3d::cuda::launch {

constexpr int kThreads = 256; // element-wise kernels

GLM3D_HD constexpr int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// Grid-stride element-wise kernels over n items, `vec` items per thread per step:
// enough blocks to fill the GPU (8 per SM), never more than the work needs.
struct Grid1D {
  int blocks, threads;
};
Grid1D elementwise(int64_t n, int vec, int sm_count);

// One block per row of C elements: a power of two in [32, 1024] with about `per_thread`
// elements per thread.
int row_threads(int64_t C, int per_thread = 8);

// Column sums over N rows (layer-norm dgamma/dbeta, bias gradients) are taken in two
// deterministic passes: `chunks` blocks each sum `rows` consecutive rows into a partial
// row, then one pass adds the partials in a fixed order (kPartialGroups). Aims at 2 chunks per SM.
struct RowChunks {
  int64_t chunks, rows;
};
RowChunks row_chunks(int64_t N, int sm_count);

// Row kernels that hold a row in registers: a row of `packs` 16-byte packs (8 bf16 or 4 f32),
// each thread owning `per` packs (a power of two, at most max_per) strided by `threads` (a
// multiple of 32, at most kRowPackThreads). per == 0: the row does not fit (use the generic
// kernel). The smallest `per` that fits wins, so short rows get more threads.
constexpr int kRowPackThreads = 512;
struct RowPacks {
  int per, threads;
};
RowPacks row_packs(int64_t packs, int max_per);

// Column sums' second pass: a block of 32 columns x kPartialGroups groups of chunks.
constexpr int kPartialGroups = 8;

// A uniform float in [0, 1) from (seed, i): splitmix64, top 24 bits. The same on host and
// device, so a device fill (core/cuda/elementwise.h, fill_uniform) is checked exactly.
GLM3D_HD constexpr float uniform_hash(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return float(z >> 40) * (1.0f / 16777216.0f);
}

// ---------------------------------------------------------------- flash attention
// Tiles of kBr queries x kBc keys; a block has kWarps warps of 16 rows each.
constexpr int kBr = 64, kBc = 64, kWarps = 4;

// The GLM mask: query i sees key j iff j < sep or j <= i.
GLM3D_HD constexpr bool visible(int64_t i, int64_t j, int64_t sep) {
  return j < sep || j <= i;
}
// Queries [i0, i1) see keys [0, key_end) at most.
GLM3D_HD constexpr int64_t key_end(int64_t i1, int64_t sep, int64_t S) {
  const int64_t e = sep > i1 ? sep : i1;
  return e < S ? e : S;
}
// Key tiles a query tile [i0, i1) must visit: [0, key_tiles).
GLM3D_HD constexpr int64_t key_tiles(int64_t i1, int64_t sep, int64_t S) {
  return ceil_div(key_end(i1, sep, S), kBc);
}
// First query tile that sees any key of the key tile starting at j0 (all later ones do too).
GLM3D_HD constexpr int64_t first_query_tile(int64_t j0, int64_t sep) {
  return j0 < sep ? 0 : j0 / kBr;
}
// True when every (query, key) pair of the rectangle is visible, so no element mask is needed.
GLM3D_HD constexpr bool tile_fully_visible(int64_t i0, int64_t j1, int64_t sep) {
  return j1 <= sep || j1 - 1 <= i0;
}

// True when the query tile at i0 and the key tile at j0 need no per-element mask: every pair is
// visible and every key is < S.
GLM3D_HD constexpr bool tile_unmasked(int64_t i0, int64_t j0, int64_t sep, int64_t S) {
  return tile_fully_visible(i0, j0 + kBc, sep) && j0 + kBc <= S;
}
// Whether the kernels keep score (i, j) of a tile: the whole tile when it is unmasked, else the
// pairs the mask shows among keys < S.
GLM3D_HD constexpr bool keeps(bool unmasked, int64_t i, int64_t j, int64_t sep, int64_t S) {
  return unmasked || (j < S && visible(i, j, sep));
}

// Shared-memory layout of the attention kernels: bf16 [rows, hd] tiles with rows padded by 8
// elements, so rows stay 16-byte aligned (cp.async, ldmatrix) and the 8 rows one ldmatrix
// reads fall in different banks.
struct FlashSmem {
  int hd;
  GLM3D_HD constexpr int ld_h() const { return hd + 8; }
  GLM3D_HD constexpr size_t tile_h() const { return size_t(kBr) * ld_h() * 2; }
  GLM3D_HD constexpr size_t rows_f() const { return size_t(kBr) * 4; }
  // forward: Q | K K | V V (K and V double-buffered)
  GLM3D_HD constexpr size_t fwd_bytes() const { return 5 * tile_h(); }
  // backward dK/dV: K | V | Q Q | dO dO | lse lse | D D
  GLM3D_HD constexpr size_t bwd_kv_bytes() const { return 6 * tile_h() + 4 * rows_f(); }
  // backward dQ: Q | dO | K K | V V
  GLM3D_HD constexpr size_t bwd_q_bytes() const { return 6 * tile_h(); }
};

} // namespace glm3d::cuda::launch
