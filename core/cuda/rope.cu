// RoPE: one thread per rotated pair (token, head, pair).
#include "core/cuda/rope.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

namespace glm3d::cuda {
namespace {

using detail::from_f;
using detail::to_f;

// Pairs per head and, for pair k, the two element offsets within the head, the position
// array to use (0: pos, 1: block_pos) and the frequency exponent i / d of t = p base^(-2 i/d).
struct Pair {
  int64_t a, b;
  int which;
  double expo;
};

__device__ __forceinline__ Pair pair_of(int64_t k, int64_t hd, RopeKind kind) {
  if (kind == RopeKind::half_1d) {
    const int64_t half = hd / 2;
    return {k, k + half, 0, double(2 * k) / double(hd)};
  }
  if (kind == RopeKind::half_2d) {
    const int64_t d = hd / 2, half = d / 2, part = k / half, i = k % half;
    return {part * d + i, part * d + i + half, int(part), double(2 * i) / double(d)};
  }
  const int64_t rot = hd / 2; // interleaved: pairs (2k, 2k+1) of the first hd/2
  return {2 * k, 2 * k + 1, 0, double(2 * k) / double(rot)};
}

__host__ __device__ constexpr int64_t pairs_per_head(int64_t hd, RopeKind kind) {
  return kind == RopeKind::interleaved ? hd / 4 : hd / 2;
}

template <class T>
__global__ void rope_kernel(T* x, HeadView v, const int32_t* pos, const int32_t* block_pos, RopeKind kind,
                            double log2_base, double sign) {
  const int64_t pairs = pairs_per_head(v.hd, kind), n = v.tokens * v.heads * pairs;
  for (int64_t idx = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; idx < n;
       idx += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = idx % pairs, h = (idx / pairs) % v.heads, t = idx / (pairs * v.heads);
    const Pair p = pair_of(k, v.hd, kind);
    const double ang = double(p.which == 0 ? pos[t] : block_pos[t]) * exp2(-p.expo * log2_base);
    double s, c;
    sincos(ang, &s, &c);
    const float cf = float(c), sf = float(sign * s);
    T* hp = x + t * v.tok_stride + h * v.head_stride;
    const float x1 = to_f(hp[p.a]), x2 = to_f(hp[p.b]);
    hp[p.a] = from_f<T>(x1 * cf - x2 * sf);
    hp[p.b] = from_f<T>(x2 * cf + x1 * sf);
  }
}

} // namespace

template <class T>
void rope_apply(T* x, const HeadView& v, const int32_t* pos, const int32_t* block_pos, RopeKind kind,
                double base, bool inverse, cudaStream_t stream) {
  const int64_t div = kind == RopeKind::half_1d ? 2 : 4;
  GLM3D_CHECK(v.hd % div == 0) << "rope: head dim " << v.hd << " must be divisible by " << div;
  GLM3D_CHECK(kind != RopeKind::half_2d || block_pos) << "rope: 2D RoPE needs block positions";
  const int64_t n = v.tokens * v.heads * pairs_per_head(v.hd, kind);
  if (n == 0)
    return;
  const launch::Grid1D g = launch::elementwise(n, 1, current_sm_count());
  rope_kernel<<<g.blocks, g.threads, 0, stream>>>(x, v, pos, block_pos, kind, std::log2(base),
                                                  inverse ? -1.0 : 1.0);
  CUDA_CHECK_LAUNCH();
}

namespace {
template <class T>
void rope_qkv(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
              int64_t hd, double base, bool inverse, cudaStream_t stream) {
  const HeadView v{B * S, nh, nh * 3 * hd, 3 * hd, hd};
  const RopeKind kind = block_pos ? RopeKind::half_2d : RopeKind::half_1d;
  rope_apply(qkv, v, pos, block_pos, kind, base, inverse, stream);      // q
  rope_apply(qkv + hd, v, pos, block_pos, kind, base, inverse, stream); // k
}
} // namespace

template <class T>
void rope_forward(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                  int64_t hd, double base, cudaStream_t stream) {
  rope_qkv(qkv, pos, block_pos, B, S, nh, hd, base, false, stream);
}

template <class T>
void rope_backward(T* dqkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                   int64_t hd, double base, cudaStream_t stream) {
  rope_qkv(dqkv, pos, block_pos, B, S, nh, hd, base, true, stream);
}

#define GLM3D_ROPE_INSTANTIATE(T)                                                                            \
  template void rope_apply<T>(T*, const HeadView&, const int32_t*, const int32_t*, RopeKind, double, bool,   \
                              cudaStream_t);                                                                 \
  template void rope_forward<T>(T*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,      \
                                double, cudaStream_t);                                                       \
  template void rope_backward<T>(T*, const int32_t*, const int32_t*, int64_t, int64_t, int64_t, int64_t,     \
                                 double, cudaStream_t);
GLM3D_ROPE_INSTANTIATE(float)
GLM3D_ROPE_INSTANTIATE(bf16)

} // namespace glm3d::cuda
