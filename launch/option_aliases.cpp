#include "launch/option_aliases.h"

#include "core/check.h"

#include <algorithm>
#include <vector>

namespace glm3d {

namespace {

// Megatron-LM spellings with the same meaning and units as a glm3d option. Megatron names that
// glm3d spells the same need no row: --lr, --min-lr, --clip-grad, --weight-decay, --seed, --bf16,
// --save, --load, --save-interval, --log-interval, --eval-interval.
constexpr OptionAlias k_aliases[] = {
    {"global-batch-size", "global-batch", nullptr},
    {"micro-batch-size", "micro-batch", nullptr},
    {"train-iters", "steps", nullptr},
    {"lr-warmup-iters", "warmup-steps", nullptr},
    {"lr-decay-iters", "decay-steps", nullptr},
    {"tensor-model-parallel-size", "tp", nullptr},
    {"pipeline-model-parallel-size", "pp", nullptr},
    {"num-virtual-stages-per-pipeline-rank", "virtual-stages", nullptr}, // model chunks per pipeline rank
    {"adam-beta1", "beta1", nullptr},
    {"adam-beta2", "beta2", nullptr},
    {"adam-eps", "eps", nullptr},
    {"seq-length", "seq-len", nullptr},
    {"use-distributed-optimizer", "zero", "1"}, // optimizer state sharded over dp = ZeRO-1
    // ---- Rows waiting for glm3d train options still to come (live once the target exists):
    {"recompute-granularity", "recompute", nullptr},     // --recompute full|selective, as Megatron's
    {"recompute-activations", "recompute", "selective"}, // Megatron: selective recomputation
    {"bf16", "precision", "bf16"},                       // only where --bf16 itself is gone
};

// Megatron options without an exact glm3d twin: "did you mean" the nearest one, and how.
struct Hint {
  const char* from;
  const char* to;
  const char* note;
};
constexpr Hint k_hints[] = {
    {"num-layers-per-virtual-pipeline-stage", "virtual-stages",
     "model chunks per pipeline rank: layers / (pp x layers per chunk), with --schedule interleaved"},
    {"num-layers", "model", "a preset, or a model INI file with num_layers = N"},
    {"hidden-size", "model", "a preset, or a model INI file with hidden = N"},
    {"num-attention-heads", "model", "a preset, or a model INI file with num_heads = N"},
    {"ffn-hidden-size", "model", "a preset, or a model INI file with ffn_hidden = N"},
    {"max-position-embeddings", "model", "a preset, or a model INI file with seq_len = N"},
    {"data-path", "data", "a token store directory made by glm3d prep"},
    {"lr-warmup-fraction", "warmup-steps", "a number of steps: the fraction times --steps"},
    {"fp16", "bf16", "bf16 matmul inputs with f32 accumulation"},
    {"eval-iters", "eval-samples", "held-out samples: eval-iters x the global batch size"},
};

bool has(const po::options_description& desc, const std::string& name) {
  return desc.find_nothrow(name, false) != nullptr;
}

} // namespace

const OptionAlias* live_alias(const std::string& name, const po::options_description& desc) {
  for (const OptionAlias& a : k_aliases)
    if (name == a.from && has(desc, a.to) && !has(desc, a.from))
      return &a;
  return nullptr;
}

Args apply_aliases(const Args& args, const po::options_description& desc) {
  Args out;
  bool options_end = false;
  for (const std::string& arg : args) {
    options_end = options_end || arg == "--";
    const OptionAlias* a =
        options_end || arg.rfind("--", 0) != 0 ? nullptr : live_alias(arg.substr(2, arg.find('=') - 2), desc);
    if (!a) {
      out.push_back(arg);
    } else if (a->value) {
      GLM3D_USAGE_CHECK(arg.find('=') == std::string::npos) << "option '--" << a->from << "' takes no value";
      out.push_back(std::string("--") + a->to);
      out.push_back(a->value);
    } else {
      const size_t eq = arg.find('=');
      out.push_back(std::string("--") + a->to + (eq == std::string::npos ? "" : arg.substr(eq)));
    }
  }
  return out;
}

int edit_distance(const std::string& a, const std::string& b) {
  // d[i][j]: distance between the first i characters of a and the first j of b.
  std::vector<std::vector<int>> d(a.size() + 1, std::vector<int>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = int(i);
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = int(j);
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

Suggestion suggest_option(const std::string& name, const po::options_description& desc) {
  for (const Hint& h : k_hints)
    if (name == h.from && has(desc, h.to))
      return {h.to, h.note};
  std::vector<std::string> candidates;
  for (const auto& o : desc.options())
    candidates.push_back(o->long_name());
  for (const OptionAlias& a : k_aliases)
    if (live_alias(a.from, desc))
      candidates.push_back(a.from);
  return {closest_name(name, candidates), ""};
}

std::string closest_name(const std::string& name, const std::vector<std::string>& candidates) {
  // Close enough to be a typo: two edits, or a third of the name for long names.
  int best = std::max<int>(2, int(name.size()) / 3) + 1;
  std::string out;
  for (const std::string& c : candidates) {
    const int d = edit_distance(name, c);
    if (d < best)
      best = d, out = c;
  }
  return out;
}

std::string did_you_mean(const Suggestion& s, const std::string& dash) {
  if (s.name.empty())
    return "";
  return "; did you mean '" + dash + s.name + "'" + (s.note.empty() ? "" : " (" + s.note + ")") + "?";
}

std::string unknown_option_message(const std::string& typed, const po::options_description& desc,
                                   const std::string& command) {
  const std::string name = typed.substr(
      typed.find_first_not_of('-') == std::string::npos ? typed.size() : typed.find_first_not_of('-'));
  const std::string hint = did_you_mean(suggest_option(name, desc), "--");
  return "unknown option '" + typed + "'" + (hint.empty() ? " (see glm3d " + command + " --help)" : hint);
}

std::string alias_help(const po::options_description& desc) {
  std::string out;
  for (const OptionAlias& a : k_aliases)
    if (live_alias(a.from, desc))
      out +=
          std::string("  --") + a.from + " = --" + a.to + (a.value ? std::string(" ") + a.value : "") + "\n";
  return out;
}

} // namespace glm3d
