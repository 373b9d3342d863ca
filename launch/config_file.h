#pragma once
// `glm3d <command> --config FILE`: any of the command's options from an INI file.
//
//   # a comment; `;` starts one too           global_batch = 16     # `_` or `-`, as you like
//   [train]                                    train-iters = 300     # Megatron spellings too
//   steps = 300                                use_distributed_optimizer = true
//   [eval]                                     bf16 = true           # switches take true/false
//   tp = 2
//
// Keys before the first [section] apply to whichever command reads the file. A section named
// for a glm3d command (train, prep, data, ckpt, eval) applies to that command only, and the
// others skip it, so one file can serve a whole workflow; any other section name is an error.
// A multi-value option (prep's input) takes blank-separated values or repeated lines.
// Command-line values win over the file. Every error names FILE:LINE: an unknown key (with
// "did you mean"), a bad value, a line without `=`, a key given twice, an unknown section.
#include "launch/commands.h"

#include <boost/program_options.hpp>
#include <string>

namespace glm3d {

namespace po = boost::program_options;

// command: ctx.command ("train", "ckpt export", ...); its first word selects the section.
void store_config_file(const std::string& path, const std::string& command,
                       const po::options_description& desc, po::variables_map& vm);

} // namespace glm3d
