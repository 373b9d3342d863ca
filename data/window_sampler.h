#pragma once
// Global sample index -> training window. The token stream (all shards, <eos> after every
// document) is cut into floor(total / window_len) fixed windows; the tail that does not fill a
// window is never used. Epoch e = k / windows visits the windows in the order of a keyed
// permutation of (seed, e), so window(k) is a pure function of (store size, window_len, seed, k).
#include "data/rng.h"

#include <cstdint>

namespace glm3d {

class WindowSampler {
public:
  WindowSampler(uint64_t total_tokens, uint64_t window_len, uint64_t seed);

  uint64_t windows_per_epoch() const { return windows_; }
  uint64_t window_len() const { return window_len_; }

  struct Pick {
    int64_t epoch = 0;
    uint64_t index = 0;       // position within the epoch
    uint64_t window = 0;      // which window of the stream
    uint64_t token_start = 0; // window * window_len
  };
  Pick pick(int64_t k) const;

private:
  uint64_t windows_, window_len_, seed_;
};

} // namespace glm3d
