// Under mpirun -n 8: the executor runs GPipe, 1F1B and interleaved schedules over real MPI
// pipeline groups (pp = 2, 4, 8; the rest data parallel) with a mock stage whose activations,
// gradients, loss and parameter gradient are known in closed form.
#include "mock_stage.h"
#include "parallel/process_groups.h"
#include "pipeline/executor.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

struct Case {
  int pp;
  ScheduleKind kind;
  int m, v;
};

void run_case(const Case& c) {
  ProcessGroups g = ProcessGroups::create(MPI_COMM_WORLD, ParallelDims::make(8, 1, c.pp, 0, c.v));
  const int r = g.pp_rank();
  SCOPED_TRACE(to_string(c.kind) + " pp=" + std::to_string(c.pp) + " m=" + std::to_string(c.m) +
               " V=" + std::to_string(c.v) + " pp_rank=" + std::to_string(r));
  // Each data-parallel replica gets different inputs, so a message crossing pipelines would show.
  test::MockStage stage(c.pp, r, c.v, c.m, float(10 * g.dp_rank()));
  PipelineExecutor exec(*g.pp, c.v);
  const auto ops = build_schedule(c.kind, c.pp, r, c.m, c.v);
  for (int step = 0; step < 2; ++step) { // the second step reuses pooled buffers
    stage.loss = 0;
    stage.grad_a.assign(size_t(c.v), 0.0);
    stage.forwarded.clear();
    stage.backwarded.clear();
    g.pp->reset_bytes();
    const PipelineTimes t = exec.run(ops, stage);
    EXPECT_EQ(t.forwards, c.m * c.v);
    EXPECT_EQ(t.backwards, c.m * c.v);
    EXPECT_EQ(int(stage.backwarded.size()), c.m * c.v);
    EXPECT_GE(t.total_s, t.compute_s + t.wait_s);
    if (g.is_last_stage()) {
      EXPECT_EQ(stage.loss, stage.expected_loss());
    } else {
      EXPECT_EQ(stage.loss, 0.0);
    }
    for (int chunk = 0; chunk < c.v; ++chunk)
      EXPECT_EQ(stage.grad_a[chunk], stage.expected_grad_a(chunk)) << chunk;
    // Bytes: each chunk sends one activation forward and one gradient back per microbatch
    // (except at the ends) and receives the same; sizes 4 + mb floats.
    int64_t floats = 0;
    for (int mb = 0; mb < c.m; ++mb)
      floats += test::MockStage::size(mb);
    int transfers = 0; // isend + irecv per (microbatch, chunk), both directions
    for (int chunk = 0; chunk < c.v; ++chunk) {
      const bool first = r == 0 && chunk == 0, last = r == c.pp - 1 && chunk == c.v - 1;
      transfers += (first ? 0 : 2) + (last ? 0 : 2);
    }
    EXPECT_EQ(g.pp->bytes_moved(), uint64_t(floats) * sizeof(float) * uint64_t(transfers));
  }
}

TEST(ExecutorMpi, GpipeOnFourStages) {
  run_case({4, ScheduleKind::gpipe, 3, 1});
}
TEST(ExecutorMpi, OneFOneBOnFourStages) {
  run_case({4, ScheduleKind::one_f_one_b, 6, 1});
}
TEST(ExecutorMpi, OneFOneBFewerMicrobatchesThanStages) {
  run_case({8, ScheduleKind::one_f_one_b, 3, 1});
}
TEST(ExecutorMpi, InterleavedTwoChunksOnFourStages) {
  run_case({4, ScheduleKind::interleaved, 8, 2});
}
TEST(ExecutorMpi, InterleavedMEqualsPp) {
  run_case({4, ScheduleKind::interleaved, 4, 2});
}
// pp=2: the previous and the next stage are the same rank, so only the tags keep
// activations and gradients apart.
TEST(ExecutorMpi, InterleavedThreeChunksOnTwoStages) {
  run_case({2, ScheduleKind::interleaved, 4, 3});
}
TEST(ExecutorMpi, OneFOneBOnEightStages) {
  run_case({8, ScheduleKind::one_f_one_b, 9, 1});
}
TEST(ExecutorMpi, InterleavedOnEightStages) {
  run_case({8, ScheduleKind::interleaved, 8, 2});
}

} // namespace
} // namespace glm3d
