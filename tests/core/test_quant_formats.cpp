// Quantized formats against closed forms: float16 bits, 4-bit packing, ChatGLM int8/int4
// (half-to-even ties, ranges, round trips), NF4 (ties to the lower index, zero blocks) and the
// 8-bit dynamic map of double quantization. tests/core/test_quant_golden.cpp compares the same
// code with bitsandbytes and ChatGLM's formulas run in torch.
#include "core/check.h"
#include "core/quant/blockwise8.h"
#include "core/quant/chatglm_int.h"
#include "core/quant/half.h"
#include "core/quant/nf4.h"
#include "core/quant/nibbles.h"
#include "gradcheck.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <gtest/gtest.h>
#include <vector>

namespace glm3d::quant {
namespace {

using test::SeededRng;

uint32_t f32_bits(float f) {
  return std::bit_cast<uint32_t>(f);
}
float from_bits(uint32_t u) {
  return std::bit_cast<float>(u);
}

// float16 against the compiler's own IEEE conversion (_Float16, round to nearest even) on every
// 37th float32 bit pattern plus every pattern within 64 of each float16 rounding boundary.
TEST(QuantHalf, MatchesFloat16RoundNearestEven) {
  auto check = [](uint32_t u) {
    const float f = from_bits(u);
    const _Float16 h = _Float16(f);
    uint16_t want;
    std::memcpy(&want, &h, 2);
    const uint16_t got = f32_to_f16_bits(f);
    if (std::isnan(f)) {
      ASSERT_TRUE((got & 0x7c00u) == 0x7c00u && (got & 0x3ffu) != 0) << std::hex << u;
    } else {
      ASSERT_EQ(got, want) << "f32 bits 0x" << std::hex << u;
      ASSERT_EQ(f32_bits(f16_bits_to_f32(got)), f32_bits(float(h))) << std::hex << u;
    }
  };
  for (uint64_t u = 0; u <= 0xffffffffull; u += 4099)
    check(uint32_t(u));
  for (uint32_t h = 0; h < 0x7c00u; ++h) // midpoints between float16 neighbours, both signs
    for (uint32_t sign : {0u, 0x8000u}) {
      const float mid = (f16_bits_to_f32(uint16_t(sign | h)) + f16_bits_to_f32(uint16_t(sign | (h + 1)))) / 2;
      for (int d = -64; d <= 64; ++d)
        check(f32_bits(mid) + uint32_t(d));
    }
}

TEST(QuantNibbles, PackRoundTripHighNibbleFirst) {
  const std::vector<uint8_t> v = {0x1, 0x2, 0xf, 0x0, 0x7, 0x8};
  std::vector<uint8_t> packed(3);
  pack_nibbles(v.data(), 6, packed.data());
  EXPECT_EQ(packed, (std::vector<uint8_t>{0x12, 0xf0, 0x78}));
  for (int b = 0; b < 256; ++b) {
    const auto byte = uint8_t(b);
    int hi = b >> 4, lo = b & 15;
    EXPECT_EQ(high_int4(byte), hi >= 8 ? hi - 16 : hi);
    EXPECT_EQ(low_int4(byte), lo >= 8 ? lo - 16 : lo);
    const uint8_t pair[2] = {uint8_t(high_int4(byte)), uint8_t(low_int4(byte))}; // signed -> bytes
    uint8_t again;
    pack_nibbles(pair, 2, &again);
    EXPECT_EQ(again, byte);
  }
  EXPECT_THROW(pack_nibbles(v.data(), 5, packed.data()), Error);
}

// Rows built so that the float16 scale is exactly 2^-e and the quotients are exact halves:
// torch.round's half-to-even decides every value.
TEST(QuantChatglm, TiesRoundHalfToEven) {
  for (int bits : {8, 4}) {
    const int qmax = bits == 8 ? 127 : 7;
    std::vector<float> W;
    std::vector<int> want;
    W.push_back(float(qmax) * 0x1p-5f); // absmax -> scale 2^-5 exactly
    want.push_back(qmax);
    for (int k = -qmax; k < qmax; ++k) {
      W.push_back((float(k) + 0.5f) * 0x1p-5f);
      const int even = (k % 2 == 0) ? k : k + 1; // k + 1/2 rounds to the even one of k, k+1
      want.push_back(even);
    }
    if (W.size() % 2)
      W.push_back(0.0f), want.push_back(0);
    const RowwiseInt q = quantize_rowwise(W.data(), 1, int64_t(W.size()), bits);
    EXPECT_EQ(f16_bits_to_f32(q.scale[0]), 0x1p-5f);
    for (size_t c = 0; c < W.size(); ++c)
      ASSERT_EQ(q.value(0, int64_t(c)), want[c]) << "bits " << bits << " value " << W[c];
  }
}

// Random rows at scales from 1e-3 to 1e3: every integer in range, dequantized value within half a
// step (closed form of round-to-nearest, plus the rounding of w / s: 127 ulps < 2^-17), the scale absmax /
// qmax rounded to float16, and the stored layout (int8 [rows, cols], int4 [rows, cols/2] high nibble first).
TEST(QuantChatglm, RangeRoundTripAndLayout) {
  SeededRng rng;
  const int64_t rows = 24, cols = 50;
  std::vector<float> W(size_t(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      W[size_t(r * cols + c)] = float(rng.normal() * std::pow(10.0, -3.0 + 6.0 * double(r) / double(rows)));
  for (int bits : {8, 4}) {
    const RowwiseInt q = quantize_rowwise(W.data(), rows, cols, bits);
    ASSERT_EQ(int64_t(q.weight.size()), rows * (bits == 8 ? cols : cols / 2));
    std::vector<float> deq(static_cast<size_t>(rows * cols));
    dequantize(q, 0, rows, 0, cols, deq.data());
    for (int64_t r = 0; r < rows; ++r) {
      float absmax = 0;
      for (int64_t c = 0; c < cols; ++c)
        absmax = std::max(absmax, std::fabs(W[size_t(r * cols + c)]));
      const float s = f16_bits_to_f32(q.scale[size_t(r)]);
      EXPECT_EQ(q.scale[size_t(r)], f32_to_f16_bits(absmax / float(q.qmax()))) << rng.tag();
      for (int64_t c = 0; c < cols; ++c) {
        const int v = q.value(r, c);
        ASSERT_LE(std::abs(v), q.qmax()) << rng.tag();
        const double w = W[size_t(r * cols + c)];
        ASSERT_EQ(deq[size_t(r * cols + c)], float(v) * s) << rng.tag();
        ASSERT_LE(std::abs(double(v) * s - w), (0.5 + 0x1p-17) * s)
            << "bits " << bits << " r " << r << " " << rng.tag();
        if (bits == 4) {
          const auto byte = uint8_t(q.weight[size_t(r * cols / 2 + c / 2)]);
          ASSERT_EQ(v, c % 2 == 0 ? int(int8_t(byte) >> 4) : int(int8_t(uint8_t(byte << 4)) >> 4));
        }
      }
    }
  }
}

TEST(QuantChatglm, SubRectanglesAndDegenerateRows) {
  SeededRng rng;
  const int64_t rows = 5, cols = 12;
  std::vector<float> W = rng.uniform_vec<float>(rows * cols);
  std::fill(W.begin() + 2 * cols, W.begin() + 3 * cols, 0.0f); // row 2: all zeros
  W[3 * cols] = 1e-9f;                                         // row 3: scale underflows float16
  for (int bits : {8, 4}) {
    const RowwiseInt q = quantize_rowwise(W.data(), rows, cols, bits);
    std::vector<float> full(static_cast<size_t>(rows * cols));
    dequantize(q, 0, rows, 0, cols, full.data());
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_EQ(full[size_t(2 * cols + c)], 0.0f);
    for (auto [r0, r1, c0, c1] : {std::array<int64_t, 4>{1, 4, 3, 10}, {0, 5, 1, 2}, {4, 5, 0, 11}}) {
      std::vector<float> part(static_cast<size_t>((r1 - r0) * (c1 - c0)));
      test::poison(part.data(), int64_t(part.size()));
      dequantize(q, r0, r1, c0, c1, part.data());
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          ASSERT_EQ(f32_bits(part[size_t((r - r0) * (c1 - c0) + c - c0)]),
                    f32_bits(full[size_t(r * cols + c)]));
    }
  }
  std::vector<float> odd(3, 1.0f);
  EXPECT_THROW(quantize_rowwise(odd.data(), 1, 3, 4), Error);
  odd[1] = std::nanf("");
  EXPECT_THROW(quantize_rowwise(odd.data(), 1, 3, 8), Error);
}

// A float16-subnormal scale (absmax < 127 * 2^-14): values stay in [-qmax, qmax].
TEST(QuantChatglm, SubnormalScaleClamps) {
  std::vector<float> w(64);
  for (int64_t c = 0; c < 64; ++c)
    w[size_t(c)] = 2e-4f * float(c - 32) / 32.0f;
  w[0] = 2.1e-4f;
  for (int bits : {8, 4}) {
    const RowwiseInt q = quantize_rowwise(w.data(), 1, 64, bits);
    for (int64_t c = 0; c < 64; ++c)
      ASSERT_LE(std::abs(int(q.value(0, c))), q.qmax());
  }
}

// Exact midpoints between adjacent NF4 values (where float32 holds them) go to the lower index,
// one ulp above goes up; the code values map to themselves.
TEST(QuantNf4, NearestWithTiesToLowerIndex) {
  const auto& code = nf4_code();
  int ties = 0;
  for (int i = 0; i < 16; ++i)
    EXPECT_EQ(nf4_nearest(code[size_t(i)]), i);
  for (int i = 0; i < 15; ++i) {
    const double mid = (double(code[size_t(i)]) + double(code[size_t(i + 1)])) / 2;
    if (double(float(mid)) != mid)
      continue;
    ++ties;
    EXPECT_EQ(nf4_nearest(float(mid)), i) << "tie between " << i << " and " << i + 1;
    EXPECT_EQ(nf4_nearest(std::nextafter(float(mid), 2.0f)), i + 1);
    EXPECT_EQ(nf4_nearest(std::nextafter(float(mid), -2.0f)), i);
  }
  EXPECT_EQ(ties, 6); // pairs (2,3) (6,7) (7,8) (9,10) (11,12) (13,14)
}

TEST(QuantNf4, BlocksAbsmaxAndZeroBlock) {
  SeededRng rng;
  const int64_t n = 64 * 3 + 10; // a partial last block
  std::vector<float> x = rng.uniform_vec<float>(n, -3, 3);
  std::fill(x.begin() + 64, x.begin() + 128, 0.0f);
  std::vector<uint8_t> codes(static_cast<size_t>(n));
  std::vector<float> absmax(4);
  nf4_quantize_blocks(x.data(), n, codes.data(), absmax.data());
  for (int64_t b = 0; b < 4; ++b) {
    float m = 0;
    for (int64_t i = b * 64; i < std::min(n, b * 64 + 64); ++i)
      m = std::max(m, std::fabs(x[size_t(i)]));
    EXPECT_EQ(absmax[size_t(b)], m);
  }
  for (int64_t i = 0; i < n; ++i) {
    const float m = absmax[size_t(i / 64)];
    const uint8_t want = m == 0 ? 7 : nf4_nearest(std::clamp(x[size_t(i)] * (1.0f / m), -1.0f, 1.0f));
    ASSERT_EQ(codes[size_t(i)], want) << i << " " << rng.tag();
  }
  const Nf4 q = quantize_nf4(x.data(), 2, n / 2, true);
  std::vector<float> deq(static_cast<size_t>(n));
  dequantize(q, 0, 2, 0, n / 2, deq.data());
  for (int64_t i = 64; i < 128; ++i)
    EXPECT_EQ(deq[size_t(i)], 0.0f * q.block_absmax(1)); // code 7 is the value 0
}

// The dynamic map: 256 sorted values, -1 (set by the CPU quantizer) .. 1, symmetric apart from
// the end points, and each equal to its closed form 10^(i-6) (b_j + b_{j+1}) / 2 within float32
// rounding.
TEST(QuantDynamicMap, ClosedFormAndOrder) {
  const auto map = dynamic_map();
  EXPECT_EQ(map[0], -1.0f);
  EXPECT_EQ(map[255], 1.0f);
  EXPECT_TRUE(std::is_sorted(map.begin(), map.end()));
  EXPECT_EQ(std::count(map.begin(), map.end(), 0.0f), 1);
  std::vector<double> exact;
  for (int i = 0; i < 7; ++i) {
    const int n = (1 << i) + 1;
    for (int j = 0; j + 1 < n; ++j) {
      const double b0 = 0.1 + 0.9 * j / (n - 1), b1 = 0.1 + 0.9 * (j + 1) / (n - 1);
      exact.push_back(std::pow(10.0, i - 6) * (b0 + b1) / 2);
    }
  }
  std::sort(exact.begin(), exact.end());
  ASSERT_EQ(exact.size(), 127u);
  for (size_t k = 0; k < 127; ++k) {
    EXPECT_NEAR(map[128 + k], exact[k], 4e-7 * exact[k]) << k;
    if (k < 126) { // the most negative entry was replaced by -1
      EXPECT_EQ(map[126 - k], -map[128 + k]) << k;
    }
  }
}

TEST(QuantDynamicMap, BlockwiseNearestTiesLowerAndZeroBlock) {
  const auto map = dynamic_map();
  EXPECT_EQ(nearest_in_map(map.data(), -1.5f), 0);
  EXPECT_EQ(nearest_in_map(map.data(), 2.0f), 255);
  int ties = 0;
  for (int i = 0; i < 255; ++i) {
    EXPECT_EQ(nearest_in_map(map.data(), map[size_t(i)]), i);
    const double mid = (double(map[size_t(i)]) + double(map[size_t(i + 1)])) / 2;
    if (double(float(mid)) == mid) {
      ++ties;
      EXPECT_EQ(nearest_in_map(map.data(), float(mid)), i) << i;
    }
  }
  EXPECT_GT(ties, 100);
  // Blocks of 4: absmax per block, x / absmax on the map, the zero block all code 0.
  const std::vector<float> x = {0.5f, -1.0f, 0.25f, 0.0f, 0, 0, 0, 0, 3.0f, -3.0f};
  std::vector<uint8_t> q(x.size());
  std::vector<float> absmax(3), back(x.size());
  quantize_blockwise8(x.data(), int64_t(x.size()), 4, map.data(), q.data(), absmax.data());
  EXPECT_EQ(absmax, (std::vector<float>{1.0f, 0.0f, 3.0f}));
  EXPECT_EQ(q[1], 0);
  EXPECT_EQ(q[8], 255);
  EXPECT_EQ(q[9], 0);
  for (int i = 4; i < 8; ++i)
    EXPECT_EQ(q[size_t(i)], 0);
  dequantize_blockwise8(q.data(), int64_t(x.size()), 4, map.data(), absmax.data(), back.data());
  for (size_t i = 0; i < x.size(); ++i)
    EXPECT_NEAR(back[i], x[i], 0.02 * absmax[i / 4]) << i;
}

// What an import checks: every array's size against the shape, as a UsageError naming the tensor.
TEST(QuantValidate, SizesAgainstShape) {
  SeededRng rng;
  const std::vector<float> W = rng.uniform_vec<float>(6 * 128);
  RowwiseInt r = quantize_rowwise(W.data(), 6, 128, 4);
  EXPECT_NO_THROW(validate(r, "w"));
  r.weight.pop_back();
  EXPECT_THROW(validate(r, "w"), UsageError);
  r = quantize_rowwise(W.data(), 6, 128, 8);
  r.scale.push_back(0);
  EXPECT_THROW(validate(r, "w"), UsageError);
  for (bool dq : {false, true}) {
    Nf4 q = quantize_nf4(W.data(), 6, 128, dq);
    EXPECT_NO_THROW(validate(q, "w"));
    Nf4 bad = q;
    bad.cols = 127;
    EXPECT_THROW(validate(bad, "w"), UsageError);
    bad = q;
    (dq ? bad.absmax_codes : bad.weight).pop_back();
    EXPECT_THROW(validate(bad, "w"), UsageError);
    if (dq) {
      bad = q;
      bad.nested_absmax.push_back(1.0f);
      EXPECT_THROW(validate(bad, "w"), UsageError);
    } else {
      bad = q;
      bad.absmax.pop_back();
      EXPECT_THROW(validate(bad, "w"), UsageError);
    }
  }
}

} // namespace
} // namespace glm3d::quant
