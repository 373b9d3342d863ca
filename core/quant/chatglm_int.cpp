#include "core/quant/chatglm_int.h"

#include "core/check.h"
#include "core/checked_int.h"
#include "core/quant/finite.h"
#include "core/quant/half.h"
#include "core/quant/nibbles.h"

#include <algorithm>
#include <cmath>

namespace glm3d::quant {
namespace {

// One row: the float16 scale and the integers (clamped, see the header).
uint16_t quantize_row(const float* w, int64_t cols, int64_t qmax, int8_t* q) {
  float absmax = 0.0f;
  for (int64_t c = 0; c < cols; ++c)
    absmax = std::max(absmax, std::fabs(w[c]));
  const uint16_t scale_bits = f32_to_f16_bits(absmax / float(qmax)); // float32 divide, then .half()
  const float scale = f16_bits_to_f32(scale_bits);
  for (int64_t c = 0; c < cols; ++c) {
    // float32 / float16-as-float32 (torch's type promotion), then round half to even.
    const float r = scale == 0.0f ? 0.0f : std::nearbyint(w[c] / scale);
    q[c] = int8_t(std::clamp(r, -float(qmax), float(qmax)));
  }
  return scale_bits;
}

} // namespace

int8_t RowwiseInt::value(int64_t r, int64_t c) const {
  if (bits == 8)
    return weight[size_t(r * cols + c)];
  const uint8_t byte = uint8_t(weight[size_t(r * (cols / 2) + c / 2)]);
  return c % 2 == 0 ? high_int4(byte) : low_int4(byte);
}

RowwiseInt quantize_rowwise(const float* W, int64_t rows, int64_t cols, int bits) {
  GLM3D_CHECK(bits == 8 || bits == 4) << "quantize: bits must be 8 or 4, got " << bits;
  GLM3D_CHECK(rows > 0 && cols > 0) << "quantize: empty weight " << rows << "x" << cols;
  GLM3D_CHECK(bits == 8 || cols % 2 == 0) << "int4 packs column pairs: cols must be even, got " << cols;
  check_finite(W, rows * cols, "ChatGLM quantize");
  // A float16 scale overflows (absmax / qmax > 65504) only for weights far outside any model's.
  float absmax = 0.0f;
#pragma omp parallel for schedule(static) reduction(max : absmax)
  for (int64_t i = 0; i < rows * cols; ++i)
    absmax = std::max(absmax, std::fabs(W[i]));
  GLM3D_CHECK(absmax / float((1 << (bits - 1)) - 1) < 65504.0f)
      << "ChatGLM quantize: weight absmax " << absmax << " overflows the float16 row scale";
  RowwiseInt q;
  q.bits = bits;
  q.rows = rows;
  q.cols = cols;
  q.scale.resize(size_t(rows));
  q.weight.resize(size_t(rows * q.stored_cols()));
#pragma omp parallel
  {
    std::vector<int8_t> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      int8_t* dst = bits == 8 ? q.weight.data() + r * cols : row.data();
      q.scale[size_t(r)] = quantize_row(W + r * cols, cols, q.qmax(), dst);
      if (bits == 4)
        pack_nibbles(reinterpret_cast<const uint8_t*>(row.data()), cols,
                     reinterpret_cast<uint8_t*>(q.weight.data() + r * (cols / 2)));
    }
  }
  return q;
}

void validate(const RowwiseInt& q, const std::string& what) {
  GLM3D_USAGE_CHECK(q.bits == 8 || q.bits == 4)
      << what << ": quantization bits must be 8 or 4, got " << q.bits;
  GLM3D_USAGE_CHECK(q.rows > 0 && q.cols > 0 && (q.bits == 8 || q.cols % 2 == 0))
      << what << ": bad quantized shape " << q.rows << "x" << q.cols << " for int" << q.bits;
  const std::optional<int64_t> stored = checked_mul(q.rows, q.stored_cols()); // rows, cols from a file
  GLM3D_USAGE_CHECK(stored && int64_t(q.weight.size()) == *stored)
      << what << ": int" << q.bits << " weight has " << q.weight.size() << " elements, expected " << q.rows
      << "x" << q.stored_cols();
  GLM3D_USAGE_CHECK(int64_t(q.scale.size()) == q.rows)
      << what << ": weight_scale has " << q.scale.size() << " elements, expected " << q.rows;
}

void dequantize(const RowwiseInt& q, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) {
  GLM3D_CHECK(0 <= r0 && r0 <= r1 && r1 <= q.rows && 0 <= c0 && c0 <= c1 && c1 <= q.cols)
      << "dequantize: rectangle [" << r0 << "," << r1 << ")x[" << c0 << "," << c1 << ") outside " << q.rows
      << "x" << q.cols;
  const int64_t w = c1 - c0;
  for (int64_t r = r0; r < r1; ++r) {
    const float s = f16_bits_to_f32(q.scale[size_t(r)]);
    float* o = out + (r - r0) * w;
    if (q.bits == 8) {
      const int8_t* src = q.weight.data() + r * q.cols + c0;
#pragma omp simd
      for (int64_t c = 0; c < w; ++c)
        o[c] = float(src[c]) * s;
      continue;
    }
    const uint8_t* src = reinterpret_cast<const uint8_t*>(q.weight.data()) + r * (q.cols / 2);
    int64_t c = c0;
    if (c % 2 == 1 && c < c1) // a leading odd column: the low nibble of its byte
      *o++ = float(low_int4(src[c / 2])) * s, ++c;
    const NibblePairs& lut = int4_pairs();
    for (; c + 1 < c1; c += 2, o += 2) {
      const float* pair = lut.v[src[c / 2]];
      o[0] = pair[0] * s;
      o[1] = pair[1] * s;
    }
    if (c < c1) // a trailing even column: the high nibble
      *o = float(high_int4(src[c / 2])) * s;
  }
}

} // namespace glm3d::quant
