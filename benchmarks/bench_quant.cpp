// Quantized linear (core/quant/qlinear.h) against the float32 linear at a 4096 x 4096 weight,
// N = 1 (decode) .. 64 (prefill) tokens: FLOP/s (2 N in out per call), the weight's bytes and its
// ratio to float32, and the bytes of weight streamed per second. Also the input gradient (QLoRA).
//   ./glm3d_bench --benchmark_filter=Quant      (OMP_NUM_THREADS sets the thread count)
#include "core/cpu/matmul.h"
#include "core/quant/qlinear.h"

#include <benchmark/benchmark.h>
#include <cstdint>
#include <random>
#include <vector>

namespace {

using namespace glm3d;

constexpr int64_t kDim = 4096;
const char* kFormats[] = {"f32", "int8", "int4", "nf4", "nf4-dq"};

std::vector<float> normal_floats(int64_t n, float stddev) {
  std::mt19937 gen(2024); // fixed: repeatable inputs
  std::normal_distribution<float> d(0.0f, stddev);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v)
    x = d(gen);
  return v;
}

// One weight per format, quantized once for the whole run.
const quant::QuantizedMatrix& weight(int format) {
  static const std::vector<float> W = normal_floats(kDim * kDim, 0.02f);
  static const std::vector<quant::QuantizedMatrix> q = {
      quant::quantize_rowwise(W.data(), kDim, kDim, 8), quant::quantize_rowwise(W.data(), kDim, kDim, 4),
      quant::quantize_nf4(W.data(), kDim, kDim, false), quant::quantize_nf4(W.data(), kDim, kDim, true)};
  return q[size_t(format - 1)];
}
const std::vector<float>& dense_weight() {
  static const std::vector<float> W = normal_floats(kDim * kDim, 0.02f);
  return W;
}

void report(benchmark::State& state, int format, int64_t N) {
  const double f32_bytes = 4.0 * kDim * kDim;
  const double w_bytes = format == 0 ? f32_bytes : double(quant::bytes(weight(format)));
  state.counters["FLOP/s"] = benchmark::Counter(2.0 * double(N) * kDim * kDim * double(state.iterations()),
                                                benchmark::Counter::kIsRate);
  state.counters["weight_MiB"] = w_bytes / (1 << 20);
  state.counters["vs_f32"] = w_bytes / f32_bytes;
  state.counters["weight_B/s"] =
      benchmark::Counter(w_bytes * double(state.iterations()), benchmark::Counter::kIsRate);
  state.SetLabel(kFormats[format]);
}

// Times call(workspace, floats) after one warm-up call (which quantizes the weight once and
// creates the oneDNN primitives).
template <class Call> void run(benchmark::State& state, int format, int64_t N, Call call) {
  std::vector<float> ws(format == 0 ? 0 : size_t(quant::qlinear_workspace_floats(weight(format), N)));
  call(ws.data(), int64_t(ws.size()));
  for (auto _ : state) {
    call(ws.data(), int64_t(ws.size()));
    benchmark::ClobberMemory();
  }
}

// args: N tokens, format (0 f32, 1 int8, 2 int4, 3 nf4, 4 nf4 with double quantization).
void BM_QuantLinearForward(benchmark::State& state) {
  const int64_t N = state.range(0);
  const int format = int(state.range(1));
  const std::vector<float> x = normal_floats(N * kDim, 1.0f);
  std::vector<float> y(static_cast<size_t>(N * kDim));
  run(state, format, N, [&](float* ws, int64_t ws_floats) {
    if (format == 0)
      cpu::linear_forward<float>(x.data(), dense_weight().data(), nullptr, y.data(), N, kDim, kDim);
    else
      quant::qlinear_forward(weight(format), x.data(), nullptr, y.data(), N, ws, ws_floats);
  });
  report(state, format, N);
}
BENCHMARK(BM_QuantLinearForward)
    ->ArgsProduct({{1, 8, 64}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// dx[N, in] = dy[N, out] · dequant(W): the gradient QLoRA sends through the frozen base.
void BM_QuantLinearInputGrad(benchmark::State& state) {
  const int64_t N = state.range(0);
  const int format = int(state.range(1));
  const std::vector<float> dy = normal_floats(N * kDim, 1.0f);
  std::vector<float> dx(static_cast<size_t>(N * kDim));
  run(state, format, N, [&](float* ws, int64_t ws_floats) {
    if (format == 0)
      cpu::gemm<float>(false, false, N, kDim, kDim, dy.data(), dense_weight().data(), dx.data(), 0.0f);
    else
      quant::qlinear_backward_input(weight(format), dy.data(), dx.data(), N, false, ws, ws_floats);
  });
  report(state, format, N);
}
BENCHMARK(BM_QuantLinearInputGrad)
    ->ArgsProduct({{64}, {0, 1, 2, 3, 4}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
