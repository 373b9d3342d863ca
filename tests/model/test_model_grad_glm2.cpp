// Whole-model gradient check in f64 of ChatGLM2/3's architecture (RMSNorm, pre-norm residual,
// grouped-query attention with [Q | K | V] rows, half-interleaved RoPE, SwiGLU, causal mask,
// untied output layer, bias on query_key_value only): 2 layers, hidden 64, 4 heads, 2 groups,
// through flash attention in f64, against central finite differences, every tensor probed and a
// random direction over all parameters. Also each architecture key changes the loss (a key the
// model silently ignored would leave it unchanged) and the parameter count is the hand sum.
#include "data/synthetic_task.h"
#include "gradcheck.h"
#include "model/glm_model.h"

#include "model_steps.h"

#include <gtest/gtest.h>

using namespace glm3d;

namespace {

ExecPolicy flash() {
  ExecPolicy e;
  e.attention = AttentionImpl::flash;
  return e;
}

struct Glm2Fixture {
  ModelConfig cfg;
  LocalCommunicator tp{"tp"};
  GlmModel<double> model;
  std::vector<MicroBatch> mbs;
  test::SeededRng rng;

  explicit Glm2Fixture(const ModelConfig& c) : cfg(c), model(cfg, single_rank_plan(cfg), tp, flash()) {
    model.init(5);
    for (int64_t i = 0; i < model.num_params(); ++i) // non-zero biases and norm offsets
      model.params()[i] += 0.05 * rng.normal();
    SyntheticTask task(cfg.seq_len, cfg.vocab, rng.seed());
    mbs.push_back(stack_samples({task.get(0), task.get(1)}));
  }
  double loss() { return test::loss_of(model, mbs); }
  void gradient() { test::gradient_of(model, mbs); }
};

} // namespace

// Bounds as in test_model_grad.cpp (h = 1e-5; relative to max(|g|, 1e-4)).
TEST(ModelGradientGlm2, EveryTensor) {
  Glm2Fixture f(test::small_glm2());
  f.gradient();
  const std::vector<double> g(f.model.grads(), f.model.grads() + f.model.num_params());
  for (const ParamInfo& p : f.model.table().params())
    for (int probe = 0; probe < 3; ++probe) {
      const int64_t i = p.vocab_rows ? int64_t(f.mbs[0].tokens[size_t(f.rng.integer(0, 63))]) * p.local_cols +
                                           f.rng.integer(0, p.local_cols - 1)
                                     : f.rng.integer(0, p.numel() - 1);
      const int64_t at = p.offset + i;
      const auto r =
          test::gradcheck([&] { return f.loss(); }, f.model.params() + at, 1, g.data() + at, 1e-5, 1e-4);
      EXPECT_LT(r.max_rel, 1e-5) << p.name << "[" << i << "] " << r.str() << " " << f.rng.tag();
    }
}

TEST(ModelGradientGlm2, DirectionalDerivative) {
  Glm2Fixture f(test::small_glm2());
  f.gradient();
  const std::vector<double> g(f.model.grads(), f.model.grads() + f.model.num_params());
  const test::Directional r = test::directional_derivative(f.model.params(), g.data(), f.model.num_params(),
                                                           f.rng, [&] { return f.loss(); });
  EXPECT_NEAR(r.numeric / r.analytic, 1.0, 1e-6)
      << "analytic " << r.analytic << " numeric " << r.numeric << " " << f.rng.tag();
}

// Each ChatGLM2 key, switched back to GLM's choice, changes the loss of the same weights (where
// the parameter set stays the same) — so none of them is ignored.
TEST(ModelGradientGlm2, EachArchitectureKeyChangesTheLoss) {
  const ModelConfig base = test::small_glm2();
  Glm2Fixture f0(base);
  const double l0 = f0.loss();
  auto variant = [&](auto edit) {
    ModelConfig c = base;
    edit(c);
    Glm2Fixture f(c);
    return f.loss();
  };
  EXPECT_NE(variant([](ModelConfig& c) { c.residual = ResidualKind::deepnorm; }), l0);
  EXPECT_NE(variant([](ModelConfig& c) { c.mask = MaskKind::glm; }), l0);
  EXPECT_NE(variant([](ModelConfig& c) { c.ffn = FfnKind::geglu; }), l0);
  EXPECT_NE(variant([](ModelConfig& c) { c.rope_base = 500.0; }), l0);
}

// ChatGLM2-6B: 28 layers of RMSNorm x 2 (4096 each), query_key_value 4608 x 4096 + 4608 bias
// (32 query heads and 2 key/value groups of 128), dense 4096 x 4096, dense_h_to_4h 27392 x 4096,
// dense_4h_to_h 4096 x 13696, no other biases; word embeddings and an untied output layer of
// 65024 x 4096; the final RMSNorm: 6,243,584,000.
TEST(ModelConfig, ParameterCountChatglm2) {
  const int64_t per_layer = 2 * 4096 + 4608LL * 4096 + 4608 + 4096LL * 4096 + 27392LL * 4096 + 4096LL * 13696;
  EXPECT_EQ(per_layer, 203960832);
  EXPECT_EQ(parameter_count(preset_config("chatglm2-6b")), 28 * per_layer + 2 * 65024LL * 4096 + 4096);
  EXPECT_EQ(parameter_count(preset_config("chatglm2-6b")), 6243584000);
  EXPECT_EQ(preset_config("chatglm3-6b").seq_len, 8192);
  EXPECT_EQ(preset_config("chatglm2-6b").seq_len, 32768);
}
