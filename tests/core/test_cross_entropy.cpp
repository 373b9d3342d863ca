// Vocab-parallel cross-entropy: log-sum-exp minus target logit, masking, padding columns,
// finite differences, and 2 / 4 simulated tensor-parallel ranks against one.
#include "core/check.h"
#include "core/cpu/cross_entropy.h"
#include "gradcheck.h"

#include <barrier>
#include <cmath>
#include <gtest/gtest.h>
#include <thread>

namespace glm3d::cpu {
namespace {

using test::SeededRng;

struct Problem {
  int64_t N, V, vocab_real; // V: padded vocab
  std::vector<double> logits;
  std::vector<int32_t> targets;
  std::vector<uint8_t> mask;
};

Problem make_problem(SeededRng& rng, int64_t N, int64_t V, int64_t vocab_real) {
  Problem p{N,
            V,
            vocab_real,
            rng.uniform_vec<double>(N * V, -4, 4),
            std::vector<int32_t>(N),
            std::vector<uint8_t>(N)};
  for (int64_t n = 0; n < N; ++n) {
    p.targets[n] = int32_t(rng.integer(0, vocab_real - 1));
    p.mask[n] = uint8_t(n % 3 != 1); // every third row is not a target
  }
  p.targets[0] = int32_t(vocab_real - 1); // the last real id
  return p;
}

TEST(CrossEntropy, LossIsLogSumExpMinusTargetLogit) {
  SeededRng rng;
  Problem p = make_problem(rng, 7, 13, 13);
  std::vector<double> loss(p.N), probs(p.N * p.V);
  test::poison(loss.data(), p.N);
  test::poison(probs.data(), p.N * p.V);
  vocab_parallel_ce_forward<double>(p.logits.data(), p.targets.data(), p.mask.data(), loss.data(),
                                    probs.data(), p.N, p.V, 0, p.vocab_real, VocabReduce<double>::local());
  for (int64_t n = 0; n < p.N; ++n) {
    double lse = 0;
    for (int64_t v = 0; v < p.V; ++v)
      lse += std::exp(p.logits[n * p.V + v]);
    lse = std::log(lse);
    EXPECT_NEAR(loss[n], p.mask[n] ? lse - p.logits[n * p.V + p.targets[n]] : 0.0, 1e-13) << rng.tag();
    double psum = 0;
    for (int64_t v = 0; v < p.V; ++v) {
      EXPECT_NEAR(probs[n * p.V + v], std::exp(p.logits[n * p.V + v] - lse), 1e-15) << rng.tag();
      psum += probs[n * p.V + v];
    }
    EXPECT_NEAR(psum, 1.0, 1e-14);
  }
}

// Padding ids (>= vocab_real) never take part: huge padding logits change neither the loss nor
// the real probabilities, their probabilities and gradients are exactly 0.
TEST(CrossEntropy, PaddingColumnsDoNotChangeTheLoss) {
  SeededRng rng;
  const int64_t N = 5, Vr = 10, V = 16;
  Problem real = make_problem(rng, N, Vr, Vr);
  std::vector<double> padded(N * V);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t v = 0; v < V; ++v)
      padded[n * V + v] = v < Vr ? real.logits[n * Vr + v] : 1e3 + double(v);
  std::vector<double> l1(N), p1(N * Vr), l2(N), p2(N * V), dl(N, 1.0), g2(N * V);
  vocab_parallel_ce_forward<double>(real.logits.data(), real.targets.data(), real.mask.data(), l1.data(),
                                    p1.data(), N, Vr, 0, Vr, VocabReduce<double>::local());
  test::poison(p2.data(), N * V);
  vocab_parallel_ce_forward<double>(padded.data(), real.targets.data(), real.mask.data(), l2.data(),
                                    p2.data(), N, V, 0, Vr, VocabReduce<double>::local());
  test::poison(g2.data(), N * V);
  vocab_parallel_ce_backward<double>(p2.data(), real.targets.data(), real.mask.data(), dl.data(), g2.data(),
                                     N, V, 0, Vr);
  for (int64_t n = 0; n < N; ++n) {
    EXPECT_EQ(l2[n], l1[n]) << rng.tag();
    for (int64_t v = 0; v < V; ++v) {
      if (v < Vr) {
        EXPECT_EQ(p2[n * V + v], p1[n * Vr + v]);
      } else {
        EXPECT_EQ(p2[n * V + v], 0.0);
        EXPECT_EQ(g2[n * V + v], 0.0);
      }
    }
  }
  // a target id in the padding is bad input
  auto bad = real.targets;
  bad[0] = int32_t(Vr);
  EXPECT_THROW(vocab_parallel_ce_forward<double>(padded.data(), bad.data(), real.mask.data(), l2.data(),
                                                 p2.data(), N, V, 0, Vr, VocabReduce<double>::local()),
               Error);
}

// Bound 1e-6 relative (floor 1e-2): see gradcheck.h. The loss is sum_n w_n loss_n, so dloss = w.
// Runs with padding columns (their numeric and analytic gradients are both 0) and with probs
// aliasing logits / dlogits aliasing probs as the header allows.
TEST(CrossEntropy, BackwardMatchesFiniteDifferencesF64) {
  SeededRng rng;
  const int64_t N = 6, V = 9, Vr = 7;
  Problem p = make_problem(rng, N, V, Vr);
  auto w = rng.uniform_vec<double>(N, 0.5, 2.0);
  std::vector<double> loss(N), probs(N * V);
  auto f = [&] {
    vocab_parallel_ce_forward<double>(p.logits.data(), p.targets.data(), p.mask.data(), loss.data(),
                                      probs.data(), N, V, 0, Vr, VocabReduce<double>::local());
    return test::weighted_sum(loss.data(), w.data(), N);
  };
  f();
  std::vector<double> grad(N * V);
  test::poison(grad.data(), N * V);
  vocab_parallel_ce_backward<double>(probs.data(), p.targets.data(), p.mask.data(), w.data(), grad.data(), N,
                                     V, 0, Vr);
  auto r = test::gradcheck(f, p.logits.data(), N * V, grad.data());
  EXPECT_LT(r.max_rel, 1e-6) << r.str() << " " << rng.tag();

  auto inplace = p.logits; // probs aliasing logits, then dlogits aliasing probs
  std::vector<double> loss2(N);
  vocab_parallel_ce_forward<double>(inplace.data(), p.targets.data(), p.mask.data(), loss2.data(),
                                    inplace.data(), N, V, 0, Vr, VocabReduce<double>::local());
  vocab_parallel_ce_backward<double>(inplace.data(), p.targets.data(), p.mask.data(), w.data(),
                                     inplace.data(), N, V, 0, Vr);
  f();
  for (int64_t n = 0; n < N; ++n)
    EXPECT_EQ(loss2[n], loss[n]);
  for (int64_t i = 0; i < N * V; ++i)
    EXPECT_EQ(inplace[i], grad[i]);
}

// An in-process all-reduce among R threads (simulated tensor-parallel ranks): each rank
// publishes its buffer, all combine every rank's buffer into a private copy, then write back.
template <class T> class ThreadGroup {
public:
  explicit ThreadGroup(int ranks) : bufs_(ranks), bar_(ranks) {}
  void allreduce(int rank, T* buf, int64_t n, bool take_max) {
    bufs_[rank] = buf;
    bar_.arrive_and_wait();
    std::vector<T> acc(buf, buf + n);
    for (size_t r = 0; r < bufs_.size(); ++r)
      if (int(r) != rank)
        for (int64_t i = 0; i < n; ++i)
          acc[i] = take_max ? std::max(acc[i], bufs_[r][i]) : acc[i] + bufs_[r][i];
    bar_.arrive_and_wait(); // every rank has read every buffer
    std::copy(acc.begin(), acc.end(), buf);
  }
  VocabReduce<T> reduce(int rank) {
    return {[this, rank](T* b, int64_t n) { allreduce(rank, b, n, true); },
            [this, rank](T* b, int64_t n) { allreduce(rank, b, n, false); }};
  }

private:
  std::vector<T*> bufs_;
  std::barrier<> bar_;
};

// Splitting the padded vocab over 2 or 4 ranks gives the same losses and gradients as one
// slice (up to summation order: 1e-12 relative). vocab_real = 10 of 16 makes the last rank
// of 4 hold only padding (its local max is -inf).
TEST(CrossEntropy, VocabParallelSlicesMatchOneSlice) {
  SeededRng rng;
  const int64_t N = 8, V = 16, Vr = 10;
  Problem p = make_problem(rng, N, V, Vr);
  std::vector<double> loss1(N), probs1(N * V), grad1(N * V);
  auto dloss = rng.uniform_vec<double>(N, 0.5, 2.0);
  vocab_parallel_ce_forward<double>(p.logits.data(), p.targets.data(), p.mask.data(), loss1.data(),
                                    probs1.data(), N, V, 0, Vr, VocabReduce<double>::local());
  vocab_parallel_ce_backward<double>(probs1.data(), p.targets.data(), p.mask.data(), dloss.data(),
                                     grad1.data(), N, V, 0, Vr);
  for (int ranks : {2, 4}) {
    const int64_t Vl = V / ranks;
    ThreadGroup<double> group(ranks);
    std::vector<std::vector<double>> losses(ranks, std::vector<double>(N)), grads(ranks);
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r) {
      threads.emplace_back([&, r] {
        std::vector<double> logits(N * Vl), probs(N * Vl);
        for (int64_t n = 0; n < N; ++n)
          for (int64_t v = 0; v < Vl; ++v)
            logits[n * Vl + v] = p.logits[n * V + r * Vl + v];
        test::poison(probs.data(), N * Vl);
        vocab_parallel_ce_forward<double>(logits.data(), p.targets.data(), p.mask.data(), losses[r].data(),
                                          probs.data(), N, Vl, r * Vl, Vr, group.reduce(r));
        grads[r].resize(N * Vl);
        test::poison(grads[r].data(), N * Vl);
        vocab_parallel_ce_backward<double>(probs.data(), p.targets.data(), p.mask.data(), dloss.data(),
                                           grads[r].data(), N, Vl, r * Vl, Vr);
      });
    }
    for (auto& t : threads)
      t.join();
    for (int r = 0; r < ranks; ++r)
      for (int64_t n = 0; n < N; ++n) {
        EXPECT_NEAR(losses[r][n], loss1[n], 1e-12 * std::max(1.0, loss1[n])) << ranks << " ranks, rank " << r;
        for (int64_t v = 0; v < Vl; ++v)
          EXPECT_NEAR(grads[r][n * Vl + v], grad1[n * V + r * Vl + v], 1e-13)
              << ranks << " ranks " << rng.tag();
      }
  }
}

