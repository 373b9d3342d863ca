// P-tuning v2 (model/prefix.h, model/glm_prefix.cpp) in f64: the prefix encoder's gradients
// against central finite differences with dropout on (counter-based masks: the loss is a
// deterministic function of the encoder), on GLM (tiny: interleaved heads, GeGLU; dense and
// flash attention) and ChatGLM2's architecture (2 key/value groups, [Q|K|V] rows), with and
// without the MLP projection; the attention over [prefix | tokens] against a reference that
// concatenates the prefix keys and values explicitly; eval (training false) drops nothing.
#include "adapter_fixture.h"
#include "core/cpu/attention.h"
#include "core/cpu/flash_attention.h"
#include "model/memory_model.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace glm3d;

namespace {

using test::policy;
using test::small_glm;
using test::small_glm2;

AdapterSpec ptuning(bool projection, double dropout) {
  AdapterSpec a;
  a.method = FinetuneMethod::ptuning;
  a.pre_seq_len = 5;
  a.prefix_projection = projection;
  a.prefix_dropout = dropout;
  return a;
}

struct PrefixFixture : test::AdapterFixture {
  PrefixFixture(const ModelConfig& c, const AdapterSpec& spec, ExecPolicy e = policy(AttentionImpl::flash),
                uint64_t seed = test::SeededRng().seed())
      : AdapterFixture(c, spec, e, seed, 0.0) {}
};

void check_encoder_gradients(const ModelConfig& cfg, bool projection, ExecPolicy e) {
  PrefixFixture f(cfg, ptuning(projection, 0.25), e);
  f.gradient();
  EXPECT_EQ(f.model.grads(), nullptr) << "a frozen base has no gradients";
  const int64_t n = f.model.adapter_table().total();
  const std::vector<double> g(f.model.adapter_grads(), f.model.adapter_grads() + n);
  EXPECT_EQ(f.model.adapter_table().params().size(), projection ? 5u : 1u);
  for (const ParamInfo& p : f.model.adapter_table().params())
    for (int probe = 0; probe < 4; ++probe) {
      const int64_t at = p.offset + f.rng.integer(0, p.numel() - 1);
      const auto r = test::gradcheck([&] { return f.loss(); }, f.model.adapter_params() + at, 1,
                                     g.data() + at, 1e-5, 1e-4);
      EXPECT_LT(r.max_rel, 1e-5) << cfg.name << " " << p.name << " " << r.str() << " " << f.rng.tag();
    }
}

} // namespace

TEST(Ptuning, EncoderGradientGlmFlash) {
  check_encoder_gradients(small_glm(), false, policy(AttentionImpl::flash));
}
TEST(Ptuning, EncoderGradientGlmDense) {
  check_encoder_gradients(small_glm(), false, policy(AttentionImpl::dense));
}
TEST(Ptuning, ProjectionGradientGlm) {
  check_encoder_gradients(small_glm(), true, policy(AttentionImpl::dense));
}
TEST(Ptuning, EncoderGradientGlm2) {
  check_encoder_gradients(small_glm2(), false, policy(AttentionImpl::flash));
}
TEST(Ptuning, ProjectionGradientGlm2) {
  check_encoder_gradients(small_glm2(), true, policy(AttentionImpl::flash));
}

// The projection's shapes follow ChatGLM-6B (Embedding(P, H)) and ChatGLM2 (Embedding(P, kv_size)).
TEST(Ptuning, EncoderShapes) {
  for (const ModelConfig& cfg : {small_glm(), small_glm2()}) {
    const ParamTable t(cfg, single_rank_plan(cfg), ptuning(true, 0.1));
    const int64_t C = cfg.num_layers * 2 * cfg.kv_heads() * cfg.head_dim();
    const int64_t E = cfg.packed_qkv() ? C : cfg.hidden;
    EXPECT_EQ(t.get("prefix_encoder.embedding.weight").cols, E) << cfg.name;
    EXPECT_EQ(t.get("prefix_encoder.trans.0.weight").cols, E) << cfg.name;
    EXPECT_EQ(t.get("prefix_encoder.trans.2.weight").rows, C) << cfg.name;
  }
}

