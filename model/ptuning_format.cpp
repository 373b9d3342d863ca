#include "model/ptuning_format.h"

#include "core/check.h"
#include "core/json_error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {
constexpr const char* k_weights = "model.safetensors";
constexpr const char* k_config = "config.json";
} // namespace

PrefixEncoderSpec prefix_encoder_spec(const ModelConfig& cfg, const AdapterSpec& a) {
  PrefixEncoderSpec s;
  s.family = cfg.packed_qkv() ? ChatGlmFamily::chatglm2 : ChatGlmFamily::chatglm6b;
  s.pre_seq_len = a.pre_seq_len;
  s.prefix_projection = a.prefix_projection;
  s.num_layers = cfg.num_layers;
  s.hidden_size = cfg.hidden;
  s.kv_width = prefix_kv_width(cfg) / 2;
  return s;
}

ShapeMap prefix_encoder_shapes(const PrefixEncoderSpec& s) {
  GLM3D_USAGE_CHECK(s.pre_seq_len > 0 && s.num_layers > 0 && s.hidden_size > 0 && s.kv_width > 0)
      << "P-tuning v2: pre_seq_len, num_layers, hidden_size and kv_width must be positive, got "
      << s.pre_seq_len << ", " << s.num_layers << ", " << s.hidden_size << ", " << s.kv_width;
  const int64_t P = s.pre_seq_len, H = s.hidden_size, kv = s.kv_size();
  if (!s.prefix_projection)
    return {{k_prefix_embedding, {P, kv}}};
  const int64_t E = s.family == ChatGlmFamily::chatglm6b ? H : kv; // the MLP's input width
  return {{k_prefix_embedding, {P, E}},
          {k_prefix_trans0_weight, {H, E}},
          {k_prefix_trans0_bias, {H}},
          {k_prefix_trans2_weight, {kv, H}},
          {k_prefix_trans2_bias, {kv}}};
}

void write_ptuning_checkpoint(const std::string& dir, const PrefixEncoderSpec& s, const TensorMap& tensors,
                              StDtype dtype) {
  const ShapeMap shapes = prefix_encoder_shapes(s);
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLM3D_USAGE_CHECK(fs::is_directory(dir))
      << "cannot create P-tuning directory " << dir << ": " << ec.message();
  const nlohmann::json c = {
      {"model_type", "chatglm"},
      {"glm3d_family", s.family == ChatGlmFamily::chatglm6b ? "chatglm-6b" : "chatglm2"},
      {"pre_seq_len", s.pre_seq_len},
      {"prefix_projection", s.prefix_projection},
      {"num_layers", s.num_layers},
      {"hidden_size", s.hidden_size},
      {"glm3d_kv_width", s.kv_width}};
  const std::string cfg = (fs::path(dir) / k_config).string();
  std::ofstream out(cfg);
  out << c.dump(2) << "\n";
  out.close();
  GLM3D_USAGE_CHECK(out.good()) << "cannot write " << cfg;
  write_expected_tensors((fs::path(dir) / k_weights).string(), shapes, tensors, dtype, {{"format", "pt"}});
}

TensorMap read_ptuning_checkpoint(const std::string& dir, const PrefixEncoderSpec& expected) {
  const std::string weights = (fs::path(dir) / k_weights).string(), cfg = (fs::path(dir) / k_config).string();
  if (!fs::exists(weights) && fs::exists(fs::path(dir) / "pytorch_model.bin"))
    GLM3D_USAGE_FAIL() << "P-tuning checkpoint " << dir
                       << " holds pytorch_model.bin (a torch pickle), which glm3d "
                       << "does not read; save its prefix_encoder tensors as " << k_weights
                       << " (safetensors.torch.save_file)";
  GLM3D_USAGE_CHECK(fs::is_regular_file(weights)) << "P-tuning checkpoint " << weights << " is missing";
  if (fs::exists(cfg)) {
    std::ifstream in(cfg);
    std::ostringstream os;
    os << in.rdbuf();
    nlohmann::json c;
    try {
      c = nlohmann::json::parse(os.str());
    } catch (const nlohmann::json::exception& e) { // out_of_range too: a number beyond a double
      GLM3D_USAGE_FAIL() << "P-tuning checkpoint config " << cfg
                         << ": not valid JSON: " << json_error_text(e);
    }
    auto agree = [&](const char* key, const nlohmann::json& want) {
      GLM3D_USAGE_CHECK(!c.contains(key) || c[key].is_null() || c[key] == want)
          << "P-tuning checkpoint config " << cfg << ": " << key << " is " << c[key].dump()
          << ", the model has " << want.dump();
    };
    agree("pre_seq_len", expected.pre_seq_len);
    agree("prefix_projection", expected.prefix_projection);
    agree("num_layers", expected.num_layers);
    agree("hidden_size", expected.hidden_size);
    agree("glm3d_kv_width", expected.kv_width);
  }
  return read_expected_tensors(
      weights, prefix_encoder_shapes(expected), "P-tuning checkpoint",
      std::string("a prefix encoder of pre_seq_len ") + std::to_string(expected.pre_seq_len) +
          (expected.prefix_projection ? ", with" : ", without") + " prefix_projection");
}

} // namespace glm3d
