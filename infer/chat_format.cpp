#include "infer/chat_format.h"

#include "core/check.h"
#include "data/py_str.h"
#include "data/sft_causal.h"
#include "infer/tool_call.h"

#include <cstdint>

namespace glm3d {

namespace {

// UTF-8 code points (invalid bytes pass through as themselves).
std::vector<uint32_t> decode_utf8(const std::string& s) {
  std::vector<uint32_t> out;
  for (size_t i = 0; i < s.size();) {
    const auto c = uint8_t(s[i]);
    const int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (n == 1 || i + size_t(n) > s.size()) {
      out.push_back(c), ++i;
      continue;
    }
    uint32_t cp = c & (0x7F >> n);
    for (int k = 1; k < n; ++k)
      cp = (cp << 6) | (uint8_t(s[i + size_t(k)]) & 0x3F);
    out.push_back(cp), i += size_t(n);
  }
  return out;
}

std::string encode_utf8(const std::vector<uint32_t>& cps) {
  std::string s;
  for (uint32_t c : cps)
    py::append_utf8(s, c);
  return s;
}

bool is_cjk(uint32_t c) {
  return c >= 0x4E00 && c <= 0x9FFF;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

} // namespace

std::string chat_prompt(const ChatHistory& history, const std::string& query) {
  if (history.empty())
    return query;
  std::string p;
  for (size_t i = 0; i < history.size(); ++i)
    p += "[Round " + std::to_string(i) + "]\n问：" + history[i].first + "\n答：" + history[i].second + "\n";
  return p + "[Round " + std::to_string(history.size()) + "]\n问：" + query + "\n答：";
}

std::string chatglm2_chat_prompt(const ChatHistory& history, const std::string& query) {
  return chatglm2_prompt(history, query); // the one fine-tuning data is made with
}

std::vector<int32_t>
chatglm3_chat_ids(const ChatHistory& history, const std::string& query, const SpecialIds& sp,
                  const std::function<std::vector<int32_t>(const std::string&)>& encode) {
  GLM3D_USAGE_CHECK(sp.gmask >= 0 && sp.sop >= 0 && sp.user >= 0 && sp.assistant >= 0)
      << "ChatGLM3's chat format needs the ids of [gMASK], <sop>, <|user|> and <|assistant|> (an imported "
         "ChatGLM3 checkpoint records them)";
  std::vector<ChatMessage> messages;
  for (const auto& [q, r] : history) {
    messages.push_back({"user", "", q, nullptr});
    messages.push_back({"assistant", "", r, nullptr});
  }
  return chatglm3_input_ids(
      messages, "user", query, sp.gmask, sp.sop,
      [&](const std::string& role) { return role == "user" ? sp.user : sp.assistant; }, encode);
}

std::string process_response(const std::string& text) {
  std::string s(py::strip(text));
  const std::string when = "[[训练时间]]";
  for (size_t at = s.find(when); at != std::string::npos; at = s.find(when, at))
    s.replace(at, when.size(), "2023年"), at += std::string("2023年").size();
  std::vector<uint32_t> c = decode_utf8(s);
  // re.sub(r"([\u4e00-\u9fff])P", r"\1F") then re.sub(r"P([\u4e00-\u9fff])", r"F\1"), per pair.
  const uint32_t pairs[5][2] = {{',', 0xFF0C}, {'!', 0xFF01}, {':', 0xFF1A}, {';', 0xFF1B}, {'?', 0xFF1F}};
  for (const auto& [ascii, full] : pairs) {
    for (size_t i = 0; i + 1 < c.size();)
      if (is_cjk(c[i]) && c[i + 1] == ascii)
        c[i + 1] = full, i += 2;
      else
        ++i;
    for (size_t i = 0; i + 1 < c.size();)
      if (c[i] == ascii && is_cjk(c[i + 1]))
        c[i] = full, i += 2;
      else
        ++i;
  }
  return encode_utf8(c);
}

std::string TextStream::next(const std::string& full) {
  std::vector<uint32_t> c = decode_utf8(full);
  while (!c.empty() && (c.back() == 0xFFFD || (c.back() < 0x80 && is_space(char(c.back())))))
    c.pop_back();
  c.resize(c.size() > size_t(hold_back_) ? c.size() - size_t(hold_back_) : 0);
  const std::string ready = encode_utf8(c);
  if (ready.size() <= printed_.size() || ready.compare(0, printed_.size(), printed_) != 0)
    return "";
  std::string out = ready.substr(printed_.size());
  printed_ = ready;
  return out;
}

std::string TextStream::finish(const std::string& full) {
  if (full.compare(0, printed_.size(), printed_) != 0)
    return "\n" + full; // the text changed under what was printed: the whole of it again
  std::string out = full.substr(printed_.size());
  printed_ = full;
  return out;
}

} // namespace glm3d
