#!/usr/bin/env bash
# Set-up command 1 of the README: on a fresh Debian 12, as root, installs qk's dependencies,
# builds the demo (examples/demo.cpp) in build/demo and runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

QK_WITH_ARM=0 QK_WITH_ORT=0 bash scripts/install-deps.sh   # the demo needs no cross toolchain, no node

build=${QK_BUILD_DIR:-build/demo}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=ON
cmake --build "$build" --target qk_demo -j "$(nproc)"
echo
"$build/examples/qk_demo"
