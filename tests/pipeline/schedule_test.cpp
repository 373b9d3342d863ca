// Pipeline schedules: exact per-rank compute sequences for small cases, the closed-form
// warm-up counts, the deadlock checker over every accepted (pp, m, V), peak in-flight
// activations, and the errors for unsupported combinations.
#include "core/check.h"
#include "pipeline/schedule.h"
#include "schedule_sim.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

// The compute ops only, as "F0 B0 F1c1 ..." (chunk shown when V > 1).
std::string compute_ops(const std::vector<PipeOp>& ops, int v) {
  std::string s;
  for (const PipeOp& op : ops) {
    if (op.kind != OpKind::forward && op.kind != OpKind::backward)
      continue;
    if (!s.empty())
      s += ' ';
    s += op.kind == OpKind::forward ? 'F' : 'B';
    s += std::to_string(op.microbatch);
    if (v > 1)
      s += "c" + std::to_string(op.chunk);
  }
  return s;
}

std::vector<std::vector<PipeOp>> all_ranks(ScheduleKind k, int pp, int m, int v, bool forward_only = false) {
  std::vector<std::vector<PipeOp>> out;
  for (int r = 0; r < pp; ++r)
    out.push_back(build_schedule(k, pp, r, m, v, forward_only));
  return out;
}

TEST(Schedule, GpipeAllForwardsThenAllBackwards) {
  const auto ops = build_schedule(ScheduleKind::gpipe, 3, 1, 3, 1);
  EXPECT_EQ(compute_ops(ops, 1), "F0 F1 F2 B0 B1 B2");
  // A middle stage receives and sends in both directions.
  const std::vector<PipeOp> first3{
      {OpKind::recv_forward, 0, 0}, {OpKind::forward, 0, 0}, {OpKind::send_forward, 0, 0}};
  EXPECT_EQ(std::vector<PipeOp>(ops.begin(), ops.begin() + 3), first3);
  const std::vector<PipeOp> last3{
      {OpKind::recv_backward, 2, 0}, {OpKind::backward, 2, 0}, {OpKind::send_backward, 2, 0}};
  EXPECT_EQ(std::vector<PipeOp>(ops.end() - 3, ops.end()), last3);
}

TEST(Schedule, FirstStageReadsTheBatchLastStageComputesTheLoss) {
  const auto first = build_schedule(ScheduleKind::one_f_one_b, 4, 0, 4, 1);
  const auto last = build_schedule(ScheduleKind::one_f_one_b, 4, 3, 4, 1);
  for (const PipeOp& op : first) {
    EXPECT_NE(op.kind, OpKind::recv_forward);
    EXPECT_NE(op.kind, OpKind::send_backward);
  }
  for (const PipeOp& op : last) {
    EXPECT_NE(op.kind, OpKind::send_forward);
    EXPECT_NE(op.kind, OpKind::recv_backward);
  }
  EXPECT_EQ(first.size(), 4u * 4u); // F, sendF, recvB, B per microbatch
  EXPECT_EQ(compute_ops(last, 1), "F0 B0 F1 B1 F2 B2 F3 B3");
}

TEST(Schedule, OneFOneBExactSequences) {
  // pp=4, m=6: rank r warms up with 3 - r forwards.
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::one_f_one_b, 4, 0, 6, 1), 1),
            "F0 F1 F2 F3 B0 F4 B1 F5 B2 B3 B4 B5");
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::one_f_one_b, 4, 1, 6, 1), 1),
            "F0 F1 F2 B0 F3 B1 F4 B2 F5 B3 B4 B5");
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::one_f_one_b, 4, 3, 6, 1), 1),
            "F0 B0 F1 B1 F2 B2 F3 B3 F4 B4 F5 B5");
  // Fewer micro-batches than stages: warm-up capped at m.
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::one_f_one_b, 4, 0, 2, 1), 1), "F0 F1 B0 B1");
}

