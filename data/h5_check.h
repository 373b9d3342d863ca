#pragma once
// Checked HDF5 calls and RAII handles, shared by the token store and the checkpoint code.
//
//   h5::Handle file(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT)), H5Fclose);
//   H5_CHECK(H5Dread(dset.get(), H5T_NATIVE_UINT32, mem.get(), file_space.get(), H5P_DEFAULT, out));
//
// H5_CHECK(expr) evaluates expr (an HDF5 call returning hid_t / herr_t / htri_t / hssize_t)
// under the library lock and throws glm3d::Error carrying file, line, the call and the
// innermost HDF5 error message when the result is negative; otherwise it returns the result.
//
// Thread safety: Debian's parallel HDF5 is not built thread-safe, so no two threads may be
// inside the library at once. The token store reads on a background prefetch thread, so every
// HDF5 call in glm3d goes through H5_CHECK (or holds h5::library_lock() for a sequence of calls,
// e.g. the H5*close calls of h5::Handle). This is the same per-call global lock the thread-safe
// HDF5 build uses internally; the mutex is process-wide because the library state it protects is.
#include "core/check.h"

#include <hdf5.h>

#include <mutex>
#include <string>
#include <utility>

namespace glm3d::h5 {

// The one lock around the (non-thread-safe) HDF5 library. Recursive because a checked call's
// arguments may themselves be checked calls.
std::recursive_mutex& library_mutex();
inline std::unique_lock<std::recursive_mutex> library_lock() {
  return std::unique_lock<std::recursive_mutex>(library_mutex());
}

// Turns off HDF5's automatic error-stack printing (glm3d reports errors itself). Idempotent;
// called by every H5_CHECK.
void silence_error_printing();

// The innermost message of the current HDF5 error stack ("" when empty). Call under the lock.
std::string last_error_message();

[[noreturn]] void throw_failure(const char* expr, const char* file, int line);

template <class T> T checked(T result, const char* expr, const char* file, int line) {
  if (result < 0)
    throw_failure(expr, file, line);
  return result;
}

// Owns one HDF5 identifier and closes it with the matching H5*close function.
class Handle {
public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), closer_(o.closer_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      closer_ = o.closer_;
    }
    return *this;
  }
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && closer_) {
      auto lock = library_lock();
      closer_(id_); // errors on close are not actionable here (destructor)
    }
    id_ = H5I_INVALID_HID;
  }

private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// A 16-bit IEEE-style float type with `exponent_bits` exponent bits (bias 2^(e-1) - 1) and
// 15 - e mantissa bits, sign bit 15: bfloat16 (8) and float16 (5), which HDF5 1.10 does not
// predefine. HDF5 converts it to and from native floats; h5py reads float16 as numpy float16.
Handle half_float_type(int exponent_bits);

} // namespace glm3d::h5

// Evaluates an HDF5 call under the library lock; throws glm3d::Error (file, line, call, HDF5's
// message) when it returns a negative value, else yields the value.
#define H5_CHECK(expr)                                                                                       \
  ([&]() {                                                                                                   \
    auto _h5_lock = ::glm3d::h5::library_lock();                                                             \
    ::glm3d::h5::silence_error_printing();                                                                   \
    return ::glm3d::h5::checked((expr), #expr, __FILE__, __LINE__);                                          \
  }())
