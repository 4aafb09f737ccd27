#!/usr/bin/env bash
# Batch-1 latency of the committed Fashion-MNIST CNN in qk, PyTorch and ONNX Runtime, one after
# the other in one invocation (one thread each), for docs/ptq.md:
#   1. qk-quantize (minmax, int8 per channel) writes the QDQ model and times qk's int8 network;
#   2. ONNX Runtime (onnxruntime-node) times the fp32 model and that same QDQ model;
#   3. PyTorch 1.13 (Debian's python3-torch) times fp32 eager and its own int8 static PTQ.
# Needs scripts/install-deps.sh (node, onnxruntime-node, the dataset) and python3-torch:
#   bash scripts/ptq/compare_latency.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
build=${1:-build/ptq}
work=$build/latency
mkdir -p "$work"
if [ ! -x "$build/tools/qk-quantize" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
  cmake --build "$build" --target qk-quantize -j "$(nproc)" >/dev/null
fi
model=models/fashion_cnn/fashion_cnn.onnx
echo "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== qk"
"$build/tools/qk-quantize" "$model" --evaluate --quiet --output "$work/int8.onnx" --dump "$work" | grep -E '^\|'
echo "== ONNX Runtime"
NODE_PATH=build/ort-npm/node_modules node scripts/ptq/ort_latency.js "$work" "$model" "$work/int8.onnx"
echo "== PyTorch"
/usr/bin/python3 scripts/ptq/pytorch_baselines.py --model "$model" --repeats 3 2>&1 | grep -E 'fp32|int8|latency|engine' || true
