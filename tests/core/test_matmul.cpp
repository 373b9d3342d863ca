// gemm / linear: f32 and bf16 against a naive f64 product with rigorous error bounds,
// f64 against the same, the oneDNN primitive cache, and linear backward by finite differences.
#include "core/check.h"
#include "core/cpu/matmul.h"
#include "core/cpu/onednn.h"
#include "gradcheck.h"

#include <cmath>
#include <gtest/gtest.h>
#include <vector>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

constexpr double kU32 = 0x1p-24; // unit roundoff of f32 (24-bit significand)

// Naive op(A)·op(B) in f64 and the matching sum of |a||b| per element (the scale of every
// rounding-error bound below).
struct Ref {
  std::vector<double> c, abs;
};
template <class T> Ref naive(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const T* A, const T* B) {
  Ref r{std::vector<double>(size_t(M * N)), std::vector<double>(size_t(M * N))};
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0, a = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double x = double(ta ? A[k * M + i] : A[i * K + k]);
        const double y = double(tb ? B[j * K + k] : B[k * N + j]);
        s += x * y;
        a += std::abs(x * y);
      }
      r.c[i * N + j] = s;
      r.abs[i * N + j] = a;
    }
  return r;
}

// A floating-point sum of K products in any order (FMA or not) satisfies
// |fl - exact| <= gamma_{K+1} sum |a||b|, gamma_n = n u / (1 - n u) (Higham, Thm 3.1); the +1
// covers adding beta*C. We use (K + 2) u as the bound: K + 1 operations plus slack for the
// 1 - n u denominator at these sizes.
TEST(Gemm, F32MatchesNaiveF64ForAllTransposesAndBeta) {
  SeededRng rng;
  const int64_t M = 37, N = 53, K = 129; // odd sizes: no vector-width multiple hides a tail bug
  auto A = rng.uniform_vec<float>(M * K), B = rng.uniform_vec<float>(K * N);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.0f, 1.0f}) {
        std::vector<float> C(size_t(M * N));
        std::vector<float> C0 = rng.uniform_vec<float>(M * N);
        if (beta == 0.0f)
          test::poison(C.data(), M * N); // overwrite must not read C
        else
          C = C0;
        gemm<float>(ta, tb, M, N, K, A.data(), B.data(), C.data(), beta);
        Ref r = naive(ta, tb, M, N, K, A.data(), B.data());
        for (int64_t i = 0; i < M * N; ++i) {
          const double exact = r.c[i] + (beta != 0.0f ? double(C0[i]) : 0.0);
          const double tol =
              double(K + 2) * kU32 * (r.abs[i] + (beta != 0.0f ? std::abs(double(C0[i])) : 0.0));
          ASSERT_NEAR(C[i], exact, tol)
              << "ta=" << ta << " tb=" << tb << " beta=" << beta << " i=" << i << " " << rng.tag();
        }
      }
}

// Precision::bf16 rounds each input to bf16 (relative error <= 2^-9 with the 8-bit significand),
// so each product carries relative error <= 2*2^-9 + 2^-18; the bf16 x bf16 product is exact in
// f32 (16 significant bits), and the f32 accumulation adds (K + 2) u as above.
TEST(Gemm, Bf16PrecisionMatchesNaiveWithinTheBf16Bound) {
  SeededRng rng;
  const int64_t M = 29, N = 41, K = 96;
  auto A = rng.uniform_vec<float>(M * K), B = rng.uniform_vec<float>(K * N);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      std::vector<float> C(size_t(M * N));
      test::poison(C.data(), M * N);
      gemm<float>(ta, tb, M, N, K, A.data(), B.data(), C.data(), 0.0f, Precision::bf16);
      Ref r = naive(ta, tb, M, N, K, A.data(), B.data());
      const double rel = 0x1p-8 + 0x1p-17 + double(K + 2) * kU32;
      for (int64_t i = 0; i < M * N; ++i)
        ASSERT_NEAR(C[i], r.c[i], rel * r.abs[i])
            << "ta=" << ta << " tb=" << tb << " i=" << i << " " << rng.tag();
    }
}

