#pragma once
// Helpers for bad-input tests: the message of the UsageError a call throws, files in the
// test's temporary directory, and messages that must start with "FILE:".
#include "core/check.h"

#include <fstream>
#include <functional>
#include <gtest/gtest.h>
#include <string>

namespace glm3d::test {

inline std::string usage_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "(no UsageError)";
}

inline std::string write_temp_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  return path;
}

// fn's UsageError message after "PATH:" (what follows is "LINE: ..."); a test failure unless
// the message starts with "PATH:".
inline std::string error_at(const std::string& path, const std::function<void()>& fn) {
  const std::string e = usage_error_of(fn);
  EXPECT_EQ(e.rfind(path + ":", 0), 0u) << e;
  return e.substr(std::min(e.size(), path.size() + 1));
}

} // namespace glm3d::test
