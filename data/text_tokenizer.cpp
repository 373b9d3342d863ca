#include "data/text_tokenizer.h"

#include "core/check.h"
#include "data/chatglm_tokenizer.h"

#include <filesystem>

namespace glm3d {

namespace fs = std::filesystem;

std::unique_ptr<TextTokenizer> load_text_tokenizer(const std::string& path) {
  std::error_code ec;
  GLM3D_USAGE_CHECK(fs::exists(path, ec)) << "tokenizer " << path << " does not exist";
  if (fs::is_directory(path, ec)) {
    if (fs::exists(fs::path(path) / k_chatglm_model_file, ec) ||
        fs::exists(fs::path(path) / k_chatglm_config_file, ec))
      return ChatGlmTokenizer::load(path);
    const fs::path own = fs::path(path) / SentencePieceTextTokenizer::k_tokenizer_file;
    GLM3D_USAGE_CHECK(fs::is_regular_file(own, ec))
        << "tokenizer directory " << path << " holds neither " << k_chatglm_model_file << " + "
        << k_chatglm_config_file << " (ChatGLM-6B) nor " << SentencePieceTextTokenizer::k_tokenizer_file;
    return std::make_unique<SentencePieceTextTokenizer>(Tokenizer::load(own.string()));
  }
  const std::string name = fs::path(path).filename().string();
  if (name == k_chatglm_model_file || name == k_chatglm_config_file)
    return ChatGlmTokenizer::load(fs::path(path).parent_path().string());
  return std::make_unique<SentencePieceTextTokenizer>(Tokenizer::load(path));
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
  GLM3D_USAGE_CHECK(kind == "chatglm")
      << "tokenizer " << origin << ": unknown kind '" << kind << "' (expected sentencepiece or chatglm)";
  return ChatGlmTokenizer::from_bytes(file(k_chatglm_model_file), file(k_chatglm_config_file), origin);
}

} // namespace glm3d
