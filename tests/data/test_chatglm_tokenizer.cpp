// ChatGLM-6B's tokenizer rules (data/chatglm_tokenizer.h) on a SentencePiece model built by hand
// in ice_text.model's layout (sp_model_builder.h): every expectation below is worked out from
// tokenization_chatglm.py (8b7d335) and transformers 4.27's PreTrainedTokenizer.tokenize, with
// the unigram rule "fewest pieces win" (every text piece scores -1).
//
// Text piece ids of the test model (k_chatglm_first_text_piece = 85):
//   85 ▁  86 a  87 b  88 c  89 d  104 [  106 .  109 ：  110 问  111 答  114 ▁a  115 ▁b  116 ab
//   117 cd  118 ▁ab  119 ▁cd  122 ▁.  124 ▁[  125 Round  126 ▁你好
//   4 <n>  5 <|tab|>  6 + (N - 2) <|blank_N|>  (so <|blank_2|> 6, <|blank_5|> 9, <|blank_80|> 84)
#include "core/check.h"
#include "data/chatglm_tokenizer.h"
#include "data_fixture.h"
#include "sp_model_builder.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace glm3d {
namespace {

using Ids = std::vector<int32_t>;

const ChatGlmTokenizer& tok() {
  static const std::unique_ptr<ChatGlmTokenizer> t = ChatGlmTokenizer::load(
      test::write_chatglm_tokenizer(test::temp_dir("chatglm_tok"), test::chatglm_tokenizer_config()));
  return *t;
}

TEST(ChatGlmTokenizer, TheTestModelHasTheRealLayout) {
  // config.json of THUDM/chatglm-6b at 8b7d335: mask 130000, gmask 130001, bos 130004, eos 130005,
  // pad 3, vocab 130528 (tokenizer_config.json sets num_image_tokens 0).
  EXPECT_EQ(tok().num_image_tokens(), 0);
  EXPECT_EQ(tok().vocab_size(), 130528);
  const SpecialTokens& s = tok().special();
  EXPECT_EQ(s.mask, 130000);
  EXPECT_EQ(s.gmask, 130001);
  EXPECT_EQ(s.smask, 130002);
  EXPECT_EQ(s.sop, 130004);
  EXPECT_EQ(s.eop, 130005);
  EXPECT_EQ(s.eos, 2); // end_token </s>
  EXPECT_EQ(s.pad, 3);
  EXPECT_EQ(tok().piece_to_id("\u2581ab"), 118);
  EXPECT_EQ(tok().piece_to_id("<|blank_80|>"), 84);
  EXPECT_EQ(tok().id_to_piece(130004), "<sop>");
  EXPECT_EQ(tok().kind(), "chatglm");
}

TEST(ChatGlmTokenizer, PreprocessingOfNewlinesTabsAndBlanks) {
  EXPECT_EQ(tok().preprocess("ab\ncd"), "ab<n>cd");
  EXPECT_EQ(tok().preprocess("a\tb"), "a<|tab|>b");
  EXPECT_EQ(tok().preprocess("a b"), "a b"); // one space stays a space
  EXPECT_EQ(tok().preprocess("a  b"), "a<|blank_2|>b");
  EXPECT_EQ(tok().preprocess("a" + std::string(80, ' ') + "b"), "a<|blank_80|>b");
  // str.replace from 80 down: 81 = 80 + a lone space, 85 = 80 + 5, 165 = 80 + 80 + 5.
  EXPECT_EQ(tok().preprocess("a" + std::string(81, ' ') + "b"), "a<|blank_80|> b");
  EXPECT_EQ(tok().preprocess("a" + std::string(85, ' ') + "b"), "a<|blank_80|><|blank_5|>b");
  EXPECT_EQ(tok().preprocess(std::string(165, ' ')), "<|blank_80|><|blank_80|><|blank_5|>");
  EXPECT_EQ(tok().preprocess("\t\t  \n"), "<|tab|><|tab|><|blank_2|><n>");
}

TEST(ChatGlmTokenizer, EncodeAsTheReferenceDoes) {
  EXPECT_EQ(tok().encode("ab cd"), (Ids{118, 119}));                              // ▁ab ▁cd
  EXPECT_EQ(tok().encode("ab\ncd"), (Ids{118, 4, 117}));                          // ▁ab <n> cd
  EXPECT_EQ(tok().encode("a\tb"), (Ids{114, 5, 87}));                             // ▁a <|tab|> b
  EXPECT_EQ(tok().encode("a  b"), (Ids{114, 6, 87}));                             // ▁a <|blank_2|> b
  EXPECT_EQ(tok().encode("a" + std::string(81, ' ') + "b"), (Ids{114, 84, 115})); // ▁a <|blank_80|> ▁b
  EXPECT_EQ(tok().encode("a" + std::string(85, ' ') + "b"), (Ids{114, 84, 9, 87}));
  EXPECT_EQ(tok().encode("你好"), (Ids{126}));                 // ▁你好: the dummy prefix
  EXPECT_EQ(tok().encode("问：答"), (Ids{85, 110, 109, 111})); // ▁ 问 ： 答
  EXPECT_EQ(tok().encode("a ."), (Ids{114, 122}));             // ▁a ▁.
  // A character no piece covers is <unk> (0): PieceToId of its surface.
  EXPECT_EQ(tok().encode("a\u20ac"), (Ids{114, 0}));
}

TEST(ChatGlmTokenizer, LiteralSpecialTokensAreCutOutAndStripTheirNeighbours) {
  // <sop> <eop> <pad> <unk> [MASK] (transformers' special-token attributes) become their ids; the
  // text beside them loses its whitespace on that side, and each part gets its own dummy prefix.
  EXPECT_EQ(tok().encode("ab <sop> cd"), (Ids{118, 130004, 119}));
  EXPECT_EQ(tok().encode("ab<eop>cd"), (Ids{118, 130005, 119}));
  EXPECT_EQ(tok().encode("[MASK]"), (Ids{130000}));
  EXPECT_EQ(tok().encode(" <pad>\n"), (Ids{3}));           // both neighbours strip to nothing
  EXPECT_EQ(tok().encode("ab\u3000<unk>"), (Ids{118, 0})); // U+3000 is whitespace to str.rstrip
  // [gMASK] is no such attribute: it goes through SentencePiece (here a user-defined piece,
  // after the dummy prefix ▁).
  EXPECT_EQ(tok().encode("[gMASK]"), (Ids{85, 130001}));
  const auto parts = tok().split_special("a  <sop>  b<eop>");
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0], std::make_pair(std::string("a"), false));
  EXPECT_EQ(parts[1], std::make_pair(std::string("<sop>"), true));
  EXPECT_EQ(parts[2], std::make_pair(std::string("b"), false));
  EXPECT_EQ(parts[3], std::make_pair(std::string("<eop>"), true));
}

