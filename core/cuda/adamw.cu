#include "core/cuda/adamw.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/kernel_util.cuh"

#include <cmath>

namespace glm3d::cuda {
namespace {

using detail::from_f;
using detail::to_f;

struct Coeffs {
  float b1, b2, eps, lr, bc1, bc2, decay, grad_scale;
};

template <class G>
__global__ void adamw_kernel(float* master, const G* grad, float* m, float* v, bf16* param, int64_t n,
                             Coeffs c) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float g = to_f(grad[i]) * c.grad_scale;
    const float mi = c.b1 * m[i] + (1.0f - c.b1) * g;
    const float vi = c.b2 * v[i] + (1.0f - c.b2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const float p = master[i] * c.decay - c.lr * (mi / c.bc1) / (sqrtf(vi / c.bc2) + c.eps);
    master[i] = p;
    if (param)
      param[i] = from_f<bf16>(p);
  }
}

} // namespace

template <class G>
void adamw_update(float* master, const G* grad, float* m, float* v, bf16* param, int64_t n,
                  const cpu::AdamWHyper& h, int64_t step, bool apply_wd, cudaStream_t stream) {
  GLM3D_CHECK(step >= 1) << "adamw: step is 1-based, got " << step;
  if (n == 0)
    return;
  const Coeffs c{float(h.beta1),
                 float(h.beta2),
                 float(h.eps),
                 float(h.lr),
                 float(1.0 - std::pow(h.beta1, double(step))),
                 float(1.0 - std::pow(h.beta2, double(step))),
                 apply_wd ? float(1.0 - h.lr * h.weight_decay) : 1.0f,
                 float(h.grad_scale)};
  const launch::Grid1D g = launch::elementwise(n, 1, current_sm_count());
  adamw_kernel<<<g.blocks, g.threads, 0, stream>>>(master, grad, m, v, param, n, c);
  CUDA_CHECK_LAUNCH();
}

template void adamw_update<float>(float*, const float*, float*, float*, bf16*, int64_t,
                                  const cpu::AdamWHyper&, int64_t, bool, cudaStream_t);
template void adamw_update<bf16>(float*, const bf16*, float*, float*, bf16*, int64_t, const cpu::AdamWHyper&,
                                 int64_t, bool, cudaStream_t);

} // namespace glm3d::cuda
