#pragma once
// AdamW as in PyTorch (decoupled weight decay), on a flat range of parameters:
//   p *= 1 - lr * wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
#include <cstdint>

namespace glm3d::cpu {

struct AdamWHyper {
  double lr = 1e-4, beta1 = 0.9, beta2 = 0.95, eps = 1e-8, weight_decay = 0.1;
  double grad_scale = 1; // the gradient used is grad * T(grad_scale) (clipping), grad not written
};

// step is the 1-based optimizer step (bias correction). wd is applied only when apply_wd.
template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, int64_t n, const AdamWHyper& h, int64_t step,
                  bool apply_wd);

} // namespace glm3d::cpu
