#pragma once
// INI files through Boost.Program_options, with the line numbers its config-file parser
// does not keep. read_ini() is the thin pre-pass (comments, [section] headers, `key = value`
// split, line numbers); store_ini() hands the lines to po::parse_config_file, so Boost's own
// validators convert every value, and names FILE:LINE when one is rejected.
//
// Rules shared by `glm3d <command> --config FILE` (launch/config_file.h) and the model INI
// (model/config.h): `#` or `;` starts a comment anywhere on a line (so values cannot hold
// them), blank lines are skipped, `[name]` opens a section, every other line is `key = value`
// with blanks around key and value trimmed.
#include <boost/program_options.hpp>
#include <string>
#include <utility>
#include <vector>

namespace glm3d {

namespace po = boost::program_options;

struct IniLine {
  int line = 0;          // 1-based
  std::string section;   // the last [section] above the line ("" before any)
  std::string typed_key; // the key as written in the file (for messages)
  std::string key;       // the option name; callers normalise it (e.g. `_` -> `-`)
  std::string value;
};

struct IniFile {
  std::string path;
  std::vector<IniLine> lines;
  std::vector<std::pair<int, std::string>> sections; // (line, name) of each [name] header
  std::string where(int line) const { return path + ":" + std::to_string(line); }
};

// Throws UsageError "cannot read <what> 'PATH'" or "PATH:LINE: expected 'key = value', got '...'".
IniFile read_ini(const std::string& path, const std::string& what);

// '-' or '_' throughout the key, so `global_batch` and `global-batch` name one option.
std::string normalise_key(std::string key, char separator);

// Stores lines (keys already named as in desc; GLM3D_CHECK otherwise) into vm. Values already
// in vm win (store the command line first). Errors are UsageErrors naming the line:
//   PATH:LINE: key 'K' expects an integer, got 'V'          (a number, true or false, ...)
//   PATH:LINE: key 'K' is given twice (first on line N)     (options that take one value)
void store_ini(const po::options_description& desc, const IniFile& file, const std::vector<IniLine>& lines,
               po::variables_map& vm);

} // namespace glm3d
