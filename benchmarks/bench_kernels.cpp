// CPU kernel benchmarks at GLM shapes. FLOP-bound kernels report a FLOP/s rate counter
// (FLOPs per iteration x iterations, kIsRate); memory-bound ones report bytes/s.
//   ./glm3d_bench --benchmark_filter=Linear      (OMP_NUM_THREADS sets the thread count)
#include "core/cpu/activation.h"
#include "core/cpu/adamw.h"
#include "core/cpu/attention.h"
#include "core/cpu/convert.h"
#include "core/cpu/cross_entropy.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/matmul.h"

#include "benchmarks/bench_random.h"
#include <algorithm>
#include <benchmark/benchmark.h>
#include <cstdint>
#include <vector>

namespace {

using namespace glm3d::cpu;
using glm3d::bench::random_values;

void set_flops(benchmark::State& state, double flops_per_iter) {
  state.counters["FLOP/s"] =
      benchmark::Counter(flops_per_iter * double(state.iterations()), benchmark::Counter::kIsRate);
}

// y[N,out] = x[N,in] W[out,in]^T; args: N, in, out, precision (0 f32, 1 bf16).
void BM_LinearForward(benchmark::State& state) {
  const int64_t N = state.range(0), in = state.range(1), out = state.range(2);
  const Precision prec = state.range(3) ? Precision::bf16 : Precision::f32;
  auto x = random_values(N * in), W = random_values(out * in);
  std::vector<float> y(static_cast<size_t>(N * out));
  linear_forward<float>(x.data(), W.data(), nullptr, y.data(), N, in, out,
                        prec); // warm-up: creates the primitive
  for (auto _ : state) {
    linear_forward<float>(x.data(), W.data(), nullptr, y.data(), N, in, out, prec);
    benchmark::DoNotOptimize(y.data());
  }
  set_flops(state, 2.0 * double(N) * double(in) * double(out));
  state.SetLabel(prec == Precision::bf16 ? "bf16" : "f32");
}
// `small`-like FFN (hidden 1024 -> 4096) at 2048 tokens, and a GLM-130B tp-8 QKV slice
// (hidden 12288 -> 3 * 12288 / 8) at 2048 tokens.
BENCHMARK(BM_LinearForward)
    ->Args({2048, 1024, 4096, 0})
    ->Args({2048, 1024, 4096, 1})
    ->Args({2048, 12288, 4608, 0})
    ->Args({2048, 12288, 4608, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// dx = dy W and dW += dy^T x (no bias): 4 N in out FLOPs.
void BM_LinearBackward(benchmark::State& state) {
  const int64_t N = state.range(0), in = state.range(1), out = state.range(2);
  const Precision prec = state.range(3) ? Precision::bf16 : Precision::f32;
  auto x = random_values(N * in), W = random_values(out * in), dy = random_values(N * out);
  std::vector<float> dx(static_cast<size_t>(N * in)), dW(static_cast<size_t>(out * in), 0.0f);
  linear_backward<float>(dy.data(), x.data(), W.data(), dx.data(), dW.data(), nullptr, N, in, out, false,
                         prec);
  for (auto _ : state) {
    linear_backward<float>(dy.data(), x.data(), W.data(), dx.data(), dW.data(), nullptr, N, in, out, false,
                           prec);
    benchmark::DoNotOptimize(dW.data());
  }
  set_flops(state, 4.0 * double(N) * double(in) * double(out));
  state.SetLabel(prec == Precision::bf16 ? "bf16" : "f32");
}
// The FFN shape above, then the LM head of the peer model (hidden 1024, vocab 32000) over 131
// rows (2^22 logits, the head's old chunk) and over 1024: dW += dy^T x makes one pass over the
// f32 [32000, 1024] gradient per chunk. These round f32 operands to bf16 on every call; the
// head as the model runs it, on pre-rounded operands, is BM_HeadChunks below. On an
// AVX512_BF16 CPU without AMX (2 threads): 241 and 319 GFLOP/s, and larger chunks did not show in
// the peer model's step time then. With AMX they do (BM_HeadChunks), hence head_chunk_rows' floor.
BENCHMARK(BM_LinearBackward)
    ->Args({2048, 1024, 4096, 0})
    ->Args({2048, 1024, 4096, 1})
    ->Args({131, 1024, 32000, 1})
    ->Args({1024, 1024, 32000, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The LM head of a bf16 step as the model runs it (model/glm_model.cpp head_rows / head_backward):
// the bf16 input hf [N, H] and the bf16 weight E [V, H] are rounded once, and the N rows go
// through linear_forward_bf16 and linear_backward_bf16 in chunks of `rows` rows. FLOPs: 6 N H V
// per iteration (forward, input gradient, weight gradient). args: N, H, V, rows.
// oneDNN packs the whole weight for every product, so small chunks pay for E again and again.
void BM_HeadChunks(benchmark::State& state) {
  const int64_t N = state.range(0), H = state.range(1), V = state.range(2), rows = state.range(3);
  const auto hf = random_values<glm3d::bf16>(N * H), E = random_values<glm3d::bf16>(V * H);
  const auto dlogits = random_values(rows * V, -1e-3f, 1e-3f);
  std::vector<float> logits(static_cast<size_t>(rows * V)), dhf(static_cast<size_t>(N * H));
  std::vector<float> dE(static_cast<size_t>(V * H), 0.0f);
  auto step = [&] {
    for (int64_t r0 = 0; r0 < N; r0 += rows) {
      const int64_t n = std::min(rows, N - r0);
      linear_forward_bf16(hf.data() + r0 * H, E.data(), nullptr, logits.data(), n, H, V);
      linear_backward_bf16(dlogits.data(), hf.data() + r0 * H, E.data(), dhf.data() + r0 * H, dE.data(),
                           nullptr, n, H, V, false);
    }
  };
  step(); // warm-up: creates the primitives
  for (auto _ : state) {
    step();
    benchmark::DoNotOptimize(dE.data());
  }
  set_flops(state, 6.0 * double(N) * double(H) * double(V));
}
// The peer model's head (2048 tokens, hidden 1024, vocab 32000) in chunks of 131 rows (2^22
// logits), 512, 1024 and 2048 rows.
BENCHMARK(BM_HeadChunks)
    ->ArgNames({"N", "H", "V", "rows"})
    ->Args({2048, 1024, 32000, 131})
    ->Args({2048, 1024, 32000, 512})
    ->Args({2048, 1024, 32000, 1024})
    ->Args({2048, 1024, 32000, 2048})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// args: rows, C. Bytes: x read, y written (forward).
void BM_LayerNormForward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  auto x = random_values(N * C), g = random_values(C), b = random_values(C);
  std::vector<float> y(static_cast<size_t>(N * C)), mean(static_cast<size_t>(N)),
      rstd(static_cast<size_t>(N));
  for (auto _ : state) {
    layernorm_forward<float>(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * N * C * int64_t(sizeof(float)));
}
BENCHMARK(BM_LayerNormForward)->Args({2048, 1024})->Args({2048, 12288})->UseRealTime();

// Bytes: dy, x read, dx written.
void BM_LayerNormBackward(benchmark::State& state) {
  const int64_t N = state.range(0), C = state.range(1);
  auto x = random_values(N * C), g = random_values(C), b = random_values(C), dy = random_values(N * C);
  std::vector<float> y(static_cast<size_t>(N * C)), mean(static_cast<size_t>(N)),
      rstd(static_cast<size_t>(N));
  std::vector<float> dx(static_cast<size_t>(N * C)), dg(static_cast<size_t>(C)), db(static_cast<size_t>(C));
  layernorm_forward<float>(x.data(), g.data(), b.data(), y.data(), mean.data(), rstd.data(), N, C, 1e-5);
  for (auto _ : state) {
    layernorm_backward<float>(dy.data(), x.data(), g.data(), mean.data(), rstd.data(), dx.data(), dg.data(),
                              db.data(), N, C, false);
    benchmark::DoNotOptimize(dx.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 3 * N * C * int64_t(sizeof(float)));
}
BENCHMARK(BM_LayerNormBackward)->Args({2048, 1024})->Args({2048, 12288})->UseRealTime();

// Attention FLOPs counted over visible (b, h, i, j) pairs only: 4 hd per pair forward (q.k and
// p v), 8 hd backward (dp, dv, dq, dk). args: B, S, nh, hd; sep = S / 2.
double visible_pairs(int64_t S, int64_t sep) {
  double n = 0;
  for (int64_t i = 0; i < S; ++i)
    n += double(std::max(sep, i + 1));
  return n;
}

void BM_AttentionForward(benchmark::State& state) {
  const int64_t B = state.range(0), S = state.range(1), nh = state.range(2), hd = state.range(3);
  auto qkv = random_values(B * S * nh * 3 * hd);
  std::vector<int32_t> sep(static_cast<size_t>(B), int32_t(S / 2));
  std::vector<float> out(static_cast<size_t>(B * S * nh * hd)), probs(static_cast<size_t>(B * nh * S * S));
  glm_attention_forward<float>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd); // warm-up
  for (auto _ : state) {
    glm_attention_forward<float>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
    benchmark::DoNotOptimize(out.data());
  }
  set_flops(state, 4.0 * double(hd) * double(B * nh) * visible_pairs(S, S / 2));
}
BENCHMARK(BM_AttentionForward)
    ->Args({1, 2048, 16, 64})
    ->Args({1, 2048, 12, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_AttentionBackward(benchmark::State& state) {
  const int64_t B = state.range(0), S = state.range(1), nh = state.range(2), hd = state.range(3);
  auto qkv = random_values(B * S * nh * 3 * hd), dout = random_values(B * S * nh * hd);
  std::vector<int32_t> sep(static_cast<size_t>(B), int32_t(S / 2));
  std::vector<float> out(static_cast<size_t>(B * S * nh * hd)), probs(static_cast<size_t>(B * nh * S * S));
  std::vector<float> dqkv(qkv.size());
  glm_attention_forward<float>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
  glm_attention_backward<float>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S, nh, hd);
  for (auto _ : state) {
    glm_attention_backward<float>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S, nh,
                                  hd);
    benchmark::DoNotOptimize(dqkv.data());
  }
  set_flops(state, 8.0 * double(hd) * double(B * nh) * visible_pairs(S, S / 2));
}
BENCHMARK(BM_AttentionBackward)
    ->Args({1, 2048, 16, 64})
    ->Args({1, 2048, 12, 128})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Forward + backward over one tp-8 vocab slice of GLM-130B (150528 / 8 = 18816 ids) at 2048
// tokens; bytes: logits read, probs written, probs read, dlogits written.
void BM_CrossEntropy(benchmark::State& state) {
  const int64_t N = state.range(0), Vl = state.range(1);
  auto logits = random_values(N * Vl, -4.0f, 4.0f);
  std::vector<int32_t> targets(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n)
    targets[n] = int32_t((n * 7919) % Vl);
  std::vector<uint8_t> mask(static_cast<size_t>(N), 1);
  std::vector<float> losses(static_cast<size_t>(N)), probs(static_cast<size_t>(N * Vl)),
      dloss(static_cast<size_t>(N), 1.0f);
  for (auto _ : state) {
    vocab_parallel_ce_forward<float>(logits.data(), targets.data(), mask.data(), losses.data(), probs.data(),
                                     N, Vl, 0, Vl, VocabReduce<float>::local());
    vocab_parallel_ce_backward<float>(probs.data(), targets.data(), mask.data(), dloss.data(), probs.data(),
                                      N, Vl, 0, Vl);
    benchmark::DoNotOptimize(probs.data());
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 4 * N * Vl * int64_t(sizeof(float)));
}
BENCHMARK(BM_CrossEntropy)->Args({2048, 18816})->Unit(benchmark::kMillisecond)->UseRealTime();

// GeLU forward + backward over [tokens, F] (element-wise, bound by the tanh); args: tokens, F.
void BM_GeluForwardBackward(benchmark::State& state) {
  const int64_t n = state.range(0) * state.range(1);
  auto x = random_values(n, -4.0f, 4.0f), dy = random_values(n);
  std::vector<float> y(static_cast<size_t>(n)), dx(static_cast<size_t>(n));
  for (auto _ : state) {
    gelu_forward(x.data(), y.data(), n);
    gelu_backward(x.data(), dy.data(), dx.data(), n);
    benchmark::DoNotOptimize(dx.data());
  }
  // x and dy read, y and dx written: 16 bytes per element.
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 16);
}
BENCHMARK(BM_GeluForwardBackward)->Args({2048, 3072})->Unit(benchmark::kMillisecond)->UseRealTime();

// One AdamW step over n f32 parameters (the optimizer's pass over a rank's shard); arg: n.
void BM_AdamW(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto param = random_values(n), grad = random_values(n);
  std::vector<float> m(static_cast<size_t>(n)), v(static_cast<size_t>(n));
  AdamWHyper h;
  int64_t step = 0;
  for (auto _ : state) {
    adamw_update(param.data(), grad.data(), m.data(), v.data(), n, h, ++step, true);
    benchmark::DoNotOptimize(param.data());
  }
  // param, m, v read and written, grad read: 28 bytes per parameter.
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 28);
}
BENCHMARK(BM_AdamW)->Arg(int64_t(1) << 24)->Unit(benchmark::kMillisecond)->UseRealTime();

// f32 -> bf16 (round to nearest even) and back over n values: the once-per-step refresh of the
// bf16 weights and the rounding of activations and gradients for bf16 matmuls; arg: n.
void BM_Bf16Convert(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto x = random_values(n);
  std::vector<glm3d::bf16> b(static_cast<size_t>(n));
  std::vector<float> y(static_cast<size_t>(n));
  for (auto _ : state) {
    to_bf16(x.data(), b.data(), n);
    to_f32(b.data(), y.data(), n);
    benchmark::DoNotOptimize(y.data());
  }
  // 4 read + 2 written, 2 read + 4 written: 12 bytes per value.
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 12);
}
BENCHMARK(BM_Bf16Convert)->Arg(int64_t(1) << 24)->Unit(benchmark::kMillisecond)->UseRealTime();

// Sum of squares of n f32 values in double: the gradient norm of every step (clipping) runs it
// over all of a rank's gradients; arg: n.
void BM_SumSquares(benchmark::State& state) {
  const int64_t n = state.range(0);
  auto x = random_values(n);
  double s = 0;
  for (auto _ : state) {
    s += sum_squares(x.data(), n);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 4);
}
BENCHMARK(BM_SumSquares)->Arg(int64_t(1) << 24)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
