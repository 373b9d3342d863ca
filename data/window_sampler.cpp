#include "data/window_sampler.h"

#include "core/check.h"

namespace glm3d {

KeyedPermutation::KeyedPermutation(uint64_t n, uint64_t key) : n_(n), key_(key) {
  int bits = 2;
  while (bits < 64 && (uint64_t(1) << bits) < n)
    bits += 2;
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t(1) << half_bits_) - 1;
}

uint64_t KeyedPermutation::encrypt(uint64_t x) const {
  uint64_t l = x >> half_bits_, r = x & half_mask_;
  for (uint64_t round = 0; round < 6; ++round) {
    const uint64_t f = mix64(key_ ^ mix64((round << 56) ^ r)) & half_mask_;
    const uint64_t nl = r;
    r = l ^ f;
    l = nl;
  }
  return (l << half_bits_) | r;
}

uint64_t KeyedPermutation::operator()(uint64_t i) const {
  GLM3D_CHECK(i < n_) << "permutation index " << i << " out of range " << n_;
  // Cycle walking: re-encrypt until the value falls inside [0, n). The domain is < 4n, so
  // this takes under four steps on average and always ends (encrypt is a bijection).
  uint64_t x = encrypt(i);
  while (x >= n_)
    x = encrypt(x);
  return x;
}

WindowSampler::WindowSampler(uint64_t total_tokens, uint64_t window_len, uint64_t seed)
    : windows_(window_len ? total_tokens / window_len : 0), window_len_(window_len), seed_(seed) {
  GLM3D_USAGE_CHECK(windows_ >= 1) << "the token store holds " << total_tokens
                                   << " tokens, fewer than one training window of " << window_len
                                   << " tokens (use a shorter --seq-len or more data)";
}

WindowSampler::Pick WindowSampler::pick(int64_t k) const {
  GLM3D_CHECK(k >= 0) << "negative sample index " << k;
  Pick p;
  p.epoch = k / int64_t(windows_);
  p.index = uint64_t(k) % windows_;
  const KeyedPermutation perm(windows_, mix64(mix64(seed_ ^ 0x57494E444F57ull) ^ uint64_t(p.epoch)));
  p.window = perm(p.index);
  p.token_start = p.window * window_len_;
  return p;
}

} // namespace glm3d