// 1 + 2^-12 is not representable in bf16 and rounds to 1: the bf16 product of a row of 16
// such values with ones is exactly 16, while f32 keeps 16 (1 + 2^-12). A gemm that ignored
// Precision::bf16 would fail here.
TEST(Gemm, Bf16PrecisionReallyRoundsInputs) {
  const int64_t K = 16;
  std::vector<float> A(K, 1.0f + 0x1p-12f), B(K, 1.0f);
  float c32 = NAN, c16 = NAN;
  gemm<float>(false, false, 1, 1, K, A.data(), B.data(), &c32, 0.0f, Precision::f32);
  gemm<float>(false, false, 1, 1, K, A.data(), B.data(), &c16, 0.0f, Precision::bf16);
  EXPECT_EQ(c32, 16.0f * (1.0f + 0x1p-12f));
  EXPECT_EQ(c16, 16.0f);
}

// Products of bf16 values are exact in f32, so with f32 accumulation the only error is the
// (K + 2) u summation bound; accumulating in bf16 would exceed it by orders of magnitude.
TEST(Gemm, Bf16InputsAccumulateInF32) {
  SeededRng rng;
  const int64_t M = 17, N = 23, K = 300;
  std::vector<bf16> A(size_t(M * K)), B(size_t(K * N));
  for (auto& a : A)
    a = bf16(float(rng.uniform()));
  for (auto& b : B)
    b = bf16(float(rng.uniform()));
  std::vector<float> C = rng.uniform_vec<float>(M * N), C0 = C;
  gemm_bf16(false, true, M, N, K, A.data(), B.data(), C.data(), 1.0f);
  // naive() reads B as [N,K] when tb: convert the bf16 values to double first
  std::vector<double> Ad(A.size()), Bd(B.size());
  for (size_t i = 0; i < A.size(); ++i)
    Ad[i] = double(float(A[i]));
  for (size_t i = 0; i < B.size(); ++i)
    Bd[i] = double(float(B[i]));
  Ref r = naive(false, true, M, N, K, Ad.data(), Bd.data());
  for (int64_t i = 0; i < M * N; ++i)
    ASSERT_NEAR(C[i], r.c[i] + C0[i], double(K + 2) * kU32 * (r.abs[i] + std::abs(C0[i]))) << rng.tag();
}

// The widened bf16 product (CPUs without a bf16 matmul), called directly so that it runs on
// every CPU: batched views with gaps between rows, every transpose, alpha and accumulate, and
// operand blocks from one row (block_elems below K) to everything in one block. K is never split,
// so every element stays within the (K + 2) u bound of its exact sum.
TEST(Gemm, WidenedBf16BlocksMatchNaiveF64) {
  SeededRng rng;
  const int64_t batch = 3, M = 9, N = 14, K = 37, pad = 5; // rows padded by `pad` elements
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (int64_t block : {int64_t(1), 3 * K, 40 * K, int64_t(1) << 20}) {
        // A[b] is [M,K] (stored [K,M] when ta), B[b] is [K,N] (stored [N,K] when tb)
        const int64_t ar = ta ? K : M, ac = ta ? M : K, br = tb ? N : K, bc = tb ? K : N;
        std::vector<bf16> A(size_t(batch * ar * (ac + pad))), B(size_t(batch * br * (bc + pad)));
        for (auto& a : A)
          a = bf16(float(rng.uniform()));
        for (auto& b : B)
          b = bf16(float(rng.uniform()));
        const int64_t as = ar * (ac + pad), bs = br * (bc + pad);
        detail::MatmulLayout l{batch,
                               M,
                               N,
                               K,
                               {as, ta ? 1 : ac + pad, ta ? ac + pad : 1},
                               {bs, tb ? 1 : bc + pad, tb ? bc + pad : 1},
                               {M * N, N, 1}};
        const float alpha = 0.75f;
        std::vector<float> C0 = rng.uniform_vec<float>(batch * M * N), C = C0;
        detail::widened_bf16_matmul(l, A.data(), B.data(), C.data(), alpha, /*accumulate=*/true, block);
        for (int64_t b = 0; b < batch; ++b) {
          std::vector<double> Ad(size_t(ar * ac)), Bd(size_t(br * bc));
          for (int64_t i = 0; i < ar; ++i)
            for (int64_t j = 0; j < ac; ++j)
              Ad[i * ac + j] = double(float(A[b * as + i * (ac + pad) + j]));
          for (int64_t i = 0; i < br; ++i)
            for (int64_t j = 0; j < bc; ++j)
              Bd[i * bc + j] = double(float(B[b * bs + i * (bc + pad) + j]));
          Ref r = naive(ta, tb, M, N, K, Ad.data(), Bd.data());
          for (int64_t i = 0; i < M * N; ++i) {
            const double c0 = C0[b * M * N + i];
            ASSERT_NEAR(C[b * M * N + i], alpha * r.c[i] + c0,
                        double(K + 3) * kU32 * (alpha * r.abs[i] + std::abs(c0)))
                << "ta " << ta << " tb " << tb << " block " << block << " batch " << b << " " << rng.tag();
          }
        }
      }
}

