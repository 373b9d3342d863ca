#pragma once
// SentencePiece tokenizer with the GLM special tokens. A trained tokenizer reserves them as
// control pieces (never produced from raw text, so a literal "[MASK]" in a document stays text):
//   <pad>=0 <unk>=1 <eos>=2 [MASK]=3 [gMASK]=4 [sMASK]=5 <sop>=6 <eop>=7
// Code never relies on those numbers: ids are looked up by piece name (SpecialTokens).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace glm3d {

struct SpecialTokens {
  int32_t mask = -1, gmask = -1, smask = -1, sop = -1, eop = -1, eos = -1, pad = -1;
};

// Piece names of the special tokens, in the order a trained tokenizer reserves them.
inline constexpr const char* k_pad_piece = "<pad>";
inline constexpr const char* k_unk_piece = "<unk>";
inline constexpr const char* k_eos_piece = "<eos>";
inline constexpr const char* k_control_pieces[] = {"[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>"};

class Tokenizer {
public:
  // A tokenizer model file (SentencePiece .model). UsageError naming the file when it is
  // unreadable, not a model, or lacks one of the special tokens.
  static Tokenizer load(const std::string& model_path);
  // From the serialized model proto; `origin` names it in error messages.
  static Tokenizer from_bytes(std::string serialized, const std::string& origin);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  const std::string& model_bytes() const { return bytes_; }
  const std::string& sha256() const { return sha256_; } // identity of the tokenizer (hex)
  int64_t vocab_size() const;
  const SpecialTokens& special() const { return special_; }

  std::vector<int32_t> encode(std::string_view text) const;
  // Like encode, but the literal special-token names in `text` ("[MASK]", "[gMASK]", ...)
  // become their ids: for prompts written by a user (generation), never for training text.
  std::vector<int32_t> encode_with_special_tokens(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string piece(int32_t id) const;

  // [vocab] 1 where the token's piece ends a sentence (ends in . ! ? 。 ！ ？ ; or is <eos>).
  std::vector<uint8_t> sentence_end_table() const;

private:
  Tokenizer() = default;
  std::string bytes_, sha256_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  SpecialTokens special_;
};

// The number of pieces of any SentencePiece model file (e.g. ChatGLM2/3's tokenizer.model, whose
// special tokens are numbered after them); UsageError naming the file when it is not one.
int64_t sentencepiece_piece_count(const std::string& model_path);

struct TokenizerTrainOptions {
  int vocab_size = 8000;
  std::string model_type = "unigram"; // unigram | bpe
  double character_coverage = 0.9995; // the rest goes through byte fallback
  int num_threads = 2;
  int64_t max_sentences = 2000000; // SentencePiece input_sentence_size (sampled when larger)
};

// Trains a SentencePiece model with byte fallback and the special tokens on the lines of
// `docs`; returns the serialized model. UsageError when SentencePiece rejects the input.
std::string train_tokenizer(const std::vector<std::string>& docs, const TokenizerTrainOptions& opts);

} // namespace glm3d
