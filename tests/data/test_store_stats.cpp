// glm3d data stats: counts and the unigram entropy of a token store against closed forms.
#include "data/store_stats.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

#include <cmath>

namespace glm3d {
namespace {

TEST(StoreStats, EntropyOfClosedFormCounts) {
  EXPECT_EQ(unigram_entropy({}), 0.0);
  EXPECT_EQ(unigram_entropy({0, 7, 0}), 0.0);                       // one id: certain
  EXPECT_NEAR(unigram_entropy({5, 5, 5, 5}), std::log(4.0), 1e-15); // uniform over 4
  // p = (1/4, 3/4): H = ln 4 - (3/4) ln 3; zero counts do not contribute.
  EXPECT_NEAR(unigram_entropy({0, 1, 0, 3}), std::log(4.0) - 0.75 * std::log(3.0), 1e-15);
  // p = (1/2, 1/4, 1/8, 1/8): H = (7/4) ln 2.
  EXPECT_NEAR(unigram_entropy({4, 2, 1, 1}), 1.75 * std::log(2.0), 1e-15);
}

TEST(StoreStats, UniformStoreAcrossShards) {
  // 3 shards, 256 * (80 + 100 + 120) tokens: token i of the stream is 8 + i % 256, so every one of
  // 256 ids occurs 300 times, H = ln 256; the fixture's vocabulary is 400.
  std::vector<std::vector<uint32_t>> shards(3);
  uint32_t i = 0;
  for (size_t s = 0; s < 3; ++s)
    for (size_t n = 0; n < 256 * (80 + 20 * s); ++n, ++i)
      shards[s].push_back(8 + i % 256);
  const StoreStats st = store_stats(test::make_manual_store(test::temp_dir("stats") + "/s", shards));
  EXPECT_EQ(st.tokens, 256u * 300u);
  EXPECT_EQ(st.shards, 3u);
  EXPECT_EQ(st.documents, 3u); // make_manual_store: one document per shard
  EXPECT_EQ(st.vocab_size, 400);
  EXPECT_EQ(st.vocab_used, 256);
  EXPECT_NEAR(st.unigram_entropy, std::log(256.0), 1e-12);
}

TEST(StoreStats, SkewedStore) {
  // Id 10 three times as often as id 11, split unevenly over two shards: H = ln 4 - (3/4) ln 3.
  std::vector<std::vector<uint32_t>> shards(2);
  for (int n = 0; n < 3000; ++n)
    shards[n < 1000 ? 0 : 1].push_back(n % 4 == 3 ? 11 : 10);
  const StoreStats st = store_stats(test::make_manual_store(test::temp_dir("stats") + "/s", shards));
  EXPECT_EQ(st.tokens, 3000u);
  EXPECT_EQ(st.vocab_used, 2);
  EXPECT_NEAR(st.unigram_entropy, std::log(4.0) - 0.75 * std::log(3.0), 1e-12);
}

} // namespace
} // namespace glm3d
