#pragma once
// The option spellings users bring from Megatron-LM, and "did you mean" for the rest.
// One table (option_aliases.cpp) maps a Megatron name to a glm3d option; it is applied to
// every command's arguments (and --config keys) before Boost.Program_options sees them.
// An alias is live for a command only when the command has the target option and lacks the
// Megatron name itself, so one table serves train, eval and data sample, and a row may wait
// for an option that does not exist yet.
#include "launch/commands.h"

#include <boost/program_options.hpp>
#include <string>
#include <vector>

namespace glm3d {

namespace po = boost::program_options;

struct OptionAlias {
  const char* from;  // Megatron-LM spelling, without "--"
  const char* to;    // the glm3d option
  const char* value; // a flag that sets `to` to this value; nullptr: the alias takes a value itself
};

// The live alias named `name` (no dashes) for desc, or nullptr.
const OptionAlias* live_alias(const std::string& name, const po::options_description& desc);

// args with every live alias replaced by its target: `--train-iters 3` -> `--steps 3`,
// `--train-iters=3` -> `--steps=3`, `--use-distributed-optimizer` -> `--zero 1`.
// Arguments after a bare `--` are left alone.
Args apply_aliases(const Args& args, const po::options_description& desc);

struct Suggestion {
  std::string name; // an option of desc or a live alias; "" when nothing is close
  std::string note; // for Megatron options without an exact glm3d twin: how the setting is given here
};

// For an option name desc lacks (no dashes): the closest option or live alias by edit distance,
// or the nearest glm3d option of a known Megatron option that does not map exactly.
//   suggest_option("stpes") -> {"steps", ""}
//   suggest_option("hidden-size") -> {"model", "a preset, or a model INI file with hidden = N"}
Suggestion suggest_option(const std::string& name, const po::options_description& desc);

// "; did you mean '--steps'?" or "; did you mean '--model' (NOTE)?" (dash: "--" or ""), "" for none.
std::string did_you_mean(const Suggestion& s, const std::string& dash);

// "unknown option '--foo'; did you mean '--bar'?" or "unknown option '--foo' (see glm3d CMD --help)".
std::string unknown_option_message(const std::string& typed, const po::options_description& desc,
                                   const std::string& command);

// The live aliases of desc, for --help: "  --train-iters = --steps\n..." ("" when none).
std::string alias_help(const po::options_description& desc);

// The candidate nearest to name if it is close enough to be a typo (ties: the first), else "".
std::string closest_name(const std::string& name, const std::vector<std::string>& candidates);

// Optimal-string-alignment edit distance (insertions, deletions, substitutions, adjacent swaps).
int edit_distance(const std::string& a, const std::string& b);

} // namespace glm3d
