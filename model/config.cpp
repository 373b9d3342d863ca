#include "model/config.h"

#include "core/check.h"

#include <cmath>
#include <fstream>
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

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos)
    return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

int64_t parse_int(const std::string& file, const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    GLM3D_USAGE_CHECK(used == v.size()) << "";
    return x;
  } catch (const std::exception&) {
    GLM3D_USAGE_FAIL() << file << ": key '" << key << "' expects an integer, got '" << v << "'";
  }
}

double parse_double(const std::string& file, const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    GLM3D_USAGE_CHECK(used == v.size()) << "";
    return x;
  } catch (const std::exception&) {
    GLM3D_USAGE_FAIL() << file << ": key '" << key << "' expects a number, got '" << v << "'";
  }
}

ModelConfig load_ini(const std::string& file) {
  std::ifstream in(file);
  GLM3D_USAGE_CHECK(in) << "cannot read model config file '" << file << "'";
  std::vector<std::pair<std::string, std::string>> kv;
  std::string line;
  int lineno = 0;
  ModelConfig c;
  c.name = file;
  while (std::getline(in, line)) {
    ++lineno;
    line = trim(line.substr(0, line.find_first_of("#;")));
    if (line.empty() || line[0] == '[')
      continue; // comments, blank lines, [model] section header
    size_t eq = line.find('=');
    GLM3D_USAGE_CHECK(eq != std::string::npos)
        << file << ":" << lineno << ": expected 'key = value', got '" << line << "'";
    std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "base") {
      std::string name = c.name;
      c = preset_config(value);
      c.name = name;
    } else {
      kv.emplace_back(key, value);
    }
  }
  for (const auto& [key, v] : kv) {
    if (key == "num_layers")
      c.num_layers = parse_int(file, key, v);
    else if (key == "hidden")
      c.hidden = parse_int(file, key, v);
    else if (key == "num_heads")
      c.num_heads = parse_int(file, key, v);
    else if (key == "ffn_hidden")
      c.ffn_hidden = parse_int(file, key, v);
    else if (key == "vocab")
      c.vocab = parse_int(file, key, v);
    else if (key == "seq_len")
      c.seq_len = parse_int(file, key, v);
    else if (key == "rope_base")
      c.rope_base = parse_double(file, key, v);
    else if (key == "ln_eps")
      c.ln_eps = parse_double(file, key, v);
    else if (key == "init_std")
      c.init_std = parse_double(file, key, v);
    else if (key == "lr")
      c.lr = parse_double(file, key, v);
    else if (key == "name")
      c.name = v;
    else if (key == "ffn") {
      GLM3D_USAGE_CHECK(v == "gelu" || v == "geglu")
          << file << ": key 'ffn' expects gelu or geglu, got '" << v << "'";
      c.ffn = v == "gelu" ? FfnKind::gelu : FfnKind::geglu;
    } else if (key == "rope") {
      GLM3D_USAGE_CHECK(v == "1d" || v == "2d") << file << ": key 'rope' expects 1d or 2d, got '" << v << "'";
      c.rope = v == "1d" ? RopeKind::one_d : RopeKind::two_d;
    } else {
      GLM3D_USAGE_FAIL()
          << file << ": unknown key '" << key
          << "' (known: base, name, num_layers, hidden, num_heads, ffn_hidden, vocab, seq_len, "
             "ffn, rope, rope_base, ln_eps, init_std, lr)";
    }
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

void validate(const ModelConfig& c) {
  auto positive = [&](const char* field, double v) {
    GLM3D_USAGE_CHECK(v > 0) << "model '" << c.name << "': " << field << " must be positive, got " << v;
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

double training_flops_per_token(const ModelConfig& c) {
  const double H = double(c.hidden), F = double(c.ffn_hidden), S = double(c.seq_len), V = double(c.vocab);
  const double ffn_mats = c.ffn == FfnKind::geglu ? 3.0 : 2.0;
  const double matmul_params_per_layer = 4.0 * H * H + ffn_mats * H * F;
  const double forward = double(c.num_layers) * (2.0 * matmul_params_per_layer + 4.0 * S * H) + 2.0 * H * V;
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
