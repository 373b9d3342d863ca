// The quantized layer matrices of a `quantized` checkpoint (infer/quantized_checkpoint.h), as
// `glm3d generate` loads them (infer/model_loader.cpp load_quantized_matrices): read_quantized_tensor
// of the four matrices of layer 0 of the seeds' micro GLM (hidden 8, ffn 16): every dataset's
// shape, type and checksum, the quantization attributes and state (core/quant validate).
// Input: the checkpoint file (HDF5), made by `glm3d ckpt quantize` for the seeds.
#include "core/check.h"
#include "data/h5_check.h"
#include "data/h5_object_header.h"
#include "fuzz_support.h"
#include "infer/quantized_checkpoint.h"
#include "model/param_table.h"

#include <utility>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("quantized.h5", fuzz::bytes_of(data, size));
  // [rows, cols] of query_key_value, dense, dense_h_to_4h, dense_4h_to_h (k_layer_matrices order;
  // the micro GLM is GeGLU: dense_h_to_4h holds both halves, 2 x ffn 16 rows).
  constexpr std::pair<int64_t, int64_t> shapes[4] = {{24, 8}, {8, 8}, {32, 8}, {8, 16}};
  fuzz::expect_usage_error_only([&] {
    auto lock = h5::library_lock();
    h5::silence_error_printing();
    // As the loader: a file HDF5 cannot open, or one without params/, is refused before this.
    h5::Handle f;
    try {
      h5::check_root_before_open(path); // as the loader
      f = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
    } catch (const Error& e) {
      GLM3D_USAGE_FAIL() << path << " cannot be opened: " << e.what();
    }
    h5::check_object_header(f.get()); // as the loader: the root's heap, then params'
    GLM3D_USAGE_CHECK(H5Lexists(f.get(), "params", H5P_DEFAULT) > 0) << path << ": no params group";
    h5::Handle g(H5Gopen2(f.get(), "params", H5P_DEFAULT), H5Gclose);
    GLM3D_USAGE_CHECK(g.get() >= 0) << path << ": params is not a group";
    h5::check_object_header(g.get());
    for (int k = 0; k < 4; ++k)
      (void)read_quantized_tensor(g.get(), path, layer_param_name(0, k_layer_matrices[k]), shapes[k].first,
                                  shapes[k].second);
  });
  return 0;
}
