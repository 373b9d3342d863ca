// The quantized linear: forward and input gradient against dequantize-then-f64 products with
// rigorous float32 error bounds; the error of quantized logits against the float32 layer, with a
// worst-case bound per element and a stated bound on the relative RMS error; and the workspace:
// its size function, the kernels running on exactly that much, and no allocation near the size
// of the dequantized matrix (global operator new is counted in this binary).
#include "core/check.h"
#include "core/quant/half.h"
#include "core/quant/qlinear.h"
#include "gradcheck.h"

#include <array>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <gtest/gtest.h>
#include <new>
#include <omp.h>
#include <vector>

// ------------------------------------------------------------------ allocation counting
namespace {
std::atomic<int64_t> g_live{0}, g_peak{0};
void* counted_alloc(std::size_t n) {
  auto* p = static_cast<std::max_align_t*>(std::malloc(n + sizeof(std::max_align_t)));
  if (!p)
    throw std::bad_alloc();
  *reinterpret_cast<std::size_t*>(p) = n;
  const int64_t live = g_live.fetch_add(int64_t(n)) + int64_t(n);
  for (int64_t peak = g_peak.load(); live > peak && !g_peak.compare_exchange_weak(peak, live);) {
  }
  return p + 1;
}
void counted_free(void* q) {
  if (!q)
    return;
  auto* p = static_cast<std::max_align_t*>(q) - 1;
  g_live.fetch_sub(int64_t(*reinterpret_cast<std::size_t*>(p)));
  std::free(p);
}
} // namespace
void* operator new(std::size_t n) {
  return counted_alloc(n);
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}

