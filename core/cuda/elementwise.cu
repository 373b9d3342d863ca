// Element-wise kernels (grid-stride loops) and the deterministic column sums.
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

__global__ void add_partials_kernel(const float* partial, int64_t chunks, int64_t C, float* out) {
  for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < C;
       c += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int64_t k = 0; k < chunks; ++k)
      s += partial[k * C + c];
    out[c] += s;
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
  const launch::Grid1D g = grid_for(C);
  add_partials_kernel<<<g.blocks, g.threads, 0, stream>>>(partial, chunks, C, out);
  CUDA_CHECK_LAUNCH();
}
} // namespace detail

template <class T>
void scale_add(const T* a, double alpha, const T* b, const T* bias, T* out, int64_t N, int64_t C,
               cudaStream_t stream) {
  if (N * C == 0)
    return;
  const launch::Grid1D g = grid_for(N * C);
  scale_add_kernel<<<g.blocks, g.threads, 0, stream>>>(a, float(alpha), b, bias, out, N, C);
  CUDA_CHECK_LAUNCH();
}

template <class T>
void column_sum_accumulate(const T* x, int64_t N, int64_t C, float* out, DeviceAllocator& alloc,
                           cudaStream_t stream) {
  if (N == 0 || C == 0)
    return;
  const launch::RowChunks ch = launch::row_chunks(N, current_sm_count());
  DeviceBuffer partial = alloc.allocate(size_t(ch.chunks * C) * sizeof(float), stream);
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

#define GLM3D_EW_INSTANTIATE(T)                                                                              \
  template void scale_add<T>(const T*, double, const T*, const T*, T*, int64_t, int64_t, cudaStream_t);      \
  template void column_sum_accumulate<T>(const T*, int64_t, int64_t, float*, DeviceAllocator&,               \
                                         cudaStream_t);                                                      \
  template void sum_squares<T>(const T*, int64_t, double*, DeviceAllocator&, cudaStream_t);
GLM3D_EW_INSTANTIATE(float)
GLM3D_EW_INSTANTIATE(bf16)
template void cast<float, bf16>(const float*, bf16*, int64_t, cudaStream_t);
template void cast<bf16, float>(const bf16*, float*, int64_t, cudaStream_t);
template void cast<float, float>(const float*, float*, int64_t, cudaStream_t);

} // namespace glm3d::cuda
