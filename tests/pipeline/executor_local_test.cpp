// The executor on one process (pp = 1, LocalCommunicator): the whole model is one stage.
#include "mock_stage.h"
#include "parallel/process_groups.h"
#include "pipeline/executor.h"

#include <gtest/gtest.h>

namespace glm3d {
namespace {

TEST(ExecutorLocal, SingleStageRunsEveryMicrobatch) {
  for (ScheduleKind k : {ScheduleKind::gpipe, ScheduleKind::one_f_one_b}) {
    ProcessGroups g = ProcessGroups::local();
    test::MockStage stage(1, 0, 1, 3, 0.0f);
    PipelineExecutor exec(*g.pp, 1);
    const PipelineTimes t = exec.run(build_schedule(k, 1, 0, 3, 1), stage);
    EXPECT_EQ(t.forwards, 3);
    EXPECT_EQ(t.backwards, 3);
    // loss = a_0 * sum of x over 3 microbatches of sizes 4, 5, 6; x = mb + 1 + i.
    EXPECT_EQ(stage.loss, 2.0 * ((1 + 2 + 3 + 4) + (2 + 3 + 4 + 5 + 6) + (3 + 4 + 5 + 6 + 7 + 8)));
    EXPECT_EQ(stage.grad_a[0], 10.0 + 20.0 + 33.0);
    EXPECT_EQ(g.pp->bytes_moved(), 0u);
  }
}

} // namespace
} // namespace glm3d
