// QLoRA (model/qlora_base.h): the linear over an NF4 base (double quantization) plus LoRA, in
// f32 (the trainer's path: slabs dequantized into oneDNN's matmul, bf16 inputs widened) against
// the f64 product with the dequantized weight; the whole model in f64 with an NF4 base equals
// the float model holding the dequantized weights, and its adapters' gradients match central
// finite differences through the NF4 base.
#include "core/quant/nf4.h"
#include "data/synthetic_task.h"
#include "gradcheck.h"
#include "model/glm_model.h"
#include "model/lora.h"
#include "model/qlora_base.h"
#include "model_steps.h"

#include <gtest/gtest.h>

using namespace glm3d;

namespace {

std::vector<float> dequantized(const quant::QuantizedMatrix& q) {
  std::vector<float> out(size_t(quant::rows(q) * quant::cols(q)));
  quant::dequantize(q, 0, quant::rows(q), 0, quant::cols(q), out.data());
  return out;
}

std::vector<float> normal(test::SeededRng& rng, int64_t n, double scale) {
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v)
    x = float(scale * rng.normal());
  return v;
}

double max_rel(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::abs(double(got[i]) - want[i]));
    norm = std::max(norm, std::abs(want[i]));
  }
  return diff / norm;
}

} // namespace

// y = x deq(W)^T + b + s (x A^T) B^T and dx = dy deq(W) + s (dy B) A, f32 against f64; the f64
// path equals the f64 reference to rounding. 200 x 160 spans several slabs and two
// double-quantization groups (500 blocks).
TEST(Qlora, LinearMatchesF64OfDequantizedWeightPlusLora) {
  test::SeededRng rng;
  const int64_t out = 200, in = 160, N = 7, r = 4;
  const double s = 2.5;
  const std::vector<float> w = normal(rng, out * in, 0.1), b = normal(rng, out, 0.1),
                           x = normal(rng, N * in, 1), A = normal(rng, r * in, 0.2),
                           B = normal(rng, out * r, 0.2), dy = normal(rng, N * out, 1);
  const quant::QuantizedMatrix W = quant::quantize_nf4(w.data(), out, in, true);
  const std::vector<float> d = dequantized(W);
  std::vector<double> y_ref(size_t(N * out)), dx_ref(size_t(N * in));
  for (int64_t n = 0; n < N; ++n) {
    std::vector<double> z(static_cast<size_t>(r)), dz(static_cast<size_t>(r));
    for (int64_t k = 0; k < r; ++k)
      for (int64_t c = 0; c < in; ++c)
        z[size_t(k)] += double(x[size_t(n * in + c)]) * A[size_t(k * in + c)];
    for (int64_t o = 0; o < out; ++o) {
      double v = b[size_t(o)];
      for (int64_t c = 0; c < in; ++c)
        v += double(x[size_t(n * in + c)]) * d[size_t(o * in + c)];
      for (int64_t k = 0; k < r; ++k) {
        v += s * z[size_t(k)] * B[size_t(o * r + k)];
        dz[size_t(k)] += s * double(dy[size_t(n * out + o)]) * B[size_t(o * r + k)];
      }
      y_ref[size_t(n * out + o)] = v;
    }
    for (int64_t c = 0; c < in; ++c) {
      double v = 0;
      for (int64_t o = 0; o < out; ++o)
        v += double(dy[size_t(n * out + o)]) * d[size_t(o * in + c)];
      for (int64_t k = 0; k < r; ++k)
        v += dz[size_t(k)] * A[size_t(k * in + c)];
      dx_ref[size_t(n * in + c)] = v;
    }
  }
  // f32: the quantized linear, then LoRA's terms (model/lora.h) as the layer adds them.
  const LoraShape sh{N, in, out, r, s};
  std::vector<float> y(size_t(N * out), NAN), dx(size_t(N * in), NAN), z(size_t(N * r)), dz(size_t(N * r));
  std::vector<float> dA(size_t(r * in)), dB(size_t(out * r));
  qlora_linear_forward(MatIn<float>{x.data(), nullptr}, W, b.data(), y.data(), N);
  lora_down(x.data(), A.data(), z.data(), sh);
  lora_up(z.data(), B.data(), y.data(), sh);
  qlora_linear_backward_input(dy.data(), W, dx.data(), N);
  lora_backward(dy.data(), x.data(), z.data(), B.data(), dz.data(), dA.data(), dB.data(), sh);
  lora_input_grad(dz.data(), A.data(), dx.data(), sh, LoraDropout{});
  EXPECT_LT(max_rel(y, y_ref), 1e-5) << rng.tag();
  EXPECT_LT(max_rel(dx, dx_ref), 1e-5) << rng.tag();
  // Against the float weight itself the error is NF4's, far above f32 rounding: the test sees W.
  std::vector<float> y_float(size_t(N * out), NAN);
  std::vector<double> y_w(size_t(N * out));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double v = b[size_t(o)];
      for (int64_t c = 0; c < in; ++c)
        v += double(x[size_t(n * in + c)]) * w[size_t(o * in + c)];
      y_w[size_t(n * out + o)] = v;
    }
  qlora_linear_forward(MatIn<float>{x.data(), nullptr}, W, b.data(), y_float.data(), N);
  EXPECT_GT(max_rel(y_float, y_w), 1e-3) << "NF4 rounds the weight";
  // bf16 activations: widened, then the same f32 matmul.
  std::vector<bf16> xb(x.size());
  std::vector<float> xr(x.size()), yb(size_t(N * out), NAN), yr(size_t(N * out), NAN);
  for (size_t i = 0; i < x.size(); ++i)
    xr[i] = float(xb[i] = bf16(x[i]));
  qlora_linear_forward(MatIn<float>{nullptr, xb.data()}, W, b.data(), yb.data(), N);
  qlora_linear_forward(MatIn<float>{xr.data(), nullptr}, W, b.data(), yr.data(), N);
  EXPECT_EQ(yb, yr);
  // f64: the same slabs, summed in f64.
  std::vector<double> x64(x.begin(), x.end()), b64(b.begin(), b.end()), dy64(dy.begin(), dy.end());
  std::vector<double> y64(size_t(N * out), NAN), dx64(size_t(N * in), NAN);
  qlora_linear_forward(MatIn<double>{x64.data(), nullptr}, W, b64.data(), y64.data(), N);
  qlora_linear_backward_input(dy64.data(), W, dx64.data(), N);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < out; ++o) {
      double v = b[size_t(o)];
      for (int64_t c = 0; c < in; ++c)
        v += double(x[size_t(n * in + c)]) * d[size_t(o * in + c)];
      EXPECT_NEAR(y64[size_t(n * out + o)], v, 1e-12);
    }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < in; ++c) {
      double v = 0;
      for (int64_t o = 0; o < out; ++o)
        v += double(dy[size_t(n * out + o)]) * d[size_t(o * in + c)];
      EXPECT_NEAR(dx64[size_t(n * in + c)], v, 1e-12);
    }
}

