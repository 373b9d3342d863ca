// Whole-model gradient checks in f64 of what `tiny` (GeGLU, 2D RoPE, one stage) leaves out: a
// GeLU FFN with 1D RoPE, whole and cut into a 2-stage pipeline plan. The stages are two
// GlmModel<double> chained by hand: stage 0's output activation [B, S, H] is stage 1's input,
// stage 1's input gradient is stage 0's output gradient, and the tied word embedding, held by
// both stages, gets the sum of their two gradients (what the trainer's embedding all-reduce
// adds). Every parameter tensor is probed against central differences at sampled elements,
// and a directional derivative over all parameters covers every element at once.
#include "data/synthetic_task.h"
#include "gradcheck.h"
#include "model/glm_model.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <memory>

using namespace glm3d;

namespace {

// 4 layers, hidden 32, 4 heads (head_dim 8), GeLU FFN 64, vocab 64 (padded to 128), seq 32.
ModelConfig gelu_1d_config() {
  ModelConfig c;
  c.name = "gelu-1d";
  c.num_layers = 4;
  c.hidden = 32;
  c.num_heads = 4;
  c.ffn_hidden = 64;
  c.vocab = 64;
  c.seq_len = 32;
  c.ffn = FfnKind::gelu;
  c.rope = RopeKind::one_d;
  validate(c);
  return c;
}

StagePlan stage_plan(int first, int count, bool embedding) {
  StagePlan p;
  p.chunks = {{first, count}};
  p.has_embedding = embedding;
  return p;
}

// The model as pipeline stages of `layers_per_stage` layers each (one stage: the whole model).
// Parameters come from one single-rank model, initialised and perturbed once, copied by name.
struct Stages {
  ModelConfig cfg;
  LocalCommunicator tp{"tp"};
  std::vector<std::unique_ptr<GlmModel<double>>> stage;
  std::vector<MicroBatch> mbs;
  std::vector<std::vector<double>> act, dact; // per micro-batch: [B, S, H] between the stages

  Stages(const ModelConfig& c, const std::vector<int>& layers_per_stage, test::SeededRng& rng) : cfg(c) {
    GlmModel<double> whole(cfg, single_rank_plan(cfg), tp);
    whole.init(11);
    // Non-zero biases and LayerNorm offsets so their gradients are exercised too.
    for (int64_t i = 0; i < whole.num_params(); ++i)
      whole.params()[i] += 0.02 * rng.normal();
    int first = 0;
    for (size_t s = 0; s < layers_per_stage.size(); ++s) {
      const bool edge = s == 0 || s + 1 == layers_per_stage.size();
      stage.push_back(
          std::make_unique<GlmModel<double>>(cfg, stage_plan(first, layers_per_stage[s], edge), tp));
      first += layers_per_stage[s];
      for (const ParamInfo& p : stage.back()->table().params()) {
        const ParamInfo& w = whole.table().get(p.name);
        std::copy_n(whole.params() + w.offset, p.numel(), stage.back()->params() + p.offset);
      }
    }
    EXPECT_EQ(first, cfg.num_layers);
    SyntheticTask task(cfg.seq_len, cfg.vocab, rng.seed());
    mbs.push_back(stack_samples({task.get(0), task.get(1)}));
    mbs.push_back(stack_samples({task.get(2)}));
    act.resize(mbs.size());
    dact.resize(mbs.size());
  }
  double weight() const { return 1.0 / double(mbs[0].target_count() + mbs[1].target_count()); }

  // GPipe order: every micro-batch forward through all stages, then backward in reverse.
  double run(bool backward) {
    const size_t n = stage.size();
    for (auto& m : stage) {
      if (backward) // a forward-only run (a finite-difference probe) keeps the gradients
        m->zero_grads();
      m->set_batch(&mbs, weight());
    }
    for (int mb = 0; mb < int(mbs.size()); ++mb) {
      act[size_t(mb)].resize(size_t(stage[0]->activation_size(mb)));
      std::vector<double> in;
      for (size_t s = 0; s < n; ++s) {
        test::poison(act[size_t(mb)].data(), int64_t(act[size_t(mb)].size()));
        stage[s]->forward(0, mb, s == 0 ? nullptr : in.data(), s + 1 == n ? nullptr : act[size_t(mb)].data());
        in = act[size_t(mb)];
      }
    }
    if (backward)
      for (int mb = int(mbs.size()) - 1; mb >= 0; --mb) {
        std::vector<double> dout;
        for (size_t s = n; s-- > 0;) {
          dact[size_t(mb)].resize(size_t(stage[0]->activation_size(mb)));
          test::poison(dact[size_t(mb)].data(), int64_t(dact[size_t(mb)].size()));
          stage[s]->backward(0, mb, s + 1 == n ? nullptr : dout.data(),
                             s == 0 ? nullptr : dact[size_t(mb)].data());
          dout = dact[size_t(mb)];
        }
      }
    return stage.back()->loss_sum();
  }

