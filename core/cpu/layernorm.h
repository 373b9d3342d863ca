#pragma once
// LayerNorm over the last dim. x,y [N,C]; gamma,beta [C]; mean,rstd [N] saved for backward.
#include <cstdint>

namespace glm3d::cpu {

template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t N,
                       int64_t C, double eps);

// dx[N,C] = (overwrite, or += when accumulate_dx); dgamma, dbeta [C] += (each may be null: not computed).
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const T* mean, const T* rstd, T* dx,
                        T* dgamma, T* dbeta, int64_t N, int64_t C, bool accumulate_dx);

} // namespace glm3d::cpu
