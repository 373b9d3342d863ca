#pragma once
// ChatGLM3's process_response (THUDM/chatglm3-6b modeling_chatglm.py, the revision that reads a
// part without "\n" as content) and the message history of its chat():
//
//   the reply (decoded with <|assistant|> written out) is split on "<|assistant|>"; each part is
//   "metadata\ncontent" (no "\n": metadata "") and goes to the history as an assistant message
//   {metadata, content}. The last part makes the response:
//     metadata blank           -> text: content.strip() with "[[训练时间]]" -> "2023年"
//     metadata, tools declared -> {"name": metadata.strip(), "parameters": eval(code)} where code
//                                 is content without its first and last line (the ```python
//                                 fence) and tool_call(**kwargs) returns kwargs
//     metadata, no tools       -> {"name": metadata.strip(), "content": content}
// glm3d reads the code with parse_py_literal (infer/py_literal.h) instead of eval(): a call it
// cannot read is a ToolCallError naming why, never Python run.
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace glm3d {

// A message of a ChatGLM3 conversation (build_chat_input's history items).
struct ChatMessage {
  std::string role, metadata, content;
  nlohmann::ordered_json tools; // a system message's tools (null: none)
};

struct Chatglm3Response {
  bool is_call = false;
  std::string text;                            // !is_call: the text shown
  nlohmann::ordered_json call;                 // is_call: {"name", "parameters"} or {"name", "content"}
  std::vector<ChatMessage> assistant_messages; // what the reply adds to the history
};

struct ToolCallError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// output: the reply's text with <|assistant|> written where the model produced that token.
Chatglm3Response chatglm3_process_response(const std::string& output, bool tools_declared);

// The reply's text with <|assistant|> written where the model produced it (ChatGLM3's decode
// writes special tokens by name): each run between them decoded with `decode`.
std::string chatglm3_reply_text(const std::vector<int32_t>& reply, int32_t assistant,
                                const std::function<std::string(const std::vector<int32_t>&)>& decode);

// glm3d generate's view of a ChatGLM3 reply, which cannot see whether the prompt declared tools:
// nullopt when the response is text; else the call read as with tools declared, and when its
// code cannot be read {"name", "content", "error": why}.
std::optional<nlohmann::ordered_json> chatglm3_tool_call(const std::string& output);

// build_chat_input(query, history, role): [gMASK] sop, each history message as
// build_single_message(role, metadata, content [+ "\n" + json.dumps(tools, indent=4,
// ensure_ascii=False)]), the query as build_single_message(role, "", query), then <|assistant|>.
// role_id maps a role to its token; encode encodes text without special tokens.
std::vector<int32_t>
chatglm3_input_ids(const std::vector<ChatMessage>& history, const std::string& role, const std::string& query,
                   int32_t gmask, int32_t sop, const std::function<int32_t(const std::string&)>& role_id,
                   const std::function<std::vector<int32_t>(const std::string&)>& encode);

} // namespace glm3d
