#pragma once
// A small f64 model with fine-tuning adapters on one rank, a batch of two synthetic samples (global
// indices 7 and 8) at step 3: what the LoRA and P-tuning tests differentiate.
#include "data/synthetic_task.h"
#include "gradcheck.h"
#include "model/glm_model.h"
#include "model_steps.h" // small_glm (GLM: interleaved heads, GeGLU, DeepNorm)

namespace glm3d::test {

inline ExecPolicy policy(AttentionImpl impl, Recompute r = Recompute::none) {
  ExecPolicy e;
  e.attention = impl;
  e.recompute = r;
  return e;
}

struct AdapterFixture {
  ModelConfig cfg;
  LocalCommunicator tp{"tp"};
  GlmModel<double> model;
  std::vector<MicroBatch> mbs;
  SeededRng rng;

  // seed: the weights and data (two fixtures with one seed hold the same model and batch);
  // adapter_noise: the std of normal noise added to the adapters' initial values.
  AdapterFixture(const ModelConfig& c, const AdapterSpec& spec, ExecPolicy e, uint64_t seed,
                 double adapter_noise)
      : cfg(c), model(cfg, single_rank_plan(cfg), tp, e), rng(seed) {
    model.init(5);
    for (int64_t i = 0; i < model.num_params(); ++i)
      model.params()[i] += 0.05 * rng.normal();
    model.attach_adapters(spec, 0, 11);
    if (adapter_noise > 0)
      for (const ParamInfo& p : model.adapter_table().params())
        for (int64_t i = 0; i < p.numel(); ++i)
          model.adapter_params()[p.offset + i] += adapter_noise * rng.normal();
    SyntheticTask task(cfg.seq_len, cfg.vocab, rng.seed());
    mbs.push_back(stack_samples({task.get(7), task.get(8)}));
    mbs[0].sample_ids = {7, 8};
    model.set_step(3);
  }
  double loss() { return test::loss_of(model, mbs); }
  void gradient() { test::gradient_of(model, mbs); }
  int64_t adapter_elems() const { return model.adapter_table().total(); }
};

} // namespace glm3d::test
