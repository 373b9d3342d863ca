// SFT examples, glm3d prep sft and the SFT store, with ids worked out by hand from ChatGLM-6B's
// rules (ptuning/main.py preprocess_function_train; modeling_chatglm.py get_position_ids) and the
// hand-built tokenizer of sp_model_builder.h (piece ids in test_chatglm_tokenizer.cpp).
#include "data/sft_example.h"
#include "data/sft_prep.h"
#include "data/sft_store.h"
#include "data_fixture.h"
#include "sp_model_builder.h"
#include "usage_error.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace glm3d {
namespace {

namespace fs = std::filesystem;
using Ids = std::vector<int32_t>;
constexpr int32_t X = k_ignore_label; // -100
constexpr int32_t G = 130001, SOP = 130004, EOP = 130005, PAD = 3;

const std::string& chatglm_dir() {
  static const std::string d =
      test::write_chatglm_tokenizer(test::temp_dir("sft_tok"), test::chatglm_tokenizer_config());
  return d;
}

SpecialTokens chatglm_special() {
  SpecialTokens s;
  s.mask = 130000, s.gmask = G, s.smask = 130002, s.sop = SOP, s.eop = EOP, s.eos = 2, s.pad = PAD;
  return s;
}

TEST(SftExample, ChatPromptAsPtuningMainBuildsIt) {
  EXPECT_EQ(chat_prompt({}, "q"), "[Round 0]\n问：q\n答：");
  EXPECT_EQ(chat_prompt({{"q0", "r0"}, {"q1", "r1"}}, "q2"),
            "[Round 0]\n问：q0\n答：r0\n[Round 1]\n问：q1\n答：r1\n[Round 2]\n问：q2\n答：");
}

TEST(SftExample, RowAndSampleOfOneExample) {
  // prompt [118, 119] ("ab cd"), answer [118, 4, 117] ("ab\ncd"); max_source 4, max_target 6: S 10.
  const SftRow r = build_sft_row({118, 119}, {118, 4, 117}, chatglm_special(), 4, 6);
  EXPECT_EQ(r.input_ids, (Ids{118, 119, G, SOP, 118, 4, 117, EOP, PAD, PAD}));
  EXPECT_EQ(r.labels, (Ids{X, X, X, SOP, 118, 4, 117, EOP, X, X}));
  EXPECT_EQ(r.position_ids, (Ids{0, 1, 2, 2, 2, 2, 2, 2, 2, 2}));
  EXPECT_EQ(r.block_position_ids, (Ids{0, 0, 0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(r.sep, 3);
  EXPECT_EQ(r.mask_position, 2);
  EXPECT_EQ(r.length, 8);
  EXPECT_FALSE(r.prompt_truncated || r.answer_truncated);
  // The model's shift: position i is trained on labels[i + 1]; [gMASK] predicts <sop>.
  const Sample s = sft_sample(r, PAD, 10);
  EXPECT_EQ(s.tokens, r.input_ids);
  EXPECT_EQ(s.targets, (Ids{PAD, PAD, SOP, 118, 4, 117, EOP, PAD, PAD, PAD}));
  EXPECT_EQ(s.loss_mask, (std::vector<uint8_t>{0, 0, 1, 1, 1, 1, 1, 0, 0, 0}));
  EXPECT_EQ(s.sep, 3);
  EXPECT_EQ(s.kind, 1);
}

TEST(SftExample, TruncationAndALongerSequence) {
  // max_source 2 keeps 1 prompt token, max_target 3 keeps 1 answer token: S 5, no padding.
  const SftRow r = build_sft_row({118, 119, 120}, {114, 115}, chatglm_special(), 2, 3);
  EXPECT_EQ(r.input_ids, (Ids{118, G, SOP, 114, EOP}));
  EXPECT_EQ(r.labels, (Ids{X, X, SOP, 114, EOP}));
  EXPECT_TRUE(r.prompt_truncated && r.answer_truncated);
  // As a sample of 7: padding continues the positions (mask position, block 4, 5), no loss.
  const Sample s = sft_sample(r, PAD, 7);
  EXPECT_EQ(s.tokens, (Ids{118, G, SOP, 114, EOP, PAD, PAD}));
  EXPECT_EQ(s.position_ids, (Ids{0, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(s.block_position_ids, (Ids{0, 0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(s.targets, (Ids{PAD, SOP, 114, EOP, PAD, PAD, PAD}));
  EXPECT_EQ(s.loss_mask, (std::vector<uint8_t>{0, 1, 1, 1, 0, 0, 0}));
  // An empty answer after truncation (max_target 2) still trains [gMASK] -> <sop> -> <eop>.
  EXPECT_EQ(build_sft_row({118}, {114}, chatglm_special(), 3, 2).labels, (Ids{X, X, SOP, EOP, X}));
  EXPECT_THROW(build_sft_row({1}, {1}, chatglm_special(), 0, 4), UsageError);
  EXPECT_THROW(build_sft_row({1}, {1}, chatglm_special(), 4, 1), UsageError);
}

SftPrepOptions options(const std::vector<std::string>& inputs, const std::string& out) {
  SftPrepOptions o;
  o.inputs = inputs;
  o.out_dir = out;
  o.tokenizer_path = chatglm_dir();
  return o;
}

TEST(PrepSft, TwoExamplesWithHistoryAndTruncation) {
  const std::string d = test::temp_dir("prep_sft");
  test::write_bytes(d + "/a.jsonl", "{\"q\": \"ab cd\", \"a\": \"ab\\ncd\", \"h\": []}\n\n"
                                    "{\"q\": \"你好\", \"a\": \"a  b\", \"h\": [[\"ab\", \"cd\"]]}\n");
  SftPrepOptions o = options({d + "/a.jsonl"}, d + "/store");
  o.keys.prompt = "q", o.keys.response = "a", o.keys.history = "h";
  o.max_source_len = 16;
  o.max_target_len = 6;
  const SftPrepResult res = run_prep_sft(o, MPI_COMM_WORLD);
  EXPECT_EQ(res.train, 2);
  EXPECT_EQ(res.valid, 0);
  EXPECT_EQ(res.prompts_truncated, 1);
  EXPECT_EQ(res.tokenizer_kind, "chatglm");

  const SftStore store = SftStore::open(d + "/store");
  EXPECT_EQ(store.tokenizer().kind(), "chatglm"); // reloaded from the store's own copies
  EXPECT_TRUE(fs::exists(d + "/store/ice_text.model") && fs::exists(d + "/store/tokenizer_config.json"));
  EXPECT_EQ(store.tokenizer().sha256(), load_text_tokenizer(chatglm_dir())->sha256());
  EXPECT_EQ(store.manifest().seq_len, 22);
  EXPECT_EQ(store.manifest().vocab_size, 130528);
  // "[Round 0]\n问：ab cd\n答：" -> ▁[ Round ▁ 0 ] <n> 问 ： ab ▁cd <n> 答 ：
  const Ids p0 = {124, 125, 85, 101, 105, 4, 110, 109, 116, 119, 4, 111, 109};
  const SftRow r0 = store.read("train", 0);
  Ids in0 = p0;
  for (int32_t t : {G, SOP, 118, 4, 117, EOP})
    in0.push_back(t);
  in0.resize(22, PAD);
  EXPECT_EQ(r0.input_ids, in0);
  EXPECT_EQ(r0.sep, 14);
  EXPECT_EQ(r0.mask_position, 13);
  EXPECT_EQ(r0.length, 19);
  EXPECT_EQ(r0.labels, (Ids{X, X, X, X, X, X, X, X, X, X, X, X, X, X, SOP, 118, 4, 117, EOP, X, X, X}));
  EXPECT_EQ(r0.source_line, 1);
  // "[Round 0]\n问：ab\n答：cd\n[Round 1]\n问：你好\n答：": 27 tokens, cut to max_source - 1 = 15:
  // ▁[ Round ▁ 0 ] <n> 问 ： ab <n> 答 ： cd <n> [ | Round ▁ 1 ] <n> 问 ： 你 好 <n> 答 ：
  const SftRow r1 = store.read("train", 1);
  Ids in1 = {124, 125, 85, 101, 105, 4, 110, 109, 116, 4, 111, 109, 117, 4, 104, G, SOP, 114, 6, 87, EOP};
  in1.resize(22, PAD);
  EXPECT_EQ(r1.input_ids, in1);
  EXPECT_EQ(r1.sep, 16);
  EXPECT_EQ(r1.mask_position, 15);
  Ids pos1(22, 15), block1(22, 0);
  for (int i = 0; i < 16; ++i)
    pos1[size_t(i)] = i;
  for (int i = 16; i < 22; ++i)
    block1[size_t(i)] = i - 15;
  EXPECT_EQ(r1.position_ids, pos1);
  EXPECT_EQ(r1.block_position_ids, block1);
  EXPECT_EQ(r1.source_line, 3); // the blank line 2 holds no record
  EXPECT_EQ(verify_sft_store(d + "/store").examples, 2);
}

} // namespace
} // namespace glm3d
