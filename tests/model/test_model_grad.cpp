// Whole-model gradient check of `tiny` in f64: the analytic gradient of the mean
// target loss (embedding, 8 DeepNorm layers with 2D RoPE and GeGLU, tied LM head)
// against central finite differences.
#include "data/synthetic_task.h"
#include "gradcheck.h"
#include "model/glm_model.h"
#include "model_steps.h"

#include <algorithm>
#include <cmath>
#include <gtest/gtest.h>

using namespace glm3d;

namespace {

struct Fixture {
  ModelConfig cfg = preset_config("tiny");
  LocalCommunicator tp{"tp"};
  GlmModel<double> model{cfg, single_rank_plan(cfg), tp};
  std::vector<MicroBatch> mbs;
  test::SeededRng rng;

  Fixture() {
    model.init(11);
    // Non-zero biases and LayerNorm offsets so their gradients are exercised too.
    for (int64_t i = 0; i < model.num_params(); ++i)
      model.params()[i] += 0.02 * rng.normal();
    SyntheticTask task(cfg.seq_len, cfg.vocab, rng.seed());
    mbs.push_back(stack_samples({task.get(0), task.get(1)}));
    mbs.push_back(stack_samples({task.get(2)}));
  }
  double targets() const { return double(mbs[0].target_count() + mbs[1].target_count()); }
  // Forward only (set_batch drops the activations of the previous call).
  double loss() {
    model.set_batch(&mbs, 1.0 / targets());
    for (int m = 0; m < 2; ++m)
      model.forward(0, m, nullptr, nullptr);
    return model.loss_sum();
  }
  void gradient() {
    model.zero_grads();
    model.set_batch(&mbs, 1.0 / targets());
    for (int m = 0; m < 2; ++m) {
      model.forward(0, m, nullptr, nullptr);
      model.backward(0, m, nullptr, nullptr);
    }
  }
};

} // namespace

// Central differences with h = 1e-5: truncation error h^2 |L'''| / 6 ~ 1e-11 and rounding
// ~ eps * |L| * (accumulation depth) / h ~ 5e-11 absolutely (L ~ 5.5). Gradients here range
// over 1e-7 .. 1e-2, so errors are relative to max(|g|, 1e-4): a bound of 1e-5 allows an
// absolute 1e-9 for the smallest gradients (20x the noise) and 1e-5 relative for the
// large ones, while any missing term (a dropped residual, a wrong transpose, a sign)
// shows up at 1e-1 or worse. One probe per tensor (every tensor of every layer); the
// directional test below covers every element at once.
TEST(ModelGradient, TinyElementwiseEveryTensor) {
  Fixture f;
  f.gradient();
  std::vector<double> g(f.model.grads(), f.model.grads() + f.model.num_params());
  for (const auto& p : f.model.table().params()) {
    for (int probe = 0; probe < 1; ++probe) {
      int64_t i = f.rng.integer(0, p.numel() - 1);
      if (p.name == "word_embeddings.weight") {
        // a row of a token that occurs in the batch, so the gradient is not trivially zero
        i = int64_t(f.mbs[0].tokens[size_t(f.rng.integer(0, 63))]) * p.local_cols +
            f.rng.integer(0, p.local_cols - 1);
      }
      const int64_t at = p.offset + i;
      const auto r =
          test::gradcheck([&] { return f.loss(); }, f.model.params() + at, 1, g.data() + at, 1e-5, 1e-4);
      EXPECT_LT(r.max_rel, 1e-5) << p.name << "[" << i << "] " << r.str() << " " << f.rng.tag();
    }
  }
}

// The gradient along a random direction over ALL parameters equals the directional
// finite difference (catches any element the per-tensor probes miss).
TEST(ModelGradient, TinyDirectionalDerivative) {
  Fixture f;
  f.gradient();
  const std::vector<double> g(f.model.grads(), f.model.grads() + f.model.num_params());
  const test::Directional r = test::directional_derivative(f.model.params(), g.data(), f.model.num_params(),
                                                           f.rng, [&] { return f.loss(); });
  EXPECT_NEAR(r.numeric / r.analytic, 1.0, 1e-6)
      << "analytic " << r.analytic << " numeric " << r.numeric << " " << f.rng.tag();
}

