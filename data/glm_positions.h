#pragma once
// GLM's two position ids of a token (2D RoPE: the first half of each head rotates by
// `position`, the second by `block`; 1D RoPE uses `position` only). One rule for training
// samples (data/glm_collator.cpp) and for generation (infer/):
//   Part A (the context), token i:           (i, 0)
//   Part B, token t of a span (t = 0 at <sop>) whose mask token sits at index m of Part A:
//                                            (m, t + 1)
// ChatGLM-6B builds the same ids for generation (modeling_chatglm.py get_position_ids: arange
// over the context, mask_position from <sop> on; block ids 0, then 1, 2, ... from <sop>).
#include <cstdint>

namespace glm3d {

struct GlmPosition {
  int32_t position = 0, block = 0;
  bool operator==(const GlmPosition&) const = default;
};

inline GlmPosition part_a_position(int64_t i) {
  return {int32_t(i), 0};
}
inline GlmPosition part_b_position(int64_t mask_index, int64_t t) {
  return {int32_t(mask_index), int32_t(t + 1)};
}

} // namespace glm3d
