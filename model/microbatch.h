#pragma once
// A micro-batch: B samples of length S flattened row-major ([B*S] per field).
#include "data/sample.h"

#include <cstdint>
#include <vector>

namespace glm3d {

struct MicroBatch {
  int64_t B = 0, S = 0;
  std::vector<int32_t> tokens, position_ids, block_position_ids, targets; // [B*S]
  std::vector<uint8_t> loss_mask;                                         // [B*S]
  std::vector<int32_t> sep;                                               // [B]
  std::vector<int64_t> sample_ids; // [B] global sample index (keys dropout masks; empty: 0..B-1)
  int64_t target_count() const;    // positions with loss_mask 1
};

// Stacks samples of equal length; throws if lengths differ.
MicroBatch stack_samples(const std::vector<Sample>& samples);

} // namespace glm3d
