#include "data/h5_attr.h"

#include "data/h5_object_header.h"

#include <vector>

namespace glm3d::h5 {

namespace {
// count < 0: a scalar; else a 1-D array of count elements.
void write_scalar(hid_t obj, const std::string& name, hid_t file_type, hid_t mem_type, const void* v,
                  int64_t count = -1) {
  auto lock = library_lock();
  if (H5_CHECK(H5Aexists(obj, name.c_str())) > 0)
    H5_CHECK(H5Adelete(obj, name.c_str()));
  const hsize_t dims[1] = {hsize_t(count < 0 ? 0 : count)};
  Handle space(count < 0 ? H5_CHECK(H5Screate(H5S_SCALAR)) : H5_CHECK(H5Screate_simple(1, dims, nullptr)),
               H5Sclose);
  Handle attr(H5_CHECK(H5Acreate2(obj, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT)),
              H5Aclose);
  H5_CHECK(H5Awrite(attr.get(), mem_type, v));
}

void read_scalar(hid_t obj, const std::string& name, hid_t mem_type, void* v) {
  auto lock = library_lock();
  check_object_header(obj);
  Handle attr(H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  H5_CHECK(H5Aread(attr.get(), mem_type, v));
}
} // namespace

void write_attr_i64(hid_t obj, const std::string& name, int64_t v) {
  write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}
void write_attr_u64(hid_t obj, const std::string& name, uint64_t v) {
  write_scalar(obj, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v);
}
void write_attr_f64(hid_t obj, const std::string& name, double v) {
  write_scalar(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}
void write_attr_f32(hid_t obj, const std::string& name, float v) {
  write_scalar(obj, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &v);
}
void write_attr_i64s(hid_t obj, const std::string& name, const std::vector<int64_t>& v) {
  write_scalar(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v.data(), int64_t(v.size()));
}

void write_attr_str(hid_t obj, const std::string& name, const std::string& v) {
  auto lock = library_lock();
  if (H5_CHECK(H5Aexists(obj, name.c_str())) > 0)
    H5_CHECK(H5Adelete(obj, name.c_str()));
  // Fixed-length, NUL-terminated UTF-8 string: h5py reads it as bytes/str, h5dump prints it.
  Handle type(H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  H5_CHECK(H5Tset_size(type.get(), v.size() + 1));
  H5_CHECK(H5Tset_strpad(type.get(), H5T_STR_NULLTERM));
  H5_CHECK(H5Tset_cset(type.get(), H5T_CSET_UTF8));
  Handle space(H5_CHECK(H5Screate(H5S_SCALAR)), H5Sclose);
  Handle attr(H5_CHECK(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT)),
              H5Aclose);
  H5_CHECK(H5Awrite(attr.get(), type.get(), v.c_str()));
}

bool has_attr(hid_t obj, const std::string& name) {
  auto lock = library_lock();
  check_object_header(obj);
  return H5_CHECK(H5Aexists(obj, name.c_str())) > 0;
}

int64_t read_attr_i64(hid_t obj, const std::string& name) {
  int64_t v = 0;
  read_scalar(obj, name, H5T_NATIVE_INT64, &v);
  return v;
}
uint64_t read_attr_u64(hid_t obj, const std::string& name) {
  uint64_t v = 0;
  read_scalar(obj, name, H5T_NATIVE_UINT64, &v);
  return v;
}
double read_attr_f64(hid_t obj, const std::string& name) {
  double v = 0;
  read_scalar(obj, name, H5T_NATIVE_DOUBLE, &v);
  return v;
}

std::vector<int64_t> read_attr_i64s(hid_t obj, const std::string& name) {
  auto lock = library_lock();
  check_object_header(obj);
  Handle attr(H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  Handle space(H5_CHECK(H5Aget_space(attr.get())), H5Sclose);
  std::vector<int64_t> v(size_t(H5_CHECK(H5Sget_simple_extent_npoints(space.get()))));
  H5_CHECK(H5Aread(attr.get(), H5T_NATIVE_INT64, v.data()));
  return v;
}

std::string read_attr_str(hid_t obj, const std::string& name) {
  auto lock = library_lock();
  check_object_header(obj);
  Handle attr(H5_CHECK(H5Aopen(obj, name.c_str(), H5P_DEFAULT)), H5Aclose);
  Handle ftype(H5_CHECK(H5Aget_type(attr.get())), H5Tclose);
  GLM3D_CHECK(H5Tget_class(ftype.get()) == H5T_STRING) << "attribute '" << name << "' is not a string";
  GLM3D_CHECK(H5_CHECK(H5Tis_variable_str(ftype.get())) == 0)
      << "attribute '" << name << "' is a variable-length string (glm3d writes fixed-length)";
  const size_t n = H5Tget_size(ftype.get());
  Handle mtype(H5_CHECK(H5Tcopy(H5T_C_S1)), H5Tclose);
  H5_CHECK(H5Tset_size(mtype.get(), n + 1));
  H5_CHECK(H5Tset_strpad(mtype.get(), H5T_STR_NULLTERM));
  H5_CHECK(H5Tset_cset(mtype.get(), H5Tget_cset(ftype.get()))); // no conversion between charsets
  std::vector<char> buf(n + 1, '\0');
  H5_CHECK(H5Aread(attr.get(), mtype.get(), buf.data()));
  return std::string(buf.data());
}

} // namespace glm3d::h5
