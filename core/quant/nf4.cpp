#include "core/quant/nf4.h"

#include "core/check.h"
#include "core/checked_int.h"
#include "core/quant/blockwise8.h"
#include "core/quant/finite.h"
#include "core/quant/nibbles.h"

#include <algorithm>
#include <cmath>

namespace glm3d::quant {

const std::array<float, 16>& nf4_code() {
  static const std::array<float, 16> code = {-1.0f,
                                             -0.6961928009986877f,
                                             -0.5250730514526367f,
                                             -0.39491748809814453f,
                                             -0.28444138169288635f,
                                             -0.18477343022823334f,
                                             -0.09105003625154495f,
                                             0.0f,
                                             0.07958029955625534f,
                                             0.16093020141124725f,
                                             0.24611230194568634f,
                                             0.33791524171829224f,
                                             0.44070982933044434f,
                                             0.5626170039176941f,
                                             0.7229568362236023f,
                                             1.0f};
  return code;
}

uint8_t nf4_nearest(float scaled) {
  const auto& code = nf4_code();
  uint8_t best = 0;
  float best_dist = std::fabs(scaled - code[0]);
  for (uint8_t i = 1; i < 16; ++i) {
    const float d = std::fabs(scaled - code[i]);
    if (d < best_dist) // strict: the first minimum wins, as torch.argmin
      best = i, best_dist = d;
  }
  return best;
}

int64_t Nf4::bytes() const {
  const int64_t state = nested ? int64_t(absmax_codes.size()) + 4 * int64_t(nested_absmax.size()) + 4 * 256 +
                                     4 + 8 * int64_t(group_begin.size())
                               : 4 * int64_t(absmax.size());
  return int64_t(weight.size()) + state + 4 * 16;
}

void nf4_quantize_blocks(const float* x, int64_t n, uint8_t* codes, float* absmax) {
  check_finite(x, n, "NF4 quantize");
  // bitsandbytes clamps the scaled value to [-1, 1]; an all-zero block gets 0.0's code, 7.
  quantize_by_block(
      x, n, kNf4Blocksize, 7, [](float v) { return nf4_nearest(std::clamp(v, -1.0f, 1.0f)); }, codes, absmax);
}

void nf4_double_quantize(Nf4& q, const float* absmax, float offset) {
  const int64_t blocks = q.blocks();
  std::vector<float> centred(static_cast<size_t>(blocks));
  for (int64_t b = 0; b < blocks; ++b)
    centred[size_t(b)] = absmax[b] - offset;
  q.nested = true;
  q.nested_offset = offset;
  q.nested_quant_map = dynamic_map();
  q.absmax_codes.resize(size_t(blocks));
  q.nested_absmax.resize(size_t((blocks + kNestedBlocksize - 1) / kNestedBlocksize));
  quantize_blockwise8(centred.data(), blocks, kNestedBlocksize, q.nested_quant_map.data(),
                      q.absmax_codes.data(), q.nested_absmax.data());
  q.absmax.clear();
}

Nf4 quantize_nf4(const float* W, int64_t rows, int64_t cols, bool double_quant) {
  GLM3D_CHECK(rows > 0 && cols > 0 && (rows * cols) % 2 == 0)
      << "NF4 quantize: needs a non-empty weight with an even number of elements, got " << rows << "x"
      << cols;
  Nf4 q;
  q.rows = rows;
  q.cols = cols;
  const int64_t n = q.numel();
  std::vector<uint8_t> codes(static_cast<size_t>(n));
  q.absmax.resize(size_t(q.blocks()));
  nf4_quantize_blocks(W, n, codes.data(), q.absmax.data());
  q.weight.resize(size_t(n / 2));
  constexpr int64_t kPackChunk = 1 << 16; // elements per task, even
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += kPackChunk)
    pack_nibbles(codes.data() + i, std::min(kPackChunk, n - i), q.weight.data() + i / 2);
  if (double_quant) {
    const std::vector<float> absmax = q.absmax;
    nf4_double_quantize(q, absmax.data(), mean_f32(absmax.data(), int64_t(absmax.size())));
  }
  return q;
}

void validate(const Nf4& q, const std::string& what) {
  // rows x cols from a file: checked before numel() and blocks() use the product.
  const std::optional<int64_t> numel = checked_mul(q.rows, q.cols);
  GLM3D_USAGE_CHECK(q.rows > 0 && q.cols > 0 && numel && *numel % 2 == 0)
      << what << ": bad NF4 shape " << q.rows << "x" << q.cols << " (needs an even number of elements)";
  GLM3D_USAGE_CHECK(int64_t(q.weight.size()) == q.numel() / 2)
      << what << ": NF4 weight has " << q.weight.size() << " bytes, expected " << q.numel() / 2;
  if (!q.nested) {
    GLM3D_USAGE_CHECK(int64_t(q.absmax.size()) == q.blocks())
        << what << ": absmax has " << q.absmax.size() << " elements, expected " << q.blocks();
    return;
  }
  const int64_t blocks2 = (q.blocks() + kNestedBlocksize - 1) / kNestedBlocksize;
  GLM3D_USAGE_CHECK(int64_t(q.absmax_codes.size()) == q.blocks())
      << what << ": absmax codes have " << q.absmax_codes.size() << " elements, expected " << q.blocks();
  if (!q.group_begin.empty()) { // a shard (built in memory, never read from a file)
    GLM3D_CHECK(q.group_begin.size() == q.nested_absmax.size() && q.group_begin[0] == 0 &&
                std::is_sorted(q.group_begin.begin(), q.group_begin.end()) &&
                q.group_begin.back() < q.blocks())
        << what << ": bad NF4 shard groups";
    return;
  }
  GLM3D_USAGE_CHECK(int64_t(q.nested_absmax.size()) == blocks2)
      << what << ": nested_absmax has " << q.nested_absmax.size() << " elements, expected " << blocks2;
}

void dequantize(const Nf4& q, int64_t r0, int64_t r1, int64_t c0, int64_t c1, float* out) {
  GLM3D_CHECK(0 <= r0 && r0 <= r1 && r1 <= q.rows && 0 <= c0 && c0 <= c1 && c1 <= q.cols)
      << "dequantize: rectangle [" << r0 << "," << r1 << ")x[" << c0 << "," << c1 << ") outside " << q.rows
      << "x" << q.cols;
  const auto& code = nf4_code();
  static const NibblePairs lut = make_nibble_pairs(code.data());
  for (int64_t r = r0; r < r1; ++r) {
    // Walk the row segment block by block (one absmax each); inside a block, pairs of
    // elements that share a byte.
    int64_t f = r * q.cols + c0;
    const int64_t f_end = r * q.cols + c1;
    while (f < f_end) {
      const int64_t b = f / kNf4Blocksize;
      const int64_t seg_end = std::min(f_end, (b + 1) * kNf4Blocksize);
      const float s = q.block_absmax(b);
      if (f % 2 == 1)
        *out++ = code[q.code(f)] * s, ++f;
      for (; f + 1 < seg_end; f += 2, out += 2) {
        const float* pair = lut.v[q.weight[size_t(f / 2)]];
        out[0] = pair[0] * s;
        out[1] = pair[1] * s;
      }
      if (f < seg_end)
        *out++ = code[q.code(f)] * s, ++f;
    }
  }
}

} // namespace glm3d::quant
