#include "data/h5_check.h"

#include <sstream>

namespace glm3d::h5 {

std::recursive_mutex& library_mutex() {
  static std::recursive_mutex m;
  return m;
}

void silence_error_printing() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

namespace {
herr_t innermost(unsigned n, const H5E_error2_t* err, void* out) {
  // The walk goes from the innermost frame outwards (H5E_WALK_UPWARD); keep the first.
  auto* msg = static_cast<std::string*>(out);
  if (n == 0 && err && err->desc)
    *msg = err->desc;
  return 0;
}
} // namespace

std::string last_error_message() {
  std::string msg;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost, &msg);
  return msg;
}

void throw_failure(const char* expr, const char* file, int line) {
  std::ostringstream os;
  os << file << ":" << line << ": HDF5 call failed: " << expr;
  const std::string msg = last_error_message();
  if (!msg.empty())
    os << ": " << msg;
  H5Eclear2(H5E_DEFAULT);
  throw Error(os.str());
}

Handle half_float_type(int e) {
  const int m = 15 - e;
  Handle t(H5_CHECK(H5Tcopy(H5T_IEEE_F32LE)), H5Tclose);
  H5_CHECK(H5Tset_fields(t.get(), 15, size_t(m), size_t(e), 0, size_t(m)));
  H5_CHECK(H5Tset_offset(t.get(), 0));
  H5_CHECK(H5Tset_precision(t.get(), 16));
  H5_CHECK(H5Tset_size(t.get(), 2));
  H5_CHECK(H5Tset_ebias(t.get(), size_t((1 << (e - 1)) - 1)));
  return t;
}

} // namespace glm3d::h5
