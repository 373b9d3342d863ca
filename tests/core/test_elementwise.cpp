// Element-wise helpers: closed forms, aliasing, f32 instantiation.
#include "core/cpu/elementwise.h"
#include "gradcheck.h"

#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

TEST(Elementwise, ScaleAddAxpyScaleSumSquares) {
  const int64_t n = 1001; // not a multiple of any vector width
  std::vector<double> a(n), b(n), out(n);
  for (int64_t i = 0; i < n; ++i)
    a[i] = double(i), b[i] = 1.0 - double(i);
  test::poison(out.data(), n);
  scale_add<double>(a.data(), 2.5, b.data(), nullptr, out.data(), 1, n);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(out[i], 2.5 * i + 1.0 - i);
  scale_add<double>(a.data(), 2.0, b.data(), nullptr, a.data(), 1, n); // out aliases a: a = 2a + b = i + 1
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(a[i], double(i) + 1.0);
  axpy<double>(-1.0, a.data(), b.data(), n); // b = 1 - i - (i + 1) = -2i
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(b[i], -2.0 * i);
  scale<double>(b.data(), -0.5, n); // i
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(b[i], double(i));
  // sum_{i<n} i^2 = (n-1) n (2n-1) / 6, exact in double at this size
  EXPECT_EQ(sum_squares<double>(b.data(), n), double((n - 1) * n * (2 * n - 1) / 6));
  std::vector<float> f(n);
  for (int64_t i = 0; i < n; ++i)
    f[i] = float(i);
  EXPECT_EQ(sum_squares<float>(f.data(), n), double((n - 1) * n * (2 * n - 1) / 6)); // accumulated in double
  std::vector<float> g(n, 1.0f);
  scale_add<float>(f.data(), 0.5, g.data(), nullptr, g.data(), 1, n);
  axpy<float>(2.0, f.data(), g.data(), n);
  scale<float>(g.data(), 2.0, n);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(g[i], 2.0f * (0.5f * float(i) + 1.0f + 2.0f * float(i)));
}

// With a row bias over [N, C]: out[n, c] = a * alpha + b + bias[c], every element written.
TEST(Elementwise, ScaleAddWithRowBias) {
  const int64_t N = 7, C = 13;
  std::vector<double> a(N * C), b(N * C), bias(C), out(N * C);
  for (int64_t i = 0; i < N * C; ++i)
    a[i] = double(i), b[i] = 3.0 - double(i);
  for (int64_t c = 0; c < C; ++c)
    bias[c] = 100.0 * double(c);
  test::poison(out.data(), N * C);
  scale_add<double>(a.data(), 2.0, b.data(), bias.data(), out.data(), N, C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      ASSERT_EQ(out[n * C + c], double(n * C + c) + 3.0 + 100.0 * double(c)); // 2i + 3 - i + bias
}

// zero clears exactly [0, n): every thread's share, odd sizes, and nothing past the end.
TEST(Elementwise, ZeroClearsExactlyTheRange) {
  for (const int64_t n : {int64_t(1), int64_t(17), int64_t(1000003)}) {
    std::vector<float> x(size_t(n + 5), 7.0f);
    zero<float>(x.data(), n);
    for (int64_t i = 0; i < n; ++i)
      ASSERT_EQ(x[size_t(i)], 0.0f) << "n " << n << " at " << i;
    for (int64_t i = n; i < n + 5; ++i)
      ASSERT_EQ(x[size_t(i)], 7.0f) << "n " << n << " past the end at " << i;
  }
}

} // namespace
} // namespace glm3d::cpu
