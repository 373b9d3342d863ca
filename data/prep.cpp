#include "data/prep.h"

#include "core/check.h"
#include "data/prep_output.h"
#include "data/rng.h"
#include "data/token_store.h"
#include "parallel/agreement.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {
void sum_u64(MPI_Comm comm, uint64_t* v, int n) {
  if (mpi_active())
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_UINT64_T, MPI_SUM, comm);
}

// Concatenation of every rank's string on root (rank order).
std::string gather_strings(MPI_Comm comm, const std::string& mine, int root) {
  if (!mpi_active())
    return mine;
  int rank = 0, size = 1;
  comm_rank_size(comm, rank, size);
  int len = int(mine.size());
  std::vector<int> lens(static_cast<size_t>(size)), displs(static_cast<size_t>(size));
  MPI_Gather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, root, comm);
  int total = 0;
  for (int r = 0; r < size; ++r)
    displs[size_t(r)] = total, total += lens[size_t(r)];
  std::string all(rank == root ? size_t(total) : 0, '\0');
  MPI_Gatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displs.data(), MPI_CHAR, root, comm);
  return all;
}
} // namespace

namespace {

std::string shard_name(size_t file_index, size_t part) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "shard-%05zu-%04zu.h5", file_index, part);
  return buf;
}

// Tokenizes one input file's documents (<eos> after each) and writes its shards.
std::vector<ShardInfo> write_file_shards(const std::vector<std::string>& docs, const Tokenizer& tok,
                                         size_t file_index, const std::string& dir, uint64_t shard_tokens) {
  std::vector<std::vector<int32_t>> ids(docs.size());
  // SentencePiece encoding is const and thread-safe: spread the documents over the cores.
#pragma omp parallel for schedule(dynamic, 16)
  for (int64_t d = 0; d < int64_t(docs.size()); ++d)
    ids[size_t(d)] = tok.encode(docs[size_t(d)]);

  std::vector<ShardInfo> shards;
  std::vector<uint32_t> tokens;
  std::vector<uint64_t> offsets{0};
  auto flush = [&] {
    if (tokens.empty())
      return;
    shards.push_back(write_shard(dir, shard_name(file_index, shards.size()), tokens, offsets,
                                 tok.vocab_size(), tok.sha256()));
    tokens.clear();
    offsets.assign(1, 0);
  };
  for (const auto& doc : ids) {
    tokens.insert(tokens.end(), doc.begin(), doc.end());
    tokens.push_back(uint32_t(tok.special().eos));
    offsets.push_back(tokens.size());
    if (tokens.size() >= shard_tokens)
      flush();
  }
  flush();
  return shards;
}

// train_tokenizer, with SentencePiece's "Vocabulary size is smaller than required_chars. V vs
// N." said in terms of prep's options.
std::string train_tokenizer_for_prep(const std::vector<std::string>& docs, const TokenizerTrainOptions& o) {
  try {
    return train_tokenizer(docs, o);
  } catch (const UsageError& e) {
    const std::string m = e.what();
    const size_t at = m.find(" vs ", m.find("smaller than required_chars"));
    if (at == std::string::npos)
      throw;
    GLM3D_USAGE_FAIL() << "glm3d prep: --vocab-size " << o.vocab_size << " is too small for this input: its "
                       << "characters within --character-coverage " << o.character_coverage
                       << " and the byte and special pieces need " << std::atoll(m.c_str() + at + 4)
                       << "; raise --vocab-size or lower --character-coverage (0.98 at least)";
  }
}

std::string serialize(const std::vector<ShardInfo>& shards) {
  std::ostringstream os;
  for (const ShardInfo& s : shards)
    os << s.file << " " << s.n_tokens << " " << s.n_docs << " " << s.tokens_crc32 << " "
       << s.doc_offsets_crc32 << "\n";
  return os.str();
}

std::vector<ShardInfo> deserialize(const std::string& text) {
  std::vector<ShardInfo> out;
  std::istringstream is(text);
  ShardInfo s;
  while (is >> s.file >> s.n_tokens >> s.n_docs >> s.tokens_crc32 >> s.doc_offsets_crc32)
    out.push_back(s);
  return out;
}

void check_prep_options(const PrepOptions& opts) {
  GLM3D_USAGE_CHECK(!opts.inputs.empty()) << "glm3d prep: no input files (--input FILE...)";
  GLM3D_USAGE_CHECK(!opts.out_dir.empty()) << "glm3d prep: --out DIR is required";
  GLM3D_USAGE_CHECK(opts.train_tokenizer != !opts.tokenizer_path.empty())
      << "glm3d prep: give exactly one of --tokenizer MODEL and --train-tokenizer";
  GLM3D_USAGE_CHECK(opts.shard_tokens > 0) << "glm3d prep: --shard-tokens must be positive";
  GLM3D_USAGE_CHECK(opts.valid_fraction >= 0 && opts.valid_fraction < 1)
      << "glm3d prep: --valid-fraction must be in [0, 1), got " << opts.valid_fraction;
  GLM3D_USAGE_CHECK(opts.train.num_threads >= 1 && opts.train.num_threads <= 1024)
      << "glm3d prep: --tokenizer-threads must be in [1, 1024], got " << opts.train.num_threads;
  if (!opts.train_tokenizer)
    return;
  GLM3D_USAGE_CHECK(opts.train.model_type == "unigram" || opts.train.model_type == "bpe")
      << "glm3d prep: --tokenizer-type must be unigram or bpe, got '" << opts.train.model_type << "'";
  GLM3D_USAGE_CHECK(opts.train.character_coverage >= 0.98 && opts.train.character_coverage <= 1.0)
      << "glm3d prep: --character-coverage must be in [0.98, 1] (SentencePiece's range), got "
      << opts.train.character_coverage;
}

