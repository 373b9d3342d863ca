#include "core/cpu/rmsnorm.h"

#include "core/check.h"
#include "core/cpu/simd_clones.h"

#include <cmath>
#include <omp.h>
#include <vector>

namespace glm3d::cpu {

// One row per iteration, rows split statically over threads.
template <class T>
void rmsnorm_forward(const T* x, const T* weight, T* y, T* rstd, int64_t N, int64_t C, double eps) {
  GLM3D_CHECK(C > 0) << "rmsnorm: C must be positive, got " << C;
  parallel_rows(N, [=](int64_t n) GLM3D_INLINE {
    const T* xr = x + n * C;
    const double ss =
        lane_sum<double>(0, C, [&](int64_t c) GLM3D_INLINE { return double(xr[c]) * double(xr[c]); });
    const T r = T(1.0 / std::sqrt(ss / double(C) + eps));
    T* yr = y + n * C;
#pragma omp simd
    for (int64_t c = 0; c < C; ++c)
      yr[c] = weight[c] * (xr[c] * r);
    rstd[n] = r;
  });
}

// dweight: each thread sums its rows into a private [C] buffer; the buffers are added in thread
// order, so the result is deterministic for a given thread count.
template <class T>
void rmsnorm_backward(const T* dy, const T* x, const T* weight, const T* rstd, T* dx, T* dweight, int64_t N,
                      int64_t C, bool accumulate_dx) {
  GLM3D_CHECK(C > 0) << "rmsnorm: C must be positive, got " << C;
  const int nt = omp_get_max_threads();
  std::vector<double> partial(size_t(nt) * size_t(C), 0.0);
  double* const part = partial.data();
  parallel_simd(
      N,
      [=](int64_t n0, int64_t n1) GLM3D_INLINE {
        double* pw = part + size_t(omp_get_thread_num()) * size_t(C);
        for (int64_t n = n0; n < n1; ++n) {
          const T* xr = x + n * C;
          const T* dyr = dy + n * C;
          const double r = double(rstd[n]);
          double sgx[kLanes] = {};
          for_lanes(0, C, [&](int64_t c, int l) GLM3D_INLINE {
            const double xhat = double(xr[c]) * r;
            sgx[l] += double(dyr[c]) * double(weight[c]) * xhat;
            pw[c] += double(dyr[c]) * xhat;
          });
          const double mgx = fold_sum(sgx) / double(C);
          T* dxr = dx + n * C;
#pragma omp simd
          for (int64_t c = 0; c < C; ++c) {
            const double xhat = double(xr[c]) * r;
            const double d = r * (double(dyr[c]) * double(weight[c]) - xhat * mgx);
            dxr[c] = accumulate_dx ? T(double(dxr[c]) + d) : T(d);
          }
        }
      },
      1);
  for (int64_t c = 0; dweight && c < C; ++c) { // null: frozen (fine-tuning with adapters)
    double sum = 0.0;
    for (int t = 0; t < nt; ++t)
      sum += partial[size_t(t) * size_t(C) + size_t(c)];
    dweight[c] += T(sum);
  }
}

template void rmsnorm_forward<float>(const float*, const float*, float*, float*, int64_t, int64_t, double);
template void rmsnorm_forward<double>(const double*, const double*, double*, double*, int64_t, int64_t,
                                      double);
template void rmsnorm_backward<float>(const float*, const float*, const float*, const float*, float*, float*,
                                      int64_t, int64_t, bool);
template void rmsnorm_backward<double>(const double*, const double*, const double*, const double*, double*,
                                       double*, int64_t, int64_t, bool);

} // namespace glm3d::cpu
