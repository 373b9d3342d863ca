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
      "glm3d prep sft --input FILE.jsonl... --out DIR --tokenizer MODEL [--format "
      "chatglm|chatglm2|chatglm3]\n"
      "Prompt/answer or conversation JSONL (one object per line, gzip allowed) -> HDF5 SFT store of "
      "examples\n"
      "laid out as the reference's fine-tuning code builds them (docs/sft_store.md):\n"
      "  chatglm   ChatGLM-6B's P-tuning: prompt + [gMASK] + <sop> + answer + <eop>\n"
      "  chatglm2  ChatGLM2-6B's P-tuning: [gMASK] sop + [Round 1]..问：prompt..答： + answer + eos\n"
      "  chatglm3  ChatGLM3's finetune_hf: {\"conversations\": [{\"role\": ..., \"content\": ...}, ...]}\n"
      "--tokenizer: a SentencePiece model, a store directory, a ChatGLM-6B directory (ice_text.model +\n"
      "tokenizer_config.json) or a ChatGLM2/3 one (tokenizer.model + tokenizer_config.json); --format\n"
      "defaults to the tokenizer's (chatglm2 / chatglm3 for theirs, chatglm otherwise)");
  desc.add_options()                                                                               //
      ("input", po::value<std::vector<std::string>>(&o.inputs)->multitoken(), "input JSONL files") //
      ("out", po::value<std::string>(&o.out_dir), "output SFT store directory")                    //
      ("tokenizer", po::value<std::string>(&o.tokenizer_path), "tokenizer (see above)")            //
      ("tokenizer-kind", po::value<std::string>(&o.tokenizer_kind),
       "chatglm2 or chatglm3 when a ChatGLM2/3 directory does not tell (sentencepiece, chatglm: checked)") //
      ("format", po::value<std::string>(&o.format), "chatglm, chatglm2 or chatglm3 (default: see above)")  //
      ("messages-key", po::value<std::string>(&o.keys.messages),
       "chatglm3: field of the messages (default conversations, else messages)")   //
      ("prompt-key", defaulted(&o.keys.prompt), "field of the prompt (the query)") //
      ("response-key", defaulted(&o.keys.response), "field of the answer")         //
      ("history-key", po::value<std::string>(&o.keys.history),
       "field of earlier [query, response] turns: the chat prompt [Round i]\\n问：q\\n答：r\\n...")    //
      ("source-prefix", po::value<std::string>(&o.keys.source_prefix), "text put before every prompt") //
      ("max-source-len", defaulted(&o.max_source_len),
       "chatglm: prompt tokens + 1 ([gMASK]); chatglm2: + 2 ([gMASK] sop); chatglm3: max_input_length") //
      ("max-target-len", defaulted(&o.max_target_len),
       "chatglm: answer tokens + 2 (<sop>, <eop>); chatglm2: answer tokens; chatglm3: max_output_length") //
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
  const bool glm = r.format == "chatglm";
  std::printf("glm3d prep sft: %lld files, %lld examples (format %s): %lld train + %lld valid; %zu bad lines "
              "skipped (--skip-bad %lld); ",
              (long long)r.files, (long long)r.records, r.format.c_str(), (long long)r.train,
              (long long)r.valid, r.skipped.size(), (long long)o.skip_bad);
  if (r.format == "chatglm3")
    std::printf("%lld conversations truncated to %lld tokens", (long long)r.conversations_truncated,
                (long long)r.seq_len);
  else
    std::printf("%lld prompts truncated to %lld tokens, %lld answers to %lld", (long long)r.prompts_truncated,
                (long long)(o.max_source_len - (glm ? 1 : 2)), (long long)r.answers_truncated,
                (long long)(o.max_target_len - (glm ? 2 : 0)));
  std::printf(" -> %s (seq_len %lld, vocab %lld, %s tokenizer sha256 %s) in %.2f s\n", o.out_dir.c_str(),
              (long long)r.seq_len, (long long)r.vocab_size, r.tokenizer_kind.c_str(),
              r.tokenizer_sha256.c_str(), seconds_since(t0));
  return 0;
}

} // namespace glm3d
