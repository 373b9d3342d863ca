#pragma once
// Iteration ranges such as --skip-iters "100-120,300-300" (1-based, inclusive): the
// GLM-130B remedy for a loss spike is to rewind and skip the data of the steps that
// caused it. A skipped step consumes its samples (sample k of step s is a function of
// (s-1)*global_batch + k, so skipping moves nothing) and makes no update.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace glm3d {

struct IterRanges {
  std::vector<std::pair<int64_t, int64_t>> ranges; // [first, last], inclusive
  bool contains(int64_t step) const;
};

// "" -> empty; "A-B[,C-D...]" or "A" with 1 <= A <= B; throws UsageError naming `option`.
IterRanges parse_iter_ranges(const std::string& spec, const char* option);

} // namespace glm3d
