#include "core/cpu/matmul.h"

#include "core/check.h"
#include "core/cpu/convert.h"
#include "core/cpu/onednn.h"
#include "core/cpu/onednn_compat.h"
#include "core/cpu/simd_clones.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <dnnl.hpp>
#include <mutex>
#include <set>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

namespace glm3d::cpu {
namespace {

// ------------------------------------------------------------------ oneDNN matmul cache
// A primitive is created once per (layout, scale, accumulate, input dtype) and kept;
// transposes and views are expressed as memory-descriptor strides, so no operand is copied.
struct MatmulKey {
  detail::MatmulLayout layout;
  float alpha;
  bool accumulate;
  dnnl::memory::data_type in_type;
  bool operator==(const MatmulKey& o) const {
    const auto& x = layout;
    const auto& y = o.layout;
    return x.batch == y.batch && x.M == y.M && x.N == y.N && x.K == y.K && std::equal(x.a, x.a + 3, y.a) &&
           std::equal(x.b, x.b + 3, y.b) && std::equal(x.c, x.c + 3, y.c) && alpha == o.alpha &&
           accumulate == o.accumulate && in_type == o.in_type;
  }
};

struct MatmulKeyHash {
  size_t operator()(const MatmulKey& k) const {
    size_t h = 0;
    auto mix = [&h](int64_t v) {
      h ^= std::hash<int64_t>()(v) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    };
    const auto& l = k.layout;
    for (int64_t v : {l.batch, l.M, l.N, l.K})
      mix(v);
    for (int i = 0; i < 3; ++i)
      mix(l.a[i]), mix(l.b[i]), mix(l.c[i]);
    uint32_t alpha_bits;
    std::memcpy(&alpha_bits, &k.alpha, 4);
    mix(alpha_bits);
    mix(int64_t(k.accumulate) | int64_t(k.in_type) << 1);
    return h;
  }
};

struct MatmulEntry {
  dnnl::matmul prim;
  dnnl::memory::desc a_md, b_md, c_md, scratch_md;
  std::string impl; // oneDNN's implementation name (impl_info_str), for benchmarks
  // A bf16 matmul on a CPU where oneDNN has none (AVX2: bf16 needs AVX-512): the primitive is
  // f32 and the bf16 operands are widened first. Exact products either way (a bf16 x bf16
  // product fits in f32); only the summation order is oneDNN's f32 one.
  bool widen_bf16 = false;
};

// The engine and the cache live in one function-local static (thread-safe initialisation);
// the cache is guarded by a mutex and never shrinks, so references to entries stay valid.
// Streams and scratchpads are per calling thread.
struct OneDnn {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  std::mutex mutex;
  std::unordered_map<MatmulKey, MatmulEntry, MatmulKeyHash> cache;
};

OneDnn& onednn() {
  static OneDnn instance;
  return instance;
}

// 2D descriptors when batch == 1 (the common linear-layer case), 3D [batch, rows, cols] otherwise.
dnnl::memory::desc strided_md(int64_t batch, int64_t rows, int64_t cols, const int64_t* st,
                              dnnl::memory::data_type t) {
  using dims = dnnl::memory::dims;
  if (batch == 1)
    return dnnl::memory::desc(dims{rows, cols}, t, dims{st[1], st[2]});
  return dnnl::memory::desc(dims{batch, rows, cols}, t, dims{st[0], st[1], st[2]});
}

const MatmulEntry& matmul_entry(const MatmulKey& k) {
  OneDnn& o = onednn();
  std::lock_guard<std::mutex> lock(o.mutex);
  auto it = o.cache.find(k);
  if (it != o.cache.end())
    return it->second;
  const auto& l = k.layout;
  dnnl::memory::desc a_md = strided_md(l.batch, l.M, l.K, l.a, k.in_type);
  dnnl::memory::desc b_md = strided_md(l.batch, l.K, l.N, l.b, k.in_type);
  dnnl::memory::desc c_md = strided_md(l.batch, l.M, l.N, l.c, dnnl::memory::data_type::f32);
  const dnnl::primitive_attr attr = detail::scaled_matmul_attr(k.alpha, k.accumulate);
  bool widen = false;
  dnnl::matmul::primitive_desc pd;
  try {
    pd = detail::matmul_pd(o.engine, a_md, b_md, c_md, attr);
  } catch (const dnnl::error&) {
    if (k.in_type != dnnl::memory::data_type::bf16)
      throw;
    widen = true; // no bf16 implementation on this CPU: f32 on widened operands
    a_md = strided_md(l.batch, l.M, l.K, l.a, dnnl::memory::data_type::f32);
    b_md = strided_md(l.batch, l.K, l.N, l.b, dnnl::memory::data_type::f32);
    pd = detail::matmul_pd(o.engine, a_md, b_md, c_md, attr);
  }
  MatmulEntry e{widen ? dnnl::matmul() : dnnl::matmul(pd), // widened: runs block primitives
                a_md,
                b_md,
                c_md,
                pd.scratchpad_desc(),
                (widen ? "bf16-widened:" : "") + std::string(pd.impl_info_str()),
                widen};
  return o.cache.emplace(k, std::move(e)).first->second;
}

void onednn_matmul(const detail::MatmulLayout& l, const void* A, const void* B, float* C, float alpha,
                   bool accumulate, dnnl::memory::data_type in_type);

// The f32 copy of a bf16 [batch, rows, cols] view with strides st, packed densely in the same
// orientation (row-major when the column stride is the smaller, else column-major) into buf;
// writes the packed strides to out_st.
const float* widened(const bf16* x, int64_t batch, int64_t rows, int64_t cols, const int64_t* st,
                     std::vector<float>& buf, int64_t* out_st) {
  const bool row_major = std::abs(st[2]) <= std::abs(st[1]);
  const int64_t outer = row_major ? rows : cols, inner = row_major ? cols : rows;
  const int64_t s_outer = row_major ? st[1] : st[2], s_inner = row_major ? st[2] : st[1];
  if (buf.size() < size_t(batch * rows * cols))
    buf.resize(size_t(batch * rows * cols));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t o = 0; o < outer; ++o) {
      const bf16* src = x + b * st[0] + o * s_outer;
      float* dst = buf.data() + (b * outer + o) * inner;
      if (s_inner == 1)
        to_f32(src, dst, inner);
      else
        for (int64_t i = 0; i < inner; ++i)
          dst[i] = float(src[i * s_inner]);
    }
  out_st[0] = rows * cols;
  out_st[1] = row_major ? cols : 1;
  out_st[2] = row_major ? 1 : rows;
  return buf.data();
}

} // namespace

