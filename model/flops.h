#pragma once
// The matrix products of one micro-batch through a rank's share of the model, with their
// shapes, so that a cost model can price each GEMM at its own size (the planner, plan/). Sums
// match training_flops_per_token (model/config.h): every matmul, GeGLU's up-projection as two
// matrices, attention's scores and weighted sum over the full S (Part A is bidirectional).
//
// Backward runs two GEMMs of the same size for every forward GEMM (input gradient and weight
// gradient; for the attention products, the gradients of both operands), so its FLOPs are
// twice the forward's. Recomputation adds forward GEMMs to the backward (backward_gemms).
#include "model/config.h"
#include "model/exec_policy.h"

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

// C[m, n] = A[m, k] B[k, n], `batch` times (batched products: heads x micro-batch samples).
struct Gemm {
  std::string name;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  double flops() const { return 2.0 * double(batch) * double(m) * double(n) * double(k); }
};

// One transformer layer's forward on a tensor-parallel rank, micro-batch of B x S tokens:
// qkv [BS, 3H/tp] <- [BS, H]; attention scores [S, S] <- [S, hd] and context [S, hd] <- [S, S]
// per (sample, local head); dense [BS, H] <- [BS, H/tp]; up [BS, U/tp] <- [BS, H];
// down [BS, H] <- [BS, F/tp].
std::vector<Gemm> layer_forward_gemms(const ModelConfig& cfg, int tp, int64_t B, int64_t S);
// The LM head's forward: logits of this rank's vocabulary slice [BS, Vpad/tp] <- [BS, H].
std::vector<Gemm> head_forward_gemms(const ModelConfig& cfg, int tp, int64_t padded_vocab, int64_t B,
                                     int64_t S);
// The GEMMs a layer's backward runs under the execution policy: two per forward GEMM, plus the
// forward GEMMs it reruns (full: the whole layer; selective with dense attention: the attention
// products; flash attention always recomputes the scores from q and k).
std::vector<Gemm> layer_backward_gemms(const ModelConfig& cfg, int tp, int64_t B, int64_t S,
                                       const ExecPolicy& p);

double total_flops(const std::vector<Gemm>& gemms);

// Elements each tensor-parallel all-reduce of a layer moves: [B*S, H] (the attention output and
// the FFN output in forward; the gradients of the qkv and up-projection inputs in backward).
inline int64_t tp_allreduce_elems(const ModelConfig& cfg, int64_t B, int64_t S) {
  return B * S * cfg.hidden;
}
inline constexpr int k_tp_allreduces_per_layer_forward = 2;
inline constexpr int k_tp_allreduces_per_layer_backward = 2;

} // namespace glm3d
