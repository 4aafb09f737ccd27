# Cross compilation for 64-bit ARM Linux with Debian's cross toolchain (g++-aarch64-linux-gnu),
# tests run through qemu-user:
#
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64-linux-gnu.cmake \
#         -DQK_QEMU_CPU=neoverse-n1
#   cmake --build build-arm && (cd build-arm && ctest)
#
# Libraries: Debian multiarch installs arm64 -dev packages (after `dpkg --add-architecture arm64`)
# into /usr/lib/aarch64-linux-gnu, with headers shared in /usr/include. CMake's search already
# prefers lib/<CMAKE_LIBRARY_ARCHITECTURE>, which is aarch64-linux-gnu here, and never looks in
# /usr/lib/x86_64-linux-gnu, so host (amd64) libraries cannot be linked by mistake; header-only
# packages (catch2, libxsimd-dev, libgemmlowp-dev) are found in /usr/include and /usr/share or
# /usr/lib/cmake as on the host. The cross toolchain's own root (/usr/aarch64-linux-gnu: libc,
# libstdc++) is searched first. Programs (protoc, ...) are always the host's.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)

# Every test (add_test and catch_discover_tests alike) runs through qemu-aarch64. The CPU model
# decides which ISA extensions the program sees: cortex-a53 (ARMv8.0: NEON only), neoverse-n1
# (ARMv8.2: + dot product), max (everything qemu implements: + i8mm); `qemu-aarch64 -cpu help`
# lists the models. QK_QEMU_CPU empty leaves -cpu off the command line, so that qemu takes the
# model from the QEMU_CPU environment variable at run time (default: max): scripts/test-arm.sh
# runs one build on several models that way. (A model baked into the command line cannot be
# changed by re-configuring alone: catch_discover_tests writes the command into its test lists
# when the test program is built.)
set(QK_QEMU_CPU "max" CACHE STRING "qemu-aarch64 -cpu model the tests run on (empty: $QEMU_CPU)")
find_program(QK_QEMU_AARCH64 qemu-aarch64)
if(QK_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${QK_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
  if(QK_QEMU_CPU)
    list(APPEND CMAKE_CROSSCOMPILING_EMULATOR -cpu ${QK_QEMU_CPU})
  endif()
endif()
