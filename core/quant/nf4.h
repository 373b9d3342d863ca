#pragma once
// bitsandbytes NF4 with optional double quantization, matching bitsandbytes 0.49.2 on the CPU
// (functional.quantize_4bit(A, blocksize=64, quant_type="nf4", compress_statistics=...)):
//   - blocks of 64 over the flattened (row-major) tensor, float32 absmax per block;
//   - scaled = clamp(x * (1 / absmax), -1, 1), code = argmin_i |scaled - NF4[i]|, ties to the
//     lower index; codes packed two per byte, the even element in the high nibble;
//   - double quantization: offset = mean(absmax), absmax - offset quantized by
//     quantize_blockwise8 in blocks of 256 with the dynamic map.
// Dequantized value = NF4[code] * absmax_b, absmax_b = map[q_b] * absmax2[b / 256] + offset when
// nested (each operation in float32, as bitsandbytes).
//
// Field names are those of a bitsandbytes QuantState.as_dict() and of a glm3d quantized
// checkpoint (docs/checkpoint.md).
#include "core/quant/nibbles.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::quant {

inline constexpr int64_t kNf4Blocksize = 64;
inline constexpr int64_t kNestedBlocksize = 256;

// The 16 NF4 values (bitsandbytes' table; the checkpoint's `weight.quant_map`).
const std::array<float, 16>& nf4_code();

// The NF4 index nearest to a scaled value (argmin with ties to the lower index).
uint8_t nf4_nearest(float scaled);

struct Nf4 {
  int64_t rows = 0, cols = 0;                   // the logical weight [out, in]
  std::vector<uint8_t> weight;                  // `weight` [rows * cols / 2] packed codes
  bool nested = false;                          // double quantization
  std::vector<float> absmax;                    // `weight.absmax` float32 [blocks] (not nested)
  std::vector<uint8_t> absmax_codes;            // `weight.absmax` uint8 [blocks] (nested)
  std::vector<float> nested_absmax;             // `weight.nested_absmax` [ceil(blocks / 256)]
  std::array<float, 256> nested_quant_map = {}; // `weight.nested_quant_map`
  float nested_offset = 0.0f;                   // attribute `nested_offset`
  // A tensor-parallel shard keeps the blocks of several places of the full matrix with their
  // 8-bit absmax codes; block b's second-level absmax is then nested_absmax[g] for the stretch g
  // with group_begin[g] <= b < group_begin[g + 1] (each stretch lies in one 256-block group of the
  // full matrix). Empty for a whole matrix: g = b / 256.
  std::vector<int64_t> group_begin;

  int64_t numel() const { return rows * cols; }
  int64_t blocks() const { return (numel() + kNf4Blocksize - 1) / kNf4Blocksize; }
  int64_t bytes() const;             // every stored array (the 16-entry quant_map included)
  uint8_t code(int64_t flat) const { // the code of element `flat` (row-major)
    const uint8_t byte = weight[size_t(flat / 2)];
    return flat % 2 == 0 ? high_nibble(byte) : low_nibble(byte);
  }
  float block_absmax(int64_t b) const { // the (dequantized) absmax of block b
    if (!nested)
      return absmax[size_t(b)];
    const size_t g =
        group_begin.empty()
            ? size_t(b / kNestedBlocksize)
            : size_t(std::upper_bound(group_begin.begin(), group_begin.end(), b) - group_begin.begin() - 1);
    const float a = nested_quant_map[absmax_codes[size_t(b)]] * nested_absmax[g];
    return a + nested_offset;
  }
};

// x [n] -> unpacked codes [n] and absmax [ceil(n / 64)]. An all-zero block gets code 7 (the
// value 0): bitsandbytes 0.47-0.49 produce code 0 there (its 0 * (1 / 0) is NaN), 0.50 code 7.
void nf4_quantize_blocks(const float* x, int64_t n, uint8_t* codes, float* absmax);

// W [rows, cols] -> Nf4; rows * cols must be even; non-finite weights are an error.
Nf4 quantize_nf4(const float* W, int64_t rows, int64_t cols, bool double_quant);

// Double-quantizes absmax [q.blocks()] into q (sets nested and the nested fields) around the
// given offset (quantize_nf4 uses mean_f32(absmax); see README.md on torch's mean).
void nf4_double_quantize(Nf4& q, const float* absmax, float offset);

// Checks an Nf4 read from a file (array sizes against rows x cols); a mismatch is a UsageError naming `what`
// (the tensor) and the sizes.
void validate(const Nf4& q, const std::string& what);

// out [r1 - r0, c1 - c0] = the dequantized rectangle [r0, r1) x [c0, c1). Serial.
void dequantize(const Nf4& q, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out);

} // namespace glm3d::quant
