#pragma once
// An integer field of a JSON file as int64_t, or std::nullopt when the value is not an integer
// that int64_t holds (a float, 1e300, 2^64 - 1, a string). nlohmann's get<int64_t>() would
// convert a float by static_cast (undefined beyond the range; UBSan reports it) and wrap an
// unsigned beyond 2^63, so readers of files from users take integers through here (tests/fuzz).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>

namespace glm3d {

inline std::optional<int64_t> json_int64(const nlohmann::json& v) {
  if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX)))
    return std::nullopt;
  return v.get<int64_t>();
}

} // namespace glm3d
