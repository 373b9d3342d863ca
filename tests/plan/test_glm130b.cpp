// GLM-130B (arXiv 2210.02414 §2.3, App. B.4, Table 11): 768 A100-40GB, 8 per node, TP 4 x PP 8
// x DP 24, micro-batch 1, global batch 4224 (176 micro-batches per pipeline), ZeRO-1, full
// recomputation, 16-bit, 70 layers split 8|9x6|8 with the embedding on the first and last stage.
// Reported: bubble 3.8%, 88.5 s per iteration, HFU 43.3%, MFU 32.5%. The device defaults are
// datasheet numbers and Megatron/NCCL measurements (plan/device.cpp), not fitted to this run.
#include "plan/search.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

PlanInput glm_input() {
  PlanInput in;
  in.cfg = preset_config("glm-130b");
  in.global_batch = 4224;
  in.gpus_per_node = 8;
  in.dev = gpu_profile("a100-40g");
  return in;
}

Layout paper_layout(Recompute rc) {
  Layout l;
  l.tp = 4, l.pp = 8, l.dp = 24, l.micro_batch = 1, l.zero = 1;
  l.exec.precision = cpu::Precision::bf16;
  l.exec.recompute = rc;
  l.exec.attention = parse_attention("auto", l.exec.precision);
  l.pp_layers = {8, 9, 9, 9, 9, 9, 9, 8};
  return l;
}

TEST(Glm130b, PaperLayoutIsValidAndItsSplitIsTheBalancedOne) {
  const PlanInput in = glm_input();
  EXPECT_EQ(layout_problem(in.cfg, paper_layout(Recompute::full), in.global_batch), "");
  EXPECT_EQ(paper_layout(Recompute::full).num_microbatches(in.global_batch), 176);
  EXPECT_EQ(balanced_pp_layers(70, 8, 1), (std::vector<int>{8, 9, 9, 9, 9, 9, 9, 8}));
}

TEST(Glm130b, FitsIn40GbWithFullRecomputationOnly) {
  const PlanInput in = glm_input();
  const Prediction full = predict(in, paper_layout(Recompute::full), false);
  EXPECT_TRUE(full.fits) << full.peak_bytes / 1e9 << " GB";
  EXPECT_LT(full.peak_bytes, 40e9);
  for (Recompute rc : {Recompute::none, Recompute::selective}) {
    const Prediction p = predict(in, paper_layout(rc), false);
    EXPECT_FALSE(p.fits) << to_string(rc) << ": " << p.peak_bytes / 1e9 << " GB";
  }
  // The first stage holds the embedding (V/tp x H) besides its 8 layers; stage 1 holds 9 layers.
  const double emb = double(in.cfg.vocab / 4 * in.cfg.hidden);
  const double layer = double(full.stages[1].mem.weights) / 2 / 9; // bf16 weights, bytes -> params
  EXPECT_NEAR(double(full.stages[0].mem.weights) / 2, 8 * layer + emb, 0.001 * emb);
}

TEST(Glm130b, BubbleAndIterationTimeAgreeWithThePaper) {
  const PlanInput in = glm_input();
  const Prediction p = predict(in, paper_layout(Recompute::full));
  EXPECT_NEAR(100 * p.bubble_fraction, 3.8, 0.1);
  EXPECT_NEAR(p.step_s, 88.5, 0.15 * 88.5);
  EXPECT_NEAR(p.step_s, p.compute_s + p.tp_comm_s + p.bubble_s + p.p2p_s + p.dp_exposed_s + p.optimizer_s,
              1e-6);
  // Full recomputation: hardware FLOPs are about 4/3 of the model's.
  EXPECT_NEAR(p.hfu / p.mfu, 4.0 / 3.0, 0.02);
  std::printf("GLM-130B predicted: step %.2f s (reported 88.5), bubble %.2f%% (3.8), HFU %.1f%% (43.3), "
              "MFU %.1f%% (32.5), %.1f hardware TFLOP/s per GPU (about 134), memory %.2f GB\n",
              p.step_s, 100 * p.bubble_fraction, 100 * p.hfu, 100 * p.mfu, p.hw_tflops_per_gpu,
              p.peak_bytes / 1e9);
}

TEST(Glm130b, SearchFindsALayoutThatFitsAndIsNoSlower) {
  const PlanInput in = glm_input();
  const SearchResult r = search_layouts(in, 768, SearchSpace{}, 10);
  ASSERT_FALSE(r.best.empty());
  const Prediction paper = predict(in, paper_layout(Recompute::full));
  EXPECT_TRUE(r.best.front().fits);
  EXPECT_LE(r.best.front().step_s, paper.step_s);
  for (size_t i = 1; i < r.best.size(); ++i)
    EXPECT_LE(r.best[i - 1].step_s, r.best[i].step_s);
  EXPECT_GT(r.rejected.at("does not fit in memory"), 0);
  EXPECT_GT(r.rejected.at("global batch not divisible by micro-batch x dp"), 0);
  int64_t rejected = 0;
  for (const auto& [why, n] : r.rejected)
    rejected += n;
  EXPECT_EQ(r.candidates, r.fitting + rejected);
}

} // namespace
} // namespace glm3d
