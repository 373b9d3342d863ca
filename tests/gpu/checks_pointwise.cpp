// Norms, activations, RoPE, the DeepNorm residual, column sums, cross-entropy and AdamW on
// the GPU against core/cpu's f64 kernels (or tests/gpu/reference.h), in f32 and bf16.
#include "checks.h"
#include "reference.h"

#include "core/cpu/activation.h"
#include "core/cpu/adamw.h"
#include "core/cpu/cross_entropy.h"
#include "core/cpu/elementwise.h"
#include "core/cpu/layernorm.h"
#include "core/cpu/rope.h"
#include "core/cuda/activation.h"
#include "core/cuda/adamw.h"
#include "core/cuda/cross_entropy.h"
#include "core/cuda/elementwise.h"
#include "core/cuda/launch.h"
#include "core/cuda/norm.h"
#include "core/cuda/rope.h"

namespace glm3d::gpucheck {
namespace {

template <class T> void norms(Ctx& c, Report& r, int64_t N, int64_t C) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>(), tag = "[" + std::to_string(N) + "x" + std::to_string(C) + "]";
  const Vec x = rounded<T>(c.uniform(N * C, -2, 2)), gamma = rounded<T>(c.uniform(C, 0.5, 1.5)),
            beta = rounded<T>(c.uniform(C)), dy = rounded<T>(c.uniform(N * C)),
            dx0 = rounded<T>(c.uniform(N * C)), dg0 = c.uniform(C), db0 = c.uniform(C);
  Dev<T> gx(c, x), gg(c, gamma), gb(c, beta), gdy(c, dy), gy(c, N * C);
  Dev<float> gmean(c, N), grstd(c, N);
  { // LayerNorm forward and backward (dx, dgamma, dbeta accumulate)
    Vec y(x.size()), mean(static_cast<size_t>(N)), rstd(static_cast<size_t>(N)), dx = dx0, dg = dg0, db = db0;
    cpu::layernorm_forward<double>(x.data(), gamma.data(), beta.data(), y.data(), mean.data(), rstd.data(), N,
                                   C, 1e-5);
    cuda::layernorm_forward(gx.get(), gg.get(), gb.get(), gy.get(), gmean.get(), grstd.get(), N, C, 1e-5,
                            c.stream);
    r.compare("layernorm_forward" + tag, d, "y", gy.read(c), y, tol);
    r.compare("layernorm_forward" + tag, d, "rstd", grstd.read(c), rstd, tol);
    cpu::layernorm_backward<double>(dy.data(), x.data(), gamma.data(), mean.data(), rstd.data(), dx.data(),
                                    dg.data(), db.data(), N, C, true);
    Dev<T> gdx(c, dx0);
    Dev<float> gdg(c, dg0), gdb(c, db0);
    cuda::layernorm_backward(gdy.get(), gx.get(), gg.get(), gmean.get(), grstd.get(), gdx.get(), gdg.get(),
                             gdb.get(), N, C, true, c.alloc, c.stream);
    r.compare("layernorm_backward" + tag, d, "dx (+=)", gdx.read(c), dx, tol);
    r.compare("layernorm_backward" + tag, d, "dgamma (+=)", gdg.read(c), dg, tol);
    r.compare("layernorm_backward" + tag, d, "dbeta (+=)", gdb.read(c), db, tol);
  }
  { // RMSNorm forward and backward (dx overwritten, dgamma accumulates)
    Vec y(x.size()), rstd(static_cast<size_t>(N)), dx(x.size()), dg = dg0;
    rmsnorm_ref(x, gamma, y, rstd, N, C, 1e-5);
    Dev<T> gy2(c, N * C), gdx(c, N * C);
    Dev<float> grs(c, N), gdg(c, dg0);
    cuda::rmsnorm_forward(gx.get(), gg.get(), gy2.get(), grs.get(), N, C, 1e-5, c.stream);
    r.compare("rmsnorm_forward" + tag, d, "y", gy2.read(c), y, tol);
    rmsnorm_backward_ref(dy, x, gamma, rstd, dx, dg, N, C, false);
    cuda::rmsnorm_backward(gdy.get(), gx.get(), gg.get(), grs.get(), gdx.get(), gdg.get(), N, C, false,
                           c.alloc, c.stream);
    r.compare("rmsnorm_backward" + tag, d, "dx", gdx.read(c), dx, tol);
    r.compare("rmsnorm_backward" + tag, d, "dgamma (+=)", gdg.read(c), dg, tol);
  }
}

template <class T> void activations(Ctx& c, Report& r) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>();
  const int64_t N = 96, F = 320;
  const Vec x = rounded<T>(c.uniform(N * 2 * F, -4, 4)), dy = rounded<T>(c.uniform(N * F));
  Dev<T> gx(c, x), gdy(c, dy);
  {
    const Vec xs(x.begin(), x.begin() + N * F);
    Vec y(static_cast<size_t>(N * F)), dx(static_cast<size_t>(N * F));
    cpu::gelu_forward<double>(xs.data(), y.data(), N * F);
    cpu::gelu_backward<double>(xs.data(), dy.data(), dx.data(), N * F);
    Dev<T> gy(c, N * F), gdx(c, N * F);
    cuda::gelu_forward(gx.get(), gy.get(), N * F, c.stream);
    cuda::gelu_backward(gx.get(), gdy.get(), gdx.get(), N * F, c.stream);
    r.compare("gelu", d, "y", gy.read(c), y, tol);
    r.compare("gelu_backward", d, "dx", gdx.read(c), dx, tol);
  }
  for (int swi = 0; swi < 2; ++swi) {
    Vec y(static_cast<size_t>(N * F)), dx(static_cast<size_t>(N * 2 * F));
    Dev<T> gy(c, N * F), gdx(c, N * 2 * F);
    if (swi) {
      swiglu_ref(x, y, N, F);
      swiglu_backward_ref(x, dy, dx, N, F);
      cuda::swiglu_forward(gx.get(), gy.get(), N, F, c.stream);
      cuda::swiglu_backward(gx.get(), gdy.get(), gdx.get(), N, F, c.stream);
    } else {
      cpu::geglu_forward<double>(x.data(), y.data(), N, F);
      cpu::geglu_backward<double>(x.data(), dy.data(), dx.data(), N, F);
      cuda::geglu_forward(gx.get(), gy.get(), N, F, c.stream);
      cuda::geglu_backward(gx.get(), gdy.get(), gdx.get(), N, F, c.stream);
    }
    r.compare(swi ? "swiglu" : "geglu", d, "y", gy.read(c), y, tol);
    r.compare(swi ? "swiglu_backward" : "geglu_backward", d, "dx", gdx.read(c), dx, tol);
  }
}

