#include "core/json.h"

#include "core/check.h"

#include <cstdio>
#include <cstdlib>

namespace glm3d::json {

const Value* Value::find(const std::string& key) const {
  if (kind != Kind::object)
    return nullptr;
  const auto it = fields.find(key);
  return it == fields.end() ? nullptr : &it->second;
}

int64_t Value::as_i64() const {
  GLM3D_USAGE_CHECK(kind == Kind::number && text.find_first_of(".eE") == std::string::npos)
      << "expected an integer, got '" << text << "'";
  return std::strtoll(text.c_str(), nullptr, 10);
}

double Value::as_f64() const {
  GLM3D_USAGE_CHECK(kind == Kind::number) << "expected a number, got '" << text << "'";
  return std::strtod(text.c_str(), nullptr);
}

namespace {

struct Parser {
  const std::string& s;
  const std::string& what;
  size_t i = 0;

  [[noreturn]] void fail(const char* why) const {
    GLM3D_USAGE_FAIL() << what << ": malformed JSON (" << why << ") at offset " << i;
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
      ++i;
  }
  bool eat(char c) {
    ws();
    if (i < s.size() && s[i] == c) {
      ++i;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c))
      fail("unexpected character");
  }
  static void utf8(std::string& out, uint32_t cp) {
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
  uint32_t hex4() {
    if (i + 4 > s.size())
      fail("short \\u escape");
    const uint32_t v = uint32_t(std::strtoul(s.substr(i, 4).c_str(), nullptr, 16));
    i += 4;
    return v;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (true) {
      if (i >= s.size())
        fail("unterminated string");
      const char c = s[i++];
      if (c == '"')
        return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size())
        fail("unterminated escape");
      const char e = s[i++];
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
        if (cp >= 0xD800 && cp < 0xDC00 && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
          i += 2;
          cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
        }
        utf8(out, cp);
        break;
      }
      default:
        fail("bad escape");
      }
    }
  }
  Value value(int depth) {
    if (depth > 64)
      fail("nesting too deep");
    ws();
    if (i >= s.size())
      fail("unexpected end");
    Value v;
    const char c = s[i];
    if (c == '{') {
      ++i;
      v.kind = Value::Kind::object;
      if (eat('}'))
        return v;
      do {
        ws();
        std::string key = string();
        expect(':');
        v.fields[key] = value(depth + 1);
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i;
      v.kind = Value::Kind::array;
      if (eat(']'))
        return v;
      do
        v.items.push_back(value(depth + 1));
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Value::Kind::string;
      v.text = string();
    } else if (s.compare(i, 4, "true") == 0) {
      i += 4, v.kind = Value::Kind::boolean, v.b = true;
    } else if (s.compare(i, 5, "false") == 0) {
      i += 5, v.kind = Value::Kind::boolean;
    } else if (s.compare(i, 4, "null") == 0) {
      i += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t b = i;
      while (i < s.size() && (std::isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '+' ||
                              s[i] == '.' || s[i] == 'e' || s[i] == 'E'))
        ++i;
      v.kind = Value::Kind::number;
      v.text = s.substr(b, i - b);
    } else {
      fail("unexpected character");
    }
    return v;
  }
};

} // namespace

Value parse(const std::string& text, const std::string& what) {
  Parser p{text, what};
  Value v = p.value(0);
  p.ws();
  if (p.i != text.size())
    p.fail("trailing characters");
  return v;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\')
      out += '\\', out += c;
    else if ((unsigned char)c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else
      out += c;
  }
  return out + "\"";
}

} // namespace glm3d::json
