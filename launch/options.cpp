#include "launch/options.h"

#include "core/check.h"
#include "launch/config_file.h"
#include "launch/option_aliases.h"

#include <iostream>

namespace glm3d {

bool parse_options(const Args& args, po::options_description& desc, po::variables_map& vm,
                   const RunContext& ctx, const po::positional_options_description* positional) {
  std::string config;
  desc.add_options()("help", "show this help")(
      "config", po::value<std::string>(&config),
      "INI file with any of these options (key = value; `_` or `-`; [section] per command)");
  try {
    po::command_line_parser parser(apply_aliases(args, desc));
    parser.options(desc);
    if (positional)
      parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      const std::string aliases = alias_help(desc);
      if (ctx.rank == 0)
        std::cout << desc << (aliases.empty() ? "" : "\nMegatron-LM spellings accepted:\n" + aliases) << "\n";
      return false;
    }
    if (vm.count("config"))
      store_config_file(vm["config"].as<std::string>(), ctx.command, desc, vm);
    po::notify(vm);
  } catch (const po::unknown_option& e) {
    throw UsageError(unknown_option_message(e.get_option_name(), desc, ctx.command));
  } catch (const po::error& e) {
    throw UsageError(std::string(e.what()) + " (see glm3d " + ctx.command + " --help)");
  }
  return true;
}

bool parse_store_dir(const Args& args, const std::string& title, std::string& dir, const RunContext& ctx) {
  po::options_description desc(title);
  desc.add_options()("store", po::value<std::string>(&dir)->required(), "store directory");
  po::positional_options_description pos;
  pos.add("store", 1);
  po::variables_map vm;
  return parse_options(args, desc, vm, ctx, &pos);
}

} // namespace glm3d