template <class T> void ropes(Ctx& c, Report& r) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>();
  const int64_t B = 2, S = 96, nh = 3, hd = 64;
  std::vector<int32_t> pos(static_cast<size_t>(B * S)), bpos(static_cast<size_t>(B * S));
  for (auto& p : pos)
    p = int32_t(c.rng.integer(0, 2047)); // long positions: the angles need f64
  for (auto& p : bpos)
    p = int32_t(c.rng.integer(0, 64));
  cuda::DeviceBuffer gpos = c.alloc.allocate(pos.size() * 4, c.stream),
                     gbpos = c.alloc.allocate(pos.size() * 4, c.stream);
  cudaMemcpy(gpos.get(), pos.data(), pos.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(gbpos.get(), bpos.data(), bpos.size() * 4, cudaMemcpyHostToDevice);
  const Vec qkv = rounded<T>(c.uniform(B * S * nh * 3 * hd));
  for (int two_d = 0; two_d < 2; ++two_d) {
    for (int inverse = 0; inverse < 2; ++inverse) {
      Vec ref = qkv;
      const int32_t* bp = two_d ? bpos.data() : nullptr;
      if (inverse)
        cpu::rope_backward<double>(ref.data(), pos.data(), bp, B, S, nh, hd, 10000.0);
      else
        cpu::rope_forward<double>(ref.data(), pos.data(), bp, B, S, nh, hd, 10000.0);
      Dev<T> g(c, qkv);
      const int32_t* gbp = two_d ? gbpos.as<int32_t>() : nullptr;
      if (inverse)
        cuda::rope_backward(g.get(), gpos.as<int32_t>(), gbp, B, S, nh, hd, 10000.0, c.stream);
      else
        cuda::rope_forward(g.get(), gpos.as<int32_t>(), gbp, B, S, nh, hd, 10000.0, c.stream);
      r.compare(std::string(two_d ? "rope_2d" : "rope_1d") + (inverse ? "_backward" : "_forward"), d, "qkv",
                g.read(c), ref, tol);
    }
  }
  for (int inverse = 0; inverse < 2; ++inverse) { // ChatGLM2: [tokens, heads, hd] contiguous
    Vec ref = qkv;
    ref.resize(static_cast<size_t>(B * S * nh * hd));
    rope_interleaved_ref(ref, pos, B * S, nh, hd, 10000.0, inverse ? -1.0 : 1.0);
    Vec in(qkv.begin(), qkv.begin() + B * S * nh * hd);
    Dev<T> g(c, in);
    cuda::rope_apply(g.get(), cuda::HeadView{B * S, nh, nh * hd, hd, hd}, gpos.as<int32_t>(), nullptr,
                     cuda::RopeKind::interleaved, 10000.0, inverse != 0, c.stream);
    r.compare(inverse ? "rope_interleaved_backward" : "rope_interleaved_forward", d, "x", g.read(c), ref,
              tol);
  }
}

