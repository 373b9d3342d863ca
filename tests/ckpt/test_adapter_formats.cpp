// PEFT LoRA adapters and P-tuning v2 checkpoints (model/peft_format.h, model/ptuning_format.h):
// round trips in C++, the files read back by an independent Python reader (json + struct only,
// tests/ckpt/adapter_files.py), files written the way PEFT writes them read by glm3d, and every
// refusal naming the file and key.
#include "core/check.h"
#include "model/peft_format.h"
#include "model/ptuning_format.h"
#include "usage_error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace glm3d {
namespace {

namespace fs = std::filesystem;

std::string tmp(const std::string& name) {
  const std::string d =
      (fs::temp_directory_path() / ("glm3d_adapter_" + std::to_string(::getpid()) + "_" + name)).string();
  fs::remove_all(d);
  return d;
}

// The script's values: element i of the t-th tensor in sorted key order.
float value(int64_t t, int64_t i) {
  return float((7 * t + i) % 97 - 48) / 16.0f;
}

TensorMap filled(const ShapeMap& shapes) {
  TensorMap m;
  int64_t t = 0;
  for (const auto& [name, shape] : shapes) { // std::map: sorted key order
    HostTensor h{shape, std::vector<float>(size_t(numel_of(shape)))};
    for (size_t i = 0; i < h.data.size(); ++i)
      h.data[i] = value(t, int64_t(i));
    m[name] = std::move(h);
    ++t;
  }
  return m;
}

int python(const std::string& args) {
  const char* src = std::getenv("GLM3D_SOURCE_DIR");
  const std::string cmd = "/usr/bin/python3 " + std::string(src ? src : GLM3D_SOURCE_DIR) +
                          "/tests/ckpt/adapter_files.py " + args;
  return std::system(cmd.c_str());
}

// ChatGLM-6B-shaped modules: query_key_value [3H, H] and dense [H, H] per layer.
std::vector<LoraModule> chatglm6b_modules(int64_t layers, int64_t H) {
  std::vector<LoraModule> all;
  for (int64_t l = 0; l < layers; ++l) {
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "query_key_value"), H, 3 * H});
    all.push_back({chatglm_module_path(ChatGlmFamily::chatglm6b, l, "dense"), H, H});
  }
  return all;
}

TEST(PeftFormat, KeyNamesAndParameterCountsOfTheRealModels) {
  EXPECT_EQ(lora_key(chatglm_module_path(ChatGlmFamily::chatglm6b, 0, "query_key_value"), 'A'),
            "base_model.model.transformer.layers.0.attention.query_key_value.lora_A.weight");
  EXPECT_EQ(lora_key(chatglm_module_path(ChatGlmFamily::chatglm2, 27, "dense_4h_to_h"), 'B'),
            "base_model.model.transformer.encoder.layers.27.mlp.dense_4h_to_h.lora_B.weight");
  // ChatGLM2-6B: query_key_value is [4096 + 2 * 2 * 128, 4096] (2 key/value groups): PEFT's
  // r = 8 adapter has 1,949,696 parameters. ChatGLM-6B's [3 * 4096, 4096]: 3,670,016.
  auto count = [](ChatGlmFamily f, int64_t out) {
    std::vector<LoraModule> all;
    for (int64_t l = 0; l < 28; ++l)
      all.push_back({chatglm_module_path(f, l, "query_key_value"), 4096, out});
    int64_t n = 0;
    for (const auto& [name, shape] : lora_shapes(lora_targets(all, LoraSettings{}), 8))
      n += numel_of(shape);
    return n;
  };
  EXPECT_EQ(count(ChatGlmFamily::chatglm2, 4608), 1949696);
  EXPECT_EQ(count(ChatGlmFamily::chatglm6b, 12288), 3670016);
}

TEST(PeftFormat, TargetSelectionAsPeftMatchesModules) {
  const auto all = chatglm6b_modules(3, 8);
  LoraSettings s;
  EXPECT_EQ(lora_targets(all, s).size(), 3u); // query_key_value of each layer
  s.target_modules = {"query_key_value", "dense"};
  EXPECT_EQ(lora_targets(all, s).size(), 6u);
  s.layers_to_transform = {0, 2};
  EXPECT_EQ(lora_targets(all, s).size(), 4u);
  s = LoraSettings{};
  s.target_regex = true;
  s.target_modules = {R"(.*layers\.1\.attention\.(query_key_value|dense))"};
  const auto t = lora_targets(all, s);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].path, "transformer.layers.1.attention.query_key_value");
  s.target_modules = {"key_value"}; // names match whole path components only
  s.target_regex = false;
  EXPECT_TRUE(lora_targets(all, s).empty());
  EXPECT_DOUBLE_EQ(LoraSettings{}.scaling(), 1.0);
}

