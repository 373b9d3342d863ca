// core/quant against tests/core/golden/quant_golden.h5, written by tools/golden/make_quant_golden.sh
// with bitsandbytes 0.49.2 and torch 2.9.1 on the CPU (versions in the file's `versions`
// attribute). Codes, absmax, the double-quantization state and dequantized values must be equal
// bit for bit; the one number that is not, the float32 mean of the absmax values, is compared
// within a stated bound and then taken from the file (see core/quant/README.md).
#include "core/quant/blockwise8.h"
#include "core/quant/chatglm_int.h"
#include "core/quant/half.h"
#include "core/quant/nf4.h"
#include "data/h5_attr.h"
#include "data/h5_check.h"

#include <bit>
#include <cmath>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace glm3d::quant {
namespace {

const std::string kGolden = std::string(GLM3D_SOURCE_DIR) + "/tests/core/golden/quant_golden.h5";

struct Golden {
  h5::Handle file{H5_CHECK(H5Fopen(kGolden.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose};

  bool has(const std::string& path) const {
    return H5_CHECK(H5Lexists(file.get(), path.c_str(), H5P_DEFAULT)) > 0;
  }
  std::vector<hsize_t> dims(const std::string& path) const {
    h5::Handle d(H5_CHECK(H5Dopen2(file.get(), path.c_str(), H5P_DEFAULT)), H5Dclose);
    h5::Handle s(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
    std::vector<hsize_t> out(static_cast<size_t>(H5_CHECK(H5Sget_simple_extent_ndims(s.get()))));
    H5_CHECK(H5Sget_simple_extent_dims(s.get(), out.data(), nullptr));
    return out;
  }
  // mem_type < 0: the dataset's own type (raw bytes, e.g. float16 bits); else converted by HDF5.
  template <class T> std::vector<T> read(const std::string& path, hid_t mem_type) const {
    h5::Handle d(H5_CHECK(H5Dopen2(file.get(), path.c_str(), H5P_DEFAULT)), H5Dclose);
    h5::Handle own(H5_CHECK(H5Dget_type(d.get())), H5Tclose);
    const hid_t t = mem_type < 0 ? own.get() : mem_type;
    hsize_t n = 1;
    for (hsize_t v : dims(path))
      n *= v;
    EXPECT_EQ(H5_CHECK(H5Tget_size(t)), sizeof(T)) << path;
    std::vector<T> out(n);
    H5_CHECK(H5Dread(d.get(), t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
    return out;
  }
  std::vector<float> f32(const std::string& p) const { return read<float>(p, H5T_NATIVE_FLOAT); }
  std::vector<uint8_t> u8(const std::string& p) const { return read<uint8_t>(p, H5T_NATIVE_UINT8); }
  double attr_f64(const std::string& path, const std::string& name) const {
    h5::Handle o(H5_CHECK(H5Oopen(file.get(), path.c_str(), H5P_DEFAULT)), H5Oclose);
    return h5::read_attr_f64(o.get(), name);
  }
};

uint32_t bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

// Bitwise equality of float arrays (so -0 != 0 and NaN == NaN), optionally over [lo, hi) only.
void expect_bits_equal(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
                       size_t lo = 0, size_t hi = SIZE_MAX) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int64_t bad = 0;
  for (size_t i = lo; i < std::min(hi, got.size()); ++i)
    if (bits(got[i]) != bits(want[i]) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "]: " << got[i] << " != " << want[i];
  EXPECT_EQ(bad, 0) << what;
}

const char* kNf4Cases[] = {"w16x128", "w68x256", "odd_17x60", "ties", "zero_block"};

// The double-quantized state as bitsandbytes stored it (what an import reads).
Nf4 stored_state(const Golden& g, const std::string& p) {
  const auto d = g.dims(p + "input");
  Nf4 q;
  q.rows = int64_t(d[0]);
  q.cols = int64_t(d[1]);
  q.weight = g.u8(p + "weight");
  q.nested = true;
  q.absmax_codes = g.u8(p + "weight.absmax");
  q.nested_absmax = g.f32(p + "weight.nested_absmax");
  const std::vector<float> map = g.f32(p + "weight.nested_quant_map");
  EXPECT_EQ(map.size(), 256u) << p;
  std::copy(map.begin(), map.begin() + 256, q.nested_quant_map.begin());
  q.nested_offset = float(g.attr_f64(p + "weight", "nested_offset"));
  return q;
}

// The case's input through quantize_nf4 without double quantization.
Nf4 quantize_case(const Golden& g, const std::string& p) {
  const auto d = g.dims(p + "input");
  const std::vector<float> input = g.f32(p + "input");
  return quantize_nf4(input.data(), int64_t(d[0]), int64_t(d[1]), false);
}

std::vector<float> dequantize_all(const Nf4& q) {
  std::vector<float> out(static_cast<size_t>(q.numel()));
  dequantize(q, 0, q.rows, 0, q.cols, out.data());
  return out;
}

TEST(QuantGolden, Nf4CodeTable) {
  Golden g;
  const std::vector<float> want = g.f32("nf4/w16x128/weight.quant_map");
  expect_bits_equal(std::vector<float>(nf4_code().begin(), nf4_code().end()), want, "quant_map");
}

// quantize_4bit(compress_statistics=False): packed codes, float32 absmax, dequantize_4bit.
TEST(QuantGolden, Nf4CodesAbsmaxAndValues) {
  Golden g;
  for (const std::string c : kNf4Cases) {
    const std::string p = "nf4/" + c + "/";
    const Nf4 q = quantize_case(g, p);
    std::vector<uint8_t> want = g.u8(p + "weight");
    if (c == "zero_block") {
      // bitsandbytes 0.49.2 codes its all-zero first block 0 (from 0 * (1/0) = NaN); glm3d 7 (0.0).
      EXPECT_EQ(g.attr_f64(p, "bnb_zero_block_code"), 0.0);
      for (size_t i = 0; i < 32; ++i) {
        EXPECT_EQ(want[i], 0x00) << i;
        want[i] = 0x77;
      }
    }
    EXPECT_EQ(q.weight, want) << c;
    expect_bits_equal(q.absmax, g.f32(p + "plain_absmax"), c + " absmax");
    if (g.has(p + "dequantized_plain"))
      expect_bits_equal(dequantize_all(q), g.f32(p + "dequantized_plain"), c + " dequantized_plain",
                        c == "zero_block" ? 64 : 0);
  }
}

// Double quantization. torch's float32 mean (the offset) is a float32 sum in torch's order; ours
// is the float64 mean rounded once, so the two may differ by an ulp or so (1 measured on another
// input): bound 4 ulps here. With the file's offset, every array and value must be equal.
TEST(QuantGolden, Nf4DoubleQuantState) {
  Golden g;
  for (const std::string c : kNf4Cases) {
    const std::string p = "nf4/" + c + "/";
    const std::vector<float> absmax = g.f32(p + "plain_absmax");
    const float offset = float(g.attr_f64(p + "weight", "nested_offset"));
    const float ours = mean_f32(absmax.data(), int64_t(absmax.size()));
    EXPECT_LE(std::fabs(ours - offset), 4 * (std::nextafter(offset, 1e30f) - offset)) << c;
    std::printf("[ quant ] %s: offset torch %.9g, glm3d %.9g (%d ulp)\n", c.c_str(), offset, ours,
                int(int64_t(bits(ours)) - int64_t(bits(offset))));

    Nf4 q = quantize_case(g, p);
    nf4_double_quantize(q, absmax.data(), offset);
    const Nf4 stored = stored_state(g, p);
    EXPECT_EQ(q.absmax_codes, stored.absmax_codes) << c;
    expect_bits_equal(q.nested_absmax, stored.nested_absmax, c + " nested_absmax");
    expect_bits_equal(std::vector<float>(q.nested_quant_map.begin(), q.nested_quant_map.end()),
                      std::vector<float>(stored.nested_quant_map.begin(), stored.nested_quant_map.end()),
                      c + " nested_quant_map");
    expect_bits_equal(dequantize_all(q), g.f32(p + "dequantized"), c + " dequantized",
                      c == "zero_block" ? 64 : 0);
  }
}

// A bitsandbytes state read as stored (the import path) dequantizes to its own values.
TEST(QuantGolden, Nf4ImportedStateDequantizes) {
  Golden g;
  for (const std::string c : kNf4Cases) {
    const std::string p = "nf4/" + c + "/";
    const Nf4 q = stored_state(g, p);
    validate(q, p + "weight");
    expect_bits_equal(dequantize_all(q), g.f32(p + "dequantized"), c + " imported");
  }
}

// ChatGLM-6B's formulas in torch: the int8 / packed int4 `weight`, float16 `weight_scale`, the
// integers and the dequantized values.
TEST(QuantGolden, ChatglmInt8Int4) {
  Golden g;
  for (int bits : {8, 4}) {
    const std::string p = "chatglm/int" + std::to_string(bits) + "/";
    const auto d = g.dims(p + "input");
    const int64_t rows = int64_t(d[0]), cols = int64_t(d[1]);
    const std::vector<float> input = g.f32(p + "input");
    const RowwiseInt q = quantize_rowwise(input.data(), rows, cols, bits);
    RowwiseInt stored{bits, rows, cols, g.read<int8_t>(p + "weight", H5T_NATIVE_INT8),
                      g.read<uint16_t>(p + "weight_scale", -1)}; // float16 bits, as ChatGLM stores them
    validate(stored, p + "weight");
    EXPECT_EQ(q.weight, stored.weight) << bits;
    EXPECT_EQ(q.scale, stored.scale) << bits;
    const std::vector<int8_t> want_q = g.read<int8_t>(p + "q", H5T_NATIVE_INT8);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        ASSERT_EQ(q.value(r, c), want_q[size_t(r * cols + c)]) << bits << " " << r << "," << c;
    std::vector<float> deq(static_cast<size_t>(rows * cols));
    dequantize(q, 0, rows, 0, cols, deq.data());
    expect_bits_equal(deq, g.f32(p + "dequantized"), p + "dequantized");
  }
}

} // namespace
} // namespace glm3d::quant
