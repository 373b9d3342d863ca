#include "data/text_input.h"

#include "core/json.h"

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
  json::Value v;
  try {
    v = json::parse(std::string(line), "JSON line");
  } catch (const UsageError& e) {
    throw std::invalid_argument(e.what());
  }
  if (!v.is_object())
    throw std::invalid_argument("not a JSON object");
  const json::Value* f = v.find(std::string(field));
  if (!f)
    throw std::invalid_argument("no field '" + std::string(field) + "'");
  if (f->kind != json::Value::Kind::string)
    throw std::invalid_argument("field '" + std::string(field) + "' is not a string");
  return f->text;
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
