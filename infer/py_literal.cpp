#include "infer/py_literal.h"

#include "data/py_str.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace glm3d {

namespace {

using Json = nlohmann::ordered_json;

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || uint8_t(c) >= 0x80;
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

class Parser {
public:
  explicit Parser(std::string_view s) : s_(s) {}

  Json top() {
    Json v = value();
    skip();
    if (i_ < s_.size())
      fail("unexpected '" + std::string(1, s_[i_]) + "' after the value");
    return v;
  }

private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::invalid_argument(
        what + " at offset " + std::to_string(i_) +
        " of the tool call's code (glm3d reads Python literals and tool_call(name=value, "
        "...) only; it does not run Python)");
  }
  char peek(size_t k = 0) const { return i_ + k < s_.size() ? s_[i_ + k] : '\0'; }
  void skip() {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f')
        ++i_;
      else if (c == '\\' && (peek(1) == '\n' || (peek(1) == '\r' && peek(2) == '\n')))
        i_ += peek(1) == '\n' ? 2 : 3;
      else if (c == '#')
        fail("a comment");
      else
        return;
    }
  }
  void expect(char c) {
    skip();
    if (peek() != c)
      fail(std::string("expected '") + c + "'");
    ++i_;
  }

  Json value() {
    struct Depth { // containers and calls nest through value(): a bounded recursion
      int& d;
      explicit Depth(int& x) : d(++x) {}
      ~Depth() { --d; }
    } depth(depth_);
    if (depth_ > k_max_depth)
      fail("nesting deeper than " + std::to_string(k_max_depth) + " (Python's parser refuses it too)");
    skip();
    const char c = peek();
    if (c == '\0')
      fail("the code ends where a value was expected");
    if (c == '[')
      return sequence(']');
    if (c == '(')
      return parenthesized();
    if (c == '{')
      return dict();
    if (c == '-' || c == '+' || is_digit(c) || (c == '.' && is_digit(peek(1))))
      return number();
    if (c == '\'' || c == '"')
      return strings();
    if (is_name_start(c))
      return name_value();
    fail("'" + std::string(1, c) + "' starts no literal");
  }

  Json sequence(char close) { // after-open list of values, trailing comma allowed
    ++i_;
    Json a = Json::array();
    for (skip(); peek() != close; skip()) {
      a.push_back(value());
      skip();
      if (peek() == ',')
        ++i_;
      else if (peek() != close)
        fail(std::string("expected ',' or '") + close + "'");
    }
    ++i_;
    return a;
  }

  Json parenthesized() { // (x) is x; (), (x,), (x, y) are tuples
    const size_t open = i_++;
    skip();
    if (peek() == ')')
      return ++i_, Json::array();
    Json first = value();
    skip();
    if (peek() == ')')
      return ++i_, first;
    i_ = open;
    return sequence(')');
  }

  Json dict() {
    ++i_;
    Json d = Json::object();
    for (skip(); peek() != '}'; skip()) {
      const Json k = value();
      skip();
      if (peek() != ':')
        fail(d.empty() ? "a set (or an expression) where a dict was expected" : "expected ':'");
      if (!k.is_string())
        fail("a dict key that is not a string (" + k.dump() + "; JSON keys are strings)");
      ++i_;
      d[k.get<std::string>()] = value();
      skip();
      if (peek() == ',')
        ++i_;
      else if (peek() != '}')
        fail("expected ',' or '}'");
    }
    ++i_;
    return d;
  }

  std::string name() {
    const size_t a = i_;
    while (i_ < s_.size() && is_name_char(s_[i_]))
      ++i_;
    return std::string(s_.substr(a, i_ - a));
  }

  Json name_value() {
    const size_t at = i_;
    if ((peek() == 'r' || peek() == 'R' || peek() == 'u' || peek() == 'U') &&
        (peek(1) == '\'' || peek(1) == '"'))
      return strings();
    const std::string n = name();
    if (peek() == '\'' || peek() == '"')
      i_ = at, fail("a string with prefix '" + n + "' (bytes and f-strings are not literals glm3d reads)");
    if (n == "True" || n == "False")
      return n == "True";
    if (n == "None")
      return nullptr;
    skip();
    if (n == "tool_call" && peek() == '(')
      return call();
    i_ = at;
    fail("the name '" + n + "'");
  }

  Json call() { // tool_call(**kwargs) returns kwargs
    ++i_;
    Json args = Json::object();
    for (skip(); peek() != ')'; skip()) {
      const size_t at = i_;
      const std::string key = is_name_start(peek()) ? name() : "";
      skip();
      if (key.empty() || peek() != '=' || peek(1) == '=')
        i_ = at, fail("a positional argument (tool_call takes keyword arguments only)");
      if (args.contains(key))
        i_ = at, fail("keyword argument '" + key + "' repeated");
      ++i_;
      args[key] = value();
      skip();
      if (peek() == ',')
        ++i_;
      else if (peek() != ')')
        fail("expected ',' or ')'");
    }
    ++i_;
    return args;
  }

  Json strings() { // adjacent literals join
    std::string out = string_literal();
    for (skip(); peek() == '\'' || peek() == '"' ||
                 ((peek() == 'r' || peek() == 'R' || peek() == 'u' || peek() == 'U') &&
                  (peek(1) == '\'' || peek(1) == '"'));
         skip())
      out += string_literal();
    return out;
  }

  std::string string_literal();
  void escape(std::string& out);
  Json number();

  static constexpr int k_max_depth = 200; // CPython's parser: "too many nested parentheses"
  std::string_view s_;
  size_t i_ = 0;
  int depth_ = 0;
};

