#include "core/cpu/adamw.h"

#include "core/check.h"
#include "core/cpu/simd_clones.h"

#include <cmath>

namespace glm3d::cpu {

template <class T>
void adamw_update(T* param, const T* grad, T* m, T* v, int64_t n, const AdamWHyper& h, int64_t step,
                  bool apply_wd) {
  GLM3D_CHECK(step >= 1) << "adamw: step is 1-based, got " << step;
  const T b1 = T(h.beta1), b2 = T(h.beta2), eps = T(h.eps), lr = T(h.lr), gs = T(h.grad_scale);
  const T bc1 = T(1.0 - std::pow(h.beta1, double(step)));
  const T bc2 = T(1.0 - std::pow(h.beta2, double(step)));
  const T decay = apply_wd ? T(1.0 - h.lr * h.weight_decay) : T(1);
  parallel_simd(n, [=](int64_t i0, int64_t i1) GLM3D_INLINE {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) {
      const T g = grad[i] * gs; // exact for gs = 1
      const T mi = b1 * m[i] + (T(1) - b1) * g;
      const T vi = b2 * v[i] + (T(1) - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = param[i] * decay - lr * (mi / bc1) / (std::sqrt(vi / bc2) + eps);
    }
  });
}

template void adamw_update<float>(float*, const float*, float*, float*, int64_t, const AdamWHyper&, int64_t,
                                  bool);
template void adamw_update<double>(double*, const double*, double*, double*, int64_t, const AdamWHyper&,
                                   int64_t, bool);

} // namespace glm3d::cpu
