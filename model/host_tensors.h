#pragma once
// Named f32 tensors in host memory, the currency of the adapter formats (model/peft_format.h,
// model/ptuning_format.h): the model code fills them from its shards and reads them back.
// A safetensors file is checked against the names and shapes a model expects.
#include "core/tensor.h" // shape_str
#include "model/safetensors.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace glm3d {

struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> data; // row-major, numel(shape) values
};
using TensorMap = std::map<std::string, HostTensor>;
using ShapeMap = std::map<std::string, std::vector<int64_t>>; // name -> shape

// Writes exactly the tensors of `expected` (each must be in `tensors` with that shape: a caller's
// bug otherwise, glm3d::Error) to a safetensors file, in the order of `expected`'s names.
void write_expected_tensors(const std::string& path, const ShapeMap& expected, const TensorMap& tensors,
                            StDtype dtype, const std::map<std::string, std::string>& metadata);

// Reads a safetensors file that must hold exactly the tensors of `expected`, with those shapes.
// UsageError "<what> <path>: ..." naming the tensor that is missing, unexpected or misshapen;
// `hint` ends the message of an unexpected tensor (what the expected set is).
TensorMap read_expected_tensors(const std::string& path, const ShapeMap& expected, const std::string& what,
                                const std::string& hint);

} // namespace glm3d
