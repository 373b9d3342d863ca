#pragma once
// One of a layer's four matrices (query_key_value, dense, dense_h_to_4h, dense_4h_to_h) as a
// rank holds it for inference, [out, in] (its tensor-parallel shard), in one of the formats:
//   f32    the checkpoint's values
//   bf16   rounded to bf16; the input is rounded to bf16 too (oneDNN bf16 matmul, f32 sums)
//   int8, int4, nf4   quantized (core/quant): ChatGLM-6B's row-wise int8/int4, bitsandbytes'
//          NF4 with double quantization; the matmul dequantizes slabs of rows into a workspace
//          (quant::qlinear_forward), never the whole matrix.
#include "core/dtype.h"
#include "core/quant/qmatrix.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glm3d {

enum class WeightFormat { f32, bf16, int8, int4, nf4 };
std::string format_name(WeightFormat f);                // "f32", "bf16", "int8", "int4", "nf4"
WeightFormat parse_weight_format(const std::string& s); // UsageError on anything else
bool is_quantized(WeightFormat f);

// Buffers a forward reuses across calls (the bf16 copy of the input, the dequantization slabs).
struct LinearScratch {
  std::vector<bf16> x16;
  std::vector<float> slabs;
};

class LinearWeight {
public:
  // W [out, in] f32, stored as `format` (quantized here: the shard itself is quantized, so use
  // it for whole matrices; a quantized checkpoint's shards come through set_quantized).
  void set(std::vector<float> W, int64_t out, int64_t in, WeightFormat format);
  void set_quantized(quant::QuantizedMatrix q);

  // y [N, out] = x [N, in] W^T + b (b [out] may be null).
  void forward(const float* x, const float* b, float* y, int64_t N, LinearScratch& s) const;

  WeightFormat format() const { return format_; }
  int64_t out() const { return out_; }
  int64_t in() const { return in_; }
  int64_t bytes() const; // what the weight occupies (quantized: codes, scales and their state)
  // The weight as f32 [out, in] (dequantized): tests and tools, never the forward.
  std::vector<float> to_f32() const;
  // The quantized matrix (a quantized format only).
  const quant::QuantizedMatrix& quantized() const;

private:
  WeightFormat format_ = WeightFormat::f32;
  int64_t out_ = 0, in_ = 0;
  std::vector<float> f32_;
  std::vector<bf16> b16_;
  std::optional<quant::QuantizedMatrix> q_;
};

} // namespace glm3d
