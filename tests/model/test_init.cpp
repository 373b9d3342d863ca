#include "model/init.h"
#include "model/param_table.h"
#include "parallel/parallel_dims.h"

#include <cmath>
#include <gtest/gtest.h>
#include <vector>

using namespace glm3d;

namespace {
StagePlan plan_for(int tp, int tp_rank, int first, int count, bool emb) {
  StagePlan p;
  p.tp = tp;
  p.tp_rank = tp_rank;
  p.chunks = {{first, count}};
  p.has_embedding = emb;
  return p;
}
} // namespace

// Every element of every tp shard equals the element of the unsharded model at the same
// global index: the init is a function of (seed, name, global index) only.
TEST(Init, ShardsReassembleTheFullModel) {
  const ModelConfig cfg = preset_config("tiny");
  const ParamTable full(cfg, plan_for(1, 0, 0, 8, true));
  std::vector<float> whole(size_t(full.total()));
  init_parameters(cfg, full, 0, 7, whole.data());
  for (int tp : {2, 4, 8}) {
    for (int r = 0; r < tp; ++r) {
      const ParamTable t(cfg, plan_for(tp, r, 2, 3, true));
      std::vector<float> shard(size_t(t.total()));
      init_parameters(cfg, t, r, 7, shard.data());
      for (const auto& p : t.params()) {
        const ParamInfo& f = full.get(p.name);
        for (int64_t i = 0; i < p.numel(); ++i) {
          const int64_t g = p.global_index(i, r);
          // The padded vocab differs with tp (256 vs 1024 rows): rows past the full table are padding.
          if (g >= f.full_numel())
            continue;
          ASSERT_EQ(shard[size_t(p.offset + i)], whole[size_t(f.offset + g)])
              << p.name << " tp " << tp << " rank " << r;
        }
      }
    }
  }
}

TEST(Init, GegluShardHoldsItsShareOfBothHalves) {
  const ModelConfig cfg = preset_config("tiny"); // up width 2F = 256, H = 64
  const ParamTable t(cfg, plan_for(4, 1, 0, 1, false));
  const ParamInfo& up = t.get("layers.0.mlp.dense_h_to_4h.weight");
  EXPECT_EQ(up.local_rows, 64);
  // local row 0 -> global row 32 (first half, block 1); local row 32 -> global row 128 + 32 = 160.
  EXPECT_EQ(up.global_index(0, 1), 32 * 64);
  EXPECT_EQ(up.global_index(32 * 64, 1), 160 * 64);
  const ParamInfo& dense = t.get("layers.0.attention.dense.weight"); // row-parallel: columns split
  EXPECT_EQ(dense.local_cols, 16);
  EXPECT_EQ(dense.global_index(1 * 16 + 3, 1), 1 * 64 + 16 + 3);
}

// DeepNorm init: Xavier-normal std gain*sqrt(2/(fan_in+fan_out)), gain beta=(2N)^-1/2 for v,
// the attention output and the FFN; gain 1 for q, k. Checked on glm-like sizes by sample std.
TEST(Init, DeepNormScaledStd) {
  ModelConfig cfg = preset_config("tiny");
  cfg.hidden = 256;
  cfg.num_heads = 4;
  cfg.ffn_hidden = 512;
  const ParamTable t(cfg, plan_for(1, 0, 0, 1, false));
  std::vector<double> w(size_t(t.total()));
  init_parameters(cfg, t, 0, 3, w.data());
  const double beta = 1.0 / std::sqrt(16.0), H = 256, hd = 64;
  auto sample_std = [&](const ParamInfo& p, auto pick) {
    double s = 0;
    int64_t n = 0;
    for (int64_t i = 0; i < p.numel(); ++i)
      if (pick(i)) {
        s += w[size_t(p.offset + i)] * w[size_t(p.offset + i)];
        ++n;
      }
    return std::sqrt(s / double(n));
  };
  const ParamInfo& qkv = t.get("layers.0.attention.query_key_value.weight");
  auto is_v = [&](int64_t i) { return (i / int64_t(H)) % int64_t(3 * hd) >= 2 * hd; };
  const double std_qk = std::sqrt(2.0 / (2 * H)), std_v = beta * std_qk;
  // 3*256*256 = 196608 samples: the sample std is within ~0.3% of the true one (1/sqrt(2n)).
  EXPECT_NEAR(sample_std(qkv, [&](int64_t i) { return !is_v(i); }) / std_qk, 1.0, 0.02);
  EXPECT_NEAR(sample_std(qkv, is_v) / std_v, 1.0, 0.02);
  const ParamInfo& down = t.get("layers.0.mlp.dense_4h_to_h.weight");
  EXPECT_NEAR(sample_std(down, [](int64_t) { return true; }) / (beta * std::sqrt(2.0 / (H + 512))), 1.0,
              0.02);
  const ParamInfo& up = t.get("layers.0.mlp.dense_h_to_4h.weight"); // GeGLU halves: fan_out = F each
  EXPECT_NEAR(sample_std(up, [](int64_t) { return true; }) / (beta * std::sqrt(2.0 / (H + 512))), 1.0, 0.02);
  EXPECT_EQ(w[size_t(t.get("layers.0.input_layernorm.weight").offset)], 1.0);
  EXPECT_EQ(w[size_t(t.get("layers.0.mlp.dense_4h_to_h.bias").offset)], 0.0);
}

TEST(Init, VocabPaddedToMultipleOfTp128) {
  EXPECT_EQ(padded_vocab(256, 1), 256);
  EXPECT_EQ(padded_vocab(256, 8), 1024);
  EXPECT_EQ(padded_vocab(150528, 8), 150528);
  EXPECT_EQ(padded_vocab(130528, 8), 131072);
}
