#include "data/text_tokenizer.h"

#include "core/check.h"
#include "data/chatglm2_tokenizer.h"
#include "data/chatglm_tokenizer.h"
#include "data/prep_output.h"
#include "data/sft_store.h"

#include <filesystem>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

// A directory: an SFT store (its manifest's kind), ChatGLM-6B's, ChatGLM2/3's or glm3d's files.
std::unique_ptr<TextTokenizer> load_from_dir(const std::string& path, const std::string& kind) {
  std::error_code ec;
  const fs::path dir(path);
  if (is_sft_store(path) && kind.empty()) {
    const SftManifest m = read_sft_manifest(path);
    TokenizerFiles files;
    for (const std::string& name : m.tokenizer_files)
      files.emplace_back(name, read_file_bytes((dir / name).string(), "SFT store tokenizer file"));
    return text_tokenizer_from_files(m.tokenizer_kind, files, path);
  }
  if (fs::exists(dir / k_chatglm_model_file, ec))
    return ChatGlmTokenizer::load(path);
  const bool sp_model = fs::is_regular_file(dir / k_chatglm2_model_file, ec);
  if (fs::exists(dir / k_chatglm2_config_file, ec)) {
    GLM3D_USAGE_CHECK(sp_model) << "tokenizer directory " << path << " holds " << k_chatglm2_config_file
                                << " but neither " << k_chatglm_model_file << " (ChatGLM-6B) nor "
                                << k_chatglm2_model_file << " (ChatGLM2/3)";
    const std::string k = kind.empty() ? kind_of_chatglm2_dir(path) : kind;
    GLM3D_USAGE_CHECK(!k.empty())
        << "tokenizer directory " << path << " holds ChatGLM2's or ChatGLM3's tokenizer, and neither "
        << "tokenization_chatglm.py, tokenizer_config.json's name_or_path nor config.json's _name_or_path "
        << "tells which: give --tokenizer-kind chatglm2 or chatglm3";
    return ChatGlm2Tokenizer::load(path, k);
  }
  GLM3D_USAGE_CHECK(sp_model) << "tokenizer directory " << path << " holds neither " << k_chatglm_model_file
                              << " + " << k_chatglm_config_file << " (ChatGLM-6B), " << k_chatglm2_model_file
                              << " + " << k_chatglm2_config_file << " (ChatGLM2/3) nor "
                              << SentencePieceTextTokenizer::k_tokenizer_file << " (glm3d)";
  return std::make_unique<SentencePieceTextTokenizer>(
      Tokenizer::load((dir / k_chatglm2_model_file).string()));
}

} // namespace

std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& path, const std::string& kind) {
  std::error_code ec;
  GLM3D_USAGE_CHECK(fs::exists(path, ec)) << "tokenizer " << path << " does not exist";
  GLM3D_USAGE_CHECK(kind.empty() || kind == "sentencepiece" || kind == "chatglm" || kind == "chatglm2" ||
                    kind == "chatglm3")
      << "--tokenizer-kind must be sentencepiece, chatglm, chatglm2 or chatglm3, got '" << kind << "'";
  std::unique_ptr<TextTokenizer> t;
  if (fs::is_directory(path, ec)) {
    t = load_from_dir(path, kind == "chatglm2" || kind == "chatglm3" ? kind : "");
  } else {
    const fs::path p(path);
    const std::string name = p.filename().string();
    if (name == k_chatglm_model_file)
      t = ChatGlmTokenizer::load(p.parent_path().string());
    else if (name == k_chatglm2_config_file ||
             ((kind == "chatglm2" || kind == "chatglm3") && name == k_chatglm2_model_file))
      t = load_from_dir(p.parent_path().string(), kind == "chatglm2" || kind == "chatglm3" ? kind : "");
    else
      t = std::make_unique<SentencePieceTextTokenizer>(Tokenizer::load(path));
  }
  GLM3D_USAGE_CHECK(kind.empty() || t->kind() == kind)
      << "tokenizer " << path << " is a " << t->kind() << " tokenizer, not " << kind << " (--tokenizer-kind)";
  return t;
}

std::unique_ptr<TextTokenizer> text_tokenizer_from_files(const std::string& kind, const TokenizerFiles& files,
                                                         const std::string& origin) {
  auto file = [&](const std::string& name) -> std::string {
    for (const auto& [n, bytes] : files)
      if (n == name)
        return bytes;
    GLM3D_USAGE_FAIL() << "tokenizer " << origin << ": no file " << name;
  };
  if (kind == "sentencepiece")
    return std::make_unique<SentencePieceTextTokenizer>(
        Tokenizer::from_bytes(file(SentencePieceTextTokenizer::k_tokenizer_file), origin));
  if (kind == "chatglm2" || kind == "chatglm3")
    return ChatGlm2Tokenizer::from_bytes(kind, file(k_chatglm2_model_file), file(k_chatglm2_config_file),
                                         origin);
  GLM3D_USAGE_CHECK(kind == "chatglm") << "tokenizer " << origin << ": unknown kind '" << kind
                                       << "' (expected sentencepiece, chatglm, chatglm2 or chatglm3)";
  return ChatGlmTokenizer::from_bytes(file(k_chatglm_model_file), file(k_chatglm_config_file), origin);
}

} // namespace glm3d
