// BlockCache (the caching allocator's bookkeeping) against a fake backend that hands out
// addresses from a counter and records every segment: reuse, size classes and splitting,
// merging, per-stream separation, stats, out-of-memory retry, and misuse errors.
#include "core/check.h"
#include "core/cuda/block_cache.h"

#include <gtest/gtest.h>

#include <map>

namespace glm3d::cuda {
namespace {

constexpr size_t KiB = 1024, MiB = 1024 * 1024;

// Segments at distinct fake addresses (never dereferenced); `limit` bytes at most live at once.
struct FakeDevice {
  uintptr_t next = 0x10000000;
  std::map<void*, size_t> live;
  size_t limit = size_t(1) << 40, in_use = 0;
  int allocs = 0, frees = 0;
  BlockCache::Backend backend() {
    return {[this](size_t bytes) -> void* {
              if (in_use + bytes > limit)
                return nullptr;
              void* p = reinterpret_cast<void*>(next);
              next += bytes + 4096;
              live[p] = bytes;
              in_use += bytes;
              ++allocs;
              return p;
            },
            [this](void* p) {
              in_use -= live.at(p);
              live.erase(p);
              ++frees;
            }};
  }
};

const void* const s1 = reinterpret_cast<const void*>(0x1);
const void* const s2 = reinterpret_cast<const void*>(0x2);

TEST(BlockCache, SizeClasses) {
  EXPECT_EQ(BlockCache::rounded_size(0), 512u);
  EXPECT_EQ(BlockCache::rounded_size(1), 512u);
  EXPECT_EQ(BlockCache::rounded_size(512), 512u);
  EXPECT_EQ(BlockCache::rounded_size(513), 1024u);
  EXPECT_TRUE(BlockCache::is_small(MiB));
  EXPECT_FALSE(BlockCache::is_small(MiB + 512));
  EXPECT_EQ(BlockCache::segment_size(512), 2 * MiB);       // small pool: 2 MiB segments
  EXPECT_EQ(BlockCache::segment_size(MiB + 512), 2 * MiB); // large: rounded to 2 MiB
  EXPECT_EQ(BlockCache::segment_size(5 * MiB), 6 * MiB);
}

TEST(BlockCache, FreedBlockIsReusedWithoutBackendCall) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(300 * KiB, s1);
  cache.free(a);
  void* b = cache.allocate(300 * KiB, s1);
  EXPECT_EQ(a, b);
  EXPECT_EQ(dev.allocs, 1);
  EXPECT_EQ(cache.stats().cache_hits, 1u);
  EXPECT_EQ(cache.stats().allocs, 2u);
}

TEST(BlockCache, SmallRequestsShareOneSegmentBySplitting) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  char* a = static_cast<char*>(cache.allocate(1000, s1)); // 1024 rounded
  char* b = static_cast<char*>(cache.allocate(100, s1));  // 512
  char* c = static_cast<char*>(cache.allocate(4096, s1));
  EXPECT_EQ(dev.allocs, 1);
  EXPECT_EQ(b - a, 1024);
  EXPECT_EQ(c - b, 512);
  EXPECT_EQ(cache.stats().allocated, 1024u + 512u + 4096u);
  EXPECT_EQ(cache.stats().requested, 1000u + 100u + 4096u);
  EXPECT_EQ(cache.stats().reserved, 2 * MiB);
  EXPECT_EQ(cache.cached_bytes(), 2 * MiB - 5632u);
}

TEST(BlockCache, BestFitPicksTheSmallestFreeBlockThatFits) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* big = cache.allocate(64 * KiB, s1);
  void* sep1 = cache.allocate(512, s1);
  void* small = cache.allocate(8 * KiB, s1);
  void* sep2 = cache.allocate(512, s1);
  cache.free(big);
  cache.free(small);
  EXPECT_EQ(cache.allocate(6 * KiB, s1), small); // 8 KiB hole, not the 64 KiB one
  cache.free(sep1);
  cache.free(sep2);
}

