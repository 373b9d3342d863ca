// The manifest of a token store (DIR/manifest.txt): read_manifest, which every reader of a store
// calls first (train --data, prep verify, data sample).
#include "data/token_store.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  fuzz::write_file(k_manifest_name, fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] { (void)read_manifest(fuzz::scratch_dir()); });
  return 0;
}
