#pragma once
// The f64 oracle of the flash attention tests: a naive attention over strided q, k, v views
// with the whole S x S probability matrix, its backward, and per-element magnitudes of the
// terms each result sums (for the error bounds of f32 and bf16 runs).
#include "core/cpu/flash_attention.h"
#include "gradcheck.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

namespace glm3d::test {

using cpu::FlashShape;
using cpu::QkvView;

enum class Layout { interleaved, packed };

// One attention problem: shape, layout of the qkv buffer, mask, f64 inputs.
struct FlashProblem {
  FlashShape sh;
  Layout layout;
  bool causal = false;      // sep == nullptr
  std::vector<int32_t> sep; // [B] (unused when causal)
  std::vector<double> qkv;  // [B, S, nh + 2 ng, hd] in `layout`
  std::vector<double> dout; // [B, S, nh, hd]

  int64_t qkv_size() const { return sh.B * sh.S * (sh.nh + 2 * sh.ng) * sh.hd; }
  int64_t out_size() const { return sh.B * sh.S * sh.nh * sh.hd; }
  int64_t lse_size() const { return sh.B * sh.nh * sh.S; }
  const int32_t* sep_ptr() const { return causal ? nullptr : sep.data(); }
  template <class T> QkvView<T> view(T* buf) const {
    return layout == Layout::interleaved ? cpu::interleaved_qkv(buf, sh.nh, sh.hd)
                                         : cpu::packed_qkv(buf, sh.nh, sh.ng, sh.hd);
  }
  bool visible(int64_t b, int64_t i, int64_t j) const { return j <= i || (!causal && j < sep[b]); }
};

// x rounded to T and back (identity for double).
template <class T> double round_to(double x) {
  if constexpr (std::is_same_v<T, double>)
    return x;
  else
    return double(float(T(float(x))));
}

// Random inputs in [lo, hi], rounded to T so that runs in T and the f64 oracle see the same
// numbers; sep drawn in [0, S] unless given.
template <class T>
FlashProblem make_problem(SeededRng& rng, FlashShape sh, Layout layout, std::vector<int32_t> sep,
                          bool causal = false, double lo = -1.0, double hi = 1.0) {
  FlashProblem p{sh, layout, causal, std::move(sep), {}, {}};
  while (int64_t(p.sep.size()) < sh.B)
    p.sep.push_back(int32_t(rng.integer(0, sh.S)));
  p.qkv = rng.uniform_vec<double>(p.qkv_size(), lo, hi);
  p.dout = rng.uniform_vec<double>(p.out_size(), lo, hi);
  for (auto* v : {&p.qkv, &p.dout})
    for (auto& e : *v)
      e = round_to<T>(e);
  return p;
}

struct FlashReference {
  std::vector<double> out, lse; // [B, S, nh, hd], [B, nh, S]
  std::vector<double> out_mag;  // sum_j P_ij |v_jd|
  std::vector<double> dqkv;     // gradients, laid out as qkv
  std::vector<double> mag;      // per gradient element: sum over its terms of |term| (see .cpp)
  std::vector<double> dmag;     // per dq, dk element: the same with |dp - D| -> Dabs (see .cpp)
};

FlashReference flash_reference(const FlashProblem& p);

} // namespace glm3d::test

namespace glm3d::test {

// Outputs of one flash run in T, the inputs converted from the problem; every output buffer is
// poisoned (NaN) first.
template <class T> struct FlashRun {
  std::vector<T> out, dqkv;
  std::vector<cpu::flash_acc_t<T>> lse;
  int64_t fwd_tiles = 0, bwd_tiles = 0;
};

template <class T> std::vector<T> convert_to(const std::vector<double>& x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else {
    std::vector<T> y;
    y.reserve(x.size());
    for (double e : x)
      y.push_back(T(float(e)));
    return y;
  }
}

template <class T> void poison_any(std::vector<T>& x) {
  std::fill(x.begin(), x.end(), T(std::numeric_limits<float>::quiet_NaN()));
}

template <class T>
FlashRun<T> run_flash(const FlashProblem& p, const cpu::FlashConfig& cfg = {}, bool backward = true) {
  FlashRun<T> r;
  const std::vector<T> qkv = convert_to<T>(p.qkv), dout = convert_to<T>(p.dout);
  r.out.resize(p.out_size());
  r.lse.resize(p.lse_size());
  r.dqkv.resize(p.qkv_size());
  poison_any(r.out);
  poison_any(r.lse);
  poison_any(r.dqkv);
  const QkvView<const T> x = p.view(qkv.data());
  r.fwd_tiles = cpu::flash_attention_forward<T>(x, p.sep_ptr(), r.out.data(), r.lse.data(), p.sh, cfg);
  if (backward)
    r.bwd_tiles = cpu::flash_attention_backward<T>(dout.data(), x, r.out.data(), r.lse.data(), p.sep_ptr(),
                                                   p.view(r.dqkv.data()), p.sh, cfg);
  return r;
}

// The tiles a run must compute: per (sample, head) and query block [i0, i1), the key blocks
// starting below min(S, max(sep, i1)).
inline int64_t expected_tiles(const FlashProblem& p, cpu::FlashBlocks bl) {
  int64_t n = 0;
  for (int64_t b = 0; b < p.sh.B; ++b) {
    const int64_t sep = p.causal ? 0 : std::clamp<int64_t>(p.sep[b], 0, p.sh.S);
    for (int64_t i0 = 0; i0 < p.sh.S; i0 += bl.q) {
      const int64_t i1 = std::min(p.sh.S, i0 + bl.q);
      n += (std::min(p.sh.S, std::max(sep, i1)) + bl.kv - 1) / bl.kv;
    }
  }
  return n * p.sh.nh;
}

} // namespace glm3d::test
