#pragma once
// The quantized layer matrices of a `quantized` checkpoint (docs/checkpoint.md, "Quantized
// weights"): the float32 params/<name> of the four matrices of every layer is replaced by
//   int8, int4  <name>  i8 [out, in] or [out, in/2];  <prefix>.weight_scale  f16 [out]
//   nf4         <name>  u8 [out * in / 2];  <name>.quant_map f32 [16];  <name>.absmax f32 or u8
//               [blocks];  <name>.nested_absmax f32;  <name>.nested_quant_map f32 [256]
// (<prefix> is <name> without ".weight": ChatGLM-6B's QuantizedLinear state dict and
// bitsandbytes' QuantState.as_dict() names). <name> carries the attributes quant, shape [2]
// and, for nf4, blocksize, nested_blocksize, nested_offset. Every dataset has a `checksum`
// (train/checkpoint_format.h checksum_bits over its raw elements).
#include "core/quant/qmatrix.h"
#include "data/h5_check.h"

#include <string>

namespace glm3d {

// Writes q as the datasets of matrix `name` (e.g. "layers.0.attention.dense.weight") into the
// open group (the checkpoint's params/).
void write_quantized_tensor(hid_t group, const std::string& name, const quant::QuantizedMatrix& q);

// Reads matrix `name` of logical shape [rows, cols] from the open group of checkpoint `file`:
// every dataset present with its shape and type, the checksums, the quantization state
// (core/quant validate). UsageError naming the file and the dataset otherwise.
quant::QuantizedMatrix read_quantized_tensor(hid_t group, const std::string& file, const std::string& name,
                                             int64_t rows, int64_t cols);

} // namespace glm3d
