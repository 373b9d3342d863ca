#include "core/quant/nibbles.h"

#include "core/check.h"

namespace glm3d::quant {

void pack_nibbles(const uint8_t* v, int64_t n, uint8_t* out) {
  GLM3D_CHECK(n % 2 == 0) << "4-bit packing needs an even number of values, got " << n;
  for (int64_t j = 0; j < n / 2; ++j)
    out[j] = uint8_t((v[2 * j] << 4) | (v[2 * j + 1] & 15u));
}

} // namespace glm3d::quant
