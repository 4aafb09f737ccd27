#!/usr/bin/env bash
# AArch64 pass: cross-builds qk's tests once (GCC, Release, warnings as errors, benchmarks and
# examples off) with cmake/toolchain-aarch64-linux-gnu.cmake, then runs the whole suite under
# qemu-aarch64 three times, one per CPU model:
#   cortex-a53   ARMv8.0: NEON only   -> the dispatcher must pick neon (dot product would SIGILL)
#   neoverse-n1  ARMv8.2: + dotprod   -> neon_dot
#   max          everything qemu has  -> neon_i8mm
# QK_EXPECT_BEST_ISA tells tests/core which ISA each model must select; within each run the GEMM
# and quantize tests force every ISA the emulated CPU has, in turn, against the reference.
#
# Needs g++-aarch64-linux-gnu and qemu-user (scripts/install-deps.sh, QK_WITH_ARM=1), and no
# arm64 packages: cpuinfo is off (the raw getauxval(AT_HWCAP/AT_HWCAP2) path is used; Debian 12's
# libcpuinfo-dev:arm64 cannot be co-installed with the amd64 one: both ship
# /usr/lib/cmake/cpuinfo/cpuinfo-targets-none.cmake with different contents), and xsimd, Catch2
# and gemmlowp are header-only, so the host's packages serve (xsimd's CMake package lives in an
# arch-specific directory, hence xsimd_DIR below). ONNX conformance tests need the arm64 protobuf
# and onnx libraries and are left out here; the native passes run them.
#
# Environment: QK_BUILD_ROOT (default build/test), QK_JOBS (default nproc),
# QK_ARM_CPUS (default "cortex-a53:neon neoverse-n1:neon_dot max:neon_i8mm").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_root=${QK_BUILD_ROOT:-build/test}
jobs=${QK_JOBS:-$(nproc)}
cpus=${QK_ARM_CPUS:-"cortex-a53:neon neoverse-n1:neon_dot max:neon_i8mm"}
dir=$build_root/arm

for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "test-arm: $tool not found (scripts/install-deps.sh with QK_WITH_ARM=1)" >&2; exit 1; }
done

xsimd_args=()
if [ ! -d /usr/lib/aarch64-linux-gnu/cmake/xsimd ]; then
  host_xsimd=$(ls -d /usr/lib/*-linux-gnu/cmake/xsimd 2>/dev/null | head -n 1 || true)
  [ -n "$host_xsimd" ] && xsimd_args=(-Dxsimd_DIR="$host_xsimd")
fi

t0=$SECONDS
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchain-aarch64-linux-gnu.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_TESTS=ON -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF \
  -DQK_USE_CPUINFO=OFF -DQK_BUILD_ONNX=OFF -DQK_QEMU_CPU= "${xsimd_args[@]}"
cmake --build "$dir" -j "$jobs"
echo "test-arm: cross build took $((SECONDS - t0)) s"

# The emulator command has no -cpu (QK_QEMU_CPU empty): qemu-aarch64 reads the model from QEMU_CPU.
summary=()
failed=0
for spec in $cpus; do
  cpu=${spec%%:*} expect=${spec#*:}
  echo
  echo "==================== qk arm: qemu-aarch64 -cpu $cpu (expect $expect) ===================="
  t=$SECONDS rc=0
  (cd "$dir" && QEMU_CPU=$cpu QK_EXPECT_BEST_ISA=$expect ctest --output-on-failure -j2) || rc=$?
  summary+=("qk arm $(printf '%-12s' "$cpu"): $([ $rc -eq 0 ] && echo PASSED || echo "FAILED ($rc)") in $((SECONDS - t)) s")
  [ $rc -eq 0 ] || failed=1
done
echo
for line in "${summary[@]}"; do echo "$line"; done
exit $failed
