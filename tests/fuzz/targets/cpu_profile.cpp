// The CPU profile (`glm3d bench matmul` writes it, `glm3d plan --device cpu` reads it; JSON):
// load_calibration, then what plan does with it: describe (printed) and cpu_device for 1 and 8
// ranks per node (the planner's device: peak rates, memory per rank).
#include "fuzz_support.h"
#include "plan/cpu_calibration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("cpu_profile.json", fuzz::bytes_of(data, size));
  fuzz::expect_usage_error_only([&] {
    const std::optional<CpuCalibration> c = load_calibration(path);
    if (!c)
      return;
    (void)describe(*c);
    (void)cpu_device(*c, 1);
    (void)cpu_device(*c, 8);
  });
  return 0;
}
