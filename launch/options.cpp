#include "launch/options.h"

#include "core/check.h"

#include <fstream>
#include <iostream>

namespace glm3d {

bool parse_options(const Args& args, po::options_description& desc, po::variables_map& vm,
                   const RunContext& ctx, const po::positional_options_description* positional) {
  std::string config;
  desc.add_options()("help", "show this help")("config", po::value<std::string>(&config),
                                               "INI file with any of these options (key = value)");
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional)
      parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      if (ctx.rank == 0)
        std::cout << desc << "\n";
      return false;
    }
    if (vm.count("config")) {
      const std::string file = vm["config"].as<std::string>();
      std::ifstream in(file);
      GLM3D_USAGE_CHECK(in) << "cannot read config file '" << file << "'";
      po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see --help)");
  }
  return true;
}

} // namespace glm3d
