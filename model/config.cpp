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

// ChatGLM2/3 (modeling_chatglm.py of chatglm2-6b): RMSNorm, pre-norm residual, multi-query
// attention with `groups` key/value heads (bias on query_key_value only), SwiGLU, RoPE on half of
// each head as interleaved pairs, causal mask, an untied output layer.
ModelConfig glm2(const char* name, int64_t layers, int64_t hidden, int64_t heads, int64_t groups, int64_t ffn,
                 int64_t vocab, int64_t seq) {
  ModelConfig c =
      make(name, layers, hidden, heads, ffn, vocab, seq, FfnKind::swiglu, RopeKind::half_interleaved, 1e-4);
  c.norm = NormKind::rmsnorm;
  c.residual = ResidualKind::prenorm;
  c.mask = MaskKind::causal;
  c.kv_groups = groups;
  c.tie_embeddings = false;
  c.qkv_bias = true;
  c.linear_bias = false;
  return c;
}

const std::map<std::string, ModelConfig>& presets() {
  // tiny splits 8 ways in every dimension: 8 layers (pp 8, or pp 2 x 2 virtual stages x 2 layers),
  // 8 heads and a GeGLU width divisible by 8 (tp 8).
  static const std::map<std::string, ModelConfig> p = {
      {"tiny", make("tiny", 8, 64, 8, 128, 256, 32, FfnKind::geglu, RopeKind::two_d, 3e-3)},
      // launch/quickstart.sh's model: 2 layers (one per stage at pp 2), hidden 128, 4 heads (tp 2),
      // vocabulary of the sample store. tiny's 8 layers of width 64 stay at the sample corpus's unigram
      // entropy for the quickstart's 300 steps; this one ends about 1.3 nats below it.
      {"quickstart", make("quickstart", 2, 128, 4, 512, 4000, 64, FfnKind::gelu, RopeKind::two_d, 2e-3)},
      {"small", make("small", 12, 768, 12, 3072, 32000, 512, FfnKind::gelu, RopeKind::two_d, 6e-4)},
      {"base", make("base", 24, 1024, 16, 4096, 50048, 1024, FfnKind::gelu, RopeKind::two_d, 3e-4)},
      {"chatglm-6b",
       make("chatglm-6b", 28, 4096, 32, 16384, 130528, 2048, FfnKind::gelu, RopeKind::two_d, 1e-4)},
      {"glm-10b", make("glm-10b", 48, 4096, 64, 16384, 50304, 1024, FfnKind::gelu, RopeKind::two_d, 1e-4)},
      {"glm-130b", make("glm-130b", 70, 12288, 96, 32768, 150528, 2048, FfnKind::geglu, RopeKind::one_d,
                        8e-5)}, // GLM-130B's peak lr
      {"chatglm2-6b", glm2("chatglm2-6b", 28, 4096, 32, 2, 13696, 65024, 32768)},
      {"chatglm3-6b", glm2("chatglm3-6b", 28, 4096, 32, 2, 13696, 65024, 8192)},
      // ChatGLM2's architecture at tiny's size: 2 key/value groups, so tp 4 replicates them.
      {"tiny-glm2", glm2("tiny-glm2", 8, 64, 8, 2, 96, 256, 32)},
  };
  return p;
}

// One option per INI key; Boost.Program_options converts the values (core/ini.h).
struct WordKeys {
  std::string ffn, rope, norm, residual, mask;
};

po::options_description ini_keys(ModelConfig& c, WordKeys& w) {
  po::options_description d("model INI keys");
  d.add_options()                                      //
      ("base", po::value<std::string>(), "preset")     // applied first, wherever it stands
      ("name", po::value(&c.name))                     //
      ("num_layers", po::value(&c.num_layers))         //
      ("hidden", po::value(&c.hidden))                 //
      ("num_heads", po::value(&c.num_heads))           //
      ("ffn_hidden", po::value(&c.ffn_hidden))         //
      ("vocab", po::value(&c.vocab))                   //
      ("seq_len", po::value(&c.seq_len))               //
      ("ffn", po::value(&w.ffn))                       //
      ("rope", po::value(&w.rope))                     //
      ("norm", po::value(&w.norm))                     //
      ("residual", po::value(&w.residual))             //
      ("mask", po::value(&w.mask))                     //
      ("kv_groups", po::value(&c.kv_groups))           //
      ("tie_embeddings", po::value(&c.tie_embeddings)) //
      ("qkv_bias", po::value(&c.qkv_bias))             //
      ("linear_bias", po::value(&c.linear_bias))       //
      ("rope_base", po::value(&c.rope_base))           //
      ("ln_eps", po::value(&c.ln_eps))                 //
      ("init_std", po::value(&c.init_std))             //
      ("lr", po::value(&c.lr));
  return d;
}