namespace detail {
// Blocks of at most block_elems elements per operand: [bb, mb, K] of A and [bb, K, nb] of B.
// K is never split, so every output element is one f32 primitive's sum over all of K.
void widened_bf16_matmul(const MatmulLayout& l, const bf16* A, const bf16* B, float* C, float alpha,
                         bool accumulate, int64_t block_elems) {
  const int64_t bb = std::clamp<int64_t>(block_elems / (l.K * std::max(l.M, l.N)), 1, l.batch);
  const int64_t mb = std::clamp<int64_t>(block_elems / (bb * l.K), 1, l.M);
  const int64_t nb = std::clamp<int64_t>(block_elems / (bb * l.K), 1, l.N);
  thread_local std::vector<float> wa, wb;
  for (int64_t b0 = 0; b0 < l.batch; b0 += bb) {
    const int64_t nbat = std::min(bb, l.batch - b0);
    MatmulLayout s{nbat, 0, 0, l.K, {}, {}, {l.c[0], l.c[1], l.c[2]}};
    const float* Bw = nullptr;
    for (int64_t m0 = 0; m0 < l.M; m0 += mb) {
      s.M = std::min(mb, l.M - m0);
      const float* Aw = widened(A + b0 * l.a[0] + m0 * l.a[1], nbat, s.M, l.K, l.a, wa, s.a);
      for (int64_t n0 = 0; n0 < l.N; n0 += nb) {
        s.N = std::min(nb, l.N - n0);
        if (!Bw || nb < l.N) // all of B fits in one block: widened once per batch block
          Bw = widened(B + b0 * l.b[0] + n0 * l.b[2], nbat, l.K, s.N, l.b, wb, s.b);
        onednn_matmul(s, Aw, Bw, C + b0 * l.c[0] + m0 * l.c[1] + n0 * l.c[2], alpha, accumulate,
                      dnnl::memory::data_type::f32);
      }
    }
  }
}
} // namespace detail

