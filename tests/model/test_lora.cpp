// LoRA on the whole model in f64 (model/lora.h, model/glm_adapters.cpp): the adapters'
// gradients against central finite differences with dropout on (the masks are counter-based, so
// the loss is a deterministic function of the adapters), on GLM (tiny: GeGLU, deepnorm) and
// ChatGLM2's architecture (packed [Q|K|V] rows, SwiGLU); the frozen base gets no gradient; with
// B = 0 the model is the base model exactly; without dropout the adapted model equals the base
// with PEFT's merged weights W + (alpha / r) B A; the dropout masks follow (step, sample).
#include "adapter_fixture.h"
#include "model/lora.h"

#include <gtest/gtest.h>

using namespace glm3d;

namespace {

using test::small_glm;
using test::small_glm2;

AdapterSpec all_targets(double dropout) {
  AdapterSpec a;
  a.method = FinetuneMethod::lora;
  a.lora_r = 3;
  a.lora_alpha = 6;
  a.lora_dropout = dropout;
  a.lora_targets = {"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"};
  return a;
}

ExecPolicy flash() {
  return test::policy(AttentionImpl::flash);
}

// PEFT starts B at zero; a trained B (random_b) is what the checks need.
struct LoraFixture : test::AdapterFixture {
  LoraFixture(const ModelConfig& c, const AdapterSpec& spec, bool random_b = true)
      : AdapterFixture(c, spec, flash(), test::SeededRng().seed(), random_b ? 0.2 : 0.0) {}
};

void check_every_adapter_tensor(const ModelConfig& cfg) {
  LoraFixture f(cfg, all_targets(0.25));
  f.gradient();
  EXPECT_EQ(f.model.grads(), nullptr) << "a frozen base has no gradients";
  const std::vector<double> g(f.model.adapter_grads(), f.model.adapter_grads() + f.adapter_elems());
  EXPECT_EQ(f.model.adapter_table().params().size(), size_t(2 * 4 * cfg.num_layers));
  for (const ParamInfo& p : f.model.adapter_table().params())
    for (int probe = 0; probe < 3; ++probe) {
      const int64_t at = p.offset + f.rng.integer(0, p.numel() - 1);
      const auto r = test::gradcheck([&] { return f.loss(); }, f.model.adapter_params() + at, 1,
                                     g.data() + at, 1e-5, 1e-4);
      EXPECT_LT(r.max_rel, 1e-5) << p.name << " " << r.str() << " " << f.rng.tag();
    }
}

} // namespace

TEST(Lora, GradientOfEveryAdapterGlm) {
  check_every_adapter_tensor(small_glm());
}
TEST(Lora, GradientOfEveryAdapterGlm2) {
  check_every_adapter_tensor(small_glm2());
}

// A random direction over all adapter parameters at once.
TEST(Lora, DirectionalDerivative) {
  LoraFixture f(small_glm2(), all_targets(0.25));
  f.gradient();
  const std::vector<double> g(f.model.adapter_grads(), f.model.adapter_grads() + f.adapter_elems());
  const test::Directional r = test::directional_derivative(
      f.model.adapter_params(), g.data(), f.adapter_elems(), f.rng, [&] { return f.loss(); });
  EXPECT_NEAR(r.numeric / r.analytic, 1.0, 1e-6)
      << "analytic " << r.analytic << " numeric " << r.numeric << " " << f.rng.tag();
}

// PEFT's initialisation (B = 0) leaves the model's output unchanged, bit for bit; A is
// U(-1/sqrt(in), 1/sqrt(in)), not zero.
TEST(Lora, FreshAdaptersAreTheBaseModel) {
  LoraFixture f(small_glm(), all_targets(0.25), /*random_b=*/false);
  const double adapted = f.loss();
  GlmModel<double> base(f.cfg, single_rank_plan(f.cfg), f.tp, flash());
  std::copy(f.model.params(), f.model.params() + f.model.num_params(), base.params());
  base.set_batch(&f.mbs, 1.0 / double(f.mbs[0].target_count()));
  base.forward(0, 0, nullptr, nullptr);
  EXPECT_EQ(adapted, base.loss_sum());
  const ParamInfo& a = f.model.adapter_table().get("layers.0.attention.query_key_value.lora_A.weight");
  double amax = 0;
  for (int64_t i = 0; i < a.numel(); ++i)
    amax = std::max(amax, std::abs(f.model.adapter_params()[a.offset + i]));
  EXPECT_GT(amax, 0.5 / std::sqrt(double(a.cols)));
  EXPECT_LE(amax, 1.0 / std::sqrt(double(a.cols)));
}

// Without dropout (evaluation) the adapted model is the base with W + s B A in every target.
TEST(Lora, EqualsTheMergedModel) {
  for (const ModelConfig& cfg : {small_glm(), small_glm2()}) {
    LoraFixture f(cfg, all_targets(0.25));
    f.model.training = false;
    const double adapted = f.loss();
    GlmModel<double> merged(cfg, single_rank_plan(cfg), f.tp, flash());
    std::copy(f.model.params(), f.model.params() + f.model.num_params(), merged.params());
    const AdapterSpec spec = all_targets(0.25);
    for (int l = 0; l < cfg.num_layers; ++l)
      for (int m = 0; m < 4; ++m) {
        const LinearModule& mod = linear_modules()[m];
        const ParamInfo& w = merged.table().get(layer_param_name(l, mod.weight));
        const ParamInfo& a = f.model.adapter_table().get(lora_param_name(l, mod, 'A'));
        const ParamInfo& b = f.model.adapter_table().get(lora_param_name(l, mod, 'B'));
        merge_lora(merged.params() + w.offset, f.model.adapter_params() + a.offset,
                   f.model.adapter_params() + b.offset, w.rows, w.cols, spec.lora_r, spec.lora_scaling());
      }
    merged.set_batch(&f.mbs, 1.0 / double(f.mbs[0].target_count()));
    merged.forward(0, 0, nullptr, nullptr);
    EXPECT_NEAR(adapted, merged.loss_sum(), 1e-12 * std::abs(adapted)) << cfg.name;
    f.model.training = true;
    EXPECT_GT(std::abs(f.loss() - adapted), 1e-6) << "dropout 0.25 changes the training loss";
  }
}

// The masks are keyed by (seed, step, layer, module, global sample, position, feature): another
// step or another sample index draws another mask; dropout 0 draws none.
TEST(Lora, DropoutFollowsStepAndSample) {
  LoraFixture f(small_glm(), all_targets(0.25));
  const double l3 = f.loss();
  EXPECT_EQ(f.loss(), l3) << "the same step and samples draw the same masks";
  f.model.set_step(4);
  EXPECT_NE(f.loss(), l3);
  f.model.set_step(3);
  f.mbs[0].sample_ids = {8, 7};
  EXPECT_NE(f.loss(), l3);
  LoraFixture nodrop(small_glm(), all_targets(0.0));
  const double n3 = nodrop.loss();
  nodrop.model.set_step(4);
  EXPECT_EQ(nodrop.loss(), n3);
}
