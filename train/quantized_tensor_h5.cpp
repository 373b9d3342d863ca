#include "train/quantized_tensor_h5.h"

#include "core/check.h"
#include "core/quant/blockwise8.h"
#include "data/h5_attr.h"
#include "train/checkpoint_io.h"

#include <cstdio>
#include <filesystem>
#include <map>

namespace glm3d {

namespace {

using quant::Nf4;
using quant::RowwiseInt;

// One dataset written from raw elements (mem_type), with the checksum of their bits.
h5::Handle write_array(hid_t g, const std::string& name, hid_t file_type, hid_t mem_type,
                       const std::vector<hsize_t>& dims, const void* data, int elem_bytes) {
  auto lock = h5::library_lock();
  int64_t n = 1;
  for (hsize_t d : dims)
    n *= int64_t(d);
  h5::Handle space(H5_CHECK(H5Screate_simple(int(dims.size()), dims.data(), nullptr)), H5Sclose);
  h5::Handle d(
      H5_CHECK(H5Dcreate2(g, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
      H5Dclose);
  H5_CHECK(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  h5::write_attr_u64(d.get(), "checksum", checksum_bits(data, n, elem_bytes));
  return d;
}

// Reads one dataset of the quantized state: it must exist with dims `want`, elements of
// sizeof(T) and its checksum. mem_type < 0: the dataset's own type (float16 bits).
struct ArrayReader {
  hid_t g;
  const std::string& file;
  template <class T>
  std::vector<T> read(const std::string& name, const std::vector<hsize_t>& want, hid_t mem_type) {
    const std::string where = "checkpoint " + file + ": quantized tensor 'params/" + name + "'";
    auto lock = h5::library_lock();
    GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(g, name.c_str(), H5P_DEFAULT)) > 0) << where << " is missing";
    h5::Handle d(H5_CHECK(H5Dopen2(g, name.c_str(), H5P_DEFAULT)), H5Dclose);
    h5::Handle s(H5_CHECK(H5Dget_space(d.get())), H5Sclose);
    h5::Handle own(H5_CHECK(H5Dget_type(d.get())), H5Tclose);
    std::vector<hsize_t> dims(size_t(H5_CHECK(H5Sget_simple_extent_ndims(s.get()))));
    H5_CHECK(H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr));
    auto shape = [](const std::vector<hsize_t>& v) {
      std::string t = "[";
      for (size_t i = 0; i < v.size(); ++i)
        t += (i ? ", " : "") + std::to_string(v[i]);
      return t + "]";
    };
    GLM3D_USAGE_CHECK(dims == want) << where << " has shape " << shape(dims) << ", expected " << shape(want);
    GLM3D_USAGE_CHECK(H5Tget_size(own.get()) == sizeof(T))
        << where << " has " << H5Tget_size(own.get()) << "-byte elements, expected " << sizeof(T);
    GLM3D_USAGE_CHECK(h5::has_attr(d.get(), "checksum")) << where << " has no checksum (incomplete write?)";
    int64_t n = 1;
    for (hsize_t v : dims)
      n *= int64_t(v);
    std::vector<T> out(static_cast<size_t>(n));
    if (n > 0)
      H5_CHECK(
          H5Dread(d.get(), mem_type < 0 ? own.get() : mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()));
    const uint64_t stored = h5::read_attr_u64(d.get(), "checksum"),
                   sum = checksum_bits(out.data(), n, sizeof(T));
    GLM3D_USAGE_CHECK(sum == stored) << where << " fails its checksum: the file is corrupted";
    return out;
  }
};

std::string prefix_of(const std::string& name) { // "x.weight" -> "x"
  return name.substr(0, name.size() - std::string(".weight").size());
}

void write_rowwise(hid_t g, const std::string& name, const RowwiseInt& q) {
  h5::Handle d = write_array(g, name, H5T_STD_I8LE, H5T_NATIVE_INT8,
                             {hsize_t(q.rows), hsize_t(q.stored_cols())}, q.weight.data(), 1);
  h5::write_attr_str(d.get(), "quant", q.bits == 8 ? "int8" : "int4");
  h5::write_attr_i64s(d.get(), "shape", {q.rows, q.cols});
  h5::Handle f16 = h5::half_float_type(5);
  write_array(g, prefix_of(name) + ".weight_scale", f16.get(), f16.get(), {hsize_t(q.rows)}, q.scale.data(),
              2);
}

void write_nf4(hid_t g, const std::string& name, const Nf4& q) {
  h5::Handle d =
      write_array(g, name, H5T_STD_U8LE, H5T_NATIVE_UINT8, {hsize_t(q.weight.size())}, q.weight.data(), 1);
  h5::write_attr_str(d.get(), "quant", "nf4");
  h5::write_attr_i64s(d.get(), "shape", {q.rows, q.cols});
  h5::write_attr_i64(d.get(), "blocksize", quant::kNf4Blocksize);
  write_array(g, name + ".quant_map", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {16}, quant::nf4_code().data(), 4);
  const hsize_t blocks = hsize_t(q.blocks());
  if (!q.nested) {
    write_array(g, name + ".absmax", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {blocks}, q.absmax.data(), 4);
    return;
  }
  h5::write_attr_i64(d.get(), "nested_blocksize", quant::kNestedBlocksize);
  h5::write_attr_f32(d.get(), "nested_offset", q.nested_offset);
  write_array(g, name + ".absmax", H5T_STD_U8LE, H5T_NATIVE_UINT8, {blocks}, q.absmax_codes.data(), 1);
  write_array(g, name + ".nested_absmax", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {hsize_t(q.nested_absmax.size())},
              q.nested_absmax.data(), 4);
  write_array(g, name + ".nested_quant_map", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, {256},
              q.nested_quant_map.data(), 4);
}

} // namespace

void write_quantized_tensor(hid_t group, const std::string& name, const quant::QuantizedMatrix& q) {
  if (const auto* r = std::get_if<RowwiseInt>(&q))
    write_rowwise(group, name, *r);
  else
    write_nf4(group, name, std::get<Nf4>(q));
}

quant::QuantizedMatrix read_quantized_tensor(hid_t g, const std::string& file, const std::string& name,
                                             int64_t rows, int64_t cols) {
  const std::string what = "checkpoint " + file + ": quantized tensor 'params/" + name + "'";
  ArrayReader in{g, file};
  try {
    std::string kind;
    std::vector<int64_t> shape;
    {
      auto lock = h5::library_lock();
      GLM3D_USAGE_CHECK(H5_CHECK(H5Lexists(g, name.c_str(), H5P_DEFAULT)) > 0) << what << " is missing";
      h5::Handle d(H5_CHECK(H5Dopen2(g, name.c_str(), H5P_DEFAULT)), H5Dclose);
      GLM3D_USAGE_CHECK(h5::has_attr(d.get(), "quant") && h5::has_attr(d.get(), "shape"))
          << what << " lacks its 'quant' or 'shape' attribute";
      kind = h5::read_attr_str(d.get(), "quant");
      shape = h5::read_attr_i64s(d.get(), "shape");
    }
    GLM3D_USAGE_CHECK((shape == std::vector<int64_t>{rows, cols}))
        << what << " has shape attribute of " << shape.size() << " values, the config needs [" << rows << ", "
        << cols << "]";
    if (kind == "int8" || kind == "int4") {
      RowwiseInt q;
      q.bits = kind == "int8" ? 8 : 4;
      q.rows = rows, q.cols = cols;
      q.weight = in.read<int8_t>(name, {hsize_t(rows), hsize_t(q.stored_cols())}, H5T_NATIVE_INT8);
      q.scale = in.read<uint16_t>(prefix_of(name) + ".weight_scale", {hsize_t(rows)}, -1);
      quant::validate(q, what);
      return q;
    }
    GLM3D_USAGE_CHECK(kind == "nf4") << what << ": unknown quantization '" << kind << "' (int8, int4 or nf4)";
    Nf4 q;
    q.rows = rows, q.cols = cols;
    q.weight = in.read<uint8_t>(name, {hsize_t(rows * cols / 2)}, H5T_NATIVE_UINT8);
    const std::vector<float> code = in.read<float>(name + ".quant_map", {16}, H5T_NATIVE_FLOAT);
    GLM3D_USAGE_CHECK(std::equal(code.begin(), code.end(), quant::nf4_code().begin()))
        << what << ": quant_map is not the NF4 table";
    auto lock = h5::library_lock();
    h5::Handle d(H5_CHECK(H5Dopen2(g, name.c_str(), H5P_DEFAULT)), H5Dclose);
    q.nested = h5::has_attr(d.get(), "nested_offset");
    const hsize_t blocks = hsize_t(q.blocks());
    if (q.nested) {
      q.nested_offset = float(h5::read_attr_f64(d.get(), "nested_offset"));
      q.absmax_codes = in.read<uint8_t>(name + ".absmax", {blocks}, H5T_NATIVE_UINT8);
      const hsize_t nested = (blocks + quant::kNestedBlocksize - 1) / quant::kNestedBlocksize;
      q.nested_absmax = in.read<float>(name + ".nested_absmax", {nested}, H5T_NATIVE_FLOAT);
      const std::vector<float> map = in.read<float>(name + ".nested_quant_map", {256}, H5T_NATIVE_FLOAT);
      std::copy(map.begin(), map.end(), q.nested_quant_map.begin());
    } else {
      q.absmax = in.read<float>(name + ".absmax", {blocks}, H5T_NATIVE_FLOAT);
    }
    quant::validate(q, what);
    return q;
  } catch (const Error& e) { // an HDF5 failure inside a damaged file
    GLM3D_USAGE_FAIL() << what << " is unreadable: " << e.what();
  }
}

} // namespace glm3d
