// train/peft_io.h: PEFT module paths of glm3d models (the names model/peft_format.h documents),
// the LoRA merge on tensor-parallel shards against the whole tensor's merge in f64, and
// fill_pieces against the shards' own rectangles. Random values print their seed.
#include "gradcheck.h"
#include "model/config.h"
#include "train/peft_io.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace glm3d;

namespace {

HostTensor random_tensor(std::vector<int64_t> shape, test::SeededRng& rng) {
  HostTensor t{shape, std::vector<float>(size_t(shape[0] * shape[1]))};
  for (float& v : t.data)
    v = float(rng.uniform(-1, 1));
  return t;
}

// The elements of a [rows, cols] tensor that rectangles cover, in their row-major order.
std::vector<float> gather(const HostTensor& w, const std::vector<Rect>& rects) {
  std::vector<float> out;
  for (const Rect& q : rects)
    for (int64_t i = 0; i < q.nr; ++i)
      for (int64_t j = 0; j < q.nc; ++j)
        out.push_back(w.data[size_t((q.r0 + i) * w.shape[1] + q.c0 + j)]);
  return out;
}

} // namespace

TEST(PeftIo, ModulePathsAreChatGlmNames) {
  const ModelConfig glm = load_model_config("tiny"), glm2 = load_model_config("tiny-glm2");
  for (int i = 0; i < 4; ++i) {
    const std::string name = linear_modules()[i].name;
    EXPECT_EQ(peft_module_path(glm, 3, linear_modules()[i]),
              chatglm_module_path(ChatGlmFamily::chatglm6b, 3, name));
    EXPECT_EQ(peft_module_path(glm2, 3, linear_modules()[i]),
              chatglm_module_path(ChatGlmFamily::chatglm2, 3, name));
  }
  EXPECT_EQ(lora_key(peft_module_path(glm, 0, linear_modules()[0]), 'A'),
            "base_model.model.transformer.layers.0.attention.query_key_value.lora_A.weight");
  const std::vector<LoraModule> all = peft_modules(glm);
  ASSERT_EQ(all.size(), size_t(4 * glm.num_layers));
  EXPECT_EQ(all[0].in_features, glm.hidden);
  EXPECT_EQ(all[0].out_features, 3 * glm.hidden); // query_key_value [3H, H]
  EXPECT_EQ(all[3].in_features, glm.ffn_hidden);  // dense_4h_to_h [H, ffn]
}

// Every matrix of layer 0, tp 2 and 4, GLM (rows / GeGLU rows / columns) and ChatGLM2 (packed
// query/key/value groups, SwiGLU): each rank's merge of its rectangles is the whole merge's
// share, which is W + s B A computed in f64.
TEST(PeftIo, MergeOnShardsIsTheWholeMerge) {
  test::SeededRng rng;
  for (const char* preset : {"tiny", "tiny-glm2"})
    for (int tp : {2, 4}) {
      const ModelConfig cfg = load_model_config(preset);
      const ParamTable whole_table(cfg, StagePlan{1, 0, {{0, 1}}, true});
      for (int k = 0; k < 4; ++k) {
        const ParamInfo& pw = whole_table.get(layer_param_name(0, k_layer_matrices[k]));
        const int64_t rows = pw.rows, cols = pw.cols, r = 3;
        const HostTensor W = random_tensor({rows, cols}, rng);
        const LoraPair ab{random_tensor({r, cols}, rng), random_tensor({rows, r}, rng)};
        const double s = 2.5;
        HostTensor merged = W;
        merge_lora_rects(merged.data.data(), {Rect{0, 0, rows, cols}}, ab, s);
        double worst = 0;
        for (int64_t i = 0; i < rows; ++i)
          for (int64_t j = 0; j < cols; ++j) {
            double want = W.data[size_t(i * cols + j)];
            for (int64_t q = 0; q < r; ++q)
              want += s * double(ab.B.data[size_t(i * r + q)]) * double(ab.A.data[size_t(q * cols + j)]);
            worst = std::max(worst, std::abs(double(merged.data[size_t(i * cols + j)]) - want));
          }
        EXPECT_LT(worst, 1e-5) << preset << " " << pw.name << " " << rng.tag();
        if (cfg.kv_heads() % tp != 0 && tp % cfg.kv_heads() != 0)
          continue;
        int64_t covered = 0;
        for (int t = 0; t < tp; ++t) {
          const ParamTable table(cfg, StagePlan{tp, t, {{0, 1}}, true});
          const ParamInfo& p = table.get(pw.name);
          const std::vector<Rect> rects = shard_rects(p, t, 0, p.numel(), p.rows);
          std::vector<float> local = gather(W, rects);
          merge_lora_rects(local.data(), rects, ab, s);
          const std::vector<float> want = gather(merged, rects);
          ASSERT_EQ(local.size(), want.size());
          for (size_t e = 0; e < want.size(); ++e)
            ASSERT_NEAR(local[e], want[e], 1e-5)
                << preset << " tp " << tp << " rank " << t << " " << p.name << " " << rng.tag();
          covered += int64_t(local.size());
          // fill_pieces copies the same rectangles out of the whole tensor.
          std::vector<float> filled(local.size(), NAN);
          std::vector<TensorPiece> pieces{{"params", p.name, filled.data(), rects, true}};
          fill_pieces(pieces, TensorMap{{p.name, merged}});
          EXPECT_EQ(filled, want);
        }
        EXPECT_GE(covered, rows * cols) << pw.name; // every element on some rank
      }
    }
}
