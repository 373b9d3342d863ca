#include "data/sft_prep.h"

#include "core/check.h"
#include "data/prep_output.h"
#include "data/rng.h"
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
  check_sft_lengths(o.max_source_len, o.max_target_len);
  GLM3D_USAGE_CHECK(o.valid_fraction >= 0 && o.valid_fraction < 1)
      << "glm3d prep sft: --valid-fraction must be in [0, 1), got " << o.valid_fraction;
  GLM3D_USAGE_CHECK(o.skip_bad >= 0) << "glm3d prep sft: --skip-bad must be >= 0, got " << o.skip_bad;
}

// Reads every input; more bad lines than --skip-bad is a UsageError naming the first.
std::vector<SftRecord> read_records(const SftPrepOptions& o, SftPrepResult& res) {
  std::vector<SftRecord> records;
  std::vector<SftBadLine> bad;
  for (size_t i = 0; i < o.inputs.size(); ++i)
    read_sft_file(o.inputs[i], int32_t(i), o.keys, records, bad);
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
};

std::vector<Tokenized> tokenize(const std::vector<SftRecord>& records, const TextTokenizer& tok) {
  std::vector<Tokenized> out(records.size());
  // Encoding is const and thread-safe (SentencePiece): spread the records over the cores.
#pragma omp parallel for schedule(dynamic, 64)
  for (int64_t i = 0; i < int64_t(records.size()); ++i) {
    out[size_t(i)].prompt = tok.encode(records[size_t(i)].prompt);
    out[size_t(i)].answer = tok.encode(records[size_t(i)].answer);
  }
  return out;
}

nlohmann::json prep_info(const SftPrepOptions& o, const SftPrepResult& r) {
  return {{"inputs", o.inputs},
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
  const std::unique_ptr<TextTokenizer> tok = load_text_tokenizer(o.tokenizer_path);
  const std::vector<SftRecord> records = read_records(o, res);
  const std::vector<Tokenized> ids = tokenize(records, *tok);
  const SpecialTokens& sp = tok->special();
  std::vector<int64_t> split[2]; // train, valid: record indices in input order
  for (size_t i = 0; i < records.size(); ++i) {
    KeyedRng rng(o.split_seed, uint64_t(records[i].file_index), uint64_t(records[i].line));
    split[rng.uniform() < o.valid_fraction ? 1 : 0].push_back(int64_t(i));
    res.prompts_truncated += int64_t(ids[i].prompt.size()) > o.max_source_len - 1;
    res.answers_truncated += int64_t(ids[i].answer.size()) > o.max_target_len - 2;
  }
  SftManifest m;
  m.vocab_size = tok->vocab_size();
  m.max_source_len = o.max_source_len;
  m.max_target_len = o.max_target_len;
  m.seq_len = o.max_source_len + o.max_target_len;
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
          SftRow row = build_sft_row(ids[i].prompt, ids[i].answer, sp, o.max_source_len, o.max_target_len);
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
  m.prep = prep_info(o, res);
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
