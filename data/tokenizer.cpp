#include "data/tokenizer.h"

#include "core/check.h"
#include "data/checksum.h"
#include "data/sentencepiece_check.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <fstream>
#include <sstream>
#include <unordered_map>

namespace glm3d {

Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& model_path) {
  std::ifstream in(model_path, std::ios::binary);
  GLM3D_USAGE_CHECK(in.good()) << "cannot read tokenizer file " << model_path;
  std::ostringstream os;
  os << in.rdbuf();
  return from_bytes(os.str(), model_path);
}

Tokenizer Tokenizer::from_bytes(std::string serialized, const std::string& origin) {
  check_sentencepiece_model(serialized, "tokenizer " + origin);
  Tokenizer t;
  t.sp_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = t.sp_->LoadFromSerializedProto(serialized);
  GLM3D_USAGE_CHECK(status.ok()) << "tokenizer " << origin
                                 << " is not a SentencePiece model: " << status.ToString();
  t.bytes_ = std::move(serialized);
  t.sha256_ = sha256_hex(t.bytes_);
  auto id_of = [&](const char* piece) {
    const int id = t.sp_->PieceToId(piece);
    GLM3D_USAGE_CHECK(id >= 0 && t.sp_->IdToPiece(id) == piece)
        << "tokenizer " << origin << " lacks the special token " << piece
        << " (train one with glm3d prep --train-tokenizer)";
    return int32_t(id);
  };
  t.special_.pad = id_of(k_pad_piece);
  t.special_.eos = id_of(k_eos_piece);
  t.special_.mask = id_of(k_control_pieces[0]);
  t.special_.gmask = id_of(k_control_pieces[1]);
  t.special_.smask = id_of(k_control_pieces[2]);
  t.special_.sop = id_of(k_control_pieces[3]);
  t.special_.eop = id_of(k_control_pieces[4]);
  return t;
}

int64_t sentencepiece_piece_count(const std::string& model_path) {
  sentencepiece::SentencePieceProcessor sp;
  const auto status = sp.Load(model_path);
  GLM3D_USAGE_CHECK(status.ok()) << "tokenizer " << model_path
                                 << " is not a SentencePiece model: " << status.ToString();
  return sp.GetPieceSize();
}

int64_t Tokenizer::vocab_size() const {
  return sp_->GetPieceSize();
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  const auto status = sp_->Encode(text, &ids);
  GLM3D_CHECK(status.ok()) << "SentencePiece encode failed: " << status.ToString();
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::vector<int32_t> Tokenizer::encode_with_special_tokens(std::string_view text) const {
  const std::pair<const char*, int32_t> names[] = {
      {k_control_pieces[0], special_.mask},  {k_control_pieces[1], special_.gmask},
      {k_control_pieces[2], special_.smask}, {k_control_pieces[3], special_.sop},
      {k_control_pieces[4], special_.eop},   {k_eos_piece, special_.eos}};
  std::vector<int32_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t best = std::string_view::npos, best_len = 0;
    int32_t best_id = -1;
    for (const auto& [name, id] : names) {
      const size_t at = text.find(name, pos);
      if (at < best)
        best = at, best_len = std::string_view(name).size(), best_id = id;
    }
    const std::string_view plain =
        text.substr(pos, best == std::string_view::npos ? text.size() - pos : best - pos);
    if (!plain.empty()) {
      const auto ids = encode(plain);
      out.insert(out.end(), ids.begin(), ids.end());
    }
    if (best == std::string_view::npos)
      break;
    out.push_back(best_id);
    pos = best + best_len;
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  std::string text;
  const auto status = sp_->Decode(std::vector<int>(ids.begin(), ids.end()), &text);
  GLM3D_CHECK(status.ok()) << "SentencePiece decode failed: " << status.ToString();
  return text;
}

std::string Tokenizer::piece(int32_t id) const {
  return sp_->IdToPiece(id);
}

std::vector<uint8_t> Tokenizer::sentence_end_table() const {
  static const std::string_view enders[] = {
      ".", "!", "?", "\xE3\x80\x82" /* 。 */, "\xEF\xBC\x81" /* ！ */, "\xEF\xBC\x9F" /* ？ */};
  std::vector<uint8_t> table(size_t(vocab_size()), 0);
  for (int id = 0; id < vocab_size(); ++id) {
    if (sp_->IsControl(id) || sp_->IsByte(id) || sp_->IsUnknown(id))
      continue;
    const std::string& p = sp_->IdToPiece(id);
    for (std::string_view e : enders)
      if (p.size() >= e.size() && p.compare(p.size() - e.size(), e.size(), e) == 0)
        table[size_t(id)] = 1;
  }
  table[size_t(special_.eos)] = 1;
  return table;
}

namespace {
// Feeds SentencePiece the non-empty lines of every document.
class LineIterator final : public sentencepiece::SentenceIterator {
public:
  explicit LineIterator(const std::vector<std::string>& docs) : docs_(docs) { advance(); }
  bool done() const override { return doc_ >= docs_.size(); }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }

private:
  void advance() {
    while (doc_ < docs_.size()) {
      const std::string& d = docs_[doc_];
      if (pos_ > d.size()) {
        ++doc_;
        pos_ = 0;
        continue;
      }
      size_t end = d.find('\n', pos_);
      if (end == std::string::npos)
        end = d.size();
      line_ = d.substr(pos_, end - pos_);
      pos_ = end + 1;
      if (!line_.empty())
        return;
    }
  }
  const std::vector<std::string>& docs_;
  size_t doc_ = 0, pos_ = 0;
  std::string line_;
};

std::string join_control_pieces() {
  std::string s;
  for (const char* p : k_control_pieces)
    s += (s.empty() ? "" : ",") + std::string(p);
  return s;
}
} // namespace

std::string train_tokenizer(const std::vector<std::string>& docs, const TokenizerTrainOptions& opts) {
  GLM3D_USAGE_CHECK(opts.vocab_size >= 300) << "--vocab-size must be at least 300 (256 byte pieces + "
                                               "special tokens + text), got "
                                            << opts.vocab_size;
  GLM3D_USAGE_CHECK(opts.model_type == "unigram" || opts.model_type == "bpe")
      << "tokenizer model type must be unigram or bpe, got '" << opts.model_type << "'";
  const std::unordered_map<std::string, std::string> args = {
      {"model_type", opts.model_type},
      {"vocab_size", std::to_string(opts.vocab_size)},
      {"character_coverage", std::to_string(opts.character_coverage)},
      {"byte_fallback", "true"},
      {"hard_vocab_limit", "false"},
      {"split_digits", "true"},
      {"pad_id", "0"},
      {"unk_id", "1"},
      {"eos_id", "2"},
      {"bos_id", "-1"},
      {"pad_piece", k_pad_piece},
      {"unk_piece", k_unk_piece},
      {"eos_piece", k_eos_piece},
      {"control_symbols", join_control_pieces()},
      {"num_threads", std::to_string(opts.num_threads)},
      {"input_sentence_size", std::to_string(opts.max_sentences)},
      {"shuffle_input_sentence", "true"},
      {"minloglevel", "2"},
  };
  LineIterator lines(docs);
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
  GLM3D_USAGE_CHECK(status.ok()) << "tokenizer training failed: " << status.ToString();
  return model;
}

} // namespace glm3d
