#pragma once
// ChatGLM-6B weight-only quantization (its quantization.py, QuantizedLinear): one float16 scale
// per output row, absmax / (2^(bits-1) - 1); values W / scale rounded half to even (torch.round),
// so int8 lies in [-127, 127] and int4 in [-7, 7]; int4 packed two per byte, the even column in
// the high nibble, giving ChatGLM's `weight` tensor of shape [out, in/2] (int8).
//
// One deliberate difference: when a row's float16 scale is subnormal (absmax below 127 * 2^-14
// for int8, 7 * 2^-14 for int4) the quotient can round one step past the range; ChatGLM then
// wraps in its int8 cast, glm3d clamps to [-qmax, qmax]. A row whose scale is 0 (all zeros, or
// absmax below the float16 range) quantizes to zeros (ChatGLM divides by zero there).
#include <cstdint>
#include <string>
#include <vector>

namespace glm3d::quant {

struct RowwiseInt {
  int bits = 8;               // 8 or 4
  int64_t rows = 0, cols = 0; // the logical weight [out, in]
  // Checkpoint `<name>.weight`: bits 8 [rows, cols]; bits 4 [rows, cols/2], byte j of a row is
  // (q[2j] << 4) | (q[2j+1] & 15).
  std::vector<int8_t> weight;
  std::vector<uint16_t> scale; // checkpoint `<name>.weight_scale`: [rows] float16 bits

  int64_t qmax() const { return (int64_t(1) << (bits - 1)) - 1; }
  int64_t stored_cols() const { return bits == 8 ? cols : cols / 2; }
  int64_t bytes() const { return int64_t(weight.size()) + 2 * int64_t(scale.size()); }
  int8_t value(int64_t r, int64_t c) const; // the integer q[r, c]
};

// W [rows, cols] float32 -> ChatGLM's int8 / packed int4 weight and float16 row scales.
// bits 4 needs an even cols. Non-finite weights are an error.
RowwiseInt quantize_rowwise(const float* W, int64_t rows, int64_t cols, int bits);

// Checks a RowwiseInt read from a file (bits, array sizes against rows x cols); a mismatch is a
// UsageError naming `what` (the tensor) and the sizes.
void validate(const RowwiseInt& q, const std::string& what);

// out [r1 - r0, c1 - c0] = q[r, c] * scale[r] (exact in float32) for the rectangle
// [r0, r1) x [c0, c1). Serial: the quantized linear calls it from its own threads.
void dequantize(const RowwiseInt& q, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out);

} // namespace glm3d::quant