// f64 has u = 2^-53; the same (K + 2) u bound applies to the own OpenMP loop.
TEST(Gemm, F64MatchesNaive) {
  SeededRng rng;
  const int64_t M = 13, N = 150, K = 300; // K > the loop's 128 block
  auto A = rng.uniform_vec<double>(M * K), B = rng.uniform_vec<double>(K * N);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (float beta : {0.0f, 1.0f}) {
        std::vector<double> C0 = rng.uniform_vec<double>(M * N), C = C0;
        if (beta == 0.0f)
          test::poison(C.data(), M * N);
        gemm<double>(ta, tb, M, N, K, A.data(), B.data(), C.data(), beta);
        Ref r = naive(ta, tb, M, N, K, A.data(), B.data());
        for (int64_t i = 0; i < M * N; ++i) {
          const double c0 = beta != 0.0f ? C0[i] : 0.0;
          ASSERT_NEAR(C[i], r.c[i] + c0, double(K + 2) * 0x1p-53 * (r.abs[i] + std::abs(c0))) << rng.tag();
        }
      }
}

TEST(Gemm, EmptyInnerDimensionAndBadBeta) {
  float C[6];
  test::poison(C, 6);
  gemm<float>(false, false, 2, 3, 0, nullptr, nullptr, C, 0.0f);
  for (float c : C)
    EXPECT_EQ(c, 0.0f);
  float a = 1, b = 1;
  EXPECT_THROW(gemm<float>(false, false, 1, 1, 1, &a, &b, C, 0.5f), Error);
}

// Repeated calls at one shape reuse the cached primitive; a new transpose is a new primitive.
TEST(Gemm, PrimitiveCacheReusesShapes) {
  const int64_t M = 7, N = 11, K = 13; // a shape no other test uses
  std::vector<float> A(M * K, 1.0f), B(K * N, 1.0f), C(M * N);
  const size_t before = detail::onednn_matmul_cache_size();
  gemm<float>(true, true, M, N, K, A.data(), B.data(), C.data(), 1.0f);
  EXPECT_EQ(detail::onednn_matmul_cache_size(), before + 1);
  for (int i = 0; i < 3; ++i)
    gemm<float>(true, true, M, N, K, A.data(), B.data(), C.data(), 1.0f);
  EXPECT_EQ(detail::onednn_matmul_cache_size(), before + 1);
  gemm<float>(true, false, M, N, K, A.data(), B.data(), C.data(), 1.0f);
  EXPECT_EQ(detail::onednn_matmul_cache_size(), before + 2);
}

