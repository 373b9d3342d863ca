#pragma once
// Two 4-bit values per byte, the even element in the high nibble: the layout of both
// ChatGLM-6B's int4 weights (its compress_int4_weight kernel) and bitsandbytes' packed NF4
// codes (quantize_4bit: `q[::2] << 4 | q[1::2]`).
#include <cstdint>

namespace glm3d::quant {

// Serial (callers parallelise over rows or blocks).
// out[j] = (v[2j] << 4) | (v[2j+1] & 15) for j < n/2; n must be even. Only the low 4 bits of
// each v are kept (a signed int4 in two's complement, or an unsigned code 0..15).
void pack_nibbles(const uint8_t* v, int64_t n, uint8_t* out);

inline uint8_t high_nibble(uint8_t byte) {
  return uint8_t(byte >> 4);
}
inline uint8_t low_nibble(uint8_t byte) {
  return uint8_t(byte & 15u);
}
// The nibbles as signed int4 in [-8, 7] (sign-extended, as ChatGLM's extraction kernels do).
inline int8_t high_int4(uint8_t byte) {
  return int8_t(int8_t(byte) >> 4);
}
inline int8_t low_int4(uint8_t byte) {
  return int8_t(int8_t(uint8_t(byte << 4)) >> 4);
}

// A byte's two values as floats, high nibble first: the dequantizers' lookup table (one load per
// byte instead of two nibble decodes), built from a 16-entry value table.
struct NibblePairs {
  float v[256][2];
};
NibblePairs make_nibble_pairs(const float* values16);
const NibblePairs& int4_pairs(); // values16[i] = i as a signed int4 (-8..7)

} // namespace glm3d::quant
