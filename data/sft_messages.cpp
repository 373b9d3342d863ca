#include "data/sft_messages.h"

#include "data/py_str.h"

#include <stdexcept>

namespace glm3d {

namespace {

using Json = nlohmann::ordered_json;

const char* const k_roles[] = {"system", "user", "assistant", "observation"};

std::string string_member(const Json& m, const char* name, size_t index, bool required) {
  const auto it = m.find(name);
  if (it == m.end() || (!required && it->is_null()))
    return required
               ? throw std::invalid_argument("message " + std::to_string(index) + " has no '" + name + "'")
               : std::string();
  if (!it->is_string())
    throw std::invalid_argument("message " + std::to_string(index) + "'s '" + name + "' is a " +
                                it->type_name() + ", not a string");
  return it->get<std::string>();
}

SftMessage message_of(const Json& m, size_t i) {
  if (!m.is_object())
    throw std::invalid_argument("message " + std::to_string(i) + " is a " + m.type_name() +
                                ", not an object");
  SftMessage msg;
  msg.role = string_member(m, "role", i, true);
  if (msg.role == "tool")
    throw std::invalid_argument(
        "message " + std::to_string(i) +
        " has role 'tool' (finetune_chatmodel_demo's form), which glm3d does not read: "
        "write the call as an assistant message with \"metadata\": TOOL_NAME and the "
        "result as an observation message");
  bool known = false;
  for (const char* r : k_roles)
    known = known || msg.role == r;
  if (!known)
    throw std::invalid_argument("message " + std::to_string(i) + " has role '" + msg.role +
                                "' (expected system, user, assistant or observation)");
  msg.content = string_member(m, "content", i, true);
  msg.metadata = string_member(m, "metadata", i, false);
  const auto tools = m.find("tools");
  if (tools != m.end()) {
    if (msg.role != "system")
      throw std::invalid_argument("message " + std::to_string(i) + " (" + msg.role +
                                  ") has 'tools'; only a system message may");
    // build_chat_input: content + "\n" + json.dumps(tools, indent=4, ensure_ascii=False)
    msg.content += "\n" + tools->dump(4, ' ', false);
  }
  return msg;
}

} // namespace

std::vector<SftMessage> parse_sft_messages(const nlohmann::ordered_json& record, const std::string& key) {
  std::string k = key;
  if (k.empty())
    k = record.contains("conversations") || !record.contains("messages") ? "conversations" : "messages";
  if (record.contains("tools"))
    throw std::invalid_argument(
        "a record-level 'tools' (finetune_chatmodel_demo's form) is not read: put the "
        "tools in the system message, {\"role\": \"system\", \"content\": ..., "
        "\"tools\": [...]}, as ChatGLM3's build_chat_input does");
  const auto it = record.find(k);
  if (it == record.end())
    throw std::invalid_argument("no field '" + k + "' (the list of messages; --messages-key names it)");
  if (!it->is_array() || it->empty())
    throw std::invalid_argument("field '" + k + "' must be a non-empty list of messages");
  std::vector<SftMessage> out;
  bool answer = false;
  for (size_t i = 0; i < it->size(); ++i) {
    out.push_back(message_of((*it)[i], i));
    if (out.back().role == "assistant") {
      if (py::strip(out.back().content).empty())
        throw std::invalid_argument("message " + std::to_string(i) + " (assistant) is empty");
      answer = true;
    }
  }
  if (!answer)
    throw std::invalid_argument("no assistant message: nothing to learn");
  return out;
}

ConversationIds conversation_ids(const std::vector<SftMessage>& messages, const ChatGlm2Tokenizer& tok) {
  const SpecialTokens& sp = tok.special();
  ConversationIds c;
  c.ids = {sp.gmask, sp.sop};
  c.loss = {0, 0};
  for (const SftMessage& m : messages) {
    const std::vector<int32_t> ids = tok.single_message(m.role, m.metadata, m.content);
    c.ids.insert(c.ids.end(), ids.begin(), ids.end());
    // finetune_hf: loss_mask_val = role not in ('system', 'user') (observations too)
    c.loss.insert(c.loss.end(), ids.size(), m.role == "system" || m.role == "user" ? 0 : 1);
  }
  c.ids.push_back(sp.eos);
  c.loss.push_back(0);
  return c;
}

} // namespace glm3d
