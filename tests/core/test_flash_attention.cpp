// Flash attention in f64 against the naive oracle (flash_reference.h) and finite differences:
// GLM masks (sep 0, S, random) and causal, grouped-query heads, both qkv layouts, S not a
// multiple of the tiles; the skipped tiles; the workspace; head parts and thread counts.
#include "core/check.h"
#include "core/cpu/attention.h"
#include "core/cpu/flash_attention.h"
#include "flash_reference.h"

#include <gtest/gtest.h>
#include <omp.h>

namespace glm3d::test {
namespace {

using cpu::FlashBlocks;
using cpu::FlashConfig;

FlashConfig blocks(FlashBlocks fwd, FlashBlocks bwd) {
  FlashConfig c;
  c.fwd = fwd;
  c.bwd = bwd;
  return c;
}

// f64 runs sum the same terms as the oracle in another order: 1e-12 of the terms' magnitude.
void expect_matches_oracle(const FlashProblem& p, const FlashConfig& cfg, const std::string& what) {
  SCOPED_TRACE(what);
  const FlashReference ref = flash_reference(p);
  const FlashRun<double> run = run_flash<double>(p, cfg);
  for (int64_t i = 0; i < p.out_size(); ++i)
    ASSERT_NEAR(run.out[i], ref.out[i], 1e-12) << "out[" << i << "]";
  for (int64_t i = 0; i < p.lse_size(); ++i)
    ASSERT_NEAR(run.lse[i], ref.lse[i], 1e-12 * std::max(1.0, std::abs(ref.lse[i]))) << "lse[" << i << "]";
  for (int64_t i = 0; i < p.qkv_size(); ++i)
    ASSERT_NEAR(run.dqkv[i], ref.dqkv[i], 1e-12 * std::max(1.0, ref.mag[i])) << "dqkv[" << i << "]";
  EXPECT_EQ(run.fwd_tiles, expected_tiles(p, cfg.fwd));
  EXPECT_EQ(run.bwd_tiles, expected_tiles(p, cfg.bwd));
}

// S = 67 is a multiple of neither tile; three samples with seps random, 0 (causal) and S
// (fully bidirectional); ng = 1 (multi-query), 2 (groups) and nh (multi-head).
TEST(FlashAttention, MatchesNaiveF64ForMasksGroupsAndLayouts) {
  SeededRng rng;
  const int64_t S = 67, nh = 4, hd = 8;
  const std::vector<int32_t> seps = {int32_t(rng.integer(1, S - 1)), 0, int32_t(S)};
  for (const FlashConfig& cfg : {blocks({16, 64}, {16, 64}), blocks({64, 16}, {32, 16})}) {
    for (int64_t ng : {int64_t(1), int64_t(2), nh}) {
      const std::string tag = rng.tag() + " ng=" + std::to_string(ng) + " blocks " +
                              std::to_string(cfg.fwd.q) + "x" + std::to_string(cfg.fwd.kv) +
                              " sep0=" + std::to_string(seps[0]);
      expect_matches_oracle(make_problem<double>(rng, {3, S, nh, ng, hd}, Layout::packed, seps), cfg,
                            "packed " + tag);
      expect_matches_oracle(make_problem<double>(rng, {2, S, nh, ng, hd}, Layout::packed, {}, true), cfg,
                            "packed causal " + tag);
    }
    expect_matches_oracle(make_problem<double>(rng, {3, S, nh, nh, hd}, Layout::interleaved, seps), cfg,
                          "interleaved " + rng.tag());
  }
}

// One tile holding the whole sequence, and tiles of one query / one key.
TEST(FlashAttention, MatchesNaiveF64AtExtremeTileSizes) {
  SeededRng rng;
  const std::vector<int32_t> seps = {int32_t(rng.integer(1, 8)), 0, 9};
  for (const FlashConfig& cfg :
       {blocks({256, 256}, {256, 256}), blocks({1, 1}, {1, 1}), blocks({1, 4}, {3, 1})})
    expect_matches_oracle(make_problem<double>(rng, {3, 9, 2, 1, 4}, Layout::packed, seps), cfg, rng.tag());
}

// The f64 backward against central differences of sum(R * out) over every element of the
// packed qkv buffer (q, k and v of every head and group). Bound 1e-6 relative (floor 1e-2):
// see gradcheck.h, but with step h = 1e-5: the loss sums 528 outputs, so its rounding error
// (~528 eps |R out|, 3e-14) over 2h would reach 1.5e-8 at h = 1e-6, and the truncation error
// h^2 |f'''| / 6 stays ~1e-10.
TEST(FlashAttention, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t S = 11;
  FlashProblem p = make_problem<double>(rng, {3, S, 4, 2, 4}, Layout::packed,
                                        {int32_t(rng.integer(1, S - 1)), 0, int32_t(S)}, false, -1.5, 1.5);
  const FlashConfig cfg = blocks({4, 4}, {4, 3});
  std::vector<double> out(p.out_size()), lse(p.lse_size()), dqkv(p.qkv_size());
  auto loss = [&] {
    cpu::flash_attention_forward<double>(p.view(static_cast<const double*>(p.qkv.data())), p.sep_ptr(),
                                         out.data(), lse.data(), p.sh, cfg);
    return weighted_sum(out.data(), p.dout.data(), p.out_size());
  };
  loss();
  poison(dqkv.data(), p.qkv_size());
  cpu::flash_attention_backward<double>(p.dout.data(), p.view(static_cast<const double*>(p.qkv.data())),
                                        out.data(), lse.data(), p.sep_ptr(), p.view(dqkv.data()), p.sh, cfg);
  const auto r = gradcheck(loss, p.qkv.data(), p.qkv_size(), dqkv.data(), 1e-5);
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " sep0=" << p.sep[0] << " " << rng.tag();
}

// With the interleaved layout the kernel computes what glm_attention (which keeps the S x S
// probabilities) computes.
TEST(FlashAttention, EqualsGlmAttentionOnInterleavedQkv) {
  SeededRng rng;
  const int64_t B = 3, S = 45, nh = 3, hd = 8;
  const FlashProblem p = make_problem<double>(rng, {B, S, nh, nh, hd}, Layout::interleaved,
                                              {int32_t(rng.integer(1, S - 1)), 0, 45});
  const FlashRun<double> run = run_flash<double>(p, blocks({16, 32}, {32, 16}));
  std::vector<double> out(p.out_size()), probs(B * nh * S * S), dqkv(p.qkv_size());
  cpu::glm_attention_forward<double>(p.qkv.data(), p.sep.data(), out.data(), probs.data(), B, S, nh, hd);
  cpu::glm_attention_backward<double>(p.dout.data(), p.qkv.data(), probs.data(), p.sep.data(), dqkv.data(), B,
                                      S, nh, hd);
  for (int64_t i = 0; i < p.out_size(); ++i)
    ASSERT_NEAR(run.out[i], out[i], 1e-12) << rng.tag();
  for (int64_t i = 0; i < p.qkv_size(); ++i)
    ASSERT_NEAR(run.dqkv[i], dqkv[i], 1e-11) << rng.tag();
}

// Tiles computed = the closed form; by hand for S = 67, 16 x 16 tiles (5 query blocks ending
// at 16, 32, 48, 64, 67): sep 0 needs 1+2+3+4+5 = 15 key tiles, sep 40 3+3+3+4+5 = 18,
// sep 67 5 x 5 = 25; two heads: 2 (15 + 18 + 25) = 116 (the full grid would be 150).
TEST(FlashAttention, SkipsFullyMaskedTiles) {
  SeededRng rng;
  const FlashProblem p = make_problem<float>(rng, {3, 67, 2, 1, 8}, Layout::packed, {0, 40, 67});
  const FlashRun<float> run = run_flash<float>(p, blocks({16, 16}, {16, 16}));
  EXPECT_EQ(run.fwd_tiles, 116);
  EXPECT_EQ(run.bwd_tiles, 116);
  for (int rep = 0; rep < 5; ++rep) {
    const FlashConfig cfg =
        blocks({rng.integer(1, 40), rng.integer(1, 40)}, {rng.integer(1, 40), rng.integer(1, 40)});
    const FlashProblem q = make_problem<float>(rng, {4, 67, 2, 2, 4}, Layout::packed, {}, rep == 0);
    const FlashRun<float> r = run_flash<float>(q, cfg);
    EXPECT_EQ(r.fwd_tiles, expected_tiles(q, cfg.fwd)) << rng.tag();
    EXPECT_EQ(r.bwd_tiles, expected_tiles(q, cfg.bwd)) << rng.tag();
  }
}

// Changing the key and value of position j leaves every query that cannot see j bit for bit
// unchanged (masked entries of a computed tile are exact zeros) and changes those that can.
TEST(FlashAttention, MaskedKeysDoNotInfluenceOutput) {
  SeededRng rng;
  const int64_t S = 40, nh = 2, hd = 8, j = 29; // sep 13: key 29 is seen by queries 29..39 only
  FlashProblem p = make_problem<float>(rng, {1, S, nh, 1, hd}, Layout::packed, {13});
  const FlashConfig cfg = blocks({8, 16}, {8, 16});
  const FlashRun<float> a = run_flash<float>(p, cfg, false);
  const auto x = p.view(p.qkv.data());
  for (int64_t d = 0; d < hd; ++d)
    x.k.at(j, 0)[d] += 3.0, x.v.at(j, 0)[d] -= 5.0;
  const FlashRun<float> b = run_flash<float>(p, cfg, false);
  for (int64_t i = 0; i < S; ++i)
    for (int64_t h = 0; h < nh; ++h) {
      const int64_t o = (i * nh + h) * hd;
      if (i < j) {
        for (int64_t d = 0; d < hd; ++d)
          ASSERT_EQ(a.out[o + d], b.out[o + d])
              << "query " << i << " saw masked key " << j << " " << rng.tag();
      } else {
        EXPECT_NE(a.out[o], b.out[o]) << "query " << i << " should see key " << j << " " << rng.tag();
      }
    }
}

// sep == nullptr is the causal mask: bit for bit the run with every sep 0.
TEST(FlashAttention, NullSepIsCausal) {
  SeededRng rng;
  FlashProblem p = make_problem<float>(rng, {2, 50, 4, 2, 8}, Layout::packed, {0, 0}, true);
  const FlashRun<float> a = run_flash<float>(p);
  p.causal = false;
  const FlashRun<float> b = run_flash<float>(p);
  EXPECT_EQ(a.out, b.out);
  EXPECT_EQ(a.dqkv, b.dqkv);
}

// No S x S buffer: the forward's workspace does not depend on S; the backward's grows linearly
// in S (per thread the group's packed keys and values and the dk, dv accumulators: 4 S hd
// floats), below one head's S x S matrix from S = 2048 on (the kernel it replaces keeps nh of
// them per sample, and stages more in backward).
TEST(FlashAttention, WorkspaceIsLinearInS) {
  const FlashConfig cfg;
  auto fwd = [&](int64_t S) { return cpu::flash_forward_workspace<float>({1, S, 12, 12, 128}, cfg); };
  auto bwd = [&](int64_t S) { return cpu::flash_backward_workspace<float>({1, S, 12, 12, 128}, cfg, 2); };
  EXPECT_EQ(fwd(1024).per_thread, fwd(8192).per_thread);
  EXPECT_EQ(fwd(8192).shared, 0u);
  const size_t tiles = bwd(1024).per_thread - 4 * 1024 * 128 * sizeof(float);
  for (int64_t S : {1024, 2048, 8192}) {
    EXPECT_EQ(bwd(S).per_thread, tiles + 4 * size_t(S) * 128 * sizeof(float)) << "S=" << S;
    EXPECT_EQ(bwd(S).shared, 0u);
    if (S >= 2048) {
      EXPECT_LT(bwd(S).per_thread + fwd(S).per_thread, size_t(S * S) * sizeof(float)) << "S=" << S;
    }
  }
  // forward: q, k, v tiles, the scores [q, kv], the output accumulator [q, hd] and three row
  // statistics, in bytes (each a multiple of 64 here)
  const int64_t q = cfg.fwd.q, kv = cfg.fwd.kv;
  EXPECT_EQ(fwd(2048).per_thread, size_t((q + 2 * kv) * 128 * 4 + q * kv * 4 + q * 128 * 4 + 3 * q * 4));
  // One sample, one group: the heads are split into parts, each with its own dk, dv slots.
  const cpu::FlashWorkspace mq = cpu::flash_backward_workspace<float>({1, 2048, 12, 1, 128}, cfg, 2);
  EXPECT_EQ(mq.shared, 4u * 2 * 2048 * 128 * sizeof(float));
}

// Splitting a group's heads into parts (each summing its own dk, dv) changes only the order of
// the sums; uneven splits too (6 heads in 4 parts).
TEST(FlashAttention, HeadPartsGiveTheSameGradients) {
  SeededRng rng;
  const FlashProblem p = make_problem<double>(rng, {2, 37, 6, 1, 8}, Layout::packed, {});
  const FlashReference ref = flash_reference(p);
  for (int64_t parts : {1, 2, 3, 4, 6}) {
    FlashConfig cfg = blocks({16, 16}, {8, 16});
    cfg.bwd_head_parts = parts;
    const FlashRun<double> run = run_flash<double>(p, cfg);
    for (int64_t i = 0; i < p.qkv_size(); ++i)
      ASSERT_NEAR(run.dqkv[i], ref.dqkv[i], 1e-12 * std::max(1.0, ref.mag[i]))
          << "parts " << parts << " " << rng.tag();
  }
}

// Tasks are independent and each sum has a fixed order, so the thread count (and the dynamic
// schedule) does not change a single bit.
TEST(FlashAttention, ThreadCountDoesNotChangeResults) {
  SeededRng rng;
  const FlashProblem p = make_problem<float>(rng, {2, 70, 4, 2, 16}, Layout::packed, {});
  FlashConfig cfg = blocks({16, 32}, {16, 32});
  cfg.bwd_head_parts = 2;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const FlashRun<float> one = run_flash<float>(p, cfg);
  omp_set_num_threads(3);
  const FlashRun<float> three = run_flash<float>(p, cfg);
  omp_set_num_threads(saved);
  EXPECT_EQ(one.out, three.out) << rng.tag();
  EXPECT_EQ(one.lse, three.lse) << rng.tag();
  EXPECT_EQ(one.dqkv, three.dqkv) << rng.tag();
}

// Empty batches and sequences compute nothing and write nothing; a group count that does not
// divide the heads is refused.
TEST(FlashAttention, EmptyShapesAndBadGroups) {
  SeededRng rng;
  for (const FlashShape& sh : {FlashShape{0, 5, 2, 1, 4}, FlashShape{2, 0, 2, 1, 4}}) {
    const FlashProblem p = make_problem<float>(rng, sh, Layout::packed, {0, 0});
    const FlashRun<float> r = run_flash<float>(p);
    EXPECT_EQ(r.fwd_tiles, 0);
    EXPECT_EQ(r.bwd_tiles, 0);
  }
  const FlashProblem p = make_problem<float>(rng, {1, 5, 3, 1, 4}, Layout::packed, {0});
  FlashProblem bad = p;
  bad.sh.ng = 2;
  EXPECT_THROW(run_flash<float>(bad), Error);
}

// Queries over a cache (inference): the last Sq of S' keys, q and out holding Sq tokens per
// sample, equal the rows S' - Sq .. S' - 1 of the whole forward over the first S' tokens
// wherever that forward's rows see only keys below S' (sep <= S'): a prefill (Sq = S'), decode
// steps (Sq = 1) and a chunk (Sq = 3), with grouped heads and separate q and k/v buffers.
TEST(FlashAttention, CachedQueriesEqualTheLastRowsOfTheForward) {
  SeededRng rng;
  const int64_t B = 2, S = 37, nh = 4, ng = 2, hd = 8;
  const FlashProblem p =
      make_problem<double>(rng, {B, S, nh, ng, hd}, Layout::packed, {int32_t(rng.integer(2, 20)), 0});
  const FlashReference ref = flash_reference(p);
  const QkvView<const double> full = p.view(p.qkv.data());
  FlashConfig cfg = blocks({8, 16}, {8, 16});
  int64_t checked = 0;
  for (int64_t Sk = 1; Sk <= S; ++Sk) {
    if (Sk < p.sep[0])
      continue; // sample 0's rows would see keys past Sk
    for (int64_t Sq : {int64_t(1), int64_t(3), Sk}) {
      if (Sq > Sk)
        continue;
      // Dense buffers: q [B, Sq, nh, hd] and kv [B, Sk, 2, ng, hd].
      std::vector<double> q(size_t(B * Sq * nh * hd)), kv(size_t(B * Sk * 2 * ng * hd));
      std::vector<double> out(size_t(B * Sq * nh * hd), std::numeric_limits<double>::quiet_NaN());
      for (int64_t b = 0; b < B; ++b) {
        for (int64_t r = 0; r < Sq; ++r)
          for (int64_t h = 0; h < nh; ++h)
            std::copy_n(full.q.at(b * S + Sk - Sq + r, h), hd, q.data() + ((b * Sq + r) * nh + h) * hd);
        for (int64_t j = 0; j < Sk; ++j)
          for (int64_t g = 0; g < ng; ++g) {
            std::copy_n(full.k.at(b * S + j, g), hd, kv.data() + ((b * Sk + j) * 2 * ng + g) * hd);
            std::copy_n(full.v.at(b * S + j, g), hd, kv.data() + ((b * Sk + j) * 2 * ng + ng + g) * hd);
          }
      }
      const QkvView<const double> x{
          {q.data(), nh * hd, hd}, {kv.data(), 2 * ng * hd, hd}, {kv.data() + ng * hd, 2 * ng * hd, hd}};
      cpu::flash_attention_cached<double>(x, p.sep.data(), out.data(), {B, Sk, nh, ng, hd}, Sq, cfg);
      for (int64_t b = 0; b < B; ++b)
        for (int64_t r = 0; r < Sq; ++r)
          for (int64_t e = 0; e < nh * hd; ++e)
            ASSERT_NEAR(out[size_t((b * Sq + r) * nh * hd + e)],
                        ref.out[size_t((b * S + Sk - Sq + r) * nh * hd + e)], 1e-12)
                << rng.tag() << " keys " << Sk << " queries " << Sq << " sample " << b << " row " << r;
      ++checked;
    }
  }
  // Three query counts for every key count from sample 0's sep (at most 20) to S: at least 54
  // (the bound was 60, which a sep of 19 or 20 misses: 57 at seed 14021047045104791879).
  EXPECT_GE(checked, 3 * (S - 20 + 1));
}

} // namespace
} // namespace glm3d::test
