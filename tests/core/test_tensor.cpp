// Tensor views, Arena allocation and the dtype table, including bf16 rounding.
#include "core/arena.h"
#include "core/check.h"
#include "core/dtype.h"
#include "core/tensor.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <gtest/gtest.h>
#include <limits>

namespace glm3d {
namespace {

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float f32_from(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  EXPECT_EQ(dtype_size(DType::u32), 4u);
  EXPECT_EQ(dtype_size(DType::u64), 8u);
  EXPECT_EQ(dtype_size(DType::u8), 1u);
  EXPECT_EQ(sizeof(bf16), 2u);
  EXPECT_EQ(dtype_name(DType::bf16), "bf16");
  EXPECT_EQ(dtype_name(DType::u64), "u64");
}

// Hand-picked values around the rounding boundaries of the 7 stored mantissa bits.
TEST(DType, Bf16RoundToNearestEven) {
  EXPECT_EQ(bf16(1.0f).bits, 0x3F80);
  EXPECT_EQ(bf16(-1.5f).bits, 0xBFC0);
  EXPECT_EQ(bf16(f32_from(0x3F808000)).bits, 0x3F80); // exactly half an ulp above 1: tie -> even (down)
  EXPECT_EQ(bf16(f32_from(0x3F818000)).bits, 0x3F82); // tie between 0x3F81 and 0x3F82 -> even (up)
  EXPECT_EQ(bf16(f32_from(0x3F808001)).bits, 0x3F81); // just above the tie -> up
  EXPECT_EQ(bf16(f32_from(0x3F807FFF)).bits, 0x3F80); // just below the tie -> down
  EXPECT_EQ(bf16(f32_from(0xBF818000)).bits, 0xBF82); // sign does not change the rule
  EXPECT_EQ(bf16(std::numeric_limits<float>::max()).bits, 0x7F80); // rounds up to +inf
  EXPECT_EQ(bf16(std::numeric_limits<float>::infinity()).bits, 0x7F80);
  EXPECT_EQ(bf16(0.0f).bits, 0x0000);
  EXPECT_EQ(bf16(-0.0f).bits, 0x8000);
  const bf16 nan(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan.bits & 0x7F80, 0x7F80);
  EXPECT_NE(nan.bits & 0x007F, 0);
  EXPECT_TRUE(std::isnan(float(nan)));
  EXPECT_EQ(float(bf16(f32_from(0x3F818000))), 1.015625f); // 1 + 2^-6, exact back in f32
  EXPECT_EQ(f32_bits(float(bf16(3.0f))), f32_bits(3.0f));
}

TEST(Arena, AlignedPiecesZeroFilledAndExhaustion) {
  Arena a(1000);
  EXPECT_EQ(a.capacity(), 1024u); // rounded up to kAlign
  auto* p1 = static_cast<std::byte*>(a.take(10));
  auto* p2 = static_cast<std::byte*>(a.take(100));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p1) % Arena::kAlign, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p2) % Arena::kAlign, 0u);
  EXPECT_EQ(p2 - p1, 64);
  EXPECT_EQ(a.used(), 64u + 128u);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(p2[i], std::byte{0});
  EXPECT_THROW(a.take(1024 - 192 + 1), Error);
  EXPECT_EQ(a.used(), 192u); // a failed take leaves the arena unchanged
  a.take(1024 - 192);        // exactly fills it
  EXPECT_EQ(a.used(), a.capacity());
  a.reset();
  EXPECT_EQ(a.used(), 0u);
  EXPECT_EQ(a.take(8), a.base());
}

TEST(Arena, TensorsInArenaAreDisjointAndMoveKeepsMemory) {
  Arena a(4096);
  Tensor t1 = Tensor::in_arena(a, {3, 5}, DType::f32);
  Tensor t2 = Tensor::in_arena(a, {7}, DType::f64);
  EXPECT_EQ(t1.raw(), a.base());
  EXPECT_EQ(static_cast<std::byte*>(t2.raw()), a.base() + 64);
  EXPECT_EQ(t1.strides(), (Shape{5, 1}));
  for (int i = 0; i < 15; ++i)
    t1.data<float>()[i] = float(i);
  for (int i = 0; i < 7; ++i)
    t2.data<double>()[i] = -1.0;
  EXPECT_EQ(t1.data<float>()[14], 14.0f); // t2's writes did not touch t1
  std::byte* base = a.base();
  Arena b = std::move(a);
  EXPECT_EQ(b.base(), base);
  EXPECT_EQ(t1.data<float>()[3], 3.0f);
}

Tensor iota(const Shape& s) {
  Tensor t = Tensor::empty(s, DType::f32);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = float(i);
  return t;
}