TEST(BlockCache, NeighboursMergeSoALargerRequestFitsAgain) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(512 * KiB, s1);
  void* b = cache.allocate(512 * KiB, s1);
  void* c = cache.allocate(512 * KiB, s1);
  void* d = cache.allocate(512 * KiB, s1); // the 2 MiB segment is now full
  EXPECT_EQ(dev.allocs, 1);
  cache.free(b);
  cache.free(c); // merges with b
  EXPECT_GE(cache.stats().merges, 1u);
  void* bc = cache.allocate(MiB, s1); // fits only in the merged block
  EXPECT_EQ(bc, b);
  EXPECT_EQ(dev.allocs, 1);
  for (void* p : {a, bc, d})
    cache.free(p);
  cache.release_cached(); // everything merged back into one free segment
  EXPECT_EQ(dev.frees, 1);
  EXPECT_EQ(cache.stats().reserved, 0u);
}

TEST(BlockCache, StreamsNeverShareFreedBlocks) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(4 * MiB, s1);
  cache.free(a);
  void* b = cache.allocate(4 * MiB, s2);
  EXPECT_NE(a, b);
  EXPECT_EQ(dev.allocs, 2);
  void* c = cache.allocate(4 * MiB, s1);
  EXPECT_EQ(a, c);
  cache.free(b);
  cache.free(c);
}

TEST(BlockCache, LargeBlocksSplitOnlyForLargeRemainders) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(6 * MiB, s1); // a 6 MiB segment
  cache.free(a);
  void* b = cache.allocate(5 * MiB + 512 * KiB, s1); // rest 512 KiB < 1 MiB: not split
  EXPECT_EQ(b, a);
  EXPECT_EQ(cache.stats().allocated, 6 * MiB);
  cache.free(b);
  void* c = cache.allocate(3 * MiB, s1); // rest 3 MiB: split, rest stays free
  EXPECT_EQ(cache.stats().allocated, 3 * MiB);
  void* d = cache.allocate(2 * MiB, s1);
  EXPECT_EQ(static_cast<char*>(d) - static_cast<char*>(c), long(3 * MiB));
  EXPECT_EQ(dev.allocs, 1);
  cache.free(c);
  cache.free(d);
}

TEST(BlockCache, PeakAndCountsFollowAllocations) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(3 * MiB, s1); // a 4 MiB segment, split: 3 MiB handed out, 1 MiB cached
  void* b = cache.allocate(5 * MiB, s1); // the 1 MiB rest does not fit: a 6 MiB segment, split
  cache.free(a);
  const CacheStats& st = cache.stats();
  EXPECT_EQ(st.allocated, 5 * MiB);
  EXPECT_EQ(st.peak_allocated, 8 * MiB);
  EXPECT_EQ(st.reserved, 10 * MiB);
  EXPECT_EQ(st.splits, 2u);
  EXPECT_EQ(st.backend_allocs, 2u);
  EXPECT_EQ(st.frees, 1u);
  cache.free(b);
  EXPECT_EQ(cache.stats().allocated, 0u);
  EXPECT_EQ(cache.stats().requested, 0u);
}

TEST(BlockCache, DoubleFreeAndForeignPointersThrow) {
  FakeDevice dev;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(1000, s1);
  cache.free(a);
  EXPECT_THROW(cache.free(a), Error);
  int local = 0;
  EXPECT_THROW(cache.free(&local), Error);
  void* b = cache.allocate(1000, s1);
  EXPECT_THROW(cache.free(static_cast<char*>(b) + 512), Error); // inside a block, not its start
  cache.free(b);
}

TEST(BlockCache, OutOfMemoryReturnsTheCacheAndRetries) {
  FakeDevice dev;
  dev.limit = 8 * MiB;
  BlockCache cache(dev.backend());
  void* a = cache.allocate(6 * MiB, s1);
  cache.free(a);                         // 6 MiB cached on s1
  void* b = cache.allocate(6 * MiB, s2); // does not fit beside it: the cache is released, then it fits
  EXPECT_NE(b, nullptr);
  EXPECT_EQ(dev.frees, 1);
  EXPECT_EQ(cache.stats().reserved, 6 * MiB);
  EXPECT_THROW(cache.allocate(4 * MiB, s1), Error); // nothing cached to give back: out of memory
  cache.free(b);
}

} // namespace
} // namespace glm3d::cuda
