// Quantized weight states as a quantized-checkpoint reader will hand them over (no file format
// yet: docs/checkpoint.md): the fields of a RowwiseInt (ChatGLM int8/int4) or an Nf4 (bitsandbytes
// NF4, optionally double-quantized) taken from the input, then quant::validate, which such a
// reader calls, and when it accepts, dequantize of the whole matrix (what the quantized linear
// does with it). Input layout (little-endian):
//   u8 flags (bit 0: NF4, else RowwiseInt; bit 1: nested NF4; bit 2: int4, else int8),
//   i64 rows, i64 cols, then each array as u32 count + count elements: RowwiseInt weight (i8),
//   scale (u16); Nf4 weight (u8), then absmax (f32), or absmax codes (u8), nested_absmax (f32),
//   nested_offset (f32) and the 256 map entries (f32, missing ones from dynamic_map()).
// An array longer than the rest of the input ends the run: the input cannot hold it (a file
// reader rejects such a count before allocating).
#include "core/quant/blockwise8.h"
#include "core/quant/qmatrix.h"
#include "fuzz_support.h"

#include <cstring>

namespace {
struct Bytes {
  const uint8_t* p;
  size_t n;
  template <class T> bool get(T& v) {
    if (n < sizeof(T))
      return false;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T), n -= sizeof(T);
    return true;
  }
  template <class T> bool array(std::vector<T>& v) {
    uint32_t count = 0;
    if (!get(count) || count > n / sizeof(T))
      return false;
    v.resize(count);
    if (count > 0)
      std::memcpy(v.data(), p, count * sizeof(T));
    p += count * sizeof(T), n -= count * sizeof(T);
    return true;
  }
};

template <class Q> void validate_and_dequantize(const Q& q) {
  glm3d::quant::validate(q, "fuzz tensor");
  std::vector<float> out(size_t(q.rows * q.cols));
  glm3d::quant::dequantize(q, 0, q.rows, 0, q.cols, out.data());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  Bytes in{data, size};
  uint8_t flags = 0;
  int64_t rows = 0, cols = 0;
  if (!in.get(flags) || !in.get(rows) || !in.get(cols))
    return 0;
  if (!(flags & 1)) {
    quant::RowwiseInt q;
    q.bits = flags & 4 ? 4 : 8;
    q.rows = rows, q.cols = cols;
    if (!in.array(q.weight) || !in.array(q.scale))
      return 0;
    fuzz::expect_usage_error_only([&] { validate_and_dequantize(q); });
    return 0;
  }
  quant::Nf4 q;
  q.rows = rows, q.cols = cols;
  q.nested = flags & 2;
  if (!in.array(q.weight))
    return 0;
  if (!q.nested) {
    if (!in.array(q.absmax))
      return 0;
  } else {
    if (!in.array(q.absmax_codes) || !in.array(q.nested_absmax) || !in.get(q.nested_offset))
      return 0;
    q.nested_quant_map = quant::dynamic_map();
    for (float& m : q.nested_quant_map)
      if (!in.get(m))
        break;
  }
  fuzz::expect_usage_error_only([&] { validate_and_dequantize(q); });
  return 0;
}
