#pragma once
// bitsandbytes' 8-bit blockwise quantization with its dynamic map, as used for NF4 double
// quantization (quantize_4bit(compress_statistics=True): the block absmax values minus their
// mean, in blocks of 256). Semantics of bitsandbytes 0.49.2 on the CPU (csrc/cpu_ops.cpp
// quantize_cpu): per block absmax, x * (1 / absmax), clamp to [-1, 1], the nearest map entry
// with ties to the lower index; an all-zero block gets code 0 and absmax 0.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace glm3d::quant {

// functional.create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) in float32,
// computed the way torch evaluates it (linspace with a fused multiply-add, float32 means and
// products), sorted, with entry 0 set to -1.0: bitsandbytes' CPU quantizer overwrites that entry
// of its cached map in place, so the map stored in a QuantState (`nested_quant_map`) has it.
std::array<float, 256> dynamic_map();

// The index bitsandbytes' CPU quantizer picks for a normalised value: clamp to [-1, 1], the
// first entry >= v and the one before it, the nearer of the two, ties to the lower.
uint8_t nearest_in_map(const float* map256, float v);

// The blockwise pattern both bitsandbytes quantizers share: per block of x [n], absmax [block] =
// max |x|, then q[i] = code_of(x[i] * (1 / absmax)), or zero_code for an all-zero block.
template <class CodeOf>
void quantize_by_block(const float* x, int64_t n, int64_t blocksize, uint8_t zero_code, CodeOf code_of,
                       uint8_t* q, float* absmax) {
  const int64_t blocks = (n + blocksize - 1) / blocksize;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t i0 = b * blocksize, i1 = std::min(n, i0 + blocksize);
    float m = 0.0f;
    for (int64_t i = i0; i < i1; ++i)
      m = std::max(m, std::fabs(x[i]));
    absmax[b] = m;
    const float inv = 1.0f / m;
    for (int64_t i = i0; i < i1; ++i)
      q[i] = m == 0.0f ? zero_code : code_of(x[i] * inv);
  }
}

// x [n] -> q [n] codes and absmax [ceil(n / blocksize)].
void quantize_blockwise8(const float* x, int64_t n, int64_t blocksize, const float* map256, uint8_t* q,
                         float* absmax);
// out [n] = map[q[i]] * absmax[i / blocksize] (float32).
void dequantize_blockwise8(const uint8_t* q, int64_t n, int64_t blocksize, const float* map256,
                           const float* absmax, float* out);

// The mean of x in float64, rounded to float32. bitsandbytes takes torch's float32 mean (its own
// summation order), which can be an ulp away; see core/quant/README.md.
float mean_f32(const float* x, int64_t n);

} // namespace glm3d::quant
