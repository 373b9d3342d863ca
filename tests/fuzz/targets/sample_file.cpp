// A sample file (HDF5, `glm3d data sample --out` writes it, `glm3d eval --samples` reads it):
// read_sample_file, as eval calls it.
#include "data/sample_file.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("samples.h5", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] { (void)read_sample_file(path); });
  return 0;
}
