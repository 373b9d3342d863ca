#include "data/text_input.h"

#include "core/check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace glm3d {

InputFormat parse_input_format(const std::string& name) {
  if (name == "auto")
    return InputFormat::auto_detect;
  if (name == "text")
    return InputFormat::text;
  if (name == "jsonl")
    return InputFormat::jsonl;
  GLM3D_USAGE_FAIL() << "unknown input format '" << name << "' (expected auto, text or jsonl)";
}

size_t find_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    uint32_t cp = 0, min = 0;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07, min = 0x10000;
    else
      return i;
    if (i + len > n)
      return i;
    for (size_t k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += len;
  }
  return std::string_view::npos;
}

std::vector<std::string> split_text_documents(std::string_view text) {
  std::vector<std::string> docs;
  std::string cur;
  size_t pos = 0;
  auto flush = [&] {
    if (!cur.empty())
      docs.push_back(std::move(cur));
    cur.clear();
  };
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.find_first_not_of(" \t\f\v") == std::string_view::npos) {
      flush();
    } else {
      if (!cur.empty())
        cur += '\n';
      cur.append(line);
    }
    pos = end + 1;
  }
  flush();
  return docs;
}

namespace {
// A strict-enough JSON reader for one object per line: decodes the wanted string field and
// skips every other value (strings, numbers, literals, nested arrays and objects).
class JsonLine {
public:
  explicit JsonLine(std::string_view s) : s_(s) {}

  std::string field(std::string_view name) {
    ws();
    expect('{');
    ws();
    bool found = false;
    std::string value;
    if (peek() == '}')
      ++i_;
    else {
      for (;;) {
        ws();
        std::string key = string();
        ws();
        expect(':');
        ws();
        if (key == name) {
          if (peek() != '"')
            fail("field '" + key + "' is not a string");
          value = string();
          found = true;
        } else {
          skip_value();
        }
        ws();
        if (peek() == ',') {
          ++i_;
          continue;
        }
        expect('}');
        break;
      }
    }
    ws();
    if (i_ != s_.size())
      fail("trailing characters after the object");
    if (!found)
      fail("no string field '" + std::string(name) + "'");
    return value;
  }

private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument(why + " (column " + std::to_string(i_ + 1) + ")");
  }
  char peek() const {
    if (i_ >= s_.size())
      fail("unexpected end of line");
    return s_[i_];
  }
  void expect(char c) {
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }
  unsigned hex4() {
    if (i_ + 4 > s_.size())
      fail("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= unsigned(c - 'A' + 10);
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80)
      out += char(cp);
    else if (cp < 0x800)
      out += char(0xC0 | (cp >> 6)), out += char(0x80 | (cp & 0x3F));
    else if (cp < 0x10000)
      out += char(0xE0 | (cp >> 12)), out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
    else
      out += char(0xF0 | (cp >> 18)), out += char(0x80 | ((cp >> 12) & 0x3F)),
          out += char(0x80 | ((cp >> 6) & 0x3F)), out += char(0x80 | (cp & 0x3F));
  }
  std::string string() {
    expect('"');
    std::string out;
    for (;;) {
      const char c = peek();
      ++i_;
      if (c == '"')
        return out;
      if (static_cast<unsigned char>(c) < 0x20)
        fail("control character inside a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      const char e = peek();
      ++i_;
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp = hex4();
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          if (i_ + 2 > s_.size() || s_[i_] != '\\' || s_[i_ + 1] != 'u')
            fail("unpaired surrogate");
          i_ += 2;
          const uint32_t lo = hex4();
          if (lo < 0xDC00 || lo > 0xDFFF)
            fail("unpaired surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          fail("unpaired surrogate");
        }
        append_utf8(out, cp);
        break;
      }
      default:
        fail(std::string("bad escape \\") + e);
      }
    }
  }
  void skip_value() {
    const char c = peek();
    if (c == '"') {
      string();
    } else if (c == '{' || c == '[') {
      int depth = 0;
      do {
        const char d = peek();
        if (d == '"') {
          string();
          continue;
        }
        if (d == '{' || d == '[')
          ++depth;
        if (d == '}' || d == ']')
          --depth;
        ++i_;
      } while (depth > 0);
    } else {
      const size_t start = i_;
      while (i_ < s_.size() && s_[i_] != ',' && s_[i_] != '}' && s_[i_] != ']' && s_[i_] != ' ')
        ++i_;
      if (i_ == start)
        fail("expected a value");
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  GLM3D_USAGE_CHECK(in.good()) << "cannot read input file " << path << ": " << std::strerror(errno);
  std::ostringstream os;
  os << in.rdbuf();
  GLM3D_USAGE_CHECK(!in.bad()) << "cannot read input file " << path << ": " << std::strerror(errno);
  return os.str();
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
} // namespace

std::string json_string_field(std::string_view line, std::string_view field) {
  return JsonLine(line).field(field);
}

std::vector<std::string> read_documents(const std::string& path, InputFormat format,
                                        const std::string& json_field) {
  const std::string bytes = read_file_bytes(path);
  const size_t bad = find_invalid_utf8(bytes);
  if (bad != std::string_view::npos) {
    const size_t line = 1 + size_t(std::count(bytes.begin(), bytes.begin() + ptrdiff_t(bad), '\n'));
    GLM3D_USAGE_FAIL() << "input file " << path << ": invalid UTF-8 at byte " << bad << " (line " << line
                       << ")";
  }
  if (format == InputFormat::auto_detect)
    format = ends_with(path, ".jsonl") || ends_with(path, ".json") ? InputFormat::jsonl : InputFormat::text;

  std::vector<std::string> docs;
  if (format == InputFormat::text) {
    docs = split_text_documents(bytes);
  } else {
    size_t pos = 0, line_no = 0;
    while (pos < bytes.size()) {
      size_t end = bytes.find('\n', pos);
      if (end == std::string::npos)
        end = bytes.size();
      const std::string_view line = std::string_view(bytes).substr(pos, end - pos);
      ++line_no;
      pos = end + 1;
      if (line.find_first_not_of(" \t\r") == std::string_view::npos)
        continue;
      std::string text;
      try {
        text = json_string_field(line, json_field);
      } catch (const std::invalid_argument& e) {
        GLM3D_USAGE_FAIL() << "input file " << path << " line " << line_no
                           << ": not a JSON object with a string field '" << json_field << "': " << e.what();
      }
      if (text.find_first_not_of(" \t\r\n") != std::string::npos)
        docs.push_back(std::move(text));
    }
  }
  GLM3D_USAGE_CHECK(!docs.empty()) << "input file " << path << ": no documents (empty input)";
  return docs;
}

} // namespace glm3d
