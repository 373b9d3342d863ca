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

} // namespace glm3d::h5
