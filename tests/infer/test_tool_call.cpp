// ChatGLM3's tool calls: the literal reader that stands in for eval() (infer/py_literal.h) and
// process_response (infer/tool_call.h). Expected values are what Python's eval() and
// chatglm3-6b's process_response give for these inputs, worked out by hand from their rules.
#include "infer/py_literal.h"
#include "infer/tool_call.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

using Json = nlohmann::ordered_json;

std::string refusal(const std::string& code) {
  try {
    parse_py_literal(code);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(PyLiteral, StringsAsPythonReadsThem) {
  const Json v = parse_py_literal(
      R"(tool_call(s='a\'b\n', t="x", r=r'\d', u='\u4e2d', o='\101', h='\x41', cat='a' "b", tq='''1
2''', keep='\d', 城市='北京'))");
  EXPECT_EQ(v.dump(-1, ' ', false), R"({"s":"a'b\n","t":"x","r":"\\d","u":"中","o":"A","h":"A","cat":"ab",)"
                                    R"("tq":"1\n2","keep":"\\d","城市":"北京"})");
}

TEST(PyLiteral, NumbersConstantsAndContainers) {
  EXPECT_EQ(parse_py_literal("[1, -2, +3, 0x1F, 0o17, 0b101, 1_000, 1.5, -.5, 5., 1e3, 2E-2, -0, 00]").dump(),
            "[1,-2,3,31,15,5,1000,1.5,-0.5,5.0,1000.0,0.02,0,0]");
  EXPECT_EQ(parse_py_literal("-9223372036854775808").get<int64_t>(), INT64_MIN);
  EXPECT_EQ(parse_py_literal("[True, False, None]").dump(), "[true,false,null]");
  EXPECT_EQ(parse_py_literal("(1)").dump(), "1");
  EXPECT_EQ(parse_py_literal("((1,), (), [1, 2,])").dump(), "[[1],[],[1,2]]");
  // A repeated dict key keeps its first place and its last value, as a dict does.
  EXPECT_EQ(parse_py_literal("{'a': (1, 2), 'b': {}, 'a': 3,}").dump(), R"({"a":3,"b":{}})");
  EXPECT_EQ(parse_py_literal("\n  tool_call(\n    a=tool_call(b=1),\n    c=[],\n)\n").dump(),
            R"({"a":{"b":1},"c":[]})");
}

TEST(PyLiteral, RefusesWhatIsNotALiteral) {
  auto starts = [](const std::string& s, const std::string& head) { return s.rfind(head, 0) == 0; };
  EXPECT_TRUE(starts(refusal("tool_call(x=os.system('rm -rf /'))"), "the name 'os' at offset 12"))
      << refusal("os");
  EXPECT_NE(refusal("tool_call(x=1)").find("(accepted)"), std::string::npos);
  EXPECT_TRUE(
      starts(refusal("tool_call(1)"), "a positional argument (tool_call takes keyword arguments only)"));
  EXPECT_TRUE(starts(refusal("tool_call(a=1, a=2)"), "keyword argument 'a' repeated"));
  EXPECT_TRUE(starts(refusal("print(1)"), "the name 'print'"));
  EXPECT_TRUE(starts(refusal("1 + 2"), "unexpected '+' after the value"));
  EXPECT_TRUE(starts(refusal("{1, 2}"), "a set (or an expression) where a dict was expected"));
  EXPECT_TRUE(starts(refusal("{1: 2}"), "a dict key that is not a string (1; JSON keys are strings)"));
  EXPECT_TRUE(starts(refusal("f'{x}'"), "a string with prefix 'f'"));
  EXPECT_TRUE(starts(refusal("b'x'"), "a string with prefix 'b'"));
  EXPECT_TRUE(starts(refusal("'abc"), "an unterminated string"));
  EXPECT_TRUE(starts(refusal("'a\nb'"), "a newline inside a one-line string"));
  EXPECT_TRUE(starts(refusal("9223372036854775808"), "the integer '9223372036854775808', beyond 64 bits"));
  EXPECT_TRUE(starts(refusal("1e999"), "the float '1e999', beyond a double"));
  EXPECT_TRUE(starts(refusal("01"), "the number '01' (leading zeros)"));
  EXPECT_TRUE(starts(refusal("1__0"), "a misplaced '_'"));
  EXPECT_TRUE(starts(refusal("1j"), "the number '1j'"));
  EXPECT_TRUE(starts(refusal("[1 2]"), "expected ',' or ']'"));
  EXPECT_TRUE(starts(refusal("1 # two"), "a comment"));
  EXPECT_TRUE(starts(refusal(""), "the code ends where a value was expected"));
  EXPECT_TRUE(starts(refusal("'\\ud800'"), "an escape of no Unicode character"));
  EXPECT_TRUE(starts(refusal("-True"), "a sign before something that is not a number"));
  EXPECT_NE(refusal("x").find("it does not run Python"), std::string::npos);
  EXPECT_EQ(parse_py_literal(std::string(199, '[') + std::string(199, ']')).dump().size(), 398u);
  EXPECT_TRUE(starts(refusal(std::string(100000, '[')), "nesting deeper than 200"));
}

const std::string k_call = "get_weather\n```python\ntool_call(city='北京', days=3)\n```";

TEST(Chatglm3Response, TextToolCallsAndHistory) {
  // Blank metadata: the stripped text, [[训练时间]] -> 2023年.
  Chatglm3Response r = chatglm3_process_response("\n Made in [[训练时间]]. ", false);
  EXPECT_FALSE(r.is_call);
  EXPECT_EQ(r.text, "Made in 2023年.");
  ASSERT_EQ(r.assistant_messages.size(), 1u);
  EXPECT_EQ(r.assistant_messages[0].content, "Made in [[训练时间]]."); // the history keeps it as written
  EXPECT_EQ(chatglm3_process_response("no newline", false).text, "no newline");
  // Tools declared: the code between the fence lines, read as eval() would.
  r = chatglm3_process_response(k_call, true);
  EXPECT_TRUE(r.is_call);
  EXPECT_EQ(r.call.dump(-1, ' ', false), R"({"name":"get_weather","parameters":{"city":"北京","days":3}})");
  EXPECT_EQ(r.assistant_messages[0].metadata, "get_weather");
  EXPECT_EQ(r.assistant_messages[0].content, "```python\ntool_call(city='北京', days=3)\n```");
  // No tools: name and raw content.
  EXPECT_EQ(chatglm3_process_response(k_call, false).call.dump(-1, ' ', false),
            R"({"name":"get_weather","content":"```python\ntool_call(city='北京', days=3)\n```"})");
  // Several parts: each goes to the history, the last makes the response.
  r = chatglm3_process_response("\nLet me look.<|assistant|>" + k_call, true);
  EXPECT_TRUE(r.is_call);
  ASSERT_EQ(r.assistant_messages.size(), 2u);
  EXPECT_EQ(r.assistant_messages[0].content, "Let me look.");
  EXPECT_EQ(r.call["parameters"]["days"], 3);
  // Code glm3d will not run: a ToolCallError naming the tool and why.
  try {
    chatglm3_process_response("rm\n```python\ntool_call(x=__import__('os'))\n```", true);
    ADD_FAILURE() << "no ToolCallError";
  } catch (const ToolCallError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("tool call of 'rm': the name '__import__' at offset 12", 0), 0u)
        << e.what();
  }
  // generate's view: unreadable code keeps its content and says why.
  const auto g = chatglm3_tool_call("rm\n```python\nos.remove('x')\n```");
  ASSERT_TRUE(g.has_value());
  EXPECT_EQ((*g)["content"], "```python\nos.remove('x')\n```");
  EXPECT_NE((*g)["error"].get<std::string>().find("the name 'os'"), std::string::npos);
  EXPECT_FALSE(chatglm3_tool_call("\nhello").has_value());
}

TEST(Chatglm3Response, InputIdsAsBuildChatInput) {
  // ids: [gMASK] 1, sop 2, roles system 10 user 11 assistant 12 observation 13; encode(t) = one id
  // per byte (100 + byte).
  auto role = [](const std::string& r) {
    return r == "system" ? 10 : r == "user" ? 11 : r == "assistant" ? 12 : 13;
  };
  auto enc = [](const std::string& t) {
    std::vector<int32_t> ids;
    for (char c : t)
      ids.push_back(100 + int32_t(uint8_t(c)));
    return ids;
  };
  const std::vector<ChatMessage> history = {{"system", "", "S", Json::array({"t"})},
                                            {"assistant", "f", "C", nullptr}};
  // system: "S" + "\n" + json.dumps(["t"], indent=4) = "S\n[\n    \"t\"\n]"; the call's metadata "f".
  std::vector<int32_t> want = {1, 2, 10, 110};
  for (int32_t t : enc("S\n[\n    \"t\"\n]"))
    want.push_back(t);
  for (int32_t t : {12, 100 + 'f', 110, 100 + 'C', 13, 110, 100 + 'r', 12})
    want.push_back(t);
  EXPECT_EQ(chatglm3_input_ids(history, "observation", "r", 1, 2, role, enc), want);
  // The reply's text with <|assistant|> where the model wrote it.
  EXPECT_EQ(chatglm3_reply_text({5, 12, 6}, 12,
                                [](const std::vector<int32_t>& p) { return std::to_string(p.size()); }),
            "1<|assistant|>1");
}

} // namespace
} // namespace glm3d
