#pragma once
// Prompt/answer records for `glm3d prep sft`: JSONL (gzip allowed), one JSON object per line,
// e.g. ADGEN's {"content": "类型#上衣...", "summary": "这件上衣..."} or, with --history-key,
// {"prompt": "q2", "response": "r2", "history": [["q0", "r0"], ["q1", "r1"]]}; with format
// chatglm2 the prompt is always ChatGLM2's build_prompt (rounds from 1, history optional); with
// format chatglm3 a record is a conversation (data/sft_messages.h).
//
// A line is bad when it is not valid UTF-8, not a JSON object, lacks the prompt or response key,
// holds a non-string there (or a history that is not a list of [query, response] string pairs),
// or has an empty (or whitespace-only) prompt or answer. Blank lines are skipped silently (they
// hold no record). Every bad line is reported as "input file F line N: reason".
#include "data/sft_messages.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace glm3d {

// How records become examples (--format): chatglm = ChatGLM-6B's P-tuning (data/sft_example.h);
// chatglm2 = ChatGLM2-6B's P-tuning, chatglm3 = ChatGLM3's conversations (data/sft_causal.h).
enum class SftFormat { chatglm, chatglm2, chatglm3 };
SftFormat parse_sft_format(const std::string& name); // UsageError for another name
const char* sft_format_name(SftFormat f);

struct SftKeys {
  std::string prompt = "content", response = "summary";
  std::string history;       // "" = none; else the chat prompt of data/sft_example.h
  std::string source_prefix; // prepended to every prompt (ptuning's --source_prefix)
  std::string messages;      // chatglm3: the list of messages ("" = "conversations" or "messages")
  SftFormat format = SftFormat::chatglm;
};

struct SftRecord {
  std::string prompt, answer;       // prompt: source_prefix + (query or the chat prompt)
  std::vector<SftMessage> messages; // chatglm3 (prompt and answer unused)
  int32_t file_index = 0;           // position of the file in --input
  int64_t line = 0;                 // 1-based
};

struct SftBadLine {
  std::string message; // "input file F line N: reason"
};

// The record of one line; throws std::invalid_argument with the reason when the line is bad.
SftRecord parse_sft_line(std::string_view line, const SftKeys& keys);

// Every record of one file, in line order; bad lines go to `bad` (and are not records).
// UsageError naming the file when it cannot be read (see read_input_bytes).
void read_sft_file(const std::string& path, int32_t file_index, const SftKeys& keys,
                   std::vector<SftRecord>& out, std::vector<SftBadLine>& bad);

} // namespace glm3d
