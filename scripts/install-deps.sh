#!/usr/bin/env bash
# Installs everything qk's build, tests, benchmarks and peers need on Debian 12 (run as root).
# Idempotent; every package comes from Debian's own archive.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
packages=(
  build-essential cmake git clang libclang-rt-14-dev
  libxsimd-dev catch2 libbenchmark-dev libcpuinfo-dev
  libgemmlowp-dev libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler nlohmann-json3-dev
  libdnnl-dev ocl-icd-opencl-dev libxnnpack-dev libpthreadpool-dev libopenblas-dev
)
if [ "${QK_WITH_ARM:-1}" = 1 ]; then
  packages+=(g++-aarch64-linux-gnu qemu-user)
fi
# Bare-metal Cortex-M pass (scripts/test-cortex-m.sh); off with QK_WITH_ARM=0 (scripts/demo.sh).
if [ "${QK_WITH_CORTEX_M:-${QK_WITH_ARM:-1}}" = 1 ]; then
  packages+=(gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
