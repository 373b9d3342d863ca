#include "model/config_json.h"

#include "core/check.h"

namespace glm3d {

ConfigJson::ConfigJson(const std::string& text, const std::string& file) : file_(file) {
  try {
    j_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    const std::string why = e.what(); // without nlohmann's "[json.exception.parse_error.N] "
    GLM3D_USAGE_FAIL() << file << ": not valid JSON: " << why.substr(why.find("] ") + 2);
  }
  GLM3D_USAGE_CHECK(j_.is_object()) << file << ": not a JSON object";
}

const nlohmann::json* ConfigJson::field(const char* key) const {
  const auto it = j_.find(key);
  return it == j_.end() || it->is_null() ? nullptr : &*it;
}

bool ConfigJson::has(const char* key) const {
  return field(key) != nullptr;
}

void ConfigJson::wrong(const char* key, const char* expected) const {
  GLM3D_USAGE_FAIL() << file_ << ": field '" << key << "' must be " << expected << ", got "
                     << field(key)->dump();
}

int64_t ConfigJson::integer(const char* key) const {
  GLM3D_USAGE_CHECK(has(key)) << file_ << ": missing integer field '" << key << "'";
  return *maybe_integer(key);
}

int64_t ConfigJson::integer(const char* key, int64_t absent) const {
  return maybe_integer(key).value_or(absent);
}

std::optional<int64_t> ConfigJson::maybe_integer(const char* key) const {
  const nlohmann::json* v = field(key);
  if (!v)
    return std::nullopt;
  if (!v->is_number_integer())
    wrong(key, "an integer");
  return v->get<int64_t>();
}

double ConfigJson::number(const char* key, double absent) const {
  const nlohmann::json* v = field(key);
  if (!v)
    return absent;
  if (!v->is_number())
    wrong(key, "a number");
  return v->get<double>();
}

bool ConfigJson::boolean(const char* key, bool absent) const {
  const nlohmann::json* v = field(key);
  if (!v)
    return absent;
  if (!v->is_boolean())
    wrong(key, "true or false");
  return v->get<bool>();
}

std::string ConfigJson::string(const char* key, const std::string& absent) const {
  const nlohmann::json* v = field(key);
  if (!v)
    return absent;
  if (!v->is_string())
    wrong(key, "a string");
  return v->get<std::string>();
}

} // namespace glm3d