TEST(Schedule, WarmupCountsAreTheClosedForms) {
  for (int pp = 1; pp <= 8; ++pp)
    for (int r = 0; r < pp; ++r)
      for (int m = 1; m <= 16; ++m) {
        EXPECT_EQ(warmup_forwards(ScheduleKind::one_f_one_b, pp, r, m, 1), std::min(pp - r - 1, m));
        EXPECT_EQ(warmup_forwards(ScheduleKind::gpipe, pp, r, m, 1), m);
        // The number of forwards before the first backward in the list is warm-up + 1 (or all).
        const auto ops = build_schedule(ScheduleKind::one_f_one_b, pp, r, m, 1);
        const std::string seq = compute_ops(ops, 1);
        const size_t first_b = seq.find('B');
        const int forwards_before = int(std::count(seq.begin(), seq.begin() + first_b, 'F'));
        EXPECT_EQ(forwards_before, std::min(pp - r, m));
        for (int v = 2; v <= 4 && m % pp == 0 && pp >= 2; ++v) {
          const int want = std::min((pp - r - 1) * 2 + (v - 1) * pp, m * v);
          EXPECT_EQ(warmup_forwards(ScheduleKind::interleaved, pp, r, m, v), want)
              << pp << " " << r << " " << m;
        }
      }
}

TEST(Schedule, InterleavedExactSequencesAndChunkMapping) {
  // pp=2, V=2, m=4: rank 0 warm-up (2-0-1)*2 + (2-1)*2 = 4, rank 1 warm-up 2.
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::interleaved, 2, 0, 4, 2), 2),
            "F0c0 F1c0 F0c1 F1c1 F2c0 B0c1 F3c0 B1c1 F2c1 B0c0 F3c1 B1c0 B2c1 B3c1 B2c0 B3c0");
  EXPECT_EQ(compute_ops(build_schedule(ScheduleKind::interleaved, 2, 1, 4, 2), 2),
            "F0c0 F1c0 F0c1 B0c1 F1c1 B1c1 F2c0 B0c0 F3c0 B1c0 F2c1 B2c1 F3c1 B3c1 B2c0 B3c0");
  // Megatron's get_model_chunk_id for pp=4, V=2: forwards run chunk 0 for 4 micro-batches, then chunk 1.
  const std::vector<int> fwd_chunk{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};
  const std::vector<int> mb{0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7};
  for (int k = 0; k < 16; ++k) {
    EXPECT_EQ(interleaved_chunk(k, 4, 2, true), fwd_chunk[k]) << k;
    EXPECT_EQ(interleaved_chunk(k, 4, 2, false), 1 - fwd_chunk[k]) << k;
    EXPECT_EQ(interleaved_microbatch(k, 4, 2), mb[k]) << k;
  }
  // The wrap: the last rank's chunk 0 sends forward (to rank 0 chunk 1); rank 0 chunk 1 receives.
  const auto last = build_schedule(ScheduleKind::interleaved, 2, 1, 2, 2);
  EXPECT_NE(std::find(last.begin(), last.end(), PipeOp{OpKind::send_forward, 0, 0}), last.end());
  EXPECT_EQ(std::find(last.begin(), last.end(), PipeOp{OpKind::send_forward, 0, 1}), last.end());
  const auto first = build_schedule(ScheduleKind::interleaved, 2, 0, 2, 2);
  EXPECT_NE(std::find(first.begin(), first.end(), PipeOp{OpKind::recv_forward, 0, 1}), first.end());
  EXPECT_EQ(std::find(first.begin(), first.end(), PipeOp{OpKind::recv_forward, 0, 0}), first.end());
}

