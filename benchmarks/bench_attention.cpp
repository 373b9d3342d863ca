// Attention forward + backward: glm_attention (keeps the S x S probabilities) against flash
// attention (tiles, per-row statistics only) in f32 and bf16, at the reference peer model's
// shape (S 512, 16 heads of 64) and a GLM-130B tp-8 slice (S 2048, 12 heads of 128), GLM mask
// with sep = S / 2, interleaved qkv [B, S, nh, 3, hd] for both.
//   ./glm3d_bench --benchmark_filter=Attention/
// Counters: FLOP/s over visible (i, j) pairs only (4 hd per pair forward, 8 hd backward, as
// bench_kernels.cpp), scratch_MiB = what the call keeps or allocates beyond q, k, v, out and
// the gradients (probabilities and the backward staging buffer, or lse and the workspaces).
// The label lists the implementation names of every oneDNN matmul created so far.
#include "core/cpu/attention.h"
#include "core/cpu/flash_attention.h"
#include "core/cpu/flash_tile.h"
#include "core/cpu/onednn.h"

#include "benchmarks/bench_random.h"
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cstdint>
#include <omp.h>
#include <string>
#include <vector>

namespace {

using namespace glm3d;
using namespace glm3d::cpu;
using glm3d::bench::random_values;

double visible_pairs(int64_t S, int64_t sep) {
  double n = 0;
  for (int64_t i = 0; i < S; ++i)
    n += double(std::max(sep, i + 1));
  return n;
}

// flops_per_pair_hd: 12 forward + backward, 4 forward only.
void report(benchmark::State& state, const FlashShape& sh, double scratch_bytes, const std::string& what,
            double flops_per_pair_hd = 12.0) {
  const double flops =
      flops_per_pair_hd * double(sh.hd) * double(sh.B * sh.nh) * visible_pairs(sh.S, sh.S / 2);
  state.counters["FLOP/s"] =
      benchmark::Counter(flops * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["scratch_MiB"] = scratch_bytes / double(1 << 20);
  std::string names = what;
  for (const std::string& n : detail::onednn_matmul_impl_names())
    names += " " + n;
  state.SetLabel(names);
}

FlashShape shape_of(const benchmark::State& state) {
  return {state.range(0), state.range(1), state.range(2), state.range(2), state.range(3)};
}

// Today's kernel: probs [B, nh, S, S] written by forward and read by backward.
void BM_GlmAttention(benchmark::State& state) {
  const FlashShape sh = shape_of(state);
  const int64_t B = sh.B, S = sh.S, nh = sh.nh, hd = sh.hd;
  auto qkv = random_values<float>(B * S * nh * 3 * hd), dout = random_values<float>(B * S * nh * hd);
  std::vector<int32_t> sep(size_t(B), int32_t(S / 2));
  std::vector<float> out(dout.size()), probs(size_t(B * nh * S * S)), dqkv(qkv.size());
  for (int warm = 0; warm < 2; ++warm) {
    glm_attention_forward<float>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
    glm_attention_backward<float>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S, nh,
                                  hd);
  }
  for (auto _ : state) {
    glm_attention_forward<float>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
    glm_attention_backward<float>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S, nh,
                                  hd);
    benchmark::DoNotOptimize(dqkv.data());
  }
  const int64_t heads_staged = std::clamp<int64_t>((int64_t(1) << 24) / (S * S), 1, nh); // attention.cpp
  report(state, sh, double(probs.size() + heads_staged * S * S) * sizeof(float), "f32");
}

