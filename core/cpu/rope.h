#pragma once
// Rotary position embedding applied in place to the q and k parts of
// qkv [B, S, nh, 3, hd] (v untouched).
//   1D (block_pos == nullptr): the whole head dim hd is rotated by pos[b*S+s].
//   2D (ChatGLM): the first hd/2 by pos, the second hd/2 by block_pos.
// Within a rotated part of width d, element i < d/2 pairs with i + d/2 ("rotate_half"):
//   (x1, x2) -> (x1 cos t - x2 sin t, x2 cos t + x1 sin t),  t = p * base^(-2i/d).
#include <cstdint>

namespace glm3d::cpu {

template <class T>
void rope_forward(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                  int64_t hd, double base);

// The rotation is orthogonal, so backward applies the inverse rotation to dq and dk in place
// (dqkv laid out as qkv; dv untouched).
template <class T>
void rope_backward(T* dqkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                   int64_t hd, double base);

} // namespace glm3d::cpu