namespace {

void onednn_matmul(const detail::MatmulLayout& l, const void* A, const void* B, float* C, float alpha,
                   bool accumulate, dnnl::memory::data_type in_type) {
  const MatmulEntry& e = matmul_entry({l, alpha, accumulate, in_type});
  if (e.widen_bf16)
    return detail::widened_bf16_matmul(l, static_cast<const bf16*>(A), static_cast<const bf16*>(B), C, alpha,
                                       accumulate, detail::k_widen_block_elems);
  OneDnn& o = onednn();
  thread_local dnnl::stream stream(onednn().engine);
  thread_local std::vector<std::byte> scratch;
  if (scratch.size() < e.scratch_md.get_size())
    scratch.resize(e.scratch_md.get_size());
  dnnl::memory a(e.a_md, o.engine, const_cast<void*>(A));
  dnnl::memory b(e.b_md, o.engine, const_cast<void*>(B));
  dnnl::memory c(e.c_md, o.engine, C);
  dnnl::memory s(e.scratch_md, o.engine, scratch.data());
  e.prim.execute(stream,
                 {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}, {DNNL_ARG_SCRATCHPAD, s}});
  stream.wait();
}

// A row-major gemm as a strided matmul: a transpose swaps the row and column strides of the
// stored matrix.
detail::MatmulLayout gemm_layout(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K) {
  return {1,
          M,
          N,
          K,
          {M * K, trans_a ? 1 : K, trans_a ? M : 1},
          {K * N, trans_b ? 1 : N, trans_b ? K : 1},
          {M * N, N, 1}};
}

void onednn_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const void* A, const void* B,
                 float* C, float beta, dnnl::memory::data_type in_type) {
  GLM3D_CHECK(beta == 0.0f || beta == 1.0f) << "gemm: beta must be 0 or 1, got " << beta;
  GLM3D_CHECK(M >= 0 && N >= 0 && K >= 0) << "gemm: negative size " << M << "x" << N << "x" << K;
  if (M == 0 || N == 0)
    return;
  if (K == 0) { // empty sum: C = beta * C
    if (beta == 0.0f)
      std::fill(C, C + M * N, 0.0f);
    return;
  }
  onednn_matmul(gemm_layout(trans_a, trans_b, M, N, K), A, B, C, 1.0f, beta != 0.0f, in_type);
}

// ------------------------------------------------------------------ f64: own loop
// Used by the gradient tests; op(B) is packed row-major once so the inner loop is a
// contiguous axpy over a row of C, blocked over K so a slab of op(B) stays in cache.
void gemm_f64(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const double* A, const double* B,
              double* C, double beta) {
  GLM3D_CHECK(beta == 0.0 || beta == 1.0) << "gemm: beta must be 0 or 1, got " << beta;
  if (M == 0 || N == 0)
    return;
  std::vector<double> packed;
  const double* Bp = B; // op(B) [K,N] row-major
  if (trans_b) {
    packed.resize(size_t(K * N));
#pragma omp parallel for schedule(static)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j)
        packed[k * N + j] = B[j * K + k];
    Bp = packed.data();
  }
  constexpr int64_t kBlock = 128;
#pragma omp parallel
  {
    std::vector<double> acc(static_cast<size_t>(N));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < M; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k0 = 0; k0 < K; k0 += kBlock) {
        const int64_t k1 = std::min(K, k0 + kBlock);
        for (int64_t k = k0; k < k1; ++k) {
          const double a = trans_a ? A[k * M + i] : A[i * K + k];
          const double* brow = Bp + k * N;
#pragma omp simd
          for (int64_t j = 0; j < N; ++j)
            acc[j] += a * brow[j];
        }
      }
      double* c = C + i * N;
      if (beta == 0.0)
        for (int64_t j = 0; j < N; ++j)
          c[j] = acc[j];
      else
        for (int64_t j = 0; j < N; ++j)
          c[j] += acc[j];
    }
  }
}

