#pragma once
// Keyed pseudo-random streams for the data pipeline. Every draw is a pure function of the key
// (seed, a, b) and the draw index, with our own integer/real conversions (no std::
// distributions, whose output differs between standard libraries), so sample k is the same on
// every machine, rank count and restart.
#include <cstdint>

namespace glm3d {

// SplitMix64 finaliser: a bijective 64-bit mixer.
constexpr uint64_t mix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class KeyedRng {
public:
  KeyedRng(uint64_t seed, uint64_t a, uint64_t b = 0) : state_(mix64(mix64(mix64(seed) ^ a) ^ b)) {}

  uint64_t next() { return mix64(state_ += 0x9E3779B97F4A7C15ull); }
  // Uniform in [0, n), unbiased (rejection of the short top range). n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t limit = ~uint64_t(0) - (~uint64_t(0) % n);
    uint64_t x;
    do
      x = next();
    while (x >= limit);
    return x % n;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }

private:
  uint64_t state_;
};

// A bijection of [0, n) keyed by `key`: a 6-round Feistel network on the smallest even-bit
// power-of-two domain >= n, with cycle walking back into [0, n). O(1) memory, so the epoch
// permutation of any number of windows costs nothing to hold.
class KeyedPermutation {
public:
  KeyedPermutation(uint64_t n, uint64_t key);
  uint64_t operator()(uint64_t i) const;
  uint64_t size() const { return n_; }

private:
  uint64_t encrypt(uint64_t x) const;
  uint64_t n_, key_;
  int half_bits_;
  uint64_t half_mask_;
};

} // namespace glm3d
