// Generation on one rank: the inference layer against the training forward, the KV cache
// against recomputing every step, batches against single prompts, and the position ids the
// generator feeds (ChatGLM-6B's rule, hand-computed tables).
#include "infer/prompt_runner.h"
#include "infer_fixture.h"

#include "gradcheck.h"
#include "model/microbatch.h"

#include <gtest/gtest.h>
#include <map>

namespace glm3d::test {
namespace {

// |a - b| <= tol * max(1, |b|) for every logit.
void expect_logits_near(const std::vector<float>& a, const std::vector<float>& b, double tol,
                        const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a[i], b[i], tol * std::max(1.0, double(std::abs(b[i])))) << what << " logit " << i;
}

// One run of the generator; the logits of every step of every sequence, in order.
struct GenRun {
  std::vector<std::vector<int32_t>> ids;
  std::map<int64_t, std::vector<std::vector<float>>> logits; // [sequence][step][vocab]
  std::vector<StepBatch> steps;
};

GenRun generate(TestModel& m, std::vector<GenSequence> batch, const GenerateOptions& o) {
  Generator gen(*m.model, m.pp);
  GenRun r;
  GenerateHooks h;
  h.on_step = [&](const StepBatch& s, int64_t) { r.steps.push_back(s); };
  h.on_logits = [&](int64_t seq, const float* l) { r.logits[seq].emplace_back(l, l + m.cfg.vocab); };
  gen.run(batch, o, h);
  for (const GenSequence& s : batch)
    r.ids.push_back(s.seq.ids);
  return r;
}

// The inference model's prefill logits (each sequence's last token) equal the training model's
// forward (GlmModel, dense attention: another attention kernel) on the same GLM samples: Part A
// bidirectional up to sep, Part B causal with ChatGLM's positions; GeGLU and GeLU, 2D and 1D RoPE.
TEST(Generation, PrefillLogitsEqualTheTrainingForward) {
  SeededRng rng;
  const SpecialIds sp = small_special();
  for (FfnKind ffn : {FfnKind::geglu, FfnKind::gelu})
    for (RopeKind rope : {RopeKind::two_d, RopeKind::one_d}) {
      TestModel m(small_config(ffn, rope), rng.seed());
      const int64_t S = 12;
      std::vector<Sample> samples;
      StepBatch step;
      for (int64_t b = 0; b < 3; ++b) {
        const int64_t context = 4 + 3 * b; // [gMASK] at context - 1, <sop> at context
        std::vector<int32_t> ids;
        for (int64_t j = 0; j < S; ++j)
          ids.push_back(j == context - 1 ? sp.gmask : j == context ? sp.sop : int32_t(rng.integer(0, 89)));
        const GlmSequence seq = glm_sequence(ids, sp);
        Sample s;
        s.tokens = ids, s.sep = int32_t(seq.context);
        s.targets.assign(size_t(S), 0), s.loss_mask.assign(size_t(S), 0);
        step.row.push_back(b), step.first.push_back(0), step.cached.push_back(0), step.count.push_back(S);
        step.sep.push_back(int32_t(seq.context));
        for (int64_t j = 0; j < S; ++j) {
          const GlmPosition at = sequence_position(seq, j);
          s.position_ids.push_back(at.position), s.block_position_ids.push_back(at.block);
          step.tokens.push_back(ids[size_t(j)]), step.position.push_back(at.position),
              step.block.push_back(at.block);
        }
        samples.push_back(s);
      }
      // Training forward: logits [B * S, padded vocab].
      GlmModel<float> g(m.cfg, m.plan, m.tp);
      std::copy(m.flat.begin(), m.flat.end(), g.params());
      const std::vector<MicroBatch> mbs = {stack_samples(samples)};
      const int64_t Vp = g.table().padded_vocab();
      std::vector<float> train(size_t(3 * S * Vp));
      g.on_logits = [&](int, const float* l) { std::copy(l, l + 3 * S * Vp, train.begin()); };
      g.set_batch(&mbs, 1.0);
      g.forward(0, 0, nullptr, nullptr);
      KvCache cache = m.model->make_cache(3, S);
      std::vector<float> x, out(size_t(3 * m.cfg.vocab));
      m.model->forward(step, cache, x);
      m.model->logits(step, x.data(), out.data());
      for (int64_t b = 0; b < 3; ++b) {
        const float* want = train.data() + ((b + 1) * S - 1) * Vp;
        expect_logits_near(
            std::vector<float>(out.begin() + b * m.cfg.vocab, out.begin() + (b + 1) * m.cfg.vocab),
            std::vector<float>(want, want + m.cfg.vocab), 1e-5,
            rng.tag() + " sample " + std::to_string(b) + (ffn == FfnKind::gelu ? " gelu" : " geglu") +
                (rope == RopeKind::one_d ? " 1d" : " 2d"));
      }
    }
}

// Invariant 8: decoding with the KV cache equals recomputing the whole sequence every step:
// the same greedy tokens, logits within 1e-5, for a left-padded batch of prompts of lengths 3,
// 9 and 6; sampled tokens (top-p, temperature) equal too.
TEST(Generation, KvCacheEqualsRecomputingEveryStep) {
  SeededRng rng;
  TestModel m(small_config(), rng.seed());
  const SpecialIds sp = small_special();
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t n : {3, 9, 6}) {
    prompts.emplace_back();
    for (int64_t j = 0; j < n; ++j)
      prompts.back().push_back(int32_t(rng.integer(0, 89)));
  }
  for (bool greedy : {true, false}) {
    GenerateOptions o;
    o.max_new_tokens = 14;
    o.sampling.greedy = greedy, o.sampling.top_p = 0.9, o.sampling.temperature = 0.8,
    o.sampling.seed = rng.seed();
    const GenRun cached = generate(m, gmask_batch(prompts, sp), o);
    o.use_cache = false;
    const GenRun recomputed = generate(m, gmask_batch(prompts, sp), o);
    EXPECT_EQ(cached.ids, recomputed.ids) << rng.tag();
    for (int64_t b = 0; b < 3; ++b) {
      ASSERT_EQ(cached.logits.at(b).size(), size_t(14));
      for (size_t t = 0; t < 14; ++t)
        expect_logits_near(cached.logits.at(b)[t], recomputed.logits.at(b)[t], 1e-5,
                           rng.tag() + " sequence " + std::to_string(b) + " step " + std::to_string(t));
    }
    // The cached run's decode steps hold one token per sequence, the recomputed ones all of them.
    EXPECT_EQ(cached.steps[1].total(), 3);
    EXPECT_EQ(recomputed.steps[1].total(), 3 + 9 + 6 + 3 * 3);
  }
}

