#pragma once
// Vocab-parallel embedding lookup. This rank holds rows [v0, v0 + Vl) of the
// (padded) vocabulary: W [Vl, H]. Tokens outside the range produce zero rows; the
// caller all-reduces over the tensor-parallel group.
#include "core/dtype.h"

#include <cstdint>

namespace glm3d::cpu {

// out [N, H] (overwrite).
template <class T>
void embedding_forward(const int32_t* tokens, const T* W, T* out, int64_t N, int64_t H, int64_t v0,
                       int64_t Vl);

// The same lookup from a bf16 table (bf16 compute weights), widened to f32.
void embedding_forward(const int32_t* tokens, const bf16* W, float* out, int64_t N, int64_t H, int64_t v0,
                       int64_t Vl);
// dW [Vl, H] += scatter of dout [N, H] for tokens in range.
template <class T>
void embedding_backward(const int32_t* tokens, const T* dout, T* dW, int64_t N, int64_t H, int64_t v0,
                        int64_t Vl);

} // namespace glm3d::cpu
