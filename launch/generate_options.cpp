#include "launch/generate_options.h"

#include "core/check.h"

namespace glm3d {

void add_generate_options(po::options_description& desc, GenerateCliOptions& o) {
  SessionOptions& s = o.session;
  desc.add_options()                                                                                //
      ("load", po::value(&s.load), "checkpoint file or directory (its latest); float or quantized") //
      ("tokenizer", po::value(&s.tokenizer),
       "SentencePiece model, store, or ChatGLM(2/3) tokenizer directory")                                   //
      ("tp", defaulted(&s.tp), "tensor-parallel degree")                                                    //
      ("pp", defaulted(&s.pp), "pipeline-parallel degree (world = tp * pp)")                                //
      ("precision", defaulted(&s.precision), "a float checkpoint's layer matrices: f32 or bf16")            //
      ("adapter", po::value(&s.adapter), "PEFT adapter directory (adapter_config.json)")                    //
      ("ptuning", po::value(&s.ptuning), "P-tuning v2 prefix encoder (safetensors)")                        //
      ("max-new-tokens", defaulted(&o.max_new_tokens), "tokens to generate per prompt (infill: per blank)") //
      ("min-new-tokens", defaulted(&o.min_new_tokens), "no stop token before this many new tokens")         //
      ("temperature", defaulted(&o.sampling.temperature), "divide the logits by this")                      //
      ("top-k", defaulted(&o.sampling.top_k), "keep the k most likely tokens (0: all)")                     //
      ("top-p", defaulted(&o.sampling.top_p), "keep the most likely tokens up to this mass (1: all)")       //
      ("seed", defaulted(&o.sampling.seed), "sampling seed: token t of prompt i draws uniform(seed, i, t)") //
      ("greedy", po::bool_switch(&o.sampling.greedy), "always the most likely token")                       //
      ("no-kv-cache", po::bool_switch(&o.no_cache), "recompute every sequence whole at every step");
}

void check_generate_options(const GenerateCliOptions& o) {
  validate(o.sampling);
  GLM3D_USAGE_CHECK(o.max_new_tokens > 0) << "--max-new-tokens must be positive";
  GLM3D_USAGE_CHECK(o.min_new_tokens >= 0 && o.min_new_tokens <= o.max_new_tokens)
      << "--min-new-tokens must be in [0, --max-new-tokens]";
}

GenerateOptions generation_options(const GenerateCliOptions& o, const GenerationSession& s) {
  GenerateOptions g;
  g.max_new_tokens = o.max_new_tokens;
  g.min_new_tokens = o.min_new_tokens;
  g.sampling = o.sampling;
  g.use_cache = !o.no_cache;
  g.stop = s.stop_ids();
  return g;
}

} // namespace glm3d
