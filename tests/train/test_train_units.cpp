// Trainer building blocks: LR schedule closed form, AdamW's weight-decay mask over the
// flat buffer, data-parallel buckets covering every gradient element exactly once.
#include "model/param_table.h"
#include "train/grad_reducer.h"
#include "train/lr_schedule.h"
#include "train/optimizer.h"

#include <cmath>
#include <gtest/gtest.h>
#include <vector>

using namespace glm3d;

TEST(LrSchedule, WarmupThenCosineToMin) {
  const LrSchedule s{1e-3, 1e-4, 10, 110};
  EXPECT_DOUBLE_EQ(s.at(1), 1e-4);  // 1/10 of the peak
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3); // end of warm-up
  // Half way through the decay: min + (max - min) / 2.
  EXPECT_NEAR(s.at(60), 1e-4 + 0.5 * 9e-4, 1e-15);
  // A quarter of the way: min + (max - min) * (1 + cos(pi/4)) / 2.
  EXPECT_NEAR(s.at(35), 1e-4 + 9e-4 * (1 + std::cos(M_PI / 4)) / 2, 1e-15);
  EXPECT_DOUBLE_EQ(s.at(110), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(500), 1e-4); // held after the decay
}

namespace {
ParamTable tiny_table() {
  StagePlan p;
  p.chunks = {{0, 2}};
  p.has_embedding = true;
  return ParamTable(preset_config("tiny"), p);
}
} // namespace

// With zero gradients Adam's update vanishes, so one step only applies decoupled weight
// decay: weights shrink by (1 - lr*wd), biases and LayerNorm parameters do not move.
TEST(AdamW, WeightDecayOnlyOnWeights) {
  const ParamTable t = tiny_table();
  std::vector<float> p(size_t(t.total()), 2.0f), g(size_t(t.total()), 0.0f);
  cpu::AdamWHyper h;
  h.weight_decay = 0.1;
  AdamW opt(t, h, 0, t.total());
  opt.step(p.data(), g.data(), 0.5, 1);
  for (const auto& info : t.params()) {
    const float expect = info.weight_decay ? 2.0f * (1.0f - 0.5f * 0.1f) : 2.0f;
    EXPECT_FLOAT_EQ(p[size_t(info.offset)], expect) << info.name;
    const bool is_weight =
        info.name.find("weight") != std::string::npos && info.name.find("layernorm") == std::string::npos;
    EXPECT_EQ(info.weight_decay, is_weight) << info.name;
  }
}

// A ZeRO-1 shard [begin, end) updates only its own elements.
TEST(AdamW, ShardTouchesOnlyItsRange) {
  const ParamTable t = tiny_table();
  std::vector<float> p(size_t(t.total()), 1.0f), g(size_t(t.total()), 0.5f);
  AdamW opt(t, cpu::AdamWHyper{}, 100, 5000);
  opt.step(p.data() + 100, g.data(), 1e-2, 1); // master holds [100, 5000)
  for (int64_t i = 0; i < t.total(); ++i) {
    if (i >= 100 && i < 5000)
      EXPECT_LT(p[size_t(i)], 1.0f) << i;
    else
      EXPECT_EQ(p[size_t(i)], 1.0f) << i;
  }
}

// Buckets tile the whole flat buffer: a dp all-reduce through them reduces every element once.
TEST(GradReducer, BucketsTileTheBuffer) {
  const ParamTable t = tiny_table();
  std::vector<float> g(size_t(t.total()), 1.0f);
  LocalCommunicator dp("dp");
  for (int64_t bucket : {int64_t(1), int64_t(5000), int64_t(1) << 30}) {
    GradReducer r(t, dp, g.data(), bucket);
    EXPECT_GE(r.num_buckets(), bucket == 1 ? 3 : 1);
    int64_t covered = 0;
    for (const auto& [b, e] : r.bucket_ranges())
      covered += e - b;
    EXPECT_EQ(covered, t.total());
  }
}
