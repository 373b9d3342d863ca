// Launch-shape arithmetic of core/cuda (core/cuda/launch.h) on the CPU: closed forms for the
// grids, and the flash-attention tiling of the GLM mask checked pair by pair against the
// mask's definition, so the kernels visit every visible (query, key) pair and skip only
// invisible ones.
#include "core/cuda/device.h"
#include "core/cuda/launch.h"

#include "core/check.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace glm3d::cuda::launch {
namespace {

TEST(Launch, ElementwiseGridFillsTheGpuButNotMore) {
  EXPECT_EQ(elementwise(0, 1, 132).blocks, 0);
  EXPECT_EQ(elementwise(1, 1, 132).blocks, 1);
  EXPECT_EQ(elementwise(256, 1, 132).blocks, 1);
  EXPECT_EQ(elementwise(257, 1, 132).blocks, 2);
  EXPECT_EQ(elementwise(1024, 4, 132).blocks, 1);
  EXPECT_EQ(elementwise(int64_t(1) << 30, 1, 132).blocks, 132 * 8);
  EXPECT_EQ(elementwise(10, 1, 132).threads, kThreads);
  EXPECT_THROW(elementwise(10, 0, 132), Error);
}

TEST(Launch, RowThreadsArePowersOfTwoWithinLimits) {
  EXPECT_EQ(row_threads(1), 32);
  EXPECT_EQ(row_threads(64), 32);
  EXPECT_EQ(row_threads(257), 64);     // 32 * 8 = 256 < 257
  EXPECT_EQ(row_threads(12288), 1024); // 12 per thread at the cap
  EXPECT_EQ(row_threads(1 << 20), 1024);
  EXPECT_EQ(row_threads(1000, 1), 1024);
  EXPECT_THROW(row_threads(0), Error);
}

TEST(Launch, RowChunksCoverEveryRowOnce) {
  for (int64_t N : {1, 7, 264, 2048, 4097, 100000}) {
    for (int sms : {1, 108, 132}) {
      const RowChunks c = row_chunks(N, sms);
      EXPECT_GE(c.chunks * c.rows, N) << "N=" << N;
      EXPECT_LT((c.chunks - 1) * c.rows, N) << "N=" << N; // the last chunk is not empty
      EXPECT_LE(c.chunks, std::max<int64_t>(1, 2 * sms)) << "N=" << N;
    }
  }
  EXPECT_EQ(row_chunks(2048, 132).rows, 8);
  EXPECT_EQ(row_chunks(2048, 132).chunks, 256);
}

TEST(Launch, RowPacksHoldTheRowWithTheFewestPacksPerThread) {
  for (int64_t packs : {1, 31, 32, 33, 125, 512, 513, 1536, 2048, 3072, 4096}) {
    for (int max_per : {4, 8}) {
      const RowPacks r = row_packs(packs, max_per);
      if (packs > int64_t(kRowPackThreads) * max_per) {
        EXPECT_EQ(r.per, 0) << packs;
        continue;
      }
      ASSERT_GT(r.per, 0) << packs;
      EXPECT_EQ(r.threads % 32, 0);
      EXPECT_LE(r.threads, kRowPackThreads);
      EXPECT_GE(int64_t(r.threads) * r.per, packs) << "every pack has an owner";
      if (r.per > 1) { // half as many packs per thread would not fit
        EXPECT_GT(ceil_div(packs, r.per / 2), kRowPackThreads) << packs;
      }
    }
  }
  EXPECT_EQ(row_packs(1536, 4).per, 4); // bf16 hidden 12288: 384 threads of 4 packs (32 values)
  EXPECT_EQ(row_packs(1536, 4).threads, 384);
  EXPECT_EQ(row_packs(3072, 4).per, 0); // 3072 packs at most 4 a thread: the generic kernel
  EXPECT_EQ(row_packs(125, 4).threads, 128);
  EXPECT_THROW(row_packs(0, 4), Error);
}

TEST(Launch, UniformHashIsInTheUnitIntervalAndSpreads) {
  double sum = 0;
  float lo = 1, hi = 0;
  for (uint64_t i = 0; i < 100000; ++i) {
    const float u = uniform_hash(7, i);
    ASSERT_GE(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    sum += u, lo = std::min(lo, u), hi = std::max(hi, u);
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.005);
  EXPECT_LT(lo, 1e-3f);
  EXPECT_GT(hi, 1.0f - 1e-3f);
  EXPECT_NE(uniform_hash(7, 0), uniform_hash(8, 0));
}

// Every visible pair is inside a visited tile, and every element the kernels do not mask
// per element (fully visible tiles) is really visible.
void check_tiling(int64_t S, int64_t sep) {
  const int64_t qtiles = ceil_div(S, kBr), ktiles = ceil_div(S, kBc);
  std::vector<int> fwd(size_t(S * S), 0), bwd(size_t(S * S), 0);
  for (int64_t qt = 0; qt < qtiles; ++qt) { // forward and dQ: key tiles per query tile
    const int64_t i0 = qt * kBr, i1 = std::min(S, i0 + kBr);
    for (int64_t kt = 0; kt < key_tiles(i1, sep, S); ++kt) {
      const int64_t j0 = kt * kBc, j1 = std::min(S, j0 + kBc);
      const bool full = tile_unmasked(i0, j0, sep, S);
      for (int64_t i = i0; i < i1; ++i) {
        for (int64_t j = j0; j < j1; ++j) {
          ++fwd[size_t(i * S + j)];
          if (full) {
            ASSERT_TRUE(visible(i, j, sep)) << "S=" << S << " sep=" << sep << " i=" << i << " j=" << j;
          }
        }
        for (int64_t j = j0; j < j0 + kBc; ++j) // the kernels' keep decision, keys past S included
          ASSERT_EQ(keeps(full, i, j, sep, S), j < S && visible(i, j, sep))
              << "S=" << S << " sep=" << sep << " i=" << i << " j=" << j;
      }
    }
  }
  for (int64_t kt = 0; kt < ktiles; ++kt) { // dK/dV: query tiles per key tile
    const int64_t j0 = kt * kBc, j1 = std::min(S, j0 + kBc);
    for (int64_t qt = first_query_tile(j0, sep); qt < qtiles; ++qt)
      for (int64_t i = qt * kBr; i < std::min(S, qt * kBr + kBr); ++i)
        for (int64_t j = j0; j < j1; ++j)
          ++bwd[size_t(i * S + j)];
  }
  for (int64_t i = 0; i < S; ++i)
    for (int64_t j = 0; j < S; ++j) {
      const size_t k = size_t(i * S + j);
      ASSERT_LE(fwd[k], 1) << "pair visited twice";
      ASSERT_LE(bwd[k], 1) << "pair visited twice";
      if (visible(i, j, sep)) {
        ASSERT_EQ(fwd[k], 1) << "forward misses S=" << S << " sep=" << sep << " i=" << i << " j=" << j;
        ASSERT_EQ(bwd[k], 1) << "backward misses S=" << S << " sep=" << sep << " i=" << i << " j=" << j;
      }
    }
}

TEST(Launch, FlashTilingCoversExactlyTheGlmMask) {
  for (int64_t S : {1, 5, 63, 64, 65, 128, 200, 256})
    for (int64_t sep : {int64_t(0), int64_t(1), S / 3, S / 2 + 1, S - 1, S})
      check_tiling(S, sep);
}

TEST(Launch, FlashTilingSkipsInvisibleTiles) {
  // Causal, S = 256: query tile 0 needs only key tile 0; the last one needs all four.
  EXPECT_EQ(key_tiles(64, 0, 256), 1);
  EXPECT_EQ(key_tiles(256, 0, 256), 4);
  // sep = 130 (inside tile 2): every query tile sees key tiles 0..2.
  EXPECT_EQ(key_tiles(64, 130, 256), 3);
  EXPECT_EQ(first_query_tile(192, 0), 3);
  EXPECT_EQ(first_query_tile(128, 130), 0);
  EXPECT_TRUE(tile_fully_visible(64, 64, 0));   // keys [0,64) for queries from 64 on
  EXPECT_FALSE(tile_fully_visible(0, 64, 0));   // diagonal tile
  EXPECT_TRUE(tile_fully_visible(0, 128, 128)); // inside Part A
}

TEST(Launch, FlashSharedMemoryFitsTheTargets) {
  // A100 allows 163 KiB of dynamic shared memory per block (opt-in), H100/H200 227 KiB a block
  // and 228 KiB an SM.
  for (int hd : {32, 64, 128}) {
    const FlashSmem L{hd};
    for (size_t bytes : {L.fwd_bytes(), L.bwd_kv_bytes(), L.bwd_q_bytes()}) {
      EXPECT_LE(bytes, size_t(163) * 1024) << "hd=" << hd;
      EXPECT_LE(2 * bytes, size_t(228) * 1024) << "two blocks an H100/H200 SM, hd=" << hd;
    }
    // cp.async and ldmatrix move 16-byte rows; the 8 rows one ldmatrix reads land on the 8
    // different 16-byte bank groups of a 128-byte line when the pitch is an odd number of 16 bytes.
    EXPECT_EQ(L.ld_h() * 2 % 16, 0) << "hd=" << hd;
    EXPECT_EQ(L.ld_h() * 2 / 16 % 2, 1) << "hd=" << hd;
    EXPECT_EQ(L.tile_h() % 128, 0u);
  }
  EXPECT_EQ(FlashSmem{128}.fwd_bytes(), 87040u);     // 5 tiles of 64 x 136 bf16
  EXPECT_EQ(FlashSmem{128}.bwd_q_bytes(), 104448u);  // 6 tiles
  EXPECT_EQ(FlashSmem{128}.bwd_kv_bytes(), 105472u); // 6 tiles + lse and D, double-buffered
}

TEST(Device, LocalRanksWrapAroundTheDevices) {
  EXPECT_EQ(device_for_local_rank(0, 8), 0);
  EXPECT_EQ(device_for_local_rank(7, 8), 7);
  EXPECT_EQ(device_for_local_rank(9, 8), 1);
  EXPECT_EQ(device_for_local_rank(3, 1), 0); // several ranks share one GPU
  EXPECT_THROW(device_for_local_rank(0, 0), Error);
  EXPECT_THROW(device_for_local_rank(-1, 4), Error);
}

} // namespace
} // namespace glm3d::cuda::launch
