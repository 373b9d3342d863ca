// sft_manifest.json of an SFT store (data/sft_store.h): written and read with nlohmann/json.
#include "core/check.h"
#include "core/json_int.h"
#include "data/checksum.h"
#include "data/sft_store.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

// Bounds on what a manifest may declare: lengths of a row's halves (16M tokens each), examples per
// split; rows * seq_len stays far below 2^63.
constexpr int64_t k_max_manifest_int = int64_t(1) << 24;
constexpr int64_t k_max_examples = int64_t(1) << 36;

const char* k_special_names[] = {"mask", "gmask", "smask", "sop", "eop", "eos", "pad"};
int32_t* special_field(SpecialTokens& s, int i) {
  int32_t* f[] = {&s.mask, &s.gmask, &s.smask, &s.sop, &s.eop, &s.eos, &s.pad};
  return f[i];
}

} // namespace

const SftSplitInfo* SftManifest::split(const std::string& name) const {
  for (const SftSplitInfo& s : splits)
    if (s.name == name)
      return &s;
  return nullptr;
}

bool is_sft_store(const std::string& dir) {
  std::error_code ec;
  return fs::is_regular_file(fs::path(dir) / k_sft_manifest_name, ec);
}

void write_sft_manifest(const std::string& dir, const SftManifest& m) {
  nlohmann::ordered_json j;
  j["format"] = "glm3d-sft";
  j["format_version"] = m.causal() ? k_sft_causal_format_version : k_sft_format_version;
  if (m.causal())
    j["layout"] = m.layout;
  j["vocab_size"] = m.vocab_size;
  j["max_source_len"] = m.max_source_len;
  j["max_target_len"] = m.max_target_len;
  j["seq_len"] = m.seq_len;
  j["tokenizer"] = {{"kind", m.tokenizer_kind}, {"files", m.tokenizer_files}, {"sha256", m.tokenizer_sha256}};
  SpecialTokens s = m.special;
  for (int i = 0; i < 7; ++i)
    j["special_ids"][k_special_names[i]] = *special_field(s, i);
  j["prep"] = m.prep;
  for (const SftSplitInfo& sp : m.splits) {
    nlohmann::ordered_json e = {{"file", sp.file}, {"examples", sp.examples}};
    for (const auto& [name, crc] : sp.crc32)
      e["crc32"][name] = crc32_hex(crc);
    j["splits"][sp.name] = e;
  }
  const std::string path = (fs::path(dir) / k_sft_manifest_name).string();
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  out.close();
  GLM3D_USAGE_CHECK(out.good()) << "cannot write SFT store manifest " << path;
}

SftManifest read_sft_manifest(const std::string& dir) {
  const std::string path = (fs::path(dir) / k_sft_manifest_name).string();
  // An integer field within [lo, hi]: bounded before any arithmetic (seq_len = max_source_len +
  // max_target_len, rows of seq_len tokens) or allocation; no float or 2^64 is converted.
  auto integer = [&](const nlohmann::json& v, const char* key, int64_t lo = 0,
                     int64_t hi = k_max_manifest_int) -> int64_t {
    const std::optional<int64_t> x = json_int64(v);
    GLM3D_USAGE_CHECK(x && *x >= lo && *x <= hi)
        << "SFT store manifest " << path << ": " << key << " must be an integer in " << lo << ".." << hi
        << ", got " << v.dump();
    return *x;
  };
  GLM3D_USAGE_CHECK(fs::is_directory(dir)) << "SFT store " << dir << " is not a directory";
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in.good()) << "SFT store manifest " << path << " is missing or unreadable";
  std::ostringstream os;
  os << in.rdbuf();
  SftManifest m;
  try {
    const nlohmann::json j = nlohmann::json::parse(os.str());
    GLM3D_USAGE_CHECK(j.at("format") == "glm3d-sft")
        << "SFT store manifest " << path << ": format is " << j.at("format").dump() << ", not \"glm3d-sft\"";
    m.format_version = integer(j.at("format_version"), "format_version", 0, INT64_MAX);
    GLM3D_USAGE_CHECK(m.format_version == k_sft_format_version ||
                      m.format_version == k_sft_causal_format_version)
        << "SFT store manifest " << path << " has format_version " << m.format_version << ", expected "
        << k_sft_format_version << " or " << k_sft_causal_format_version;
    m.layout = m.format_version == k_sft_format_version ? "glm" : j.at("layout").get<std::string>();
    GLM3D_USAGE_CHECK(m.layout == "glm" || m.layout == "causal")
        << "SFT store manifest " << path << ": layout " << nlohmann::json(m.layout).dump()
        << " is neither \"glm\" nor \"causal\"";
    m.vocab_size = integer(j.at("vocab_size"), "vocab_size", 1, INT32_MAX);
    m.max_source_len = integer(j.at("max_source_len"), "max_source_len");
    m.max_target_len = integer(j.at("max_target_len"), "max_target_len");
    m.seq_len = integer(j.at("seq_len"), "seq_len", 0, 2 * k_max_manifest_int);
    m.tokenizer_kind = j.at("tokenizer").at("kind").get<std::string>();
    m.tokenizer_files = j.at("tokenizer").at("files").get<std::vector<std::string>>();
    m.tokenizer_sha256 = j.at("tokenizer").at("sha256").get<std::string>();
    for (const std::string& name : m.tokenizer_files) // files beside the manifest, nothing else
      GLM3D_USAGE_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..")
          << "SFT store manifest " << path << ": tokenizer file " << nlohmann::json(name).dump()
          << " is not a file name";
    for (int i = 0; i < 7; ++i)
      *special_field(m.special, i) =
          int32_t(integer(j.at("special_ids").at(k_special_names[i]), k_special_names[i], 0, INT32_MAX));
    m.prep = j.value("prep", nlohmann::json::object());
    for (const auto& [name, e] : j.at("splits").items()) {
      SftSplitInfo s;
      s.name = name;
      s.file = e.at("file").get<std::string>();
      s.examples = integer(e.at("examples"), "examples", 1, k_max_examples);
      for (const auto& [ds, crc] : e.at("crc32").items())
        s.crc32[ds] = uint32_t(std::stoul(crc.get<std::string>(), nullptr, 16));
      GLM3D_USAGE_CHECK(s.file.find('/') == std::string::npos && s.examples >= 1)
          << "SFT store manifest " << path << ": split " << name << " is malformed";
      m.splits.push_back(std::move(s));
    }
  } catch (const nlohmann::json::exception& e) {
    GLM3D_USAGE_FAIL() << "SFT store manifest " << path << " is malformed: " << e.what();
  } catch (const std::logic_error& e) { // std::stoul
    GLM3D_USAGE_FAIL() << "SFT store manifest " << path << " is malformed: bad crc32 (" << e.what() << ")";
  }
  GLM3D_USAGE_CHECK(m.seq_len == m.max_source_len + m.max_target_len + (m.causal() ? 1 : 0) &&
                    !m.splits.empty())
      << "SFT store manifest " << path << " is inconsistent (seq_len " << m.seq_len << ", max_source_len "
      << m.max_source_len << ", max_target_len " << m.max_target_len << ", " << m.splits.size() << " splits)";
  return m;
}

} // namespace glm3d