std::string Parser::string_literal() {
  bool raw = false;
  if (peek() != '\'' && peek() != '"')
    raw = peek() == 'r' || peek() == 'R', ++i_;
  const char q = peek();
  const bool triple = peek(1) == q && peek(2) == q;
  i_ += triple ? 3 : 1;
  std::string out;
  for (;;) {
    if (i_ >= s_.size())
      fail("an unterminated string");
    const char c = s_[i_];
    if (c == q && (!triple || (peek(1) == q && peek(2) == q))) {
      i_ += triple ? 3 : 1;
      return out;
    }
    if (c == '\n' && !triple)
      fail("a newline inside a one-line string");
    if (c != '\\') {
      out += c, ++i_;
    } else if (raw) { // the backslash stays; the next character cannot end the string
      out += c, ++i_;
      if (i_ < s_.size())
        out += s_[i_], ++i_;
    } else {
      escape(out);
    }
  }
}

void Parser::escape(std::string& out) {
  const size_t at = i_++;
  const char e = peek();
  auto hex = [&](int n) {
    uint32_t v = 0;
    for (int k = 0; k < n; ++k) {
      const char h = peek();
      const int d = is_digit(h)              ? h - '0'
                    : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                    : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                             : -1;
      if (d < 0)
        i_ = at, fail("a truncated \\x, \\u or \\U escape");
      v = v * 16 + uint32_t(d), ++i_;
    }
    return v;
  };
  static const std::string simple = "\\'\"abfnrtv", to = "\\'\"\a\b\f\n\r\t\v";
  if (e == '\n') {
    ++i_;
  } else if (simple.find(e) != std::string::npos) {
    out += to[simple.find(e)], ++i_;
  } else if (e >= '0' && e <= '7') {
    uint32_t v = 0;
    for (int k = 0; k < 3 && peek() >= '0' && peek() <= '7'; ++k)
      v = v * 8 + uint32_t(peek() - '0'), ++i_;
    py::append_utf8(out, v);
  } else if (e == 'x' || e == 'u' || e == 'U') {
    ++i_;
    const uint32_t v = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
      i_ = at, fail("an escape of no Unicode character (a surrogate or beyond U+10FFFF)");
    py::append_utf8(out, v);
  } else if (e == 'N') {
    fail("a \\N{...} escape");
  } else { // Python keeps an unknown escape as written
    out += '\\';
  }
}

Json Parser::number() {
  const size_t at = i_;
  bool negative = false;
  while (peek() == '-' || peek() == '+') {
    negative ^= peek() == '-';
    ++i_;
    skip();
  }
  const size_t a = i_;
  while (is_name_char(peek()) || peek() == '.' ||
         ((peek() == '-' || peek() == '+') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E') &&
          !(s_[a] == '0' && (s_[a + 1] == 'x' || s_[a + 1] == 'X'))))
    ++i_;
  std::string t(s_.substr(a, i_ - a));
  if (t.empty() || !(is_digit(t[0]) || t[0] == '.'))
    i_ = at, fail("a sign before something that is not a number");
  for (size_t k = 0; k < t.size(); ++k) // underscores only between digits
    if (t[k] == '_' && (k == 0 || k + 1 == t.size() || !std::isxdigit(uint8_t(t[k - 1])) ||
                        !std::isxdigit(uint8_t(t[k + 1]))))
      i_ = at, fail("a misplaced '_' in the number '" + t + "'");
  std::string d;
  for (char c : t)
    if (c != '_')
      d += c;
  const bool is_float =
      d.find_first_of(".eE") != std::string::npos && !(d.size() > 1 && (d[1] == 'x' || d[1] == 'X'));
  if (is_float) {
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(d.c_str(), &end);
    if (end != d.c_str() + d.size() || d.find_first_of("xXpPnN") != std::string::npos)
      i_ = at, fail("the number '" + t + "'");
    if (!std::isfinite(v))
      i_ = at, fail("the float '" + t + "', beyond a double (JSON has no infinity)");
    return negative ? -v : v;
  }
  int base = 10;
  std::string digits = d;
  if (d.size() > 1 && d[0] == '0' && std::string("xXoObB").find(d[1]) != std::string::npos) {
    base = d[1] == 'x' || d[1] == 'X' ? 16 : d[1] == 'o' || d[1] == 'O' ? 8 : 2;
    digits = d.substr(2);
  } else if (d.size() > 1 && d[0] == '0' && d.find_first_not_of('0') != std::string::npos) {
    i_ = at, fail("the number '" + t + "' (leading zeros)");
  }
  char* end = nullptr;
  errno = 0;
  const unsigned long long m = digits.empty() ? 0 : std::strtoull(digits.c_str(), &end, base);
  if (digits.empty() || end != digits.c_str() + digits.size() || digits[0] == '-' || digits[0] == '+')
    i_ = at, fail("the number '" + t + "'");
  if (errno == ERANGE || m > (negative ? 9223372036854775808ull : 9223372036854775807ull))
    i_ = at, fail("the integer '" + t + "', beyond 64 bits");
  return negative ? int64_t(0 - m) : int64_t(m);
}

} // namespace

nlohmann::ordered_json parse_py_literal(std::string_view code) {
  return Parser(code).top();
}

} // namespace glm3d