// [N, C] with N * C and C whole numbers of 16-byte packs run the packed kernels, others the
// generic ones: the callers cover both.
template <class T> void sums(Ctx& c, Report& r, int64_t N, int64_t C, bool with_bias) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>(), shape = "[" + std::to_string(N) + "x" + std::to_string(C) + "]";
  const Vec a = rounded<T>(c.uniform(N * C)), b = rounded<T>(c.uniform(N * C)),
            bias = rounded<T>(c.uniform(C));
  Vec out(a.size());
  cpu::scale_add<double>(a.data(), 2.7, b.data(), with_bias ? bias.data() : nullptr, out.data(), N, C);
  Dev<T> ga(c, a), gb(c, b), gbias(c, bias), gout(c, N * C);
  cuda::scale_add(ga.get(), 2.7, gb.get(), with_bias ? gbias.get() : nullptr, gout.get(), N, C, c.stream);
  r.compare(std::string("scale_add") + (with_bias ? " bias" : "") + shape, d, "out", gout.read(c), out, tol);
  Vec col = c.uniform(C);
  Dev<float> gcol(c, col);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < C; ++k)
      col[size_t(k)] += a[size_t(n * C + k)];
  cuda::column_sum_accumulate(ga.get(), N, C, gcol.get(), c.alloc, c.stream);
  r.compare("column_sum_accumulate" + shape, d, "out (+=)", gcol.read(c), col, tol);
  cuda::DeviceBuffer ss = c.alloc.allocate(sizeof(double), c.stream);
  cuda::sum_squares(ga.get(), N * C, ss.as<double>(), c.alloc, c.stream);
  double got = 0;
  cudaMemcpy(&got, ss.get(), sizeof(double), cudaMemcpyDeviceToHost);
  r.compare("sum_squares" + shape, d, "sum", {got}, {cpu::sum_squares<double>(a.data(), N * C)}, tol);
}