// Any [section] header is accepted (a model file is one section; `[model]` by convention).
// Keys take `_` or `-`. Errors name FILE:LINE and the key as written.
ModelConfig load_ini(const std::string& file) {
  IniFile ini = read_ini(file, "model config file");
  ModelConfig c;
  WordKeys w;
  const po::options_description keys = ini_keys(c, w);
  std::map<std::string, int> line_of;
  for (IniLine& l : ini.lines) {
    l.key = normalise_key(l.key, '_');
    GLM3D_USAGE_CHECK(keys.find_nothrow(l.key, false))
        << ini.where(l.line) << ": unknown key '" << l.typed_key
        << "' (known: base, name, num_layers, hidden, num_heads, ffn_hidden, vocab, seq_len, "
           "ffn, rope, rope_base, ln_eps, init_std, lr, norm, residual, mask, kv_groups, tie_embeddings, "
           "qkv_bias, linear_bias)";
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
  if (vm.count("ffn"))
    c.ffn = parse_ffn(w.ffn, at("ffn") + ": key 'ffn'");
  if (vm.count("rope"))
    c.rope = parse_rope(w.rope, at("rope") + ": key 'rope'");
  if (vm.count("norm"))
    c.norm = parse_norm(w.norm, at("norm") + ": key 'norm'");
  if (vm.count("residual"))
    c.residual = parse_residual(w.residual, at("residual") + ": key 'residual'");
  if (vm.count("mask"))
    c.mask = parse_mask(w.mask, at("mask") + ": key 'mask'");
  return c;
}

} // namespace

std::vector<std::string> preset_names() {
  return {"tiny",    "quickstart", "small",       "base",        "chatglm-6b",
          "glm-10b", "glm-130b",   "chatglm2-6b", "chatglm3-6b", "tiny-glm2"};
}

namespace {
// One word table per architecture key: (word, value) pairs.
template <class E> struct Words {
  std::vector<std::pair<std::string, E>> w;
  std::string to(E e) const {
    for (const auto& [k, v] : w)
      if (v == e)
        return k;
    return "?";
  }
  E parse(const std::string& s, const std::string& what) const {
    std::string known;
    for (const auto& [k, v] : w) {
      if (k == s)
        return v;
      known += (known.empty() ? "" : " or ") + k;
    }
    GLM3D_USAGE_FAIL() << what << " expects " << known << ", got '" << s << "'";
  }
};
const Words<FfnKind> kFfn{{{"gelu", FfnKind::gelu}, {"geglu", FfnKind::geglu}, {"swiglu", FfnKind::swiglu}}};
const Words<RopeKind> kRope{
    {{"1d", RopeKind::one_d}, {"2d", RopeKind::two_d}, {"half-interleaved", RopeKind::half_interleaved}}};
const Words<NormKind> kNorm{{{"layernorm", NormKind::layernorm}, {"rmsnorm", NormKind::rmsnorm}}};
const Words<ResidualKind> kResidual{
    {{"deepnorm", ResidualKind::deepnorm}, {"prenorm", ResidualKind::prenorm}}};
const Words<MaskKind> kMask{{{"glm", MaskKind::glm}, {"causal", MaskKind::causal}}};
} // namespace

