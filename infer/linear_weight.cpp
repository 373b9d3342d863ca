#include "infer/linear_weight.h"

#include "core/check.h"
#include "core/cpu/convert.h"
#include "core/cpu/matmul.h"
#include "core/quant/qlinear.h"

namespace glm3d {

std::string format_name(WeightFormat f) {
  switch (f) {
  case WeightFormat::f32:
    return "f32";
  case WeightFormat::bf16:
    return "bf16";
  case WeightFormat::int8:
    return "int8";
  case WeightFormat::int4:
    return "int4";
  case WeightFormat::nf4:
    return "nf4";
  }
  return "?";
}

WeightFormat parse_weight_format(const std::string& s) {
  for (WeightFormat f :
       {WeightFormat::f32, WeightFormat::bf16, WeightFormat::int8, WeightFormat::int4, WeightFormat::nf4})
    if (s == format_name(f))
      return f;
  GLM3D_USAGE_FAIL() << "unknown weight format '" << s << "' (f32, bf16, int8, int4 or nf4)";
}

bool is_quantized(WeightFormat f) {
  return f == WeightFormat::int8 || f == WeightFormat::int4 || f == WeightFormat::nf4;
}

void LinearWeight::set(std::vector<float> W, int64_t out, int64_t in, WeightFormat format) {
  GLM3D_CHECK(int64_t(W.size()) == out * in)
      << "linear weight of " << W.size() << " for " << out << "x" << in;
  out_ = out, in_ = in, format_ = format;
  f32_.clear(), b16_.clear(), q_.reset();
  switch (format) {
  case WeightFormat::f32:
    f32_ = std::move(W);
    break;
  case WeightFormat::bf16:
    b16_.resize(W.size());
    cpu::to_bf16(W.data(), b16_.data(), out * in);
    break;
  case WeightFormat::int8:
  case WeightFormat::int4:
    q_ = quant::quantize_rowwise(W.data(), out, in, format == WeightFormat::int8 ? 8 : 4);
    break;
  case WeightFormat::nf4:
    q_ = quant::quantize_nf4(W.data(), out, in, true);
    break;
  }
}

void LinearWeight::set_quantized(quant::QuantizedMatrix q) {
  out_ = quant::rows(q), in_ = quant::cols(q);
  if (const auto* r = std::get_if<quant::RowwiseInt>(&q))
    format_ = r->bits == 8 ? WeightFormat::int8 : WeightFormat::int4;
  else
    format_ = WeightFormat::nf4;
  f32_.clear(), b16_.clear();
  q_ = std::move(q);
}

void LinearWeight::forward(const float* x, const float* b, float* y, int64_t N, LinearScratch& s) const {
  switch (format_) {
  case WeightFormat::f32:
    cpu::linear_forward(x, f32_.data(), b, y, N, in_, out_, cpu::Precision::f32);
    return;
  case WeightFormat::bf16:
    if (s.x16.size() < size_t(N * in_))
      s.x16.resize(size_t(N * in_));
    cpu::to_bf16(x, s.x16.data(), N * in_);
    cpu::linear_forward_bf16(s.x16.data(), b16_.data(), b, y, N, in_, out_);
    return;
  default: {
    const int64_t need = quant::qlinear_workspace_floats(*q_, N);
    if (int64_t(s.slabs.size()) < need)
      s.slabs.resize(size_t(need));
    quant::qlinear_forward(*q_, x, b, y, N, s.slabs.data(), int64_t(s.slabs.size()));
  }
  }
}

int64_t LinearWeight::bytes() const {
  if (q_)
    return quant::bytes(*q_);
  return int64_t(f32_.size() * sizeof(float) + b16_.size() * sizeof(bf16));
}

const quant::QuantizedMatrix& LinearWeight::quantized() const {
  GLM3D_CHECK(q_) << "a " << format_name(format_) << " weight is not quantized";
  return *q_;
}

std::vector<float> LinearWeight::to_f32() const {
  std::vector<float> w(size_t(out_ * in_));
  if (format_ == WeightFormat::f32)
    w = f32_;
  else if (format_ == WeightFormat::bf16)
    cpu::to_f32(b16_.data(), w.data(), out_ * in_);
  else
    quant::dequantize(*q_, 0, out_, 0, in_, w.data());
  return w;
}

} // namespace glm3d
