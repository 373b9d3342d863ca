// The group math of ParallelDims, without MPI: exact lists for known layouts, and for every
// layout up to 16 ranks every group kind partitions the world (or, for the embedding group,
// the first and last pipeline stages).
#include "parallel/parallel_dims.h"

#include <algorithm>
#include <functional>
#include <gtest/gtest.h>
#include <set>

namespace glm3d {
namespace {

using Groups = std::vector<std::vector<int>>;
using GroupFn = std::function<std::vector<int>(const ParallelDims&, int)>;

// The distinct groups of `fn` over all ranks, in order of first appearance.
Groups all_groups(const ParallelDims& d, const GroupFn& fn) {
  Groups out;
  for (int r = 0; r < d.world; ++r) {
    auto g = fn(d, r);
    if (!g.empty() && std::find(out.begin(), out.end(), g) == out.end())
      out.push_back(g);
  }
  return out;
}

const GroupFn tp = [](const ParallelDims& d, int r) { return d.tp_group(r); };
const GroupFn dp = [](const ParallelDims& d, int r) { return d.dp_group(r); };
const GroupFn pp = [](const ParallelDims& d, int r) { return d.pp_group(r); };
const GroupFn mp = [](const ParallelDims& d, int r) { return d.model_parallel_group(r); };
const GroupFn emb = [](const ParallelDims& d, int r) { return d.embedding_group(r); };

TEST(GroupMath, TwoByTwoByTwo) {
  const ParallelDims d = ParallelDims::make(8, 2, 2, 2);
  EXPECT_EQ(all_groups(d, tp), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(all_groups(d, dp), (Groups{{0, 2}, {1, 3}, {4, 6}, {5, 7}}));
  EXPECT_EQ(all_groups(d, pp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(all_groups(d, mp), (Groups{{0, 1, 4, 5}, {2, 3, 6, 7}}));
  EXPECT_EQ(all_groups(d, emb), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(d.tp_group(5), (std::vector<int>{4, 5}));
  EXPECT_EQ(d.dp_group(5), (std::vector<int>{5, 7}));
  EXPECT_EQ(d.pp_group(5), (std::vector<int>{1, 5}));
}

TEST(GroupMath, Tp2Pp4Dp1HasMiddleStagesWithoutEmbedding) {
  const ParallelDims d = ParallelDims::make(8, 2, 4, 1);
  EXPECT_EQ(all_groups(d, tp), (Groups{{0, 1}, {2, 3}, {4, 5}, {6, 7}}));
  EXPECT_EQ(all_groups(d, dp), (Groups{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  EXPECT_EQ(all_groups(d, pp), (Groups{{0, 2, 4, 6}, {1, 3, 5, 7}}));
  EXPECT_EQ(all_groups(d, mp), (Groups{{0, 1, 2, 3, 4, 5, 6, 7}}));
  EXPECT_EQ(all_groups(d, emb), (Groups{{0, 6}, {1, 7}}));
  for (int r : {2, 3, 4, 5})
    EXPECT_TRUE(d.embedding_group(r).empty()) << r;
}

TEST(GroupMath, Tp4Dp2AndPp1EmbeddingIsTheRankAlone) {
  const ParallelDims d = ParallelDims::make(8, 4, 1, 2);
  EXPECT_EQ(all_groups(d, tp), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(all_groups(d, dp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(all_groups(d, pp), (Groups{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
  EXPECT_EQ(all_groups(d, mp), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(all_groups(d, emb), (Groups{{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}}));
}

TEST(GroupMath, Pp2Dp4) {
  const ParallelDims d = ParallelDims::make(8, 1, 2, 4);
  EXPECT_EQ(all_groups(d, dp), (Groups{{0, 1, 2, 3}, {4, 5, 6, 7}}));
  EXPECT_EQ(all_groups(d, pp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
  EXPECT_EQ(all_groups(d, mp), (Groups{{0, 4}, {1, 5}, {2, 6}, {3, 7}}));
}

// Every group kind over every layout up to 16 ranks: each member's group is the same list,
// group sizes are right, and the groups cover each rank exactly once.
TEST(GroupMath, EveryGroupPartitionsTheWorld) {
  for (int world = 1; world <= 16; ++world)
    for (int t = 1; t <= world; ++t)
      for (int p = 1; p <= world; ++p) {
        if (world % (t * p) != 0)
          continue;
        const ParallelDims d = ParallelDims::make(world, t, p, 0);
        const std::vector<std::pair<GroupFn, int>> kinds{
            {tp, d.tp}, {dp, d.dp}, {pp, d.pp}, {mp, d.tp * d.pp}};
        for (const auto& [fn, size] : kinds) {
          std::multiset<int> seen;
          for (const auto& g : all_groups(d, fn)) {
            ASSERT_EQ(int(g.size()), size) << d.str();
            for (int r : g) {
              seen.insert(r);
              ASSERT_EQ(fn(d, r), g) << d.str() << " rank " << r;
            }
          }
          ASSERT_EQ(int(seen.size()), world) << d.str();
          for (int r = 0; r < world; ++r)
            ASSERT_EQ(seen.count(r), 1u) << d.str() << " rank " << r;
        }
        // tp and dp and pp groups vary exactly one coordinate.
        for (int r = 0; r < world; ++r) {
          for (int i = 0; i < d.tp; ++i)
            ASSERT_EQ(d.tp_rank(d.tp_group(r)[i]), i);
          for (int i = 0; i < d.dp; ++i)
            ASSERT_EQ(d.dp_rank(d.dp_group(r)[i]), i);
          for (int i = 0; i < d.pp; ++i)
            ASSERT_EQ(d.pp_rank(d.pp_group(r)[i]), i);
        }
        // The embedding groups cover the first and last stage ranks once each.
        std::multiset<int> seen;
        for (const auto& g : all_groups(d, emb)) {
          ASSERT_EQ(int(g.size()), d.pp == 1 ? 1 : 2) << d.str();
          for (int r : g)
            seen.insert(r);
        }
        for (int r = 0; r < world; ++r) {
          const bool end_stage = d.pp_rank(r) == 0 || d.pp_rank(r) == d.pp - 1;
          ASSERT_EQ(seen.count(r), end_stage ? 1u : 0u) << d.str() << " rank " << r;
        }
      }
}

} // namespace
} // namespace glm3d
