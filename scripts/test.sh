#!/usr/bin/env bash
# Set-up command 2 of the README (and what CI runs, via .ci/run): on a fresh Debian 12, as root,
# installs qk's dependencies, then builds and runs every test in three passes:
#   gcc    GCC, Release, everything (tests, examples, and the benchmarks, built only to prove
#          they compile; they are not run here);
#   clang  Clang, Release, tests and examples;
#   asan   Clang, RelWithDebInfo, -DQK_SANITIZE=ON (AddressSanitizer + UndefinedBehaviorSanitizer,
#          any report is fatal), tests and examples.
# Warnings are errors in every pass (cmake/QkWarnings.cmake). Every pass runs even if an
# earlier one failed; a summary line per pass is printed at the end and the exit status is
# non-zero if any pass failed.
#
#   arm    cross GCC for AArch64, the suite under qemu-aarch64 on three CPU models (test-arm.sh);
#   cortex-m  bare-metal arm-none-eabi build of examples/cortex_m, run under qemu-system-arm
#          (test-cortex-m.sh);
#   fuzz   the libFuzzer targets of tests/fuzz, each for QK_FUZZ_SECONDS (test-fuzz.sh).
# Every test links qk::qk_compiled (each pass compiles the kernels once, src/qk_compiled.cpp);
# one test is built header-only with -march=native. docs/build.md has the passes' times.
#
# Environment: QK_BUILD_ROOT (default build/test), QK_JOBS (build parallelism, default nproc),
# QK_TEST_PASSES (space-separated subset of "gcc clang asan arm cortex-m fuzz", default all),
# QK_EXPECT_BEST_ISA (default: what /proc/cpuinfo says the x86 dispatcher must pick).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh

build_root=${QK_BUILD_ROOT:-build/test}
jobs=${QK_JOBS:-$(nproc)}
passes=${QK_TEST_PASSES:-gcc clang asan arm cortex-m fuzz}
summary=()
failed=0
t_all=$SECONDS

# run_pass NAME COMMAND...: runs COMMAND with errexit on (in a subshell, not in a condition
# context, where bash would silently ignore errexit) and records the outcome.
run_pass() {
  local name=$1
  shift
  local t0=$SECONDS rc=0
  echo
  echo "==================== qk test pass: $name ===================="
  set +e
  (set -e; "$@")
  rc=$?
  set -e
  local secs=$((SECONDS - t0))
  if [ "$rc" -eq 0 ]; then
    summary+=("qk test pass $(printf '%-6s' "$name"): PASSED in ${secs} s")
  else
    summary+=("qk test pass $(printf '%-6s' "$name"): FAILED (exit $rc) after ${secs} s")
    failed=1
  fi
}

# cmake_pass DIR CXX BUILD_TYPE [CMAKE ARGS...]: configure, build everything, run ctest.
cmake_pass() {
  local dir=$build_root/$1 cxx=$2 type=$3
  shift 3
  cmake -S . -B "$dir" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE="$type" \
    -DQK_BUILD_TESTS=ON -DQK_BUILD_EXAMPLES=ON "$@"
  cmake --build "$dir" -j "$jobs"
  (cd "$dir" && ctest --output-on-failure -j2)
}

want() { [[ " $passes " == *" $1 "* ]]; }

# The ISA the native passes' dispatcher must pick (tests/core/test_isa.cpp checks it, and fails
# under CI when it is not set), read from the kernel's CPU flags independently of qk's own
# detection, with the same rules as qk/core/cpu_features.hpp.
expected_x86_isa() {
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
  has() { local f; for f in "$@"; do [[ "$flags" == *" $f "* ]] || return 1; done; }
  if ! has avx2 fma; then echo scalar
  elif has avx512f avx512dq avx512bw avx512vl avx512_vnni; then echo avx512vnni
  elif has avx_vnni; then echo avxvnni
  elif has avx512f avx512dq avx512bw avx512vl; then echo avx512bw
  else echo avx2
  fi
}
if [ -z "${QK_EXPECT_BEST_ISA:-}" ] && [ "$(uname -m)" = x86_64 ]; then
  QK_EXPECT_BEST_ISA=$(expected_x86_isa)
  export QK_EXPECT_BEST_ISA
  echo "qk test: native passes expect the dispatcher to pick $QK_EXPECT_BEST_ISA (/proc/cpuinfo)"
fi

if want gcc; then
  run_pass gcc cmake_pass gcc g++ Release -DQK_BUILD_BENCHMARKS=ON
fi
if want clang; then
  run_pass clang cmake_pass clang clang++ Release -DQK_BUILD_BENCHMARKS=OFF
fi
if want asan; then
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  run_pass asan cmake_pass asan clang++ RelWithDebInfo -DQK_SANITIZE=ON -DQK_BUILD_BENCHMARKS=OFF
fi

# ---- HOOK: aarch64 pass ---------------------------------------------------------------------
# scripts/test-arm.sh (cross build + qemu-aarch64 run) is maintained separately; it runs here as
# its own pass as soon as the file exists. It gets the same build root and job count.
if want arm && [ -f scripts/test-arm.sh ]; then
  run_pass arm env QK_BUILD_ROOT="$build_root" QK_JOBS="$jobs" bash scripts/test-arm.sh
fi
# ---- end of hook ----------------------------------------------------------------------------
if want cortex-m; then
  run_pass cortex-m env QK_BUILD_ROOT="$build_root" bash scripts/test-cortex-m.sh
fi
if want fuzz; then
  fuzz_build=$build_root/fuzz
  [[ "$fuzz_build" == /* ]] || fuzz_build=$PWD/$fuzz_build
  run_pass fuzz env QK_FUZZ_BUILD="$fuzz_build" QK_JOBS="$jobs" bash scripts/test-fuzz.sh
fi

echo
echo "==================== qk test summary ===================="
for line in "${summary[@]}"; do echo "$line"; done
echo "qk test: $([ "$failed" -eq 0 ] && echo ALL PASSED || echo FAILURES) in $((SECONDS - t_all)) s"
exit "$failed"
