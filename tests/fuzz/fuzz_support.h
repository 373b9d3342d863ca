#pragma once
// What every fuzz target (tests/fuzz/targets/*.cpp) shares. A target defines
// LLVMFuzzerTestOneInput: it hands the bytes to the reader the CLI uses (through a file in a
// private scratch directory where the reader takes a path) and calls expect_usage_error_only.
//
// The outcome a malformed file may have is a glm3d::UsageError (exit code 2, one clear line).
// Anything else is a finding and abort()s, so libFuzzer (or the replay driver) reports it: a
// glm3d::Error (an internal check failing on bad input), std::bad_alloc, any other exception,
// and of course whatever the sanitizers catch (a crash, UB, a leak, an allocation above
// libFuzzer's -malloc_limit_mb, an input that runs past -timeout).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace glm3d::fuzz {

// This process's scratch directory (created on first use, removed at exit).
const std::string& scratch_dir();

// Writes bytes to scratch_dir()/name (replacing it) and returns the path.
std::string write_file(const std::string& name, std::string_view bytes);

// The committed seed tokenizer (corpus/tokenizer/prep_vocab400.model), whose sha256 the token
// store and SFT store seeds carry; abort()s when it cannot be read.
const std::string& seed_tokenizer_bytes();

// Runs fn. A glm3d::UsageError is the expected outcome for a malformed input and is dropped;
// any other exception is printed and abort()s. With GLM3D_FUZZ_VERBOSE set, a refusal prints its
// message.
void expect_usage_error_only(const std::function<void()>& fn);

// The messages of the UsageErrors expect_usage_error_only dropped, in order (the replay driver
// clears it before each input and checks the refusals a regression input expects).
std::vector<std::string>& refusals();

inline std::string_view bytes_of(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Two files in one input: a 2-byte little-endian length L, L bytes of the first file (fewer when
// the input ends sooner), the rest the second. Inputs under 2 bytes give two empty files.
struct TwoFiles {
  std::string_view first, second;
};
inline TwoFiles split_two_files(const uint8_t* data, size_t size) {
  if (size < 2)
    return {};
  const size_t len = std::min(size - 2, size_t(data[0]) | size_t(data[1]) << 8);
  return {bytes_of(data + 2, len), bytes_of(data + 2 + len, size - 2 - len)};
}

} // namespace glm3d::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
