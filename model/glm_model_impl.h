#pragma once
// Internal to model/: the private structures of GlmModel shared by glm_model.cpp (chunks,
// embedding, head, weights) and glm_layer.cpp (one transformer layer).
#include "core/check.h"
#include "core/cpu/flash_attention.h"
#include "model/glm_model.h"
#include "model/head_rows.h"
#include "model/qlora_base.h"

namespace glm3d {

// Everything one layer's backward needs from its forward, for one micro-batch. Under
// --recompute full only `x` survives the forward (keep_for_backward); the rest is rebuilt by
// rerunning the forward in backward. Under selective recomputation the dense attention's
// probabilities are dropped and recomputed from qkv.
template <class T> struct GlmModel<T>::LayerActs {
  std::vector<T> x;                     // [N, H]   layer input
  std::vector<T> mean1, rstd1;          // [N]      LN1 statistics
  StoredAct<T> h;                       // [N, H]   LN1 output (QKV input)
  StoredAct<T> qkv;                     // [N, 3Hl] after RoPE, [B, S, nhl, 3, hd]
  std::vector<T> probs;                 // dense attention: [B, nhl, S, S]
  std::vector<cpu::flash_acc_t<T>> lse; // flash attention: [B, nhl, S] log-sum-exp per query
  StoredAct<T> ctx;                     // [N, Hl]  attention output (dense input)
  StoredAct<T> ctx_ext;                 // P-tuning: [B, P+S, Hl] attention output with the prefix rows
  std::vector<T> x1;                    // [N, H]   LN2 input
  std::vector<T> mean2, rstd2;          // [N]
  StoredAct<T> h2;                      // [N, H]   LN2 output (FFN input)
  StoredAct<T> u;                       // [N, Ul]  FFN pre-activation
  StoredAct<T> act;                     // [N, Fl]  FFN activation (down input)
  std::vector<T> lora_z[4];             // LoRA: z = drop(x) A^T [N, r] per linear module (model/lora.h)
  bool complete = false;                // everything backward needs is present
  int64_t bytes() const;
  void release_all_but_input();
};

template <class T> struct GlmModel<T>::ChunkActs {
  std::vector<LayerActs> layers;
  // Head chunk. n: the head's rows, N or (training) the R rows with loss (model/head_rows.h).
  std::vector<T> final_x, meanf, rstdf; // LNf input and statistics [n, H], [n]
  StoredAct<T> hf;                      // LNf output, the LM head's input [n, H]
  std::vector<T> probs;                 // softmax over the local vocab [n, Vl]
  std::optional<LossRows> loss_rows;    // set: the head runs on these R rows only (head_rows.h)
};

// A layer's weights: matrices as MatIn (T or bf16), vectors as T.
template <class T> struct GlmModel<T>::Weights {
  const T *ln1_w, *ln1_b, *qkv_b, *o_b, *ln2_w, *ln2_b, *up_b, *down_b;
  MatIn<T> qkv_w, o_w, up_w, down_w;
};

// Buffers reused by every layer call (their capacity grows to the largest layer once). Forward
// and backward share them; glm_layer.cpp says which tensor lives in which, and when.
template <class T> struct GlmModel<T>::Scratch {
  std::vector<T> h, h2;          // [N, H]: LN outputs (bf16 forward); dh2 / dh and dx1 (backward)
  std::vector<T> wide;           // [N, max(3Hl, Ul)]: qkv, then u (bf16 forward); u widened, then dqkv
  std::vector<T> act;            // [N, Fl]: activation (bf16 forward); dact, and du for GeLU (in place)
  std::vector<T> extra;          // [N, max(H, Ul)]: the recomputed layer's output; du for gated FFNs
  std::vector<T> small;          // [N, Hl]: dctx; the recomputed context (selective)
  std::vector<bf16> qb;          // bf16 attention gradients [N, Hl] + [N, qkv width]
  std::vector<int32_t> zero_sep; // [B]: the causal mask for the dense kernel; P-tuning: P + sep
  std::vector<T> ext, dext;      // P-tuning: [B, P+S, W] qkv (bf16 forward), its gradient
  std::vector<T> dctx_ext;       // P-tuning: [B, P+S, Hl]
};

// The matmul dispatch: bf16 operands (bf16 precision) or T operands.
template <class T>
void linear_fwd(MatIn<T> x, MatIn<T> W, const T* b, T* y, int64_t N, int64_t in, int64_t out) {
  if (W.q) { // a QLoRA base's matrix
    qlora_linear_forward(x, *W.q, b, y, N);
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (x.b) {
      cpu::linear_forward_bf16(x.b, W.b, b, y, N, in, out);
      return;
    }
  cpu::linear_forward(x.f, W.f, b, y, N, in, out, cpu::Precision::f32);
}

template <class T>
void linear_bwd(const T* dy, MatIn<T> x, MatIn<T> W, T* dx, T* dW, T* db, int64_t N, int64_t in,
                int64_t out) {
  if (W.q) { // a QLoRA base's matrix: frozen, no weight or bias gradient
    GLM3D_CHECK(!dW && !db) << "a quantized base weight has no gradient";
    qlora_linear_backward_input(dy, *W.q, dx, N);
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    if (x.b) {
      cpu::linear_backward_bf16(dy, x.b, W.b, dx, dW, db, N, in, out, false);
      return;
    }
  cpu::linear_backward(dy, x.f, W.f, dx, dW, db, N, in, out, false, cpu::Precision::f32);
}

template <class T> T* sized(std::vector<T>& v, int64_t n) {
  if (v.size() < size_t(n))
    v.resize(size_t(n));
  return v.data();
}

} // namespace glm3d
