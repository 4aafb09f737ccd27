#!/usr/bin/env bash
# Set-up command 3 of the README: on a fresh Debian 12, as root, installs qk's dependencies,
# builds qk-quantize (tools/, on the ONNX front end) and quantizes the committed Fashion-MNIST
# CNN (models/fashion_cnn) with every observer and weight scheme, printing the table of
# docs/ptq.md: test accuracy against fp32, model size, qk's batch-1 latency. About 3 minutes.
#   bash scripts/ptq.sh [qk-quantize options, e.g. --test-samples 2000]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QK_WITH_ARM=0 QK_WITH_ORT=0 bash scripts/install-deps.sh
build=${QK_BUILD_DIR:-build/ptq}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target qk-quantize -j "$(nproc)"
echo
"$build/tools/qk-quantize" models/fashion_cnn/fashion_cnn.onnx --table "$@"
