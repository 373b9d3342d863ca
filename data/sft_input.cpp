#include "data/sft_input.h"

#include "core/check.h"
#include "data/py_str.h"
#include "data/sft_causal.h"
#include "data/sft_example.h"
#include "data/text_input.h"

#include <nlohmann/json.hpp>

#include <stdexcept>

namespace glm3d {

namespace {

std::string string_fields(const nlohmann::json& v) {
  std::string have;
  for (const auto& [key, value] : v.items())
    if (value.is_string())
      have += (have.empty() ? "" : ", ") + nlohmann::json(key).dump();
  return have.empty() ? "the object has no string field" : "the object's string fields: " + have;
}

std::string type_phrase(const nlohmann::json& v) {
  return std::string(v.is_array() || v.is_object() ? "an " : "a ") + v.type_name();
}

// The string at `key`; `what` and `option` name it in the reasons.
std::string text_field(const nlohmann::json& v, const std::string& key, const char* what,
                       const char* option) {
  const auto f = v.find(key);
  if (f == v.end())
    throw std::invalid_argument("no field '" + key + "' (" + string_fields(v) + "); name the " + what +
                                "'s field with " + option);
  if (!f->is_string())
    throw std::invalid_argument("field '" + key + "' (the " + what + ") is " + type_phrase(*f) +
                                ", not a string");
  std::string s = f->get<std::string>();
  if (py::strip(s).empty())
    throw std::invalid_argument(std::string("empty ") + what + " (field '" + key + "')");
  return s;
}

std::vector<std::pair<std::string, std::string>> history_field(const nlohmann::json& v,
                                                               const std::string& key) {
  std::vector<std::pair<std::string, std::string>> turns;
  const auto f = v.find(key);
  if (f == v.end())
    throw std::invalid_argument("no field '" + key + "' (the history; --history-key names it)");
  const std::string shape =
      "field '" + key + "' (the history) must be a list of [query, response] string pairs";
  if (f->is_null())
    return turns; // None: no earlier turns
  if (!f->is_array())
    throw std::invalid_argument(shape + ", it is " + type_phrase(*f));
  for (size_t i = 0; i < f->size(); ++i) {
    const auto& t = (*f)[i];
    if (!t.is_array() || t.size() != 2 || !t[0].is_string() || !t[1].is_string())
      throw std::invalid_argument(shape + "; turn " + std::to_string(i) + " is " + t.dump());
    turns.emplace_back(t[0].get<std::string>(), t[1].get<std::string>());
  }
  return turns;
}

} // namespace

SftFormat parse_sft_format(const std::string& name) {
  for (SftFormat f : {SftFormat::chatglm, SftFormat::chatglm2, SftFormat::chatglm3})
    if (name == sft_format_name(f))
      return f;
  GLM3D_USAGE_FAIL() << "--format must be chatglm, chatglm2 or chatglm3, got '" << name << "'";
}

const char* sft_format_name(SftFormat f) {
  return f == SftFormat::chatglm ? "chatglm" : f == SftFormat::chatglm2 ? "chatglm2" : "chatglm3";
}

SftRecord parse_sft_line(std::string_view line, const SftKeys& keys) {
  const size_t bad = find_invalid_utf8(line);
  if (bad != std::string_view::npos)
    throw std::invalid_argument("invalid UTF-8 at byte " + std::to_string(bad) + " of the line");
  const nlohmann::json v = parse_json_object(line);
  SftRecord r;
  if (keys.format == SftFormat::chatglm3) { // key order matters (tools are dumped as written)
    r.messages = parse_sft_messages(nlohmann::ordered_json::parse(line), keys.messages);
    return r;
  }
  const std::string query = text_field(v, keys.prompt, "prompt", "--prompt-key");
  r.answer = text_field(v, keys.response, "answer", "--response-key");
  std::vector<std::pair<std::string, std::string>> history;
  if (!keys.history.empty())
    history = history_field(v, keys.history);
  if (keys.format == SftFormat::chatglm2) // ChatGLM2's main.py: build_prompt(query, history) always
    r.prompt = keys.source_prefix + chatglm2_prompt(history, query);
  else
    r.prompt = keys.source_prefix + (keys.history.empty() ? query : chat_prompt(history, query));
  return r;
}

void read_sft_file(const std::string& path, int32_t file_index, const SftKeys& keys,
                   std::vector<SftRecord>& out, std::vector<SftBadLine>& bad) {
  const std::string bytes = read_input_bytes(path);
  for_each_line(bytes, [&](std::string_view line, size_t number) {
    if (is_blank_line(line))
      return;
    try {
      SftRecord r = parse_sft_line(line, keys);
      r.file_index = file_index;
      r.line = int64_t(number);
      out.push_back(std::move(r));
    } catch (const std::invalid_argument& e) {
      bad.push_back({"input file " + path + " line " + std::to_string(number) + ": " + e.what()});
    }
  });
}

} // namespace glm3d
