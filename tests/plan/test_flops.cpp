// model/flops: the GEMM list of a layer sums to training_flops_per_token's count; backward is
// twice forward; recomputation adds exactly the forward GEMMs it reruns.
#include "model/flops.h"
#include "parallel/parallel_dims.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

TEST(Flops, LayerAndHeadSumToTrainingFlopsPerToken) {
  for (const char* name : {"tiny", "small", "glm-130b"}) {
    const ModelConfig c = preset_config(name);
    for (int tp : {1, 2, 4}) {
      if (c.num_heads % tp != 0)
        continue;
      const int64_t B = 2, S = c.seq_len, vpad = padded_vocab(c.vocab, tp);
      const ExecPolicy none; // f32, no recomputation, dense attention
      const double layer = total_flops(layer_forward_gemms(c, tp, B, S)) +
                           total_flops(layer_backward_gemms(c, tp, B, S, none));
      const double head = 3 * total_flops(head_forward_gemms(c, tp, vpad, B, S));
      const double per_token = (c.num_layers * layer + head) * tp / double(B * S);
      const double want = training_flops_per_token(c) + 6.0 * double(c.hidden) * double(vpad - c.vocab);
      EXPECT_NEAR(per_token / want, 1.0, 1e-12) << name << " tp=" << tp;
    }
  }
}

TEST(Flops, RecomputationAddsTheForwardItReruns) {
  const ModelConfig c = preset_config("small");
  const int64_t B = 1, S = 128;
  const double fwd = total_flops(layer_forward_gemms(c, 1, B, S));
  double attention = 0;
  for (const Gemm& g : layer_forward_gemms(c, 1, B, S))
    if (g.name == "scores" || g.name == "context")
      attention += g.flops();
  ExecPolicy p;
  const double none = total_flops(layer_backward_gemms(c, 1, B, S, p));
  EXPECT_DOUBLE_EQ(none, 2 * fwd);
  p.recompute = Recompute::full;
  EXPECT_DOUBLE_EQ(total_flops(layer_backward_gemms(c, 1, B, S, p)), 3 * fwd);
  p.recompute = Recompute::selective;
  EXPECT_DOUBLE_EQ(total_flops(layer_backward_gemms(c, 1, B, S, p)), 2 * fwd + attention);
  p.attention = AttentionImpl::flash; // selective = none with flash, which reruns the scores
  EXPECT_DOUBLE_EQ(total_flops(layer_backward_gemms(c, 1, B, S, p)), 2 * fwd + attention / 2);
}

} // namespace
} // namespace glm3d