TEST(PeftFormat, RoundTripAndPythonReadsItBack) {
  const std::string d = tmp("peft_out");
  const auto all = chatglm6b_modules(2, 8);
  LoraSettings s;
  s.r = 4;
  s.alpha = 16;
  s.base_model_name_or_path = "THUDM/chatglm-6b";
  const TensorMap t = filled(lora_shapes(lora_targets(all, s), s.r));
  write_peft_adapter(d, s, all, t);
  EXPECT_EQ(python("check-peft " + d + " 2 8 24 4"), 0);
  const PeftAdapter a = read_peft_adapter(d, all);
  EXPECT_EQ(a.settings.r, 4);
  EXPECT_DOUBLE_EQ(a.settings.scaling(), 4.0);
  EXPECT_EQ(a.targets.size(), 2u);
  ASSERT_EQ(a.tensors.size(), t.size());
  for (const auto& [name, h] : t) {
    EXPECT_EQ(a.tensors.at(name).shape, h.shape) << name;
    EXPECT_EQ(a.tensors.at(name).data, h.data) << name;
  }
  // A caller that hands the writer a tensor of the wrong shape is a bug, not bad input.
  TensorMap bad = t;
  bad.begin()->second.shape[0] += 1;
  EXPECT_THROW(write_peft_adapter(tmp("peft_bad_write"), s, all, bad), Error);
}

TEST(PeftFormat, ReadsAnAdapterWrittenAsPeftWritesIt) {
  const std::string d = tmp("peft_in");
  ASSERT_EQ(python("write-peft " + d + " 2 8 24 4"), 0); // F16, lora_alpha 32, every newer field
  const auto all = chatglm6b_modules(2, 8);
  const PeftAdapter a = read_peft_adapter(d, all);
  EXPECT_EQ(a.settings.r, 4);
  EXPECT_DOUBLE_EQ(a.settings.alpha, 32);
  EXPECT_DOUBLE_EQ(a.settings.dropout, 0.1);
  const TensorMap want = filled(lora_shapes(a.targets, 4));
  for (const auto& [name, h] : want)
    EXPECT_EQ(a.tensors.at(name).data, h.data) << name;
}

TEST(PeftFormat, BadAdaptersNameFileAndKey) {
  const auto all = chatglm6b_modules(2, 8);
  const std::string key0B = "base_model.model.transformer.layers.0.attention.query_key_value.lora_B.weight";
  std::string d = tmp("peft_shape");
  ASSERT_EQ(python("write-peft " + d + " 2 8 24 4 --bad-shape"), 0);
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter " + d + "/adapter_model.safetensors: tensor '" + key0B +
                "' is [25,4], expected [24,4]");
  d = tmp("peft_extra");
  ASSERT_EQ(python("write-peft " + d + " 2 8 24 4 --extra-key"), 0);
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter " + d +
                "/adapter_model.safetensors: unexpected tensor "
                "'base_model.model.transformer.layers.0.attention.query_key_value.lora_embedding_A' [1] "
                "(lora_A/lora_B "
                "of the modules target_modules [\"query_key_value\"] selects, r 4)");
  d = tmp("peft_missing");
  ASSERT_EQ(python("write-peft " + d + " 2 8 24 4 --missing-key"), 0);
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter " + d +
                "/adapter_model.safetensors: no tensor "
                "'base_model.model.transformer.layers.1.attention.query_key_value.lora_B.weight' "
                "(lora_A/lora_B of the "
                "modules target_modules [\"query_key_value\"] selects, r 4)");
  // The config: other methods and LoRA variants glm3d does not implement.
  d = tmp("peft_cfg");
  ASSERT_EQ(python("write-peft " + d + " 2 8 24 4"), 0);
  const std::string cfg = d + "/adapter_config.json";
  auto with = [&](const char* key, const nlohmann::json& v) {
    nlohmann::json c = nlohmann::json::parse(std::ifstream(cfg));
    c[key] = v;
    std::ofstream(cfg) << c.dump(2);
  };
  with("use_dora", true);
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter config " + cfg + ": use_dora true is not supported (DoRA is not implemented)");
  with("use_dora", false);
  with("target_modules", nlohmann::json::array({"q_proj"}));
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter config " + cfg +
                ": target_modules [\"q_proj\"] selects no linear layer of the model");
  with("peft_type", "PREFIX_TUNING");
  EXPECT_EQ(test::usage_error_of([&] { read_peft_adapter(d, all); }),
            "PEFT adapter config " + cfg + ": peft_type is \"PREFIX_TUNING\", glm3d reads LORA adapters");
  // Only the torch pickle of older PEFT versions.
  with("peft_type", "LORA");
  with("target_modules", nlohmann::json::array({"query_key_value"}));
  d = tmp("peft_bin");
  fs::create_directories(d);
  std::ofstream(d + "/adapter_model.bin") << "pickle";
  fs::copy_file(cfg, d + "/adapter_config.json");
  EXPECT_NE(test::usage_error_of([&] { read_peft_adapter(d, chatglm6b_modules(2, 8)); }).find("torch pickle"),
            std::string::npos);
}

PrefixEncoderSpec spec(ChatGlmFamily f, bool projection) {
  PrefixEncoderSpec s;
  s.family = f;
  s.pre_seq_len = 4;
  s.prefix_projection = projection;
  s.num_layers = 2;
  s.hidden_size = 8;
  s.kv_width = f == ChatGlmFamily::chatglm6b ? 8 : 4; // ChatGLM2: kv_channels 2 x 2 groups
  return s;
}

