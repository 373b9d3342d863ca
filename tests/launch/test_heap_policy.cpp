// launch/heap_policy.h: with the policy a large block comes from the heap (no mmap) and stays
// there once freed; a user's malloc setting turns the policy off. Each TEST runs in its own
// process (gtest_discover_tests), so the process-wide mallopt of one does not leak into another.
#include "launch/heap_policy.h"

#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <malloc.h>

namespace {

constexpr size_t k_block = size_t(256) << 20; // the peer model's LM-head buffer is 262 MB

// Allocates, touches and frees one block; returns mallinfo2 while it is held and after.
std::pair<struct mallinfo2, struct mallinfo2> hold_and_free() {
  void* volatile p = std::malloc(k_block);
  std::memset(p, 1, k_block);
  const struct mallinfo2 held = mallinfo2();
  std::free(p);
  return {held, mallinfo2()};
}

bool user_malloc_settings() {
  const char* t = std::getenv("GLIBC_TUNABLES");
  return t != nullptr && std::strstr(t, "glibc.malloc.") != nullptr;
}

TEST(HeapPolicy, FreedLargeBlocksStayInTheHeap) {
  if (user_malloc_settings())
    GTEST_SKIP() << "GLIBC_TUNABLES sets glibc.malloc.*";
  ASSERT_TRUE(glm3d::keep_freed_memory_for_reuse());
  const auto [held, after] = hold_and_free();
  EXPECT_EQ(held.hblks, 0u) << "a 256 MB block was served by mmap";
  EXPECT_GE(held.arena, k_block);
  EXPECT_GE(after.fordblks, k_block) << "the freed block went back to the kernel";
  EXPECT_GE(after.arena, k_block);
}

TEST(HeapPolicy, WithoutItOrUnderAUserSettingGlibcUnmapsTheBlock) {
  setenv("MALLOC_TRIM_THRESHOLD_", "131072", 1); // read by glm3d's check; glibc read it at start
  EXPECT_FALSE(glm3d::keep_freed_memory_for_reuse());
  const auto [held, after] = hold_and_free();
  EXPECT_EQ(held.hblks, 1u) << "glibc's default serves a 256 MB block by mmap";
  EXPECT_LT(after.fordblks, k_block);
}

} // namespace
