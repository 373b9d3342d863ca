// Stage partition: exact layer ranges for even, explicit (glm-130b) and interleaved splits.
#include "core/check.h"
#include "pipeline/partition.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

using Chunks = std::vector<StageLayers>;

TEST(Partition, EvenSplit) {
  EXPECT_EQ(chunks_of_rank(24, 4, 0, 1, {}), (Chunks{{0, 6}}));
  EXPECT_EQ(chunks_of_rank(24, 4, 3, 1, {}), (Chunks{{18, 6}}));
  EXPECT_EQ(chunks_of_rank(5, 1, 0, 1, {}), (Chunks{{0, 5}}));
}

TEST(Partition, Glm130bOnEightStagesWithExplicitList) {
  const std::vector<int> list{8, 9, 9, 9, 9, 9, 9, 8};
  const std::vector<StageLayers> want{{0, 8}, {8, 9}, {17, 9}, {26, 9}, {35, 9}, {44, 9}, {53, 9}, {62, 8}};
  for (int r = 0; r < 8; ++r)
    EXPECT_EQ(chunks_of_rank(70, 8, r, 1, list), (Chunks{want[r]})) << r;
  EXPECT_THROW(chunks_of_rank(70, 8, 0, 1, {}), UsageError); // 70 % 8 != 0 without a list
}

TEST(Partition, InterleavedChunkCOfRankRIsVirtualStageCTimesPpPlusR) {
  // 24 layers, pp=4, V=2: 8 virtual stages of 3 layers; rank r holds stages r and 4 + r.
  EXPECT_EQ(chunks_of_rank(24, 4, 0, 2, {}), (Chunks{{0, 3}, {12, 3}}));
  EXPECT_EQ(chunks_of_rank(24, 4, 1, 2, {}), (Chunks{{3, 3}, {15, 3}}));
  EXPECT_EQ(chunks_of_rank(24, 4, 3, 2, {}), (Chunks{{9, 3}, {21, 3}}));
  // pp=2, V=3, 12 layers: stages of 2 layers, rank 1 holds stages 1, 3, 5.
  EXPECT_EQ(chunks_of_rank(12, 2, 1, 3, {}), (Chunks{{2, 2}, {6, 2}, {10, 2}}));
  // Uneven list with V=2: rank 0 has 2 layers per chunk, rank 1 has 1 per chunk.
  EXPECT_EQ(chunks_of_rank(6, 2, 0, 2, {4, 2}), (Chunks{{0, 2}, {3, 2}}));
  EXPECT_EQ(chunks_of_rank(6, 2, 1, 2, {4, 2}), (Chunks{{2, 1}, {5, 1}}));
  EXPECT_THROW(chunks_of_rank(6, 2, 1, 2, {3, 3}), UsageError); // 3 layers do not split into 2 chunks
  EXPECT_THROW(chunks_of_rank(20, 4, 0, 2, {}), UsageError);
}

TEST(Partition, FirstAndLastStage) {
  EXPECT_TRUE(is_first_stage(0, 0));
  EXPECT_FALSE(is_first_stage(0, 1));
  EXPECT_FALSE(is_first_stage(1, 0));
  EXPECT_TRUE(is_last_stage(4, 3, 1, 2));
  EXPECT_FALSE(is_last_stage(4, 3, 0, 2));
  EXPECT_FALSE(is_last_stage(4, 2, 1, 2));
  EXPECT_TRUE(is_last_stage(1, 0, 0, 1));
}

TEST(Partition, ParsePpLayers) {
  EXPECT_EQ(parse_pp_layers("8,9,9,9,9,9,9,8"), (std::vector<int>{8, 9, 9, 9, 9, 9, 9, 8}));
  EXPECT_EQ(parse_pp_layers("12"), (std::vector<int>{12}));
  EXPECT_TRUE(parse_pp_layers("").empty());
  for (const char* bad : {"8,", ",8", "8,x", "8;9", "0,4", "-1,5", "8,,9"})
    EXPECT_THROW(parse_pp_layers(bad), UsageError) << bad;
}

} // namespace
} // namespace glm3d
