#pragma once
// Parameter-efficient fine-tuning: what is trained besides (or instead of) the base model.
//   lora     Hugging Face PEFT's LoRA on the chosen linears: y = x W^T + (alpha / r) B A dropout(x),
//            A [r, in] Kaiming-uniform (a = sqrt 5: U(-1/sqrt(in), 1/sqrt(in))), B [out, r] zeros.
//            Under tensor parallelism A and B follow the base weight: a column-parallel weight
//            (query_key_value, dense_h_to_4h) keeps A whole on every rank (its gradient summed
//            over tp) and splits B by rows like the weight; a row-parallel one (dense,
//            dense_4h_to_h) splits A by columns and keeps B whole.
//   ptuning  P-tuning v2 (ChatGLM's PrefixEncoder): pre_seq_len prefix keys and values for every
//            layer, from an embedding [P, 2 L kv] (kv = key/value width of a layer), or with
//            prefix_projection Embedding(P, H) -> Linear(H, H) -> tanh -> Linear(H, 2 L kv).
//   qlora    LoRA over a base frozen in NF4 with double quantization.
// Dropout masks are counter-based, keyed by (seed, step, layer, module, global sample, position,
// feature), so every layout drops the same elements.
#include "model/config.h"
#include "model/param_table.h"

#include <cstdint>
#include <set>
#include <string>

namespace glm3d {

enum class FinetuneMethod { none, full, lora, ptuning, qlora };

struct AdapterSpec {
  FinetuneMethod method = FinetuneMethod::none;
  int64_t lora_r = 8;
  double lora_alpha = 32, lora_dropout = 0.1;
  std::set<std::string> lora_targets = {"query_key_value"}; // also dense, dense_h_to_4h, dense_4h_to_h
  int64_t pre_seq_len = 128;
  bool prefix_projection = false;
  double prefix_dropout = 0.1;
  uint64_t seed = 0; // keys the dropout masks

  bool lora() const { return method == FinetuneMethod::lora || method == FinetuneMethod::qlora; }
  bool prefix() const { return method == FinetuneMethod::ptuning; }
  bool adapters() const { return lora() || prefix(); } // the base is frozen
  double lora_scaling() const { return lora_alpha / double(lora_r); }
};

FinetuneMethod parse_finetune_method(const std::string& s); // full | lora | ptuning | qlora
std::string to_string(FinetuneMethod m);
// "lora r 8, alpha 32, dropout 0.1 on query_key_value", "ptuning: 128 prefix tokens, ...", "full".
std::string describe(const AdapterSpec& s);
// "query_key_value,dense" -> the set; UsageError for an unknown module.
std::set<std::string> parse_lora_targets(const std::string& csv);
// UsageError for impossible settings (r < 1, dropout outside [0, 1), no targets, P < 1).
void validate(const AdapterSpec& s);

// The four linears a layer has, with their base weight's name, and whether they are
// column-parallel (output split over tp) or row-parallel (input split over tp).
struct LinearModule {
  const char* name;   // "query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"
  const char* weight; // the base weight's name inside a layer ("attention.query_key_value.weight")
  bool column;
};
const LinearModule* linear_modules(); // 4 entries
std::string lora_param_name(int layer, const LinearModule& m,
                            char ab); // "layers.0.attention.query_key_value.lora_A.weight"

// Rows of the prefix encoder's output per layer: 2 (keys, values) x key/value width.
inline int64_t prefix_kv_width(const ModelConfig& c) {
  return 2 * c.kv_heads() * c.head_dim();
}
// The prefix encoder's tensors are "prefix_encoder.embedding.weight", "prefix_encoder.trans.0.weight",
// ...: ChatGLM's names without "transformer." (model/ptuning_format.h).

} // namespace glm3d