std::string to_string(FfnKind k) {
  return kFfn.to(k);
}
std::string to_string(RopeKind k) {
  return kRope.to(k);
}
std::string to_string(NormKind k) {
  return kNorm.to(k);
}
std::string to_string(ResidualKind k) {
  return kResidual.to(k);
}
std::string to_string(MaskKind k) {
  return kMask.to(k);
}
FfnKind parse_ffn(const std::string& s, const std::string& what) {
  return kFfn.parse(s, what);
}
RopeKind parse_rope(const std::string& s, const std::string& what) {
  return kRope.parse(s, what);
}
NormKind parse_norm(const std::string& s, const std::string& what) {
  return kNorm.parse(s, what);
}
ResidualKind parse_residual(const std::string& s, const std::string& what) {
  return kResidual.parse(s, what);
}
MaskKind parse_mask(const std::string& s, const std::string& what) {
  return kMask.parse(s, what);
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
  const int64_t rot = c.rope == RopeKind::one_d ? c.head_dim() : c.head_dim() / 2;
  GLM3D_USAGE_CHECK(rot % 2 == 0) << "model '" << c.name << "': head dim " << c.head_dim()
                                  << " must be even (divisible by 4 with 2D or half-interleaved RoPE)";
  GLM3D_USAGE_CHECK(c.kv_groups >= 0 && (c.kv_groups == 0 || c.num_heads % c.kv_groups == 0))
      << "model '" << c.name << "': kv_groups (" << c.kv_groups << ") must divide num_heads (" << c.num_heads
      << ")";
  GLM3D_USAGE_CHECK(c.rope != RopeKind::two_d || c.mask == MaskKind::glm)
      << "model '" << c.name << "': 2D RoPE (block positions) needs mask = glm";
}

int64_t parameter_count(const ModelConfig& c) {
  const int64_t H = c.hidden, U = c.ffn_up_width(), F = c.ffn_hidden, Q = c.qkv_width();
  const int64_t norm = c.norm == NormKind::layernorm ? 2 * H : H; // weight (and bias)
  const int64_t bias = c.linear_bias ? 1 : 0;
  const int64_t per_layer = norm                           // input norm
                            + Q * H + (c.qkv_bias ? Q : 0) // query_key_value
                            + H * H + bias * H             // attention dense
                            + norm                         // post-attention norm
                            + U * H + bias * U             // dense_h_to_4h
                            + F * H + bias * H;            // dense_4h_to_h
  return c.vocab * H * (c.tie_embeddings ? 1 : 2) + c.num_layers * per_layer + norm;
}

double layer_forward_flops_per_token(const ModelConfig& c) {
  const double H = double(c.hidden), F = double(c.ffn_hidden), S = double(c.seq_len);
  const double ffn_mats = c.gated() ? 3.0 : 2.0;
  const double matmul_params_per_layer = double(c.qkv_width()) * H + H * H + ffn_mats * H * F;
  return 2.0 * matmul_params_per_layer + 4.0 * S * H;
}

double training_flops_per_token(const ModelConfig& c) {
  const double forward =
      double(c.num_layers) * layer_forward_flops_per_token(c) + 2.0 * double(c.hidden * c.vocab);
  return 3.0 * forward;
}

double frozen_training_flops_per_token(const ModelConfig& c) {
  const double H = double(c.hidden), F = double(c.ffn_hidden);
  const double layer_weights = double(c.qkv_width()) * H + H * H + (c.gated() ? 3.0 : 2.0) * H * F;
  const double weights = double(c.num_layers) * layer_weights + H * double(c.vocab);
  return training_flops_per_token(c) - 2.0 * weights; // no weight-gradient GEMMs
}

std::string to_string(const ModelConfig& c) {
  std::ostringstream os;
  os << c.name << ": layers " << c.num_layers << ", hidden " << c.hidden << ", heads " << c.num_heads;
  if (c.kv_groups > 0)
    os << " (" << c.kv_groups << " kv groups)";
  os << ", ffn " << c.ffn_hidden << " (" << to_string(c.ffn) << "), vocab " << c.vocab << ", seq "
     << c.seq_len << ", RoPE " << to_string(c.rope) << ", " << to_string(c.norm) << ", "
     << to_string(c.residual) << ", mask " << to_string(c.mask) << (c.tie_embeddings ? "" : ", untied head")
     << ", " << double(parameter_count(c)) / 1e6 << "M params";
  return os.str();
}

} // namespace glm3d
