// glm3d prep: raw text / JSONL -> tokenizer -> sharded HDF5 token store (data/prep.h);
// glm3d prep verify DIR: recompute every checksum of a store (token store or SFT store);
// glm3d prep sft ...: launch/cmd_prep_sft.cpp.
#include "core/check.h"
#include "core/clock.h"
#include "data/prep.h"
#include "data/sft_store.h"
#include "data/token_store.h"
#include "launch/commands.h"
#include "launch/options.h"

#include <cstdio>
#include <iostream>

namespace glm3d {

namespace {

int cmd_prep_verify(const Args& args, const RunContext& ctx) {
  std::string dir;
  if (!parse_store_dir(
          args, "glm3d prep verify DIR: check every checksum and tokens < vocab (token store or SFT store)",
          dir, ctx))
    return 0; // --help was printed
  if (ctx.rank != 0)
    return 0; // one reader is enough; the other ranks have nothing to do
  if (is_sft_store(dir)) {
    const SftVerifyReport rep = verify_sft_store(dir);
    std::printf("glm3d prep verify: SFT store %s ok: %lld splits, %lld examples\n", dir.c_str(),
                (long long)rep.splits, (long long)rep.examples);
    return 0;
  }
  const VerifyReport rep = verify_store(dir);
  std::printf("glm3d prep verify: %s ok: %llu shards, %llu documents, %llu tokens\n", dir.c_str(),
              (unsigned long long)rep.shards, (unsigned long long)rep.docs, (unsigned long long)rep.tokens);
  return 0;
}

} // namespace

int cmd_prep(const Args& args, const RunContext& ctx) {
  if (!args.empty() && args[0] == "verify")
    return cmd_prep_verify(Args(args.begin() + 1, args.end()), ctx);
  if (!args.empty() && args[0] == "sft") {
    RunContext sub = ctx;
    sub.command = ctx.command + " sft"; // [prep sft] in --config files, "glm3d prep sft --help"
    return cmd_prep_sft(Args(args.begin() + 1, args.end()), sub);
  }

  PrepOptions o;
  std::string format = "auto";
  po::options_description desc(
      "glm3d prep --input FILE... --out DIR (--tokenizer MODEL | --train-tokenizer --vocab-size N)\n"
      "Each MPI rank tokenizes whole input files; text files hold one document per block of lines\n"
      "separated by blank lines (--format lines: one per line), .jsonl files one JSON object per\n"
      "line; any input may be gzip-compressed. Subcommands: prep verify DIR, prep sft (prompt/answer data)");
  desc.add_options()                                                                         //
      ("input", po::value<std::vector<std::string>>(&o.inputs)->multitoken(), "input files") //
      ("out", po::value<std::string>(&o.out_dir), "output store directory")                  //
      ("shard-tokens", po::value<uint64_t>(&o.shard_tokens)->default_value(o.shard_tokens),
       "a shard closes at the first document end past this many tokens") //
      ("format", po::value<std::string>(&format)->default_value(format),
       "input format: auto (.jsonl/.json, optionally .gz -> jsonl, else text), text, lines or jsonl") //
      ("json-field", po::value<std::string>(&o.json_field)->default_value(o.json_field),
       "JSONL field holding the document text")                                                           //
      ("tokenizer", po::value<std::string>(&o.tokenizer_path), "SentencePiece model to tokenize with")    //
      ("train-tokenizer", po::bool_switch(&o.train_tokenizer), "train a tokenizer on the input (rank 0)") //
      ("vocab-size", po::value<int>(&o.train.vocab_size)->default_value(o.train.vocab_size),
       "vocabulary size of a trained tokenizer") //
      ("tokenizer-type", po::value<std::string>(&o.train.model_type)->default_value(o.train.model_type),
       "unigram or bpe") //
      ("character-coverage", defaulted(&o.train.character_coverage),
       "characters covered by pieces; the rest use byte fallback") //
      ("tokenizer-threads", po::value<int>(&o.train.num_threads)->default_value(o.train.num_threads),
       "threads for tokenizer training")                                                       //
      ("overwrite", po::bool_switch(&o.overwrite), "replace an existing token store at --out") //
      ("valid-fraction", defaulted(&o.valid_fraction),
       "share of documents held out as the token store DIR/valid (for train --eval-data DIR/valid)") //
      ("split-seed", defaulted(&o.split_seed), "seed of the held-out draw (per file and document)");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0; // --help was printed
  o.format = parse_input_format(format);

  const auto t0 = Clock::now();
  const PrepResult r = run_prep(o, ctx.world);
  const double secs = seconds_since(t0);
  if (ctx.rank == 0 && o.train_tokenizer && r.vocab_size < o.train.vocab_size)
    std::fprintf(
        stderr,
        "glm3d: warning: the trained tokenizer has %lld pieces, fewer than --vocab-size %d: the input "
        "holds too little text for more\n",
        (long long)r.vocab_size, o.train.vocab_size);
  if (ctx.rank == 0)
    std::printf(
        "glm3d prep: %llu files, %llu documents, %llu tokens in %llu shards -> %s (vocab %lld, tokenizer "
        "sha256 %s) in %.2f s, %.0f tokens/s on %d ranks\n",
        (unsigned long long)r.files, (unsigned long long)r.docs, (unsigned long long)r.tokens,
        (unsigned long long)r.shards, o.out_dir.c_str(), (long long)r.vocab_size, r.tokenizer_sha256.c_str(),
        secs, double(r.tokens) / secs, ctx.world_size);
  if (ctx.rank == 0 && o.valid_fraction > 0)
    std::printf("glm3d prep: held out %llu documents, %llu tokens in %llu shards -> %s/%s\n",
                (unsigned long long)r.valid_docs, (unsigned long long)r.valid_tokens,
                (unsigned long long)r.valid_shards, o.out_dir.c_str(), k_valid_store_name);
  return 0;
}

} // namespace glm3d
