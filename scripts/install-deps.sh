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
  zlib1g-dev dataset-fashion-mnist
)
# node and npm run ONNX Runtime (onnxruntime-node) in the ORT agreement test. A machine may have
# them from elsewhere (NodeSource's nodejs bundles npm, and conflicts with Debian's npm): only
# what is missing comes from Debian.
# QK_WITH_ORT=0 (scripts/demo.sh) skips them.
if [ "${QK_WITH_ORT:-1}" = 1 ]; then
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
fi
# matplotlib draws docs/ptq.md's accuracy plot (scripts/ptq.sh sets QK_WITH_PLOT=1).
if [ "${QK_WITH_PLOT:-0}" = 1 ]; then
  packages+=(python3-matplotlib)
fi
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

# ONNX Runtime for node, into build/ort-npm (the CPU library is bundled in the package; its
# install script only fetches GPU libraries, hence --ignore-scripts). The tests find it there
# (QK_ORT_NODE_MODULES in tests/CMakeLists.txt).
ort_version=1.30.0
ort_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/build/ort-npm"
# A machine whose npm cannot reach the registry (seen: a bare debootstrap root behind an egress
# proxy whose CA only the real machine trusts) gets build/ort-npm/UNAVAILABLE with npm's error
# instead of a failed set-up: the ORT agreement test then reports itself skipped, with that
# reason, rather than failing every pass for a download. Where npm works, it must install.
if [ "${QK_WITH_ORT:-1}" = 1 ] &&
   ! grep -qs "\"version\": \"$ort_version\"" "$ort_dir/node_modules/onnxruntime-node/package.json"; then
  mkdir -p "$ort_dir"
  rm -f "$ort_dir/UNAVAILABLE"
  if ! npm install --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
         "onnxruntime-node@$ort_version" >"$ort_dir/npm.log" 2>&1; then
    cat "$ort_dir/npm.log"
    { echo "npm install onnxruntime-node@$ort_version failed on $(date -u '+%F %T UTC'):"; grep -m3 'ERR!' "$ort_dir/npm.log" || true; } \
      >"$ort_dir/UNAVAILABLE"
    echo "install-deps: WARNING: onnxruntime-node could not be installed; the ORT agreement test will be skipped (see $ort_dir/UNAVAILABLE)"
  fi
fi