// fill_uniform equals launch::uniform_hash evaluated on the host, rounded to T (exactly).
template <class T> void fill(Ctx& c, Report& r) {
  const int64_t n = 100003;
  Vec want(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    want[size_t(i)] = round_to<T>(double(cuda::launch::uniform_hash(42, uint64_t(i)) - 0.5f)); // exact in f32
  Dev<T> g(c, n);
  cuda::fill_uniform(g.get(), n, -0.5f, 0.5f, 42, c.stream);
  r.compare("fill_uniform", dtype_str<T>(), "p", g.read(c), want, 0.0);
}

template <class T> void cross_entropy(Ctx& c, Report& r) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>();
  const int64_t N = 64, V = 1024, vocab_real = 1000; // the last 24 columns are padding
  const Vec logits = rounded<T>(c.uniform(N * V, -6, 6)), dloss = c.uniform(N, 0.5, 1.5);
  std::vector<int32_t> tgt(static_cast<size_t>(N));
  std::vector<uint8_t> mask(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) {
    tgt[size_t(n)] = int32_t(c.rng.integer(0, vocab_real - 1));
    mask[size_t(n)] = uint8_t(n % 5 != 0);
  }
  Vec loss(static_cast<size_t>(N)), probs(static_cast<size_t>(N * V)), dlog(static_cast<size_t>(N * V));
  cpu::vocab_parallel_ce_forward<double>(logits.data(), tgt.data(), mask.data(), loss.data(), probs.data(), N,
                                         V, 0, vocab_real, cpu::VocabReduce<double>::local());
  cpu::vocab_parallel_ce_backward<double>(probs.data(), tgt.data(), mask.data(), dloss.data(), dlog.data(), N,
                                          V, 0, vocab_real);
  cuda::DeviceBuffer gt = c.alloc.allocate(tgt.size() * 4, c.stream),
                     gm = c.alloc.allocate(mask.size(), c.stream);
  cudaMemcpy(gt.get(), tgt.data(), tgt.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(gm.get(), mask.data(), mask.size(), cudaMemcpyHostToDevice);
  Dev<T> glog(c, logits), gprobs(c, N * V);
  Dev<float> gloss(c, N), gdl(c, dloss);
  cuda::vocab_parallel_ce_forward(glog.get(), gt.as<int32_t>(), gm.as<uint8_t>(), gloss.get(), gprobs.get(),
                                  N, V, 0, vocab_real, cpu::VocabReduce<float>::local(), c.alloc, c.stream);
  r.compare("vocab_parallel_ce_forward", d, "loss", gloss.read(c), loss, tol);
  r.compare("vocab_parallel_ce_forward", d, "probs", gprobs.read(c), probs, tol);
  cuda::vocab_parallel_ce_backward(gprobs.get(), gt.as<int32_t>(), gm.as<uint8_t>(), gdl.get(), gprobs.get(),
                                   N, V, 0, vocab_real, c.stream); // in place over probs, as the model may
  r.compare("vocab_parallel_ce_backward", d, "dlogits", gprobs.read(c), dlog, tol);
}

// AdamW keeps f32 master and moments whatever the gradient type, so its tolerance is f32's
// for master/m/v; the bf16 compute copy is compared after rounding the reference to bf16.
template <class G> void adamw(Ctx& c, Report& r) {
  const std::string d = std::string("g:") + dtype_str<G>();
  const int64_t n = 10000;
  const cpu::AdamWHyper h{3e-3, 0.9, 0.95, 1e-8, 0.1};
  const float clip = 0.8f;
  Vec p = rounded<float>(c.uniform(n)), m = rounded<float>(c.uniform(n, -0.1, 0.1)),
      v = rounded<float>(c.uniform(n, 0.0, 0.01)), g = rounded<G>(c.uniform(n));
  Dev<float> gp(c, p), gm(c, m), gv(c, v);
  Dev<G> gg(c, g);
  Dev<bf16> gparam(c, n);
  for (double& x : g)
    x *= double(clip);
  cpu::adamw_update<double>(p.data(), g.data(), m.data(), v.data(), n, h, 7, true);
  cpu::AdamWHyper clipped = h; // the CPU reference ran on gradients scaled beforehand
  clipped.grad_scale = clip;
  cuda::adamw_update(gp.get(), gg.get(), gm.get(), gv.get(), gparam.get(), n, clipped, 7, true, c.stream);
  r.compare("adamw_update", d, "master", gp.read(c), p, 1e-5);
  r.compare("adamw_update", d, "m", gm.read(c), m, 1e-5);
  r.compare("adamw_update", d, "v", gv.read(c), v, 1e-5);
  r.compare("adamw_update", d, "param bf16", gparam.read(c), rounded<bf16>(p), 1e-2);
}

} // namespace

void check_pointwise(Ctx& c, Report& r) {
  norms<float>(c, r, 64, 1000);
  norms<bf16>(c, r, 64, 1000);
  norms<float>(c, r, 8, 12288);
  norms<bf16>(c, r, 8, 12288);
  norms<float>(c, r, 600, 1536); // several rows per backward chunk
  norms<bf16>(c, r, 600, 1536);
  norms<bf16>(c, r, 33, 1001); // not a whole number of packs: the generic kernels
  norms<bf16>(c, r, 4, 20000); // more than 32 values a thread: the generic kernels
  activations<float>(c, r);
  activations<bf16>(c, r);
  ropes<float>(c, r);
  ropes<bf16>(c, r);
  for (const bool with_bias : {true, false}) {
    sums<float>(c, r, 300, 520, with_bias);
    sums<bf16>(c, r, 300, 520, with_bias);
  }
  sums<float>(c, r, 37, 13, true); // not whole packs: the generic kernels
  sums<bf16>(c, r, 37, 13, false);
  fill<float>(c, r);
  fill<bf16>(c, r);
  cross_entropy<float>(c, r);
  cross_entropy<bf16>(c, r);
  adamw<float>(c, r);
  adamw<bf16>(c, r);
}

} // namespace glm3d::gpucheck
