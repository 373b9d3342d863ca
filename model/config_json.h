#pragma once
// Typed fields of a Hugging Face config.json: every refusal is one line naming the file and the
// field ("DIR/config.json: field 'rmsnorm' must be true or false, got \"yes\"").
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace glm3d {

class ConfigJson {
public:
  // UsageError when the text is not JSON or not an object.
  ConfigJson(const std::string& text, const std::string& file);
  const std::string& file() const { return file_; }
  const nlohmann::json& json() const { return j_; }
  bool has(const char* key) const; // present and not null

  int64_t integer(const char* key) const; // required: "missing integer field 'KEY'"
  int64_t integer(const char* key, int64_t absent) const;
  std::optional<int64_t> maybe_integer(const char* key) const;
  double number(const char* key, double absent) const;
  bool boolean(const char* key, bool absent) const;
  std::string string(const char* key, const std::string& absent) const;

private:
  const nlohmann::json* field(const char* key) const; // nullptr when absent or null
  [[noreturn]] void wrong(const char* key, const char* expected) const;
  // The field as T when present (UsageError unless (json.*is)() holds), else nullopt.
  template <class T>
  std::optional<T> typed(const char* key, bool (nlohmann::json::*is)() const noexcept,
                         const char* expected) const {
    const nlohmann::json* v = field(key);
    if (!v)
      return std::nullopt;
    if (!(v->*is)())
      wrong(key, expected);
    return v->get<T>();
  }
  nlohmann::json j_;
  std::string file_;
};

} // namespace glm3d
