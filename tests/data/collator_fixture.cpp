#include "collator_fixture.h"

#include <gtest/gtest.h>

#include <map>

namespace glm3d::test {

SpecialTokens test_specials() {
  SpecialTokens s;
  s.pad = 0, s.eos = 2, s.mask = 3, s.gmask = 4, s.smask = 5, s.sop = 6, s.eop = 7;
  return s;
}

std::vector<int32_t> reconstruct(const Sample& s, const SpecialTokens& sp, int32_t mask_token) {
  std::map<int32_t, std::vector<int32_t>> spans; // mask position -> span tokens
  const int64_t S = int64_t(s.tokens.size());
  int64_t i = s.sep;
  while (i < S && s.loss_mask[size_t(i)]) {
    EXPECT_EQ(s.tokens[size_t(i)], sp.sop);
    const int32_t at = s.position_ids[size_t(i)];
    EXPECT_LT(at, s.sep);
    EXPECT_EQ(s.tokens[size_t(at)], mask_token);
    std::vector<int32_t> span;
    int32_t b = 1;
    for (;; ++i, ++b) {
      EXPECT_EQ(s.block_position_ids[size_t(i)], b);
      EXPECT_EQ(s.position_ids[size_t(i)], at);
      if (s.targets[size_t(i)] == sp.eop)
        break;
      span.push_back(s.targets[size_t(i)]);
      EXPECT_EQ(s.tokens[size_t(i) + 1], s.targets[size_t(i)]); // teacher forcing: next input = target
    }
    ++i;
    EXPECT_TRUE(spans.emplace(at, span).second);
  }
  for (; i < S; ++i) { // padding
    EXPECT_EQ(s.tokens[size_t(i)], sp.pad);
    EXPECT_EQ(s.loss_mask[size_t(i)], 0);
  }
  std::vector<int32_t> out;
  for (int32_t p = 0; p < s.sep; ++p) {
    EXPECT_EQ(s.loss_mask[size_t(p)], 0);
    EXPECT_EQ(s.block_position_ids[size_t(p)], 0);
    EXPECT_EQ(s.position_ids[size_t(p)], p);
    if (s.tokens[size_t(p)] == mask_token) {
      EXPECT_TRUE(spans.count(p));
      out.insert(out.end(), spans[p].begin(), spans[p].end());
      spans.erase(p);
    } else {
      out.push_back(s.tokens[size_t(p)]);
    }
  }
  EXPECT_TRUE(spans.empty());
  return out;
}

} // namespace glm3d::test
