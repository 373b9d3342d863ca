// glm3d data stats DIR: size and unigram entropy of a token store (data/store_stats.h).
// glm3d data sample DIR --count N --out FILE.h5: writes N collated samples exactly as the
// trainer sees them (data/sample_file.h), optionally printing the first few decoded. DIR is a
// token store, or an SFT store (--split train: as training draws them; valid: in order, as
// --eval-data takes them).
#include "core/check.h"
#include "core/output_path.h"
#include "data/sample_file.h"
#include "data/sft_source.h"
#include "data/sft_store.h"
#include "data/store_source.h"
#include "data/store_stats.h"
#include "data/text_tokenizer.h"
#include "launch/commands.h"
#include "launch/options.h"

#include <cmath>
#include <cstdio>
#include <iostream>

namespace glm3d {

namespace {

std::string decode_range(const TextTokenizer& tok, const std::vector<int32_t>& ids, size_t from, size_t to) {
  std::string out;
  std::vector<int32_t> run;
  auto flush = [&] {
    if (!run.empty())
      out += tok.decode(run);
    run.clear();
  };
  const SpecialTokens sp = tok.special();
  const std::pair<int32_t, const char*> names[] = {{sp.mask, "[MASK]"},   {sp.gmask, "[gMASK]"},
                                                   {sp.smask, "[sMASK]"}, {sp.sop, "<sop>"},
                                                   {sp.eop, "<eop>"},     {sp.eos, "<eos>"}};
  for (size_t i = from; i < to; ++i) {
    const int32_t t = ids[i];
    const auto named =
        std::find_if(std::begin(names), std::end(names), [&](const auto& n) { return n.first == t; });
    if (named != std::end(names)) {
      flush();
      out += named->second;
    } else if (t != sp.pad) {
      run.push_back(t);
    }
  }
  flush();
  return out;
}

int cmd_data_sample(const Args& args, const RunContext& ctx) {
  std::string dir, out, split = "train";
  int64_t count = 16, seq_len = 2048, start = 0, print = 0;
  uint64_t seed = 1234;
  CollatorOptions c;
  po::options_description desc("glm3d data sample DIR --count N --out FILE.h5: the samples the model is fed");
  desc.add_options()                                                               //
      ("store", po::value<std::string>(&dir)->required(), "token store directory") //
      ("out", po::value<std::string>(&out)->required(), "output HDF5 file")        //
      ("count", defaulted(&count), "number of samples")                            //
      ("start", defaulted(&start), "first global sample index")                    //
      ("seq-len", defaulted(&seq_len), "sequence length")                          //
      ("seed", defaulted(&seed), "data seed (as glm3d train --seed)")              //
      ("mask-ratio", defaulted(&c.mask_ratio),
       "share of [MASK] samples") //
      ("gmask-ratio", defaulted(&c.gmask_ratio),
       "share of [gMASK] samples") //
      ("smask-ratio", defaulted(&c.smask_ratio),
       "share of [sMASK] samples") //
      ("poisson-lambda", defaulted(&c.poisson_lambda),
       "[MASK] span length mean (Poisson)") //
      ("mask-fraction", defaulted(&c.mask_fraction),
       "[MASK]/[sMASK] masked fraction") //
      ("gmask-min-fraction", defaulted(&c.gmask_min_fraction),
       "[gMASK] minimum masked fraction") //
      ("split", defaulted(&split),
       "SFT store: train (shuffled by --seed, as training) or valid (in order)") //
      ("print", defaulted(&print), "print the first N samples decoded");
  po::positional_options_description pos;
  pos.add("store", 1);
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx, &pos))
    return 0; // --help was printed
  GLM3D_USAGE_CHECK(count >= 1 && start >= 0) << "--count must be >= 1 and --start >= 0";
  if (ctx.rank != 0)
    return 0; // a single writer
  check_output_file("--out", out);
  const bool sft = is_sft_store(dir);
  GLM3D_USAGE_CHECK(sft || vm["split"].defaulted())
      << "--split is for SFT stores; " << dir << " is a token store";
  GLM3D_USAGE_CHECK(split == "train" || split == "valid")
      << "--split must be train or valid, got '" << split << "'";
  const auto src = sft ? open_sft_source(dir, split, vm["seq-len"].defaulted() ? 0 : seq_len, seed,
                                         split == "valid" ? SftOrder::in_order : SftOrder::shuffled)
                       : open_store_source(dir, seq_len, seed, c);
  seq_len = src->seq_len();
  std::vector<int64_t> ks;
  for (int64_t k = start; k < start + count; ++k)
    ks.push_back(k);
  src->will_need(ks);
  std::vector<Sample> samples;
  for (int64_t k : ks)
    samples.push_back(src->get(k));
  write_sample_file(out, samples,
                    {{"store", dir},
                     {"split", sft ? split : std::string("")},
                     {"seed", std::to_string(seed)},
                     {"start", std::to_string(start)},
                     {"tokenizer_sha256", src->tokenizer_hash()}});
  const std::unique_ptr<TextTokenizer> tok = load_text_tokenizer(dir);
  static const char* kinds[] = {"[MASK]", "[gMASK]", "[sMASK]"};
  for (int64_t i = 0; i < std::min<int64_t>(print, count); ++i) {
    const Sample& s = samples[size_t(i)];
    std::printf("sample %lld %s sep %d\n  A: %s\n  B: %s\n", (long long)(start + i), kinds[s.kind], s.sep,
                decode_range(*tok, s.tokens, 0, size_t(s.sep)).c_str(),
                decode_range(*tok, s.tokens, size_t(s.sep), s.tokens.size()).c_str());
  }
  std::printf("glm3d data sample: %lld samples of %lld tokens (global %lld..%lld, seed %llu) -> %s\n",
              (long long)count, (long long)seq_len, (long long)start, (long long)(start + count - 1),
              (unsigned long long)seed, out.c_str());
  return 0;
}

// glm3d data stats DIR: one `key value` line each, so scripts can read them with awk.
int cmd_data_stats(const Args& args, const RunContext& ctx) {
  std::string dir;
  if (!parse_store_dir(
          args,
          "glm3d data stats DIR: tokens, documents, vocabulary used and the unigram entropy of a "
          "token store",
          dir, ctx))
    return 0; // --help was printed
  GLM3D_USAGE_CHECK(!is_sft_store(dir)) << dir << " is an SFT store; glm3d data stats reads token stores";
  if (ctx.rank != 0)
    return 0;
  const StoreStats st = store_stats(dir);
  std::printf("store            %s\n"
              "shards           %llu\n"
              "documents        %llu\n"
              "tokens           %llu\n"
              "vocab            %lld\n"
              "vocab_used       %lld\n"
              "unigram_entropy  %.6f nats/token (a uniform vocabulary: ln %lld = %.6f)\n",
              dir.c_str(), (unsigned long long)st.shards, (unsigned long long)st.documents,
              (unsigned long long)st.tokens, (long long)st.vocab_size, (long long)st.vocab_used,
              st.unigram_entropy, (long long)st.vocab_size, std::log(double(st.vocab_size)));
  return 0;
}

} // namespace

int cmd_data(const Args& args, const RunContext& ctx) {
  static const std::vector<Command> actions = {
      {"sample", "DIR --count N --out FILE.h5: the collated samples the trainer sees, to a file",
       cmd_data_sample},
      {"stats", "DIR: tokens, documents, vocabulary used and unigram entropy (nats) of a token store",
       cmd_data_stats},
  };
  return run_command("glm3d data", "action", actions, args, ctx);
}

} // namespace glm3d
