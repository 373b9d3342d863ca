// Checksums (against published test vectors), UTF-8 validation, input splitting, JSONL.
#include "data/checksum.h"
#include "data/text_input.h"
#include "data_fixture.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

TEST(Checksum, Crc32MatchesZlibVectors) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u); // the CRC-32/ISO-HDLC check value
  EXPECT_EQ(crc32("", 0), 0u);
  EXPECT_EQ(crc32("6789", 4, crc32("12345", 5)), 0xCBF43926u); // incremental
}

TEST(Checksum, Sha256MatchesFips180Vectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(TextInput, Utf8Validation) {
  EXPECT_EQ(find_invalid_utf8("plain ascii"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("汉字 and 𝄞"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xFF"
                              "cd"),
            2u);
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);       // overlong '/'
  EXPECT_EQ(find_invalid_utf8("x\xED\xA0\x80"), 1u);    // UTF-16 surrogate
  EXPECT_EQ(find_invalid_utf8("xy\xE6\xB1"), 2u);       // truncated sequence
  EXPECT_EQ(find_invalid_utf8("\xF4\x90\x80\x80"), 0u); // above U+10FFFF
}

TEST(TextInput, BlankLinesSeparateDocuments) {
  const auto docs = split_text_documents("one\ntwo\r\n\n  \n\nthree\n\n\nfour");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0], "one\ntwo");
  EXPECT_EQ(docs[1], "three");
  EXPECT_EQ(docs[2], "four");
}

TEST(TextInput, JsonlFieldWithEscapesAndSkippedValues) {
  EXPECT_EQ(json_string_field(R"({"id": 3, "x": {"t": [1, "}"]}, "text": "a\nb \"q\" \u6c49\ud834\udd1e"})",
                              "text"),
            "a\nb \"q\" 汉𝄞");
  EXPECT_THROW(json_string_field(R"({"id": 3})", "text"), std::invalid_argument);
  EXPECT_THROW(json_string_field(R"({"text": 5})", "text"), std::invalid_argument);
  EXPECT_THROW(json_string_field(R"({"text": "unterminated)", "text"), std::invalid_argument);
}

TEST(TextInput, ErrorsNameTheFile) {
  const std::string d = test::temp_dir("input");
  auto message_of = [](const std::string& path, InputFormat f) {
    try {
      read_documents(path, f);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  test::write_bytes(d + "/empty.txt", "\n \n\n");
  EXPECT_NE(message_of(d + "/empty.txt", InputFormat::auto_detect).find(d + "/empty.txt: no documents"),
            std::string::npos);
  test::write_bytes(d + "/bad.txt", "fine\nline two \xC3\x28 bad\n");
  EXPECT_NE(message_of(d + "/bad.txt", InputFormat::auto_detect).find("invalid UTF-8 at byte 14 (line 2)"),
            std::string::npos);
  EXPECT_NE(message_of(d + "/missing.txt", InputFormat::auto_detect)
                .find("cannot read input file " + d + "/missing.txt"),
            std::string::npos);
  test::write_bytes(d + "/bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  EXPECT_NE(message_of(d + "/bad.jsonl", InputFormat::auto_detect).find(d + "/bad.jsonl line 2"),
            std::string::npos);
}

} // namespace
} // namespace glm3d
