#pragma once
// Header-only helpers for gradient checks by central finite differences (f64), and
// random inputs drawn fresh each run. Every failure while a SeededRng is alive prints its
// seed (a gtest trace the object holds), and GLM3D_TEST_SEED=N replays that draw.
//
// Error bound used across the suite: central differences with step h in f64 have
// truncation error O(h^2 |f'''|) and rounding error O(eps |f| / h); with h = 1e-6,
// |f| and |f'''| of order 1..10, both are below ~1e-9 absolutely. Relative errors are
// measured against max(|analytic|, |numeric|, floor) so tiny gradients are compared
// absolutely at the floor's scale.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <gtest/gtest.h>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace glm3d::test {

// A Mersenne twister seeded from std::random_device (or from GLM3D_TEST_SEED when set). While
// it lives, every gtest failure message carries "SeededRng seed=N" (a ScopedTrace member), so
// no random test can fail without naming the seed that reproduces it.
class SeededRng {
public:
  SeededRng() : SeededRng(fresh_seed()) {}
  explicit SeededRng(uint64_t seed)
      : seed_(seed), gen_(seed),
        trace_(__FILE__, __LINE__,
               "SeededRng " + tag() + " (a fresh draw replays with GLM3D_TEST_SEED=" + std::to_string(seed) +
                   ")") {}
  uint64_t seed() const { return seed_; }
  std::string tag() const { return "seed=" + std::to_string(seed_); }
  std::mt19937_64& gen() { return gen_; }
  double uniform(double lo = -1.0, double hi = 1.0) {
    return std::uniform_real_distribution<double>(lo, hi)(gen_);
  }
  double normal(double mean = 0.0, double stddev = 1.0) {
    return std::normal_distribution<double>(mean, stddev)(gen_);
  }
  int64_t integer(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  } // [lo, hi]

  template <class T> void fill_uniform(T* x, int64_t n, double lo = -1.0, double hi = 1.0) {
    for (int64_t i = 0; i < n; ++i)
      x[i] = T(uniform(lo, hi));
  }
  template <class T> void fill_normal(T* x, int64_t n, double stddev = 1.0) {
    for (int64_t i = 0; i < n; ++i)
      x[i] = T(normal(0.0, stddev));
  }
  template <class T> std::vector<T> uniform_vec(int64_t n, double lo = -1.0, double hi = 1.0) {
    std::vector<T> v(static_cast<size_t>(n));
    fill_uniform(v.data(), n, lo, hi);
    return v;
  }

private:
  static uint64_t fresh_seed() {
    if (const char* fixed = std::getenv("GLM3D_TEST_SEED"))
      return std::strtoull(fixed, nullptr, 10);
    return (uint64_t(std::random_device{}()) << 32) | std::random_device{}();
  }
  uint64_t seed_;
  std::mt19937_64 gen_;
  ::testing::ScopedTrace trace_;
};

// Poison: outputs are filled with NaN before a kernel runs so any element it fails to
// write shows up as NaN.
template <class T> void poison(T* x, int64_t n) {
  std::fill(x, x + n, std::numeric_limits<T>::quiet_NaN());
}
template <class T> bool all_finite(const T* x, int64_t n) {
  return std::all_of(x, x + n, [](T v) { return std::isfinite(double(v)); });
}

struct GradCheckResult {
  double max_rel = 0.0;  // max over elements of |a - n| / max(|a|, |n|, floor)
  int64_t worst = -1;    // index of the worst element
  double analytic = 0.0; // analytic gradient at `worst`
  double numeric = 0.0;  // numeric gradient at `worst`
  std::string str() const {
    std::ostringstream os;
    os << "max rel err " << max_rel << " at [" << worst << "]: analytic " << analytic << " numeric "
       << numeric;
    return os.str();
  }
};

// Compares analytic_grad[0..n) with central differences of loss() in each x[i]
// ((L(x+h) - L(x-h)) / 2h); x is restored after each probe.
inline GradCheckResult gradcheck(const std::function<double()>& loss, double* x, int64_t n,
                                 const double* analytic_grad, double h = 1e-6, double floor = 1e-2) {
  GradCheckResult r;
  for (int64_t i = 0; i < n; ++i) {
    const double saved = x[i];
    x[i] = saved + h;
    const double lp = loss();
    x[i] = saved - h;
    const double lm = loss();
    x[i] = saved;
    const double num = (lp - lm) / (2.0 * h);
    const double a = analytic_grad[i];
    const double err = std::abs(a - num) / std::max({std::abs(a), std::abs(num), floor});
    if (!(err <= r.max_rel)) { // also catches NaN
      r = {std::isnan(err) ? std::numeric_limits<double>::infinity() : err, i, a, num};
    }
  }
  return r;
}

inline double max_rel_error(const std::function<double()>& loss, double* x, int64_t n,
                            const double* analytic_grad, double h = 1e-6, double floor = 1e-2) {
  return gradcheck(loss, x, n, analytic_grad, h, floor).max_rel;
}

// sum_i w[i] * y[i]: the scalar loss whose gradient with respect to y is w.
template <class T> double weighted_sum(const T* y, const double* w, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; ++i)
    s += double(y[i]) * w[i];
  return s;
}

} // namespace glm3d::test
