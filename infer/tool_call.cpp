#include "infer/tool_call.h"

#include "data/py_str.h"
#include "infer/py_literal.h"

namespace glm3d {

namespace {

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> parts;
  size_t from = 0;
  for (size_t at = s.find(sep); at != std::string::npos; at = s.find(sep, from)) {
    parts.push_back(s.substr(from, at - from));
    from = at + sep.size();
  }
  parts.push_back(s.substr(from));
  return parts;
}

// "\n".join(content.split("\n")[1:-1])
std::string inner_lines(const std::string& content) {
  const std::vector<std::string> lines = split(content, "\n");
  std::string out;
  for (size_t i = 1; i + 1 < lines.size(); ++i)
    out += (i > 1 ? "\n" : "") + lines[i];
  return out;
}

} // namespace

Chatglm3Response chatglm3_process_response(const std::string& output, bool tools_declared) {
  Chatglm3Response r;
  for (const std::string& part : split(output, "<|assistant|>")) {
    const size_t nl = part.find('\n');
    const std::string metadata = nl == std::string::npos ? "" : part.substr(0, nl);
    std::string content = nl == std::string::npos ? part : part.substr(nl + 1);
    r.call = nullptr;
    if (std::string(py::strip(metadata)).empty()) {
      content = std::string(py::strip(content));
      r.assistant_messages.push_back({"assistant", metadata, content, nullptr});
      const std::string when = "[[训练时间]]", year = "2023年";
      for (size_t at = content.find(when); at != std::string::npos; at = content.find(when, at + year.size()))
        content.replace(at, when.size(), year);
      r.is_call = false;
      r.text = content;
      continue;
    }
    r.assistant_messages.push_back({"assistant", metadata, content, nullptr});
    r.is_call = true;
    r.text.clear();
    if (!tools_declared) {
      r.call = {{"name", std::string(py::strip(metadata))}, {"content", content}};
      continue;
    }
    try {
      r.call = {{"name", std::string(py::strip(metadata))},
                {"parameters", parse_py_literal(inner_lines(content))}};
    } catch (const std::invalid_argument& e) {
      throw ToolCallError("tool call of '" + std::string(py::strip(metadata)) + "': " + e.what());
    }
  }
  return r;
}

std::string chatglm3_reply_text(const std::vector<int32_t>& reply, int32_t assistant,
                                const std::function<std::string(const std::vector<int32_t>&)>& decode) {
  std::string text;
  std::vector<int32_t> part;
  for (int32_t id : reply) {
    if (id != assistant) {
      part.push_back(id);
      continue;
    }
    text += decode(part) + "<|assistant|>";
    part.clear();
  }
  return text + decode(part);
}

std::optional<nlohmann::ordered_json> chatglm3_tool_call(const std::string& output) {
  try {
    const Chatglm3Response r = chatglm3_process_response(output, true);
    return r.is_call ? std::optional<nlohmann::ordered_json>(r.call) : std::nullopt;
  } catch (const ToolCallError& e) {
    const Chatglm3Response r = chatglm3_process_response(output, false);
    nlohmann::ordered_json call = r.call;
    call["error"] = e.what();
    return call;
  }
}

std::vector<int32_t>
chatglm3_input_ids(const std::vector<ChatMessage>& history, const std::string& role, const std::string& query,
                   int32_t gmask, int32_t sop, const std::function<int32_t(const std::string&)>& role_id,
                   const std::function<std::vector<int32_t>(const std::string&)>& encode) {
  std::vector<int32_t> ids = {gmask, sop};
  auto message = [&](const std::string& r, const std::string& metadata, const std::string& content) {
    ids.push_back(role_id(r));
    for (const std::string& text : {metadata + "\n", content}) {
      const std::vector<int32_t> e = encode(text);
      ids.insert(ids.end(), e.begin(), e.end());
    }
  };
  for (const ChatMessage& m : history)
    message(m.role, m.metadata,
            m.tools.is_null() ? m.content : m.content + "\n" + m.tools.dump(4, ' ', false));
  message(role, "", query);
  ids.push_back(role_id("assistant"));
  return ids;
}

} // namespace glm3d
