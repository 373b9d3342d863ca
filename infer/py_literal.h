#pragma once
// The Python expressions ChatGLM3 writes in a tool call, read without evaluating Python:
// ChatGLM3's process_response runs eval() on the code block of a tool call,
//
//   tool_call(city='北京', days=3, units=["metric"], extra={'hourly': True, 'limit': None})
//
// with tool_call(**kwargs) returning kwargs. glm3d reads literals only and gives the value
// eval() would, as JSON (keys and elements in their written order):
//   strings    '...', "...", '''...''', """...""" with r/R/u/U prefixes and Python's escapes (\\ \'
//              \" \n \t \r \a \b \f \v \0-\777 octal, \xhh, \uXXXX, \UXXXXXXXX, backslash-newline;
//              an unknown escape keeps its backslash, as Python does); adjacent strings join
//   numbers    ints (decimal, 0x 0o 0b, underscores) in int64; floats (1.5, .5, 5., 1e-3, 1_0.5),
//              finite; unary + and -
//   constants  True, False, None (-> true, false, null)
//   containers [...] and (...) (-> arrays), {k: v, ...} with string keys (-> objects; a repeated key
//              keeps the last value, as a dict does), trailing commas
//   calls      tool_call(name=value, ...): keyword arguments only, each name once (-> an object)
// Nesting deeper than 200 is refused (CPython's parser refuses it too), so the recursion is bounded.
// Anything else (other names, calls, operators, f-strings, bytes, sets, int keys, comments) is
// refused: std::invalid_argument naming what and where ("column N").
#include <nlohmann/json.hpp>

#include <string_view>

namespace glm3d {

nlohmann::ordered_json parse_py_literal(std::string_view code);

} // namespace glm3d
