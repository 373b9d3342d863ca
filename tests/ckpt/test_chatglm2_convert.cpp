// ChatGLM2/3 config.json <-> ModelConfig and names: the released config.json (chatglm2-6b's, as
// on the Hugging Face hub) gives glm3d's chatglm2-6b preset, every field's refusal is one line
// naming it, the special tokens follow tokenization_chatglm.py, export -> import is the identity.
#include "core/check.h"
#include "model/chatglm2_convert.h"
#include "model/hf_format.h"
#include "train/checkpoint_format.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace glm3d {
namespace {

// THUDM/chatglm2-6b's config.json (auto_map left out: glm3d does not read it).
const char* k_release = R"({
  "_name_or_path": "THUDM/chatglm2-6b", "model_type": "chatglm", "architectures": ["ChatGLMModel"],
  "add_bias_linear": false, "add_qkv_bias": true, "apply_query_key_layer_scaling": true,
  "apply_residual_connection_post_layernorm": false, "attention_dropout": 0.0,
  "attention_softmax_in_fp32": true, "bias_dropout_fusion": true, "ffn_hidden_size": 13696,
  "fp32_residual_connection": false, "hidden_dropout": 0.0, "hidden_size": 4096, "kv_channels": 128,
  "layernorm_epsilon": 1e-05, "multi_query_attention": true, "multi_query_group_num": 2,
  "num_attention_heads": 32, "num_layers": 28, "original_rope": true, "padded_vocab_size": 65024,
  "post_layer_norm": true, "rmsnorm": true, "seq_length": 32768, "use_cache": true,
  "torch_dtype": "float16", "transformers_version": "4.27.1", "tie_word_embeddings": false,
  "eos_token_id": 2, "pad_token_id": 0})";

// The release config.json with `edit` merged in (null removes a field).
std::string with(const std::string& edit) {
  nlohmann::json j = nlohmann::json::parse(k_release);
  j.merge_patch(nlohmann::json::parse(edit));
  return j.dump();
}

ModelConfig parse(const std::string& text, bool chatglm3 = false,
                  int64_t pieces = k_chatglm2_tokenizer_pieces) {
  std::map<std::string, int64_t> special;
  return chatglm2_config(ConfigJson(text, "DIR/config.json"), chatglm3, pieces, special);
}

std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Chatglm2Config, ReleaseConfigIsThePreset) {
  const ModelConfig c = parse(k_release);
  EXPECT_EQ(config_mismatch(preset_config("chatglm2-6b"), c), "");
  EXPECT_EQ(c.seq_len, 32768);
  EXPECT_EQ(c.kv_groups, 2);
  EXPECT_EQ(c.rope_base, 10000.0);
  EXPECT_EQ(c.ln_eps, 1e-5);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.linear_bias);
  EXPECT_EQ(config_mismatch(preset_config("chatglm3-6b"), parse(k_release, true)), "");
}

TEST(Chatglm2Config, SpecialTokensFollowTheTokenizer) {
  std::map<std::string, int64_t> s2, s3, small;
  chatglm2_config(ConfigJson(k_release, "c"), false, k_chatglm2_tokenizer_pieces, s2);
  EXPECT_EQ(s2, (std::map<std::string, int64_t>{{"eos", 2},
                                                {"pad", 0},
                                                {"mask", 64789},
                                                {"gmask", 64790},
                                                {"smask", 64791},
                                                {"sop", 64792},
                                                {"eop", 64793}}));
  chatglm2_config(ConfigJson(k_release, "c"), true, k_chatglm2_tokenizer_pieces, s3);
  EXPECT_EQ(s3.at("gmask"), 64790);
  EXPECT_EQ(s3.at("sop"), 64792);
  EXPECT_EQ(s3.at("system"), 64794);
  EXPECT_EQ(s3.at("user"), 64795);
  EXPECT_EQ(s3.at("assistant"), 64796);
  EXPECT_EQ(s3.at("observation"), 64797);
  EXPECT_EQ(s3.size(), 11u);
  // A vocabulary without room for them keeps config.json's ids only.
  chatglm2_config(ConfigJson(with(R"({"padded_vocab_size": 64796})"), "c"), true, k_chatglm2_tokenizer_pieces,
                  small);
  EXPECT_EQ(small, (std::map<std::string, int64_t>{{"eos", 2}, {"pad", 0}}));
}

