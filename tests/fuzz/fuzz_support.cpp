#include "fuzz_support.h"

#include "core/check.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <typeinfo>

namespace glm3d::fuzz {

namespace {
// Owns the directory: removed when the process ends normally (libFuzzer's crash paths leave it
// under /tmp, named glm3d_fuzz_*).
struct Scratch {
  std::string dir;
  Scratch() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/glm3d_fuzz_XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("glm3d fuzz: mkdtemp");
      std::abort();
    }
    dir = pattern;
  }
  ~Scratch() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

[[noreturn]] void finding(const char* kind, const char* what) {
  std::fprintf(stderr, "glm3d fuzz: FINDING: %s escaped the reader: %s\n", kind, what);
  std::abort();
}
} // namespace

const std::string& scratch_dir() {
  static const Scratch s;
  return s.dir;
}

std::string write_file(const std::string& name, std::string_view bytes) {
  const std::string path = scratch_dir() + "/" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "glm3d fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

void expect_usage_error_only(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    // The one acceptable way to refuse a malformed input (shown by the replay driver).
    if (std::getenv("GLM3D_FUZZ_VERBOSE"))
      std::fprintf(stderr, "  refused: %s\n", e.what());
  } catch (const Error& e) {
    finding("glm3d::Error (an internal check, exit 1, instead of a UsageError)", e.what());
  } catch (const std::bad_alloc& e) {
    finding("std::bad_alloc", e.what());
  } catch (const std::exception& e) {
    finding(typeid(e).name(), e.what());
  }
}

} // namespace glm3d::fuzz
