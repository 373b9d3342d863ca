#pragma once
// nlohmann/json's exception text without its "[json.exception.parse_error.101] " prefix, for
// messages that name the file themselves. Readers catch nlohmann::json::exception, the base class,
// not only parse_error: the parser also throws out_of_range 406 for a number beyond the range of a
// double ("number overflow parsing '1e400'"), found by tests/fuzz.
#include <exception>
#include <string>

namespace glm3d {

inline std::string json_error_text(const std::exception& e) {
  const std::string m = e.what();
  const size_t end = m.find("] ");
  return m.rfind("[json.exception.", 0) == 0 && end != std::string::npos ? m.substr(end + 2) : m;
}

} // namespace glm3d
