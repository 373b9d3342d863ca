// The benchmark of glm3d_gpu_check (--bench): cuBLASLt bf16 GEMM TFLOP/s at 8192^3 and at the
// GLM-130B tp-8 slice shapes, then one training step's forward + backward of that slice
// (hidden 12288, 12 heads of 128 per rank, GeGLU 32768/8 = 4096 per rank, seq 2048,
// micro-batch 1, 2 layers) run with the core/cuda kernels directly, reported as TFLOP/s and
// MFU against the card's bf16 dense peak. No communication: a tp rank's compute only.
//
// FLOPs counted (model FLOPs, as Megatron counts them): per layer forward 2 T (H 3 hd nh +
// hd nh H + H 2F + F H) for the GEMMs plus 4 T^2 hd nh for attention (the full S x S, not the
// visible part), backward twice the forward.
#include "bench.h"

#include "core/cuda/activation.h"
#include "core/cuda/blas.h"
#include "core/cuda/check.h"
#include "core/cuda/device.h"
#include "core/cuda/elementwise.h"
#include "core/cuda/flash_attention.h"
#include "core/cuda/norm.h"
#include "core/cuda/rope.h"

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace glm3d::gpucheck {
namespace {

using cuda::DeviceBuffer;

struct Timer {
  cudaEvent_t a, b;
  Timer() {
    CUDA_CHECK(cudaEventCreate(&a));
    CUDA_CHECK(cudaEventCreate(&b));
  }
  ~Timer() {
    cudaEventDestroy(a);
    cudaEventDestroy(b);
  }
  // Mean seconds per call of fn over `iters` calls after `warmup` calls.
  double time(cudaStream_t s, int warmup, int iters, const std::function<void()>& fn) {
    for (int i = 0; i < warmup; ++i)
      fn();
    CUDA_CHECK(cudaEventRecord(a, s));
    for (int i = 0; i < iters; ++i)
      fn();
    CUDA_CHECK(cudaEventRecord(b, s));
    CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    return double(ms) / 1e3 / iters;
  }
};

// bf16 operands: uniform in [-amp, amp) from a fresh seed each, or the constant 0x3c3c.
struct Filler {
  Ctx& c;
  BenchFill fill;
  uint64_t seed = 1;
  DeviceBuffer operator()(size_t n_bf16, float amp = 1.0f) {
    DeviceBuffer b = c.alloc.allocate(n_bf16 * 2, c.stream);
    if (fill == BenchFill::constant)
      cuda::fill_bytes(b.get(), 0x3c, n_bf16 * 2, c.stream);
    else
      cuda::fill_uniform(b.as<bf16>(), int64_t(n_bf16), -amp, amp, seed++, c.stream);
    return b;
  }
};
constexpr float kWeightAmp = 0.03f; // about the 0.02 standard deviation of GLM's initialisation

double gemm_tflops(Ctx& c, Filler& filled, cuda::Blas& blas, Timer& t, int64_t M, int64_t N, int64_t K) {
  DeviceBuffer A = filled(size_t(M * K)), B = filled(size_t(N * K), kWeightAmp), C = filled(size_t(M * N));
  const double s = t.time(c.stream, 3, 20, [&] {
    blas.gemm(false, true, M, N, K, A.get(), B.get(), DType::bf16, C.get(), DType::bf16, 1.0f, 0.0f, {},
              c.stream);
  });
  return 2.0 * double(M) * double(N) * double(K) / s / 1e12;
}

struct Slice {
  int64_t T = 2048, H = 12288, nh = 12, hd = 128, F = 4096, layers = 2;
  int64_t qkv() const { return 3 * nh * hd; }
  double flops() const {
    const double gemm = 2.0 * T * (H * qkv() + nh * hd * H + H * 2 * F + F * H);
    const double attn = 4.0 * double(T) * T * hd * nh;
    return 3.0 * (gemm + attn) * layers;
  }
};

// Weights, gradients and saved activations of one layer of the slice.
struct Layer {
  DeviceBuffer wqkv, bqkv, wd, bd, wup, bup, wdn, bdn, g1, b1, g2, b2;             // bf16 parameters
  DeviceBuffer dwqkv, dbqkv, dwd, dbd, dwup, dbup, dwdn, dbdn, dg1, db1, dg2, db2; // f32 gradients
  DeviceBuffer x0, ln1, qkv, ctx, x1, ln2, up, act, mean1, rstd1, mean2, rstd2, lse;
};

DeviceBuffer f32(Ctx& c, int64_t n) {
  DeviceBuffer b = c.alloc.allocate(static_cast<size_t>(n) * 4, c.stream);
  cuda::fill_bytes(b.get(), 0, size_t(n) * 4, c.stream);
  return b;
}

Layer make_layer(Ctx& c, Filler& filled, const Slice& s) {
  Layer l;
  const int64_t A = s.nh * s.hd;
  const float w = kWeightAmp;
  l.wqkv = filled(s.qkv() * s.H, w), l.bqkv = filled(s.qkv(), w), l.wd = filled(s.H * A, w),
  l.bd = filled(s.H, w);
  l.wup = filled(2 * s.F * s.H, w), l.bup = filled(2 * s.F, w), l.wdn = filled(s.H * s.F, w),
  l.bdn = filled(s.H, w);
  l.g1 = filled(s.H), l.b1 = filled(s.H), l.g2 = filled(s.H), l.b2 = filled(s.H);
  l.dwqkv = f32(c, s.qkv() * s.H), l.dbqkv = f32(c, s.qkv()), l.dwd = f32(c, s.H * A), l.dbd = f32(c, s.H);
  l.dwup = f32(c, 2 * s.F * s.H), l.dbup = f32(c, 2 * s.F), l.dwdn = f32(c, s.H * s.F), l.dbdn = f32(c, s.H);
  l.dg1 = f32(c, s.H), l.db1 = f32(c, s.H), l.dg2 = f32(c, s.H), l.db2 = f32(c, s.H);
  l.x0 = filled(s.T * s.H), l.ln1 = filled(s.T * s.H), l.qkv = filled(s.T * s.qkv());
  l.ctx = filled(s.T * A), l.x1 = filled(s.T * s.H), l.ln2 = filled(s.T * s.H);
  l.up = filled(s.T * 2 * s.F), l.act = filled(s.T * s.F);
  l.mean1 = f32(c, s.T), l.rstd1 = f32(c, s.T), l.mean2 = f32(c, s.T), l.rstd2 = f32(c, s.T);
  l.lse = f32(c, s.nh * s.T);
  return l;
}

struct Step {
  Ctx& c;
  cuda::Blas& blas;
  const Slice& s;
  const int32_t *pos, *bpos, *sep;
  double alpha; // DeepNorm residual scale
};

// x [T, H] -> out [T, H], saving what backward needs in l.
void layer_forward(const Step& st, Layer& l, const bf16* x, bf16* out) {
  const Slice& s = st.s;
  cudaStream_t q = st.c.stream;
  const int64_t A = s.nh * s.hd;
  CUDA_CHECK(cudaMemcpyAsync(l.x0.get(), x, size_t(s.T * s.H) * 2, cudaMemcpyDeviceToDevice, q));
  cuda::layernorm_forward(l.x0.as<bf16>(), l.g1.as<bf16>(), l.b1.as<bf16>(), l.ln1.as<bf16>(),
                          l.mean1.as<float>(), l.rstd1.as<float>(), s.T, s.H, 1e-5, q);
  cuda::linear_forward(st.blas, l.ln1.as<bf16>(), l.wqkv.as<bf16>(), l.bqkv.as<bf16>(), l.qkv.as<bf16>(), s.T,
                       s.H, s.qkv(), q); // [T, nh, 3, hd]
  cuda::rope_forward(l.qkv.as<bf16>(), st.pos, st.bpos, 1, s.T, s.nh, s.hd, 10000.0, q);
  cuda::glm_attention_forward(l.qkv.as<bf16>(), st.sep, l.ctx.as<bf16>(), l.lse.as<float>(), 1, s.T, s.nh,
                              s.hd, q);
  cuda::linear_forward(st.blas, l.ctx.as<bf16>(), l.wd.as<bf16>(), l.bd.as<bf16>(), out, s.T, A, s.H, q);
  cuda::scale_add(l.x0.as<bf16>(), st.alpha, out, static_cast<const bf16*>(nullptr), l.x1.as<bf16>(), s.T,
                  s.H, q);
  cuda::layernorm_forward(l.x1.as<bf16>(), l.g2.as<bf16>(), l.b2.as<bf16>(), l.ln2.as<bf16>(),
                          l.mean2.as<float>(), l.rstd2.as<float>(), s.T, s.H, 1e-5, q);
  cuda::linear_forward(st.blas, l.ln2.as<bf16>(), l.wup.as<bf16>(), l.bup.as<bf16>(), l.up.as<bf16>(), s.T,
                       s.H, 2 * s.F, q); // [T, 2F]
  cuda::geglu_forward(l.up.as<bf16>(), l.act.as<bf16>(), s.T, s.F, q);
  cuda::linear_forward(st.blas, l.act.as<bf16>(), l.wdn.as<bf16>(), l.bdn.as<bf16>(), out, s.T, s.F, s.H, q);
  cuda::scale_add(l.x1.as<bf16>(), st.alpha, out, static_cast<const bf16*>(nullptr), out, s.T, s.H, q);
}

// dout [T, H] (consumed) -> dx [T, H]; parameter gradients accumulate in f32. `zero` is a
// [T, H] bf16 zero buffer; w1, w2 are [T, max(H, 2F, 3 nh hd)] bf16 workspaces.
void layer_backward(const Step& st, Layer& l, bf16* dout, bf16* dx, const bf16* zero, bf16* w1, bf16* w2) {
  const Slice& s = st.s;
  cudaStream_t q = st.c.stream;
  const int64_t A = s.nh * s.hd;
  cuda::DeviceAllocator& al = st.c.alloc;
  // out = x1 alpha + f:  df = dout, dx1 = alpha dout (+ through ln2 below)
  cuda::scale_add(dout, st.alpha, zero, static_cast<const bf16*>(nullptr), dx, s.T, s.H, q); // dx holds dx1
  cuda::linear_backward<bf16, float>(st.blas, dout, l.act.as<bf16>(), l.wdn.as<bf16>(), w1,
                                     l.dwdn.as<float>(), l.dbdn.as<float>(), s.T, s.F, s.H, false, al,
                                     q);                      // w1 = dact [T, F]
  cuda::geglu_backward(l.up.as<bf16>(), w1, w2, s.T, s.F, q); // w2 = dup [T, 2F]
  cuda::linear_backward<bf16, float>(st.blas, w2, l.ln2.as<bf16>(), l.wup.as<bf16>(), w1, l.dwup.as<float>(),
                                     l.dbup.as<float>(), s.T, s.H, 2 * s.F, false, al, q); // w1 = dln2
  cuda::layernorm_backward(w1, l.x1.as<bf16>(), l.g2.as<bf16>(), l.mean2.as<float>(), l.rstd2.as<float>(), dx,
                           l.dg2.as<float>(), l.db2.as<float>(), s.T, s.H, true, al, q);
  // x1 = x0 alpha + a:  da = dx1, dx0 = alpha dx1 (+ through ln1 below)
  cuda::linear_backward<bf16, float>(st.blas, dx, l.ctx.as<bf16>(), l.wd.as<bf16>(), w1, l.dwd.as<float>(),
                                     l.dbd.as<float>(), s.T, A, s.H, false, al, q); // w1 = dctx [T, A]
  cuda::glm_attention_backward(w1, l.qkv.as<bf16>(), l.ctx.as<bf16>(), l.lse.as<float>(), st.sep, w2, 1, s.T,
                               s.nh, s.hd, al, q); // w2 = dqkv
  cuda::rope_backward(w2, st.pos, st.bpos, 1, s.T, s.nh, s.hd, 10000.0, q);
  cuda::scale_add(dx, st.alpha, zero, static_cast<const bf16*>(nullptr), dx, s.T, s.H, q); // dx = dx0 part
  cuda::linear_backward<bf16, float>(st.blas, w2, l.ln1.as<bf16>(), l.wqkv.as<bf16>(), w1,
                                     l.dwqkv.as<float>(), l.dbqkv.as<float>(), s.T, s.H, s.qkv(), false, al,
                                     q); // w1 = dln1
  cuda::layernorm_backward(w1, l.x0.as<bf16>(), l.g1.as<bf16>(), l.mean1.as<float>(), l.rstd1.as<float>(), dx,
                           l.dg1.as<float>(), l.db1.as<float>(), s.T, s.H, true, al, q);
}

// One layer's attention and LayerNorm alone, on the layer's saved activations (the step's
// buffers w1, w2 as dctx and dqkv scratch): microseconds per call.
void time_parts(const Step& st, Layer& l, bf16* w1, bf16* w2, Timer& t, BenchResult& r) {
  const Slice& s = st.s;
  cudaStream_t q = st.c.stream;
  r.attn_fwd_us = 1e6 * t.time(q, 2, 10, [&] {
    cuda::glm_attention_forward(l.qkv.as<bf16>(), st.sep, l.ctx.as<bf16>(), l.lse.as<float>(), 1, s.T, s.nh,
                                s.hd, q);
  });
  r.attn_bwd_us = 1e6 * t.time(q, 2, 10, [&] {
    cuda::glm_attention_backward(w1, l.qkv.as<bf16>(), l.ctx.as<bf16>(), l.lse.as<float>(), st.sep, w2, 1,
                                 s.T, s.nh, s.hd, st.c.alloc, q);
  });
  r.ln_fwd_us = 1e6 * t.time(q, 2, 10, [&] {
    cuda::layernorm_forward(l.x0.as<bf16>(), l.g1.as<bf16>(), l.b1.as<bf16>(), l.ln1.as<bf16>(),
                            l.mean1.as<float>(), l.rstd1.as<float>(), s.T, s.H, 1e-5, q);
  });
  r.ln_bwd_us = 1e6 * t.time(q, 2, 10, [&] {
    cuda::layernorm_backward(w1, l.x0.as<bf16>(), l.g1.as<bf16>(), l.mean1.as<float>(), l.rstd1.as<float>(),
                             w2, l.dg1.as<float>(), l.db1.as<float>(), s.T, s.H, false, st.c.alloc, q);
  });
}

double peak_bf16_tflops(const std::string& name) {
  if (name.find("H100") != std::string::npos)
    return name.find("PCIe") != std::string::npos ? 756.0 : 989.0;
  if (name.find("H200") != std::string::npos)
    return 989.0;
  if (name.find("A100") != std::string::npos)
    return 312.0;
  return 0.0; // unknown card: no MFU
}

} // namespace

BenchResult run_bench(Ctx& c, BenchFill fill) {
  BenchResult r;
  const cuda::DeviceInfo dev = cuda::device_info(0);
  r.device = dev.name;
  r.fill = fill;
  r.peak_tflops = peak_bf16_tflops(dev.name);
  cuda::Blas blas;
  Timer t;
  Filler filled{c, fill};
  r.gemm_8192 = gemm_tflops(c, filled, blas, t, 8192, 8192, 8192);
  const Slice s;
  r.gemm_qkv = gemm_tflops(c, filled, blas, t, s.T, s.qkv(), s.H);
  r.gemm_dense = gemm_tflops(c, filled, blas, t, s.T, s.H, s.nh * s.hd);
  r.gemm_up = gemm_tflops(c, filled, blas, t, s.T, 2 * s.F, s.H);
  r.gemm_down = gemm_tflops(c, filled, blas, t, s.T, s.H, s.F);

  std::vector<int32_t> pos(static_cast<size_t>(s.T)), bpos(static_cast<size_t>(s.T), 0);
  const int32_t sep_host = int32_t(s.T / 2); // half Part A, half Part B
  for (int64_t i = 0; i < s.T; ++i) {
    pos[size_t(i)] = int32_t(std::min<int64_t>(i, sep_host));
    bpos[size_t(i)] = int32_t(i < sep_host ? 0 : i - sep_host + 1);
  }
  DeviceBuffer gpos = c.alloc.allocate(pos.size() * 4, c.stream),
               gbpos = c.alloc.allocate(pos.size() * 4, c.stream), gsep = c.alloc.allocate(4, c.stream);
  CUDA_CHECK(cudaMemcpy(gpos.get(), pos.data(), pos.size() * 4, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(gbpos.get(), bpos.data(), bpos.size() * 4, cudaMemcpyHostToDevice));
  CUDA_CHECK(cudaMemcpy(gsep.get(), &sep_host, 4, cudaMemcpyHostToDevice));
  std::vector<Layer> layers;
  for (int64_t i = 0; i < s.layers; ++i)
    layers.push_back(make_layer(c, filled, s));
  const int64_t wide = std::max({s.H, 2 * s.F, s.qkv()});
  DeviceBuffer x = filled(size_t(s.T * s.H)), y = filled(size_t(s.T * s.H)), dx = filled(size_t(s.T * s.H)),
               zero = c.alloc.allocate(static_cast<size_t>(s.T * s.H) * 2, c.stream),
               w1 = filled(size_t(s.T * wide)), w2 = filled(size_t(s.T * wide));
  cuda::fill_bytes(zero.get(), 0, size_t(s.T * s.H) * 2, c.stream);
  const Step st{c, blas, s, gpos.as<int32_t>(), gbpos.as<int32_t>(), gsep.as<int32_t>(), 2.0};
  const double sec = t.time(c.stream, 2, 5, [&] {
    bf16 *in = x.as<bf16>(), *out = y.as<bf16>();
    for (Layer& l : layers) {
      layer_forward(st, l, in, out);
      std::swap(in, out);
    }
    bf16 *g = in, *gx = dx.as<bf16>(); // the last output doubles as its own gradient
    for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
      layer_backward(st, *it, g, gx, zero.as<bf16>(), w1.as<bf16>(), w2.as<bf16>());
      std::swap(g, gx);
    }
  });
  r.step_seconds = sec;
  r.step_tflops = s.flops() / sec / 1e12;
  r.mfu = r.peak_tflops > 0 ? r.step_tflops / r.peak_tflops : 0.0;
  time_parts(st, layers[0], w1.as<bf16>(), w2.as<bf16>(), t, r);
  return r;
}

void print_bench(const BenchResult& r) {
  std::printf("bench: device %s, bf16 dense peak %.0f TFLOP/s%s, operands %s\n", r.device.c_str(),
              r.peak_tflops, r.peak_tflops > 0 ? "" : " (unknown card: no MFU)",
              r.fill == BenchFill::random ? "uniform random" : "constant 0x3c3c");
  std::printf("bench: cuBLASLt bf16 gemm 8192^3: %.1f TFLOP/s\n", r.gemm_8192);
  std::printf("bench: slice gemms (T=2048, row-major x W^T): qkv %.1f, dense %.1f, ffn up %.1f, ffn down "
              "%.1f TFLOP/s\n",
              r.gemm_qkv, r.gemm_dense, r.gemm_up, r.gemm_down);
  std::printf("bench: GLM-130B tp-8 slice, 2 layers fwd+bwd: %.2f ms, %.1f TFLOP/s, MFU %.1f%%\n",
              r.step_seconds * 1e3, r.step_tflops, r.mfu * 100.0);
  std::printf(
      "bench: one slice layer's parts: attention fwd %.1f us, bwd %.1f us; layernorm fwd %.1f us, bwd "
      "%.1f us\n",
      r.attn_fwd_us, r.attn_bwd_us, r.ln_fwd_us, r.ln_bwd_us);
}

} // namespace glm3d::gpucheck
