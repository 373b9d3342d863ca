#pragma once
// Small models for the generation tests: GlmModel's counter-based init (the training model's
// weights, the same on every layout) copied into an InferenceModel of one rank.
#include "infer/generator.h"
#include "infer/inference_model.h"
#include "model/glm_model.h"
#include "parallel/communicator.h"

#include <memory>
#include <string>
#include <vector>

namespace glm3d::test {

// 3 layers, hidden 32, 4 heads, vocab 97 (not a multiple of 128: padded), context 40.
inline ModelConfig small_config(FfnKind ffn = FfnKind::geglu, RopeKind rope = RopeKind::two_d) {
  ModelConfig c;
  c.name = "infer-test";
  c.num_layers = 3;
  c.hidden = 32;
  c.num_heads = 4;
  c.ffn_hidden = 64;
  c.vocab = 97;
  c.seq_len = 40;
  c.ffn = ffn;
  c.rope = rope;
  c.init_std = 0.5; // large embeddings: logits far from uniform, so argmax ties are unlikely
  return c;
}

// The special ids of the test vocabulary (the last ids, like ChatGLM's).
inline SpecialIds small_special() {
  SpecialIds sp;
  sp.mask = 90, sp.gmask = 91, sp.smask = 92, sp.sop = 93, sp.eop = 94, sp.pad = 95;
  return sp;
}

// A single-rank model initialised by GlmModel::init(seed), its matrices stored as `format`.
struct TestModel {
  LocalCommunicator tp{"tp"}, pp{"pp"};
  ModelConfig cfg;
  StagePlan plan;
  std::vector<float> flat; // GlmModel's weights (ParamTable layout)
  std::unique_ptr<InferenceModel> model;

  TestModel(const ModelConfig& c, uint64_t seed, WeightFormat format = WeightFormat::f32)
      : cfg(c), plan(single_rank_plan(c)) {
    ExecPolicy exec;
    if (c.packed_qkv()) // grouped key/value heads: the flash kernels only
      exec.attention = AttentionImpl::flash;
    GlmModel<float> g(cfg, plan, tp, exec);
    g.init(seed);
    flat.assign(g.params(), g.params() + g.num_params());
    model = std::make_unique<InferenceModel>(cfg, plan, tp);
    model->set_weights(flat.data(), format);
  }
};

// Prompts as GenSequences: each ids + [gMASK] <sop> (key = index).
inline std::vector<GenSequence> gmask_batch(const std::vector<std::vector<int32_t>>& prompts,
                                            const SpecialIds& sp) {
  std::vector<GenSequence> batch;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> ids = prompts[i];
    ids.push_back(sp.gmask);
    ids.push_back(sp.sop);
    batch.push_back({glm_sequence(ids, sp), uint64_t(i)});
  }
  return batch;
}

} // namespace glm3d::test
