#pragma once
// StopSignals: while alive, SIGTERM and SIGUSR1 (how Slurm warns before a time limit or a
// preemption; mpirun forwards SIGUSR1 to every rank) only set a flag. The trainer all-reduces
// the flag once per step, so every rank finishes the same step, saves and exits 0 together.
namespace glm3d {

class StopSignals {
public:
  StopSignals();  // installs the handlers
  ~StopSignals(); // restores the previous ones
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  bool requested() const;    // a signal arrived on this rank
  int signal_number() const; // which one (0: none)
};

} // namespace glm3d
