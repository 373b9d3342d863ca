#pragma once
// ChatGLM-6B's chat format (modeling_chatglm.py chat / stream_chat, greensheng/chatglm-6b at
// 8b7d335) and printing text while it is generated.
//   prompt: the query alone in the first round; later rounds
//     "[Round 0]\n问：q0\n答：r0\n[Round 1]\n问：q1\n答：r1\n...[Round n]\n问：q\n答："
//   then the tokenizer's [gMASK] <sop>, and generation up to <eop>.
//   process_response: strip; "[[训练时间]]" -> "2023年"; the ASCII , ! : ; ? next to a CJK
//     character (U+4E00..U+9FFF) become their full-width forms.
#include "infer/prompt.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace glm3d {

using ChatHistory = std::vector<std::pair<std::string, std::string>>; // (query, response)

std::string chat_prompt(const ChatHistory& history, const std::string& query);
// ChatGLM2's prompt (tokenization_chatglm.py build_prompt, THUDM/chatglm2-6b): rounds from 1,
//   "[Round 1]\n\n问：q1\n\n答：r1\n\n...[Round n]\n\n问：q\n\n答："
// encoded as text, then [gMASK] <sop> in front (prepare_causal_prompt).
std::string chatglm2_chat_prompt(const ChatHistory& history, const std::string& query);
// ChatGLM3's build_chat_input (THUDM/chatglm3-6b tokenization_chatglm.py): [gMASK] <sop>, per
// round <|user|> enc("\n") enc(q) <|assistant|> enc("\n") enc(r), then <|user|> enc("\n")
// enc(query) <|assistant|>; enc encodes text without special tokens (metadata "").
std::vector<int32_t> chatglm3_chat_ids(const ChatHistory& history, const std::string& query,
                                       const SpecialIds& sp,
                                       const std::function<std::vector<int32_t>(const std::string&)>& encode);

// ChatGLM's process_response. strip() removes ASCII whitespace only (Python's also strips
// other Unicode spaces).
std::string process_response(const std::string& text);

// Prints a growing text in pieces: next(full) returns what can be printed now (the new part of
// full when full extends what was printed, holding back `hold_back` trailing code points, an
// unfinished UTF-8 character shown as U+FFFD, and trailing whitespace); finish(full) the rest.
class TextStream {
public:
  explicit TextStream(int hold_back = 0) : hold_back_(hold_back) {}
  std::string next(const std::string& full);
  std::string finish(const std::string& full);

private:
  int hold_back_;
  std::string printed_;
};

} // namespace glm3d
