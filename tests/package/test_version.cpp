// qk/version.hpp is written by hand; this keeps it equal to project(qk VERSION ...).
#include <catch2/catch.hpp>
#include <cstring>

#include "qk/qk.hpp"

static_assert(QK_VERSION_MAJOR == QK_CMAKE_VERSION_MAJOR, "qk/version.hpp: major differs from CMakeLists.txt");
static_assert(QK_VERSION_MINOR == QK_CMAKE_VERSION_MINOR, "qk/version.hpp: minor differs from CMakeLists.txt");
static_assert(QK_VERSION_PATCH == QK_CMAKE_VERSION_PATCH, "qk/version.hpp: patch differs from CMakeLists.txt");

TEST_CASE("qk/version.hpp matches the CMake project version") {
  CHECK(std::strcmp(qk::kVersionString, QK_CMAKE_VERSION_STRING) == 0);
  CHECK(qk::kVersionMajor == QK_CMAKE_VERSION_MAJOR);
  CHECK(qk::kVersionMinor == QK_CMAKE_VERSION_MINOR);
  CHECK(qk::kVersionPatch == QK_CMAKE_VERSION_PATCH);
  CHECK(QK_VERSION == QK_CMAKE_VERSION_MAJOR * 10000 + QK_CMAKE_VERSION_MINOR * 100 + QK_CMAKE_VERSION_PATCH);
}
