#include "core/quant/qlinear.h"

#include "core/check.h"
#include "core/cpu/onednn.h"

#include <algorithm>
#include <omp.h>

namespace glm3d::quant {
namespace {

int64_t slab_floats(const QuantizedMatrix& W, int64_t N) {
  const int64_t out = rows(W), in = cols(W);
  return std::max(std::min(forward_slab_rows(N), out) * in, out * std::min(kColChunk, in));
}

// C [M, Nc] (row stride ldc) = A [M, K] (row stride lda) · B, with B given by its (row, col)
// strides so a dequantized slab is used in place, transposed or not.
void slab_matmul(int64_t M, int64_t Nc, int64_t K, const float* A, int64_t lda, const float* B, int64_t b_row,
                 int64_t b_col, float* C, int64_t ldc, bool accumulate) {
  cpu::detail::MatmulLayout l{1, M, Nc, K, {M * lda, lda, 1}, {K * Nc, b_row, b_col}, {M * ldc, ldc, 1}};
  cpu::detail::strided_matmul_f32(l, A, B, C, 1.0f, accumulate);
}

// Runs slab_fn(k, slab) for k < chunks on the OpenMP threads, each thread with its own slab of
// the workspace. oneDNN, called inside this parallel region, runs on the calling thread.
template <class SlabFn>
void over_slabs(const QuantizedMatrix& W, int64_t N, int64_t chunks, float* workspace,
                int64_t workspace_floats, SlabFn slab_fn) {
  const int64_t need = qlinear_workspace_floats(W, N);
  GLM3D_CHECK(workspace_floats >= need)
      << "quantized linear: workspace of " << workspace_floats << " floats, needs " << need << " for "
      << omp_get_max_threads() << " threads";
#pragma omp parallel
  {
    float* slab = workspace + int64_t(omp_get_thread_num()) * slab_floats(W, N);
#pragma omp for schedule(dynamic, 1)
    for (int64_t k = 0; k < chunks; ++k)
      slab_fn(k, slab);
  }
}

} // namespace

int64_t qlinear_workspace_floats(const QuantizedMatrix& W, int64_t N, int threads) {
  if (threads <= 0)
    threads = omp_get_max_threads();
  return int64_t(threads) * slab_floats(W, N);
}

void qlinear_forward(const QuantizedMatrix& W, const float* x, const float* b, float* y, int64_t N,
                     float* workspace, int64_t workspace_floats) {
  const int64_t out = rows(W), in = cols(W);
  const int64_t R = forward_slab_rows(N);
  // Slab k: rows [r0, r1) of W -> [rc, in]; y[:, r0:r1] = x [N, in] · slab^T (+ b).
  over_slabs(W, N, N == 0 ? 0 : (out + R - 1) / R, workspace, workspace_floats, [&](int64_t k, float* slab) {
    const int64_t r0 = k * R, r1 = std::min(out, r0 + R), rc = r1 - r0;
    dequantize(W, r0, r1, 0, in, slab);
    slab_matmul(N, rc, in, x, in, slab, 1, in, y + r0, out, false);
    if (b)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = r0; j < r1; ++j)
          y[n * out + j] += b[j];
  });
}

void qlinear_backward_input(const QuantizedMatrix& W, const float* dy, float* dx, int64_t N, bool accumulate,
                            float* workspace, int64_t workspace_floats) {
  const int64_t out = rows(W), in = cols(W);
  // Slab k: columns [c0, c1) of W -> [out, cc]; dx[:, c0:c1] (+)= dy [N, out] · slab.
  over_slabs(W, N, N == 0 ? 0 : (in + kColChunk - 1) / kColChunk, workspace, workspace_floats,
             [&](int64_t k, float* slab) {
               const int64_t c0 = k * kColChunk, c1 = std::min(in, c0 + kColChunk), cc = c1 - c0;
               dequantize(W, 0, out, c0, c1, slab);
               slab_matmul(N, cc, out, dy, out, slab, cc, 1, dx + c0, in, accumulate);
             });
}

} // namespace glm3d::quant
