// Prompt/answer JSONL of `glm3d prep sft` (data/sft_input.h): read_sft_file as prep sft calls it
// (gzip by its magic bytes, UTF-8 check, nlohmann/json per line), with ADGEN's keys and again with
// a chat history key (lists of [query, response] pairs), and as ChatGLM3 conversations
// (data/sft_messages.h: roles, metadata, a system message's tools dumped). Bad lines are
// collected, not thrown.
#include "data/sft_input.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("sft.jsonl", fuzz::bytes_of(data, size));
  for (const char* history : {"", "history"}) {
    SftKeys keys;
    keys.history = history;
    keys.source_prefix = "Q: ";
    fuzz::expect_usage_error_only([&] {
      std::vector<SftRecord> out;
      std::vector<SftBadLine> bad;
      read_sft_file(path, 0, keys, out, bad);
    });
  }
  SftKeys conversations;
  conversations.format = SftFormat::chatglm3;
  fuzz::expect_usage_error_only([&] {
    std::vector<SftRecord> out;
    std::vector<SftBadLine> bad;
    read_sft_file(path, 0, conversations, out, bad);
  });
  return 0;
}
