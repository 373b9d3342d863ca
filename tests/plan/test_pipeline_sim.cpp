// The event simulation against pipeline theory: with equal stages and free transfers the idle
// share of GPipe and 1F1B is (p-1)/(m+p-1); the interleaved schedule's idle time is
// (1/v)(p-1)(tf+tb) to within one op; transfers on the critical path only add time.
#include "plan/pipeline_sim.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

StageCosts equal_stages(int pp, int v, double tf, double tb, double hop = 0) {
  StageCosts c;
  c.fwd.assign(size_t(pp), std::vector<double>(size_t(v), tf / v));
  c.bwd.assign(size_t(pp), std::vector<double>(size_t(v), tb / v));
  c.hop.assign(size_t(pp * v - 1), hop);
  return c;
}

TEST(PipelineSim, GpipeAnd1f1bBubbleIsTheClosedForm) {
  for (ScheduleKind kind : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b})
    for (int pp : {2, 4, 8})
      for (int m : {1, 3, 8, 17, 64, 176}) {
        const PipelineTrace t = simulate_pipeline(kind, pp, m, 1, equal_stages(pp, 1, 1.0, 2.0));
        const double want = double(pp - 1) / double(m + pp - 1);
        EXPECT_NEAR(t.bubble_fraction(), want, 1e-12) << to_string(kind) << " pp=" << pp << " m=" << m;
        EXPECT_NEAR(t.makespan, (m + pp - 1) * 3.0, 1e-9);
        for (int r = 0; r < pp; ++r)
          EXPECT_NEAR(t.busy[size_t(r)], m * 3.0, 1e-9);
      }
}

TEST(PipelineSim, GlmBubbleWithEqualStages) {
  // GLM-130B's pipeline: p = 8, m = 176 -> 7 / 183 = 3.83%.
  const PipelineTrace t =
      simulate_pipeline(ScheduleKind::one_f_one_b, 8, 176, 1, equal_stages(8, 1, 1.0, 3.0));
  EXPECT_NEAR(100 * t.bubble_fraction(), 3.825, 0.001);
}

TEST(PipelineSim, InterleavedBubbleIsOneVthWithinOneOp) {
  const double tf = 1.0, tb = 2.0;
  for (int pp : {2, 4, 8})
    for (int v : {2, 3, 4})
      for (int m : {pp, 2 * pp, 4 * pp, 8 * pp}) {
        const PipelineTrace t =
            simulate_pipeline(ScheduleKind::interleaved, pp, m, v, equal_stages(pp, v, tf, tb));
        const double idle = t.makespan - m * (tf + tb);
        const double theory = (pp - 1) * (tf + tb) / v; // (1/v)(p-1)/m of the ideal m (tf + tb)
        EXPECT_NEAR(idle, theory, tb / v + 1e-9) << "pp=" << pp << " v=" << v << " m=" << m;
        EXPECT_LT(idle, (pp - 1) * (tf + tb)) << "interleaving must beat 1F1B's bubble";
      }
}

TEST(PipelineSim, TransfersOnTheCriticalPathAddTime) {
  const PipelineTrace free =
      simulate_pipeline(ScheduleKind::one_f_one_b, 4, 16, 1, equal_stages(4, 1, 1.0, 2.0));
  const PipelineTrace slow =
      simulate_pipeline(ScheduleKind::one_f_one_b, 4, 16, 1, equal_stages(4, 1, 1.0, 2.0, 0.1));
  EXPECT_GT(slow.makespan, free.makespan);
  // Fill and drain each cross p - 1 boundaries twice (forward down, gradient back up).
  EXPECT_GE(slow.makespan, free.makespan + 2 * 3 * 0.1 - 1e-9);
  EXPECT_EQ(slow.busy, free.busy);
}

TEST(PipelineSim, UnequalStagesTheSlowestStageSetsThePace) {
  StageCosts c = equal_stages(4, 1, 1.0, 2.0);
  c.fwd[2][0] = 2.0, c.bwd[2][0] = 4.0; // one stage twice as slow
  const int m = 32;
  const PipelineTrace t = simulate_pipeline(ScheduleKind::one_f_one_b, 4, m, 1, c);
  EXPECT_EQ(t.busiest_rank(), 2);
  // Its m forwards and backwards, after the first forwards of stages 0 and 1, before their last backwards.
  EXPECT_GE(t.makespan, m * 6.0 + 2 * 1.0 + 2 * 2.0 - 1e-9);
  EXPECT_LE(t.makespan, (m + 3) * 6.0 + 1e-9); // never worse than all stages that slow
}

TEST(PipelineSim, TraceChartShowsEveryRank) {
  const PipelineTrace t = simulate_pipeline(ScheduleKind::one_f_one_b, 2, 4, 1, equal_stages(2, 1, 1.0, 2.0));
  const std::string chart = trace_chart(t, 30);
  EXPECT_NE(chart.find("rank 0"), std::string::npos);
  EXPECT_NE(chart.find("rank 1"), std::string::npos);
  EXPECT_NE(chart.find('F'), std::string::npos);
  EXPECT_NE(chart.find('B'), std::string::npos);
  EXPECT_NE(chart.find('.'), std::string::npos); // rank 1 waits for its first input
}

} // namespace
} // namespace glm3d