namespace {

ExecPolicy flash(bool nf4) {
  ExecPolicy e;
  e.attention = AttentionImpl::flash;
  e.nf4_base = nf4;
  return e;
}

// An f64 model with an NF4 base (quantized from random weights) and QLoRA adapters with a
// trained-looking B, and the float model holding the dequantized weights and the same adapters.
struct QloraFixture {
  ModelConfig cfg = test::small_glm();
  LocalCommunicator tp{"tp"};
  GlmModel<double> q{cfg, single_rank_plan(cfg), tp, flash(true)};
  GlmModel<double> f{cfg, single_rank_plan(cfg), tp, flash(false)};
  std::vector<MicroBatch> mbs;
  test::SeededRng rng;

  QloraFixture() {
    f.init(5);
    for (int64_t i = 0; i < f.num_params(); ++i)
      f.params()[i] += 0.05 * rng.normal();
    for (const ParamInfo& p : f.table().params()) {
      double* fw = f.params() + p.offset;
      if (layer_matrix_index(p.name) < 0) {
        std::copy(fw, fw + p.numel(), q.params() + q.table().get(p.name).offset);
        continue;
      }
      const std::vector<float> w(fw, fw + p.numel());
      quant::QuantizedMatrix m = quant::quantize_nf4(w.data(), p.rows, p.cols, true);
      const std::vector<float> d = dequantized(m);
      std::copy(d.begin(), d.end(), fw);
      q.nf4_base().set(p.name, std::move(m));
    }
    AdapterSpec a;
    a.method = FinetuneMethod::qlora;
    a.lora_r = 3;
    a.lora_alpha = 6;
    a.lora_dropout = 0.25;
    a.lora_targets = {"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"};
    q.attach_adapters(a, 0, 11);
    a.method = FinetuneMethod::lora;
    f.attach_adapters(a, 0, 11);
    const int64_t n = q.adapter_table().total();
    for (int64_t i = 0; i < n; ++i)
      f.adapter_params()[i] = q.adapter_params()[i] += 0.2 * rng.normal();
    SyntheticTask task(cfg.seq_len, cfg.vocab, rng.seed());
    mbs.push_back(stack_samples({task.get(7), task.get(8)}));
    mbs[0].sample_ids = {7, 8};
    q.set_step(3);
    f.set_step(3);
  }
  double loss(GlmModel<double>& m) { return test::loss_of(m, mbs); }
  void gradient(GlmModel<double>& m) { test::gradient_of(m, mbs); }
};

} // namespace

