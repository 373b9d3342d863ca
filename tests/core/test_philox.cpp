// Philox4x32-10 against the known-answer vectors of Random123 (tests/kat_vectors, the three
// "philox4x32 10" lines: counter[4] key[2] -> out[4]), and generate()'s counter layout.
#include "core/philox.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace glm3d {
namespace {

struct Kat {
  uint32_t ctr[4], key[2], out[4];
};

TEST(Philox, Random123KnownAnswers) {
  const Kat kats[] = {
      {{0x00000000, 0x00000000, 0x00000000, 0x00000000},
       {0x00000000, 0x00000000},
       {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const Kat& k : kats) {
    uint32_t out[4] = {0, 0, 0, 0};
    Philox4x32::block(k.ctr, k.key, out);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(out[i], k.out[i]) << "word " << i << " of counter " << std::hex << k.ctr[0];
  }
}

TEST(Philox, GenerateIsTheBlockOfItsCounterLayout) {
  // generate(counter, key) = block({lo, hi, 0x9E3779B9, 0x7F4A7C15}, {key lo, key hi}).
  const uint64_t counter = 0x0123456789ABCDEFull, key = 0xFEDCBA9876543210ull;
  const uint32_t ctr[4] = {0x89ABCDEFu, 0x01234567u, 0x9E3779B9u, 0x7F4A7C15u};
  const uint32_t k[2] = {0x76543210u, 0xFEDCBA98u};
  uint32_t a[4], b[4];
  Philox4x32::generate(counter, key, a);
  Philox4x32::block(ctr, k, b);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(a[i], b[i]);
}

} // namespace
} // namespace glm3d
