// qk/version.hpp - the library version, kept equal by hand to project(qk VERSION ...) in the
// top-level CMakeLists.txt (tests/package/test_version.cpp fails the build when they differ).
#pragma once

#define QK_VERSION_MAJOR 0
#define QK_VERSION_MINOR 1
#define QK_VERSION_PATCH 0
// One comparable number: MAJOR * 10000 + MINOR * 100 + PATCH.
#define QK_VERSION (QK_VERSION_MAJOR * 10000 + QK_VERSION_MINOR * 100 + QK_VERSION_PATCH)

namespace qk {
constexpr int kVersionMajor = QK_VERSION_MAJOR;
constexpr int kVersionMinor = QK_VERSION_MINOR;
constexpr int kVersionPatch = QK_VERSION_PATCH;
constexpr const char* kVersionString = "0.1.0";
}  // namespace qk
