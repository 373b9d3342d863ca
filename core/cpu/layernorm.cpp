#include "core/cpu/layernorm.h"

#include "core/check.h"
#include "core/cpu/simd_clones.h"

#include <cmath>
#include <omp.h>
#include <vector>

namespace glm3d::cpu {

// One row per iteration, rows split statically over threads; row statistics in double so
// the f32 result does not depend on C's size through cancellation.
template <class T>
void layernorm_forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, int64_t N,
                       int64_t C, double eps) {
  GLM3D_CHECK(C > 0) << "layernorm: C must be positive, got " << C;
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const T* xr = x + n * C;
    const double mu =
        lane_sum<double>(0, C, [&](int64_t c) GLM3D_INLINE { return double(xr[c]); }) / double(C);
    const double v = lane_sum<double>(0, C, [&](int64_t c) GLM3D_INLINE {
      const double d = double(xr[c]) - mu;
      return d * d;
    });
    const double rs = 1.0 / std::sqrt(v / double(C) + eps);
    const T m = T(mu), r = T(rs);
    T* yr = y + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c)
      yr[c] = (xr[c] - m) * r * gamma[c] + beta[c];
    mean[n] = m;
    rstd[n] = r;
  });
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = dy * gamma.
// dgamma/dbeta: each thread sums its rows into a private [2C] buffer; the buffers are then
// added in thread order, so the result is deterministic for a given thread count.
template <class T>
void layernorm_backward(const T* dy, const T* x, const T* gamma, const T* mean, const T* rstd, T* dx,
                        T* dgamma, T* dbeta, int64_t N, int64_t C, bool accumulate_dx) {
  GLM3D_CHECK(C > 0) << "layernorm: C must be positive, got " << C;
  const int nt = omp_get_max_threads();
  std::vector<double> partial(size_t(nt) * 2 * size_t(C), 0.0);
  double* const part = partial.data();
  parallel_simd(
      N,
      [=](int64_t n0, int64_t n1) GLM3D_INLINE {
        double* pg = part + size_t(omp_get_thread_num()) * 2 * size_t(C);
        double* pb = pg + C;
        for (int64_t n = n0; n < n1; ++n) {
          const T* xr = x + n * C;
          const T* dyr = dy + n * C;
          const double mu = double(mean[n]), rs = double(rstd[n]);
          double sg[kLanes] = {}, sgx[kLanes] = {};
          for_lanes(0, C, [&](int64_t c, int l) GLM3D_INLINE {
            const double xhat = (double(xr[c]) - mu) * rs;
            const double g = double(dyr[c]) * double(gamma[c]);
            sg[l] += g;
            sgx[l] += g * xhat;
            pg[c] += double(dyr[c]) * xhat;
            pb[c] += double(dyr[c]);
          });
          const double mg = fold_sum(sg) / double(C), mgx = fold_sum(sgx) / double(C);
          T* dxr = dx + n * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) {
            const double xhat = (double(xr[c]) - mu) * rs;
            const double d = rs * (double(dyr[c]) * double(gamma[c]) - mg - xhat * mgx);
            dxr[c] = accumulate_dx ? T(double(dxr[c]) + d) : T(d);
          }
        }
      },
      1);
  for (int t = 0; t < nt; ++t) {
    const double* pg = partial.data() + size_t(t) * 2 * size_t(C);
    for (int64_t c = 0; c < C; ++c) {
      if (dgamma) // null: frozen (fine-tuning with adapters) or absent
        dgamma[c] += T(pg[c]);
      if (dbeta)
        dbeta[c] += T(pg[C + c]);
    }
  }
}

template void layernorm_forward<float>(const float*, const float*, const float*, float*, float*, float*,
                                       int64_t, int64_t, double);
template void layernorm_forward<double>(const double*, const double*, const double*, double*, double*,
                                        double*, int64_t, int64_t, double);
template void layernorm_backward<float>(const float*, const float*, const float*, const float*, const float*,
                                        float*, float*, float*, int64_t, int64_t, bool);
template void layernorm_backward<double>(const double*, const double*, const double*, const double*,
                                         const double*, double*, double*, double*, int64_t, int64_t, bool);

} // namespace glm3d::cpu
