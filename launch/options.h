#pragma once
// Shared option handling for subcommands: Boost.Program_options over the command line
// (Megatron-LM spellings mapped first: launch/option_aliases.h) plus an optional INI file
// (--config FILE, launch/config_file.h; command-line values win). Unknown options ("did you
// mean"), bad values and unknown INI keys (FILE:LINE) become UsageError (exit 2).
#include "core/format.h"
#include "launch/commands.h"

#include <boost/program_options.hpp>
#include <string>
#include <type_traits>

namespace glm3d {

namespace po = boost::program_options;

// Parses args into vm (adds --help and --config to desc). Returns false when --help was given:
// desc (and the Megatron spellings it accepts) has then been printed on rank 0 and the command
// should return 0. ctx.command names the command in messages and selects the INI section.
bool parse_options(const Args& args, po::options_description& desc, po::variables_map& vm,
                   const RunContext& ctx, const po::positional_options_description* positional = nullptr);

// A command whose one argument is a store directory (`glm3d prep verify DIR`, `glm3d data stats
// DIR`): parses it into dir, with `title` as the --help text. Returns false when --help was given.
bool parse_store_dir(const Args& args, const std::string& title, std::string& dir, const RunContext& ctx);

// po::value(target) with *target as the default, shown in --help as typed (core/format.h's
// shortest_repr; Boost itself would print 0.10000000000000001):
//   ("weight-decay", defaulted(&o.weight_decay), "AdamW weight decay")   ->   (=0.1)
template <class T> po::typed_value<T>* defaulted(T* target) {
  if constexpr (std::is_floating_point_v<T>)
    return po::value(target)->default_value(*target, shortest_repr(double(*target)));
  else
    return po::value(target)->default_value(*target);
}

} // namespace glm3d