  // Every (stage, offset) holding element i of tensor `name` (the tied embedding: two places).
  std::vector<double*> places(const std::string& name, int64_t i) {
    std::vector<double*> out;
    for (auto& m : stage)
      if (const ParamInfo* p = m->table().find(name))
        out.push_back(m->params() + p->offset + i);
    return out;
  }
  // The whole model's gradient of element i of `name`: the sum over the stages holding it.
  double grad(const std::string& name, int64_t i) {
    double g = 0;
    for (auto& m : stage)
      if (const ParamInfo* p = m->table().find(name))
        g += m->grads()[p->offset + i];
    return g;
  }
  // Every tensor of the model once (names of all stages, the tied embedding once).
  std::vector<ParamInfo> tensors() const {
    std::vector<ParamInfo> out;
    for (const auto& m : stage)
      for (const ParamInfo& p : m->table().params())
        if (std::none_of(out.begin(), out.end(), [&](const ParamInfo& q) { return q.name == p.name; }))
          out.push_back(p);
    return out;
  }
};

// Central differences (h = 1e-5) at 3 sampled elements of every tensor, the tied embedding
// moved in every stage at once; the bound and floor are those of test_model_grad.cpp.
void check_every_tensor(Stages& m, test::SeededRng& rng) {
  m.run(true);
  int tensors = 0;
  for (const ParamInfo& p : m.tensors()) {
    ++tensors;
    for (int probe = 0; probe < 3; ++probe) {
      int64_t i = rng.integer(0, p.numel() - 1);
      if (p.name == "word_embeddings.weight") // a row of a token in the batch: a non-zero gradient
        i = int64_t(m.mbs[0].tokens[size_t(rng.integer(0, 63))]) * p.local_cols +
            rng.integer(0, p.local_cols - 1);
      const std::vector<double*> at = m.places(p.name, i);
      const double saved = *at[0], h = 1e-5;
      auto loss_at = [&](double v) {
        for (double* x : at)
          *x = v;
        return m.run(false);
      };
      const double num = (loss_at(saved + h) - loss_at(saved - h)) / (2 * h);
      loss_at(saved);
      const double a = m.grad(p.name, i);
      const double err = std::abs(a - num) / std::max({std::abs(a), std::abs(num), 1e-4});
      EXPECT_LT(err, 1e-5) << p.name << "[" << i << "] held by " << at.size() << " stage(s): analytic " << a
                           << " numeric " << num;
    }
  }
  EXPECT_EQ(tensors, 4 * 12 + 3); // 12 per layer, word embedding, final LayerNorm weight and bias
}

// The directional derivative along a random direction over every parameter of every stage
// (shared embedding elements moved together).
void check_directional(Stages& m, test::SeededRng& rng) {
  m.run(true);
  double gd = 0;
  std::vector<std::pair<double*, double>> moves; // (element, its direction); the embedding twice
  for (const ParamInfo& p : m.tensors())
    for (int64_t i = 0; i < p.numel(); ++i) {
      const double dir = rng.normal();
      gd += m.grad(p.name, i) * dir;
      for (double* x : m.places(p.name, i))
        moves.emplace_back(x, dir);
    }
  std::vector<double> saved;
  for (const auto& [x, dir] : moves)
    saved.push_back(*x);
  auto at = [&](double t) {
    for (size_t j = 0; j < moves.size(); ++j)
      *moves[j].first = saved[j] + t * moves[j].second;
    return m.run(false);
  };
  const double h = 1e-6, num = (at(h) - at(-h)) / (2 * h);
  at(0);
  EXPECT_NEAR(num / gd, 1.0, 1e-6) << "analytic " << gd << " numeric " << num;
}

} // namespace

TEST(ModelGradientGelu1d, ElementwiseEveryTensor) {
  test::SeededRng rng;
  Stages m(gelu_1d_config(), {4}, rng);
  check_every_tensor(m, rng);
}

TEST(ModelGradientGelu1d, DirectionalDerivative) {
  test::SeededRng rng;
  Stages m(gelu_1d_config(), {4}, rng);
  check_directional(m, rng);
}

TEST(ModelGradientTwoStages, ElementwiseEveryTensor) {
  test::SeededRng rng;
  Stages m(gelu_1d_config(), {1, 3}, rng); // uneven on purpose: a --pp-layers 1,3 plan
  check_every_tensor(m, rng);
}

TEST(ModelGradientTwoStages, DirectionalDerivative) {
  test::SeededRng rng;
  Stages m(gelu_1d_config(), {1, 3}, rng);
  check_directional(m, rng);
}

// The 2-stage plan computes the whole model's loss and gradient: every element of every
// tensor (the embedding as the sum of its two stages' gradients) equals the 1-stage model's
// up to f64 rounding.
TEST(ModelGradientTwoStages, EqualsOneStage) {
  test::SeededRng rng;
  const uint64_t seed = rng.seed();
  test::SeededRng r1(seed), r2(seed);
  Stages one(gelu_1d_config(), {4}, r1), two(gelu_1d_config(), {2, 2}, r2);
  const double l1 = one.run(true), l2 = two.run(true);
  EXPECT_NEAR(l2, l1, 1e-13 * l1);
  for (const ParamInfo& p : one.tensors())
    for (int64_t i = 0; i < p.numel(); ++i) {
      const double g1 = one.grad(p.name, i), g2 = two.grad(p.name, i);
      ASSERT_NEAR(g2, g1, 1e-12 * std::max(1.0, std::abs(g1))) << p.name << "[" << i << "]";
    }
}

// 1D and 2D RoPE differ on these samples (Part B has block positions): the option is used.
TEST(ModelGradientGelu1d, RopeKindChangesTheLoss) {
  test::SeededRng rng;
  const uint64_t seed = rng.seed();
  test::SeededRng r1(seed), r2(seed);
  ModelConfig c2 = gelu_1d_config();
  c2.rope = RopeKind::two_d;
  Stages one_d(gelu_1d_config(), {4}, r1), two_d(c2, {4}, r2);
  const double l1 = one_d.run(false), l2 = two_d.run(false);
  EXPECT_GT(std::abs(l1 - l2), 1e-6 * l1) << "1D " << l1 << " 2D " << l2;
}
