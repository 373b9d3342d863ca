#pragma once
// Shared by the collator tests: this test's special-token ids and the inverse of collation.
#include "data/sample.h"
#include "data/tokenizer.h"

#include <cstdint>
#include <vector>

namespace glm3d::test {

// Ids of this test's own vocabulary (the library reads them from a tokenizer).
SpecialTokens test_specials();

// Splices Part B back into Part A at the mask positions and returns the content it encodes;
// checks the Part B layout on the way (gtest EXPECTs). A sample that leaked a target into
// Part A, dropped or duplicated a token would not reproduce the window.
std::vector<int32_t> reconstruct(const Sample& s, const SpecialTokens& sp, int32_t mask_token);

} // namespace glm3d::test
