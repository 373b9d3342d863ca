#include "model/host_tensors.h"

#include "core/check.h"
#include "core/tensor.h"

namespace glm3d {

void write_expected_tensors(const std::string& path, const ShapeMap& expected, const TensorMap& tensors,
                            StDtype dtype, const std::map<std::string, std::string>& metadata) {
  std::vector<StTensorOut> out;
  for (const auto& [name, shape] : expected) {
    const auto it = tensors.find(name);
    GLM3D_CHECK(it != tensors.end()) << path << ": no tensor '" << name << "' given";
    GLM3D_CHECK(it->second.shape == shape && int64_t(it->second.data.size()) == numel_of(shape))
        << path << ": tensor '" << name << "' is " << shape_str(it->second.shape) << " with "
        << it->second.data.size() << " values, expected " << shape_str(shape);
    out.push_back({name, shape, it->second.data.data()});
  }
  for (const auto& [name, t] : tensors)
    GLM3D_CHECK(expected.count(name)) << path << ": tensor '" << name << "' is not part of the format";
  write_safetensors(path, out, dtype, metadata);
}

TensorMap read_expected_tensors(const std::string& path, const ShapeMap& expected, const std::string& what,
                                const std::string& hint) {
  SafetensorsReader reader(path);
  for (const auto& [name, info] : reader.tensors())
    GLM3D_USAGE_CHECK(expected.count(name)) << what << " " << path << ": unexpected tensor '" << name << "' "
                                            << shape_str(info.shape) << " (" << hint << ")";
  TensorMap out;
  for (const auto& [name, shape] : expected) {
    const auto it = reader.tensors().find(name);
    GLM3D_USAGE_CHECK(it != reader.tensors().end())
        << what << " " << path << ": no tensor '" << name << "' (" << hint << ")";
    GLM3D_USAGE_CHECK(it->second.shape == shape)
        << what << " " << path << ": tensor '" << name << "' is " << shape_str(it->second.shape)
        << ", expected " << shape_str(shape);
    out[name] = HostTensor{shape, reader.read_f32(name)};
  }
  return out;
}

} // namespace glm3d
