#include "infer/kv_cache.h"

#include "core/check.h"

#include <limits>

namespace glm3d {

KvCache::KvCache(int64_t layers, int64_t rows, int64_t slots, int64_t heads, int64_t head_dim)
    : layers_(layers), rows_(rows), slots_(slots), heads_(heads), hd_(head_dim) {
  GLM3D_CHECK(layers >= 0 && rows > 0 && slots > 0 && heads > 0 && head_dim > 0)
      << "KV cache " << layers << "x" << rows << "x" << slots << "x" << heads << "x" << head_dim;
  // Poisoned: a slot attention reads before a step wrote it shows up as NaN.
  const size_t n = size_t(layers * rows * slots * heads * head_dim);
  k_.assign(n, std::numeric_limits<float>::quiet_NaN());
  v_.assign(n, std::numeric_limits<float>::quiet_NaN());
}

} // namespace glm3d
