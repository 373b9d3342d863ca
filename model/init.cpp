#include "model/init.h"

#include "core/philox.h"

#include <cmath>

namespace glm3d {

double init_value(const ModelConfig& cfg, const ParamInfo& p, uint64_t seed, int64_t g) {
  switch (p.init) {
  case Init::zeros:
    return 0.0;
  case Init::ones:
    return 1.0;
  case Init::normal:
    return p.gain * Philox4x32::normal(stream_key(seed, p.name), uint64_t(g));
  case Init::uniform:
    return p.gain * (2.0 * Philox4x32::uniform(stream_key(seed, p.name), uint64_t(g)) - 1.0);
  case Init::xavier: {
    // fan_out = rows; for GeGLU's up-projection each half is its own [F, H] matrix.
    const double fan_out = p.split == Split::glu_rows ? double(p.rows / 2) : double(p.rows);
    const double std = p.gain * std::sqrt(2.0 / (double(p.cols) + fan_out));
    return std * Philox4x32::normal(stream_key(seed, p.name), uint64_t(g));
  }
  case Init::qkv_xavier: {
    // Rows are [head][q|k|v][head_dim]; each of q, k, v is an [H, H] matrix.
    const int64_t hd = cfg.head_dim(), row = g / p.cols;
    const bool is_v = (row % (3 * hd)) >= 2 * hd;
    const double std = (is_v ? p.gain : 1.0) * std::sqrt(2.0 / (2.0 * double(p.cols)));
    return std * Philox4x32::normal(stream_key(seed, p.name), uint64_t(g));
  }
  }
  return 0.0;
}

template <class T>
void init_parameters(const ModelConfig& cfg, const ParamTable& table, int tp_rank, uint64_t seed, T* params) {
  for (const auto& p : table.params()) {
    T* dst = params + p.offset;
    const int64_t n = p.numel();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
      dst[i] = T(init_value(cfg, p, seed, p.global_index(i, tp_rank)));
  }
}

template void init_parameters<float>(const ModelConfig&, const ParamTable&, int, uint64_t, float*);
template void init_parameters<double>(const ModelConfig&, const ParamTable&, int, uint64_t, double*);

} // namespace glm3d
