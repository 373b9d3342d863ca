// The shard-to-hyperslab mapping of checkpoints: for every split kind, tp rank and ZeRO-style
// sub-range [a, b) of a shard, the rectangles list exactly the global indices ParamInfo::
// global_index gives, in the local order (so one contiguous buffer maps onto them); the padded
// vocabulary rows are clipped; checksums of pieces add up to the checksum of the whole.
#include "train/checkpoint_format.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

std::vector<int64_t> expand(const std::vector<Rect>& rects, int64_t cols) {
  std::vector<int64_t> out;
  for (const Rect& r : rects)
    for (int64_t i = 0; i < r.nr; ++i)
      for (int64_t j = 0; j < r.nc; ++j)
        out.push_back((r.r0 + i) * cols + r.c0 + j);
  return out;
}

ParamInfo make(Split split, int64_t rows, int64_t cols, int tp) {
  ParamInfo p;
  p.rows = rows, p.cols = cols, p.split = split, p.local_rows = rows, p.local_cols = cols;
  if (split == Split::rows || split == Split::glu_rows)
    p.local_rows = rows / tp;
  if (split == Split::cols)
    p.local_cols = cols / tp;
  return p;
}

TEST(ShardRects, MatchGlobalIndexForEverySplitRankAndRange) {
  for (Split split : {Split::replicated, Split::rows, Split::cols, Split::glu_rows}) {
    for (int tp : {1, 2, 4}) {
      const ParamInfo p = make(split, 16, split == Split::glu_rows ? 3 : 8, tp);
      for (int r = 0; r < tp; ++r) {
        const int64_t n = p.numel();
        for (int64_t a = 0; a <= n; a += 3) {
          for (int64_t b = a; b <= n; b += 5) {
            const std::vector<int64_t> got = expand(shard_rects(p, r, a, b, p.rows), p.cols);
            std::vector<int64_t> want;
            for (int64_t i = a; i < b; ++i)
              want.push_back(p.global_index(i, r));
            ASSERT_EQ(got, want) << "split " << int(split) << " tp " << tp << " rank " << r << " [" << a
                                 << ", " << b << ")";
          }
        }
      }
    }
  }
}

TEST(ShardRects, GegluHalvesAreTwoRowBlocks) {
  // 8 rows = halves [0, 4) and [4, 8); tp rank 1 of 2 holds rows 2, 3 and 6, 7.
  const ParamInfo p = make(Split::glu_rows, 8, 5, 2);
  const std::vector<Rect> rects = shard_rects(p, 1, 0, p.numel(), 8);
  ASSERT_EQ(rects.size(), 2u);
  EXPECT_EQ(rects[0].r0, 2);
  EXPECT_EQ(rects[0].nr, 2);
  EXPECT_EQ(rects[1].r0, 6);
  EXPECT_EQ(rects[1].nr, 2);
}

TEST(ShardRects, PaddedVocabularyRowsAreClipped) {
  // Vocabulary 300 padded to 512 over tp 2: rank 1 holds rows 256..511, of which 44 are real.
  const ParamInfo p = make(Split::rows, 512, 4, 2);
  EXPECT_EQ(rects_numel(shard_rects(p, 1, 0, p.numel(), 300)), 44 * 4);
  EXPECT_EQ(rects_numel(shard_rects(p, 0, 0, p.numel(), 300)), 256 * 4);
  // A ZeRO range entirely inside the padding maps to nothing.
  EXPECT_TRUE(shard_rects(p, 1, 100 * 4, 200 * 4, 300).empty());
}

TEST(Checksum, PiecesAddUpAndDetectChanges) {
  std::vector<float> full(6 * 4);
  for (size_t i = 0; i < full.size(); ++i)
    full[i] = 0.25f * float(i) - 1.f;
  const uint64_t whole = checksum_rects(full.data(), {Rect{0, 0, 6, 4}}, 4);
  // Rows 0..2 and 3..5 on two "ranks", in either order.
  const uint64_t top = checksum_rects(full.data(), {Rect{0, 0, 3, 4}}, 4);
  const uint64_t bottom = checksum_rects(full.data() + 12, {Rect{3, 0, 3, 4}}, 4);
  EXPECT_EQ(top + bottom, whole);
  // Same values at swapped positions give another checksum.
  std::swap(full[0], full[1]);
  EXPECT_NE(checksum_rects(full.data(), {Rect{0, 0, 6, 4}}, 4), whole);
}

TEST(ConfigMismatch, NamesTheFirstDifferingField) {
  ModelConfig a = preset_config("tiny"), b = a;
  EXPECT_EQ(config_mismatch(a, b), "");
  b.seq_len = 1024; // not an architecture field (RoPE handles any length)
  EXPECT_EQ(config_mismatch(a, b), "");
  b.hidden = 128;
  EXPECT_EQ(config_mismatch(a, b), "hidden: 64 in the checkpoint, 128 requested");
  b = a;
  b.ffn = FfnKind::gelu;
  EXPECT_EQ(config_mismatch(a, b), "ffn: geglu in the checkpoint, gelu requested");
}

TEST(CheckpointTensors, EmbeddingHasTheRealVocabulary) {
  const ModelConfig c = preset_config("tiny");
  const std::vector<CkptTensor> t = checkpoint_tensors(c);
  ASSERT_EQ(t.size(), size_t(1 + 12 * c.num_layers + 2));
  EXPECT_EQ(t[0].name, "word_embeddings.weight");
  EXPECT_EQ(t[0].rows, c.vocab);
  EXPECT_EQ(t.back().name, "final_layernorm.bias");
}

} // namespace
} // namespace glm3d
