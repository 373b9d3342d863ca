#include "core/cuda/launch.h"

#include "core/check.h"

#include <algorithm>

namespace glm3d::cuda::launch {

Grid1D elementwise(int64_t n, int vec, int sm_count) {
  GLM3D_CHECK(n >= 0 && vec > 0 && sm_count > 0)
      << "elementwise grid: n=" << n << " vec=" << vec << " sm_count=" << sm_count;
  const int64_t need = ceil_div(n, int64_t(kThreads) * vec);
  return {int(std::min<int64_t>(need, int64_t(sm_count) * 8)), kThreads};
}

int row_threads(int64_t C, int per_thread) {
  GLM3D_CHECK(C > 0 && per_thread > 0) << "row kernel: C=" << C << " per_thread=" << per_thread;
  int t = 32;
  while (t < 1024 && int64_t(t) * per_thread < C)
    t *= 2;
  return t;
}

RowPacks row_packs(int64_t packs, int max_per) {
  GLM3D_CHECK(packs > 0 && max_per > 0) << "row packs: packs=" << packs << " max_per=" << max_per;
  for (int per = 1; per <= max_per; per *= 2) {
    const int64_t threads = ceil_div(ceil_div(packs, per), 32) * 32;
    if (threads <= kRowPackThreads)
      return {per, int(threads)};
  }
  return {0, 0};
}

RowChunks row_chunks(int64_t N, int sm_count) {
  GLM3D_CHECK(N > 0 && sm_count > 0) << "row chunks: N=" << N << " sm_count=" << sm_count;
  const int64_t rows = ceil_div(N, int64_t(2) * sm_count);
  return {ceil_div(N, rows), rows};
}

} // namespace glm3d::cuda::launch
