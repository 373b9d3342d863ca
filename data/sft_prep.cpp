#include "data/sft_prep.h"

#include "core/check.h"
#include "data/prep_output.h"
#include "data/rng.h"
#include "data/sft_causal.h"
#include "data/sft_store.h"
#include "parallel/agreement.h"

#include <filesystem>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

void check_options(const SftPrepOptions& o) {
  GLM3D_USAGE_CHECK(!o.inputs.empty()) << "glm3d prep sft: no input files (--input FILE.jsonl...)";
  GLM3D_USAGE_CHECK(!o.out_dir.empty()) << "glm3d prep sft: --out DIR is required";
  GLM3D_USAGE_CHECK(!o.tokenizer_path.empty())
      << "glm3d prep sft: --tokenizer is required (a SentencePiece model, a store, or a ChatGLM-6B directory "
         "with ice_text.model and tokenizer_config.json)";
  GLM3D_USAGE_CHECK(!o.keys.prompt.empty() && !o.keys.response.empty())
      << "glm3d prep sft: --prompt-key and --response-key must not be empty";
  if (!o.format.empty())
    parse_sft_format(o.format);
  GLM3D_USAGE_CHECK(o.valid_fraction >= 0 && o.valid_fraction < 1)
      << "glm3d prep sft: --valid-fraction must be in [0, 1), got " << o.valid_fraction;
  GLM3D_USAGE_CHECK(o.skip_bad >= 0) << "glm3d prep sft: --skip-bad must be >= 0, got " << o.skip_bad;
}

// The format: --format, else the tokenizer's own (chatglm2 / chatglm3 for theirs, chatglm for the
// rest); lengths checked for it. UsageError when the tokenizer cannot make it.
SftFormat resolve_format(const SftPrepOptions& o, const TextTokenizer& tok) {
  const std::string kind = tok.kind();
  const SftFormat f = !o.format.empty()    ? parse_sft_format(o.format)
                      : kind == "chatglm2" ? SftFormat::chatglm2
                      : kind == "chatglm3" ? SftFormat::chatglm3
                                           : SftFormat::chatglm;
  GLM3D_USAGE_CHECK(f != SftFormat::chatglm || (kind != "chatglm2" && kind != "chatglm3"))
      << "glm3d prep sft: --format chatglm lays examples out for ChatGLM-6B, but " << o.tokenizer_path
      << " is " << kind << "'s tokenizer: use --format chatglm2 or chatglm3";
  GLM3D_USAGE_CHECK(f != SftFormat::chatglm2 || kind != "chatglm")
      << "glm3d prep sft: --format chatglm2 needs ChatGLM2/3's tokenizer (or glm3d's), not ChatGLM-6B's "
      << o.tokenizer_path;
  GLM3D_USAGE_CHECK(f != SftFormat::chatglm3 || kind == "chatglm3")
      << "glm3d prep sft: --format chatglm3 needs ChatGLM3's tokenizer (its role tokens), but "
      << o.tokenizer_path << " is a " << kind << " tokenizer";
  if (f == SftFormat::chatglm)
    check_sft_lengths(o.max_source_len, o.max_target_len);
  else
    check_causal_sft_lengths(o.max_source_len, o.max_target_len);
  return f;
}

// Reads every input; more bad lines than --skip-bad is a UsageError naming the first.
std::vector<SftRecord> read_records(const SftPrepOptions& o, const SftKeys& keys, SftPrepResult& res) {
  std::vector<SftRecord> records;
  std::vector<SftBadLine> bad;
  for (size_t i = 0; i < o.inputs.size(); ++i)
    read_sft_file(o.inputs[i], int32_t(i), keys, records, bad);
  if (int64_t(bad.size()) > o.skip_bad)
    GLM3D_USAGE_FAIL() << bad.front().message
                       << (bad.size() > 1 || o.skip_bad > 0
                               ? " (" + std::to_string(bad.size()) + " bad lines; --skip-bad " +
                                     std::to_string(o.skip_bad) + " allows " + std::to_string(o.skip_bad) +
                                     ")"
                               : std::string());
  for (const SftBadLine& b : bad)
    res.skipped.push_back(b.message);
  GLM3D_USAGE_CHECK(!records.empty()) << "glm3d prep sft: no examples in the input"
                                      << (bad.empty() ? " (empty files)" : " (every line was bad)");
  return records;
}

// Example ids of the records; rows are built from them when the splits are written.
struct Tokenized {
  std::vector<int32_t> prompt, answer;
  ConversationIds conversation; // chatglm3
};

std::vector<Tokenized> tokenize(const std::vector<SftRecord>& records, const TextTokenizer& tok) {
  std::vector<Tokenized> out(records.size());
  const auto* glm3 = dynamic_cast<const ChatGlm2Tokenizer*>(&tok);
  // Encoding is const and thread-safe (SentencePiece): spread the records over the cores.
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < int64_t(records.size()); ++i) {
    const SftRecord& r = records[size_t(i)];
    if (!r.messages.empty()) {
      out[size_t(i)].conversation = conversation_ids(r.messages, *glm3);
      continue;
    }
    out[size_t(i)].prompt = tok.encode(r.prompt);
    out[size_t(i)].answer = tok.encode(r.answer);
  }
  return out;
}