// A prompt's tokens and logits do not depend on the batch it is in (left padding is invisible).
TEST(Generation, BatchedPromptsEqualPromptsAlone) {
  SeededRng rng;
  TestModel m(small_config(FfnKind::gelu), rng.seed());
  const SpecialIds sp = small_special();
  const std::vector<std::vector<int32_t>> prompts = {{5, 6, 7}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {40}};
  GenerateOptions o;
  o.max_new_tokens = 8;
  o.sampling.greedy = true;
  const GenRun all = generate(m, gmask_batch(prompts, sp), o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    const GenRun alone = generate(m, gmask_batch({prompts[b]}, sp), o);
    EXPECT_EQ(all.ids[b], alone.ids[0]) << "prompt " << b;
    for (size_t t = 0; t < alone.logits.at(0).size(); ++t)
      expect_logits_near(all.logits.at(int64_t(b))[t], alone.logits.at(0)[t], 1e-5,
                         "prompt " + std::to_string(b) + " step " + std::to_string(t));
  }
}

// ChatGLM-6B's positions for a 3-token prompt a b c -> a b c [gMASK] <sop> g1 g2 g3
// (modeling_chatglm.py get_position_ids and the decode step's `position_ids[..., -1:]`, block + 1):
//   token     a  b  c  [gMASK] <sop> g1 g2 g3
//   position  0  1  2  3       3     3  3  3
//   block     0  0  0  0       1     2  3  4
// and the mask: the first 4 tokens bidirectional (sep 4), the rest causal.
TEST(Generation, PositionsOfAThreeTokenPrompt) {
  SeededRng rng;
  TestModel m(small_config(), rng.seed());
  const SpecialIds sp = small_special();
  const PreparedPrompt p = prepare_prompt({11, 12, 13}, sp, m.cfg.vocab, m.cfg.seq_len, 0);
  EXPECT_EQ(p.ids, (std::vector<int32_t>{11, 12, 13, sp.gmask, sp.sop}));
  GenerateOptions o;
  o.max_new_tokens = 4;
  o.sampling.greedy = true;
  const GenRun r = generate(m, {{glm_sequence(p.ids, sp), 0}}, o);
  ASSERT_EQ(r.steps.size(), 4u); // the prefill and three decode steps (the 4th token is not fed back)
  EXPECT_EQ(r.steps[0].tokens, p.ids);
  EXPECT_EQ(r.steps[0].position, (std::vector<int32_t>{0, 1, 2, 3, 3}));
  EXPECT_EQ(r.steps[0].block, (std::vector<int32_t>{0, 0, 0, 0, 1}));
  EXPECT_EQ(r.steps[0].sep, std::vector<int32_t>{4});
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(r.steps[size_t(i)].position, std::vector<int32_t>{3}) << "decode step " << i;
    EXPECT_EQ(r.steps[size_t(i)].block, std::vector<int32_t>{i + 1}) << "decode step " << i;
    EXPECT_EQ(r.steps[size_t(i)].cached, std::vector<int64_t>{4 + i}) << "decode step " << i;
    EXPECT_EQ(r.steps[size_t(i)].tokens, std::vector<int32_t>{r.ids[0][size_t(4 + i)]})
        << "decode step " << i;
  }
}

