#pragma once
// f64 references for the GPU kernels without a CPU twin in core/cpu (RMSNorm, SwiGLU,
// ChatGLM2's interleaved RoPE) and the attention logsumexp; written from the definitions in
// core/cuda/*.h, plainly, one element at a time.
#include <cstdint>
#include <vector>

namespace glm3d::gpucheck {

using Vec = std::vector<double>;

// y = x rstd gamma, rstd = 1/sqrt(mean(x^2) + eps); x, y [N, C].
void rmsnorm_ref(const Vec& x, const Vec& gamma, Vec& y, Vec& rstd, int64_t N, int64_t C, double eps);
// dx (+= when accumulate) and dgamma (+=).
void rmsnorm_backward_ref(const Vec& dy, const Vec& x, const Vec& gamma, const Vec& rstd, Vec& dx,
                          Vec& dgamma, int64_t N, int64_t C, bool accumulate);
// x [N, 2F] = [a | b]: y = silu(a) b; backward dx [N, 2F] from dy [N, F].
void swiglu_ref(const Vec& x, Vec& y, int64_t N, int64_t F);
void swiglu_backward_ref(const Vec& x, const Vec& dy, Vec& dx, int64_t N, int64_t F);
// Interleaved RoPE of [tokens, heads, hd] in place (sign -1: inverse).
void rope_interleaved_ref(Vec& x, const std::vector<int32_t>& pos, int64_t tokens, int64_t heads, int64_t hd,
                          double base, double sign);
// lse [B, nh, S] of the GLM-masked scaled scores of qkv [B, S, nh, 3, hd].
Vec attention_lse_ref(const Vec& qkv, const std::vector<int32_t>& sep, int64_t B, int64_t S, int64_t nh,
                      int64_t hd);

} // namespace glm3d::gpucheck
