// glm3d chat: an interactive loop in ChatGLM-6B's format (ChatGLM2's for its architecture:
// infer/chat_format.h; ChatGLM3's, with tools, in launch/chat_glm3.h) with its
// defaults (modeling_chatglm.py chat: top-p 0.7, temperature 0.95, max_length 2048; Hugging
// Face's top-k 50; sampling). Rank 0 reads a line from stdin and every rank generates the reply;
// "clear" empties the history, "stop" or the end of input ends the loop.
#include "core/check.h"
#include "infer/chat_format.h"
#include "infer/prompt_runner.h"
#include "infer/session.h"
#include "launch/chat_glm3.h"
#include "launch/generate_options.h"
#include "parallel/agreement.h"

#include <cstdio>
#include <iostream>

namespace glm3d {

namespace {

// The conversation as ids in the model's chat format: ChatGLM-6B's or ChatGLM2's.
std::vector<int32_t> chat_ids(const GenerationSession& s, const ChatHistory& history,
                              const std::string& query) {
  const TextTokenizer& tok = *s.tokenizer();
  if (s.config().mask != MaskKind::causal)
    return tok.encode(chat_prompt(history, query));
  return tok.encode(chatglm2_chat_prompt(history, query));
}

} // namespace

int cmd_chat(const Args& args, const RunContext& ctx) {
  GenerateCliOptions o;
  o.sampling.top_p = 0.7, o.sampling.temperature = 0.95, o.sampling.top_k = 50;
  o.max_new_tokens = 2048; // ChatGLM-6B bounds the reply by max_length only
  int64_t max_length = 2048;
  std::string tools_file;
  po::options_description desc("glm3d chat --load CKPT --tokenizer T: a conversation in ChatGLM-6B's format");
  add_generate_options(desc, o);
  desc.add_options()("max-length", defaulted(&max_length),
                     "prompt and reply together at most this many tokens (and the model's context)") //
      ("tools", po::value<std::string>(&tools_file),
       "ChatGLM3: a JSON file of tool descriptions for the system message; tool calls print as JSON and the "
       "next line is the tool's result");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0;
  check_generate_options(o);
  GLM3D_USAGE_CHECK(!o.session.tokenizer.empty()) << "glm3d chat needs --tokenizer";
  GenerationSession s(o.session, ctx.world);
  const TextTokenizer& tok = *s.tokenizer();
  const int64_t limit = std::min(max_length, s.config().seq_len);
  const bool chatglm3 = s.config().mask == MaskKind::causal && s.special().user >= 0;
  nlohmann::ordered_json tools;
  run_agreed(ctx.world, [&] {
    GLM3D_USAGE_CHECK(tools_file.empty() || chatglm3)
        << "--tools needs a ChatGLM3 model (a causal checkpoint that records <|user|>), not "
        << s.config().name;
    if (!tools_file.empty())
      tools = read_tools_file(tools_file);
  });
  if (s.is_root())
    std::printf("glm3d chat: %s\ntype a message; 'clear' empties the history, 'stop' ends.\n",
                s.describe().c_str());
  if (chatglm3) {
    chat_chatglm3(ctx.world, s, o, limit, tools);
    return 0;
  }
  ChatHistory history;
  uint64_t turn = 0;
  for (std::string query; next_chat_line(ctx.world, s.is_root(), query, "用户：");) {
    if (query == "clear") {
      history.clear();
      continue;
    }
    if (query.empty())
      continue;
    std::vector<int32_t> ids = chat_ids(s, history, query);
    const std::optional<ChatTurn> next = chat_turn(s, o, ids, 2, limit); // + [gMASK] <sop>
    if (!next)
      continue;
    const PreparedPrompt& p = next->prompt;
    const GenerateOptions& g = next->gen;
    std::vector<int32_t> reply;
    TextStream stream(1); // a punctuation mark's form depends on the next character
    GenerateHooks hooks;
    hooks.on_tokens = [&](const std::vector<int32_t>& t) {
      if (std::find(g.stop.begin(), g.stop.end(), t[0]) != g.stop.end())
        return;
      reply.push_back(t[0]);
      if (s.is_root())
        std::fputs(stream.next(process_response(tok.decode(reply))).c_str(), stdout), std::fflush(stdout);
    };
    if (s.is_root())
      std::printf("\nChatGLM：");
    generate_prompts(s.generator(), {p}, turn++, g, s.special(), hooks);
    const std::string response = process_response(tok.decode(reply));
    if (s.is_root())
      std::printf("%s\n", stream.finish(response).c_str());
    history.emplace_back(query, response);
  }
  if (s.is_root())
    std::printf("\n");
  return 0;
}

} // namespace glm3d