namespace glm3d::quant {
namespace {

using test::SeededRng;
constexpr double kU32 = 0x1p-24;

QuantizedMatrix make(const std::string& kind, const std::vector<float>& W, int64_t out, int64_t in) {
  if (kind == "int8")
    return quantize_rowwise(W.data(), out, in, 8);
  if (kind == "int4")
    return quantize_rowwise(W.data(), out, in, 4);
  return quantize_nf4(W.data(), out, in, kind == "nf4-dq");
}
const char* kKinds[] = {"int8", "int4", "nf4", "nf4-dq"};

std::vector<float> dequantized(const QuantizedMatrix& W) {
  std::vector<float> w(static_cast<size_t>(rows(W) * cols(W)));
  dequantize(W, 0, rows(W), 0, cols(W), w.data());
  return w;
}

struct Workspace {
  std::vector<float> buf;
  Workspace(const QuantizedMatrix& W, int64_t N) : buf(size_t(qlinear_workspace_floats(W, N))) {}
};

// C[M, P] = A[M, K] · B (B[k, j] at b[k * bk + j * bj]) in f64, and sum |a||b| per element.
void f64_product(int64_t M, int64_t P, int64_t K, const float* A, const float* b, int64_t bk, int64_t bj,
                 std::vector<double>& C, std::vector<double>& abs) {
  C.assign(size_t(M * P), 0.0);
  abs.assign(size_t(M * P), 0.0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < P; ++j)
      for (int64_t k = 0; k < K; ++k) {
        const double t = double(A[i * K + k]) * double(b[k * bk + j * bj]);
        C[size_t(i * P + j)] += t;
        abs[size_t(i * P + j)] += std::abs(t);
      }
}

// Shapes with a partial row slab (out 100 of 64-row slabs; out 300 of 256-row slabs at N 20), a
// partial column slab and NF4 blocks straddling rows (in 70), under 1 and 3 threads.
TEST(QLinear, ForwardAndInputGradMatchF64OfDequantized) {
  SeededRng rng;
  for (auto [N, out, in] : {std::array<int64_t, 3>{5, 100, 192}, {5, 37, 70}, {20, 300, 64}}) {
    const std::vector<float> W = rng.uniform_vec<float>(out * in);
    const std::vector<float> b = rng.uniform_vec<float>(out);
    const std::vector<float> x = rng.uniform_vec<float>(N * in);
    const std::vector<float> dy = rng.uniform_vec<float>(N * out);
    for (const std::string kind : kKinds)
      for (int threads : {1, 3}) {
        omp_set_num_threads(threads);
        const QuantizedMatrix Q = make(kind, W, out, in);
        const std::vector<float> w = dequantized(Q);
        Workspace ws(Q, N);
        std::vector<double> ref, abs;
        std::vector<float> y(static_cast<size_t>(N * out));
        test::poison(y.data(), int64_t(y.size()));
        qlinear_forward(Q, x.data(), b.data(), y.data(), N, ws.buf.data(), int64_t(ws.buf.size()));
        f64_product(N, out, in, x.data(), w.data(), 1, in, ref, abs); // x · w^T
        for (int64_t i = 0; i < N * out; ++i) {
          const double want = ref[size_t(i)] + b[size_t(i % out)];
          const double bound = double(in + 3) * kU32 * (abs[size_t(i)] + std::abs(b[size_t(i % out)]));
          ASSERT_LE(std::abs(y[size_t(i)] - want), bound)
              << kind << " " << out << "x" << in << " " << rng.tag();
        }
        for (bool acc : {false, true}) {
          std::vector<float> dx = rng.uniform_vec<float>(N * in);
          const std::vector<float> dx0 = dx;
          if (!acc)
            test::poison(dx.data(), int64_t(dx.size()));
          qlinear_backward_input(Q, dy.data(), dx.data(), N, acc, ws.buf.data(), int64_t(ws.buf.size()));
          f64_product(N, in, out, dy.data(), w.data(), in, 1, ref, abs); // dy · w
          for (int64_t i = 0; i < N * in; ++i) {
            const double want = ref[size_t(i)] + (acc ? dx0[size_t(i)] : 0.0);
            const double bound =
                double(out + 3) * kU32 * (abs[size_t(i)] + (acc ? std::abs(dx0[size_t(i)]) : 0));
            ASSERT_LE(std::abs(dx[size_t(i)] - want), bound) << kind << " acc " << acc << " " << rng.tag();
          }
        }
      }
  }
  omp_set_num_threads(1);
}

// Per weight, the quantization error has a closed-form bound: half a step (scale / 2) for ChatGLM
// int8/int4; for NF4 the largest half gap between adjacent codes times the block absmax, plus the
// double-quantization error of that absmax. Its effect on each logit is bounded by
// sum_k |x_k| e_k; the RMS error relative to the float32 logits is stated and measured.
TEST(QLinear, LogitsErrorAgainstFloat32Layer) {
  SeededRng rng;
  const int64_t N = 16, out = 512, in = 1024;
  std::vector<float> W(size_t(out * in)), x(size_t(N * in));
  rng.fill_normal(W.data(), out * in, 0.02);
  rng.fill_normal(x.data(), N * in, 1.0);
  double max_half_gap = 0; // half the widest gap between adjacent NF4 values: (-0.696 - -1) / 2
  for (size_t i = 0; i + 1 < 16; ++i)
    max_half_gap = std::max(max_half_gap, (double(nf4_code()[i + 1]) - nf4_code()[i]) / 2);
  const std::vector<std::pair<std::string, double>> stated = {
      {"int8", 0.01}, {"int4", 0.16}, {"nf4", 0.11}, {"nf4-dq", 0.11}};
  for (const auto& [kind, rel_bound] : stated) {
    const QuantizedMatrix Q = make(kind, W, out, in);
    const std::vector<float> w = dequantized(Q);
    std::vector<double> e(static_cast<size_t>(out * in)); // per-weight bound
    for (int64_t r = 0; r < out; ++r)
      for (int64_t c = 0; c < in; ++c) {
        const int64_t f = r * in + c;
        if (const auto* q = std::get_if<RowwiseInt>(&Q)) {
          e[size_t(f)] =
              (0.5 + 128 * kU32) * double(f16_bits_to_f32(q->scale[size_t(r)])); // + rounding of w / s
        } else {
          const Nf4& n = std::get<Nf4>(Q);
          float a = 0; // the true block absmax
          for (int64_t i = f / 64 * 64; i < f / 64 * 64 + 64; ++i)
            a = std::max(a, std::fabs(W[size_t(i)]));
          const double ahat = n.block_absmax(f / 64);
          e[size_t(f)] = std::abs(ahat - a) + a * max_half_gap * (1 + 1e-6);
        }
        ASSERT_LE(std::abs(double(w[size_t(f)]) - W[size_t(f)]), e[size_t(f)]) << kind << " " << rng.tag();
      }
    Workspace ws(Q, N);
    std::vector<float> y(static_cast<size_t>(N * out));
    qlinear_forward(Q, x.data(), nullptr, y.data(), N, ws.buf.data(), int64_t(ws.buf.size()));
    double err2 = 0, ref2 = 0, worst = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = 0; r < out; ++r) {
        double ref = 0, bound = 0, absw = 0;
        for (int64_t c = 0; c < in; ++c) {
          ref += double(x[size_t(n * in + c)]) * W[size_t(r * in + c)];
          bound += std::abs(x[size_t(n * in + c)]) * e[size_t(r * in + c)];
          absw += std::abs(double(x[size_t(n * in + c)]) * w[size_t(r * in + c)]);
        }
        const double d = y[size_t(n * out + r)] - ref;
        ASSERT_LE(std::abs(d), bound + double(in + 2) * kU32 * absw) << kind << " " << rng.tag();
        err2 += d * d, ref2 += ref * ref, worst = std::max(worst, std::abs(d) / bound);
      }
    const double rel = std::sqrt(err2 / ref2);
    std::printf("[ quant ] %s %lldx%lld: logits relative RMS error %.4f (stated bound %.2f), "
                "largest error / worst-case bound %.3f\n",
                kind.c_str(), (long long)out, (long long)in, rel, rel_bound, worst);
    EXPECT_LT(rel, rel_bound) << kind << " " << rng.tag();
  }
}

// The workspace is a few slabs, far below the dequantized matrix; the kernels run on exactly
// that much, reject less, and allocate nothing near the size of the matrix themselves.
TEST(QLinear, WorkspaceBoundAndNoWholeMatrix) {
  SeededRng rng;
  const int64_t out = 1024, in = 2048;
  const std::vector<float> W = rng.uniform_vec<float>(out * in);
  for (int64_t N : {4, 64}) { // decode: slabs of 64 rows; prefill: 256 rows
    const std::vector<float> x = rng.uniform_vec<float>(N * in), dy = rng.uniform_vec<float>(N * out);
    const int64_t slab = std::max(forward_slab_rows(N) * in, out * kColChunk);
    EXPECT_EQ(forward_slab_rows(N), N < 16 ? 64 : 256);
    EXPECT_LE(4 * slab, out * in); // a slab is at most a quarter of the matrix here
    for (int threads : {1, 2}) {
      omp_set_num_threads(threads);
      for (const std::string kind : kKinds) {
        const QuantizedMatrix Q = make(kind, W, out, in);
        const int64_t ws_floats = qlinear_workspace_floats(Q, N);
        EXPECT_EQ(ws_floats, threads * slab);
        EXPECT_EQ(qlinear_workspace_floats(Q, N, 5), 5 * slab);
        std::vector<float> ws(static_cast<size_t>(ws_floats)), y(size_t(N * out)), dx(size_t(N * in));
        EXPECT_THROW(qlinear_forward(Q, x.data(), nullptr, y.data(), N, ws.data(), ws_floats - 1), Error);
        EXPECT_THROW(qlinear_backward_input(Q, dy.data(), dx.data(), N, false, ws.data(), ws_floats - 1),
                     Error);
        // Warm-up creates the oneDNN primitives (cached for the process); then count.
        qlinear_forward(Q, x.data(), nullptr, y.data(), N, ws.data(), ws_floats);
        qlinear_backward_input(Q, dy.data(), dx.data(), N, false, ws.data(), ws_floats);
        const int64_t live0 = g_live.load();
        g_peak.store(live0);
        qlinear_forward(Q, x.data(), nullptr, y.data(), N, ws.data(), ws_floats);
        qlinear_backward_input(Q, dy.data(), dx.data(), N, false, ws.data(), ws_floats);
        const int64_t extra = g_peak.load() - live0;
        EXPECT_LT(extra, out * in * int64_t(sizeof(float)) / 16)
            << kind << ": allocated " << extra << " bytes";
        EXPECT_TRUE(test::all_finite(y.data(), N * out) && test::all_finite(dx.data(), N * in));
      }
    }
  }
  omp_set_num_threads(1);
}

// Weight bytes against float32: about 1/4 (int8) and 1/8 (int4, NF4) plus the scales and state.
TEST(QLinear, WeightBytes) {
  const int64_t out = 4096, in = 4096;
  std::vector<float> W(size_t(out * in), 0.5f);
  W[0] = 1.0f;
  const double f32 = 4.0 * out * in;
  EXPECT_EQ(bytes(make("int8", W, out, in)), out * in + 2 * out);
  EXPECT_EQ(bytes(make("int4", W, out, in)), out * in / 2 + 2 * out);
  const int64_t blocks = out * in / 64;
  EXPECT_EQ(bytes(make("nf4", W, out, in)), out * in / 2 + 4 * blocks + 64);
  EXPECT_EQ(bytes(make("nf4-dq", W, out, in)), out * in / 2 + blocks + 4 * (blocks / 256) + 1024 + 4 + 64);
  EXPECT_NEAR(double(bytes(make("nf4-dq", W, out, in))) / f32, 0.125 + 0.127 / 32, 0.0005); // 4.127 bits
}

} // namespace
} // namespace glm3d::quant
