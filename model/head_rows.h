#pragma once
// The rows of a micro-batch the LM head runs on in training: only those that carry loss
// (loss_mask 1). A row without loss changes neither the loss nor any gradient, so its final
// norm, its logits [Vl], its softmax and its share of the head's three products are skipped.
// GLM's objective puts loss on Part B only, and fine-tuning on the response only, so most rows of
// a batch often carry none. The rows are moved to the front of their [N, H] buffer in forward and
// back in backward; both keep row order, so the head sees its rows in micro-batch order.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace glm3d {

// The rows r < N with mask[r] != 0, ascending.
inline std::vector<int64_t> rows_with_loss(const uint8_t* mask, int64_t N) {
  std::vector<int64_t> rows;
  for (int64_t r = 0; r < N; ++r)
    if (mask[r])
      rows.push_back(r);
  return rows;
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
