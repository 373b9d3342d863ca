// A checkpoint file (HDF5) through `glm3d ckpt inspect` and `glm3d ckpt verify`, the commands
// themselves (cmd_ckpt): read_checkpoint_meta, the config, every tensor's shape and checksum
// attribute, then the collective read_checkpoint_file (MPI-IO, MPI_COMM_SELF) with the checksums
// and the NaN/Inf scan. MPI is started once, as a singleton, in LLVMFuzzerInitialize.
#include "fuzz_support.h"
#include "launch/commands.h"

#include <mpi.h>

#include <cstdlib>

// LeakSanitizer's interface, when linked in (sanitized builds).
extern "C" __attribute__((weak)) void __lsan_disable();
extern "C" __attribute__((weak)) void __lsan_enable();

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  // Open MPI installs handlers for SIGABRT, SIGBUS, SIGFPE and SIGSEGV (MCA opal_signal), and
  // libFuzzer keeps a handler it finds in place: a finding's abort() would then print Open MPI's
  // backtrace and write no input. None, please.
  setenv("OMPI_MCA_opal_signal", "", 0);
  // Open MPI 4.1.4 leaks in MPI_Init (tests/CMakeLists.txt): not counted; every input still is.
  if (__lsan_disable)
    __lsan_disable();
  int provided = 0;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  if (__lsan_enable)
    __lsan_enable();
  std::atexit([] { MPI_Finalize(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace glm3d;
  const std::string path = fuzz::write_file("ckpt.h5", fuzz::bytes_of(data, size));
  RunContext ctx;
  ctx.command = "ckpt";
  fuzz::expect_usage_error_only([&] { cmd_ckpt({"inspect", path}, ctx); });
  fuzz::expect_usage_error_only([&] { cmd_ckpt({"verify", path}, ctx); });
  return 0;
}
