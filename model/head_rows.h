#pragma once
// The rows of a micro-batch the LM head runs on in training: only those that carry loss
// (loss_mask 1). A row without loss changes neither the loss nor any gradient, so its final
// norm, its logits [Vl], its softmax and its share of the head's three products are skipped.
// GLM's objective puts loss on Part B only, and fine-tuning on the response only, so most rows of
// a batch often carry none. The rows are moved to the front of their [N, H] buffer in forward and
// back in backward; both keep row order, so the head sees its rows in micro-batch order.
#include "model/microbatch.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <vector>

namespace glm3d {

// The rows of a micro-batch that carry loss (ascending), their targets, and their loss mask
// (all 1: the cross-entropy kernels take one).
struct LossRows {
  std::vector<int64_t> rows;
  std::vector<int32_t> targets;
  std::vector<uint8_t> mask;
};

// The micro-batch's rows with loss; nullopt when every row carries loss (nothing to select).
inline std::optional<LossRows> select_loss_rows(const MicroBatch& mb) {
  LossRows s;
  for (size_t r = 0; r < mb.loss_mask.size(); ++r)
    if (mb.loss_mask[r]) {
      s.rows.push_back(int64_t(r));
      s.targets.push_back(mb.targets[r]);
    }
  if (s.rows.size() == mb.loss_mask.size())
    return std::nullopt;
  s.mask.assign(s.rows.size(), uint8_t(1));
  return s;
}

// x [N, H]: row rows[i] moves to row i, for every i (rows ascending, so rows[i] >= i and no row
// is overwritten before it moves). The first rows.size() rows of x are then the selected rows.
template <class T> void compact_rows(T* x, const std::vector<int64_t>& rows, int64_t H) {
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i] != int64_t(i))
      std::memcpy(x + int64_t(i) * H, x + rows[i] * H, size_t(H) * sizeof(T));
}

// The inverse of compact_rows on x [N, H]: row i goes back to row rows[i] (last first, so no
// row is overwritten before it moves), and every row not in `rows` is set to zero.
template <class T> void expand_rows(T* x, const std::vector<int64_t>& rows, int64_t N, int64_t H) {
  int64_t done = N; // rows [done, N) hold their final values
  for (size_t k = rows.size(); k-- > 0;) {
    const int64_t r = rows[k];
    std::fill(x + (r + 1) * H, x + done * H, T(0));
    if (r != int64_t(k))
      std::memcpy(x + r * H, x + int64_t(k) * H, size_t(H) * sizeof(T));
    done = r;
  }
  std::fill(x, x + done * H, T(0));
}

} // namespace glm3d