// Linear backward by central differences in f64 on L = sum(R * y). Bound 1e-6 relative
// (floor 1e-2): with h = 1e-6 the truncation error is O(h^2) ~ 1e-12 and the rounding error
// O(eps |L| / h) ~ 1e-9, so 1e-6 has three orders of margin yet catches any wrong term.
TEST(Linear, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 5, in = 7, out = 6;
  auto x = rng.uniform_vec<double>(N * in), W = rng.uniform_vec<double>(out * in),
       b = rng.uniform_vec<double>(out);
  auto R = rng.uniform_vec<double>(N * out);
  std::vector<double> y(size_t(N * out));
  auto loss = [&] {
    linear_forward<double>(x.data(), W.data(), b.data(), y.data(), N, in, out);
    return test::weighted_sum(y.data(), R.data(), N * out);
  };
  std::vector<double> dx(size_t(N * in));
  test::poison(dx.data(), N * in);
  auto dW0 = rng.uniform_vec<double>(out * in), db0 = rng.uniform_vec<double>(out); // accumulate onto these
  auto dW = dW0, db = db0;
  linear_backward<double>(R.data(), x.data(), W.data(), dx.data(), dW.data(), db.data(), N, in, out, false);
  for (size_t i = 0; i < dW.size(); ++i)
    dW[i] -= dW0[i];
  for (size_t i = 0; i < db.size(); ++i)
    db[i] -= db0[i];
  const double tol = 1e-6;
  auto rx = test::gradcheck(loss, x.data(), N * in, dx.data());
  EXPECT_LT(rx.max_rel, tol) << "dx " << rx.str() << " " << rng.tag();
  auto rw = test::gradcheck(loss, W.data(), out * in, dW.data());
  EXPECT_LT(rw.max_rel, tol) << "dW " << rw.str() << " " << rng.tag();
  auto rb = test::gradcheck(loss, b.data(), out, db.data());
  EXPECT_LT(rb.max_rel, tol) << "db " << rb.str() << " " << rng.tag();

  // accumulate_dx adds onto dx; a null dx / db is skipped.
  auto dx0 = rng.uniform_vec<double>(N * in), dxa = dx0;
  std::vector<double> dW2(size_t(out * in), 0.0);
  linear_backward<double>(R.data(), x.data(), W.data(), dxa.data(), dW2.data(), nullptr, N, in, out, true);
  for (int64_t i = 0; i < N * in; ++i)
    EXPECT_NEAR(dxa[i], dx0[i] + dx[i], 1e-13) << rng.tag();
  for (int64_t i = 0; i < out * in; ++i)
    EXPECT_NEAR(dW2[i], dW[i], 1e-13) << rng.tag();
  linear_backward<double>(R.data(), x.data(), W.data(), nullptr, dW2.data(), nullptr, N, in, out, false);
  for (int64_t i = 0; i < out * in; ++i)
    EXPECT_NEAR(dW2[i], 2 * dW[i], 1e-13) << rng.tag();
}

// f32 linear (forward and all three gradients) against the f64 instantiation, each element
// within the (K + 2) u f32 summation bound of its own reduction length K.
TEST(Linear, F32MatchesF64AndBf16WithinItsBound) {
  SeededRng rng;
  const int64_t N = 19, in = 33, out = 27;
  auto xd = rng.uniform_vec<double>(N * in), Wd = rng.uniform_vec<double>(out * in),
       bd = rng.uniform_vec<double>(out);
  auto dyd = rng.uniform_vec<double>(N * out);
  auto f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  auto xf = f(xd), Wf = f(Wd), bf = f(bd), dyf = f(dyd);
  for (auto& v : {&xd, &Wd, &bd, &dyd}) // round the f64 copies to the same f32 values
    for (auto& e : *v)
      e = double(float(e));
  std::vector<double> yd(N * out), dxd(N * in), dWd(out * in, 0.0), dbd(out, 0.0);
  linear_forward<double>(xd.data(), Wd.data(), bd.data(), yd.data(), N, in, out);
  linear_backward<double>(dyd.data(), xd.data(), Wd.data(), dxd.data(), dWd.data(), dbd.data(), N, in, out,
                          false);
  for (Precision prec : {Precision::f32, Precision::bf16}) {
    std::vector<float> yf(N * out), dxf(N * in), dWf(out * in, 0.0f), dbf(out, 0.0f);
    test::poison(yf.data(), N * out);
    test::poison(dxf.data(), N * in);
    linear_forward<float>(xf.data(), Wf.data(), bf.data(), yf.data(), N, in, out, prec);
    linear_backward<float>(dyf.data(), xf.data(), Wf.data(), dxf.data(), dWf.data(), dbf.data(), N, in, out,
                           false, prec);
    // inputs are in [-1, 1], so sum |a||b| <= K; bf16 adds 2^-8 relative per product.
    const double r = prec == Precision::bf16 ? 0x1p-8 + 0x1p-17 : 0.0;
    for (int64_t i = 0; i < N * out; ++i)
      ASSERT_NEAR(yf[i], yd[i], (r + (in + 3) * kU32) * (in + 1)) << rng.tag();
    for (int64_t i = 0; i < N * in; ++i)
      ASSERT_NEAR(dxf[i], dxd[i], (r + (out + 2) * kU32) * out) << rng.tag();
    for (int64_t i = 0; i < out * in; ++i)
      ASSERT_NEAR(dWf[i], dWd[i], (r + (N + 2) * kU32) * N) << rng.tag();
    for (int64_t i = 0; i < out; ++i)
      ASSERT_NEAR(dbf[i], dbd[i], (N + 2) * kU32 * N) << rng.tag();
  }
}

} // namespace
} // namespace glm3d::cpu
