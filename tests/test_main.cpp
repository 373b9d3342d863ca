// One main() for every gtest binary: initialises MPI when the binary runs under
// mpirun (MPI tests) and is harmless for single-process tests.
#include <cstdlib>
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  // Under mpirun/srun the launcher sets these; a plain run skips MPI entirely so
  // test discovery and single-process tests never start an MPI singleton.
  const bool under_mpi = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK");
  ::testing::InitGoogleTest(&argc, argv);
  if (!under_mpi)
    return RUN_ALL_TESTS();
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    // Only rank 0 prints the gtest report; failures on other ranks still set the exit code.
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int rc = RUN_ALL_TESTS();
  int any = 0;
  MPI_Allreduce(&rc, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return any;
}
