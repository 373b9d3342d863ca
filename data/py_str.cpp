#include "data/py_str.h"

#include "core/check.h"

namespace glm3d::py {

bool is_space(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

namespace {

// The code point starting at byte i and its length in bytes (valid UTF-8 assumed; a stray byte
// counts as one code point that is not a space).
std::pair<char32_t, size_t> decode_at(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t len = c < 0x80             ? 1
                     : (c & 0xE0) == 0xC0 ? 2
                     : (c & 0xF0) == 0xE0 ? 3
                     : (c & 0xF8) == 0xF0 ? 4
                                          : 1;
  if (len == 1 || i + len > s.size())
    return {c, 1};
  char32_t cp = c & (0x7F >> len);
  for (size_t k = 1; k < len; ++k)
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return {cp, len};
}

// Start of the code point that ends at byte `end` (exclusive).
size_t start_before(std::string_view s, size_t end) {
  size_t i = end - 1;
  while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80 && end - i < 4)
    --i;
  return i;
}

} // namespace

std::string_view lstrip(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto [cp, len] = decode_at(s, i);
    if (!is_space(cp))
      break;
    i += len;
  }
  return s.substr(i);
}

std::string_view rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0) {
    const size_t i = start_before(s, end);
    if (!is_space(decode_at(s, i).first))
      break;
    end = i;
  }
  return s.substr(0, end);
}

std::string_view strip(std::string_view s) {
  return rstrip(lstrip(s));
}

std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0, word = std::string_view::npos;
  while (i < s.size()) {
    const auto [cp, len] = decode_at(s, i);
    if (is_space(cp)) {
      if (word != std::string_view::npos)
        out.emplace_back(s.substr(word, i - word));
      word = std::string_view::npos;
    } else if (word == std::string_view::npos) {
      word = i;
    }
    i += len;
  }
  if (word != std::string_view::npos)
    out.emplace_back(s.substr(word));
  return out;
}

std::string replace(std::string_view s, std::string_view from, std::string_view to) {
  GLM3D_CHECK(!from.empty()) << "py::replace of an empty string";
  std::string out;
  size_t pos = 0;
  for (size_t at = s.find(from); at != std::string_view::npos; at = s.find(from, pos)) {
    out.append(s.substr(pos, at - pos));
    out.append(to);
    pos = at + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

void append_utf8(std::string& s, char32_t c) {
  if (c < 0x80) {
    s += char(c);
  } else if (c < 0x800) {
    s += char(0xC0 | (c >> 6)), s += char(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    s += char(0xE0 | (c >> 12)), s += char(0x80 | ((c >> 6) & 0x3F)), s += char(0x80 | (c & 0x3F));
  } else {
    s += char(0xF0 | (c >> 18)), s += char(0x80 | ((c >> 12) & 0x3F)), s += char(0x80 | ((c >> 6) & 0x3F));
    s += char(0x80 | (c & 0x3F));
  }
}

} // namespace glm3d::py