// The model's float buffer lacks the four matrices (they are NF4 only); the loss and every
// adapter gradient equal the float model's on the dequantized weights.
TEST(Qlora, ModelIsLoraOnTheDequantizedBase) {
  QloraFixture t;
  EXPECT_EQ(t.q.table().params().size() + 4 * size_t(t.cfg.num_layers), t.f.table().params().size());
  EXPECT_EQ(t.q.nf4_base().size(), 4 * size_t(t.cfg.num_layers));
  EXPECT_NEAR(t.loss(t.q), t.loss(t.f), 1e-12 * t.loss(t.f)) << t.rng.tag();
  t.gradient(t.q);
  t.gradient(t.f);
  EXPECT_EQ(t.q.grads(), nullptr) << "a frozen base has no gradients";
  const int64_t n = t.q.adapter_table().total();
  double worst = 0, norm = 0;
  for (int64_t i = 0; i < n; ++i) {
    worst = std::max(worst, std::abs(t.q.adapter_grads()[i] - t.f.adapter_grads()[i]));
    norm = std::max(norm, std::abs(t.f.adapter_grads()[i]));
  }
  EXPECT_LT(worst, 1e-12 * norm) << t.rng.tag();
}

// Central differences of the loss through the NF4 base, three probes per adapter tensor.
TEST(Qlora, AdapterGradientThroughNf4Base) {
  QloraFixture t;
  t.gradient(t.q);
  const int64_t n = t.q.adapter_table().total();
  const std::vector<double> g(t.q.adapter_grads(), t.q.adapter_grads() + n);
  for (const ParamInfo& p : t.q.adapter_table().params())
    for (int probe = 0; probe < 3; ++probe) {
      const int64_t at = p.offset + t.rng.integer(0, p.numel() - 1);
      const auto r = test::gradcheck([&] { return t.loss(t.q); }, t.q.adapter_params() + at, 1, g.data() + at,
                                     1e-5, 1e-4);
      EXPECT_LT(r.max_rel, 1e-5) << p.name << " " << r.str() << " " << t.rng.tag();
    }
}