std::string shapes_json(const ShapeMap& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, shape] : m)
    j[name] = shape;
  return "'" + j.dump() + "'";
}

TEST(PtuningFormat, ShapesOfChatGlm6bAndChatGlm2) {
  // Without projection: one embedding of 2 * layers * kv_width columns.
  EXPECT_EQ(prefix_encoder_shapes(spec(ChatGlmFamily::chatglm6b, false)),
            (ShapeMap{{"transformer.prefix_encoder.embedding.weight", {4, 32}}}));
  // ChatGLM-6B's MLP reads [P, hidden]; ChatGLM2's reads [P, kv_size].
  EXPECT_EQ(prefix_encoder_shapes(spec(ChatGlmFamily::chatglm6b, true)),
            (ShapeMap{{"transformer.prefix_encoder.embedding.weight", {4, 8}},
                      {"transformer.prefix_encoder.trans.0.weight", {8, 8}},
                      {"transformer.prefix_encoder.trans.0.bias", {8}},
                      {"transformer.prefix_encoder.trans.2.weight", {32, 8}},
                      {"transformer.prefix_encoder.trans.2.bias", {32}}}));
  EXPECT_EQ(prefix_encoder_shapes(spec(ChatGlmFamily::chatglm2, true)),
            (ShapeMap{{"transformer.prefix_encoder.embedding.weight", {4, 16}},
                      {"transformer.prefix_encoder.trans.0.weight", {8, 16}},
                      {"transformer.prefix_encoder.trans.0.bias", {8}},
                      {"transformer.prefix_encoder.trans.2.weight", {16, 8}},
                      {"transformer.prefix_encoder.trans.2.bias", {16}}}));
  // get_prompt: view [P, 2L, heads, head_dim], split in pairs: layer 1's value is slot 3.
  EXPECT_EQ(spec(ChatGlmFamily::chatglm6b, false).column(1, 1, 5), 3 * 8 + 5);
}

TEST(PtuningFormat, RoundTripsAndPythonReadsThemBack) {
  for (ChatGlmFamily f : {ChatGlmFamily::chatglm6b, ChatGlmFamily::chatglm2})
    for (bool projection : {false, true}) {
      const PrefixEncoderSpec s = spec(f, projection);
      const std::string d = tmp("pt_" + std::to_string(int(f)) + std::to_string(projection));
      const TensorMap t = filled(prefix_encoder_shapes(s));
      write_ptuning_checkpoint(d, s, t);
      EXPECT_EQ(python("check-ptuning " + d + " " + shapes_json(prefix_encoder_shapes(s))), 0);
      const TensorMap back = read_ptuning_checkpoint(d, s);
      for (const auto& [name, h] : t)
        EXPECT_EQ(back.at(name).data, h.data) << name;
    }
  // Written by Python (no config.json, as a converted ChatGLM trainer output may be): read.
  const PrefixEncoderSpec s = spec(ChatGlmFamily::chatglm6b, true);
  const std::string d = tmp("pt_py");
  ASSERT_EQ(python("write-ptuning " + d + " " + shapes_json(prefix_encoder_shapes(s))), 0);
  EXPECT_EQ(read_ptuning_checkpoint(d, s).at(k_prefix_trans2_bias).data,
            filled(prefix_encoder_shapes(s)).at(k_prefix_trans2_bias).data);
}

TEST(PtuningFormat, MismatchesNameFileAndKey) {
  const PrefixEncoderSpec s = spec(ChatGlmFamily::chatglm6b, false);
  const std::string d = tmp("pt_bad");
  write_ptuning_checkpoint(d, s, filled(prefix_encoder_shapes(s)));
  PrefixEncoderSpec other = s;
  other.pre_seq_len = 8;
  EXPECT_EQ(test::usage_error_of([&] { read_ptuning_checkpoint(d, other); }),
            "P-tuning checkpoint config " + d + "/config.json: pre_seq_len is 4, the model has 8");
  fs::remove(d + "/config.json");
  EXPECT_EQ(test::usage_error_of([&] { read_ptuning_checkpoint(d, other); }),
            "P-tuning checkpoint " + d +
                "/model.safetensors: tensor 'transformer.prefix_encoder.embedding.weight' is "
                "[4,32], expected [8,32]");
  other = s;
  other.prefix_projection = true;
  EXPECT_EQ(test::usage_error_of([&] { read_ptuning_checkpoint(d, other); }),
            "P-tuning checkpoint " + d +
                "/model.safetensors: tensor 'transformer.prefix_encoder.embedding.weight' is "
                "[4,32], expected [4,8]");
  fs::remove(d + "/model.safetensors");
  std::ofstream(d + "/pytorch_model.bin") << "pickle";
  EXPECT_NE(test::usage_error_of([&] { read_ptuning_checkpoint(d, s); }).find("torch pickle"),
            std::string::npos);
}

} // namespace
} // namespace glm3d