TEST(ChatGlmTokenizer, DecodeUndoesThePreprocessing) {
  EXPECT_EQ(tok().decode({118, 4, 117}), "ab\ncd");
  EXPECT_EQ(tok().decode({114, 5, 87}), "a\tb");
  EXPECT_EQ(tok().decode({114, 84, 9, 87}), "a" + std::string(85, ' ') + "b");
  EXPECT_EQ(tok().decode({3, 118, 3, 119, 3}), "ab cd"); // <pad> dropped
  EXPECT_EQ(tok().decode({114, 122}), "a.");             // "a ." then clean_up_tokenization
  // User-defined pieces keep their text; ▁ is a space except at the very start (SentencePiece).
  EXPECT_EQ(tok().decode({130004, 118, 130005}), "<sop> ab<eop>");
  for (const std::string& s : {std::string("ab cd"), std::string("ab\ncd  cd\t你好")})
    EXPECT_EQ(tok().decode(tok().encode(s)), s);
}

TEST(ChatGlmTokenizer, ImageTokenOffsetWhenTheConfigDoesNotSetIt) {
  // SPTokenizer(num_image_tokens=20000) is the code's default: text piece id + 20000.
  const auto t = ChatGlmTokenizer::load(
      test::write_chatglm_tokenizer(test::temp_dir("chatglm_tok20k"),
                                    test::chatglm_tokenizer_config("", /*without_image_tokens_field=*/true)));
  EXPECT_EQ(t->num_image_tokens(), 20000);
  EXPECT_EQ(t->vocab_size(), 150528);
  EXPECT_EQ(t->special().gmask, 150001);
  EXPECT_EQ(t->special().sop, 150004);
  EXPECT_EQ(t->special().pad, 20003);
  EXPECT_EQ(t->encode("ab cd"), (Ids{20118, 20119}));
  EXPECT_EQ(t->encode("ab<sop>"), (Ids{20118, 150004}));
  EXPECT_EQ(t->id_to_piece(7), "<image_7>");
  EXPECT_EQ(t->piece_to_id("<image_7>"), 7);
  // An image token's piece name is no piece of the model: DecodePieces keeps it as text.
  EXPECT_EQ(t->decode({20118, 7, 20119}), "ab<image_7> cd");
  EXPECT_NE(t->sha256(), tok().sha256()); // the config is part of the identity
}