// Rounds n floats to bf16 into a per-thread buffer that is reused across calls.
const bf16* rounded_copy(const float* x, int64_t n, std::vector<bf16>& buf) {
  if (buf.size() < size_t(n))
    buf.resize(size_t(n));
  to_bf16(x, buf.data(), n);
  return buf.data();
}

// Adds bias b[out] to every row of y[N,out].
template <class T> void add_bias(T* y, const T* b, int64_t N, int64_t out) {
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    T* row = y + n * out;
#pragma omp simd
    for (int64_t j = 0; j < out; ++j)
      row[j] += b[j];
  });
}

// db[out] += column sums of dy[N,out]; each thread owns a block of columns, so no races and
// a fixed summation order (deterministic for a given thread count and shape).
template <class T> void bias_grad(const T* dy, T* db, int64_t N, int64_t out) {
  constexpr int64_t kCols = 256;
  const int64_t nblocks = (out + kCols - 1) / kCols;
  parallel_rows(nblocks, [=](int64_t blk) GLM3D_INLINE {
    const int64_t j0 = blk * kCols, j1 = std::min(out, j0 + kCols);
    double acc[kCols] = {};
    for (int64_t n = 0; n < N; ++n) {
      const T* row = dy + n * out;
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j)
        acc[j - j0] += double(row[j]);
    }
    for (int64_t j = j0; j < j1; ++j)
      db[j] += T(acc[j - j0]);
  });
}

} // namespace

namespace detail {
namespace {
void strided_matmul(const MatmulLayout& layout, const void* A, const void* B, float* C, float alpha,
                    bool accumulate, dnnl::memory::data_type in_type) {
  GLM3D_CHECK(layout.batch > 0 && layout.M > 0 && layout.N > 0 && layout.K > 0)
      << "strided matmul: empty sizes " << layout.batch << "x" << layout.M << "x" << layout.N << "x"
      << layout.K;
  onednn_matmul(layout, A, B, C, alpha, accumulate, in_type);
}

// The primitive oneDNN makes for a small bf16 matmul: what bf16 runs on here.
const MatmulEntry& bf16_probe_entry() {
  const MatmulLayout l{1, 64, 64, 64, {0, 64, 1}, {0, 64, 1}, {0, 64, 1}};
  return matmul_entry({l, 1.0f, false, dnnl::memory::data_type::bf16});
}
} // namespace

void strided_matmul_f32(const MatmulLayout& layout, const float* A, const float* B, float* C, float alpha,
                        bool accumulate) {
  strided_matmul(layout, A, B, C, alpha, accumulate, dnnl::memory::data_type::f32);
}

void strided_matmul_bf16(const MatmulLayout& layout, const bf16* A, const bf16* B, float* C, float alpha,
                         bool accumulate) {
  strided_matmul(layout, A, B, C, alpha, accumulate, dnnl::memory::data_type::bf16);
}

bool onednn_bf16_matmul_in_hardware() {
  static const bool hw = [] {
    const MatmulEntry& e = bf16_probe_entry();
    return !e.widen_bf16 &&
           (e.impl.find("amx") != std::string::npos || e.impl.find("avx512_core_bf16") != std::string::npos);
  }();
  return hw;
}

std::string onednn_gemm_impl(bool trans_b, int64_t M, int64_t N, int64_t K, bool bf16) {
  const auto type = bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
  return matmul_entry({gemm_layout(false, trans_b, M, N, K), 1.0f, false, type}).impl;
}

std::vector<std::string> onednn_matmul_impl_names() {
  OneDnn& o = onednn();
  std::lock_guard<std::mutex> lock(o.mutex);
  std::set<std::string> names;
  for (const auto& [key, entry] : o.cache)
    names.insert(entry.impl);
  return {names.begin(), names.end()};
}

size_t onednn_matmul_cache_size() {
  OneDnn& o = onednn();
  std::lock_guard<std::mutex> lock(o.mutex);
  return o.cache.size();
}
} // namespace detail

