#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3"):
// a counter-based generator, so the value drawn for element i of a tensor is a
// pure function of (key, i) and any shard of the tensor can be initialised alone.
#include <cmath>
#include <cstdint>
#include <string>

namespace glm3d {

struct Philox4x32 {
  static void round(uint32_t ctr[4], const uint32_t key[2]) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * ctr[0];
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * ctr[2];
    const uint32_t hi0 = uint32_t(p0 >> 32), lo0 = uint32_t(p0);
    const uint32_t hi1 = uint32_t(p1 >> 32), lo1 = uint32_t(p1);
    const uint32_t n0 = hi1 ^ ctr[1] ^ key[0], n2 = hi0 ^ ctr[3] ^ key[1];
    ctr[0] = n0;
    ctr[1] = lo1;
    ctr[2] = n2;
    ctr[3] = lo0;
  }
  // The Philox4x32-10 bijection of Random123 (philox4x32_R with R = 10): a 128-bit counter
  // and a 64-bit key to four 32-bit outputs (checked against its known-answer vectors).
  static void block(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t ctr[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t k[2] = {key[0], key[1]};
    for (int r = 0; r < 10; ++r) {
      round(ctr, k);
      k[0] += 0x9E3779B9u; // the Weyl key schedule (the bump after the last round is unused)
      k[1] += 0xBB67AE85u;
    }
    for (int i = 0; i < 4; ++i)
      out[i] = ctr[i];
  }
  // Four 32-bit outputs for counter (c0, c1) under key (k0, k1); the counter's upper two words
  // are fixed constants.
  static void generate(uint64_t counter, uint64_t key, uint32_t out[4]) {
    const uint32_t ctr[4] = {uint32_t(counter), uint32_t(counter >> 32), 0x9E3779B9u, 0x7F4A7C15u};
    const uint32_t k[2] = {uint32_t(key), uint32_t(key >> 32)};
    block(ctr, k, out);
  }
  // Standard normal for index i of the stream `key` (Box-Muller on the first two outputs).
  static double normal(uint64_t key, uint64_t i) {
    uint32_t o[4];
    generate(i, key, o);
    const double u1 = (double(o[0]) + 1.0) / 4294967297.0; // (0, 1)
    const double u2 = double(o[1]) / 4294967296.0;         // [0, 1)
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Uniform in [0, 1) for index i of the stream `key`.
  static double uniform(uint64_t key, uint64_t i) {
    uint32_t o[4];
    generate(i, key, o);
    return (double(o[0]) * 4294967296.0 + double(o[1])) / 18446744073709551616.0;
  }
};

// Stream key of (seed, name): FNV-1a of the name mixed with the seed.
inline uint64_t stream_key(uint64_t seed, const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name)
    h = (h ^ ch) * 1099511628211ull;
  h ^= seed + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

} // namespace glm3d
