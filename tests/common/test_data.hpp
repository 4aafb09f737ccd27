// External conformance data (TFLite vectors, ONNX node tests) is read where it lies. A folder
// that does not exist is skipped with a warning on a user's machine; under CI (the environment
// variable CI set, as CI services do) it is a failure: CI installs every data set, and a test
// that passes because its data vanished checks nothing.
#pragma once

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <sys/stat.h>

namespace qk_test {

inline bool directory_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

inline bool running_under_ci() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

// True (after a WARN) if `dir` is absent and the caller should skip; FAILs instead under CI.
inline bool skip_missing_data(const std::string& dir, const char* what) {
  if (directory_exists(dir)) return false;
  if (running_under_ci()) FAIL("CI is set but " << what << " (" << dir << ") does not exist");
  WARN("SKIPPED: " << what << " not found at " << dir);
  return true;
}

}  // namespace qk_test
