#include "data/text_input.h"

#include "core/check.h"
#include "core/json_error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace glm3d {

InputFormat parse_input_format(const std::string& name) {
  if (name == "auto")
    return InputFormat::auto_detect;
  if (name == "text")
    return InputFormat::text;
  if (name == "lines")
    return InputFormat::lines;
  if (name == "jsonl")
    return InputFormat::jsonl;
  GLM3D_USAGE_FAIL() << "unknown --format '" << name << "' (expected auto, text, lines or jsonl)";
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

bool is_blank_line(std::string_view line) {
  return line.find_first_not_of(" \t\f\v") == std::string_view::npos;
}

std::vector<std::string> split_text_documents(std::string_view text) {
  std::vector<std::string> docs;
  std::string cur;
  auto flush = [&] {
    if (!cur.empty())
      docs.push_back(std::move(cur));
    cur.clear();
  };
  for_each_line(text, [&](std::string_view line, size_t) {
    if (is_blank_line(line)) {
      flush();
      return;
    }
    if (!cur.empty())
      cur += '\n';
    cur.append(line);
  });
  flush();
  return docs;
}

std::vector<std::string> split_line_documents(std::string_view text) {
  std::vector<std::string> docs;
  for_each_line(text, [&](std::string_view line, size_t) {
    if (!is_blank_line(line))
      docs.emplace_back(line);
  });
  return docs;
}

namespace {

const char* k_json_field_hint = "; name the document's field with --json-field";

// nlohmann's what() without its "[json.exception.parse_error.101] parse error at line 1, "
// prefix (a JSONL record is one line): "at column 7: syntax error ...", or without the
// "[json.exception.out_of_range.406] " of a number beyond double's range.
std::string json_reason(const std::exception& e) {
  const std::string m = e.what();
  const size_t at = m.find("column ");
  return at == std::string::npos ? json_error_text(e) : "at " + m.substr(at);
}

} // namespace

nlohmann::json parse_json_object(std::string_view line) {
  nlohmann::json v;
  try {
    v = nlohmann::json::parse(line.begin(), line.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument("not valid JSON (" + json_reason(e) + ")");
  }
  if (!v.is_object())
    throw std::invalid_argument(std::string("a JSON ") + v.type_name() + ", not an object");
  return v;
}

std::string json_string_field(std::string_view line, std::string_view field) {
  nlohmann::json v;
  try {
    v = parse_json_object(line);
  } catch (const std::invalid_argument& e) {
    const bool syntax = std::string_view(e.what()).rfind("not valid JSON", 0) == 0;
    throw std::invalid_argument(std::string(e.what()) + "; JSONL holds one JSON object per line" +
                                (syntax ? " (--format text or lines reads plain text)" : ""));
  }
  const auto f = v.find(field);
  if (f == v.end()) {
    std::string have;
    for (const auto& [key, value] : v.items())
      if (value.is_string())
        have += (have.empty() ? "" : ", ") + nlohmann::json(key).dump();
    throw std::invalid_argument("no field '" + std::string(field) + "' (" +
                                (have.empty() ? std::string("the object has no string field")
                                              : "the object's string fields: " + have) +
                                ")" + k_json_field_hint);
  }
  if (!f->is_string())
    throw std::invalid_argument("field '" + std::string(field) + "' is " +
                                (f->is_array() || f->is_object() ? "an " : "a ") + f->type_name() +
                                ", not a string" + k_json_field_hint);
  return f->get<std::string>();
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with_bytes(std::string_view s, std::string_view magic) {
  return s.substr(0, magic.size()) == magic;
}

// Compressed formats prep does not read, told by their magic bytes: (magic, name, tool).
struct Magic {
  std::string_view bytes;
  const char *name, *tool;
};
const Magic k_unsupported[] = {{std::string_view("BZh", 3), "bzip2", "bunzip2"},
                               {std::string_view("\xFD"
                                                 "7zXZ\0",
                                                 6),
                                "xz", "unxz"},
                               {std::string_view("\x28\xB5\x2F\xFD", 4), "zstd", "unzstd"},
                               {std::string_view("\x04\x22\x4D\x18", 4), "lz4", "unlz4"},
                               {std::string_view("PK\x03\x04", 4), "zip", "unzip"}};

const Magic* unsupported_compression(std::string_view b) {
  for (const Magic& m : k_unsupported)
    if (starts_with_bytes(b, m.bytes) && (m.bytes != "BZh" || (b.size() > 3 && b[3] >= '1' && b[3] <= '9')))
      return &m;
  return nullptr;
}

std::string read_input_bytes(const std::string& path, bool& was_gzip) {
  namespace fs = std::filesystem;
  std::error_code ec;
  GLM3D_USAGE_CHECK(!fs::is_directory(path, ec))
      << "input file " << path << " is a directory (give the files in it, e.g. " << path << "/*.txt)";
  std::ifstream in(path, std::ios::binary);
  GLM3D_USAGE_CHECK(in.good()) << "cannot read input file " << path << ": " << std::strerror(errno);
  std::ostringstream os;
  os << in.rdbuf();
  GLM3D_USAGE_CHECK(!in.bad()) << "cannot read input file " << path << ": " << std::strerror(errno);
  std::string bytes = os.str();
  was_gzip = starts_with_bytes(bytes, "\x1F\x8B");
  if (was_gzip)
    return gunzip(bytes, path);
  if (const Magic* m = unsupported_compression(bytes))
    GLM3D_USAGE_FAIL() << "input file " << path << " is " << m->name
                       << "-compressed; glm3d prep reads plain or "
                       << "gzip-compressed text (decompress it first: " << m->tool << " " << path << ")";
  GLM3D_USAGE_CHECK(!ends_with(path, ".gz") || bytes.empty())
      << "input file " << path << " is named .gz but is not gzip-compressed (no gzip magic bytes 1f 8b)";
  return bytes;
}

} // namespace

std::string read_input_bytes(const std::string& path) {
  bool was_gzip = false;
  return read_input_bytes(path, was_gzip);
}

std::vector<std::string> read_documents(const std::string& path, InputFormat format,
                                        const std::string& json_field) {
  bool was_gzip = false;
  const std::string bytes = read_input_bytes(path, was_gzip);
  const char* where = was_gzip ? " of the decompressed text" : "";
  const size_t bad = find_invalid_utf8(bytes);
  if (bad != std::string_view::npos) {
    const size_t line = 1 + size_t(std::count(bytes.begin(), bytes.begin() + ptrdiff_t(bad), '\n'));
    GLM3D_USAGE_FAIL() << "input file " << path << ": invalid UTF-8 at byte " << bad << " (line " << line
                       << ")" << where;
  }
  if (format == InputFormat::auto_detect) {
    const std::string name = ends_with(path, ".gz") ? path.substr(0, path.size() - 3) : path;
    format = ends_with(name, ".jsonl") || ends_with(name, ".json") ? InputFormat::jsonl : InputFormat::text;
  }

  std::vector<std::string> docs;
  if (format == InputFormat::text) {
    docs = split_text_documents(bytes);
  } else if (format == InputFormat::lines) {
    docs = split_line_documents(bytes);
  } else {
    for_each_line(bytes, [&](std::string_view line, size_t number) {
      if (is_blank_line(line))
        return;
      std::string text;
      try {
        text = json_string_field(line, json_field);
      } catch (const std::invalid_argument& e) {
        GLM3D_USAGE_FAIL() << "input file " << path << " line " << number << where << ": " << e.what();
      }
      if (text.find_first_not_of(" \t\r\n") != std::string::npos)
        docs.push_back(std::move(text));
    });
  }
  GLM3D_USAGE_CHECK(!docs.empty()) << "input file " << path << ": no documents (empty input"
                                   << (was_gzip ? " after decompression" : "") << ")";
  return docs;
}

} // namespace glm3d
