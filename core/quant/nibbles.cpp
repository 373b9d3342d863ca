#include "core/quant/nibbles.h"

#include "core/check.h"

namespace glm3d::quant {

void pack_nibbles(const uint8_t* v, int64_t n, uint8_t* out) {
  GLM3D_CHECK(n % 2 == 0) << "4-bit packing needs an even number of values, got " << n;
  for (int64_t j = 0; j < n / 2; ++j)
    out[j] = uint8_t((v[2 * j] << 4) | (v[2 * j + 1] & 15u));
}

NibblePairs make_nibble_pairs(const float* values16) {
  NibblePairs t;
  for (int b = 0; b < 256; ++b) {
    t.v[b][0] = values16[b >> 4];
    t.v[b][1] = values16[b & 15];
  }
  return t;
}

const NibblePairs& int4_pairs() {
  static const NibblePairs t = [] {
    float v[16];
    for (int i = 0; i < 16; ++i)
      v[i] = float(i < 8 ? i : i - 16);
    return make_nibble_pairs(v);
  }();
  return t;
}

} // namespace glm3d::quant
