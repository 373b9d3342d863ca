// Safetensors written and read by glm3d: half-precision conversion against known bit patterns
// (rounding to nearest even, subnormals, overflow), and a file round trip in F16, BF16 and F32.
#include "core/check.h"
#include "model/chatglm_convert.h"
#include "model/safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace glm3d {
namespace {

TEST(Half, KnownBitPatterns) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);                         // largest half
  EXPECT_EQ(float_to_half(65520.0f), 0x7c00);                         // rounds to inf
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);            // smallest subnormal
  EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);            // tie to even: zero
  EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);     // tie to even (down)
  EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02); // tie to even (up)
  EXPECT_EQ(half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::isinf(half_to_float(0xfc00)));
  // Every finite half survives half -> float -> half.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00)
      continue; // inf and NaN
    ASSERT_EQ(float_to_half(half_to_float(uint16_t(h))), h) << h;
  }
}

TEST(Safetensors, RoundTripEveryDtype) {
  const std::vector<float> a = {1.0f, -0.5f, 0.25f, 3.0f, -7.5f, 0.125f}; // exact in every dtype
  const std::vector<float> b = {2.0f, 4.0f};
  const std::string path = (std::filesystem::temp_directory_path() / "glm3d_st_test.safetensors").string();
  for (StDtype dt : {StDtype::f16, StDtype::bf16, StDtype::f32}) {
    write_safetensors(path, {{"x.weight", {2, 3}, a.data()}, {"x.bias", {2}, b.data()}}, dt,
                      {{"format", "pt"}});
    SafetensorsReader r(path);
    ASSERT_EQ(r.tensors().size(), 2u);
    EXPECT_EQ(r.tensors().at("x.weight").shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(r.tensors().at("x.weight").dtype, dt);
    EXPECT_EQ(r.read_f32("x.weight"), a);
    EXPECT_EQ(r.read_f32("x.bias"), b);
  }
  // A header whose offsets overrun the data is rejected with the file's name.
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string h = R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
    const uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << "abcd";
  }
  try {
    SafetensorsReader bad(path);
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("outside"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

// The message of reading a safetensors file whose header is `h` (and `data` after it).
std::string header_error(const std::string& h, const std::string& data = "") {
  const std::string path = (std::filesystem::temp_directory_path() / "glm3d_st_header.safetensors").string();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const uint64_t n = h.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << h << data;
  }
  std::string msg = "no error";
  try {
    SafetensorsReader r(path);
  } catch (const UsageError& e) {
    msg = e.what();
  }
  std::filesystem::remove(path);
  return msg;
}

TEST(Safetensors, HeaderJsonErrorsNameTheFileAndTheTensor) {
  const std::string path = (std::filesystem::temp_directory_path() / "glm3d_st_header.safetensors").string();
  EXPECT_EQ(header_error(R"({"t": {"dtype": "F32")")
                .rfind("safetensors file " + path + ": header is not valid JSON: ", 0),
            0u);
  EXPECT_EQ(header_error(R"({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", "abcd"),
            "safetensors file " + path + ": tensor 't': expected a non-negative integer, got -1");
  EXPECT_EQ(header_error(R"({"t": {"dtype": "F32", "shape": [1]}})"),
            "safetensors file " + path + ": tensor 't': missing dtype, shape or data_offsets");
  // 64-bit offsets are read exactly (2^64 - 1 is not rounded through a double).
  EXPECT_EQ(
      header_error(R"({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 18446744073709551615]}})",
                   "abcd"),
      "safetensors file " + path +
          ": tensor 't': data_offsets [0, 18446744073709551615) outside the 4 data bytes");
  EXPECT_EQ(header_error(R"([1, 2])"), "safetensors file " + path + ": header is not a JSON object");
}

TEST(ChatglmConfig, FieldsSpecialTokensAndErrors) {
  std::map<std::string, int64_t> special;
  const ModelConfig c = chatglm_config(
      ConfigJson(R"({"hidden_size": 64, "num_layers": 2, "num_attention_heads": 4, "vocab_size": 300,
          "inner_hidden_size": 96, "layernorm_epsilon": 1e-5, "max_sequence_length": 128,
          "position_encoding_2d": false, "eos_token_id": 2, "gmask_token_id": 4, "pad_token_id": null})",
                 "config.json"),
      special);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.num_heads, 4);
  EXPECT_EQ(c.vocab, 300);
  EXPECT_EQ(c.ffn_hidden, 96);
  EXPECT_EQ(c.ln_eps, 1e-5);
  EXPECT_EQ(c.seq_len, 128);
  EXPECT_EQ(c.rope, RopeKind::one_d);
  EXPECT_EQ(special, (std::map<std::string, int64_t>{{"eos", 2}, {"gmask", 4}})); // a null id is absent
  auto error = [](const std::string& text) {
    std::map<std::string, int64_t> sp;
    try {
      chatglm_config(ConfigJson(text, "DIR/config.json"), sp);
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error(R"({"hidden_size": 64, "num_layers": 2, "num_attention_heads": 4})"),
            "DIR/config.json: missing integer field 'vocab_size'");
  EXPECT_EQ(error(R"({"hidden_size": 64.5, "num_layers": 2, "num_attention_heads": 4, "vocab_size": 3})"),
            "DIR/config.json: field 'hidden_size' must be an integer, got 64.5");
  EXPECT_EQ(error(R"({"hidden_size": 64, "num_layers": 2, "num_attention_heads": 4, "vocab_size": 3,
                      "pad_token_id": "x"})"),
            "DIR/config.json: field 'pad_token_id' must be an integer, got \"x\"");
  EXPECT_EQ(error(R"({"hidden_size": 64, "num_layers": 2, "num_attention_heads": 4, "vocab_size": 3,
                      "position_encoding_2d": 1})"),
            "DIR/config.json: field 'position_encoding_2d' must be true or false, got 1");
  EXPECT_EQ(error("{\"hidden_size\": ").rfind("DIR/config.json: not valid JSON: ", 0), 0u);
  EXPECT_EQ(error("[]"), "DIR/config.json: not a JSON object");
}

} // namespace
} // namespace glm3d
