#pragma once
// glm3d ckpt quantize (docs/checkpoint.md, "Quantized weights"); the datasets of one quantized
// matrix are read and written by train/quantized_tensor_h5.h.
#include "infer/linear_weight.h"
#include "train/quantized_tensor_h5.h"

#include <string>

namespace glm3d {

// glm3d ckpt quantize: a float checkpoint `in` -> a quantized checkpoint `out` (kind
// "quantized", root attribute `quantization` = the format), one tensor at a time on one rank.
// The layer matrices as `format` (int8, int4, nf4 with double quantization); the rest as is.
void quantize_checkpoint(const std::string& in, const std::string& out, WeightFormat format);

} // namespace glm3d