// f32 vs f64: log-sum-exp over 64 O(1) logits (exp sums in double) is within a few u of the
// value times the loss scale; 1e-5 absolute on losses of ~5 is ~30 u.
TEST(CrossEntropy, F32MatchesF64) {
  SeededRng rng;
  const int64_t N = 12, V = 64, Vr = 60;
  Problem p = make_problem(rng, N, V, Vr);
  for (auto& e : p.logits)
    e = double(float(e));
  std::vector<float> lf(p.logits.begin(), p.logits.end()), lossf(N), pf(N * V), gf(N * V), dlf(N, 1.0f);
  std::vector<double> lossd(N), pd(N * V), gd(N * V), dld(N, 1.0);
  vocab_parallel_ce_forward<double>(p.logits.data(), p.targets.data(), p.mask.data(), lossd.data(), pd.data(),
                                    N, V, 0, Vr, VocabReduce<double>::local());
  vocab_parallel_ce_forward<float>(lf.data(), p.targets.data(), p.mask.data(), lossf.data(), pf.data(), N, V,
                                   0, Vr, VocabReduce<float>::local());
  vocab_parallel_ce_backward<double>(pd.data(), p.targets.data(), p.mask.data(), dld.data(), gd.data(), N, V,
                                     0, Vr);
  vocab_parallel_ce_backward<float>(pf.data(), p.targets.data(), p.mask.data(), dlf.data(), gf.data(), N, V,
                                    0, Vr);
  for (int64_t n = 0; n < N; ++n)
    EXPECT_NEAR(lossf[n], lossd[n], 1e-5) << rng.tag();
  for (int64_t i = 0; i < N * V; ++i)
    EXPECT_NEAR(gf[i], gd[i], 1e-6) << rng.tag();
}

} // namespace
} // namespace glm3d::cpu