TEST(Schedule, UnsupportedCombinationsAreUsageErrors) {
  EXPECT_THROW(build_schedule(ScheduleKind::interleaved, 4, 0, 8, 1), UsageError);
  EXPECT_THROW(build_schedule(ScheduleKind::interleaved, 4, 0, 6, 2), UsageError);
  EXPECT_THROW(build_schedule(ScheduleKind::interleaved, 1, 0, 4, 2), UsageError);
  EXPECT_THROW(build_schedule(ScheduleKind::gpipe, 4, 0, 8, 2), UsageError);
  EXPECT_THROW(build_schedule(ScheduleKind::one_f_one_b, 4, 0, 8, 2), UsageError);
  EXPECT_THROW(build_schedule(ScheduleKind::one_f_one_b, 4, 0, 0, 1), UsageError);
  EXPECT_THROW(parse_schedule("pipedream"), UsageError);
  EXPECT_EQ(parse_schedule("1f1b"), ScheduleKind::one_f_one_b);
  try {
    build_schedule(ScheduleKind::interleaved, 4, 0, 6, 2);
  } catch (const UsageError& e) {
    EXPECT_STREQ(e.what(),
                 "--schedule interleaved with pp=4 micro-batches=6 virtual-stages=2: the interleaved "
                 "schedule needs micro-batches divisible by pp");
  }
}

// Every (schedule, pp, m, V) the builder accepts runs to completion with no deadlock, with
// the expected peak of in-flight activations per rank.
TEST(Schedule, NoAcceptedScheduleDeadlocks) {
  int accepted = 0;
  for (ScheduleKind k : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b, ScheduleKind::interleaved})
    for (int pp = 1; pp <= 8; ++pp)
      for (int m = 1; m <= 16; ++m)
        for (int v = 1; v <= 4; ++v) {
          std::vector<std::vector<PipeOp>> ops;
          try {
            ops = all_ranks(k, pp, m, v);
          } catch (const UsageError&) {
            continue;
          }
          ++accepted;
          const auto res = test::simulate(ops, pp, v, m);
          ASSERT_EQ(res.error, "") << to_string(k) << " pp=" << pp << " m=" << m << " V=" << v;
          for (int r = 0; r < pp; ++r) {
            int want = m;
            if (k == ScheduleKind::one_f_one_b)
              want = std::min(pp - r, m);
            if (k == ScheduleKind::interleaved)
              want = std::min(warmup_forwards(k, pp, r, m, v) + 1, m * v);
            ASSERT_EQ(res.peak_in_flight[r], want)
                << to_string(k) << " pp=" << pp << " m=" << m << " V=" << v;
          }
          const auto fwd = test::simulate(all_ranks(k, pp, m, v, true), pp, v, m, true);
          ASSERT_EQ(fwd.error, "") << "forward-only " << to_string(k) << " pp=" << pp << " m=" << m;
        }
  // gpipe and 1f1b: 8 * 16 each; interleaved: V in 2..4, pp in 2..8, m a multiple of pp.
  int interleaved = 0;
  for (int pp = 2; pp <= 8; ++pp)
    interleaved += 3 * (16 / pp);
  EXPECT_EQ(accepted, 2 * 8 * 16 + interleaved);
}

// The checker itself catches a deadlock and a broken data flow.
TEST(Schedule, SimulatorDetectsDeadlockAndMissingSends) {
  auto ops = all_ranks(ScheduleKind::one_f_one_b, 2, 2, 1);
  // Rank 0 waits for a gradient before sending its activation: both ranks block.
  ops[0] = {{OpKind::forward, 0, 0}, {OpKind::recv_backward, 0, 0}, {OpKind::send_forward, 0, 0}};
  EXPECT_NE(test::simulate(ops, 2, 1, 2).error.find("deadlock"), std::string::npos);
  ops = all_ranks(ScheduleKind::gpipe, 2, 2, 1);
  ops[1].erase(ops[1].begin()); // rank 1 never receives microbatch 0
  EXPECT_NE(test::simulate(ops, 2, 1, 2).error, "");
}

} // namespace
} // namespace glm3d
