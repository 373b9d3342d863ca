// Flash attention in f32 and bf16 against the f64 oracle, with error bounds derived from the
// rounding of each step (not fitted to observed errors).
#include "core/cpu/flash_attention.h"
#include "flash_reference.h"

#include <gtest/gtest.h>

namespace glm3d::test {
namespace {

using cpu::FlashConfig;

// f32 with inputs in [-1, 1], u = 2^-24 (the reasoning of test_attention.cpp, plus the online
// rescaling). A score q.k/sqrt(hd) is within hd^1.5 u; exp turns that into as much relative
// error on each weight, twice (the max cancels); the running sum adds S u; each key tile
// rescales the row's sum and output once (exp of the max difference and two products, 4 u per
// tile). So each probability is within e = (2 hd^1.5 + 2 S + 4 tiles + 10) u relative, each
// output (a convex combination of |v| <= 1) within e absolute, lse within e (1 + |lse|).
// Gradients chain two such products with cancellation in ds = p (dp - D), so they are compared
// against 4 e times the magnitude of the terms they sum (flash_reference.cpp), at least 1.
double f32_bound(int64_t S, int64_t hd, int64_t kv_block) {
  const double tiles = double((S + kv_block - 1) / kv_block);
  return (2.0 * std::pow(double(hd), 1.5) + 2.0 * double(S) + 4.0 * tiles + 10.0) * 0x1p-24;
}

// bf16 (8 significant bits: unit roundoff 2^-8; inputs exact in bf16, products and sums in
// f32). Forward: the probabilities are rounded to bf16 before p v (2^-8 sum_j P_ij |v_jd| =
// 2^-8 out_mag) and the output is rounded (2^-8 |out| <= 2^-8 out_mag): out within
// 2^-7 out_mag of the oracle, plus the f32 bound e. Backward: out's error enters
// D_i = do_i.out_i as 2^-7 Dabs_i; ds is rounded (2^-8 p (|dp| + |D|)) before ds k and ds^T q,
// and each gradient is rounded (2^-8 of its terms' magnitude): dq, dk within
// 2^-7 (dmag + mag); dv (p rounded for p^T do, then the result) within 2^-7 mag; plus the
// f32 bound 4 e max(1, mag). Statistics stay f32: lse within e (1 + |lse|).
template <class T>
void check_against_oracle(const FlashProblem& p, const FlashConfig& cfg, const std::string& tag) {
  constexpr bool is_bf16 = std::is_same_v<T, bf16>;
  const double e = f32_bound(p.sh.S, p.sh.hd, std::min(cfg.fwd.kv, cfg.bwd.kv));
  const double ub = is_bf16 ? 0x1p-7 : 0.0;
  const FlashReference ref = flash_reference(p);
  const FlashRun<T> run = run_flash<T>(p, cfg);
  double worst_out = 0, worst_grad = 0; // error / bound, reported on failure
  for (int64_t i = 0; i < p.out_size(); ++i) {
    const double err = std::abs(double(float(run.out[i])) - ref.out[i]), tol = e + ub * ref.out_mag[i];
    worst_out = std::max(worst_out, err / tol);
    ASSERT_LE(err, tol) << "out[" << i << "] " << tag;
  }
  for (int64_t i = 0; i < p.lse_size(); ++i)
    ASSERT_NEAR(run.lse[i], ref.lse[i], e * (1 + std::abs(ref.lse[i]))) << "lse[" << i << "] " << tag;
  for (int64_t i = 0; i < p.qkv_size(); ++i) {
    // dv elements have dmag 0 (out's error does not reach them)
    const double err = std::abs(double(float(run.dqkv[i])) - ref.dqkv[i]);
    const double tol = 4 * e * std::max(1.0, ref.mag[i]) + ub * (ref.dmag[i] + ref.mag[i]);
    worst_grad = std::max(worst_grad, err / tol);
    ASSERT_LE(err, tol) << "dqkv[" << i << "] ref " << ref.dqkv[i] << " " << tag;
  }
  std::cout << tag << ": worst error / bound: out " << worst_out << ", gradients " << worst_grad << "\n";
}

template <class T>
void check_shapes(FlashConfig::Bf16Products products = FlashConfig::Bf16Products::automatic) {
  SeededRng rng;
  const int64_t S = 67;
  const std::vector<int32_t> seps = {int32_t(rng.integer(1, S - 1)), 0, int32_t(S)};
  FlashConfig small, defaults;
  small.fwd = {16, 64};
  small.bwd = {16, 32};
  small.bf16_products = defaults.bf16_products = products;
  for (int64_t ng : {1, 2, 4}) {
    const std::string tag = rng.tag() + " ng=" + std::to_string(ng);
    check_against_oracle<T>(make_problem<T>(rng, {3, S, 4, ng, 16}, Layout::packed, seps), small,
                            "packed " + tag);
    check_against_oracle<T>(make_problem<T>(rng, {2, S, 4, ng, 16}, Layout::packed, {}, true), small,
                            "causal " + tag);
  }
  check_against_oracle<T>(make_problem<T>(rng, {3, S, 2, 2, 32}, Layout::interleaved, seps), small,
                          "interleaved " + rng.tag());
  // the default tiles, several key tiles per row, hd of the reference peer model
  check_against_oracle<T>(make_problem<T>(rng, {1, 600, 2, 1, 64}, Layout::packed, {}), defaults,
                          "default tiles " + rng.tag());
}

TEST(FlashAttention, F32MatchesF64WithinDerivedBound) {
  check_shapes<float>();
}

// Both ways of multiplying bf16 tiles: in bf16 (probabilities rounded) and widened to f32 (the
// bound holds a fortiori: one rounding fewer).
TEST(FlashAttention, Bf16MatchesF64WithinDerivedBound) {
  check_shapes<bf16>(FlashConfig::Bf16Products::bf16);
  check_shapes<bf16>(FlashConfig::Bf16Products::f32);
}

} // namespace
} // namespace glm3d::test
