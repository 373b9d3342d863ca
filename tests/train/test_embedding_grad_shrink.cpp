// --embedding-grad-shrink (GLM-130B): the word-embedding gradient is
//   g(a) = g_head + a * g_lookup
// where g_head comes from the tied LM head (all vocabulary rows) and g_lookup from the
// input lookup (only the rows of tokens in the batch). Checked in f64 on `tiny`:
// linear in a, the lookup part zero on rows of tokens absent from the input and non-zero
// on present ones, the head part untouched, every other parameter's gradient unchanged.
#include "data/synthetic_task.h"
#include "model/glm_model.h"

#include <gtest/gtest.h>
#include <set>

using namespace glm3d;

namespace {

std::vector<double> gradient(double shrink, std::set<int>* tokens_seen = nullptr) {
  const ModelConfig cfg = preset_config("tiny");
  LocalCommunicator tp{"tp"};
  GlmModel<double> model{cfg, single_rank_plan(cfg), tp};
  model.init(5);
  model.embedding_grad_shrink = shrink;
  SyntheticTask task(cfg.seq_len, cfg.vocab, 77);
  std::vector<MicroBatch> mbs{stack_samples({task.get(0)})};
  if (tokens_seen)
    for (auto t : mbs[0].tokens)
      tokens_seen->insert(int(t));
  model.zero_grads();
  model.set_batch(&mbs, 1.0 / double(mbs[0].target_count()));
  model.forward(0, 0, nullptr, nullptr);
  model.backward(0, 0, nullptr, nullptr);
  return std::vector<double>(model.grads(), model.grads() + model.num_params());
}

} // namespace

TEST(EmbeddingGradShrink, ScalesOnlyTheInputLookupContribution) {
  std::set<int> seen;
  const std::vector<double> g1 = gradient(1.0, &seen), g0 = gradient(0.0), g01 = gradient(0.1);
  const ModelConfig cfg = preset_config("tiny");
  LocalCommunicator tp{"tp"};
  GlmModel<double> probe{cfg, single_rank_plan(cfg), tp};
  const ParamInfo& e = probe.table().get("word_embeddings.weight");
  const int64_t H = cfg.hidden;
  ASSERT_LT(seen.size(), size_t(cfg.vocab)) << "the test needs tokens absent from the batch";
  double lookup_present = 0, head_absent = 0;
  for (int64_t i = 0; i < int64_t(g1.size()); ++i) {
    const bool in_emb = i >= e.offset && i < e.offset + e.numel();
    if (!in_emb) {
      ASSERT_EQ(g01[size_t(i)], g1[size_t(i)])
          << "parameter element " << i << " outside the embedding changed";
      continue;
    }
    const int row = int((i - e.offset) / H);
    const double lookup = g1[size_t(i)] - g0[size_t(i)];
    // Linear in a: g(0.1) = g(0) + 0.1 (g(1) - g(0)), to f64 rounding.
    ASSERT_NEAR(g01[size_t(i)], g0[size_t(i)] + 0.1 * lookup, 1e-12 + 1e-9 * std::abs(g1[size_t(i)]))
        << "row " << row;
    if (seen.count(row)) {
      lookup_present += std::abs(lookup);
    } else {
      ASSERT_NEAR(lookup, 0.0, 1e-15) << "lookup gradient on row " << row << " of a token not in the input";
      head_absent += std::abs(g0[size_t(i)]);
    }
  }
  EXPECT_GT(lookup_present, 1e-3) << "the input lookup contributes nothing: shrink has no effect";
  EXPECT_GT(head_absent, 1e-6) << "the tied head's gradient vanished: shrink scaled the head too";
}
