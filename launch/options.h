#pragma once
// Shared option handling for subcommands: Boost.Program_options over the command
// line plus an optional INI file (--config FILE; command-line values win). Unknown
// options, bad values and unknown INI keys become UsageError (exit 2).
#include "launch/commands.h"

#include <boost/program_options.hpp>
#include <string>

namespace glm3d {

namespace po = boost::program_options;

// Parses args into vm (adds --help and --config to desc). Returns false when --help
// was given: desc has then been printed on rank 0 and the command should return 0.
bool parse_options(const Args& args, po::options_description& desc, po::variables_map& vm,
                   const RunContext& ctx, const po::positional_options_description* positional = nullptr);

} // namespace glm3d
