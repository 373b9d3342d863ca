#pragma once
// A weight matrix [rows, cols] = [out, in] held in one of the quantized formats, with the few
// operations the quantized linear needs.
#include "core/quant/chatglm_int.h"
#include "core/quant/nf4.h"

#include <variant>

namespace glm3d::quant {

using QuantizedMatrix = std::variant<RowwiseInt, Nf4>;

inline int64_t rows(const QuantizedMatrix& w) {
  return std::visit([](const auto& q) { return q.rows; }, w);
}
inline int64_t cols(const QuantizedMatrix& w) {
  return std::visit([](const auto& q) { return q.cols; }, w);
}
// Bytes of every stored array (weights, scales, quantization state).
inline int64_t bytes(const QuantizedMatrix& w) {
  return std::visit([](const auto& q) { return q.bytes(); }, w);
}
// out [r1 - r0, c1 - c0] = the dequantized rectangle (float32, serial).
inline void dequantize(const QuantizedMatrix& w, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) {
  std::visit([&](const auto& q) { dequantize(q, r0, r1, c0, c1, out); }, w);
}

} // namespace glm3d::quant
