#include "fuzz_support.h"

#include "core/check.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <new>
#include <sstream>
#include <typeinfo>

#if defined(__SANITIZE_ADDRESS__) // gcc
#define GLM3D_FUZZ_ASAN 1
#elif defined(__has_feature) // clang
#if __has_feature(address_sanitizer)
#define GLM3D_FUZZ_ASAN 1
#endif
#endif
#ifdef GLM3D_FUZZ_ASAN
#include <dlfcn.h>
#include <execinfo.h>
// <sanitizer/allocator_interface.h> (clang's; gcc 12 does not ship it): in both runtimes.
extern "C" int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void*, size_t),
                                                         void (*free_hook)(const volatile void*));
#endif

namespace glm3d::fuzz {

namespace {

#ifdef GLM3D_FUZZ_ASAN
// The allocation cap (tests/fuzz/run.sh): one allocation above GLM3D_FUZZ_MALLOC_LIMIT_MB
// (default 256) is a finding, except those HDF5 makes itself. HDF5 1.10.8 sizes metadata-cache
// entries from lengths read from the file (H5C_protect) and asks malloc for them before reading:
// a damaged file makes it ask for up to 16 EiB (measured), which fails, and HDF5 returns an error
// (run.sh sets allocator_may_return_null=1 so ASan fails it as glibc does). glm3d cannot bound
// those; everything glm3d, SentencePiece or nlohmann/json allocate stays under the cap. (This
// replaces libFuzzer's -malloc_limit_mb, which cannot tell who allocates.)
size_t g_cap_bytes = size_t(256) << 20;
void* g_hdf5_probe = nullptr; // an address inside libhdf5, to tell its frames

bool in_hdf5(void* pc) {
  Dl_info here{}, hdf5{};
  return g_hdf5_probe && dladdr(pc, &here) && dladdr(g_hdf5_probe, &hdf5) && here.dli_fbase == hdf5.dli_fbase;
}

void malloc_hook(const volatile void*, size_t size) {
  if (size <= g_cap_bytes)
    return;
  void* frames[12];
  const int n = backtrace(frames, 12);
  for (int i = 0; i < n; ++i)
    if (in_hdf5(frames[i]))
      return;
  std::fprintf(stderr, "glm3d fuzz: FINDING: one allocation of %zu bytes, above the cap of %zu MB\n", size,
               g_cap_bytes >> 20);
  std::abort();
}
void free_hook(const volatile void*) {}

[[maybe_unused]] const bool g_hooks_installed = [] {
  if (const char* mb = std::getenv("GLM3D_FUZZ_MALLOC_LIMIT_MB"))
    g_cap_bytes = size_t(std::strtoull(mb, nullptr, 10)) << 20;
  g_hdf5_probe = dlsym(RTLD_DEFAULT, "H5open");
  void* warm[2];
  backtrace(warm, 2); // the first call loads libgcc_s (and allocates): not inside the hook
  __sanitizer_install_malloc_and_free_hooks(malloc_hook, free_hook);
  return true;
}();
#endif
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

std::vector<std::string>& refusals() {
  static std::vector<std::string> r;
  return r;
}

const std::string& scratch_dir() {
  static const Scratch s;
  return s.dir;
}

const std::string& seed_tokenizer_bytes() {
  static const std::string bytes = [] {
    const std::string path =
        std::string(GLM3D_SOURCE_DIR) + "/tests/fuzz/corpus/tokenizer/prep_vocab400.model";
    std::ifstream in(path, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    if (!in || os.str().empty()) {
      std::fprintf(stderr, "fuzz: cannot read %s\n", path.c_str());
      std::abort();
    }
    return os.str();
  }();
  return bytes;
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
    if (std::getenv("GLM3D_FUZZ_VERBOSE")) {
      std::fprintf(stderr, "  refused: %s\n", e.what());
      refusals().emplace_back(e.what()); // (only the replay driver reads them)
    }
  } catch (const Error& e) {
    finding("glm3d::Error (an internal check, exit 1, instead of a UsageError)", e.what());
  } catch (const std::bad_alloc& e) {
    finding("std::bad_alloc", e.what());
  } catch (const std::exception& e) {
    finding(typeid(e).name(), e.what());
  }
}

} // namespace glm3d::fuzz
