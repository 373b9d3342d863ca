#include "core/ini.h"

#include "core/check.h"

#include <fstream>
#include <map>
#include <sstream>
#include <typeinfo>

namespace glm3d {

namespace {

std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos)
    return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// What a value of the option must look like, from the C++ type Boost converts it to ("" if
// there is no short name for it: Boost's own message is used then).
std::string expected(const po::option_description& d) {
  const auto* typed = dynamic_cast<const po::typed_value_base*>(d.semantic().get());
  if (!typed)
    return "";
  const std::type_info& t = typed->value_type();
  if (t == typeid(int) || t == typeid(long) || t == typeid(long long))
    return "an integer";
  if (t == typeid(unsigned) || t == typeid(unsigned long) || t == typeid(unsigned long long))
    return "a non-negative integer";
  if (t == typeid(double) || t == typeid(float))
    return "a number";
  if (t == typeid(bool))
    return "true or false";
  return "";
}

// What Boost's config-file parser reads for one line: `key=value`; a multi-value option
// (e.g. prep's input) gets one line per blank-separated word, as on the command line.
std::string boost_text(const po::options_description& desc, const IniLine& l) {
  if (desc.find(l.key, false).semantic()->max_tokens() <= 1)
    return l.key + "=" + l.value + "\n";
  std::istringstream words(l.value);
  std::string w, out;
  while (words >> w)
    out += l.key + "=" + w + "\n";
  return out;
}

void store_text(const po::options_description& desc, const std::string& text, po::variables_map& vm) {
  std::istringstream in(text);
  po::store(po::parse_config_file(in, desc, /*allow_unregistered=*/false), vm);
}

} // namespace

IniFile read_ini(const std::string& path, const std::string& what) {
  std::ifstream in(path);
  GLM3D_USAGE_CHECK(in) << "cannot read " << what << " '" << path << "'";
  IniFile f;
  f.path = path;
  std::string text, section;
  for (int lineno = 1; std::getline(in, text); ++lineno) {
    text = trim(text.substr(0, text.find_first_of("#;")));
    if (text.empty())
      continue;
    if (text.front() == '[') {
      GLM3D_USAGE_CHECK(text.back() == ']' && text.size() > 2)
          << f.where(lineno) << ": expected '[section]', got '" << text << "'";
      section = trim(text.substr(1, text.size() - 2));
      f.sections.emplace_back(lineno, section);
      continue;
    }
    const size_t eq = text.find('=');
    GLM3D_USAGE_CHECK(eq != std::string::npos && eq > 0)
        << f.where(lineno) << ": expected 'key = value', got '" << text << "'";
    IniLine l;
    l.line = lineno;
    l.section = section;
    l.typed_key = l.key = trim(text.substr(0, eq));
    l.value = trim(text.substr(eq + 1));
    f.lines.push_back(std::move(l));
  }
  return f;
}

std::string normalise_key(std::string key, char separator) {
  for (char& c : key)
    if (c == '-' || c == '_')
      c = separator;
  return key;
}

void store_ini(const po::options_description& desc, const IniFile& file, const std::vector<IniLine>& lines,
               po::variables_map& vm) {
  std::map<std::string, const IniLine*> first; // key -> its first line
  std::string all;
  for (const IniLine& l : lines) {
    GLM3D_CHECK(desc.find_nothrow(l.key, false)) << "store_ini: unknown key '" << l.key << "'";
    const std::string text = boost_text(desc, l);
    try { // Each line converted on its own first, so that a rejected value names its line.
      po::variables_map scratch;
      store_text(desc, text, scratch);
      auto [it, fresh] = first.emplace(l.key, &l);
      if (!fresh) {
        po::variables_map both;
        store_text(desc, boost_text(desc, *it->second) + text, both);
      }
    } catch (const po::multiple_occurrences&) {
      GLM3D_USAGE_FAIL() << file.where(l.line) << ": key '" << l.typed_key
                         << "' is given twice (first on line " << first.at(l.key)->line << ")";
    } catch (const po::error& e) {
      const std::string want = expected(desc.find(l.key, false));
      if (want.empty())
        GLM3D_USAGE_FAIL() << file.where(l.line) << ": key '" << l.typed_key << "': " << e.what();
      GLM3D_USAGE_FAIL() << file.where(l.line) << ": key '" << l.typed_key << "' expects " << want
                         << ", got '" << l.value << "'";
    }
    all += text;
  }
  store_text(desc, all, vm);
}

} // namespace glm3d
