// GLM blank-infilling collator: hand-worked layouts with exact ids, option checks, purity in
// (seed, k), and short sequences (statistics: test_collator_stats.cpp).
#include "collator_fixture.h"
#include "core/check.h"
#include "data/glm_collator.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

using test::reconstruct;
using test::test_specials;

using V = std::vector<int32_t>;
using M = std::vector<uint8_t>;

TEST(Collator, HandWorkedMaskTwoSpansShuffled) {
  const GlmCollator c(16, test_specials(), {}, CollatorOptions{});
  std::vector<uint32_t> w(14);
  for (uint32_t i = 0; i < 14; ++i)
    w[i] = 100 + i;
  CollatePlan p;
  p.kind = k_kind_mask;
  p.content_len = 10;
  p.spans = {{2, 4}, {6, 7}}; // "102 103" and "106"
  p.order = {1, 0};           // Part B: second span first
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 9);
  EXPECT_EQ(s.kind, 0);
  EXPECT_EQ(s.tokens, (V{100, 101, 3, 104, 105, 3, 107, 108, 109, 6, 106, 6, 102, 103, 0, 0}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 0, 0, 0, 0, 106, 7, 102, 103, 7, 0, 0}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 5, 2, 2, 2, 0, 0}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 1, 2, 3, 0, 0}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0}));
}

TEST(Collator, HandWorkedGMask) {
  const GlmCollator c(10, test_specials(), {}, CollatorOptions{});
  const std::vector<uint32_t> w = {50, 51, 52, 53, 54, 55, 56, 57};
  CollatePlan p;
  p.kind = k_kind_gmask;
  p.content_len = 8;
  p.spans = {{5, 8}};
  p.order = {0};
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 6);
  EXPECT_EQ(s.kind, 1);
  EXPECT_EQ(s.tokens, (V{50, 51, 52, 53, 54, 4, 6, 55, 56, 57}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 0, 55, 56, 57, 7}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 5, 5, 5, 5, 5}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 0, 1, 2, 3, 4}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 0, 1, 1, 1, 1}));
}

TEST(Collator, HandWorkedSMaskAdjacentSentencesAndDroppedTail) {
  const GlmCollator c(12, test_specials(), {}, CollatorOptions{});
  // 99 ends a sentence. Window of 10; two spans -> content 8, the last two tokens dropped.
  const std::vector<uint32_t> w = {10, 11, 99, 12, 99, 13, 14, 99, 15, 16};
  CollatePlan p;
  p.kind = k_kind_smask;
  p.content_len = 8;
  p.spans = {{0, 3}, {3, 5}};
  p.order = {0, 1};
  const Sample s = c.build(w.data(), p);
  EXPECT_EQ(s.sep, 5);
  EXPECT_EQ(s.tokens, (V{5, 5, 13, 14, 99, 6, 10, 11, 99, 6, 12, 99}));
  EXPECT_EQ(s.targets, (V{0, 0, 0, 0, 0, 10, 11, 99, 7, 12, 99, 7}));
  EXPECT_EQ(s.position_ids, (V{0, 1, 2, 3, 4, 0, 0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(s.block_position_ids, (V{0, 0, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3}));
  EXPECT_EQ(s.loss_mask, (M{0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(Collator, RejectsPlansThatDoNotFit) {
  const GlmCollator c(12, test_specials(), {}, CollatorOptions{});
  const std::vector<uint32_t> w(10, 20);
  CollatePlan p;
  p.kind = k_kind_mask;
  p.content_len = 10; // 10 + 2*2 > 12
  p.spans = {{0, 1}, {3, 4}};
  p.order = {0, 1};
  EXPECT_THROW(c.build(w.data(), p), Error);
}

TEST(Collator, OptionsValidated) {
  CollatorOptions o;
  o.mask_ratio = 0.5; // 0.5 + 0.7 != 1
  EXPECT_THROW(GlmCollator(64, test_specials(), {}, o), UsageError);
  EXPECT_THROW(GlmCollator(4, test_specials(), {}, CollatorOptions{}), UsageError);
}

TEST(Collator, PlanIsAPureFunctionOfSeedAndIndex) {
  const GlmCollator c(256, test_specials(), {}, CollatorOptions{});
  std::vector<uint32_t> w(254, 42);
  const Sample a = c.collate(w.data(), 7, 123), b = c.collate(w.data(), 7, 123);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_EQ(a.position_ids, b.position_ids);
  int differ = 0;
  for (int64_t k = 0; k < 20; ++k)
    differ += c.plan(w.data(), 7, k).spans.size() != c.plan(w.data(), 8, k).spans.size() ||
              c.plan(w.data(), 7, k).spans[0].start != c.plan(w.data(), 8, k).spans[0].start;
  EXPECT_GT(differ, 10);
}

TEST(Collator, ShortSequencesStillFit) {
  // seq 16: spans are clamped so Part A + Part B always fit.
  CollatorOptions o;
  o.mask_ratio = 1.0, o.gmask_ratio = 0.0;
  const GlmCollator c(16, test_specials(), {}, o);
  std::vector<uint32_t> w(14);
  for (uint32_t i = 0; i < 14; ++i)
    w[i] = 20 + i;
  for (int64_t k = 0; k < 500; ++k) {
    const CollatePlan p = c.plan(w.data(), 1, k);
    const Sample s = c.build(w.data(), p);
    EXPECT_EQ(reconstruct(s, test_specials(), 3), std::vector<int32_t>(w.begin(), w.begin() + p.content_len));
  }
}

} // namespace
} // namespace glm3d
