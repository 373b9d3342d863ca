// check_output_file: each refusal is one UsageError naming the flag and the path; an accepted
// path is left as it was (an existing file keeps its bytes, a new one is not created).
#include "core/output_path.h"
#include "usage_error.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const char* tag) {
  const fs::path d = fs::path(::testing::TempDir()) / (std::string("output_path_") + tag);
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

TEST(OutputPath, RefusalsNameFlagAndPath) {
  const std::string d = fresh_dir("refusals");
  EXPECT_EQ(test::usage_error_of([&] { check_output_file("--out", d + "/no/x.h5"); }),
            "--out " + d + "/no/x.h5: the directory " + d + "/no does not exist");
  EXPECT_EQ(test::usage_error_of([&] { check_output_file("--metrics", d); }),
            "--metrics " + d + " is a directory");
  std::ofstream(d + "/file") << "x";
  EXPECT_EQ(test::usage_error_of([&] { check_output_file("--out", d + "/file/x.h5"); }),
            "--out " + d + "/file/x.h5: " + d + "/file is not a directory");
  EXPECT_FALSE(fs::exists(d + "/no"));
}

TEST(OutputPath, AcceptedPathsAreLeftAsTheyWere) {
  const std::string d = fresh_dir("accepted");
  check_output_file("--out", d + "/new.h5"); // the probe file is removed again
  EXPECT_FALSE(fs::exists(d + "/new.h5"));
  std::ofstream(d + "/old.jsonl") << "kept\n";
  check_output_file("--metrics", d + "/old.jsonl"); // opened for appending, not truncated
  std::ifstream in(d + "/old.jsonl");
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "kept\n");
  const fs::path cwd = fs::current_path();
  fs::current_path(d); // a bare name: the current directory
  EXPECT_NO_THROW(check_output_file("--out", "bare.h5"));
  fs::current_path(cwd);
  EXPECT_FALSE(fs::exists(d + "/bare.h5"));
}

} // namespace
} // namespace glm3d
