// model/flops: the GEMM list of a layer sums to training_flops_per_token's count; backward is
// twice forward; recomputation adds exactly the forward GEMMs it reruns.
#include "model/flops.h"
#include "model/memory_model.h"
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

// The LM head's row chunks (model/memory_model.h): 2^22 logits of the local vocabulary, never
// fewer than k_head_min_rows rows, never more than the micro-batch.
TEST(MemoryModel, HeadChunkRowsBoundTheLogitsAboveAFloor) {
  EXPECT_EQ(k_head_min_rows, 512);
  EXPECT_EQ(head_chunk_rows(2048, 32000), 512);  // 2^22 / 32000 = 131 rows: the floor
  EXPECT_EQ(head_chunk_rows(2048, 37632), 512);  // GLM-130B's vocabulary at tp 4
  EXPECT_EQ(head_chunk_rows(2048, 4096), 1024);  // 2^22 logits
  EXPECT_EQ(head_chunk_rows(640, 70000), 512);   // tests/train/wide_vocab.ini: 512 + 128
  EXPECT_EQ(head_chunk_rows(300, 70000), 300);   // the whole micro-batch
  EXPECT_EQ(head_chunk_rows(100000, 1), 100000); // a huge chunk bound by N
  EXPECT_EQ(head_chunk_rows(1, 0), 1);           // degenerate sizes stay at one row
}

} // namespace
} // namespace glm3d