SftRow build_row(SftFormat f, const Tokenized& t, const SpecialTokens& sp, const SftPrepOptions& o) {
  if (f == SftFormat::chatglm)
    return build_sft_row(t.prompt, t.answer, sp, o.max_source_len, o.max_target_len);
  if (f == SftFormat::chatglm2)
    return build_chatglm2_row(t.prompt, t.answer, sp, o.max_source_len, o.max_target_len);
  return build_chatglm3_row(t.conversation, sp, o.max_source_len + o.max_target_len + 1);
}

nlohmann::json prep_info(const SftPrepOptions& o, const SftKeys& keys, const SftPrepResult& r) {
  return {{"inputs", o.inputs},
          {"format", sft_format_name(keys.format)},
          {"messages_key", keys.messages},
          {"conversations_truncated", r.conversations_truncated},
          {"prompt_key", o.keys.prompt},
          {"response_key", o.keys.response},
          {"history_key", o.keys.history},
          {"source_prefix", o.keys.source_prefix},
          {"valid_fraction", o.valid_fraction},
          {"split_seed", o.split_seed},
          {"skipped_lines", r.skipped.size()},
          {"prompts_truncated", r.prompts_truncated},
          {"answers_truncated", r.answers_truncated}};
}

// Everything on rank 0: read, tokenize, split, write into tmp.
void prep_into(const SftPrepOptions& o, const std::string& tmp, SftPrepResult& res) {
  const std::unique_ptr<TextTokenizer> tok = load_text_tokenizer(o.tokenizer_path, o.tokenizer_kind);
  SftKeys keys = o.keys;
  keys.format = resolve_format(o, *tok);
  const std::vector<SftRecord> records = read_records(o, keys, res);
  const std::vector<Tokenized> ids = tokenize(records, *tok);
  const SpecialTokens& sp = tok->special();
  std::vector<int64_t> split[2]; // train, valid: record indices in input order
  for (size_t i = 0; i < records.size(); ++i) {
    KeyedRng rng(o.split_seed, uint64_t(records[i].file_index), uint64_t(records[i].line));
    split[rng.uniform() < o.valid_fraction ? 1 : 0].push_back(int64_t(i));
    const SftRow row = build_row(keys.format, ids[i], sp, o); // only its truncation flags are kept
    res.prompts_truncated += row.prompt_truncated;
    res.answers_truncated += keys.format != SftFormat::chatglm3 && row.answer_truncated;
    res.conversations_truncated += keys.format == SftFormat::chatglm3 && row.answer_truncated;
  }
  SftManifest m;
  m.layout = keys.format == SftFormat::chatglm ? "glm" : "causal";
  m.vocab_size = tok->vocab_size();
  m.max_source_len = o.max_source_len;
  m.max_target_len = o.max_target_len;
  m.seq_len = o.max_source_len + o.max_target_len + (m.causal() ? 1 : 0);
  m.tokenizer_kind = tok->kind();
  m.tokenizer_sha256 = tok->sha256();
  m.special = sp;
  for (const auto& [name, bytes] : tok->files()) {
    m.tokenizer_files.push_back(name);
    write_file_bytes((fs::path(tmp) / name).string(), bytes);
  }
  const char* names[2] = {"train", "valid"};
  for (int s = 0; s < 2; ++s) {
    if (split[s].empty())
      continue;
    m.splits.push_back(write_sft_split(
        tmp, names[s], int64_t(split[s].size()), m.seq_len,
        [&](int64_t k) {
          const size_t i = size_t(split[s][size_t(k)]);
          SftRow row = build_row(keys.format, ids[i], sp, o);
          row.source_file = records[i].file_index;
          row.source_line = records[i].line;
          return row;
        },
        m));
  }
  GLM3D_USAGE_CHECK(!split[0].empty()) << "glm3d prep sft: every one of the " << records.size()
                                       << " examples went to the valid split; lower --valid-fraction";
  res.files = int64_t(o.inputs.size());
  res.records = int64_t(records.size());
  res.train = int64_t(split[0].size());
  res.valid = int64_t(split[1].size());
  res.seq_len = m.seq_len;
  res.vocab_size = m.vocab_size;
  res.tokenizer_kind = m.tokenizer_kind;
  res.tokenizer_sha256 = m.tokenizer_sha256;
  res.format = sft_format_name(keys.format);
  m.prep = prep_info(o, keys, res);
  write_sft_manifest(tmp, m);
}

} // namespace

SftPrepResult run_prep_sft(const SftPrepOptions& opts, MPI_Comm comm) {
  run_agreed(comm, [&] { check_options(opts); });
  std::string tmp;
  run_on_root(comm, 0, [&] {
    check_prep_output(opts.out_dir, opts.overwrite, opts.inputs, k_sft_manifest_name, "an SFT store",
                      "glm3d prep sft");
    tmp = make_temp_store_dir(opts.out_dir);
  });
  SftPrepResult res;
  run_on_root(comm, 0, [&] {
    try {
      prep_into(opts, tmp, res);
      install_store(tmp, opts.out_dir);
    } catch (...) {
      std::error_code ec;
      fs::remove_all(tmp, ec);
      throw;
    }
  });
  return res; // filled on rank 0 only
}

} // namespace glm3d
