#include "model/flops.h"

namespace glm3d {

std::vector<Gemm> layer_forward_gemms(const ModelConfig& c, int tp, int64_t B, int64_t S) {
  const int64_t N = B * S, H = c.hidden, hd = c.head_dim(), nhl = c.num_heads / tp;
  return {
      {"qkv", N, c.qkv_width() / tp, H, 1},   {"scores", S, S, hd, B * nhl},
      {"context", S, hd, S, B * nhl},         {"dense", N, H, H / tp, 1},
      {"up", N, c.ffn_up_width() / tp, H, 1}, {"down", N, H, c.ffn_hidden / tp, 1},
  };
}

std::vector<Gemm> head_forward_gemms(const ModelConfig& c, int tp, int64_t padded_vocab, int64_t B,
                                     int64_t S) {
  return {{"lm_head", B * S, padded_vocab / tp, c.hidden, 1}};
}

std::vector<Gemm> layer_backward_gemms(const ModelConfig& c, int tp, int64_t B, int64_t S,
                                       const ExecPolicy& p) {
  const std::vector<Gemm> fwd = layer_forward_gemms(c, tp, B, S);
  std::vector<Gemm> out;
  for (const Gemm& g : fwd) {
    const bool attention = g.name == "scores" || g.name == "context";
    // Forward reruns: the whole layer (full), the attention core (selective, dense), and the
    // scores inside flash attention's backward (only log-sum-exp was kept).
    const int reruns =
        (p.recompute == Recompute::full ? 1 : 0) +
        (attention && p.recompute == Recompute::selective && p.attention == AttentionImpl::dense ? 1 : 0) +
        (g.name == "scores" && p.attention == AttentionImpl::flash ? 1 : 0);
    for (int r = 0; r < reruns; ++r)
      out.push_back({g.name + "_recompute", g.m, g.n, g.k, g.batch});
    out.push_back({g.name + "_dgrad", g.m, g.n, g.k, g.batch});
    out.push_back({g.name + "_wgrad", g.m, g.n, g.k, g.batch});
  }
  return out;
}

double total_flops(const std::vector<Gemm>& gemms) {
  double f = 0;
  for (const Gemm& g : gemms)
    f += g.flops();
  return f;
}

} // namespace glm3d
