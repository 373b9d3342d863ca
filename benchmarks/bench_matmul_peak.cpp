// The matmul rate a training step is measured against (benchmarks/peer/run.sh): one square
// product through core/cpu/matmul.h, the code path every model matmul takes.
//   mode 0  f32       gemm<float>, Precision::f32
//   mode 1  bf16      gemm_bf16: bf16 inputs, f32 accumulation and output (the pure rate)
//   mode 2  bf16<-f32 gemm<float>, Precision::bf16: f32 inputs rounded to bf16 on every call,
//                     as linear_forward/backward do in a --precision bf16 step
// trans_b 1 multiplies by B stored [N,K] (linear_forward's W[out,in]^T); 0 is plain row-major.
// The label names the oneDNN implementation (impl_info_str) of the cached primitive gemm runs
// (cpu::detail::onednn_gemm_impl; "bf16-widened:" on a CPU without a bf16 matmul).
//   OMP_NUM_THREADS=2 ./glm3d_bench --benchmark_filter=MatmulPeak
#include "core/cpu/matmul.h"

#include "benchmarks/bench_random.h"
#include "core/cpu/onednn.h"
#include <benchmark/benchmark.h>
#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace glm3d;

// args: size (M = N = K), mode (see above), trans_b.
void BM_MatmulPeak(benchmark::State& state) {
  const int64_t n = state.range(0);
  const int mode = int(state.range(1));
  const bool trans_b = state.range(2) != 0;
  const auto a = bench::random_values(n * n), b = bench::random_values(n * n);
  std::vector<bf16> a16(a.begin(), a.end()), b16(b.begin(), b.end());
  std::vector<float> c(static_cast<size_t>(n * n));
  auto run = [&] {
    if (mode == 1)
      cpu::gemm_bf16(false, trans_b, n, n, n, a16.data(), b16.data(), c.data(), 0.0f);
    else
      cpu::gemm<float>(false, trans_b, n, n, n, a.data(), b.data(), c.data(), 0.0f,
                       mode == 0 ? cpu::Precision::f32 : cpu::Precision::bf16);
  };
  run(); // warm-up: creates and caches the primitive
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(
      2.0 * double(n) * double(n) * double(n) * double(state.iterations()), benchmark::Counter::kIsRate);
  const char* names[] = {"f32", "bf16", "bf16<-f32"};
  state.SetLabel(std::string(names[mode]) + (trans_b ? " NT " : " NN ") +
                 cpu::detail::onednn_gemm_impl(trans_b, n, n, n, mode != 0));
}
BENCHMARK(BM_MatmulPeak)
    ->ArgNames({"n", "mode", "trans_b"})
    ->Args({2048, 0, 0})
    ->Args({2048, 1, 0})
    ->Args({2048, 1, 1})
    ->Args({2048, 2, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
