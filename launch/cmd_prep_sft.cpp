// glm3d prep sft: prompt/answer JSONL -> HDF5 SFT store (data/sft_prep.h, docs/sft_store.md).
#include "core/check.h"
#include "core/clock.h"
#include "data/sft_prep.h"
#include "launch/commands.h"
#include "launch/options.h"

#include <cstdio>

namespace glm3d {

int cmd_prep_sft(const Args& args, const RunContext& ctx) {
  SftPrepOptions o;
  po::options_description desc(
      "glm3d prep sft --input FILE.jsonl... --out DIR --tokenizer MODEL\n"
      "Prompt/answer JSONL (one object per line, gzip allowed) -> HDF5 SFT store of examples laid out as\n"
      "ChatGLM-6B's P-tuning code builds them: prompt + [gMASK] + <sop> + answer + <eop>, padded to\n"
      "max-source-len + max-target-len (docs/sft_store.md). --tokenizer: a SentencePiece model, a store\n"
      "directory, or a ChatGLM-6B directory with ice_text.model and tokenizer_config.json");
  desc.add_options()                                                                               //
      ("input", po::value<std::vector<std::string>>(&o.inputs)->multitoken(), "input JSONL files") //
      ("out", po::value<std::string>(&o.out_dir), "output SFT store directory")                    //
      ("tokenizer", po::value<std::string>(&o.tokenizer_path), "tokenizer (see above)")            //
      ("prompt-key", defaulted(&o.keys.prompt), "field of the prompt (the query)")                 //
      ("response-key", defaulted(&o.keys.response), "field of the answer")                         //
      ("history-key", po::value<std::string>(&o.keys.history),
       "field of earlier [query, response] turns: the chat prompt [Round i]\\n问：q\\n答：r\\n...")    //
      ("source-prefix", po::value<std::string>(&o.keys.source_prefix), "text put before every prompt") //
      ("max-source-len", defaulted(&o.max_source_len), "prompt tokens + 1 ([gMASK])")                  //
      ("max-target-len", defaulted(&o.max_target_len), "answer tokens + 2 (<sop>, <eop>)")             //
      ("valid-fraction", defaulted(&o.valid_fraction),
       "share of records held out as the valid split (drawn per file and line)") //
      ("split-seed", defaulted(&o.split_seed), "seed of the valid split")        //
      ("skip-bad", defaulted(&o.skip_bad),
       "skip up to N bad lines (each reported); more is an error naming the first") //
      ("overwrite", po::bool_switch(&o.overwrite), "replace an existing SFT store at --out");
  po::variables_map vm;
  if (!parse_options(args, desc, vm, ctx))
    return 0; // --help was printed
  const auto t0 = Clock::now();
  const SftPrepResult r = run_prep_sft(o, ctx.world);
  if (ctx.rank != 0)
    return 0;
  for (const std::string& line : r.skipped)
    std::fprintf(stderr, "glm3d: warning: skipped %s\n", line.c_str());
  std::printf(
      "glm3d prep sft: %lld files, %lld examples: %lld train + %lld valid; %zu bad lines skipped "
      "(--skip-bad %lld); %lld prompts truncated to %lld tokens, %lld answers to %lld -> %s (seq_len %lld, "
      "vocab %lld, %s tokenizer sha256 %s) in %.2f s\n",
      (long long)r.files, (long long)r.records, (long long)r.train, (long long)r.valid, r.skipped.size(),
      (long long)o.skip_bad, (long long)r.prompts_truncated, (long long)(o.max_source_len - 1),
      (long long)r.answers_truncated, (long long)(o.max_target_len - 2), o.out_dir.c_str(),
      (long long)r.seq_len, (long long)r.vocab_size, r.tokenizer_kind.c_str(), r.tokenizer_sha256.c_str(),
      seconds_since(t0));
  return 0;
}

} // namespace glm3d
