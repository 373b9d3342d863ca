// Element-wise kernels (grid-stride loops; 16-byte packs where sizes and alignment allow)
// and the deterministic column sums.
#include "core/cuda/elementwise.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

namespace glm3d::cuda {
namespace {

using detail::from_f;
using detail::to_f;

template <class T>
__global__ void scale_add_kernel(const T* a, float alpha, const T* b, const T* bias, T* out, int64_t N,
                                 int64_t C) {
  const int64_t n = N * C;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float v = to_f(a[i]) * alpha + to_f(b[i]);
    if (bias)
      v += to_f(bias[i % C]);
    out[i] = from_f<T>(v);
  }
}

// scale_add on 16-byte packs (n = N * C a whole number of packs; with a bias, C too).
template <class T>
__global__ void scale_add_packed(const T* a, float alpha, const T* b, const T* bias, T* out, int64_t n,
                                 int64_t C) {
  constexpr int P = detail::kPack<T>;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * P; i < n;
       i += int64_t(gridDim.x) * blockDim.x * P) {
    float va[P], vb[P], vc[P];
    detail::load_pack(a + i, va);
    detail::load_pack(b + i, vb);
    if (bias)
      detail::load_pack(bias + i % C, vc);
    for (int e = 0; e < P; ++e)
      va[e] = va[e] * alpha + vb[e] + (bias ? vc[e] : 0.0f);
    detail::store_pack(out + i, va);
  }
}

// column_partial_kernel on 16-byte packs (C a whole number of packs).
template <class T>
__global__ void column_partial_packed(const T* x, int64_t N, int64_t C, int64_t rows, float* partial) {
  constexpr int P = detail::kPack<T>;
  const int64_t r0 = int64_t(blockIdx.x) * rows, r1 = min(N, r0 + rows);
  for (int64_t c = int64_t(threadIdx.x) * P; c < C; c += int64_t(blockDim.x) * P) {
    float s[P] = {}, v[P];
    for (int64_t n = r0; n < r1; ++n) {
      detail::load_pack(x + n * C + c, v);
      for (int e = 0; e < P; ++e)
        s[e] += v[e];
    }
    detail::store_f32(partial + int64_t(blockIdx.x) * C + c, s);
  }
}

// Uniform values in [lo, hi) from launch::uniform_hash (host and device agree).
template <class T> __global__ void fill_uniform_kernel(T* p, int64_t n, float lo, float hi, uint64_t seed) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    p[i] = from_f<T>(lo + (hi - lo) * launch::uniform_hash(seed, uint64_t(i)));
}

// partial[chunk, c] = sum of x[n, c] over the chunk's rows; threads stride over columns.
template <class T>
__global__ void column_partial_kernel(const T* x, int64_t N, int64_t C, int64_t rows, float* partial) {
  const int64_t r0 = int64_t(blockIdx.x) * rows, r1 = min(N, r0 + rows);
  for (int64_t c = threadIdx.x; c < C; c += blockDim.x) {
    float s = 0.0f;
    for (int64_t n = r0; n < r1; ++n)
      s += to_f(x[n * C + c]);
    partial[int64_t(blockIdx.x) * C + c] = s;
  }
}

// out[c] += the chunks' partials of column c. A block owns 32 columns (threadIdx.x); group
// threadIdx.y sums chunks y, y + G, y + 2G, ... (G = kPartialGroups), then the G group sums
// are added in group order: a fixed order, so the result is the same on every run.
__global__ void add_partials_kernel(const float* partial, int64_t chunks, int64_t C, float* out) {
  constexpr int G = launch::kPartialGroups;
  __shared__ float sums[G][32];
  const int64_t c = int64_t(blockIdx.x) * 32 + threadIdx.x;
  float s = 0.0f;
  if (c < C)
    for (int64_t k = threadIdx.y; k < chunks; k += G)
      s += partial[k * C + c];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && c < C) {
    float t = 0.0f;
    for (int y = 0; y < G; ++y)
      t += sums[y][threadIdx.x];
    out[c] += t;
  }
}

// Block sums of squares in f64 into partial[blockIdx.x]; one block then adds them in order.
template <class T> __global__ void sum_squares_kernel(const T* x, int64_t n, double* partial) {
  __shared__ double shm[1024];
  double s = 0.0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const double v = to_f(x[i]);
    s += v * v;
  }
  shm[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w >>= 1) {
    if (int(threadIdx.x) < w)
      shm[threadIdx.x] += shm[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0)
    partial[blockIdx.x] = shm[0];
}

__global__ void sum_partials_kernel(const double* partial, int blocks, double* out) {
  double s = 0.0;
  for (int k = 0; k < blocks; ++k)
    s += partial[k];
  *out = s;
}

template <class S, class D> __global__ void cast_kernel(const S* x, D* y, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    y[i] = from_f<D>(to_f(x[i]));
}

