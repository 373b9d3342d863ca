// A safetensors file as `glm3d ckpt import` reads it: SafetensorsReader (8-byte header length,
// JSON header, tensor table checked against the data bytes), then every tensor through read_f32.
#include "model/safetensors.h"
#include "core/check.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("model.safetensors", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] {
    SafetensorsReader r(path);
    for (const auto& [name, info] : r.tensors()) {
      const std::vector<float> v = r.read_f32(name);
      GLM3D_CHECK(int64_t(v.size()) == info.numel()) << "read_f32 of " << name << ": " << v.size();
    }
  });
  return 0;
}
