#pragma once
// Products of sizes that come from files (shapes, counts): std::nullopt when the result does
// not fit, so a reader can refuse the file instead of computing an overflowed (undefined) size.
#include <cstdint>
#include <initializer_list>
#include <optional>

namespace glm3d {

inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r))
    return std::nullopt;
  return r;
}

// The product of all factors, or std::nullopt when an intermediate product overflows.
template <class T> std::optional<T> checked_product(std::initializer_list<T> factors) {
  T r = 1;
  for (T f : factors) {
    const std::optional<T> p = checked_mul(r, f);
    if (!p)
      return std::nullopt;
    r = *p;
  }
  return r;
}

} // namespace glm3d
