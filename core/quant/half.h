#pragma once
// IEEE binary16 (float16) bit patterns, converted with round-to-nearest-even (subnormals,
// infinities and NaN kept), as torch's Tensor.half() on the CPU. ChatGLM-6B stores its per-row
// weight scales in float16; glm3d keeps them as these bits so a ChatGLM checkpoint exports
// unchanged.
#include <cstdint>

namespace glm3d::quant {

uint16_t f32_to_f16_bits(float f);
float f16_bits_to_f32(uint16_t h); // exact: every float16 is a float32

} // namespace glm3d::quant
