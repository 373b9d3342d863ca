#include "model/peft_format.h"

#include "core/check.h"
#include "core/json_error.h"
#include "core/json_int.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

namespace glm3d {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_config = "adapter_config.json";
constexpr const char* k_weights = "adapter_model.safetensors";

// The layer number after ".layers." in a module path, -1 when there is none.
int64_t layer_of(const std::string& path) {
  static const std::regex re(R"(\.layers\.(\d+)\.)");
  std::smatch m;
  return std::regex_search(path, m, re) ? std::stoll(m[1].str()) : -1;
}

bool name_matches(const std::string& path, const LoraSettings& s) {
  if (s.target_regex)
    return std::regex_match(path, std::regex(s.target_modules.at(0)));
  for (const std::string& t : s.target_modules)
    if (path == t ||
        (path.size() > t.size() && path.compare(path.size() - t.size() - 1, t.size() + 1, "." + t) == 0))
      return true;
  return false;
}

std::string targets_str(const LoraSettings& s) {
  return nlohmann::json(s.target_modules).dump();
}

} // namespace

double LoraSettings::scaling() const {
  return use_rslora ? alpha / std::sqrt(double(r)) : alpha / double(r);
}

std::string chatglm_module_path(ChatGlmFamily family, int64_t layer, const std::string& linear) {
  const bool attn = linear == "query_key_value" || linear == "dense";
  GLM3D_CHECK(attn || linear == "dense_h_to_4h" || linear == "dense_4h_to_h")
      << "unknown linear '" << linear << "'";
  const std::string i = std::to_string(layer);
  if (family == ChatGlmFamily::chatglm6b)
    return "transformer.layers." + i + (attn ? ".attention." : ".mlp.") + linear;
  return "transformer.encoder.layers." + i + (attn ? ".self_attention." : ".mlp.") + linear;
}

std::string lora_key(const std::string& module_path, char which) {
  GLM3D_CHECK(which == 'A' || which == 'B') << "lora_key: which must be 'A' or 'B'";
  return "base_model.model." + module_path + ".lora_" + which + ".weight";
}

std::vector<LoraModule> lora_targets(const std::vector<LoraModule>& all, const LoraSettings& s) {
  std::vector<LoraModule> out;
  for (const LoraModule& m : all) {
    if (!name_matches(m.path, s))
      continue;
    const int64_t layer = layer_of(m.path);
    if (!s.layers_to_transform.empty() &&
        std::find(s.layers_to_transform.begin(), s.layers_to_transform.end(), layer) ==
            s.layers_to_transform.end())
      continue;
    out.push_back(m);
  }
  return out;
}

ShapeMap lora_shapes(const std::vector<LoraModule>& targets, int64_t r) {
  ShapeMap shapes;
  for (const LoraModule& m : targets) {
    shapes[lora_key(m.path, 'A')] = {r, m.in_features};
    shapes[lora_key(m.path, 'B')] = {m.out_features, r};
  }
  return shapes;
}

void write_peft_adapter(const std::string& dir, const LoraSettings& s, const std::vector<LoraModule>& all,
                        const TensorMap& tensors, StDtype dtype) {
  const std::vector<LoraModule> targets = lora_targets(all, s);
  GLM3D_CHECK(!targets.empty() && s.r > 0) << "a LoRA adapter needs r > 0 and a target module";
  std::error_code ec;
  fs::create_directories(dir, ec);
  GLM3D_USAGE_CHECK(fs::is_directory(dir))
      << "cannot create adapter directory " << dir << ": " << ec.message();
  // The fields of PEFT's LoraConfig that every PEFT version knows (older ones refuse unknown keys).
  nlohmann::json c = {{"base_model_name_or_path", s.base_model_name_or_path},
                      {"bias", "none"},
                      {"fan_in_fan_out", false},
                      {"inference_mode", true},
                      {"init_lora_weights", true},
                      {"lora_alpha", s.alpha},
                      {"lora_dropout", s.dropout},
                      {"modules_to_save", nullptr},
                      {"peft_type", "LORA"},
                      {"r", s.r},
                      {"target_modules", s.target_regex ? nlohmann::json(s.target_modules.at(0))
                                                        : nlohmann::json(s.target_modules)},
                      {"task_type", "CAUSAL_LM"}};
  if (s.alpha == std::floor(s.alpha)) // PEFT's lora_alpha is an int
    c["lora_alpha"] = int64_t(s.alpha);
  if (!s.layers_to_transform.empty())
    c["layers_to_transform"] = s.layers_to_transform;
  if (s.use_rslora)
    c["use_rslora"] = true;
  const std::string cfg = (fs::path(dir) / k_config).string();
  std::ofstream out(cfg);
  out << c.dump(2); // nlohmann objects are sorted by key: json.dumps(sort_keys=True)
  out.close();
  GLM3D_USAGE_CHECK(out.good()) << "cannot write " << cfg;
  write_expected_tensors((fs::path(dir) / k_weights).string(), lora_shapes(targets, s.r), tensors, dtype,
                         {{"format", "pt"}});
}

namespace {

constexpr int64_t k_max_lora_rank = int64_t(1) << 20;

nlohmann::json read_config(const std::string& path) {
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in.good()) << "PEFT adapter config " << path << " is missing or unreadable";
  std::ostringstream os;
  os << in.rdbuf();
  try {
    nlohmann::json c = nlohmann::json::parse(os.str());
    GLM3D_USAGE_CHECK(c.is_object()) << "PEFT adapter config " << path << ": not a JSON object";
    return c;
  } catch (const nlohmann::json::exception& e) { // out_of_range too: a number beyond a double
    GLM3D_USAGE_FAIL() << "PEFT adapter config " << path << ": not valid JSON: " << json_error_text(e);
  }
}

