// Checksums (against published test vectors), UTF-8 validation, input splitting (blocks, lines),
// JSONL through nlohmann/json, gzip input, and the one-line errors naming the file.
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
  EXPECT_THROW(json_string_field(R"({"text": "lone \ud834 surrogate"})", "text"), std::invalid_argument);
  EXPECT_EQ(json_string_field(R"({"text": "first", "text2": 1})", "text"), "first");
}

std::string reason_of(std::string_view line, std::string_view field) {
  try {
    json_string_field(line, field);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(TextInput, JsonlReasonsNameTheFieldsAndTheOption) {
  EXPECT_EQ(reason_of(R"({"id": 3, "body": "b", "title": "t"})", "text"),
            "no field 'text' (the object's string fields: \"body\", \"title\"); name the document's field "
            "with --json-field");
  EXPECT_EQ(reason_of(R"({"id": 3})", "text"),
            "no field 'text' (the object has no string field); name the document's field with --json-field");
  EXPECT_EQ(reason_of(R"({"text": [1]})", "text"),
            "field 'text' is an array, not a string; name the document's field with --json-field");
  EXPECT_EQ(reason_of("[1, 2]", "text"), "a JSON array, not an object; JSONL holds one JSON object per line");
  const std::string plain = reason_of("plain text", "text");
  EXPECT_EQ(plain.rfind("not valid JSON (at column 1: syntax error", 0), 0u) << plain;
  EXPECT_NE(plain.find("--format text or lines reads plain text"), std::string::npos) << plain;
}

TEST(TextInput, OneDocumentPerLine) {
  EXPECT_EQ(split_line_documents("one\r\ntwo words\n\n  \n\tthree\nfour"),
            (std::vector<std::string>{"one", "two words", "\tthree", "four"}));
  const std::string d = test::temp_dir("lines");
  test::write_bytes(d + "/l.txt", "a b\nc d\n\ne f\n");
  EXPECT_EQ(read_documents(d + "/l.txt", InputFormat::lines),
            (std::vector<std::string>{"a b", "c d", "e f"}));
  EXPECT_EQ(read_documents(d + "/l.txt", InputFormat::text), (std::vector<std::string>{"a b\nc d", "e f"}));
  EXPECT_EQ(parse_input_format("lines"), InputFormat::lines);
  EXPECT_THROW(parse_input_format("csv"), UsageError);
}

std::string message_of(const std::string& path, InputFormat f = InputFormat::auto_detect) {
  try {
    read_documents(path, f);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(TextInput, GzipInputIsDecompressedByItsMagic) {
  const std::string d = test::temp_dir("gz");
  const auto docs = test::bilingual_docs(3000, 21); // > 64 KiB: many inflate output chunks
  test::write_text_file(d + "/a.txt", docs);
  const std::string text = test::read_bytes(d + "/a.txt");
  ASSERT_GT(text.size(), size_t(1) << 17);
  // Two members, as `cat a.gz b.gz` makes: the text split in the middle of a document.
  const size_t half = text.size() / 2;
  test::write_bytes(d + "/a.txt.gz", test::gzip(text.substr(0, half)) + test::gzip(text.substr(half)));
  EXPECT_EQ(read_input_bytes(d + "/a.txt.gz"), text);
  EXPECT_EQ(read_documents(d + "/a.txt.gz", InputFormat::auto_detect),
            read_documents(d + "/a.txt", InputFormat::auto_detect));
  // The name plays no part: gzip data named .txt is decompressed; auto still sees .jsonl under .gz.
  test::write_bytes(d + "/b.txt", test::gzip("x y\n\nz\n"));
  EXPECT_EQ(read_documents(d + "/b.txt", InputFormat::auto_detect), (std::vector<std::string>{"x y", "z"}));
  test::write_bytes(d + "/c.jsonl.gz", test::gzip("{\"text\": \"j\"}\n"));
  EXPECT_EQ(read_documents(d + "/c.jsonl.gz", InputFormat::auto_detect), (std::vector<std::string>{"j"}));
  // Trailing zero padding is ignored, as gzip does.
  test::write_bytes(d + "/p.gz", test::gzip("padded\n") + std::string(16, '\0'));
  EXPECT_EQ(read_input_bytes(d + "/p.gz"), "padded\n");
}

TEST(TextInput, BadCompressedInputNamesTheFile) {
  const std::string d = test::temp_dir("gzbad");
  const std::string gz = test::gzip(std::string(5000, 'a') + "\n");
  test::write_bytes(d + "/trunc.gz", gz.substr(0, gz.size() - 12));
  EXPECT_NE(message_of(d + "/trunc.gz").find("input file " + d + "/trunc.gz: truncated gzip data"),
            std::string::npos)
      << message_of(d + "/trunc.gz");
  std::string bad = gz;
  bad[bad.size() / 2] ^= 0x55;
  bad[bad.size() / 2 + 1] ^= 0x55;
  test::write_bytes(d + "/bad.gz", bad);
  EXPECT_NE(
      message_of(d + "/bad.gz").find("input file " + d + "/bad.gz: corrupt gzip data at compressed byte"),
      std::string::npos)
      << message_of(d + "/bad.gz");
  test::write_bytes(d + "/junk.gz", gz + "junk");
  EXPECT_NE(message_of(d + "/junk.gz").find("bytes after the end of the gzip data"), std::string::npos)
      << message_of(d + "/junk.gz");
  test::write_bytes(d + "/plain.gz", "not compressed\n");
  EXPECT_NE(message_of(d + "/plain.gz").find("is named .gz but is not gzip-compressed"), std::string::npos);
  test::write_bytes(d + "/a.xz", std::string("\xFD"
                                             "7zXZ\0",
                                             6) +
                                     "payload");
  EXPECT_EQ(message_of(d + "/a.xz"), "input file " + d +
                                         "/a.xz is xz-compressed; glm3d prep reads plain or "
                                         "gzip-compressed text (decompress it first: unxz " +
                                         d + "/a.xz)");
  test::write_bytes(d + "/a.zst", std::string("\x28\xB5\x2F\xFD", 4) + "payload");
  EXPECT_NE(message_of(d + "/a.zst").find("is zstd-compressed"), std::string::npos);
  test::write_bytes(d + "/a.bz2", "BZh91AY&SY");
  EXPECT_NE(message_of(d + "/a.bz2").find("is bzip2-compressed"), std::string::npos);
  test::write_bytes(d + "/bzh.txt", "BZh is a word here\n"); // no block-size digit: plain text
  EXPECT_EQ(read_documents(d + "/bzh.txt", InputFormat::auto_detect),
            (std::vector<std::string>{"BZh is a word here"}));
}

TEST(TextInput, ErrorsNameTheFile) {
  const std::string d = test::temp_dir("input");
  test::write_bytes(d + "/empty.txt", "\n \n\n");
  EXPECT_NE(message_of(d + "/empty.txt").find(d + "/empty.txt: no documents"), std::string::npos);
  test::write_bytes(d + "/bad.txt", "fine\nline two \xC3\x28 bad\n");
  EXPECT_NE(message_of(d + "/bad.txt").find("invalid UTF-8 at byte 14 (line 2)"), std::string::npos);
  test::write_bytes(d + "/bad.txt.gz", test::gzip("fine\nline two \xC3\x28 bad\n"));
  EXPECT_NE(message_of(d + "/bad.txt.gz").find("invalid UTF-8 at byte 14 (line 2) of the decompressed text"),
            std::string::npos);
  EXPECT_NE(message_of(d + "/missing.txt").find("cannot read input file " + d + "/missing.txt"),
            std::string::npos);
  EXPECT_EQ(message_of(d),
            "input file " + d + " is a directory (give the files in it, e.g. " + d + "/*.txt)");
  test::write_bytes(d + "/bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  EXPECT_EQ(message_of(d + "/bad.jsonl"),
            "input file " + d +
                "/bad.jsonl line 2: no field 'text' (the object's string fields: "
                "\"txt\"); name the document's field with --json-field");
  // --format jsonl on any name; a JSONL file read as text is one document of JSON text.
  test::write_bytes(d + "/j.dat", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n");
  EXPECT_EQ(read_documents(d + "/j.dat", InputFormat::jsonl), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(read_documents(d + "/j.dat", InputFormat::auto_detect).size(), 1u);
}

} // namespace
} // namespace glm3d