// Recomputation reruns the prefix path: the same loss and gradients bit for bit.
TEST(Ptuning, RecomputeIsBitIdentical) {
  std::vector<double> ref;
  double ref_loss = 0;
  const test::SeededRng seed;
  for (Recompute r : {Recompute::none, Recompute::selective, Recompute::full}) {
    PrefixFixture f(small_glm(), ptuning(true, 0.25), policy(AttentionImpl::dense, r), seed.seed());
    f.gradient();
    const int64_t n = f.model.adapter_table().total();
    std::vector<double> g(f.model.adapter_grads(), f.model.adapter_grads() + n);
    if (ref.empty()) {
      ref = g;
      ref_loss = f.model.loss_sum();
      continue;
    }
    EXPECT_EQ(f.model.loss_sum(), ref_loss) << to_string(r);
    EXPECT_EQ(g, ref) << to_string(r);
  }
}

// Eval drops nothing: its loss does not depend on the dropout rate, training's does; the
// masks follow (step, sample).
TEST(Ptuning, DropoutOnlyInTraining) {
  const test::SeededRng seed;
  const ExecPolicy e = policy(AttentionImpl::flash);
  PrefixFixture a(small_glm2(), ptuning(false, 0.25), e, seed.seed()),
      b(small_glm2(), ptuning(false, 0.0), e, seed.seed());
  std::copy(a.model.adapter_params(), a.model.adapter_params() + a.model.adapter_table().total(),
            b.model.adapter_params());
  const double train_a = a.loss(), train_b = b.loss();
  EXPECT_GT(std::abs(train_a - train_b), 1e-6) << "dropout 0.25 changes the training loss";
  a.model.training = b.model.training = false;
  EXPECT_EQ(a.loss(), b.loss());
  a.model.training = true;
  EXPECT_EQ(a.loss(), train_a) << "the same step and samples draw the same masks";
  a.model.set_step(4);
  EXPECT_NE(a.loss(), train_a);
}

namespace {
// Reference attention in f64 with the prefix concatenated explicitly: query i of sample b sees
// all P prefix keys, then token j iff j < sep[b] or j <= i. q, k, v [B, S, nh, hd]; pk, pv
// [B, P, nh, hd]; out [B, S, nh, hd].
void reference(const std::vector<double>& q, const std::vector<double>& k, const std::vector<double>& v,
               const std::vector<double>& pk, const std::vector<double>& pv, const std::vector<int32_t>& sep,
               int64_t B, int64_t S, int64_t P, int64_t nh, int64_t hd, std::vector<double>& out) {
  out.assign(size_t(B * S * nh * hd), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t i = 0; i < S; ++i) {
        std::vector<const double*> keys, vals;
        for (int64_t p = 0; p < P; ++p) {
          keys.push_back(&pk[size_t(((b * P + p) * nh + h) * hd)]);
          vals.push_back(&pv[size_t(((b * P + p) * nh + h) * hd)]);
        }
        for (int64_t j = 0; j < S; ++j)
          if (j < sep[size_t(b)] || j <= i) {
            keys.push_back(&k[size_t(((b * S + j) * nh + h) * hd)]);
            vals.push_back(&v[size_t(((b * S + j) * nh + h) * hd)]);
          }
        const double* qi = &q[size_t(((b * S + i) * nh + h) * hd)];
        std::vector<double> s(keys.size());
        double mx = -1e300, z = 0;
        for (size_t t = 0; t < keys.size(); ++t) {
          double d = 0;
          for (int64_t c = 0; c < hd; ++c)
            d += qi[c] * keys[t][c];
          s[t] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[t]);
        }
        for (double& x : s)
          z += (x = std::exp(x - mx));
        double* o = &out[size_t(((b * S + i) * nh + h) * hd)];
        for (size_t t = 0; t < keys.size(); ++t)
          for (int64_t c = 0; c < hd; ++c)
            o[c] += s[t] / z * vals[t][c];
      }
}
} // namespace

