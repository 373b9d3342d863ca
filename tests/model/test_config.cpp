#include "core/check.h"
#include "model/config.h"
#include "usage_error.h"

#include <cmath>
#include <cstdio>
#include <gtest/gtest.h>

using namespace glm3d;

// tiny: H=64, heads 8, GeGLU F=128 (up width 256), V=256, L=8.
//   per layer: LN 2*64=128; qkv 3*64*64+3*64=12480; dense 64*64+64=4160; LN 128;
//   up 256*64+256=16640; down 128*64+64=8256  -> 41792;  x8 = 334336
//   embedding 256*64 = 16384; final LN 128  -> 350848
TEST(ModelConfig, ParameterCountTiny) {
  EXPECT_EQ(parameter_count(preset_config("tiny")), 350848);
}

// glm-130b: H=12288, F=32768 GeGLU (three matrices), V=150528, L=70.
//   per layer 4H^2 + 3FH + 9H + 2F = 603979776 + 1207959552 + 110592 + 65536 = 1812115456
//   x70 = 126848081920; embedding 150528*12288 = 1849688064; final LN 24576
//   total 128697794560
TEST(ModelConfig, ParameterCountGlm130b) {
  EXPECT_EQ(parameter_count(preset_config("glm-130b")), 128697794560LL);
}

// FLOPs/token = 3 * (L * (2 * (4H^2 + mats*H*F) + 4*S*H) + 2*H*V)
//   tiny: 3 * (8 * (2*(16384 + 3*64*128) + 4*32*64) + 2*64*256) = 3 * (8*90112 + 32768) = 2260992
//   glm-130b: 3 * (70 * (2*1811939328 + 4*2048*12288) + 2*12288*150528) = 793251938304
TEST(ModelConfig, TrainingFlopsPerToken) {
  EXPECT_DOUBLE_EQ(training_flops_per_token(preset_config("tiny")), 2260992.0);
  EXPECT_DOUBLE_EQ(training_flops_per_token(preset_config("glm-130b")), 793251938304.0);
}

TEST(ModelConfig, PresetsAsPublished) {
  const ModelConfig g = preset_config("glm-130b");
  EXPECT_EQ(g.num_layers, 70);
  EXPECT_EQ(g.hidden, 12288);
  EXPECT_EQ(g.num_heads, 96);
  EXPECT_EQ(g.ffn_hidden, 32768);
  EXPECT_EQ(g.ffn, FfnKind::geglu);
  EXPECT_EQ(g.vocab, 150528);
  EXPECT_EQ(g.seq_len, 2048);
  EXPECT_EQ(g.rope, RopeKind::one_d);
  EXPECT_DOUBLE_EQ(g.deepnorm_alpha(), std::sqrt(140.0));
  EXPECT_DOUBLE_EQ(g.deepnorm_beta(), 1.0 / std::sqrt(140.0));
  const ModelConfig c = preset_config("chatglm-6b");
  EXPECT_EQ(c.num_layers, 28);
  EXPECT_EQ(c.hidden, 4096);
  EXPECT_EQ(c.num_heads, 32);
  EXPECT_EQ(c.ffn_hidden, 16384);
  EXPECT_EQ(c.ffn, FfnKind::gelu);
  EXPECT_EQ(c.vocab, 130528);
  EXPECT_EQ(c.rope, RopeKind::two_d);
  const ModelConfig q = preset_config("quickstart"); // launch/quickstart.sh, on tp 2 x pp 2
  EXPECT_EQ(q.num_layers, 2);
  EXPECT_EQ(q.hidden, 128);
  EXPECT_EQ(q.num_heads, 4);
  EXPECT_EQ(q.ffn_hidden, 512);
  EXPECT_EQ(q.ffn, FfnKind::gelu);
  for (const auto& n : preset_names())
    EXPECT_NO_THROW(validate(preset_config(n))) << n;
}

namespace {
std::string write_ini(const std::string& name, const std::string& text) {
  return test::write_temp_file(name, text);
}
std::string usage_error_of(const std::string& model) {
  return test::usage_error_of([&] { load_model_config(model); });
}
} // namespace

TEST(ModelConfig, IniFileOverridesPreset) {
  const std::string f =
      write_ini("m.ini", "[model]\nbase = tiny\nnum_layers = 4 # fewer\nffn = gelu\nrope = 1d\n");
  const ModelConfig c = load_model_config(f);
  EXPECT_EQ(c.num_layers, 4);
  EXPECT_EQ(c.hidden, 64);
  EXPECT_EQ(c.ffn, FfnKind::gelu);
  EXPECT_EQ(c.rope, RopeKind::one_d);
}