TEST(Tensor, EmptyZerosWrapAndMetadata) {
  Tensor z = Tensor::zeros({2, 3, 4}, DType::f64);
  EXPECT_EQ(z.numel(), 24);
  EXPECT_EQ(z.nbytes(), 24u * 8u);
  EXPECT_EQ(z.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(z.size(-1), 4);
  EXPECT_EQ(z.size(0), 2);
  EXPECT_THROW(z.size(3), Error);
  EXPECT_EQ(z.str(), "f64[2,3,4] cpu");
  for (int i = 0; i < 24; ++i)
    EXPECT_EQ(z.data<double>()[i], 0.0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(z.raw()) % Arena::kAlign, 0u);
  EXPECT_THROW(z.data<float>(), Error); // wrong dtype
  EXPECT_THROW(Tensor::empty({2}, DType::f32, Device::cuda), Error);
  int32_t ext[6] = {1, 2, 3, 4, 5, 6};
  Tensor w = Tensor::wrap(ext, {2, 3}, DType::i32);
  EXPECT_EQ(w.data<int32_t>(), ext);
  EXPECT_EQ(w.select(0, 1).data<int32_t>()[2], 6);
  EXPECT_FALSE(Tensor().defined());
  EXPECT_EQ(numel_of({}), 1);
  EXPECT_EQ(shape_str({2, 3}), "[2,3]");
}

TEST(Tensor, ViewSharesMemoryAndInfersOneDim) {
  Tensor t = iota({2, 3, 4});
  Tensor v = t.view({6, -1});
  EXPECT_EQ(v.shape(), (Shape{6, 4}));
  EXPECT_EQ(v.strides(), (Shape{4, 1}));
  EXPECT_EQ(v.raw(), t.raw());
  v.data<float>()[5] = 100.0f;
  EXPECT_EQ(t.data<float>()[5], 100.0f);
  EXPECT_THROW(t.view({5, -1}), Error);
  EXPECT_THROW(t.view({-1, -1}), Error);
  EXPECT_THROW(t.view({25}), Error);
  EXPECT_THROW(t.transpose(0, 1).view({24}), Error); // not contiguous
}

TEST(Tensor, SliceSelectTransposeAddressing) {
  Tensor t = iota({2, 3, 4});  // value = 12 a + 4 b + c
  Tensor s = t.slice(1, 1, 3); // [2,2,4]
  EXPECT_EQ(s.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(s.strides(), (Shape{12, 4, 1}));
  EXPECT_FALSE(s.is_contiguous());
  EXPECT_EQ(s.data<float>()[0], 4.0f);
  Tensor sel = t.select(2, 3); // [2,3], value 12a + 4b + 3
  EXPECT_EQ(sel.shape(), (Shape{2, 3}));
  EXPECT_EQ(sel.strides(), (Shape{12, 4}));
  EXPECT_EQ(sel.data<float>()[0], 3.0f);
  Tensor tr = t.transpose(0, 2); // [4,3,2]
  EXPECT_EQ(tr.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(tr.strides(), (Shape{1, 4, 12}));
  Tensor c = tr.contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.raw(), t.raw());
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k)
        EXPECT_EQ(c.data<float>()[(i * 3 + j) * 2 + k], float(12 * k + 4 * j + i));
  Tensor sc = s.contiguous(); // [2,2,4] of rows b = 1, 2
  for (int64_t a = 0; a < 2; ++a)
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t k = 0; k < 4; ++k)
        EXPECT_EQ(sc.data<float>()[(a * 2 + b) * 4 + k], float(12 * a + 4 * (b + 1) + k));
  EXPECT_EQ(t.contiguous().raw(), t.raw());      // already contiguous: no copy
  EXPECT_TRUE(t.slice(0, 1, 2).is_contiguous()); // one leading row is contiguous
  EXPECT_THROW(t.slice(1, 2, 4), Error);
  EXPECT_THROW(t.select(0, 2), Error);
  EXPECT_THROW(t.transpose(0, 3), Error);
}

TEST(Tensor, FillZeroOfAStridedViewTouchesOnlyTheView) {
  Tensor t = iota({3, 4});
  Tensor col = t.select(1, 2); // [3], stride 4
  col.fill_zero();
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ(t.data<float>()[i * 4 + j], j == 2 ? 0.0f : float(i * 4 + j));
  t.slice(0, 0, 1).fill_zero();
  for (int64_t j = 0; j < 4; ++j)
    EXPECT_EQ(t.data<float>()[j], 0.0f);
  EXPECT_EQ(t.data<float>()[4], 4.0f);
}

TEST(Tensor, OwnedMemoryOutlivesTheFirstHandle) {
  Tensor v;
  {
    Tensor t = iota({4, 4});
    v = t.slice(0, 2, 4);
  }
  EXPECT_EQ(v.data<float>()[0], 8.0f); // the view keeps the buffer alive
}

} // namespace
} // namespace glm3d