TEST(ChatGlmTokenizer, RemoveSpaceJoinsWords) {
  const auto t = ChatGlmTokenizer::load(test::write_chatglm_tokenizer(
      test::temp_dir("chatglm_tok_rs"), test::chatglm_tokenizer_config("\"remove_space\": true")));
  EXPECT_EQ(t->encode("  ab \t\n  cd  "), (Ids{118, 119})); // " ".join(text.strip().split())
}

TEST(ChatGlmTokenizer, BadFilesAreUsageErrors) {
  const std::string d = test::temp_dir("chatglm_bad");
  test::write_chatglm_tokenizer(d + "/lower", test::chatglm_tokenizer_config("\"do_lower_case\": true"));
  EXPECT_THROW(ChatGlmTokenizer::load(d + "/lower"), UsageError);
  test::write_chatglm_tokenizer(d + "/notjson", "{ not json");
  EXPECT_THROW(ChatGlmTokenizer::load(d + "/notjson"), UsageError);
  test::write_chatglm_tokenizer(d + "/nopiece",
                                test::chatglm_tokenizer_config("\"pad_token\": \"<nothing>\""));
  EXPECT_THROW(ChatGlmTokenizer::load(d + "/nopiece"), UsageError);
  EXPECT_THROW(ChatGlmTokenizer::from_bytes("not a model", test::chatglm_tokenizer_config(), "x"),
               UsageError);
  std::filesystem::create_directories(d + "/half");
  test::write_bytes(d + "/half/ice_text.model", "x");
  EXPECT_THROW(load_text_tokenizer(d + "/half"), UsageError);
}

TEST(TextTokenizer, LoadsEitherKindByPath) {
  const std::string d =
      test::write_chatglm_tokenizer(test::temp_dir("chatglm_any"), test::chatglm_tokenizer_config());
  EXPECT_EQ(load_text_tokenizer(d)->kind(), "chatglm");
  EXPECT_EQ(load_text_tokenizer(d + "/ice_text.model")->sha256(), tok().sha256());
  const auto own = load_text_tokenizer(test::tokenizer_path());
  EXPECT_EQ(own->kind(), "sentencepiece");
  EXPECT_EQ(own->sha256(), test::tokenizer().sha256());
  EXPECT_EQ(own->encode("hello world"), test::tokenizer().encode("hello world"));
  const auto again = text_tokenizer_from_files(tok().kind(), tok().files(), "memory");
  EXPECT_EQ(again->sha256(), tok().sha256());
  EXPECT_EQ(again->encode("ab <sop> cd"), tok().encode("ab <sop> cd"));
}

} // namespace
} // namespace glm3d
