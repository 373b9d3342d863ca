// Vocab-parallel embedding: exact lookup, zero rows outside the slice, slices summing to the
// full table, scatter-add backward (repeated tokens) and finite differences.
#include "core/cpu/embedding.h"
#include "gradcheck.h"

#include <gtest/gtest.h>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

TEST(Embedding, SlicesSumToTheFullLookup) {
  SeededRng rng;
  const int64_t V = 12, H = 5, N = 9;
  auto W = rng.uniform_vec<double>(V * H);
  std::vector<int32_t> tok(N);
  for (auto& t : tok)
    t = int32_t(rng.integer(0, V - 1));
  tok[0] = 0, tok[1] = int32_t(V - 1); // both ends of the table
  std::vector<double> full(N * H);
  test::poison(full.data(), N * H);
  embedding_forward<double>(tok.data(), W.data(), full.data(), N, H, 0, V);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t h = 0; h < H; ++h)
      ASSERT_EQ(full[n * H + h], W[tok[n] * H + h]) << rng.tag();
  for (int64_t slices : {2, 3, 4}) {
    const int64_t Vl = V / slices;
    std::vector<double> sum(N * H, 0.0), part(N * H);
    for (int64_t r = 0; r < slices; ++r) {
      test::poison(part.data(), N * H);
      embedding_forward<double>(tok.data(), W.data() + r * Vl * H, part.data(), N, H, r * Vl, Vl);
      for (int64_t n = 0; n < N; ++n) {
        const bool mine = tok[n] >= r * Vl && tok[n] < (r + 1) * Vl;
        for (int64_t h = 0; h < H; ++h) {
          if (!mine) {
            ASSERT_EQ(part[n * H + h], 0.0);
          }
          sum[n * H + h] += part[n * H + h];
        }
      }
    }
    EXPECT_EQ(sum, full) << slices << " slices " << rng.tag();
  }
}

TEST(Embedding, BackwardScatterAddsRepeatedTokensIntoTheOwnSlice) {
  const int64_t H = 2, N = 4, v0 = 10, Vl = 3; // this rank holds ids 10, 11, 12
  const int32_t tok[N] = {11, 5, 11, 12};      // 11 twice, 5 belongs to another rank
  const double dout[N * H] = {1, 2, 10, 20, 100, 200, 1000, 2000};
  double dW[Vl * H] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.5}; // accumulates
  embedding_backward<double>(tok, dout, dW, N, H, v0, Vl);
  const double want[Vl * H] = {0.5, 0.5, 101.5, 202.5, 1000.5, 2000.5};
  for (int i = 0; i < Vl * H; ++i)
    EXPECT_EQ(dW[i], want[i]) << i;
}

// The loss is linear in W, so central differences are exact up to rounding: 1e-6 relative.
TEST(Embedding, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t Vl = 6, H = 3, N = 10, v0 = 4;
  auto W = rng.uniform_vec<double>(Vl * H), R = rng.uniform_vec<double>(N * H);
  std::vector<int32_t> tok(N);
  for (auto& t : tok)
    t = int32_t(rng.integer(0, 12)); // some outside [4, 10)
  std::vector<double> out(N * H), dW(Vl * H, 0.0);
  auto loss = [&] {
    embedding_forward<double>(tok.data(), W.data(), out.data(), N, H, v0, Vl);
    return test::weighted_sum(out.data(), R.data(), N * H);
  };
  embedding_backward<double>(tok.data(), R.data(), dW.data(), N, H, v0, Vl);
  auto r = test::gradcheck(loss, W.data(), Vl * H, dW.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " " << rng.tag();
  std::vector<float> Wf(W.begin(), W.end()), of(N * H);
  embedding_forward<float>(tok.data(), Wf.data(), of.data(), N, H, v0, Vl);
  embedding_forward<double>(tok.data(), W.data(), out.data(), N, H, v0, Vl);
  for (int64_t i = 0; i < N * H; ++i)
    EXPECT_EQ(of[i], float(out[i])); // a copy: exact
}

} // namespace
} // namespace glm3d::cpu