launch::Grid1D grid_for(int64_t n) {
  return launch::elementwise(n, 1, current_sm_count());
}

} // namespace

namespace detail {
void add_chunk_partials(const float* partial, int64_t chunks, int64_t C, float* out, cudaStream_t stream) {
  const dim3 block(32, launch::kPartialGroups);
  add_partials_kernel<<<unsigned(launch::ceil_div(C, 32)), block, 0, stream>>>(partial, chunks, C, out);
  CUDA_CHECK_LAUNCH();
}
} // namespace detail

template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C,
               cudaStream_t stream) {
  if (N * C == 0)
    return;
  constexpr int P = detail::kPack<T>;
  if ((N * C) % P == 0 && (!bias || C % P == 0) && detail::aligned16({a, b, bias, out})) {
    const launch::Grid1D g = launch::elementwise(N * C, P, current_sm_count());
    scale_add_packed<<<g.blocks, g.threads, 0, stream>>>(a, float(alpha), b, bias, out, N * C, C);
  } else {
    const launch::Grid1D g = grid_for(N * C);
    scale_add_kernel<<<g.blocks, g.threads, 0, stream>>>(a, float(alpha), b, bias, out, N, C);
  }
  CUDA_CHECK_LAUNCH();
}

template <class T>
void column_sum_accumulate(const T* x, int64_t N, int64_t C, float* out, DeviceAllocator& alloc,
                           cudaStream_t stream) {
  if (N == 0 || C == 0)
    return;
  const launch::RowChunks ch = launch::row_chunks(N, current_sm_count());
  DeviceBuffer partial = alloc.allocate(size_t(ch.chunks * C) * sizeof(float), stream);
  if (C % detail::kPack<T> == 0 && detail::aligned16({x}))
    column_partial_packed<<<unsigned(ch.chunks), launch::kThreads, 0, stream>>>(x, N, C, ch.rows,
                                                                                partial.as<float>());
  else
    column_partial_kernel<<<unsigned(ch.chunks), launch::kThreads, 0, stream>>>(x, N, C, ch.rows,
                                                                                partial.as<float>());
  CUDA_CHECK_LAUNCH();
  detail::add_chunk_partials(partial.as<float>(), ch.chunks, C, out, stream);
}

template <class T>
void sum_squares(const T* x, int64_t n, double* out, DeviceAllocator& alloc, cudaStream_t stream) {
  const launch::Grid1D g = grid_for(std::max<int64_t>(n, 1));
  DeviceBuffer partial = alloc.allocate(size_t(g.blocks) * sizeof(double), stream);
  sum_squares_kernel<<<g.blocks, g.threads, 0, stream>>>(x, n, partial.as<double>());
  CUDA_CHECK_LAUNCH();
  sum_partials_kernel<<<1, 1, 0, stream>>>(partial.as<double>(), g.blocks, out);
  CUDA_CHECK_LAUNCH();
}

template <class S, class D> void cast(const S* x, D* y, int64_t n, cudaStream_t stream) {
  if (n == 0)
    return;
  const launch::Grid1D g = grid_for(n);
  cast_kernel<<<g.blocks, g.threads, 0, stream>>>(x, y, n);
  CUDA_CHECK_LAUNCH();
}

void fill_bytes(void* p, uint8_t byte, size_t n, cudaStream_t stream) {
  CUDA_CHECK(cudaMemsetAsync(p, byte, n, stream));
}

template <class T>
void fill_uniform(T* p, int64_t n, float lo, float hi, uint64_t seed, cudaStream_t stream) {
  if (n == 0)
    return;
  const launch::Grid1D g = grid_for(n);
  fill_uniform_kernel<<<g.blocks, g.threads, 0, stream>>>(p, n, lo, hi, seed);
  CUDA_CHECK_LAUNCH();
}

#define GLM3D_EW_INSTANTIATE(T)                                                                              \
  template void scale_add<T>(const T*, double, const T*, const T*, T*, int64_t, int64_t, cudaStream_t);      \
  template void column_sum_accumulate<T>(const T*, int64_t, int64_t, float*, DeviceAllocator&,               \
                                         cudaStream_t);                                                      \
  template void sum_squares<T>(const T*, int64_t, double*, DeviceAllocator&, cudaStream_t);                  \
  template void fill_uniform<T>(T*, int64_t, float, float, uint64_t, cudaStream_t);
GLM3D_EW_INSTANTIATE(float)
GLM3D_EW_INSTANTIATE(bf16)
template void cast<float, bf16>(const float*, bf16*, int64_t, cudaStream_t);
template void cast<bf16, float>(const bf16*, float*, int64_t, cudaStream_t);
template void cast<float, float>(const float*, float*, int64_t, cudaStream_t);

} // namespace glm3d::cuda
