// glm3d_gpu_check: every core/cuda kernel against the CPU f64 path on fresh random inputs,
// outputs poisoned before each run, with the tolerance table of tests/gpu/harness.h; with
// --bench also the GEMM and GLM-130B slice benchmark (tests/gpu/bench.h).
//
//   glm3d_gpu_check [--bench] [--bench-fill random|constant] [--no-checks] [--seed N]
//
// Without a visible CUDA device it prints "no CUDA device: skipped" and exits 0 (ctest maps
// that line to SKIPPED). Exit 1 when any check fails.
#include "bench.h"
#include "checks.h"

#include "core/cuda/check.h"
#include "core/cuda/device.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

using namespace glm3d;

int main(int argc, char** argv) {
  bool bench = false, checks = true;
  gpucheck::BenchFill fill = gpucheck::BenchFill::random;
  uint64_t seed = 0;
  bool seeded = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--bench") {
      bench = true;
    } else if (a == "--bench-fill" && i + 1 < argc &&
               (std::string(argv[i + 1]) == "random" || std::string(argv[i + 1]) == "constant")) {
      fill = std::string(argv[++i]) == "random" ? gpucheck::BenchFill::random : gpucheck::BenchFill::constant;
    } else if (a == "--no-checks") {
      checks = false;
    } else if (a == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
      seeded = true;
    } else {
      std::fprintf(
          stderr,
          "usage: glm3d_gpu_check [--bench] [--bench-fill random|constant] [--no-checks] [--seed N]\n");
      return 2;
    }
  }
  if (cuda::device_count() == 0) {
    std::printf("no CUDA device: skipped\n");
    return 0;
  }
  try {
    const cuda::DeviceInfo dev = cuda::select_device(0);
    std::printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB\n", dev.name.c_str(), dev.cc_major, dev.cc_minor,
                dev.sm_count, double(dev.total_memory) / double(1ull << 30));
    cudaStream_t stream = nullptr;
    CUDA_CHECK(cudaStreamCreate(&stream)); // blocking: ordered with the synchronous copies of the checks
    cuda::DeviceAllocator alloc;
    test::SeededRng rng = seeded ? test::SeededRng(seed) : test::SeededRng();
    gpucheck::Ctx ctx{alloc, stream, rng};
    int failed = 0;
    if (checks) {
      gpucheck::Report report;
      gpucheck::check_pointwise(ctx, report);
      gpucheck::check_matmul(ctx, report);
      gpucheck::check_attention(ctx, report);
      report.print(rng.tag());
      failed = report.failed();
    }
    if (bench)
      gpucheck::print_bench(gpucheck::run_bench(ctx, fill));
    std::printf("allocator: %s\n", alloc.stats().str().c_str());
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return failed == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "glm3d_gpu_check: %s\n", e.what());
    return 1;
  }
}
