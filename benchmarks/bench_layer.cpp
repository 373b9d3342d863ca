// One GLM layer (DeepNorm, attention with the GLM mask, 2D RoPE, GeLU FFN) forward +
// backward for the `small` preset at its sequence length, reporting FLOP/s and the ratio
// to a plain f32 matmul at the layer's largest shape measured in the same run.
//   ./glm3d_bench --benchmark_filter=GlmLayer
#include "core/cpu/matmul.h"
#include "data/synthetic_task.h"
#include "model/glm_model.h"

#include <benchmark/benchmark.h>
#include <chrono>
#include <vector>

namespace {

using namespace glm3d;

double seconds(const std::function<void()>& f, int reps) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i)
    f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;
}

// args: micro-batch size, precision (0 f32, 1 bf16).
void BM_GlmLayerSmall(benchmark::State& state) {
  const ModelConfig cfg = preset_config("small"); // H 768, 12 heads, GeLU 3072, seq 512
  const int64_t B = state.range(0), S = cfg.seq_len, H = cfg.hidden, N = B * S;
  ExecPolicy exec; // f32 with dense attention, or bf16 with flash attention
  exec.precision = state.range(1) ? cpu::Precision::bf16 : cpu::Precision::f32;
  exec.attention = state.range(1) ? AttentionImpl::flash : AttentionImpl::dense;
  StagePlan plan;
  plan.chunks = {{1, 1}}; // one middle layer: no embedding, no head
  LocalCommunicator tp("tp");
  GlmModel<float> model(cfg, plan, tp, exec);
  model.init(1);
  SyntheticTask task(S, cfg.vocab, 1);
  std::vector<Sample> samples;
  for (int64_t b = 0; b < B; ++b)
    samples.push_back(task.get(b));
  std::vector<MicroBatch> mbs{stack_samples(samples)};
  std::vector<float> x(size_t(N * H), 0.5f), y(size_t(N * H)), dy(size_t(N * H), 1e-3f), dx(size_t(N * H));
  for (int64_t i = 0; i < N * H; ++i)
    x[size_t(i)] = float((i * 7919) % 1000) / 1000.f - 0.5f;
  auto step = [&] {
    model.set_batch(&mbs, 1.0);
    model.forward(0, 0, x.data(), y.data());
    model.backward(0, 0, dy.data(), dx.data());
  };
  step();             // warm-up: oneDNN primitives
  double layer_s = 0; // timed here too, so the ratio below uses exactly the iterations reported
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    layer_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  // Layer FLOPs per token, forward x3: matmuls 2*(4H^2 + 2HF) + attention 4SH.
  const double F = double(cfg.ffn_hidden);
  const double flops = 3.0 * double(N) * (2.0 * (4.0 * H * H + 2.0 * H * F) + 4.0 * double(S) * H);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  // Reference: the FFN up-projection [N,H] x [H,F] at the same precision, same run.
  std::vector<float> a(size_t(N * H), 0.1f), w(size_t(F * H), 0.01f), c(size_t(N * F));
  const double mm = seconds(
      [&] {
        cpu::linear_forward<float>(a.data(), w.data(), nullptr, c.data(), N, H, int64_t(F), exec.precision);
      },
      5);
  const double mm_rate = 2.0 * double(N) * H * F / mm;
  state.counters["matmul_GFLOP/s"] = mm_rate / 1e9;
  state.counters["layer/matmul"] = flops * double(state.iterations()) / layer_s / mm_rate;
}
BENCHMARK(BM_GlmLayerSmall)->Args({1, 0})->Args({1, 1})->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