// The tokenizer's model bytes: loaded from --tokenizer, or trained on every input document.
std::string tokenizer_model_bytes(const PrepOptions& opts) {
  if (!opts.train_tokenizer)
    return Tokenizer::load(opts.tokenizer_path).model_bytes();
  std::vector<std::string> all;
  for (const std::string& in : opts.inputs) {
    auto docs = read_documents(in, opts.format, opts.json_field);
    all.insert(all.end(), std::make_move_iterator(docs.begin()), std::make_move_iterator(docs.end()));
  }
  return train_tokenizer_for_prep(all, opts.train);
}

// The manifest and tokenizer of the train store in `dir` (and of the valid store, which is
// removed when no document was drawn for it); shards[v] are every rank's serialized shards.
void write_store_files(const std::string& dir, const std::string& valid_dir, const std::string shards[2],
                       const uint64_t counts[5], const Tokenizer& tok, const std::string& model) {
  GLM3D_USAGE_CHECK(counts[1] > 0) << "glm3d prep: every one of the " << counts[3]
                                   << " documents went to the valid split; lower --valid-fraction";
  for (int v = 0; v < 2; ++v) {
    const std::string d = v ? valid_dir : dir;
    if (v && counts[3] == 0) {
      fs::remove_all(valid_dir); // no document was drawn: no valid store
      continue;
    }
    Manifest m;
    m.vocab_size = tok.vocab_size();
    m.tokenizer_sha256 = tok.sha256();
    m.shards = deserialize(shards[v]);
    // Shard names sort by (input file index, part): the manifest order is the input order.
    std::sort(m.shards.begin(), m.shards.end(),
              [](const ShardInfo& a, const ShardInfo& b) { return a.file < b.file; });
    for (const ShardInfo& s : m.shards)
      m.total_tokens += s.n_tokens;
    write_file_bytes((fs::path(d) / k_tokenizer_name).string(), model);
    write_manifest((fs::path(d) / k_manifest_name).string(), m);
  }
}

} // namespace

PrepResult run_prep(const PrepOptions& opts, MPI_Comm comm) {
  int rank = 0, size = 1;
  comm_rank_size(comm, rank, size);
  run_agreed(comm, [&] { check_prep_options(opts); });

  // Only rank 0 touches the output; the temp dir sits next to DIR.
  std::string tmp;
  run_on_root(comm, 0, [&] {
    check_prep_output(opts.out_dir, opts.overwrite, opts.inputs);
    tmp = make_temp_store_dir(opts.out_dir);
  });
  bcast_string(comm, tmp, 0);

  PrepResult res;
  auto cleanup_on_failure = [&](const std::function<void()>& fn) {
    try {
      run_agreed(comm, fn);
    } catch (...) {
      std::error_code ec;
      if (rank == 0)
        fs::remove_all(tmp, ec);
      throw;
    }
  };

  // Tokenizer: loaded or trained on rank 0, then the same bytes everywhere.
  std::string model;
  cleanup_on_failure([&] {
    if (rank == 0)
      model = tokenizer_model_bytes(opts);
  });
  bcast_string(comm, model, 0);
  std::optional<Tokenizer> tok;
  cleanup_on_failure([&] {
    tok.emplace(
        Tokenizer::from_bytes(model, opts.tokenizer_path.empty() ? "(trained)" : opts.tokenizer_path));
  });

  // The held-out documents (--valid-fraction) form a token store of their own in DIR/valid.
  const std::string valid_dir = (fs::path(tmp) / k_valid_store_name).string();
  cleanup_on_failure([&] {
    if (rank == 0 && opts.valid_fraction > 0)
      fs::create_directory(valid_dir);
  });
  std::vector<ShardInfo> mine[2];       // train, valid
  uint64_t counts[5] = {0, 0, 0, 0, 0}; // files, docs, tokens, valid docs, valid tokens
  cleanup_on_failure([&] {
    for (size_t i = size_t(rank); i < opts.inputs.size(); i += size_t(size)) {
      auto docs = read_documents(opts.inputs[i], opts.format, opts.json_field);
      std::vector<std::string> split[2];
      for (size_t d = 0; d < docs.size(); ++d)
        split[KeyedRng(opts.split_seed, i, d).uniform() < opts.valid_fraction].push_back(std::move(docs[d]));
      counts[0] += 1;
      for (int v = 0; v < 2; ++v) {
        auto shards = write_file_shards(split[v], *tok, i, v ? valid_dir : tmp, opts.shard_tokens);
        for (const ShardInfo& s : shards)
          counts[1 + 2 * v] += s.n_docs, counts[2 + 2 * v] += s.n_tokens;
        mine[v].insert(mine[v].end(), shards.begin(), shards.end());
      }
    }
  });
  sum_u64(comm, counts, 5);

  const std::string all[2] = {gather_strings(comm, serialize(mine[0]), 0),
                              gather_strings(comm, serialize(mine[1]), 0)};
  cleanup_on_failure([&] {
    if (rank != 0)
      return;
    write_store_files(tmp, valid_dir, all, counts, *tok, model);
    install_store(tmp, opts.out_dir);
  });

  res.files = counts[0];
  res.docs = counts[1];
  res.tokens = counts[2];
  res.valid_docs = counts[3];
  res.valid_tokens = counts[4];
  res.valid_shards = mine[1].size();
  sum_u64(comm, &res.valid_shards, 1);
  res.shards = mine[0].size();
  sum_u64(comm, &res.shards, 1);
  res.vocab_size = tok->vocab_size();
  res.tokenizer_sha256 = tok->sha256();
  return res;
}

} // namespace glm3d
