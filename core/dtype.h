#pragma once
// Element types and the bf16 storage type (round-to-nearest-even from f32).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

namespace glm3d {

enum class DType { f32, f64, bf16, i32, i64, u32, u64, u8 };

size_t dtype_size(DType t);
std::string dtype_name(DType t);

// bfloat16: the upper 16 bits of an IEEE f32.
struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  explicit bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = uint16_t((u >> 16) | 0x40); // quiet NaN
    } else {
      u += 0x7fffu + ((u >> 16) & 1u); // round to nearest even
      bits = uint16_t(u >> 16);
    }
  }
  explicit operator float() const {
    uint32_t u = uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <> constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <> constexpr DType dtype_of<bf16>() {
  return DType::bf16;
}
template <> constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}
template <> constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}
template <> constexpr DType dtype_of<uint32_t>() {
  return DType::u32;
}
template <> constexpr DType dtype_of<uint64_t>() {
  return DType::u64;
}
template <> constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}

} // namespace glm3d
