#include "harness.h"

#include "core/cuda/check.h"
#include "core/cuda/elementwise.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace glm3d::gpucheck {

template <class T> Dev<T>::Dev(Ctx& c, const Vec& host) : n_(int64_t(host.size())) {
  buf_ = c.alloc.allocate(std::max<size_t>(1, host.size()) * sizeof(T), c.stream);
  std::vector<T> h(host.size());
  for (size_t i = 0; i < host.size(); ++i)
    h[i] = T(float(host[i]));
  CUDA_CHECK(cudaMemcpyAsync(buf_.get(), h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice, c.stream));
  CUDA_CHECK(cudaStreamSynchronize(c.stream)); // h goes out of scope
}

template <class T> Dev<T>::Dev(Ctx& c, int64_t n) : n_(n) {
  buf_ = c.alloc.allocate(std::max<size_t>(1, size_t(n)) * sizeof(T), c.stream);
  cuda::fill_bytes(buf_.get(), 0xff, size_t(n) * sizeof(T), c.stream); // NaN in f32 and bf16
}

template <class T> Vec Dev<T>::read(Ctx& c) const {
  std::vector<T> h(static_cast<size_t>(n_));
  CUDA_CHECK(cudaMemcpyAsync(h.data(), buf_.get(), h.size() * sizeof(T), cudaMemcpyDeviceToHost, c.stream));
  CUDA_CHECK(cudaStreamSynchronize(c.stream));
  Vec v(h.size());
  for (size_t i = 0; i < h.size(); ++i)
    v[i] = double(float(h[i]));
  return v;
}

template class Dev<float>;
template class Dev<bf16>;

void Report::compare(const std::string& kernel, const std::string& dtype, const std::string& output,
                     const Vec& gpu, const Vec& ref, double tol) {
  double scale = 0.0, diff = 0.0;
  bool finite = gpu.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; ++i) {
    if (!std::isfinite(gpu[i])) {
      finite = false;
      break;
    }
    scale = std::max(scale, std::fabs(ref[i]));
    diff = std::max(diff, std::fabs(gpu[i] - ref[i]));
  }
  const double err = finite ? diff / std::max(scale, 1e-30) : std::numeric_limits<double>::infinity();
  out_.push_back({kernel, dtype, output, err, tol, finite && err <= tol});
}

void Report::fail(const std::string& kernel, const std::string& dtype, const std::string& why) {
  out_.push_back({kernel, dtype, why, std::numeric_limits<double>::infinity(), 0.0, false});
}

int Report::failed() const {
  int n = 0;
  for (const Outcome& o : out_)
    n += o.pass ? 0 : 1;
  return n;
}

void Report::print(const std::string& seed_tag) const {
  std::printf("%-34s %-5s %-14s %11s %9s  %s\n", "kernel", "dtype", "output", "rel err", "tol", "result");
  for (const Outcome& o : out_)
    std::printf("%-34s %-5s %-14s %11.3e %9.1e  %s\n", o.kernel.c_str(), o.dtype.c_str(), o.output.c_str(),
                o.err, o.tol, o.pass ? "ok" : "FAIL");
  const int bad = failed();
  std::printf("kernels: %s\n%d passed, %d failed\n", seed_tag.c_str(), int(out_.size()) - bad, bad);
}

} // namespace glm3d::gpucheck
