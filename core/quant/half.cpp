#include "core/quant/half.h"

#include <bit>

namespace glm3d::quant {
namespace {
uint32_t bits_of(float f) {
  return std::bit_cast<uint32_t>(f);
}
float float_of(uint32_t u) {
  return std::bit_cast<float>(u);
}
} // namespace

uint16_t f32_to_f16_bits(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) // NaN: keep it quiet
    return uint16_t(sign | 0x7e00u);
  if (a >= 0x477ff000u) // >= 65520 rounds to infinity (65504 is the largest half)
    return uint16_t(sign | 0x7c00u);
  if (a < 0x38800000u) { // below 2^-14: a subnormal half (or zero)
    // Adding 0.5 (2^-1) aligns the value so that the float32 adder's own rounding, which is
    // round-to-nearest-even, leaves the half's mantissa in the low bits: 2^-1 has ulp 2^-24,
    // the half subnormal step.
    const float shifted = float_of(a) + 0.5f;
    return uint16_t(sign | uint16_t(bits_of(shifted) - bits_of(0.5f)));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 23-bit mantissa to 10 bits.
  const uint32_t mant_odd = (a >> 13) & 1u;
  const uint32_t r = a + 0xc8000fffu + mant_odd; // -(112 << 23) + 0xfff + odd: round half to even
  return uint16_t(sign | uint16_t(r >> 13));
}

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0) // zero or subnormal: mant * 2^-24, exact in float32
    return float_of(sign | bits_of(float(mant) * 0x1p-24f));
  if (exp == 31)
    return float_of(sign | 0x7f800000u | (mant << 13));
  return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
}

} // namespace glm3d::quant
