#include "model/config_json.h"

#include "core/check.h"
#include "core/json_error.h"
#include "core/json_int.h"

#include <cstdint>

namespace glm3d {

ConfigJson::ConfigJson(const std::string& text, const std::string& file) : file_(file) {
  try {
    j_ = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) { // out_of_range too: a number beyond a double
    GLM3D_USAGE_FAIL() << file << ": not valid JSON: " << json_error_text(e);
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
  if (v && v->is_number_unsigned() && !json_int64(*v))
    wrong(key, "an integer below 2^63");
  return typed<int64_t>(key, &nlohmann::json::is_number_integer, "an integer");
}

double ConfigJson::number(const char* key, double absent) const {
  return typed<double>(key, &nlohmann::json::is_number, "a number").value_or(absent);
}

bool ConfigJson::boolean(const char* key, bool absent) const {
  return typed<bool>(key, &nlohmann::json::is_boolean, "true or false").value_or(absent);
}

std::string ConfigJson::string(const char* key, const std::string& absent) const {
  return typed<std::string>(key, &nlohmann::json::is_string, "a string").value_or(absent);
}

} // namespace glm3d
