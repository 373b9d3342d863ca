// Generation for ChatGLM2/3's architecture on one rank (RMSNorm, pre-norm, grouped key/value
// heads, SwiGLU, half-interleaved RoPE, causal mask, untied head): the inference layer against
// the training forward, and the KV cache against recomputing every step.
#include "infer_fixture.h"

#include "gradcheck.h"
#include "model/microbatch.h"

#include <gtest/gtest.h>
#include <map>

namespace glm3d::test {
namespace {

// tiny-glm2's architecture: 2 layers, hidden 64, 4 heads in 2 key/value groups, SwiGLU 96,
// vocab 97 (padded), qkv bias, no linear biases (or with them: linear_bias).
ModelConfig glm2_config(bool linear_bias) {
  ModelConfig c = preset_config("tiny-glm2");
  c.num_layers = 2, c.num_heads = 4, c.kv_groups = 2, c.vocab = 97, c.seq_len = 40;
  c.linear_bias = linear_bias;
  c.init_std = 0.5; // large embeddings: logits far from uniform, so argmax ties are unlikely
  return c;
}

void expect_logits_near(const float* a, const float* b, int64_t n, double tol, const std::string& what) {
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(a[i], b[i], tol * std::max(1.0, double(std::abs(b[i])))) << what << " logit " << i;
}

// Biases are zero after init; random ones so that the biased paths are exercised.
void randomize_biases(TestModel& m, SeededRng& rng) {
  for (const ParamInfo& p : m.model->table().params())
    if (p.name.find(".bias") != std::string::npos)
      for (int64_t i = 0; i < p.numel(); ++i)
        m.flat[size_t(p.offset + i)] = float(rng.uniform(-0.5, 0.5));
  m.model->set_weights(m.flat.data(), WeightFormat::f32);
}

// Prefill logits of each sequence's last token equal GlmModel's forward (flash_attention_forward,
// not the cache's kernel; causal mask, positions 0..S-1) on the same tokens, within 1e-5; with and without
// linear biases.
TEST(GenerationGlm2, PrefillLogitsEqualTheTrainingForward) {
  SeededRng rng;
  for (bool linear_bias : {false, true}) {
    TestModel m(glm2_config(linear_bias), rng.seed());
    randomize_biases(m, rng);
    const int64_t S = 11, B = 3;
    std::vector<Sample> samples;
    StepBatch step;
    for (int64_t b = 0; b < B; ++b) {
      Sample s;
      for (int64_t j = 0; j < S; ++j) {
        s.tokens.push_back(int32_t(rng.integer(0, 96)));
        s.position_ids.push_back(int32_t(j)), s.block_position_ids.push_back(0);
      }
      s.sep = 0;
      s.targets.assign(size_t(S), 0), s.loss_mask.assign(size_t(S), 0);
      step.row.push_back(b), step.first.push_back(0), step.cached.push_back(0), step.count.push_back(S);
      step.sep.push_back(5); // ignored: the model is causal
      step.tokens.insert(step.tokens.end(), s.tokens.begin(), s.tokens.end());
      step.position.insert(step.position.end(), s.position_ids.begin(), s.position_ids.end());
      step.block.insert(step.block.end(), s.block_position_ids.begin(), s.block_position_ids.end());
      samples.push_back(s);
    }
    ExecPolicy exec;
    exec.attention = AttentionImpl::flash; // grouped key/value heads: the flash kernels only
    GlmModel<float> g(m.cfg, m.plan, m.tp, exec);
    std::copy(m.flat.begin(), m.flat.end(), g.params());
    const std::vector<MicroBatch> mbs = {stack_samples(samples)};
    const int64_t Vp = g.table().padded_vocab();
    std::vector<float> train(size_t(B * S * Vp));
    g.on_logits = [&](int, const float* l) { std::copy(l, l + B * S * Vp, train.begin()); };
    g.set_batch(&mbs, 1.0);
    g.forward(0, 0, nullptr, nullptr);
    KvCache cache = m.model->make_cache(B, S);
    std::vector<float> x, out(size_t(B * m.cfg.vocab));
    m.model->forward(step, cache, x);
    m.model->logits(step, x.data(), out.data());
    for (int64_t b = 0; b < B; ++b)
      expect_logits_near(
          out.data() + b * m.cfg.vocab, train.data() + ((b + 1) * S - 1) * Vp, m.cfg.vocab, 1e-5,
          rng.tag() + " sample " + std::to_string(b) + " linear_bias " + std::to_string(linear_bias));
    // The cache holds the 2 key/value groups only.
    EXPECT_EQ(cache.token_stride(), 2 * m.cfg.head_dim());
  }
}

// The KV cache equals recomputing every step: the same greedy tokens, logits within 1e-5, for a
// left-padded batch of prompts of lengths 3, 9 and 6; the positions fed are 0..n-1.
TEST(GenerationGlm2, KvCacheEqualsRecomputingEveryStep) {
  SeededRng rng;
  TestModel m(glm2_config(false), rng.seed());
  randomize_biases(m, rng);
  std::vector<GenSequence> batch;
  for (int64_t n : {3, 9, 6}) {
    GlmSequence s;
    for (int64_t j = 0; j < n; ++j)
      s.ids.push_back(int32_t(rng.integer(0, 96)));
    batch.push_back({s, uint64_t(batch.size())});
  }
  struct Run {
    std::vector<std::vector<int32_t>> ids;
    std::map<int64_t, std::vector<std::vector<float>>> logits;
    std::vector<StepBatch> steps;
  };
  auto run = [&](bool cache) {
    GenerateOptions o;
    o.max_new_tokens = 14, o.sampling.greedy = true, o.use_cache = cache;
    Generator gen(*m.model, m.pp);
    Run r;
    GenerateHooks h;
    h.on_step = [&](const StepBatch& s, int64_t) { r.steps.push_back(s); };
    h.on_logits = [&](int64_t seq, const float* l) { r.logits[seq].emplace_back(l, l + m.cfg.vocab); };
    std::vector<GenSequence> b = batch;
    gen.run(b, o, h);
    for (const GenSequence& s : b)
      r.ids.push_back(s.seq.ids);
    return r;
  };
  const Run cached = run(true), recomputed = run(false);
  EXPECT_EQ(cached.ids, recomputed.ids) << rng.tag();
  for (int64_t b = 0; b < 3; ++b) {
    ASSERT_EQ(cached.logits.at(b).size(), size_t(14));
    for (size_t t = 0; t < 14; ++t)
      expect_logits_near(cached.logits.at(b)[t].data(), recomputed.logits.at(b)[t].data(), m.cfg.vocab, 1e-5,
                         rng.tag() + " sequence " + std::to_string(b) + " step " + std::to_string(t));
  }
  // Prefill of the 9-token prompt: positions 0..8, no block positions, sep 0 (causal).
  const StepBatch& p = cached.steps[0];
  EXPECT_EQ(std::vector<int32_t>(p.position.begin() + 3, p.position.begin() + 12),
            (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(p.block, std::vector<int32_t>(size_t(18), 0));
  EXPECT_EQ(p.sep, (std::vector<int32_t>{0, 0, 0}));
  // Decode step 1 feeds token 9 of sequence 1 at position 9.
  EXPECT_EQ(cached.steps[1].position[1], 9);
  EXPECT_EQ(cached.steps[1].total(), 3);
}

} // namespace
} // namespace glm3d::test
