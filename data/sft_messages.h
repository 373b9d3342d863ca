#pragma once
// Conversations for ChatGLM3's fine-tuning (THUDM/ChatGLM3 finetune_demo/finetune_hf.py
// process_batch at c1d4117): one JSON object per line holding a list of messages,
//
//   {"conversations": [{"role": "system", "content": "...", "tools": [...]},
//                      {"role": "user", "content": "..."},
//                      {"role": "assistant", "content": "..."},
//                      {"role": "assistant", "metadata": "get_weather", "content": "```python\n..."},
//                      {"role": "observation", "content": "..."}, ...]}
//
// (key "conversations", or "messages" when that is absent; --messages-key names another).
// Roles: system, user, assistant, observation. Beyond finetune_hf (which takes role and content
// only) glm3d reads, as ChatGLM3's build_chat_input does at inference: "metadata" (a string, the
// tool name of an assistant's tool call: build_single_message's metadata) and a system message's
// "tools" (appended to its content as "\n" + json.dumps(tools, indent=4, ensure_ascii=False),
// keys in file order). finetune_chatmodel_demo's role "tool" and a record-level "tools" are
// refused (write the call as an assistant message with metadata and the result as an
// observation). A conversation without an assistant message, or with an empty one, is a bad line.
#include "data/chatglm2_tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace glm3d {

struct SftMessage {
  std::string role, metadata, content; // content: with the tools of a system message appended
};

// The messages of a parsed line; `key` "" = "conversations", else "messages". Throws
// std::invalid_argument with the reason when the record is malformed.
std::vector<SftMessage> parse_sft_messages(const nlohmann::ordered_json& record, const std::string& key);

// process_batch's tokens and loss flags before the shift: [gMASK] sop (no loss), each message's
// build_single_message (loss on every message but system and user ones: finetune_hf's
// loss_mask_val, which includes observations), eos (no loss).
struct ConversationIds {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss; // [ids.size()]
};
ConversationIds conversation_ids(const std::vector<SftMessage>& messages, const ChatGlm2Tokenizer& tok);

} // namespace glm3d
