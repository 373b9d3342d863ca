#pragma once
// Rotary position embedding on the GPU, in place (T = float or bf16; angles in f64 as on the
// CPU, so long positions keep f32 accuracy).
//
// Heads are addressed by strides, so one kernel serves GLM's qkv [B, S, nh, 3, hd] and
// ChatGLM2's [q (nh heads) | k (ng heads) | v] rows: head h of token t starts at
// x + t * tok_stride + h * head_stride and holds hd contiguous elements.
//
//   half_1d         core/cpu/rope.h 1D: the whole head dim rotated by pos, element i < hd/2
//                   pairs with i + hd/2 ("rotate_half"), t = p * base^(-2i/hd)
//   half_2d         core/cpu/rope.h 2D (ChatGLM): the first hd/2 by pos, the second by block_pos
//   interleaved     ChatGLM2: pairs (2i, 2i+1) of the first hd/2 elements, t = p * base^(-2i/(hd/2));
//                   the second half untouched
// Backward is the inverse rotation (the rotation is orthogonal): `inverse` = true.
#include <cstdint>
#include <cuda_runtime_api.h>

namespace glm3d::cuda {

enum class RopeKind { half_1d, half_2d, interleaved };

struct HeadView {
  int64_t tokens, heads, tok_stride, head_stride, hd;
};

// pos, block_pos [tokens] (block_pos only for half_2d).
template <class T>
void rope_apply(T* x, const HeadView& v, const int32_t* pos, const int32_t* block_pos, RopeKind kind,
                double base, bool inverse, cudaStream_t stream);

// The CPU signatures over qkv [B, S, nh, 3, hd] (q and k rotated, v untouched): 1D when
// block_pos is null, else 2D.
template <class T>
void rope_forward(T* qkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                  int64_t hd, double base, cudaStream_t stream);
template <class T>
void rope_backward(T* dqkv, const int32_t* pos, const int32_t* block_pos, int64_t B, int64_t S, int64_t nh,
                   int64_t hd, double base, cudaStream_t stream);

} // namespace glm3d::cuda
