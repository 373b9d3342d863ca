#include "train/quantized_shard.h"

#include "core/check.h"

#include <algorithm>

namespace glm3d {

namespace {

using quant::Nf4;
using quant::RowwiseInt;

// The shard's shape: stacked rectangles of equal width.
std::pair<int64_t, int64_t> shard_shape(const std::vector<Rect>& rects) {
  int64_t rows = 0;
  for (const Rect& r : rects) {
    GLM3D_CHECK(r.nc == rects[0].nc) << "quantized shard of rectangles of different widths";
    rows += r.nr;
  }
  return {rows, rects.empty() ? 0 : rects[0].nc};
}

RowwiseInt slice(const RowwiseInt& q, const std::vector<Rect>& rects, const std::string& what) {
  RowwiseInt s;
  s.bits = q.bits;
  std::tie(s.rows, s.cols) = shard_shape(rects);
  const int64_t per = q.bits == 8 ? 1 : 2; // columns per stored byte
  for (const Rect& r : rects) {
    GLM3D_USAGE_CHECK(r.c0 % per == 0 && r.nc % per == 0)
        << what << ": int4 columns [" << r.c0 << ", " << r.c0 + r.nc
        << ") of this tensor-parallel shard split a byte; use a layout whose shards have even widths";
    for (int64_t i = r.r0; i < r.r0 + r.nr; ++i) {
      const auto* row = q.weight.data() + i * q.stored_cols();
      s.weight.insert(s.weight.end(), row + r.c0 / per, row + (r.c0 + r.nc) / per);
      s.scale.push_back(q.scale[size_t(i)]);
    }
  }
  return s;
}

Nf4 slice(const Nf4& q, const std::vector<Rect>& rects, const std::string& what) {
  Nf4 s;
  std::tie(s.rows, s.cols) = shard_shape(rects);
  s.nested = q.nested;
  s.nested_quant_map = q.nested_quant_map;
  s.nested_offset = q.nested_offset;
  const int64_t bs = quant::kNf4Blocksize;
  int64_t last_group = -1; // the full matrix's 256-block group of the shard's last block
  // Each rectangle as flat ranges of the row-major matrix: whole rows are one range.
  auto take = [&](int64_t a, int64_t e) {
    GLM3D_USAGE_CHECK(a % bs == 0 && ((e - a) % bs == 0 || e == q.numel()))
        << what << ": elements [" << a << ", " << e
        << ") of this tensor-parallel shard do not fall on NF4 blocks of " << bs
        << "; use a layout whose shards hold whole blocks";
    s.weight.insert(s.weight.end(), q.weight.begin() + a / 2, q.weight.begin() + e / 2);
    for (int64_t b = a / bs; b < (e + bs - 1) / bs; ++b) {
      if (!q.nested) {
        s.absmax.push_back(q.block_absmax(b));
        continue;
      }
      const int64_t g = b / quant::kNestedBlocksize;
      if (g != last_group) { // a new stretch (quant::Nf4::group_begin)
        s.group_begin.push_back(int64_t(s.absmax_codes.size()));
        s.nested_absmax.push_back(q.nested_absmax[size_t(g)]);
        last_group = g;
      }
      s.absmax_codes.push_back(q.absmax_codes[size_t(b)]);
    }
  };
  for (const Rect& r : rects) {
    if (r.nc == q.cols)
      take(r.r0 * q.cols, (r.r0 + r.nr) * q.cols);
    else
      for (int64_t i = r.r0; i < r.r0 + r.nr; ++i)
        take(i * q.cols + r.c0, i * q.cols + r.c0 + r.nc);
  }
  return s;
}

} // namespace

quant::QuantizedMatrix quantized_shard(const quant::QuantizedMatrix& full, const std::vector<Rect>& rects,
                                       const std::string& what) {
  const int64_t rows = quant::rows(full), cols = quant::cols(full);
  if (rects.size() == 1 && rects[0].r0 == 0 && rects[0].c0 == 0 && rects[0].nr == rows && rects[0].nc == cols)
    return full;
  return std::visit([&](const auto& q) -> quant::QuantizedMatrix { return slice(q, rects, what); }, full);
}

} // namespace glm3d
