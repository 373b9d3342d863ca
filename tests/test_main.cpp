// One main() for every gtest binary: initialises MPI when the binary runs under
// mpirun (MPI tests) and is harmless for single-process tests.
//
// An MPI test binary is registered with `--glm3d-world-size=NP` (tests/CMakeLists.txt,
// glm3d_mpi_gtest): it fails at once, on every rank, unless MPI's world has exactly NP ranks,
// so a test registered for 8 ranks can never pass by running on fewer.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <gtest/gtest.h>
#include <mpi.h>

namespace {

// The value of --glm3d-world-size=N (removed from argv), or 0 when absent.
int take_world_size_flag(int& argc, char** argv) {
  const char* flag = "--glm3d-world-size=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], flag, std::strlen(flag)) != 0)
      continue;
    const int n = std::atoi(argv[i] + std::strlen(flag));
    for (int j = i; j + 1 < argc; ++j)
      argv[j] = argv[j + 1];
    --argc;
    return n > 0 ? n : -1;
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  // Under mpirun/srun the launcher sets these; a plain run skips MPI entirely so
  // test discovery and single-process tests never start an MPI singleton.
  const bool under_mpi = std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK");
  ::testing::InitGoogleTest(&argc, argv);
  const int want_world = take_world_size_flag(argc, argv);
  if (want_world != 0 && !under_mpi) {
    std::fprintf(stderr, "%s: an MPI test for %d ranks: run it under mpirun -n %d\n", argv[0], want_world,
                 want_world);
    return 1;
  }
  if (!under_mpi)
    return RUN_ALL_TESTS();
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0, world = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  if (want_world != 0 && world != want_world) {
    if (rank == 0)
      std::fprintf(stderr, "%s: registered for %d MPI ranks (--glm3d-world-size), runs on %d\n", argv[0],
                   want_world, world);
    MPI_Finalize();
    return 1;
  }
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
