#include "launch/chat_glm3.h"

#include "core/check.h"
#include "infer/prompt_runner.h"
#include "infer/tool_call.h"
#include "parallel/agreement.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace glm3d {

bool next_chat_line(MPI_Comm world, bool root, std::string& line, const char* label) {
  int more = 1;
  if (root) {
    std::printf("\n%s", label);
    std::fflush(stdout);
    more = std::getline(std::cin, line) && line != "stop" ? 1 : 0;
  }
  MPI_Bcast(&more, 1, MPI_INT, 0, world);
  if (more)
    bcast_string(world, line, 0);
  return more != 0;
}

std::optional<ChatTurn> chat_turn(GenerationSession& s, const GenerateCliOptions& o,
                                  const std::vector<int32_t>& ids, int64_t extra, int64_t limit) {
  if (int64_t(ids.size()) + extra + 1 > limit) {
    if (s.is_root())
      std::printf(
          "(the conversation has %zu tokens; with a reply it would pass the limit of %lld: type clear)\n",
          ids.size(), (long long)limit);
    return std::nullopt;
  }
  ChatTurn t{s.prepare(ids, limit, 0), generation_options(o, s)};
  t.gen.max_new_tokens = std::min(o.max_new_tokens, limit - int64_t(t.prompt.ids.size()));
  return t;
}

nlohmann::ordered_json read_tools_file(const std::string& path) {
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in.good()) << "--tools " << path << " cannot be read";
  std::ostringstream os;
  os << in.rdbuf();
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(os.str(), nullptr, false);
  GLM3D_USAGE_CHECK(!j.is_discarded()) << "--tools " << path << " is not JSON (a list of tool descriptions)";
  return j;
}

namespace {

int32_t role_token(const SpecialIds& sp, const std::string& role) {
  const int32_t id = role == "system"        ? sp.system
                     : role == "user"        ? sp.user
                     : role == "assistant"   ? sp.assistant
                     : role == "observation" ? sp.observation
                                             : -1;
  GLM3D_USAGE_CHECK(id >= 0) << "ChatGLM3's chat needs the id of <|" << role
                             << "|> (an imported ChatGLM3 checkpoint records it)";
  return id;
}

} // namespace

void chat_chatglm3(MPI_Comm world, GenerationSession& s, const GenerateCliOptions& o, int64_t limit,
                   const nlohmann::ordered_json& tools) {
  const TextTokenizer& tok = *s.tokenizer();
  const SpecialIds& sp = s.special();
  std::vector<ChatMessage> start;
  if (!tools.is_null())
    start.push_back({"system", "", k_chatglm3_tools_prompt, tools});
  std::vector<ChatMessage> history = start;
  std::string role = "user";
  uint64_t turn = 0;
  for (std::string query; next_chat_line(world, s.is_root(), query, role == "user" ? "用户：" : "结果：");) {
    if (query == "clear") {
      history = start, role = "user";
      continue;
    }
    if (query.empty())
      continue;
    const std::vector<int32_t> ids = chatglm3_input_ids(
        history, role, query, sp.gmask, sp.sop, [&](const std::string& r) { return role_token(sp, r); },
        [&](const std::string& t) { return tok.encode(t); });
    const std::optional<ChatTurn> next = chat_turn(s, o, ids, 0, limit);
    if (!next)
      continue;
    const PreparedPrompt& p = next->prompt;
    const GenerateOptions& g = next->gen;
    std::vector<int32_t> reply;
    GenerateHooks hooks;
    hooks.on_tokens = [&](const std::vector<int32_t>& t) {
      if (std::find(g.stop.begin(), g.stop.end(), t[0]) == g.stop.end())
        reply.push_back(t[0]);
    };
    generate_prompts(s.generator(), {p}, turn++, g, sp, hooks);
    history.push_back({role, "", query, nullptr});
    Chatglm3Response r;
    try {
      const std::string text = chatglm3_reply_text(
          reply, sp.assistant, [&](const std::vector<int32_t>& part) { return tok.decode(part); });
      r = chatglm3_process_response(text, !tools.is_null());
    } catch (const ToolCallError& e) { // the model's output, not the user's input: say so, go on
      if (s.is_root())
        std::printf("\nChatGLM：(%s)\n", e.what());
      history.pop_back(); // the exchange is dropped
      role = "user";
      continue;
    }
    history.insert(history.end(), r.assistant_messages.begin(), r.assistant_messages.end());
    if (s.is_root())
      std::printf("\nChatGLM：%s\n", r.is_call ? r.call.dump(-1, ' ', false).c_str() : r.text.c_str());
    role = r.is_call ? "observation" : "user";
  }
  if (s.is_root())
    std::printf("\n");
}

} // namespace glm3d