// Blank infilling of a [MASK] b [MASK] c: the first blank from `a [MASK] b [MASK] c <sop>`
// (positions 0..4 then the blank's index 1, blocks 0 then 1, 2, ...), its span replaces it, then
// the second blank from the filled text (its index moved by the span's length).
TEST(Generation, BlankInfillingFillsEachSpanInTurn) {
  SeededRng rng;
  TestModel m(small_config(), rng.seed());
  const SpecialIds sp = small_special();
  const int32_t a = 20, b = 21, c = 22;
  const PreparedPrompt p = prepare_prompt({a, sp.mask, b, sp.mask, c}, sp, m.cfg.vocab, m.cfg.seq_len, 0);
  ASSERT_TRUE(p.infill);
  GenerateOptions o;
  o.max_new_tokens = 3;
  o.sampling.greedy = true;
  o.stop = {sp.eop};
  Generator gen(*m.model, m.pp);
  std::vector<StepBatch> steps;
  GenerateHooks h;
  h.on_step = [&](const StepBatch& s, int64_t) { steps.push_back(s); };
  const std::vector<PromptResult> out = generate_prompts(gen, {p}, 0, o, sp, h);
  ASSERT_EQ(out[0].spans.size(), 2u);
  const std::vector<int32_t>& s1 = out[0].spans[0];
  // First run: prefill of the 5 tokens and <sop>.
  EXPECT_EQ(steps[0].tokens, (std::vector<int32_t>{a, sp.mask, b, sp.mask, c, sp.sop}));
  EXPECT_EQ(steps[0].position, (std::vector<int32_t>{0, 1, 2, 3, 4, 1}));
  EXPECT_EQ(steps[0].block, (std::vector<int32_t>{0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(steps[0].sep, std::vector<int32_t>{5});
  // Second run's prefill: a s1 b [MASK] c <sop>, positioned at the second blank.
  const size_t second = 1 + (s1.empty() ? 0 : s1.size() - 1); // decode steps of the first run
  ASSERT_GT(steps.size(), second);
  std::vector<int32_t> text = {a};
  text.insert(text.end(), s1.begin(), s1.end());
  text.insert(text.end(), {b, sp.mask, c});
  const int32_t blank = int32_t(1 + s1.size() + 1);
  std::vector<int32_t> want = text;
  want.push_back(sp.sop);
  EXPECT_EQ(steps[second].tokens, want);
  EXPECT_EQ(steps[second].position.back(), blank);
  EXPECT_EQ(steps[second].block.back(), 1);
  // The output: the text with both blanks filled.
  std::vector<int32_t> filled = {a};
  filled.insert(filled.end(), s1.begin(), s1.end());
  filled.push_back(b);
  filled.insert(filled.end(), out[0].spans[1].begin(), out[0].spans[1].end());
  filled.push_back(c);
  EXPECT_EQ(out[0].output, filled);
}

} // namespace
} // namespace glm3d::test
