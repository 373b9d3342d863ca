// What oneDNN's blocked weight layout would buy a bf16 step: the same bf16 product with the
// weight operand B in plain row-major (what core/cpu/matmul.cpp passes today) and in the layout
// oneDNN picks for it (memory::format_tag::any, reordered once before timing, as a per-step
// bf16 weight copy would be). The reorder itself is timed separately (BM_WeightReorder): a
// blocked copy would be refreshed once per optimizer step, the product runs once per
// micro-batch. Shapes: the peer model's (benchmarks/peer/reference.ini: 2048 tokens, hidden
// 1024, QKV 3072, FFN 4096) and the 2048^3 square.
//   args: M, N, K, trans_b (B stored [N,K], as linear_forward's W), blocked (0 plain, 1 any)
//   OMP_NUM_THREADS=2 ./glm3d_bench --benchmark_filter='MatmulLayout|WeightReorder'
#include "benchmarks/bench_random.h"
#include "core/cpu/onednn_compat.h"
#include "core/dtype.h"

#include <benchmark/benchmark.h>
#include <cstdint>
#include <dnnl.hpp>
#include <string>
#include <vector>

namespace {

using glm3d::bf16;
using dims = dnnl::memory::dims;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

// B [K,N] as stored: row-major [K,N], or [N,K] read transposed (trans_b).
dnnl::memory::desc plain_b(int64_t N, int64_t K, bool trans_b) {
  return trans_b ? dnnl::memory::desc(dims{K, N}, dt::bf16, dims{1, K})
                 : dnnl::memory::desc(dims{K, N}, dt::bf16, dims{N, 1});
}

struct Product {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  dnnl::memory a, b_plain, b_used, c;

  Product(int64_t M, int64_t N, int64_t K, bool trans_b, bool blocked, const std::vector<bf16>& A,
          std::vector<bf16>& B, std::vector<float>& C) {
    const dnnl::memory::desc a_md(dims{M, K}, dt::bf16, tag::ab), c_md(dims{M, N}, dt::f32, tag::ab);
    const auto b_md = plain_b(N, K, trans_b);
    pd = glm3d::cpu::detail::matmul_pd(
        eng, a_md, blocked ? dnnl::memory::desc(dims{K, N}, dt::bf16, tag::any) : b_md, c_md);
    prim = dnnl::matmul(pd);
    a = dnnl::memory(a_md, eng, const_cast<bf16*>(A.data()));
    b_plain = dnnl::memory(b_md, eng, B.data());
    c = dnnl::memory(c_md, eng, C.data());
    b_used = b_plain;
    if (pd.weights_desc() != b_md) { // the reorder a blocked weight copy would do once per step
      b_used = dnnl::memory(pd.weights_desc(), eng);
      dnnl::reorder(b_plain, b_used).execute(stream, b_plain, b_used);
      stream.wait();
    }
  }
  void run() {
    prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b_used}, {DNNL_ARG_DST, c}});
    stream.wait();
  }
};

void BM_MatmulLayout(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const bool trans_b = state.range(3) != 0, blocked = state.range(4) != 0;
  const auto A = glm3d::bench::random_values<bf16>(M * K);
  auto B = glm3d::bench::random_values<bf16>(K * N);
  std::vector<float> C(static_cast<size_t>(M * N));
  Product p(M, N, K, trans_b, blocked, A, B, C);
  p.run(); // warm-up
  for (auto _ : state) {
    p.run();
    benchmark::DoNotOptimize(C.data());
  }
  state.counters["FLOP/s"] = benchmark::Counter(
      2.0 * double(M) * double(N) * double(K) * double(state.iterations()), benchmark::Counter::kIsRate);
  const char* impl = nullptr;
  dnnl_primitive_desc_query(p.pd.get(), dnnl_query_impl_info_str, 0, &impl);
  state.SetLabel(std::string(trans_b ? "NT " : "NN ") + (blocked ? "blocked " : "plain ") + impl +
                 (p.b_used == p.b_plain ? "" : " (B reordered)"));
}

// The once-per-step cost of a blocked copy: reordering plain B into the layout the blocked
// product asked for.
void BM_WeightReorder(benchmark::State& state) {
  const int64_t M = state.range(0), N = state.range(1), K = state.range(2);
  const bool trans_b = state.range(3) != 0;
  const auto A = glm3d::bench::random_values<bf16>(M * K);
  auto B = glm3d::bench::random_values<bf16>(K * N);
  std::vector<float> C(static_cast<size_t>(M * N));
  Product p(M, N, K, trans_b, true, A, B, C);
  dnnl::reorder r(p.b_plain, p.b_used);
  for (auto _ : state) {
    r.execute(p.stream, p.b_plain, p.b_used);
    p.stream.wait();
  }
  state.counters["bytes/s"] = benchmark::Counter(2.0 * double(K) * double(N) * double(state.iterations()),
                                                 benchmark::Counter::kIsRate);
}

void model_shapes(benchmark::internal::Benchmark* b, bool with_layout) {
  // M, N, K, trans_b: QKV and FFN-in forward (x W^T), FFN-out forward, the backward input
  // gradients (dY W: NN), the square.
  const int64_t shapes[][4] = {{2048, 3072, 1024, 1}, {2048, 4096, 1024, 1}, {2048, 1024, 4096, 1},
                               {2048, 1024, 3072, 0}, {2048, 1024, 4096, 0}, {2048, 2048, 2048, 0}};
  for (const auto& s : shapes)
    if (with_layout)
      for (int blocked = 0; blocked < 2; ++blocked)
        b->Args({s[0], s[1], s[2], s[3], blocked});
    else
      b->Args({s[0], s[1], s[2], s[3]});
}

BENCHMARK(BM_MatmulLayout)
    ->ArgNames({"M", "N", "K", "trans_b", "blocked"})
    ->Apply([](benchmark::internal::Benchmark* b) { model_shapes(b, true); })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_WeightReorder)
    ->ArgNames({"M", "N", "K", "trans_b"})
    ->Apply([](benchmark::internal::Benchmark* b) { model_shapes(b, false); })
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
