#pragma once
// glm3d chat on a ChatGLM3 model (launch/cmd_chat.cpp hands over when the checkpoint records
// <|user|>): ChatGLM3's chat() with its message history, and tools the way its
// tools_using_demo/cli_demo_tool.py declares them. With --tools FILE.json, the conversation starts
// with the system message {"role": "system", "content": "Answer the following questions as best
// as you can. You have access to the following tools:", "tools": <FILE.json>}; a reply that calls
// a tool prints as JSON ({"name": ..., "parameters": {...}}: infer/tool_call.h) and the next line
// typed ("结果：") is the tool's result, sent with role observation, as the demo does.
#include "infer/session.h"
#include "launch/generate_options.h"

#include <mpi.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glm3d {

inline constexpr const char* k_chatglm3_tools_prompt =
    "Answer the following questions as best as you can. You have access to the following tools:";

// Rank 0's next line (after printing `label`) for every rank; false at the end of input or "stop".
bool next_chat_line(MPI_Comm world, bool root, std::string& line, const char* label);

// One chat turn's prompt and generation options, or nothing (after rank 0 tells the user to type
// clear) when the conversation's ids plus `extra` tokens the prompt still gets plus a one-token
// reply would pass `limit`; the reply may then take what the limit leaves, at most --max-new-tokens.
struct ChatTurn {
  PreparedPrompt prompt;
  GenerateOptions gen;
};
std::optional<ChatTurn> chat_turn(GenerationSession& s, const GenerateCliOptions& o,
                                  const std::vector<int32_t>& ids, int64_t extra, int64_t limit);

// The tools of --tools FILE.json (any JSON value; UsageError naming the file when it is not JSON).
nlohmann::ordered_json read_tools_file(const std::string& path);

// The chat loop (every rank); tools: null for none. limit: prompt + reply tokens at most.
void chat_chatglm3(MPI_Comm world, GenerationSession& s, const GenerateCliOptions& o, int64_t limit,
                   const nlohmann::ordered_json& tools);

} // namespace glm3d
