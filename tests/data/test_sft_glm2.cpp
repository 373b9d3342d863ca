// ChatGLM2/3's tokenizer (data/chatglm2_tokenizer.h) and their fine-tuning examples
// (data/sft_causal.h, data/sft_messages.h), with ids worked out by hand from the reference rules
// (ChatGLM2-6B ptuning/main.py, ChatGLM3 finetune_hf.py process_batch, tokenization_chatglm.py
// build_prompt / build_single_message) on the hand-built model of sp_model_builder.h, where every
// text piece scores -1 (fewest pieces win). Piece ids (chatglm2_text_pieces from 3):
//   0 <unk>  1 <s>  2 </s>  3 ▁  4 a  5 b  6 c  7 \n  8 [  9 ]  10 Round  11 ▁[  12 1  13 2
//   14 问  15 答  16 ：  17 ▁a  18 ab  19 cd  20 ▁ab  21 <  22 |  23 u  24 s  25 e  26 r  27 >
//   28 ▁x  29 ▁c  30 ▁cd        (31 pieces: [MASK] 31 [gMASK] 32 [sMASK] 33 sop 34 eop 35
//   <|system|> 36 <|user|> 37 <|assistant|> 38 <|observation|> 39; eos 2, pad = unk 0)
#include "core/check.h"
#include "data/chatglm2_tokenizer.h"
#include "data/sft_causal.h"
#include "data/sft_input.h"
#include "data/sft_prep.h"
#include "data/sft_source.h"
#include "data/sft_store.h"
#include "data_fixture.h"
#include "sp_model_builder.h"
#include "usage_error.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace glm3d {
namespace {

using Ids = std::vector<int32_t>;
constexpr int32_t X = k_ignore_label;
constexpr int32_t G = 32, SOP = 34, EOS = 2, PAD = 0, SYS = 36, USER = 37, ASST = 38, OBS = 39;

const std::string& glm3_dir() {
  static const std::string d = test::write_chatglm2_tokenizer(
      test::temp_dir("glm3_tok"), test::chatglm2_tokenizer_config("THUDM/chatglm3-6b"));
  return d;
}

const ChatGlm2Tokenizer& glm3() {
  static const std::unique_ptr<ChatGlm2Tokenizer> t = ChatGlm2Tokenizer::load(glm3_dir(), "chatglm3");
  return *t;
}

TEST(ChatGlm2Tokenizer, SpecialIdsFollowThePieces) {
  // 64789 pieces, as the release: [gMASK] 64790, sop 64792, eop 64793, roles 64794..64797.
  const std::string d = test::write_chatglm2_tokenizer(
      test::temp_dir("glm3_full"), test::chatglm2_tokenizer_config("THUDM/chatglm3-6b"), 64789);
  const auto t3 = ChatGlm2Tokenizer::load(d, "chatglm3");
  const SpecialTokens& s = t3->special();
  EXPECT_EQ(s.mask, 64789);
  EXPECT_EQ(s.gmask, 64790);
  EXPECT_EQ(s.smask, 64791);
  EXPECT_EQ(s.sop, 64792);
  EXPECT_EQ(s.eop, 64793);
  EXPECT_EQ(s.eos, 2);
  EXPECT_EQ(s.pad, 0);
  EXPECT_EQ(t3->role_id("system"), 64794);
  EXPECT_EQ(t3->role_id("user"), 64795);
  EXPECT_EQ(t3->role_id("assistant"), 64796);
  EXPECT_EQ(t3->role_id("observation"), 64797);
  EXPECT_EQ(t3->vocab_size(), 64798);
  const auto t2 = ChatGlm2Tokenizer::load(d, "chatglm2");
  EXPECT_EQ(t2->vocab_size(), 64794);
  EXPECT_EQ(t2->special().gmask, 64790);
  EXPECT_EQ(test::usage_error_of([&] { t2->role_id("user"); }),
            "role tokens (<|user|>) exist in ChatGLM3's tokenizer only, not chatglm2's");
  EXPECT_NE(t2->sha256(), t3->sha256()); // the kind is part of the identity
}

TEST(ChatGlm2Tokenizer, EncodesTextThroughSentencePieceOnly) {
  EXPECT_EQ(glm3().encode("ab"), (Ids{20}));
  EXPECT_EQ(glm3().encode("\n"), (Ids{3, 7})); // the dummy prefix ▁, then \n
  EXPECT_EQ(glm3().encode("ab cd"), (Ids{20, 30}));
  EXPECT_EQ(glm3().encode("b"), (Ids{3, 5}));
  EXPECT_EQ(glm3().encode("az"), (Ids{17, 0})); // z: no piece, <unk> (0)
  // A role token or [gMASK] written in text is text (encode_special_tokens is off).
  EXPECT_EQ(glm3().encode("<|user|>"), (Ids{3, 21, 22, 23, 24, 25, 26, 22, 27}));
  EXPECT_EQ(glm3().single_message("assistant", "x", "cd"), (Ids{ASST, 28, 7, 30}));
  EXPECT_EQ(glm3().single_message("user", "", "a"), (Ids{USER, 3, 7, 17}));
  // A prompt typed for generation: the names become ids, the text between them is encoded.
  EXPECT_EQ(glm3().encode_with_special_tokens("[gMASK]<sop><|user|>\nab"), (Ids{G, SOP, USER, 3, 7, 18}));
  EXPECT_EQ(glm3().encode_with_special_tokens("a sop"), glm3().encode("a sop")); // the bare word stays text
  // SPTokenizer.decode: names for special ids, SentencePiece for the runs between them.
  EXPECT_EQ(glm3().decode({G, SOP, USER, 3, 7, 20}), "[gMASK]sop<|user|>\n ab");
  EXPECT_EQ(glm3().special_name(OBS), "<|observation|>");
}

TEST(ChatGlm2Tokenizer, TellsTheKindOfADirectory) {
  const std::string base = test::temp_dir("glm_kinds");
  const std::string plain =
      test::write_chatglm2_tokenizer(base + "/plain", test::chatglm2_tokenizer_config(""));
  EXPECT_EQ(kind_of_chatglm2_dir(plain), "");
  EXPECT_NE(test::usage_error_of([&] {
              load_text_tokenizer(plain);
            }).find("give --tokenizer-kind chatglm2 or chatglm3"),
            std::string::npos);
  EXPECT_EQ(load_text_tokenizer(plain, "chatglm2")->kind(), "chatglm2");
  EXPECT_EQ(load_text_tokenizer(plain + "/tokenizer.model", "chatglm3")->kind(), "chatglm3");
  EXPECT_EQ(load_text_tokenizer(glm3_dir())->kind(), "chatglm3"); // name_or_path THUDM/chatglm3-6b
  EXPECT_EQ(test::usage_error_of([&] { load_text_tokenizer(glm3_dir(), "chatglm"); }),
            "tokenizer " + glm3_dir() + " is a chatglm3 tokenizer, not chatglm (--tokenizer-kind)");
  test::write_bytes(plain + "/config.json", "{\"_name_or_path\": \"THUDM/chatglm2-6b\"}");
  EXPECT_EQ(kind_of_chatglm2_dir(plain), "chatglm2");
  // tokenization_chatglm.py decides first: ChatGLM3's names <|observation|>.
  test::write_bytes(
      plain + "/tokenization_chatglm.py",
      "role_special_tokens = [\"<|system|>\", \"<|user|>\", \"<|assistant|>\", \"<|observation|>\"]\n");
  EXPECT_EQ(kind_of_chatglm2_dir(plain), "chatglm3");
  // A glm3d store directory (tokenizer.model alone) stays glm3d's.
  EXPECT_EQ(load_text_tokenizer(test::tokenizer_path())->kind(), "sentencepiece");
}

TEST(SftCausal, Chatglm2RowWithHistory) {
  // build_prompt("ab", [("a", "b")]): "[Round 1]\n\n问：a\n\n答：b\n\n[Round 2]\n\n问：ab\n\n答："
  const std::string prompt = chatglm2_prompt({{"a", "b"}}, "ab");
  EXPECT_EQ(prompt, "[Round 1]\n\n问：a\n\n答：b\n\n[Round 2]\n\n问：ab\n\n答：");
  const Ids p = glm3().encode(prompt);
  EXPECT_EQ(p, (Ids{11, 10, 3,  12, 9,  7, 7, 14, 16, 4,  7,  7, 15, 16, 5, 7,
                    7,  8,  10, 3,  13, 9, 7, 7,  14, 16, 18, 7, 7,  15, 16}));
  // max_source 40, max_target 4: a = [gMASK] sop + 31 ids, b = "ab cd" = [20, 30], eos; S = 45.
  const SftRow r = build_chatglm2_row(p, glm3().encode("ab cd"), glm3().special(), 40, 4);
  Ids ids = {G, SOP};
  ids.insert(ids.end(), p.begin(), p.end());
  Ids labels(ids.size(), X);
  for (int32_t t : {20, 30, EOS})
    ids.push_back(t), labels.push_back(t);
  ids.resize(45, PAD), labels.resize(45, X);
  EXPECT_EQ(r.input_ids, ids);
  EXPECT_EQ(r.labels, labels);
  EXPECT_EQ(r.length, 36);
  EXPECT_EQ(r.sep, 0);
  EXPECT_EQ(r.mask_position, 0);
  EXPECT_EQ(r.position_ids[44], 44);
  EXPECT_EQ(r.block_position_ids, Ids(45, 0));
  EXPECT_FALSE(r.prompt_truncated || r.answer_truncated);
  EXPECT_EQ(causal_layout_problem(r, 45, 36, glm3().special()), "");
}

TEST(SftCausal, Chatglm2TruncationAndPadLabels) {
  // max_length 5 counts [gMASK] sop: the prompt keeps 3 ids; max_target 1 keeps one answer id.
  const SftRow r = build_chatglm2_row({11, 10, 3, 12, 9}, {20, 30}, glm3().special(), 5, 1);
  EXPECT_EQ(r.input_ids, (Ids{G, SOP, 11, 10, 3, 20, EOS}));
  EXPECT_EQ(r.labels, (Ids{X, X, X, X, X, 20, EOS}));
  EXPECT_TRUE(r.prompt_truncated && r.answer_truncated);
  // Both exactly at their limits: the reference's row is one longer than max_source + max_target.
  const SftRow full = build_chatglm2_row({11, 10, 3}, {20}, glm3().special(), 5, 1);
  EXPECT_EQ(full.length, 7);
  EXPECT_FALSE(full.prompt_truncated || full.answer_truncated);
  // An answer token equal to the pad id (<unk>, 0) is no target (ignore_pad_token_for_loss).
  const SftRow unk = build_chatglm2_row({20}, glm3().encode("az"), glm3().special(), 3, 4);
  EXPECT_EQ(unk.input_ids, (Ids{G, SOP, 20, 17, 0, EOS, PAD, PAD}));
  EXPECT_EQ(unk.labels, (Ids{X, X, X, 17, X, EOS, X, X}));
  // The sample: position i trained on labels[i + 1] (ChatGLM2's shift_logits / shift_labels).
  const Sample s = sft_sample(unk, PAD, 10, true);
  EXPECT_EQ(s.targets, (Ids{PAD, PAD, 17, PAD, EOS, PAD, PAD, PAD, PAD, PAD}));
  EXPECT_EQ(s.loss_mask, (std::vector<uint8_t>{0, 0, 1, 0, 1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.position_ids, (Ids{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(s.block_position_ids, Ids(10, 0));
  EXPECT_EQ(s.sep, 0);
  EXPECT_EQ(
      test::usage_error_of([] { check_causal_sft_lengths(2, 4); }),
      "--max-source-len must be in [3, 1000000] for ChatGLM2/3 (the prompt keeps max-source-len - 2 tokens "
      "after [gMASK] sop), got 2");
  EXPECT_THROW(check_causal_sft_lengths(3, 0), UsageError);
}

// system c, user a, assistant ab, user c, assistant (metadata x) cd, observation a, assistant b.
const char* k_conversation =
    R"({"conversations": [{"role": "system", "content": "c"}, {"role": "user", "content": "a"},
    {"role": "assistant", "content": "ab"}, {"role": "user", "content": "c"},
    {"role": "assistant", "metadata": "x", "content": "cd"}, {"role": "observation", "content": "a"},
    {"role": "assistant", "content": "b"}]})";

TEST(SftCausal, Chatglm3ConversationAsProcessBatchBuildsIt) {
  SftKeys keys;
  keys.format = SftFormat::chatglm3;
  const SftRecord rec = parse_sft_line(k_conversation, keys);
  ASSERT_EQ(rec.messages.size(), 7u);
  const ConversationIds c = conversation_ids(rec.messages, glm3());
  const Ids ids = {G, SOP, SYS,  3,  7, 29, USER, 3, 7, 17, ASST, 3, 7, 20, USER, 3,
                   7, 29,  ASST, 28, 7, 30, OBS,  3, 7, 17, ASST, 3, 7, 3,  5,    EOS};
  EXPECT_EQ(c.ids, ids);
  // loss on everything but system and user messages (finetune_hf's loss_mask_val), then the shift:
  // labels[i] = ids[i] where loss[i - 1]. The token after an answer (<|user|>, eos) is a target.
  const Ids labels = {X, X, X, X,  X, X,  X,   X, X, X,  X,    3, 7, 20, USER, X,
                      X, X, X, 28, 7, 30, OBS, 3, 7, 17, ASST, 3, 7, 3,  5,    EOS};
  const SftRow r = build_chatglm3_row(c, glm3().special(), 40); // max_input 30 + max_output 9 + 1
  Ids want_ids = ids, want_labels = labels;
  want_ids.resize(40, PAD), want_labels.resize(40, X);
  EXPECT_EQ(r.input_ids, want_ids);
  EXPECT_EQ(r.labels, want_labels);
  EXPECT_EQ(r.length, 32);
  EXPECT_FALSE(r.answer_truncated);
  EXPECT_EQ(causal_layout_problem(r, 40, 40, glm3().special()), "");
  const Sample s = sft_sample(r, PAD, 40, true);
  EXPECT_EQ(s.targets[13], USER); // after "ab": <|user|>
  EXPECT_EQ(s.loss_mask[14], 0);  // the user's turn is no target
  EXPECT_EQ(s.targets[30], EOS);
  // Cut at max_length = 16.
  const SftRow cut = build_chatglm3_row(c, glm3().special(), 16);
  EXPECT_EQ(cut.input_ids, Ids(ids.begin(), ids.begin() + 16));
  EXPECT_EQ(cut.labels, Ids(labels.begin(), labels.begin() + 16));
  EXPECT_TRUE(cut.answer_truncated);
}

TEST(SftCausal, Chatglm3ToolsAndBadConversations) {
  SftKeys keys;
  keys.format = SftFormat::chatglm3;
  const SftRecord rec = parse_sft_line(
      R"({"messages": [{"role": "system", "content": "c", "tools": [{"name": "w", "a": [1, 2.5]}]},)"
      R"( {"role": "user", "content": "a"}, {"role": "assistant", "content": "ab"}]})",
      keys);
  // build_chat_input: content + "\n" + json.dumps(tools, indent=4, ensure_ascii=False)
  EXPECT_EQ(rec.messages[0].content,
            "c\n[\n    {\n        \"name\": \"w\",\n        \"a\": [\n            1,\n"
            "            2.5\n        ]\n    }\n]");
  auto reason = [&](const std::string& line) {
    try {
      parse_sft_line(line, keys);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  EXPECT_EQ(reason(R"({"conversations": [{"role": "user", "content": "a"}]})"),
            "no assistant message: nothing to learn");
  EXPECT_EQ(reason(R"({"conversations": [{"role": "bot", "content": "a"}]})"),
            "message 0 has role 'bot' (expected system, user, assistant or observation)");
  EXPECT_EQ(reason(R"({"conversations": [{"role": "assistant", "content": 3}]})"),
            "message 0's 'content' is a number, not a string");
  EXPECT_EQ(reason(R"({"conversations": [{"role": "assistant", "content": " "}]})"),
            "message 0 (assistant) is empty");
  EXPECT_EQ(reason(R"({"conversations": []})"), "field 'conversations' must be a non-empty list of messages");
  EXPECT_EQ(reason(R"({"prompt": "a"})"),
            "no field 'conversations' (the list of messages; --messages-key names it)");
  EXPECT_NE(reason(R"({"conversations": [{"role": "tool", "name": "w"}]})").find("role 'tool'"),
            std::string::npos);
  EXPECT_NE(reason(R"({"tools": [], "conversations": []})").find("record-level 'tools'"), std::string::npos);
}

TEST(SftCausal, PrepSftWritesAndVerifiesACausalStore) {
  const std::string d = test::temp_dir("prep_glm3");
  std::string line = k_conversation;
  for (char& ch : line)
    ch = ch == '\n' ? ' ' : ch;
  test::write_bytes(d + "/in.jsonl", line + "\n{\"conversations\": [{\"role\": \"user\"}]}\n" + line + "\n");
  SftPrepOptions o;
  o.inputs = {d + "/in.jsonl"};
  o.out_dir = d + "/store";
  o.tokenizer_path = glm3_dir();
  o.max_source_len = 10, o.max_target_len = 5; // S 16: both conversations are cut
  EXPECT_EQ(test::usage_error_of([&] { run_prep_sft(o, MPI_COMM_WORLD); }),
            "input file " + d + "/in.jsonl line 2: message 0 has no 'content'");
  o.skip_bad = 1;
  const SftPrepResult res = run_prep_sft(o, MPI_COMM_WORLD);
  EXPECT_EQ(res.format, "chatglm3"); // from the tokenizer
  EXPECT_EQ(res.train, 2);
  EXPECT_EQ(res.conversations_truncated, 2);
  EXPECT_EQ(res.seq_len, 16);
  EXPECT_EQ(res.tokenizer_kind, "chatglm3");
  EXPECT_EQ(verify_sft_store(o.out_dir).examples, 2);
  const SftStore store = SftStore::open(o.out_dir);
  EXPECT_TRUE(store.manifest().causal());
  EXPECT_EQ(store.manifest().prep["format"], "chatglm3");
  EXPECT_EQ(store.tokenizer().kind(), "chatglm3");
  EXPECT_EQ(load_text_tokenizer(o.out_dir)->sha256(), glm3().sha256()); // the store's manifest tells the kind
  const SftRow r = store.read("train", 1);
  EXPECT_EQ(r.input_ids, (Ids{G, SOP, SYS, 3, 7, 29, USER, 3, 7, 17, ASST, 3, 7, 20, USER, 3}));
  EXPECT_EQ(r.source_line, 3);
  const auto src = open_sft_source(o.out_dir, "train", 20, 1, SftOrder::in_order);
  const Sample s = src->get(0);
  EXPECT_EQ(s.targets[12], 20);
  EXPECT_EQ(s.targets[13], USER);
  EXPECT_EQ(s.loss_mask, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}));
  EXPECT_EQ(s.position_ids[19], 19);
  // The ChatGLM2 format from the same tokenizer, and the refusals of a format it cannot make.
  test::write_bytes(d + "/qa.jsonl", "{\"content\": \"ab\", \"summary\": \"ab cd\"}\n");
  SftPrepOptions q = o;
  q.inputs = {d + "/qa.jsonl"}, q.out_dir = d + "/qa", q.format = "chatglm2", q.skip_bad = 0;
  EXPECT_EQ(run_prep_sft(q, MPI_COMM_WORLD).seq_len, 16);
  // "[Round 1]\n\n问：ab\n\n答：" -> ▁[ Round ▁ 1 ] \n \n 问 ： ab \n \n 答 ： : 14 ids, 8 kept after [gMASK]
  // sop.
  EXPECT_EQ(SftStore::open(q.out_dir).read("train", 0).input_ids,
            (Ids{G, SOP, 11, 10, 3, 12, 9, 7, 7, 14, 20, 30, EOS, PAD, PAD, PAD}));
  q.format = "chatglm", q.out_dir = d + "/no";
  EXPECT_NE(test::usage_error_of([&] {
              run_prep_sft(q, MPI_COMM_WORLD);
            }).find("use --format chatglm2 or chatglm3"),
            std::string::npos);
  q.format = "chatglm3", q.tokenizer_path = test::tokenizer_path();
  EXPECT_NE(test::usage_error_of([&] { run_prep_sft(q, MPI_COMM_WORLD); }).find("needs ChatGLM3's tokenizer"),
            std::string::npos);
}

} // namespace
} // namespace glm3d
