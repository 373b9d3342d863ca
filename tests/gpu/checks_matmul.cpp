// cuBLASLt GEMMs (every transpose, f32 and bf16 -> f32/bf16), the bias / GeLU / dGeLU
// epilogues, the linear layers, and flash attention (GLM mask, causal, grouped kv heads,
// head dims 8..128, S not a multiple of the tile) against core/cpu's f64 kernels.
#include "checks.h"
#include "reference.h"

#include "core/cpu/activation.h"
#include "core/cpu/attention.h"
#include "core/cpu/matmul.h"
#include "core/cuda/blas.h"
#include "core/cuda/check.h"
#include "core/cuda/flash_attention.h"

namespace glm3d::gpucheck {
namespace {

template <class T, class O> void gemms(Ctx& c, Report& r, cuda::Blas& blas) {
  const int64_t M = 96, N = 136, K = 264; // multiples of 8: cuBLASLt's 16-byte alignment
  const double tol = std::max(tolerance<T>(), tolerance<O>());
  const std::string d = std::string(dtype_str<T>()) + ">" + dtype_str<O>();
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      const Vec A = rounded<T>(c.uniform(M * K)), B = rounded<T>(c.uniform(K * N)),
                C0 = rounded<O>(c.uniform(M * N));
      Vec C = C0;
      cpu::gemm<double>(ta, tb, M, N, K, A.data(), B.data(), C.data(), 1.0f); // accumulate into C0
      Dev<T> gA(c, A), gB(c, B);
      Dev<O> gC(c, C0);
      blas.gemm(ta, tb, M, N, K, gA.get(), gB.get(), dtype_of<T>(), gC.get(), dtype_of<O>(), 1.0f, 1.0f, {},
                c.stream);
      r.compare(std::string("gemm ta=") + char('0' + ta) + " tb=" + char('0' + tb), d, "C (beta 1)",
                gC.read(c), C, tol);
    }
}

template <class T> void linears(Ctx& c, Report& r, cuda::Blas& blas) {
  const double tol = tolerance<T>();
  const std::string d = dtype_str<T>();
  const int64_t N = 128, in = 192, out = 256;
  const Vec x = rounded<T>(c.uniform(N * in)), W = rounded<T>(c.uniform(out * in, -0.2, 0.2)),
            b = rounded<T>(c.uniform(out)), dy = rounded<T>(c.uniform(N * out)),
            dx0 = rounded<T>(c.uniform(N * in)), dW0 = c.uniform(out * in), db0 = c.uniform(out);
  Dev<T> gx(c, x), gW(c, W), gb(c, b), gdy(c, dy);
  Vec pre(static_cast<size_t>(N * out)), y(static_cast<size_t>(N * out));
  cpu::linear_forward<double>(x.data(), W.data(), b.data(), pre.data(), N, in, out);
  cpu::gelu_forward<double>(pre.data(), y.data(), N * out);
  Dev<T> gpre(c, N * out), gy(c, N * out), gaux(c, N * out);
  cuda::linear_forward(blas, gx.get(), gW.get(), gb.get(), gpre.get(), N, in, out, c.stream);
  r.compare("linear_forward (bias epilogue)", d, "y", gpre.read(c), pre, tol);
  cuda::linear_forward(blas, gx.get(), gW.get(), gb.get(), gy.get(), N, in, out, c.stream, true, gaux.get());
  r.compare("linear_forward (gelu_bias aux)", d, "y", gy.read(c), y, tol);
  r.compare("linear_forward (gelu_bias aux)", d, "aux", gaux.read(c), pre, tol);
  { // dgelu: dpre = (dy2 W2) * gelu'(pre), with W2 [out2, out]
    const int64_t out2 = 64;
    const Vec W2 = rounded<T>(c.uniform(out2 * out, -0.2, 0.2)), dy2 = rounded<T>(c.uniform(N * out2));
    Vec dh(static_cast<size_t>(N * out)), dpre(static_cast<size_t>(N * out));
    cpu::gemm<double>(false, false, N, out, out2, dy2.data(), W2.data(), dh.data(), 0.0f);
    cpu::gelu_backward<double>(pre.data(), dh.data(), dpre.data(), N * out);
    Dev<T> gW2(c, W2), gdy2(c, dy2), gdpre(c, N * out);
    cuda::GemmExtras ex;
    ex.epilogue = cuda::Epilogue::dgelu;
    ex.aux = gaux.get();
    blas.gemm(false, false, N, out, out2, gdy2.get(), gW2.get(), dtype_of<T>(), gdpre.get(), dtype_of<T>(),
              1.0f, 0.0f, ex, c.stream);
    r.compare("gemm (dgelu epilogue)", d, "dpre", gdpre.read(c), dpre, tol);
  }
  Vec dx = dx0, dW = dW0, db = db0;
  cpu::linear_backward<double>(dy.data(), x.data(), W.data(), dx.data(), dW.data(), db.data(), N, in, out,
                               true);
  Dev<T> gdx(c, dx0);
  Dev<float> gdW(c, dW0), gdb(c, db0);
  cuda::linear_backward<T, float>(blas, gdy.get(), gx.get(), gW.get(), gdx.get(), gdW.get(), gdb.get(), N, in,
                                  out, true, c.alloc, c.stream);
  r.compare("linear_backward", d, "dx (+=)", gdx.read(c), dx, tol);
  r.compare("linear_backward", d, "dW f32 (+=)", gdW.read(c), dW, tol);
  r.compare("linear_backward", d, "db f32 (+=)", gdb.read(c), db, tol);
}

// GLM qkv layout, one sep per sample (0: causal; S: fully bidirectional).
void glm_attention(Ctx& c, Report& r, int64_t B, int64_t S, int64_t nh, int64_t hd) {
  const std::string tag = "glm_attention B" + std::to_string(B) + " S" + std::to_string(S) + " nh" +
                          std::to_string(nh) + " hd" + std::to_string(hd);
  std::vector<int32_t> sep(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b)
    sep[size_t(b)] = int32_t(b == 0 ? 0 : c.rng.integer(1, S));
  const Vec qkv = rounded<bf16>(c.uniform(B * S * nh * 3 * hd, -2, 2)),
            dout = rounded<bf16>(c.uniform(B * S * nh * hd));
  Vec out(static_cast<size_t>(B * S * nh * hd)), probs(static_cast<size_t>(B * nh * S * S)), dqkv(qkv.size());
  cpu::glm_attention_forward<double>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
  cpu::glm_attention_backward<double>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S,
                                      nh, hd);
  cuda::DeviceBuffer gsep = c.alloc.allocate(sep.size() * 4, c.stream);
  CUDA_CHECK(cudaMemcpy(gsep.get(), sep.data(), sep.size() * 4, cudaMemcpyHostToDevice));
  Dev<bf16> gqkv(c, qkv), gout(c, B * S * nh * hd), gdout(c, dout), gdqkv(c, int64_t(qkv.size()));
  Dev<float> glse(c, B * nh * S);
  cuda::glm_attention_forward(gqkv.get(), gsep.as<int32_t>(), gout.get(), glse.get(), B, S, nh, hd, c.stream);
  r.compare(tag, "bf16", "out", gout.read(c), out, 1e-2);
  r.compare(tag, "bf16", "lse", glse.read(c), attention_lse_ref(qkv, sep, B, S, nh, hd), 1e-2);
  cuda::glm_attention_backward(gdout.get(), gqkv.get(), gout.get(), glse.get(), gsep.as<int32_t>(),
                               gdqkv.get(), B, S, nh, hd, c.alloc, c.stream);
  r.compare(tag, "bf16", "dqkv", gdqkv.read(c), dqkv, 1e-2);
}

