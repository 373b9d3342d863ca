// The fuzz targets without libFuzzer (the normal build's ctest cases fuzz_replay_*): runs
// LLVMFuzzerTestOneInput once on every file named, and on every file inside a directory named,
// as a libFuzzer binary does with -runs=0. A finding abort()s (fuzz_support.h), so the case fails
// naming the input it was replaying (printed before each run, with the message of a refusal).
// An input X with a file X.expect next to it must be refused with, for each non-empty line of
// X.expect, a message containing that line: a regression input checks its own refusal, not only
// the absence of a crash, in builds without sanitizers too.
#include "fuzz_support.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {
namespace fs = std::filesystem;

std::vector<char> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The lines of X.expect that no refusal of this input contains.
std::vector<std::string> unmet_expectations(const fs::path& input) {
  std::vector<std::string> unmet;
  std::ifstream expect(input.string() + ".expect");
  for (std::string line; std::getline(expect, line);) {
    if (line.empty())
      continue;
    const auto& r = glm3d::fuzz::refusals();
    if (std::none_of(r.begin(), r.end(),
                     [&](const std::string& m) { return m.find(line) != std::string::npos; }))
      unmet.push_back(line);
  }
  return unmet;
}
} // namespace

int main(int argc, char** argv) {
  setenv("GLM3D_FUZZ_VERBOSE", "1", 1); // each refusal's message under its input
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    if (fs::is_directory(argv[i])) {
      for (const auto& e : fs::directory_iterator(argv[i]))
        if (e.is_regular_file() && e.path().extension() != ".expect")
          inputs.push_back(e.path());
    } else if (fs::is_regular_file(argv[i])) {
      inputs.emplace_back(argv[i]);
    } else {
      std::fprintf(stderr, "replay: %s is neither a file nor a directory\n", argv[i]);
      return 1;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  int failures = 0;
  for (const fs::path& p : inputs) {
    const std::vector<char> bytes = read_bytes(p);
    std::fprintf(stderr, "replay: %s (%zu bytes)\n", p.c_str(), bytes.size());
    glm3d::fuzz::refusals().clear();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    for (const std::string& line : unmet_expectations(p)) {
      std::fprintf(stderr, "replay: FAIL: %s: no refusal contains '%s'\n", p.c_str(), line.c_str());
      ++failures;
    }
  }
  std::printf("replay: %zu inputs, no finding, %d unmet expectations\n", inputs.size(), failures);
  return inputs.empty() || failures ? 1 : 0;
}