namespace {
// One forward and backward of the fixture's two micro-batches, with the LM head over all rows
// (an on_logits hook forces them, as evaluation and generation set one) or, as in training,
// over the rows that carry loss only (model/head_rows.h).
struct HeadRun {
  double loss;
  std::vector<double> grads;
  int64_t held; // activation bytes after both forwards
};
HeadRun head_run(Fixture& f, bool all_rows) {
  f.model.on_logits = nullptr;
  if (all_rows)
    f.model.on_logits = [](int, const double*) {};
  f.model.zero_grads();
  f.model.set_batch(&f.mbs, 1.0 / f.targets());
  for (int m = 0; m < 2; ++m)
    f.model.forward(0, m, nullptr, nullptr);
  HeadRun r{f.model.loss_sum(), {}, f.model.activation_bytes_held()};
  for (int m = 0; m < 2; ++m)
    f.model.backward(0, m, nullptr, nullptr);
  r.grads.assign(f.model.grads(), f.model.grads() + f.model.num_params());
  f.model.on_logits = nullptr;
  return r;
}

// The loss and every gradient of the two runs agree to 1e-13 relative.
void expect_same_loss_and_gradients(const HeadRun& all, const HeadRun& loss_rows) {
  EXPECT_NEAR(loss_rows.loss / all.loss, 1.0, 1e-13);
  double gmax = 0, diff = 0;
  for (size_t i = 0; i < all.grads.size(); ++i) {
    gmax = std::max(gmax, std::abs(all.grads[i]));
    diff = std::max(diff, std::abs(all.grads[i] - loss_rows.grads[i]));
  }
  EXPECT_GT(gmax, 0.0);
  EXPECT_LE(diff, 1e-13 * gmax) << "gradients differ by " << diff << " (largest " << gmax << ")";
}
} // namespace

// The synthetic task puts loss on 8 of tiny's 32 rows per sample. The head over those rows gives
// the loss and gradients of the head over all rows, and holds its probabilities [rows, Vl] for
// those rows only.
TEST(ModelGradient, HeadOnLossRowsEqualsHeadOnAllRows) {
  Fixture f;
  const HeadRun all = head_run(f, true), loss_rows = head_run(f, false);
  expect_same_loss_and_gradients(all, loss_rows);
  const int64_t rows = f.mbs[0].B * f.mbs[0].S + f.mbs[1].B * f.mbs[1].S;
  const int64_t Vl = f.model.table().get(f.model.table().head_name()).local_rows;
  ASSERT_LE(f.targets(), double(rows) / 4); // 8 of 32 rows per sample
  EXPECT_GE(all.held - loss_rows.held, (rows - int64_t(f.targets())) * Vl * int64_t(sizeof(double)))
      << "held " << all.held << " bytes over all rows, " << loss_rows.held << " over the rows with loss";
}

// A micro-batch without any loss (say a long prompt cut before its response): the head runs on
// no rows there, and the loss and gradients still equal those of the head over all rows.
TEST(ModelGradient, HeadSkipsAMicroBatchWithoutLoss) {
  Fixture f;
  std::fill(f.mbs[1].loss_mask.begin(), f.mbs[1].loss_mask.end(), uint8_t(0));
  ASSERT_EQ(f.mbs[1].target_count(), 0);
  expect_same_loss_and_gradients(head_run(f, true), head_run(f, false));
}

// f32 and f64 instantiations compute the same loss (to f32 accuracy).
TEST(ModelGradient, FloatMatchesDouble) {
  const ModelConfig cfg = preset_config("tiny");
  LocalCommunicator tp{"tp"};
  GlmModel<double> md(cfg, single_rank_plan(cfg), tp);
  GlmModel<float> mf(cfg, single_rank_plan(cfg), tp);
  md.init(3);
  mf.init(3);
  SyntheticTask task(cfg.seq_len, cfg.vocab, 9);
  std::vector<MicroBatch> mbs{stack_samples({task.get(0), task.get(1)})};
  const double w = 1.0 / double(mbs[0].target_count());
  md.set_batch(&mbs, w);
  mf.set_batch(&mbs, w);
  md.forward(0, 0, nullptr, nullptr);
  mf.forward(0, 0, nullptr, nullptr);
  EXPECT_NEAR(mf.loss_sum() / md.loss_sum(), 1.0, 1e-5);
  EXPECT_NEAR(md.loss_sum(), std::log(256.0), 1.0); // near-uniform prediction at init
}
