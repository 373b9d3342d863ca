#pragma once
// RMSNorm over the last dim (ChatGLM2/3): y = weight * (x * rsqrt(mean(x^2) + eps)).
// x, y [N, C]; weight [C]; rstd [N] = rsqrt(mean(x^2) + eps), saved for backward.
// The mean of squares is summed in f64 (ChatGLM2 takes it in f32 whatever the input dtype);
// the product is formed in the reference's order, x * rstd first, then * weight.
#include <cstdint>

namespace glm3d::cpu {

template <class T>
void rmsnorm_forward(const T* x, const T* weight, T* y, T* rstd, int64_t N, int64_t C, double eps);

// dx [N, C] (overwrite, or += when accumulate_dx); dweight [C] += (null: not computed).
//   dx = rstd (g - xhat mean(g xhat)),  g = dy * weight,  xhat = x rstd;  dweight += sum_n dy xhat.
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* weight, const T* rstd, T* dx, T* dweight, int64_t N,
                      int64_t C, bool accumulate_dx);

} // namespace glm3d::cpu
