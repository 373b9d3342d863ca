// ChatGLM2/3 prompts (infer/prompt.h, infer/chat_format.h): the special ids an imported ChatGLM2/3
// checkpoint records, [gMASK] <sop> at the start, the stop tokens, ChatGLM2's chat text and
// ChatGLM3's build_chat_input ids, against hand-written sequences.
#include "infer/chat_format.h"
#include "infer/prompt.h"

#include "usage_error.h"

#include <gtest/gtest.h>

namespace glm3d::test {
namespace {

// What model/chatglm2_convert.cpp records for ChatGLM3-6B: config.json's eos 2, pad 0, bos 1,
// and the tokenizer's specials from piece 64789.
const std::map<std::string, int64_t> k_chatglm3 = {
    {"eos", 2},        {"pad", 0},       {"bos", 1},           {"mask", 64789},
    {"gmask", 64790},  {"smask", 64791}, {"sop", 64792},       {"eop", 64793},
    {"system", 64794}, {"user", 64795},  {"assistant", 64796}, {"observation", 64797}};

std::map<std::string, int64_t> chatglm2() {
  std::map<std::string, int64_t> m = k_chatglm3;
  for (const char* role : {"system", "user", "assistant", "observation"})
    m.erase(role);
  return m;
}

TEST(PromptGlm2, SpecialIdsOfAChatGlm3Checkpoint) {
  const SpecialIds sp = resolve_special_ids(k_chatglm3, nullptr, "c3.h5");
  EXPECT_EQ(sp.gmask, 64790);
  EXPECT_EQ(sp.sop, 64792); // "sop" wins over config.json's bos 1
  EXPECT_EQ(sp.eop, 64793);
  EXPECT_EQ(sp.eos, 2); // recorded apart from eop: the end of text
  EXPECT_EQ(sp.system, 64794);
  EXPECT_EQ(sp.user, 64795);
  EXPECT_EQ(sp.assistant, 64796);
  EXPECT_EQ(sp.observation, 64797);
  // Stops: ChatGLM3 eos, <|user|>, <|observation|>; ChatGLM2 eos only; ChatGLM-6B <eop> (and eos).
  EXPECT_EQ(generation_stop_ids(sp, true), (std::vector<int32_t>{2, 64795, 64797}));
  const SpecialIds sp2 = resolve_special_ids(chatglm2(), nullptr, "c2.h5");
  EXPECT_EQ(sp2.user, -1);
  EXPECT_EQ(generation_stop_ids(sp2, true), (std::vector<int32_t>{2}));
  const SpecialIds six =
      resolve_special_ids({{"bos", 130004}, {"eos", 130005}, {"gmask", 130001}}, nullptr, "c.h5");
  EXPECT_EQ(six.eos, -1); // ChatGLM-6B's eos is <eop>
  EXPECT_EQ(generation_stop_ids(six, false), (std::vector<int32_t>{130005}));
}

TEST(PromptGlm2, GmaskAndSopAtTheStart) {
  const SpecialIds sp = resolve_special_ids(chatglm2(), nullptr, "c2.h5");
  const PreparedPrompt p = prepare_causal_prompt({5, 6, 7}, sp, 65024, 32, 0);
  EXPECT_FALSE(p.infill);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{64790, 64792, 5, 6, 7}));
  // Already there: kept as given; [MASK] is not a blank here.
  EXPECT_EQ(prepare_causal_prompt({64790, 64792, 5, 64789}, sp, 65024, 32, 0).ids,
            (std::vector<int32_t>{64790, 64792, 5, 64789}));
  EXPECT_EQ(
      usage_error_of([&] {
        prepare_causal_prompt({5, 6, 7}, sp, 65024, 5, 4);
      }),
      "prompt 4 has 5 tokens (with the special tokens added); the model's context is 5 tokens (seq_len), "
      "which leaves no room to generate");
  EXPECT_EQ(
      usage_error_of([&] { prepare_causal_prompt({5}, SpecialIds{}, 65024, 32, 1); }),
      "prompt 1: the ids of <sop> are unknown: give --tokenizer, or a checkpoint with special tokens (an "
      "imported config.json)");
}

TEST(PromptGlm2, ChatGlm2ChatPrompt) {
  EXPECT_EQ(chatglm2_chat_prompt({}, "你好"), "[Round 1]\n\n问：你好\n\n答：");
  EXPECT_EQ(chatglm2_chat_prompt({{"a", "b"}, {"c", "d"}}, "e"),
            "[Round 1]\n\n问：a\n\n答：b\n\n[Round 2]\n\n问：c\n\n答：d\n\n[Round 3]\n\n问：e\n\n答：");
}

// build_chat_input with an encoder that maps each byte to its value.
TEST(PromptGlm2, ChatGlm3BuildChatInput) {
  const SpecialIds sp = resolve_special_ids(k_chatglm3, nullptr, "c3.h5");
  auto bytes = [](const std::string& s) { return std::vector<int32_t>(s.begin(), s.end()); };
  EXPECT_EQ(chatglm3_chat_ids({}, "ok", sp, bytes),
            (std::vector<int32_t>{64790, 64792, 64795, 10, 111, 107, 64796}));
  EXPECT_EQ(chatglm3_chat_ids({{"hi", "yo"}}, "ok", sp, bytes),
            (std::vector<int32_t>{64790, 64792, 64795, 10, 104, 105, 64796, 10, 121, 111, 64795, 10, 111, 107,
                                  64796}));
  EXPECT_EQ(usage_error_of([&] { chatglm3_chat_ids({}, "ok", SpecialIds{}, bytes); }),
            "ChatGLM3's chat format needs the ids of [gMASK], <sop>, <|user|> and <|assistant|> (an imported "
            "ChatGLM3 checkpoint records them)");
}

} // namespace
} // namespace glm3d::test
