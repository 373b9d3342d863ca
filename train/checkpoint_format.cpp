#include "train/checkpoint_format.h"

#include "core/dtype.h"
#include "model/glm_model.h"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace glm3d {

std::vector<CkptTensor> checkpoint_tensors(const ModelConfig& cfg) {
  const ParamTable full(cfg, single_rank_plan(cfg));
  std::vector<CkptTensor> out;
  for (const ParamInfo& p : full.params())
    out.push_back({p.name, p.vocab_rows ? cfg.vocab : p.rows, p.cols});
  return out;
}

std::vector<CkptTensor> checkpoint_tensors(const CheckpointMeta& meta) {
  if (meta.kind != "finetune")
    return checkpoint_tensors(meta.cfg);
  const ParamTable full(meta.cfg, single_rank_plan(meta.cfg), meta.adapters);
  std::vector<CkptTensor> out;
  for (const ParamInfo& p : full.params())
    out.push_back({p.name, p.rows, p.cols});
  return out;
}

std::vector<CkptTensor> float_tensors(const CheckpointMeta& meta) {
  std::vector<CkptTensor> out = checkpoint_tensors(meta);
  if (meta.kind == k_quantized_kind)
    std::erase_if(out, [](const CkptTensor& t) { return layer_matrix_index(t.name) >= 0; });
  return out;
}

namespace {

// Local rectangles (in the shard's [local_rows, local_cols] coordinates) of elements [a, b).
std::vector<Rect> local_rects(int64_t lc, int64_t a, int64_t b) {
  std::vector<Rect> out;
  if (a >= b)
    return out;
  const int64_t ra = a / lc, ca = a % lc, rb = b / lc, cb = b % lc;
  if (ra == rb) {
    out.push_back({ra, ca, 1, cb - ca});
    return out;
  }
  int64_t body = ra;
  if (ca > 0) {
    out.push_back({ra, ca, 1, lc - ca});
    body = ra + 1;
  }
  if (rb > body)
    out.push_back({body, 0, rb - body, lc});
  if (cb > 0)
    out.push_back({rb, 0, 1, cb});
  return out;
}

} // namespace

std::vector<Rect> shard_rects(const ParamInfo& p, int tp_rank, int64_t a, int64_t b, int64_t stored_rows) {
  std::vector<Rect> global;
  const std::vector<RowSegment> segments = p.row_segments(tp_rank);
  for (Rect r : local_rects(p.local_cols, a, b)) {
    if (p.split == Split::replicated) {
      global.push_back(r);
    } else if (p.split == Split::cols) {
      r.c0 += int64_t(tp_rank) * p.local_cols;
      global.push_back(r);
    } else {
      // Row splits: a local rectangle may straddle segments (GeGLU's halves, Q | K | V) and maps
      // to one full-tensor rectangle per segment it touches.
      for (const RowSegment& s : segments) {
        const int64_t from = std::max(r.r0, s.local_begin),
                      to = std::min(r.r0 + r.nr, s.local_begin + s.rows);
        if (from >= to)
          continue;
        Rect g = r;
        g.r0 = s.global_begin + (from - s.local_begin);
        g.nr = to - from;
        global.push_back(g);
      }
    }
  }
  std::vector<Rect> clipped;
  for (Rect r : global) {
    if (r.r0 >= stored_rows)
      continue;
    r.nr = std::min(r.nr, stored_rows - r.r0);
    if (r.numel() > 0)
      clipped.push_back(r);
  }
  return clipped;
}

int64_t rects_numel(const std::vector<Rect>& rects) {
  int64_t n = 0;
  for (const Rect& r : rects)
    n += r.numel();
  return n;
}

namespace {
inline uint64_t mix64(uint64_t z) { // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
} // namespace

uint64_t checksum_rects(const float* data, const std::vector<Rect>& rects, int64_t cols, bool as_bf16) {
  uint64_t sum = 0;
  for (const Rect& r : rects) {
    for (int64_t i = 0; i < r.nr; ++i) {
      const uint64_t base = uint64_t((r.r0 + i) * cols + r.c0);
      for (int64_t j = 0; j < r.nc; ++j) {
        const float v = as_bf16 ? float(bf16(*data)) : *data;
        ++data;
        uint32_t bits;
        std::memcpy(&bits, &v, 4);
        sum += mix64((base + uint64_t(j)) * 0x9E3779B97F4A7C15ull + bits);
      }
    }
  }
  return sum;
}

uint64_t checksum_bits(const void* data, int64_t n, int elem_bytes) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    uint32_t bits = 0;
    for (int b = 0; b < elem_bytes; ++b)
      bits |= uint32_t(p[i * elem_bytes + b]) << (8 * b);
    sum += mix64(uint64_t(i) * 0x9E3779B97F4A7C15ull + bits);
  }
  return sum;
}

std::string config_mismatch(const ModelConfig& c, const ModelConfig& w) {
  std::ostringstream os;
  auto field = [&](const char* name, auto a, auto b) {
    if (os.tellp() == 0 && a != b)
      os << name << ": " << a << " in the checkpoint, " << b << " requested";
  };
  field("num_layers", c.num_layers, w.num_layers);
  field("hidden", c.hidden, w.hidden);
  field("num_heads", c.num_heads, w.num_heads);
  field("ffn_hidden", c.ffn_hidden, w.ffn_hidden);
  field("vocab", c.vocab, w.vocab);
  field("ffn", to_string(c.ffn), to_string(w.ffn));
  field("rope", to_string(c.rope), to_string(w.rope));
  field("rope_base", c.rope_base, w.rope_base);
  field("ln_eps", c.ln_eps, w.ln_eps);
  field("norm", to_string(c.norm), to_string(w.norm));
  field("residual", to_string(c.residual), to_string(w.residual));
  field("mask", to_string(c.mask), to_string(w.mask));
  field("kv_groups", c.kv_groups, w.kv_groups);
  field("tie_embeddings", c.tie_embeddings, w.tie_embeddings);
  field("qkv_bias", c.qkv_bias, w.qkv_bias);
  field("linear_bias", c.linear_bias, w.linear_bias);
  return os.str();
}

} // namespace glm3d
