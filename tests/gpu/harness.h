#pragma once
// The kernel checker's harness: device buffers filled from f64 host vectors (rounded to the
// kernel's dtype first, so the f64 reference sees exactly the kernel's inputs), outputs
// poisoned with NaN (0xff bytes) before each run, and the per-dtype tolerance table.
//
// Error of an output: max_i |gpu_i - ref_i| / max_i |ref_i| (relative to the tensor's
// scale); a NaN or inf anywhere (an element never written keeps its poison) fails.
#include "../gradcheck.h"
#include "core/cuda/allocator.h"
#include "core/dtype.h"

#include <cuda_runtime_api.h>

#include <string>
#include <type_traits>
#include <vector>

namespace glm3d::gpucheck {

using Vec = std::vector<double>;

// The tolerance table (relative to each output's largest magnitude).
template <class T> constexpr double tolerance() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-2;
}
template <class T> const char* dtype_str() {
  return std::is_same_v<T, float> ? "f32" : "bf16";
}

template <class T> double round_to(double x) {
  if constexpr (std::is_same_v<T, float>)
    return double(float(x));
  else
    return double(float(bf16(float(x))));
}
template <class T> Vec rounded(Vec v) {
  for (double& x : v)
    x = round_to<T>(x);
  return v;
}

struct Ctx {
  cuda::DeviceAllocator& alloc;
  cudaStream_t stream;
  test::SeededRng& rng;
  Vec uniform(int64_t n, double lo = -1.0, double hi = 1.0) { return rng.uniform_vec<double>(n, lo, hi); }
};

// A device array of T, created from f64 values (converted) or poisoned.
template <class T> class Dev {
public:
  Dev(Ctx& c, const Vec& host);
  Dev(Ctx& c, int64_t n); // poisoned
  T* get() const { return buf_.as<T>(); }
  int64_t size() const { return n_; }
  Vec read(Ctx& c) const; // synchronises the stream

private:
  cuda::DeviceBuffer buf_;
  int64_t n_;
};

// One line of the summary.
struct Outcome {
  std::string kernel, dtype, output;
  double err, tol;
  bool pass;
};

class Report {
public:
  void compare(const std::string& kernel, const std::string& dtype, const std::string& output, const Vec& gpu,
               const Vec& ref, double tol);
  void fail(const std::string& kernel, const std::string& dtype, const std::string& why);
  void print(const std::string& seed_tag) const; // the table and "N passed, M failed"
  int failed() const;
  const std::vector<Outcome>& outcomes() const { return out_; }

private:
  std::vector<Outcome> out_;
};

} // namespace glm3d::gpucheck
