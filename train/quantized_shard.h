#pragma once
// A tensor-parallel rank's shard of a quantized matrix, cut from the whole quantized matrix of
// a checkpoint, so every layout computes with the very values a single rank would:
//   ChatGLM int8 / int4: the shard's rows (each with its float16 scale) and columns; int4
//     columns come in byte pairs, so a column shard must start and end at even columns.
//   NF4: the 64-element blocks of the flattened matrix a shard covers; a shard must cover whole
//     blocks. Double quantization is kept: the blocks' 8-bit absmax codes, and per stretch of
//     blocks from one 256-block group of the full matrix its second-level absmax
//     (quant::Nf4::group_begin), so a shard dequantizes to the very floats of the whole matrix.
#include "core/quant/qmatrix.h"
#include "train/checkpoint_format.h"

#include <string>
#include <vector>

namespace glm3d {

// The shard of `full` ([rows, cols] of the whole matrix) made of the rectangles `rects`
// (train/checkpoint_format.h shard_rects: row blocks stacked in order, or one column block).
// `full` itself when the rectangles are the whole matrix. UsageError naming `what` when a cut
// does not fall on an int4 byte or an NF4 block boundary.
quant::QuantizedMatrix quantized_shard(const quant::QuantizedMatrix& full, const std::vector<Rect>& rects,
                                       const std::string& what);

} // namespace glm3d