// PEFT's string target_modules is a regular expression (re.fullmatch): refused here, with one
// line, when std::regex cannot compile it (std::regex_error) or it is too long to be a module
// pattern (libstdc++ compiles and matches recursively: a huge pattern exhausts the stack).
void check_regex(const std::string& re, const std::string& path) {
  GLM3D_USAGE_CHECK(re.size() <= 1024) << "PEFT adapter config " << path << ": target_modules regex of "
                                       << re.size() << " characters (at most 1024)";
  try {
    (void)std::regex(re);
  } catch (const std::regex_error& e) {
    GLM3D_USAGE_FAIL() << "PEFT adapter config " << path << ": target_modules " << nlohmann::json(re).dump()
                       << " is not a regular expression std::regex reads: " << e.what();
  }
}

// A field that must be absent, null, false, empty or equal to `ok`.
void require_plain(const nlohmann::json& c, const char* key, const std::string& path,
                   const nlohmann::json& ok, const char* why) {
  const auto it = c.find(key);
  if (it == c.end() || it->is_null() || *it == ok || (it->is_boolean() && !it->get<bool>()) ||
      ((it->is_object() || it->is_array()) && it->empty()))
    return;
  GLM3D_USAGE_FAIL() << "PEFT adapter config " << path << ": " << key << " " << it->dump()
                     << " is not supported (" << why << ")";
}

LoraSettings settings_of(const nlohmann::json& c, const std::string& path) {
  const auto type = c.find("peft_type"); // any JSON value: c.value() would throw for a non-string
  GLM3D_USAGE_CHECK(type != c.end() && *type == "LORA")
      << "PEFT adapter config " << path << ": peft_type is "
      << (c.contains("peft_type") ? c["peft_type"].dump() : "missing") << ", glm3d reads LORA adapters";
  require_plain(c, "bias", path, "none", "bias weights are not adapted");
  require_plain(c, "fan_in_fan_out", path, false, "ChatGLM's linear layers store [out, in]");
  require_plain(c, "use_dora", path, false, "DoRA is not implemented");
  require_plain(c, "rank_pattern", path, nullptr, "one r for every module");
  require_plain(c, "alpha_pattern", path, nullptr, "one lora_alpha for every module");
  require_plain(c, "modules_to_save", path, nullptr, "fully trained modules are not read");
  LoraSettings s;
  try {
    s.r = json_int64(c.at("r")).value_or(0);
    s.alpha = c.value("lora_alpha", 8.0);
    s.dropout = c.value("lora_dropout", 0.0);
    const nlohmann::json& t = c.at("target_modules");
    s.target_regex = t.is_string();
    s.target_modules =
        t.is_string() ? std::vector<std::string>{t.get<std::string>()} : t.get<std::vector<std::string>>();
    if (s.target_regex)
      check_regex(s.target_modules[0], path);
    if (c.contains("layers_to_transform") && !c["layers_to_transform"].is_null()) {
      const nlohmann::json& l = c["layers_to_transform"];
      for (const nlohmann::json& v : l.is_array() ? l : nlohmann::json::array({l})) {
        const std::optional<int64_t> layer = json_int64(v);
        GLM3D_USAGE_CHECK(layer) << "PEFT adapter config " << path
                                 << ": layers_to_transform must be integers, got " << l.dump();
        s.layers_to_transform.push_back(*layer);
      }
    }
    s.use_rslora = c.value("use_rslora", false);
    s.base_model_name_or_path = c.value("base_model_name_or_path", std::string());
  } catch (const nlohmann::json::exception& e) {
    GLM3D_USAGE_FAIL() << "PEFT adapter config " << path << ": " << e.what();
  }
  // The bound keeps r * in_features far from overflow for any model (PEFT's ranks are <= 1024 or so).
  GLM3D_USAGE_CHECK(s.r > 0 && s.r <= k_max_lora_rank)
      << "PEFT adapter config " << path << ": r must be an integer in 1.." << k_max_lora_rank << ", got "
      << c.at("r").dump();
  return s;
}

} // namespace

PeftAdapter read_peft_adapter(const std::string& dir, const std::vector<LoraModule>& all) {
  const std::string cfg = (fs::path(dir) / k_config).string(), weights = (fs::path(dir) / k_weights).string();
  PeftAdapter a;
  a.settings = settings_of(read_config(cfg), cfg);
  a.targets = lora_targets(all, a.settings);
  GLM3D_USAGE_CHECK(!a.targets.empty()) << "PEFT adapter config " << cfg << ": target_modules "
                                        << targets_str(a.settings) << " selects no linear layer of the model";
  if (!fs::exists(weights) && fs::exists(fs::path(dir) / "adapter_model.bin"))
    GLM3D_USAGE_FAIL() << "PEFT adapter " << dir
                       << " holds adapter_model.bin (a torch pickle), which glm3d does not "
                       << "read; save it as " << k_weights << " (PEFT's save_pretrained default)";
  GLM3D_USAGE_CHECK(fs::is_regular_file(weights)) << "PEFT adapter weights " << weights << " are missing";
  a.tensors = read_expected_tensors(weights, lora_shapes(a.targets, a.settings.r), "PEFT adapter",
                                    "lora_A/lora_B of the modules target_modules " + targets_str(a.settings) +
                                        " selects, r " + std::to_string(a.settings.r));
  return a;
}

} // namespace glm3d
