#pragma once
// glm3d ckpt import --from FAMILY / export --to FAMILY: Hugging Face safetensors checkpoints of
// the ChatGLM families (model/hf_format.h) to and from a glm3d checkpoint, one tensor at a time:
// the process holds the largest tensor in f32 plus small conversion blocks, never the model.
#include "model/hf_format.h"

#include <string>

namespace glm3d {

// DIR: config.json, and model.safetensors.index.json with its shards or else every
// *.safetensors (F16, BF16 or F32); ChatGLM2/3 also an optional tokenizer.model (its piece count
// numbers the special tokens). Every tensor is checked (present, shape, nothing unexpected)
// before anything is written; OUT is written through OUT.tmp.
void import_hf(HfFamily family, const std::string& dir, const std::string& out);

// Shards of at most max_shard_mb (model.safetensors alone, or model-0000k-of-0000n.safetensors
// with model.safetensors.index.json), every tensor in `dtype` (f16, bf16 or f32, rounded to
// nearest even), and config.json.
void export_hf(HfFamily family, const std::string& ckpt, const std::string& dir, const std::string& dtype,
               double max_shard_mb);

} // namespace glm3d