TEST(Chatglm2Config, FieldsMapped) {
  EXPECT_EQ(parse(with(R"({"rope_ratio": 50})"), true).rope_base, 500000.0);
  const ModelConfig mha = parse(with(R"({"multi_query_attention": false})"));
  EXPECT_EQ(mha.kv_groups, 0); // [head][q|k|v] rows, as modeling_chatglm.py splits them
  const ModelConfig ln = parse(with(R"({"rmsnorm": false, "add_bias_linear": true, "add_qkv_bias": false})"));
  EXPECT_EQ(ln.norm, NormKind::layernorm);
  EXPECT_TRUE(ln.linear_bias);
  EXPECT_TRUE(ln.qkv_bias); // add_bias_linear gives query_key_value a bias too
  EXPECT_EQ(parse(with(R"({"seq_length": null, "layernorm_epsilon": 1e-6})")).seq_len, 2048);
}

TEST(Chatglm2Config, RefusalsNameTheField) {
  const std::string f = "DIR/config.json: ";
  EXPECT_EQ(error_of(with(R"({"apply_residual_connection_post_layernorm": true})")),
            f + "apply_residual_connection_post_layernorm is true (residual taken after the layer norm); "
                "glm3d's ChatGLM2 layer adds the residual before it (x + f(norm(x)))");
  EXPECT_EQ(error_of(with(R"({"post_layer_norm": false})")),
            f + "post_layer_norm is false (no final layer norm); glm3d's model always has final_layernorm");
  EXPECT_EQ(error_of(with(R"({"rmsnorm": "yes"})")),
            f + "field 'rmsnorm' must be true or false, got \"yes\"");
  EXPECT_EQ(error_of(with(R"({"kv_channels": 64})")),
            f + "kv_channels 64 x num_attention_heads 32 = 2048, not hidden_size 4096 (glm3d's attention is "
                "hidden_size wide)");
  EXPECT_EQ(error_of(with(R"({"multi_query_group_num": 3})")),
            f + "multi_query_group_num 3 must divide num_attention_heads 32");
  EXPECT_EQ(error_of(with(R"({"quantization_bit": 4})")),
            f + "quantization_bit is 4: glm3d imports float weights only (not the int8/int4 checkpoints)");
  EXPECT_EQ(error_of(with(R"({"pre_seq_len": 128})")),
            f + "pre_seq_len is set (a P-tuning v2 prefix-encoder checkpoint); import the base model");
  EXPECT_EQ(error_of(with(R"({"torch_dtype": "int8"})")),
            f + "field 'torch_dtype' must be float16, bfloat16 or float32, got 'int8'");
  EXPECT_EQ(error_of(with(R"({"rope_ratio": 0})")), f + "field 'rope_ratio' must be positive, got 0");
  EXPECT_EQ(error_of(with(R"({"padded_vocab_size": null})")),
            f + "missing integer field 'padded_vocab_size'");
  EXPECT_EQ(error_of(with(R"({"num_layers": 2.5})")), f + "field 'num_layers' must be an integer, got 2.5");
}

TEST(Chatglm2Config, ExportThenImportIsTheIdentity) {
  std::vector<ModelConfig> cfgs = {preset_config("chatglm2-6b"), preset_config("tiny-glm2")};
  ModelConfig mha = preset_config("tiny-glm2");
  mha.kv_groups = 0;
  mha.norm = NormKind::layernorm;
  mha.linear_bias = true;
  cfgs.push_back(mha);
  ModelConfig long_rope = preset_config("chatglm3-6b");
  long_rope.rope_base = 500000;
  for (const ModelConfig& c : cfgs) {
    const std::map<std::string, int64_t> special = {{"eos", 2}, {"pad", 0}};
    std::map<std::string, int64_t> back_special;
    const ModelConfig back = chatglm2_config(
        ConfigJson(chatglm2_config_json(c, false, special, "float16"), "c"), false, c.vocab, back_special);
    EXPECT_EQ(config_mismatch(c, back), "") << c.name;
    EXPECT_EQ(back.seq_len, c.seq_len);
    EXPECT_EQ(back_special, special);
  }
  std::map<std::string, int64_t> sp;
  EXPECT_EQ(
      chatglm2_config(ConfigJson(chatglm2_config_json(long_rope, true, {}, "bfloat16"), "c"), true, 0, sp)
          .rope_base,
      500000.0);
}

