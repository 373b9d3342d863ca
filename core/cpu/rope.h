#pragma once
// Rotary position embedding applied in place to the q and k parts of
// qkv [B, S, nh, 3, hd] (v untouched).
//   1D (block_pos == nullptr): the whole head dim hd is rotated by pos[b*S+s].
//   2D (ChatGLM): the first hd/2 by pos, the second hd/2 by block_pos.
// Within a rotated part of width d, element i < d/2 pairs with i + d/2 ("rotate_half"):
//   (x1, x2) -> (x1 cos t - x2 sin t, x2 cos t + x1 sin t),  t = p * base^(-2i/d).
#include "core/cpu/head_view.h"

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

// ChatGLM2/3 ("half-interleaved"): in each head of width hd only the first rot = hd / 2 dims are
// rotated, as interleaved pairs (2i, 2i + 1), i < rot / 2, by t = pos * base^(-2i / rot):
//   (x0, x1) -> (x0 cos t - x1 sin t, x1 cos t + x0 sin t);
// dims [rot, hd) pass through. In place on the nq heads of q and the nk heads of k (e.g. the
// views of packed_qkv: nh query heads, ng key groups); pos [B * S] (plain 0..S-1 in ChatGLM2).
template <class T>
void rope_interleaved_forward(const HeadView<T>& q, int64_t nq, const HeadView<T>& k, int64_t nk,
                              const int32_t* pos, int64_t B, int64_t S, int64_t hd, double base);

// The inverse rotation, in place on the gradients dq, dk (laid out as q, k).
template <class T>
void rope_interleaved_backward(const HeadView<T>& dq, int64_t nq, const HeadView<T>& dk, int64_t nk,
                               const int32_t* pos, int64_t B, int64_t S, int64_t hd, double base);

} // namespace glm3d::cpu