// The layout the model runs (model/glm_prefix.cpp): per sample P rows of zero queries and the
// prefix keys/values, then the tokens, with Part A lengths P + sep, through the dense and the
// flash kernels; the token rows must equal the explicit concatenation.
TEST(Ptuning, AttentionOverPrefixEqualsConcatenation) {
  test::SeededRng rng;
  const int64_t B = 2, S = 9, P = 4, nh = 2, hd = 8, L = P + S;
  std::vector<double> q(size_t(B * S * nh * hd)), k(q.size()), v(q.size()), pk(size_t(B * P * nh * hd)),
      pv(pk.size());
  for (auto* x : {&q, &k, &v, &pk, &pv})
    rng.fill_normal(x->data(), int64_t(x->size()));
  for (const std::vector<int32_t>& sep : {std::vector<int32_t>{3, 0}, std::vector<int32_t>{0, 0}}) {
    std::vector<double> want;
    reference(q, k, v, pk, pv, sep, B, S, P, nh, hd, want);
    std::vector<double> ext(size_t(B * L * nh * 3 * hd), 0.0); // [B, P+S, nh, 3, hd]
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < L; ++t)
        for (int64_t h = 0; h < nh; ++h)
          for (int64_t c = 0; c < hd; ++c) {
            double* row = &ext[size_t(((b * L + t) * nh + h) * 3 * hd)];
            const bool pre = t < P;
            const size_t src =
                pre ? size_t(((b * P + t) * nh + h) * hd + c) : size_t(((b * S + t - P) * nh + h) * hd + c);
            row[c] = pre ? 0.0 : q[src];
            row[hd + c] = pre ? pk[src] : k[src];
            row[2 * hd + c] = pre ? pv[src] : v[src];
          }
    std::vector<int32_t> wide(sep);
    for (auto& s : wide)
      s += int32_t(P);
    std::vector<double> dense(size_t(B * L * nh * hd), std::nan("")), flash(dense),
        probs(size_t(B * nh * L * L)), lse(size_t(B * nh * L));
    cpu::glm_attention_forward(ext.data(), wide.data(), dense.data(), probs.data(), B, L, nh, hd);
    cpu::flash_attention_forward<double>(cpu::interleaved_qkv<const double>(ext.data(), nh, hd), wide.data(),
                                         flash.data(), lse.data(), cpu::FlashShape{B, L, nh, nh, hd},
                                         cpu::FlashConfig{{4, 4}, {4, 4}});
    double err_d = 0, err_f = 0;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < S * nh * hd; ++i) {
        const double w = want[size_t(b * S * nh * hd + i)];
        err_d = std::max(err_d, std::abs(dense[size_t((b * L + P) * nh * hd + i)] - w));
        err_f = std::max(err_f, std::abs(flash[size_t((b * L + P) * nh * hd + i)] - w));
      }
    EXPECT_LT(err_d, 1e-12) << rng.tag();
    EXPECT_LT(err_f, 1e-12) << rng.tag();
  }
}

// The memory model's prefix term (model/memory_model.h) is what the prefix rows add to the
// activations a forward holds, for every kernel and recomputation policy.
TEST(Ptuning, MemoryModelCountsThePrefixRows) {
  for (const ModelConfig& cfg : {small_glm(), small_glm2()}) {
    LocalCommunicator tp("tp");
    SyntheticTask task(cfg.seq_len, cfg.vocab, 1);
    std::vector<MicroBatch> mbs{stack_samples({task.get(0), task.get(1)})};
    const AdapterSpec spec = ptuning(true, 0.1);
    for (AttentionImpl impl : {AttentionImpl::dense, AttentionImpl::flash})
      for (Recompute r : {Recompute::none, Recompute::selective, Recompute::full}) {
        if (impl == AttentionImpl::dense && cfg.packed_qkv())
          continue; // the dense kernel is multi-head only
        const ExecPolicy e = policy(impl, r);
        auto held = [&](bool prefix) {
          GlmModel<float> m(cfg, single_rank_plan(cfg), tp, e);
          m.init(1);
          if (prefix)
            m.attach_adapters(spec, 0, 1);
          m.set_batch(&mbs, 1.0);
          m.forward(0, 0, nullptr, nullptr);
          return m.activation_bytes_held();
        };
        const int64_t want = cfg.num_layers * prefix_activation_bytes(cfg, 1, 2, cfg.seq_len, spec, e);
        EXPECT_EQ(held(true) - held(false), want) << to_string(impl) << " " << to_string(r);
      }
  }
}
