#pragma once
// Raw input documents for `glm3d prep`: plain text (one document per block of lines separated
// by blank lines), lines (one document per non-blank line) or JSONL (one JSON object per line,
// the document in a string field). Any of them may be gzip-compressed (told by the gzip magic
// bytes, not the name). Every error is a glm3d::UsageError naming the file (and line / byte
// where it applies).
#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace glm3d {

// auto: ".jsonl" / ".json" (before an optional ".gz") -> jsonl, anything else -> text.
enum class InputFormat { auto_detect, text, lines, jsonl };

InputFormat parse_input_format(const std::string& name); // "auto" | "text" | "lines" | "jsonl"

// Byte offset of the first invalid UTF-8 sequence in s (overlongs, surrogates and code points
// above U+10FFFF are invalid), or std::string_view::npos when s is valid.
size_t find_invalid_utf8(std::string_view s);

// Splits plain text into documents: blocks of non-blank lines; lines joined with '\n'.
std::vector<std::string> split_text_documents(std::string_view text);

// One document per non-blank line (a trailing '\r' is dropped; the line is kept as written).
std::vector<std::string> split_line_documents(std::string_view text);

// Calls fn(line, number) for each line of text: 1-based, without its '\n' or a trailing '\r'.
template <class Fn> void for_each_line(std::string_view text, Fn fn) {
  size_t pos = 0, number = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    fn(line, ++number);
    pos = end + 1;
  }
}

// True when the line holds only spaces and tabs (JSONL readers skip it).
bool is_blank_line(std::string_view line);

// One JSON object (a JSONL record). Throws std::invalid_argument with the reason ("not valid
// JSON (at column 7: ...)", "a JSON array, not an object") when the line is not one.
nlohmann::json parse_json_object(std::string_view line);

// The string value of `field` in one JSON object (escapes decoded to UTF-8). Throws
// std::invalid_argument with the reason when the line is not such an object; a missing field's
// reason lists the object's string fields.
std::string json_string_field(std::string_view line, std::string_view field);

// The decompressed bytes of a gzip file (concatenated members too). UsageError naming `path`
// when the data is corrupt or truncated.
std::string gunzip(std::string_view bytes, const std::string& path);

// The file's bytes, decompressed when it starts with the gzip magic. UsageError naming the file
// when it is missing, a directory, or compressed with something other than gzip.
std::string read_input_bytes(const std::string& path);

// Reads, validates (UTF-8, non-empty) and splits one input file.
std::vector<std::string> read_documents(const std::string& path, InputFormat format,
                                        const std::string& json_field = "text");

} // namespace glm3d
