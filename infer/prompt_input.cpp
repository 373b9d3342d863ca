#include "infer/prompt_input.h"

#include "core/check.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace glm3d {

std::vector<int32_t> parse_prompt_ids(const std::string& text) {
  std::vector<int32_t> ids;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    GLM3D_USAGE_CHECK(used > 0 && used == item.size() && v >= 0 && v <= INT32_MAX)
        << "--prompt-ids: '" << item << "' is not a token id (give ids as 5,17,291)";
    ids.push_back(int32_t(v));
  }
  return ids;
}

std::vector<PromptInput> read_prompt_file(const std::string& path) {
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in) << "cannot read prompt file " << path;
  std::vector<PromptInput> out;
  int64_t line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos)
      continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    GLM3D_USAGE_CHECK(j.is_object()) << path << ":" << line_no << ": not a JSON object";
    PromptInput p;
    if (const auto it = j.find("input_ids"); it != j.end()) {
      GLM3D_USAGE_CHECK(it->is_array())
          << path << ":" << line_no << ": input_ids must be an array of token ids";
      for (const nlohmann::json& v : *it) {
        GLM3D_USAGE_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() <= INT32_MAX)
            << path << ":" << line_no << ": input_ids holds " << v.dump() << ", not a token id";
        p.ids.push_back(v.get<int32_t>());
      }
      p.given_as_ids = true;
    } else {
      const auto t = j.find("prompt");
      GLM3D_USAGE_CHECK(t != j.end() && t->is_string())
          << path << ":" << line_no << ": needs \"prompt\": \"text\" or \"input_ids\": [ids]";
      p.text = t->get<std::string>();
    }
    out.push_back(std::move(p));
  }
  GLM3D_USAGE_CHECK(!out.empty()) << "prompt file " << path << " holds no prompts";
  return out;
}

std::vector<int32_t> prompt_ids(const PromptInput& p, const TextTokenizer* tokenizer, int64_t index) {
  if (p.given_as_ids)
    return p.ids;
  GLM3D_USAGE_CHECK(tokenizer) << "prompt " << index << " is text: give --tokenizer (or the prompt as ids)";
  return tokenizer->encode_with_special_tokens(p.text);
}

} // namespace glm3d
