#include "launch/config_file.h"

#include "core/check.h"
#include "core/ini.h"
#include "launch/option_aliases.h"

#include <algorithm>

namespace glm3d {

namespace {

bool is_command(const std::string& name) {
  for (const Command& c : glm3d_commands())
    if (name == c.name)
      return true;
  return false;
}

std::string command_list() {
  std::string out;
  for (const Command& c : glm3d_commands())
    out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

// A switch-like alias in a file (`use_distributed_optimizer = true`): true -> its value,
// false -> the line is dropped. Boost's own bool validator reads the value.
bool alias_switch_on(const IniFile& ini, const IniLine& l) {
  boost::any v;
  try {
    po::validate(v, {l.value}, static_cast<bool*>(nullptr), 0);
  } catch (const po::error&) {
    GLM3D_USAGE_FAIL() << ini.where(l.line) << ": key '" << l.typed_key << "' expects true or false, got '"
                       << l.value << "'";
  }
  return boost::any_cast<bool>(v);
}

} // namespace

void store_config_file(const std::string& path, const std::string& command,
                       const po::options_description& desc, po::variables_map& vm) {
  const IniFile ini = read_ini(path, "config file");
  const std::string section = command.substr(0, command.find(' '));
  for (const auto& [line, name] : ini.sections)
    GLM3D_USAGE_CHECK(is_command(name))
        << ini.where(line) << ": unknown section '[" << name
        << "]' (sections name glm3d commands: " << command_list()
        << (name == "model" ? "; the model is a --model preset or INI file" : "") << ")";
  std::vector<IniLine> lines;
  for (IniLine l : ini.lines) {
    if (!l.section.empty() && l.section != section)
      continue; // another command's settings
    l.key = normalise_key(l.key, '-');
    if (const OptionAlias* a = live_alias(l.key, desc)) {
      l.key = a->to;
      if (a->value && !alias_switch_on(ini, l))
        continue;
      if (a->value)
        l.value = a->value;
    }
    GLM3D_USAGE_CHECK(l.key != "config" && l.key != "help")
        << ini.where(l.line) << ": key '" << l.typed_key << "' cannot be set in a config file";
    if (!desc.find_nothrow(l.key, false)) {
      const bool underscores = l.typed_key.find('_') != std::string::npos;
      Suggestion s = suggest_option(l.key, desc);
      if (underscores)
        s.name = normalise_key(s.name, '_');
      GLM3D_USAGE_FAIL() << ini.where(l.line) << ": unknown key '" << l.typed_key << "'"
                         << (s.name.empty() ? " (see glm3d " + command + " --help)" : did_you_mean(s, ""));
    }
    lines.push_back(std::move(l));
  }
  store_ini(desc, ini, lines, vm);
}

} // namespace glm3d
