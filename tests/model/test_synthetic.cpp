#include "data/synthetic_task.h"

#include <gtest/gtest.h>

using namespace glm3d;

// The synthetic sample obeys the GLM layout: Part A with one [MASK] per span, Part B of
// <sop> + span with targets span + <eop>, positions collapsed onto the [MASK], block
// positions 1..len+1, and the masked tokens are exactly the ones Part A lost.
TEST(SyntheticTask, LayoutIsGlmBlankInfilling) {
  SyntheticTask task(32, 256, 5);
  for (int64_t k = 0; k < 50; ++k) {
    const Sample s = task.get(k);
    ASSERT_EQ(s.tokens.size(), 32u);
    ASSERT_EQ(s.sep, 24);
    int masks = 0;
    for (int i = 0; i < s.sep; ++i) {
      masks += s.tokens[size_t(i)] == SyntheticTask::kMask;
      EXPECT_EQ(s.loss_mask[size_t(i)], 0);
      EXPECT_EQ(s.position_ids[size_t(i)], i);
      EXPECT_EQ(s.block_position_ids[size_t(i)], 0);
    }
    EXPECT_EQ(masks, 2);
    for (int b = 0; b < 2; ++b) {
      const int o = 24 + 4 * b;
      EXPECT_EQ(s.tokens[size_t(o)], SyntheticTask::kSop);
      const int mpos = s.position_ids[size_t(o)];
      EXPECT_EQ(s.tokens[size_t(mpos)], SyntheticTask::kMask);
      // The token left of the [MASK] is the predecessor of the span's first token.
      const int32_t left = s.tokens[size_t(mpos - 1)];
      EXPECT_EQ((s.targets[size_t(o)] - 8 + 248) % 248, (left - 8 + 1) % 248);
      for (int j = 0; j < 4; ++j) {
        EXPECT_EQ(s.position_ids[size_t(o + j)], mpos);
        EXPECT_EQ(s.block_position_ids[size_t(o + j)], j + 1);
        EXPECT_EQ(s.loss_mask[size_t(o + j)], 1);
        if (j > 0) {
          EXPECT_EQ(s.tokens[size_t(o + j)], s.targets[size_t(o + j - 1)]);
        }
      }
      EXPECT_EQ(s.targets[size_t(o + 3)], SyntheticTask::kEop);
    }
  }
}

TEST(SyntheticTask, DeterministicInSeedAndIndex) {
  SyntheticTask a(32, 256, 5), b(32, 256, 5), c(32, 256, 6);
  EXPECT_EQ(a.get(17).tokens, b.get(17).tokens);
  EXPECT_NE(a.get(17).tokens, a.get(18).tokens);
  EXPECT_NE(a.get(17).tokens, c.get(17).tokens);
}
