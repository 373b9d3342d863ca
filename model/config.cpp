#include "model/config.h"

#include "core/check.h"
#include "core/ini.h"

#include <cmath>
#include <map>
#include <sstream>

namespace glm3d {

double ModelConfig::deepnorm_alpha() const {
  return std::sqrt(2.0 * double(num_layers));
}
double ModelConfig::deepnorm_beta() const {
  return 1.0 / std::sqrt(2.0 * double(num_layers));
}

namespace {

ModelConfig make(const char* name, int64_t layers, int64_t hidden, int64_t heads, int64_t ffn, int64_t vocab,
                 int64_t seq, FfnKind kind, RopeKind rope, double lr) {
  ModelConfig c;
  c.name = name;
  c.num_layers = layers;
  c.hidden = hidden;
  c.num_heads = heads;
  c.ffn_hidden = ffn;
  c.vocab = vocab;
  c.seq_len = seq;
  c.ffn = kind;
  c.rope = rope;
  c.lr = lr;
  return c;
}

const std::map<std::string, ModelConfig>& presets() {
  // tiny splits 8 ways in every dimension: 8 layers (pp 8, or pp 2 x 2 virtual stages x 2 layers),
  // 8 heads and a GeGLU width divisible by 8 (tp 8).
  static const std::map<std::string, ModelConfig> p = {
      {"tiny", make("tiny", 8, 64, 8, 128, 256, 32, FfnKind::geglu, RopeKind::two_d, 3e-3)},
      {"small", make("small", 12, 768, 12, 3072, 32000, 512, FfnKind::gelu, RopeKind::two_d, 6e-4)},
      {"base", make("base", 24, 1024, 16, 4096, 50048, 1024, FfnKind::gelu, RopeKind::two_d, 3e-4)},
      {"chatglm-6b",
       make("chatglm-6b", 28, 4096, 32, 16384, 130528, 2048, FfnKind::gelu, RopeKind::two_d, 1e-4)},
      {"glm-10b", make("glm-10b", 48, 4096, 64, 16384, 50304, 1024, FfnKind::gelu, RopeKind::two_d, 1e-4)},
      {"glm-130b", make("glm-130b", 70, 12288, 96, 32768, 150528, 2048, FfnKind::geglu, RopeKind::one_d,
                        8e-5)}, // GLM-130B's peak lr
  };
  return p;
}

// One option per INI key; Boost.Program_options converts the values (core/ini.h).
po::options_description ini_keys(ModelConfig& c, std::string& ffn, std::string& rope) {
  po::options_description d("model INI keys");
  d.add_options()                                  //
      ("base", po::value<std::string>(), "preset") // applied first, wherever it stands
      ("name", po::value(&c.name))                 //
      ("num_layers", po::value(&c.num_layers))     //
      ("hidden", po::value(&c.hidden))             //
      ("num_heads", po::value(&c.num_heads))       //
      ("ffn_hidden", po::value(&c.ffn_hidden))     //
      ("vocab", po::value(&c.vocab))               //
      ("seq_len", po::value(&c.seq_len))           //
      ("ffn", po::value(&ffn))                     //
      ("rope", po::value(&rope))                   //
      ("rope_base", po::value(&c.rope_base))       //
      ("ln_eps", po::value(&c.ln_eps))             //
      ("init_std", po::value(&c.init_std))         //
      ("lr", po::value(&c.lr));
  return d;
}

// Any [section] header is accepted (a model file is one section; `[model]` by convention).
// Keys take `_` or `-`. Errors name FILE:LINE and the key as written.
ModelConfig load_ini(const std::string& file) {
  IniFile ini = read_ini(file, "model config file");
  ModelConfig c;
  std::string ffn, rope;
  const po::options_description keys = ini_keys(c, ffn, rope);
  std::map<std::string, int> line_of;
  for (IniLine& l : ini.lines) {
    l.key = normalise_key(l.key, '_');
    GLM3D_USAGE_CHECK(keys.find_nothrow(l.key, false))
        << ini.where(l.line) << ": unknown key '" << l.typed_key
        << "' (known: base, name, num_layers, hidden, num_heads, ffn_hidden, vocab, seq_len, "
           "ffn, rope, rope_base, ln_eps, init_std, lr)";
    line_of[l.key] = l.line;
  }
  po::variables_map vm;
  store_ini(keys, ini, ini.lines, vm);
  const auto at = [&](const char* key) { return ini.where(line_of.at(key)); };
  if (vm.count("base")) {
    try {
      c = preset_config(vm["base"].as<std::string>());
    } catch (const UsageError& e) {
      GLM3D_USAGE_FAIL() << at("base") << ": key 'base': " << e.what();
    }
  }
  c.name = file;
  po::notify(vm); // the file's keys over the preset's values
  if (vm.count("ffn")) {
    GLM3D_USAGE_CHECK(ffn == "gelu" || ffn == "geglu")
        << at("ffn") << ": key 'ffn' expects gelu or geglu, got '" << ffn << "'";
    c.ffn = ffn == "gelu" ? FfnKind::gelu : FfnKind::geglu;
  }
  if (vm.count("rope")) {
    GLM3D_USAGE_CHECK(rope == "1d" || rope == "2d")
        << at("rope") << ": key 'rope' expects 1d or 2d, got '" << rope << "'";
    c.rope = rope == "1d" ? RopeKind::one_d : RopeKind::two_d;
  }
  return c;
}

} // namespace

std::vector<std::string> preset_names() {
  return {"tiny", "small", "base", "chatglm-6b", "glm-10b", "glm-130b"};
}

ModelConfig preset_config(const std::string& name) {
  auto it = presets().find(name);
  if (it == presets().end()) {
    std::string known;
    for (const auto& n : preset_names())
      known += (known.empty() ? "" : ", ") + n;
    GLM3D_USAGE_FAIL() << "unknown model preset '" << name << "' (presets: " << known
                       << "; or give an INI file)";
  }
  return it->second;
}

ModelConfig load_model_config(const std::string& name_or_file) {
  ModelConfig c;
  if (presets().count(name_or_file))
    c = preset_config(name_or_file);
  else if (name_or_file.find('/') != std::string::npos || name_or_file.find('.') != std::string::npos)
    c = load_ini(name_or_file);
  else
    c = preset_config(name_or_file); // throws the "unknown preset" message
  validate(c);
  return c;
}

namespace {
// parameter_count in doubles (no overflow; exact below 2^53): every int64 term of parameter_count
// is below it, so an answer under k_max_parameters makes the int64 computation safe.
double parameter_count_estimate(const ModelConfig& c) {
  const double H = double(c.hidden), F = double(c.ffn_hidden), L = double(c.num_layers), V = double(c.vocab);
  const double U = c.ffn == FfnKind::geglu ? 2 * F : F;
  return V * H + L * (4 * H * H + 9 * H + U * H + U + F * H) + 2 * H;
}
} // namespace

void validate(const ModelConfig& c) {
  auto positive = [&](const char* field, double v) {
    GLM3D_USAGE_CHECK(v > 0 && std::isfinite(v))
        << "model '" << c.name << "': " << field << " must be positive, got " << v;
  };
  positive("num_layers", double(c.num_layers));
  positive("hidden", double(c.hidden));
  positive("num_heads", double(c.num_heads));
  positive("ffn_hidden", double(c.ffn_hidden));
  positive("vocab", double(c.vocab));
  positive("seq_len", double(c.seq_len));
  positive("rope_base", c.rope_base);
  positive("ln_eps", c.ln_eps);
  positive("init_std", c.init_std);
  positive("lr", c.lr);
  const double params = parameter_count_estimate(c);
  GLM3D_USAGE_CHECK(params <= k_max_parameters)
      << "model '" << c.name << "': " << params << " parameters, more than glm3d handles ("
      << k_max_parameters << ")";
  GLM3D_USAGE_CHECK(c.hidden % c.num_heads == 0) << "model '" << c.name << "': num_heads (" << c.num_heads
                                                 << ") must divide hidden (" << c.hidden << ")";
  const int64_t rot = c.rope == RopeKind::two_d ? c.head_dim() / 2 : c.head_dim();
  GLM3D_USAGE_CHECK(rot % 2 == 0) << "model '" << c.name << "': head dim " << c.head_dim()
                                  << " must be even (divisible by 4 with 2D RoPE)";
}

int64_t parameter_count(const ModelConfig& c) {
  const int64_t H = c.hidden, U = c.ffn_up_width(), F = c.ffn_hidden;
  const int64_t per_layer = 2 * H               // input layernorm
                            + 3 * H * H + 3 * H // query_key_value
                            + H * H + H         // attention dense
                            + 2 * H             // post-attention layernorm
                            + U * H + U         // dense_h_to_4h
                            + F * H + H;        // dense_4h_to_h
  return c.vocab * H + c.num_layers * per_layer + 2 * H;
}

double layer_forward_flops_per_token(const ModelConfig& c) {
  const double H = double(c.hidden), F = double(c.ffn_hidden), S = double(c.seq_len);
  const double ffn_mats = c.ffn == FfnKind::geglu ? 3.0 : 2.0;
  const double matmul_params_per_layer = 4.0 * H * H + ffn_mats * H * F;
  return 2.0 * matmul_params_per_layer + 4.0 * S * H;
}

double training_flops_per_token(const ModelConfig& c) {
  const double forward =
      double(c.num_layers) * layer_forward_flops_per_token(c) + 2.0 * double(c.hidden * c.vocab);
  return 3.0 * forward;
}

std::string to_string(const ModelConfig& c) {
  std::ostringstream os;
  os << c.name << ": layers " << c.num_layers << ", hidden " << c.hidden << ", heads " << c.num_heads
     << ", ffn " << c.ffn_hidden << (c.ffn == FfnKind::geglu ? " (GeGLU)" : " (GeLU)") << ", vocab "
     << c.vocab << ", seq " << c.seq_len << ", RoPE " << (c.rope == RopeKind::two_d ? "2D" : "1D") << ", "
     << double(parameter_count(c)) / 1e6 << "M params";
  return os.str();
}

} // namespace glm3d