TEST(ModelConfig, BadInputIsOneClearUsageError) {
  EXPECT_NE(usage_error_of("huge").find("unknown model preset 'huge'"), std::string::npos);
  EXPECT_NE(usage_error_of(write_ini("k.ini", "base = tiny\nhiden = 3\n")).find("unknown key 'hiden'"),
            std::string::npos);
  EXPECT_NE(usage_error_of(write_ini("z.ini", "base = tiny\nhidden = 0\n")).find("hidden must be positive"),
            std::string::npos);
  EXPECT_NE(usage_error_of(write_ini("n.ini", "base = tiny\nnum_layers = -2\n"))
                .find("num_layers must be positive"),
            std::string::npos);
  EXPECT_NE(usage_error_of(write_ini("h.ini", "base = tiny\nnum_heads = 5\n"))
                .find("num_heads (5) must divide hidden (64)"),
            std::string::npos);
  EXPECT_NE(usage_error_of(write_ini("v.ini", "base = tiny\nvocab = lots\n")).find("expects an integer"),
            std::string::npos);
  EXPECT_NE(usage_error_of("/nonexistent/model.ini").find("cannot read model config file"),
            std::string::npos);
}

// Every error of a model INI file names FILE:LINE and the key as written.
TEST(ModelConfig, IniErrorsNameFileAndLine) {
  const auto err = [](const std::string& name, const std::string& text) {
    const std::string path = write_ini(name, text);
    return test::error_at(path, [&] { load_model_config(path); });
  };
  EXPECT_EQ(
      err("e1.ini", "base = tiny\n# wider\nhiden = 3\n"),
      "3: unknown key 'hiden' (known: base, name, num_layers, hidden, num_heads, ffn_hidden, vocab, seq_len, "
      "ffn, rope, rope_base, ln_eps, init_std, lr, norm, residual, mask, kv_groups, tie_embeddings, "
      "qkv_bias, "
      "linear_bias)");
  EXPECT_EQ(err("e2.ini", "base = tiny\nvocab = lots\n"), "2: key 'vocab' expects an integer, got 'lots'");
  EXPECT_EQ(err("e3.ini", "base = tiny\n\nnum-layers = 2.5\n"),
            "3: key 'num-layers' expects an integer, got '2.5'");
  EXPECT_EQ(err("e4.ini", "[model]\nbase = tiny\nlr = fast\n"), "3: key 'lr' expects a number, got 'fast'");
  EXPECT_EQ(err("e5.ini", "base = tiny\nrope = 1d\nffn = relu\n"),
            "3: key 'ffn' expects gelu or geglu or swiglu, got 'relu'");
  EXPECT_EQ(err("e6.ini", "base = tiny\nrope = 3d ; nope\n"),
            "2: key 'rope' expects 1d or 2d or half-interleaved, got '3d'");
  EXPECT_EQ(err("e7.ini", "base = tiny\nhidden 64\n"), "2: expected 'key = value', got 'hidden 64'");
  EXPECT_EQ(err("e8.ini", "hidden = 64\nbase = tiny\nhidden = 128\n"),
            "3: key 'hidden' is given twice (first on line 1)");
  EXPECT_EQ(err("e9.ini", "\nbase = huge\n"),
            "2: key 'base': unknown model preset 'huge' (presets: tiny, quickstart, small, base, chatglm-6b, "
            "glm-10b, "
            "glm-130b, chatglm2-6b, chatglm3-6b, tiny-glm2; or give an INI file)");
}

// `base` applies first wherever it stands; keys take `-` as well as `_`; `;` comments too.
TEST(ModelConfig, IniBaseFirstAndDashedKeys) {
  const ModelConfig c = load_model_config(write_ini(
      "d.ini", "num-layers = 2 ; two\nffn_hidden = 96\nbase = tiny\nrope-base = 500\nname = mine\n"));
  EXPECT_EQ(c.num_layers, 2);
  EXPECT_EQ(c.ffn_hidden, 96);
  EXPECT_EQ(c.hidden, 64); // from tiny
  EXPECT_DOUBLE_EQ(c.rope_base, 500.0);
  EXPECT_EQ(c.name, "mine");
  EXPECT_EQ(c.ffn, FfnKind::geglu); // tiny's
}
