#pragma once
// The keys (after RoPE) and values of every token a rank's layers have seen, so a decode step
// computes one new token per sequence instead of the whole sequence again. Per layer of the
// rank's stage, row (sequence) and slot (token position in the row):
//   k, v  [layers][rows][slots][kv heads of this tp rank][head dim]   float32
// A row holds one sequence; a left-padded batch puts token j of sequence b at slot first_b + j.
#include <cstdint>
#include <vector>

namespace glm3d {

class KvCache {
public:
  KvCache() = default;
  KvCache(int64_t layers, int64_t rows, int64_t slots, int64_t heads, int64_t head_dim);

  int64_t layers() const { return layers_; }
  int64_t rows() const { return rows_; }
  int64_t slots() const { return slots_; }
  int64_t token_stride() const { return heads_ * hd_; } // floats between consecutive slots

  // The key / value of (layer, row, slot): [heads, head_dim].
  float* k(int64_t layer, int64_t row, int64_t slot) { return k_.data() + index(layer, row, slot); }
  float* v(int64_t layer, int64_t row, int64_t slot) { return v_.data() + index(layer, row, slot); }
  int64_t bytes() const { return int64_t((k_.capacity() + v_.capacity()) * sizeof(float)); }

private:
  int64_t index(int64_t layer, int64_t row, int64_t slot) const {
    return ((layer * rows_ + row) * slots_ + slot) * heads_ * hd_;
  }
  int64_t layers_ = 0, rows_ = 0, slots_ = 0, heads_ = 0, hd_ = 0;
  std::vector<float> k_, v_;
};

} // namespace glm3d
