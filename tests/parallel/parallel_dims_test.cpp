// ParallelDims::make, validate_for_model and padded_vocab: accepted layouts, and the one-line
// errors naming every degree and the world size.
#include "core/check.h"
#include "parallel/parallel_dims.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

std::string usage_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UsageError";
  return "";
}

TEST(ParallelDims, InfersDataParallelFromWorld) {
  const ParallelDims d = ParallelDims::make(8, 2, 2, 0);
  EXPECT_EQ(d.world, 8);
  EXPECT_EQ(d.tp, 2);
  EXPECT_EQ(d.pp, 2);
  EXPECT_EQ(d.dp, 2);
  EXPECT_EQ(d.virtual_stages, 1);
  EXPECT_EQ(ParallelDims::make(16, 1, 4, -1, 2).dp, 4);
  EXPECT_EQ(ParallelDims::make(8, 2, 2, 0).str(), "tp=2 pp=2 dp=2 (world 8)");
  EXPECT_EQ(ParallelDims::make(8, 1, 4, 2, 3).str(), "tp=1 pp=4 dp=2 virtual_stages=3 (world 8)");
}

TEST(ParallelDims, RankOrderIsTensorThenDataThenPipeline) {
  const ParallelDims d = ParallelDims::make(24, 2, 3, 4);
  for (int r = 0; r < 24; ++r) {
    EXPECT_EQ(d.rank_of(d.tp_rank(r), d.dp_rank(r), d.pp_rank(r)), r);
  }
  EXPECT_EQ(d.rank_of(1, 0, 0), 1);
  EXPECT_EQ(d.rank_of(0, 1, 0), 2);
  EXPECT_EQ(d.rank_of(0, 0, 1), 8);
  EXPECT_EQ(d.rank_of(1, 3, 2), 1 + 2 * 3 + 8 * 2);
}

TEST(ParallelDims, ImpossibleLayoutNamesEveryDegreeAndWorld) {
  std::string msg = usage_error_of([] { ParallelDims::make(8, 3, 1, 0); });
  EXPECT_NE(msg.find("tp=3 pp=1 dp=auto virtual_stages=1 (world size 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not divisible by tp*pp = 3"), std::string::npos) << msg;

  msg = usage_error_of([] { ParallelDims::make(8, 2, 2, 4); });
  EXPECT_NE(msg.find("tp=2 pp=2 dp=4 virtual_stages=1 (world size 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tp*pp*dp = 16"), std::string::npos) << msg;

  msg = usage_error_of([] { ParallelDims::make(8, 0, 2, 0); });
  EXPECT_NE(msg.find("tp=0"), std::string::npos) << msg;
  msg = usage_error_of([] { ParallelDims::make(8, 2, 2, 2, 0); });
  EXPECT_NE(msg.find("virtual_stages=0"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

TEST(ParallelDims, ValidateForModelChecksHeadsFfnAndLayers) {
  const ParallelDims d = ParallelDims::make(8, 8, 1, 1);
  validate_for_model(d, 70, 96, 32768, {}); // glm-130b on tp=8: fine
  std::string msg = usage_error_of([&] { validate_for_model(d, 70, 12, 32768, {}); });
  EXPECT_NE(msg.find("tp=8 pp=1 dp=1 (world 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("num_heads=12"), std::string::npos) << msg;
  msg = usage_error_of([&] { validate_for_model(d, 70, 96, 1004, {}); });
  EXPECT_NE(msg.find("ffn_hidden=1004"), std::string::npos) << msg;

  const ParallelDims p8 = ParallelDims::make(8, 1, 8, 1);
  msg = usage_error_of([&] { validate_for_model(p8, 70, 96, 32768, {}); });
  EXPECT_NE(msg.find("tp=1 pp=8 dp=1 (world 8)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("num_layers=70 is not divisible by pp*virtual_stages = 8"), std::string::npos) << msg;
  validate_for_model(p8, 70, 96, 32768, {8, 9, 9, 9, 9, 9, 9, 8});
  msg = usage_error_of([&] { validate_for_model(p8, 70, 96, 32768, {8, 9, 9, 9, 9, 9, 9, 9}); });
  EXPECT_NE(msg.find("sums to 71 but the model has num_layers=70"), std::string::npos) << msg;
  msg = usage_error_of([&] { validate_for_model(p8, 70, 96, 32768, {35, 35}); });
  EXPECT_NE(msg.find("has 2 entries, expected one per pipeline stage (pp=8)"), std::string::npos) << msg;

  const ParallelDims v2 = ParallelDims::make(4, 1, 2, 2, 2);
  validate_for_model(v2, 8, 4, 16, {});
  validate_for_model(v2, 6, 4, 16, {2, 4});
  msg = usage_error_of([&] { validate_for_model(v2, 6, 4, 16, {3, 3}); });
  EXPECT_NE(msg.find("entry 0 is 3: each stage needs a positive multiple of virtual_stages=2"),
            std::string::npos)
      << msg;
  msg = usage_error_of([&] { validate_for_model(v2, 6, 4, 16, {}); });
  EXPECT_NE(msg.find("virtual_stages=2 (world 4)"), std::string::npos) << msg;
}

TEST(ParallelDims, PaddedVocabIsMultipleOfTpTimes128) {
  EXPECT_EQ(padded_vocab(150528, 1), 150528);
  EXPECT_EQ(padded_vocab(150528, 8), 150528); // 147 * 1024
  EXPECT_EQ(padded_vocab(50257, 1), 50304);
  EXPECT_EQ(padded_vocab(50257, 2), 50432);
  EXPECT_EQ(padded_vocab(1000, 8), 1024);
  EXPECT_EQ(padded_vocab(128, 4), 512);
  EXPECT_EQ(padded_vocab(1, 1), 128);
}

} // namespace
} // namespace glm3d
