#pragma once
// A small JSON reader and string escaper for the files the GLM ecosystem uses (safetensors
// headers, Hugging Face config.json): objects, arrays, strings, numbers, true/false/null.
// Numbers keep their text so 64-bit integers (safetensors offsets) survive exactly.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace glm3d::json {

struct Value {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  bool b = false;
  std::string text; // number (as written) or string (unescaped)
  std::vector<Value> items;
  std::map<std::string, Value> fields;

  bool is_object() const { return kind == Kind::object; }
  bool is_number() const { return kind == Kind::number; }
  const Value* find(const std::string& key) const; // nullptr when absent or not an object
  int64_t as_i64() const;                          // throws unless an integer number
  double as_f64() const;                           // throws unless a number
};

// Throws UsageError("<what>: <reason> at offset N") on malformed input.
Value parse(const std::string& text, const std::string& what);

std::string quote(const std::string& s); // "..." with JSON escapes

} // namespace glm3d::json
