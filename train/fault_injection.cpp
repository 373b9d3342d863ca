#include "train/fault_injection.h"

#include "core/check.h"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

namespace glm3d {

void FaultPlan::before_step(int64_t step, int my_rank) const {
  if (kind == Kind::none || kind == Kind::nan || kind == Kind::diverge || my_rank != rank ||
      !steps.contains(step))
    return;
  switch (kind) {
  case Kind::throw_error:
    throw Error("injected fault on rank " + std::to_string(rank) + " at step " + std::to_string(step));
  case Kind::hang:
    for (;;)
      std::this_thread::sleep_for(std::chrono::hours(1));
  case Kind::kill:
    std::fflush(nullptr);
    std::raise(SIGKILL);
    break;
  default:
    break;
  }
}

FaultPlan parse_fault_plan(const std::string& spec) {
  FaultPlan p;
  if (spec.empty())
    return p;
  const auto at = spec.find('@');
  GLM3D_USAGE_CHECK(at != std::string::npos)
      << "--inject-fault expects KIND@STEPS[:RANK], got '" << spec << "'";
  const std::string kind = spec.substr(0, at);
  std::string rest = spec.substr(at + 1);
  if (kind == "nan")
    p.kind = FaultPlan::Kind::nan;
  else if (kind == "throw")
    p.kind = FaultPlan::Kind::throw_error;
  else if (kind == "hang")
    p.kind = FaultPlan::Kind::hang;
  else if (kind == "kill")
    p.kind = FaultPlan::Kind::kill;
  else if (kind == "diverge")
    p.kind = FaultPlan::Kind::diverge;
  else
    GLM3D_USAGE_FAIL() << "--inject-fault: unknown kind '" << kind << "' (nan, throw, hang, kill, diverge)";
  const auto colon = rest.find(':');
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      p.rank = std::stoi(rest.substr(colon + 1), &used);
      GLM3D_USAGE_CHECK(used == rest.size() - colon - 1 && p.rank >= 0) << "";
    } catch (const std::exception&) {
      GLM3D_USAGE_FAIL() << "--inject-fault: bad rank in '" << spec << "'";
    }
    rest = rest.substr(0, colon);
  }
  p.steps = parse_iter_ranges(rest, "--inject-fault");
  return p;
}

} // namespace glm3d
