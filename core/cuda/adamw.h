#pragma once
// AdamW over flat buffers on the GPU, as core/cpu/adamw.h (PyTorch's decoupled weight decay),
// for mixed precision: f32 master weights and moments, gradients in G (float or bf16), and
// optionally the bf16 compute copy of the weights refreshed in the same pass:
//   g = grad * h.grad_scale    (1, or the gradient-clipping coefficient)
//   master *= 1 - lr wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   master -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps);  param = bf16(master)
#include "core/cpu/adamw.h"
#include "core/dtype.h"

#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

// step is 1-based; wd only when apply_wd; param may be null (no compute copy).
template <class G>
void adamw_update(float* master, const G* grad, float* m, float* v, bf16* param, int64_t n,
                  const cpu::AdamWHyper& h, int64_t step, bool apply_wd, cudaStream_t stream);

} // namespace glm3d::cuda
