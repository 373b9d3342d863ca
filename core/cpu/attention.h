#pragma once
// Softmax attention with the GLM mask. Query i of sample b sees key j iff
//   j < sep[b]  (Part A, bidirectional)   or   j <= i  (Part B, causal).
// Layouts (row-major):
//   qkv   [B, S, nh, 3, hd]  per head q, k, v contiguous (ChatGLM's interleaving; a
//                            tensor-parallel rank holds whole heads)
//   out   [B, S, nh, hd]
//   probs [B, nh, S, S]      softmax probabilities, saved for backward (0 where masked)
// Scale 1/sqrt(hd).
#include <cstdint>

namespace glm3d::cpu {

template <class T>
void glm_attention_forward(const T* qkv, const int32_t* sep, T* out, T* probs, int64_t B, int64_t S,
                           int64_t nh, int64_t hd);

// dqkv [B,S,nh,3,hd] (overwrite) from dout [B,S,nh,hd].
template <class T>
void glm_attention_backward(const T* dout, const T* qkv, const T* probs, const int32_t* sep, T* dqkv,
                            int64_t B, int64_t S, int64_t nh, int64_t hd);

} // namespace glm3d::cpu