TEST(Chatglm2Config, ExportRefusesOtherArchitectures) {
  auto error = [](const ModelConfig& c, bool chatglm3) {
    try {
      chatglm2_config_json(c, chatglm3, {}, "float16");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(preset_config("tiny"), false),
            "model 'tiny' cannot be written as ChatGLM2-6B: residual is deepnorm, ChatGLM2-6B needs prenorm");
  ModelConfig c = preset_config("tiny-glm2");
  c.rope_base = 20000;
  EXPECT_EQ(error(c, false), "model 'tiny-glm2' cannot be written as ChatGLM2-6B: rope_base is 20000, "
                             "ChatGLM2-6B needs 10000 (its modeling_chatglm.py has no rope_ratio; --to "
                             "chatglm3-6b writes one)");
  EXPECT_EQ(error(c, true), "no error");
  c = preset_config("tiny-glm2");
  c.tie_embeddings = true;
  EXPECT_EQ(error(c, true), "model 'tiny-glm2' cannot be written as ChatGLM3-6B: tie_embeddings is true, "
                            "ChatGLM3-6B needs false (an output_layer of its own)");
}

TEST(Chatglm2Names, EveryTensorMapsToTheReleasedName) {
  const ModelConfig c = preset_config("chatglm2-6b");
  std::set<std::string> names;
  for (const CkptTensor& t : checkpoint_tensors(c))
    names.insert(chatglm2_name(t.name));
  EXPECT_EQ(names.size(), checkpoint_tensors(c).size()); // one to one
  for (const char* n :
       {"transformer.embedding.word_embeddings.weight", "transformer.encoder.layers.0.input_layernorm.weight",
        "transformer.encoder.layers.0.self_attention.query_key_value.weight",
        "transformer.encoder.layers.0.self_attention.query_key_value.bias",
        "transformer.encoder.layers.0.self_attention.dense.weight",
        "transformer.encoder.layers.0.post_attention_layernorm.weight",
        "transformer.encoder.layers.27.mlp.dense_h_to_4h.weight",
        "transformer.encoder.layers.27.mlp.dense_4h_to_h.weight",
        "transformer.encoder.final_layernorm.weight", "transformer.output_layer.weight"})
    EXPECT_TRUE(names.count(n)) << n;
  EXPECT_EQ(names.size(), 2u + 28u * 7u + 1u);
  // The rotary buffer: [head_dim / 4], 1 / 10000^(2i / 64) for head_dim 128.
  const std::vector<float> f = chatglm2_inv_freq(c);
  ASSERT_EQ(f.size(), 32u);
  EXPECT_EQ(f[0], 1.0f);
  EXPECT_EQ(f[1], float(std::pow(10000.0, -2.0 / 64.0)));
  EXPECT_EQ(f[31], float(std::pow(10000.0, -62.0 / 64.0)));
  EXPECT_EQ(hf_extras(HfFamily::chatglm2, c)[0].shape, (std::vector<int64_t>{32}));
}

TEST(HfFormat, WeightMapAndFamilies) {
  EXPECT_EQ(
      read_weight_map(R"({"metadata": {"total_size": 8}, "weight_map": {"a": "m-1.safetensors"}})", "idx"),
      (std::map<std::string, std::string>{{"a", "m-1.safetensors"}}));
  auto error = [](const std::string& text) {
    try {
      read_weight_map(text, "DIR/model.safetensors.index.json");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"metadata": {}})"),
            "DIR/model.safetensors.index.json: no object 'weight_map' (tensor name -> shard file)");
  EXPECT_EQ(error(R"({"weight_map": {"a": "../x.safetensors"}})"),
            "DIR/model.safetensors.index.json: weight_map['a'] must be a file name in the directory, got "
            "\"../x.safetensors\"");
  EXPECT_EQ(parse_hf_family("chatglm3-6b", "--from"), HfFamily::chatglm3);
  try {
    parse_hf_family("chatglm-9b", "--from");
    FAIL() << "no error";
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(), "--from expects chatglm-6b, chatglm2-6b or chatglm3-6b, got 'chatglm-9b'");
  }
}

} // namespace
} // namespace glm3d