// args: B, S, nh, hd, forward only, tiles (forward q, kv, backward q, kv; 0: the defaults),
// products of a bf16 call (FlashConfig::Bf16Products: 0 automatic, 1 bf16, 2 f32).
template <class T> void BM_FlashAttention(benchmark::State& state) {
  const FlashShape sh = shape_of(state);
  FlashConfig cfg;
  if (state.range(5) > 0) {
    cfg.fwd = {state.range(5), state.range(6)};
    cfg.bwd = {state.range(7), state.range(8)};
  }
  const int64_t products = state.range(9);
  cfg.bf16_products = FlashConfig::Bf16Products(products);
  const bool forward_only = state.range(4) != 0;
  auto qkv = random_values<T>(sh.B * sh.S * sh.nh * 3 * sh.hd),
       dout = random_values<T>(sh.B * sh.S * sh.nh * sh.hd);
  std::vector<int32_t> sep(size_t(sh.B), int32_t(sh.S / 2));
  std::vector<T> out(dout.size()), dqkv(qkv.size());
  std::vector<flash_acc_t<T>> lse(size_t(sh.B * sh.nh * sh.S));
  const QkvView<const T> x = interleaved_qkv(static_cast<const T*>(qkv.data()), sh.nh, sh.hd);
  const QkvView<T> g = interleaved_qkv(dqkv.data(), sh.nh, sh.hd);
  auto step = [&] {
    flash_attention_forward<T>(x, sep.data(), out.data(), lse.data(), sh, cfg);
    if (!forward_only)
      flash_attention_backward<T>(dout.data(), x, out.data(), lse.data(), sep.data(), g, sh, cfg);
  };
  step();
  step();
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dqkv.data());
  }
  const int threads = omp_get_max_threads();
  const FlashWorkspace fw = flash_forward_workspace<T>(sh, cfg),
                       bw = flash_backward_workspace<T>(sh, cfg, threads);
  const double ws =
      double(std::max(fw.per_thread * threads + fw.shared, bw.per_thread * threads + bw.shared));
  const char* tiles = sizeof(T) != 2 ? "" : flash::bf16_products(cfg) ? " (bf16 tiles)" : " (f32 tiles)";
  report(state, sh, double(lse.size() * sizeof(flash_acc_t<T>)) + ws,
         std::string(sizeof(T) == 2 ? "bf16" : "f32") + tiles + (forward_only ? " forward" : ""),
         forward_only ? 4.0 : 12.0);
}

// Milliseconds of wall time; with --benchmark_repetitions=N the minimum over the repetitions
// is reported too (the machines are shared: the minimum is the least disturbed run).
void timing(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond)->UseRealTime()->ComputeStatistics("min", [](const std::vector<double>& v) {
    return *std::min_element(v.begin(), v.end());
  });
}

// Forward + backward at the two shapes, then forward alone.
void flash_shapes(benchmark::internal::Benchmark* b) {
  for (int64_t forward_only : {0, 1}) {
    b->Args({1, 512, 16, 64, forward_only, 0, 0, 0, 0, 0});
    b->Args({1, 2048, 12, 128, forward_only, 0, 0, 0, 0, 0});
  }
  timing(b);
}
BENCHMARK(BM_GlmAttention)->Args({1, 512, 16, 64})->Args({1, 2048, 12, 128})->Apply(timing);
BENCHMARK_TEMPLATE(BM_FlashAttention, float)->Apply(flash_shapes);
BENCHMARK_TEMPLATE(BM_FlashAttention, bf16)->Apply(flash_shapes);

// A bf16 call with its tiles multiplied in bf16 and in f32 (widened), forward + backward at both
// shapes: how FlashConfig's automatic choice was made on this CPU.
void products_sweep(benchmark::internal::Benchmark* b) {
  for (int64_t products : {1, 2}) {
    b->Args({1, 512, 16, 64, 0, 0, 0, 0, 0, products});
    b->Args({1, 2048, 12, 128, 0, 0, 0, 0, 0, products});
  }
  timing(b);
}
BENCHMARK_TEMPLATE(BM_FlashAttention, bf16)->Name("FlashProducts/bf16")->Apply(products_sweep);

// Tile sizes at the GLM-130B slice and the peer model's shape: forward alone over forward
// tiles, then forward + backward over backward tiles (forward at the default): how the
// defaults were chosen.
void tile_sweep(benchmark::internal::Benchmark* b) {
  const FlashConfig d;
  for (int64_t S : {2048, 512}) {
    const int64_t nh = S == 2048 ? 12 : 16, hd = S == 2048 ? 128 : 64;
    for (int64_t q : {64, 128, 256})
      for (int64_t kv : {128, 256, 512})
        b->Args({1, S, nh, hd, 1, q, kv, d.bwd.q, d.bwd.kv, 0});
    for (int64_t q : {64, 128, 256})
      for (int64_t kv : {128, 256, 512})
        b->Args({1, S, nh, hd, 0, d.fwd.q, d.fwd.kv, q, kv, 0});
  }
  timing(b);
}
BENCHMARK_TEMPLATE(BM_FlashAttention, float)->Name("FlashTiles/f32")->Apply(tile_sweep);
BENCHMARK_TEMPLATE(BM_FlashAttention, bf16)->Name("FlashTiles/bf16")->Apply(tile_sweep);

} // namespace