// Grouped kv heads (ChatGLM2 multi-query): q [B,S,nh,hd], k, v [B,S,nkv,hd] in separate
// buffers; the reference repeats each kv head over its group and sums dk, dv back.
void grouped_attention(Ctx& c, Report& r, int64_t B, int64_t S, int64_t nh, int64_t nkv, int64_t hd) {
  const std::string tag = "flash_attention gqa nh" + std::to_string(nh) + " nkv" + std::to_string(nkv);
  const int64_t group = nh / nkv;
  std::vector<int32_t> sep(static_cast<size_t>(B), 0); // ChatGLM2 is causal
  const Vec q = rounded<bf16>(c.uniform(B * S * nh * hd, -2, 2)),
            k = rounded<bf16>(c.uniform(B * S * nkv * hd, -2, 2)),
            v = rounded<bf16>(c.uniform(B * S * nkv * hd)), dout = rounded<bf16>(c.uniform(B * S * nh * hd));
  Vec qkv(static_cast<size_t>(B * S * nh * 3 * hd));
  for (int64_t t = 0; t < B * S; ++t)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t e = 0; e < hd; ++e) {
        const size_t o = size_t(((t * nh + h) * 3) * hd + e), kv = size_t((t * nkv + h / group) * hd + e);
        qkv[o] = q[size_t((t * nh + h) * hd + e)];
        qkv[o + size_t(hd)] = k[kv];
        qkv[o + size_t(2 * hd)] = v[kv];
      }
  Vec out(static_cast<size_t>(B * S * nh * hd)), probs(static_cast<size_t>(B * nh * S * S)), dqkv(qkv.size());
  cpu::glm_attention_forward<double>(qkv.data(), sep.data(), out.data(), probs.data(), B, S, nh, hd);
  cpu::glm_attention_backward<double>(dout.data(), qkv.data(), probs.data(), sep.data(), dqkv.data(), B, S,
                                      nh, hd);
  Vec dq(q.size()), dk(k.size(), 0.0), dv(v.size(), 0.0);
  for (int64_t t = 0; t < B * S; ++t)
    for (int64_t h = 0; h < nh; ++h)
      for (int64_t e = 0; e < hd; ++e) {
        const size_t o = size_t(((t * nh + h) * 3) * hd + e), kv = size_t((t * nkv + h / group) * hd + e);
        dq[size_t((t * nh + h) * hd + e)] = dqkv[o];
        dk[kv] += dqkv[o + size_t(hd)];
        dv[kv] += dqkv[o + size_t(2 * hd)];
      }
  const cuda::AttnView qv{S * nh * hd, nh * hd, hd}, kvv{S * nkv * hd, nkv * hd, hd};
  Dev<bf16> gq(c, q), gk(c, k), gv(c, v), gout(c, B * S * nh * hd), gdout(c, dout), gdq(c, int64_t(q.size())),
      gdk(c, int64_t(k.size())), gdv(c, int64_t(v.size()));
  Dev<float> glse(c, B * nh * S);
  const cuda::AttnShape shape{B, S, nh, nkv, hd};
  cuda::flash_attention_forward(gq.get(), gk.get(), gv.get(), qv, kvv, nullptr, gout.get(), qv, glse.get(),
                                shape, c.stream);
  r.compare(tag, "bf16", "out", gout.read(c), out, 1e-2);
  cuda::flash_attention_backward(gdout.get(), gq.get(), gk.get(), gv.get(), gout.get(), glse.get(), qv, kvv,
                                 qv, nullptr, gdq.get(), gdk.get(), gdv.get(), shape, c.alloc, c.stream);
  r.compare(tag, "bf16", "dq", gdq.read(c), dq, 1e-2);
  r.compare(tag, "bf16", "dk", gdk.read(c), dk, 1e-2);
  r.compare(tag, "bf16", "dv", gdv.read(c), dv, 1e-2);
}

} // namespace

void check_matmul(Ctx& c, Report& r) {
  cuda::Blas blas;
  gemms<float, float>(c, r, blas);
  gemms<bf16, float>(c, r, blas);
  gemms<bf16, bf16>(c, r, blas);
  linears<float>(c, r, blas);
  linears<bf16>(c, r, blas);
}

void check_attention(Ctx& c, Report& r) {
  glm_attention(c, r, 3, 200, 2, 64); // S not a multiple of 64; samples causal, GLM, GLM
  glm_attention(c, r, 2, 128, 3, 128);
  glm_attention(c, r, 2, 96, 8, 8);  // the tiny preset's head dim (padded to a 32 tile)
  glm_attention(c, r, 1, 64, 2, 40); // hd not a power of two
  grouped_attention(c, r, 2, 160, 4, 2, 64);
}

} // namespace glm3d::gpucheck
