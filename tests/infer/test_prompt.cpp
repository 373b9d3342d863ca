// Prompts (infer/prompt.h): ChatGLM-6B's [gMASK] <sop>, given <sop>, blank infilling, the mask a
// Part B refers to, special ids from a checkpoint and a tokenizer, and bad prompts.
#include "infer/prompt.h"
#include "infer_fixture.h"

#include "usage_error.h"

#include <gtest/gtest.h>

namespace glm3d::test {
namespace {

const SpecialIds sp = small_special(); // [MASK] 90 [gMASK] 91 [sMASK] 92 <sop> 93 <eop> 94

PreparedPrompt prep(std::vector<int32_t> ids, int64_t seq_len = 40) {
  return prepare_prompt(std::move(ids), sp, 97, seq_len, 3);
}

TEST(Prompt, PlainPromptsGetGmaskAndSop) {
  const PreparedPrompt p = prep({1, 2, 3});
  EXPECT_FALSE(p.infill);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{1, 2, 3, 91, 93}));
  const GlmSequence s = glm_sequence(p.ids, sp);
  EXPECT_EQ(s.context, 4);
  EXPECT_EQ(s.mask_index, 3);
}

TEST(Prompt, GmaskGetsSopAndGivenSopIsKept) {
  EXPECT_EQ(prep({91, 1, 2}).ids, (std::vector<int32_t>{91, 1, 2, 93}));
  // A given Part B (a continuation): Part A ends at the first <sop>; [gMASK] wins over [MASK].
  const PreparedPrompt p = prep({1, 90, 2, 91, 93, 7, 8});
  EXPECT_EQ(p.ids, (std::vector<int32_t>{1, 90, 2, 91, 93, 7, 8}));
  const GlmSequence s = glm_sequence(p.ids, sp);
  EXPECT_EQ(s.context, 4);
  EXPECT_EQ(s.mask_index, 3);
  EXPECT_EQ(sequence_position(s, 6), (GlmPosition{3, 3}));
  // [MASK] before <sop> without [gMASK]: the first [MASK] (ChatGLM: gMASK if in seq else MASK).
  EXPECT_EQ(glm_sequence({1, 90, 2, 90, 93}, sp).mask_index, 1);
}

TEST(Prompt, MasksWithoutGmaskAreBlanks) {
  const PreparedPrompt p = prep({1, 90, 2, 92, 3});
  EXPECT_TRUE(p.infill);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{1, 90, 2, 92, 3}));
  EXPECT_EQ(next_blank(p.ids, sp), 1);
  EXPECT_EQ(next_blank({1, 92, 2, 90}, sp), 1);
  EXPECT_EQ(next_blank({1, 2}, sp), -1);
  EXPECT_FALSE(prep({1, 90, 91}).infill); // with [gMASK]: one Part B at the gMASK
}

TEST(Prompt, BadPromptsAreUsageErrors) {
  EXPECT_EQ(usage_error_of([] { prep({}); }), "prompt 3 is empty");
  EXPECT_NE(usage_error_of([] {
              prep({1, 97});
            }).find("token id 97 is outside the model's vocabulary of 97"),
            std::string::npos);
  EXPECT_NE(usage_error_of([] {
              prep({1, 93, 2});
            }).find("has no [gMASK], [MASK] or [sMASK] before it"),
            std::string::npos);
  // 8 tokens + [gMASK] <sop> = 10: a context of 10 leaves no room, 11 does.
  const std::vector<int32_t> eight(8, 5);
  EXPECT_EQ(
      usage_error_of([&] { prep(eight, 10); }),
      "prompt 3 has 10 tokens (with the special tokens added); the model's context is 10 tokens (seq_len), "
      "which leaves no room to generate");
  EXPECT_EQ(prep(eight, 11).ids.size(), 10u);
  SpecialIds none;
  EXPECT_NE(usage_error_of([&] {
              prepare_prompt({1, 2}, none, 97, 40, 0);
            }).find("give --tokenizer"),
            std::string::npos);
}

// ChatGLM's config.json names (bos = <sop>, eos = <eop>) and the tokenizer's ids; a checkpoint
// and a tokenizer that disagree are refused.
TEST(Prompt, SpecialIdsFromCheckpointAndTokenizer) {
  const std::map<std::string, int64_t> chatglm = {
      {"bos", 130004}, {"eos", 130005}, {"mask", 130000}, {"gmask", 130001}, {"pad", 3}};
  const SpecialIds a = resolve_special_ids(chatglm, nullptr, "c.h5");
  EXPECT_EQ(a.sop, 130004);
  EXPECT_EQ(a.eop, 130005);
  EXPECT_EQ(a.gmask, 130001);
  EXPECT_EQ(a.mask, 130000);
  EXPECT_EQ(a.smask, -1);
  SpecialTokens tok;
  tok.mask = 3, tok.gmask = 4, tok.smask = 5, tok.sop = 6, tok.eop = 7, tok.eos = 2, tok.pad = 0;
  const SpecialIds b = resolve_special_ids({}, &tok, "g.h5");
  EXPECT_EQ(b.sop, 6);
  EXPECT_EQ(b.eop, 7);
  EXPECT_EQ(b.eos, 2);
  EXPECT_EQ(b.smask, 5);
  EXPECT_EQ(usage_error_of([&] { resolve_special_ids(chatglm, &tok, "c.h5"); }),
            "checkpoint c.h5 gives [MASK] the id 130000, the tokenizer 3: they do not belong together");
}

} // namespace
} // namespace glm3d::test
