#pragma once
// Checked conditions that throw with file and line, and the two error kinds the
// launcher maps to exit codes: UsageError (bad input: config, file, layout -> exit 2)
// and Error (anything else -> exit 1).
//
//   GLM3D_CHECK(n > 0) << "hidden size must be positive, got " << n;
//   GLM3D_USAGE_CHECK(ok) << "unknown preset '" << name << "'";
#include <sstream>
#include <stdexcept>
#include <string>

namespace glm3d {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Bad input from the user: the message is shown as is (no file/line), exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
// Collects a streamed message and throws from its destructor (the CHECK idiom).
template <class E> class Thrower {
public:
  Thrower(const char* file, int line, const char* cond, bool with_location) {
    if (with_location)
      os_ << file << ":" << line << ": check failed: " << cond << ": ";
  }
  Thrower(const Thrower&) = delete;
  Thrower& operator=(const Thrower&) = delete;
  [[noreturn]] ~Thrower() noexcept(false) { throw E(os_.str()); }
  template <class T> Thrower& operator<<(const T& v) {
    os_ << v;
    return *this;
  }

private:
  std::ostringstream os_;
};
} // namespace detail
} // namespace glm3d

#define GLM3D_CHECK(cond)                                                                                    \
  if (cond) {                                                                                                \
  } else                                                                                                     \
    ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, #cond, true)

#define GLM3D_USAGE_CHECK(cond)                                                                              \
  if (cond) {                                                                                                \
  } else                                                                                                     \
    ::glm3d::detail::Thrower<::glm3d::UsageError>(__FILE__, __LINE__, #cond, false)

#define GLM3D_FAIL() ::glm3d::detail::Thrower<::glm3d::Error>(__FILE__, __LINE__, "failure", true)
#define GLM3D_USAGE_FAIL() ::glm3d::detail::Thrower<::glm3d::UsageError>(__FILE__, __LINE__, "", false)
