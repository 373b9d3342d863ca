#include "model/qlora_base.h"

#include "core/check.h"
#include "core/cpu/convert.h"
#include "core/quant/qlinear.h"

#include <algorithm>
#include <type_traits>
#include <vector>

namespace glm3d {

void QloraBase::set(const std::string& name, quant::QuantizedMatrix q) {
  m_.insert_or_assign(name, std::move(q));
}

const quant::QuantizedMatrix& QloraBase::get(const std::string& name) const {
  const auto it = m_.find(name);
  GLM3D_CHECK(it != m_.end()) << "QLoRA base: no quantized matrix '" << name << "' on this rank";
  return it->second;
}

int64_t QloraBase::bytes() const {
  int64_t n = 0;
  for (const auto& [name, q] : m_)
    n += quant::bytes(q);
  return n;
}

namespace {

// f64: slabs of kSlab rows (forward) or columns (backward) dequantized to f32, widened, multiplied.
constexpr int64_t kSlab = 64;

void forward_f64(const double* x, const quant::QuantizedMatrix& W, const double* b, double* y, int64_t N) {
  const int64_t out = quant::rows(W), in = quant::cols(W);
  std::vector<float> slab(size_t(std::min(kSlab, out) * in));
  for (int64_t r0 = 0; r0 < out; r0 += kSlab) {
    const int64_t r1 = std::min(out, r0 + kSlab);
    quant::dequantize(W, r0, r1, 0, in, slab.data()); // [r1 - r0, in]
    for (int64_t n = 0; n < N; ++n)
      for (int64_t r = r0; r < r1; ++r) {
        double s = b ? b[r] : 0.0;
        for (int64_t c = 0; c < in; ++c)
          s += x[n * in + c] * double(slab[size_t((r - r0) * in + c)]);
        y[n * out + r] = s;
      }
  }
}

void backward_input_f64(const double* dy, const quant::QuantizedMatrix& W, double* dx, int64_t N) {
  const int64_t out = quant::rows(W), in = quant::cols(W);
  std::vector<float> slab(size_t(out * std::min(kSlab, in)));
  for (int64_t c0 = 0; c0 < in; c0 += kSlab) {
    const int64_t c1 = std::min(in, c0 + kSlab), cc = c1 - c0;
    quant::dequantize(W, 0, out, c0, c1, slab.data()); // [out, cc]
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        double s = 0;
        for (int64_t r = 0; r < out; ++r)
          s += dy[n * out + r] * double(slab[size_t(r * cc + (c - c0))]);
        dx[n * in + c] = s;
      }
  }
}

} // namespace

template <class T>
void qlora_linear_forward(MatIn<T> x, const quant::QuantizedMatrix& W, const T* b, T* y, int64_t N) {
  const int64_t in = quant::cols(W);
  if constexpr (std::is_same_v<T, float>) {
    std::vector<float> wide;
    const float* xf = x.f;
    if (!xf) { // bf16 activations: the quantized matmul is f32
      wide.resize(size_t(N * in));
      cpu::to_f32(x.b, wide.data(), N * in);
      xf = wide.data();
    }
    std::vector<float> ws(size_t(quant::qlinear_workspace_floats(W, N)));
    quant::qlinear_forward(W, xf, b, y, N, ws.data(), int64_t(ws.size()));
  } else {
    GLM3D_CHECK(x.f) << "QLoRA linear: f64 input expected";
    forward_f64(x.f, W, b, y, N);
  }
}

template <class T>
void qlora_linear_backward_input(const T* dy, const quant::QuantizedMatrix& W, T* dx, int64_t N) {
  if constexpr (std::is_same_v<T, float>) {
    std::vector<float> ws(size_t(quant::qlinear_workspace_floats(W, N)));
    quant::qlinear_backward_input(W, dy, dx, N, false, ws.data(), int64_t(ws.size()));
  } else {
    backward_input_f64(dy, W, dx, N);
  }
}

template void qlora_linear_forward(MatIn<float>, const quant::QuantizedMatrix&, const float*, float*,
                                   int64_t);
template void qlora_linear_forward(MatIn<double>, const quant::QuantizedMatrix&, const double*, double*,
                                   int64_t);
template void qlora_linear_backward_input(const float*, const quant::QuantizedMatrix&, float*, int64_t);
template void qlora_linear_backward_input(const double*, const quant::QuantizedMatrix&, double*, int64_t);

} // namespace glm3d