int64_t bf16_widening_bytes(int64_t largest_operand) {
  static const bool widened = detail::bf16_probe_entry().widen_bf16;
  return widened ? 2 * int64_t(sizeof(float)) * std::min(largest_operand, detail::k_widen_block_elems) : 0;
}

template <class T>
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T* C,
          float beta, Precision prec) {
  if constexpr (std::is_same_v<T, double>) {
    gemm_f64(trans_a, trans_b, M, N, K, A, B, C, double(beta)); // f64 ignores prec
  } else if (prec == Precision::bf16) {
    thread_local std::vector<bf16> abuf, bbuf;
    const bf16* a = rounded_copy(A, M * K, abuf);
    const bf16* b = rounded_copy(B, K * N, bbuf);
    gemm_bf16(trans_a, trans_b, M, N, K, a, b, C, beta);
  } else {
    onednn_gemm(trans_a, trans_b, M, N, K, A, B, C, beta, dnnl::memory::data_type::f32);
  }
}

template void gemm<float>(bool, bool, int64_t, int64_t, int64_t, const float*, const float*, float*, float,
                          Precision);
template void gemm<double>(bool, bool, int64_t, int64_t, int64_t, const double*, const double*, double*,
                           float, Precision);

void gemm_bf16(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const bf16* A, const bf16* B,
               float* C, float beta) {
  onednn_gemm(trans_a, trans_b, M, N, K, A, B, C, beta, dnnl::memory::data_type::bf16);
}

template <class T>
void linear_forward(const T* x, const T* W, const T* b, T* y, int64_t N, int64_t in, int64_t out,
                    Precision prec) {
  gemm<T>(false, true, N, out, in, x, W, y, 0.0f, prec); // [N,in] · [out,in]^T
  if (b)
    add_bias(y, b, N, out);
}

template <class T>
void linear_backward(const T* dy, const T* x, const T* W, T* dx, T* dW, T* db, int64_t N, int64_t in,
                     int64_t out, bool accumulate_dx, Precision prec) {
  if (dx)
    gemm<T>(false, false, N, in, out, dy, W, dx, accumulate_dx ? 1.0f : 0.0f, prec); // [N,out]·[out,in]
  if (dW)
    gemm<T>(true, false, out, in, N, dy, x, dW, 1.0f, prec); // [N,out]^T · [N,in]
  if (db)
    bias_grad(dy, db, N, out);
}

void linear_forward_bf16(const bf16* x, const bf16* W, const float* b, float* y, int64_t N, int64_t in,
                         int64_t out) {
  gemm_bf16(false, true, N, out, in, x, W, y, 0.0f); // [N,in] · [out,in]^T
  if (b)
    add_bias(y, b, N, out);
}

void linear_backward_bf16(const float* dy, const bf16* x, const bf16* W, float* dx, float* dW, float* db,
                          int64_t N, int64_t in, int64_t out, bool accumulate_dx) {
  thread_local std::vector<bf16> dyb;
  const bf16* g = rounded_copy(dy, N * out, dyb);
  if (dx)
    gemm_bf16(false, false, N, in, out, g, W, dx, accumulate_dx ? 1.0f : 0.0f); // [N,out]·[out,in]
  if (dW)
    gemm_bf16(true, false, out, in, N, g, x, dW, 1.0f); // [N,out]^T · [N,in]
  if (db)
    bias_grad(dy, db, N, out);
}

template void linear_forward<float>(const float*, const float*, const float*, float*, int64_t, int64_t,
                                    int64_t, Precision);
template void linear_forward<double>(const double*, const double*, const double*, double*, int64_t, int64_t,
                                     int64_t, Precision);
template void linear_backward<float>(const float*, const float*, const float*, float*, float*, float*,
                                     int64_t, int64_t, int64_t, bool, Precision);
template void linear_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                      int64_t, int64_t, int64_t, bool, Precision);

} // namespace glm3d::cpu
