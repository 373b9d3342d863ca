#pragma once
// Python's str operations on UTF-8 text, where a tokenizer's reference (Hugging Face tokenizers
// in Python) relies on them: str.isspace, strip/lstrip/rstrip without arguments, split() without
// arguments and str.replace. Python counts code points, not bytes; the whitespace set is
// str.isspace's (Unicode White_Space plus the ASCII separators U+001C..U+001F).
#include <string>
#include <string_view>
#include <vector>

namespace glm3d::py {

// str.isspace() of the one code point cp.
bool is_space(char32_t cp);

std::string_view lstrip(std::string_view s);        // s.lstrip()
std::string_view rstrip(std::string_view s);        // s.rstrip()
std::string_view strip(std::string_view s);         // s.strip()
std::vector<std::string> split(std::string_view s); // s.split(): runs of whitespace, no empties

// Appends code point cp (at most U+10FFFF) to s as UTF-8.
void append_utf8(std::string& s, char32_t cp);

// s.replace(from, to): every non-overlapping occurrence, left to right. from is not empty.
std::string replace(std::string_view s, std::string_view from, std::string_view to);

} // namespace glm3d::py
