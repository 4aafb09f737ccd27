#!/usr/bin/env bash
# Batch-1 latency of the committed Fashion-MNIST CNN in qk, PyTorch and ONNX Runtime, one after
# the other in one invocation (one thread each), for docs/ptq.md:
#   1. qk-quantize (minmax, int8 per channel) writes the QDQ model and times qk's int8 network,
#      then writes one file per other scheme (int4/int3 weights, int16 and dynamic activations,
#      fp16 weights), timing qk where it lowers the scheme;
#   2. ONNX Runtime (onnxruntime-node) times the fp32 model and every file qk-quantize wrote;
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
# The other schemes' files, for ONNX Runtime's column (qk's latency where it lowers them).
schemes=(
  "int4-pc-mse:--weights int4-per-channel --weight-range mse"
  "int4-block32-mse:--weights int4-per-block --block 32 --weight-range mse"
  "int3-pc-mse:--weights int3-per-channel --weight-range mse"
  "int16:--activations int16"
  "dynamic:--activations dynamic-int8"
  "fp16:--weights fp16"
)
files=("$work/int8.onnx")
for s in "${schemes[@]}"; do
  name=${s%%:*}
  # shellcheck disable=SC2086
  "$build/tools/qk-quantize" "$model" --evaluate --quiet --test-samples 1000 --output "$work/$name.onnx" ${s#*:} | grep -E '^\| [a-z]' | grep -v '^| weights' || true
  files+=("$work/$name.onnx")
done
echo "== ONNX Runtime"
NODE_PATH=build/ort-npm/node_modules node scripts/ptq/ort_latency.js "$work" "$model" "${files[@]}"
echo "== PyTorch"
/usr/bin/python3 scripts/ptq/pytorch_baselines.py --model "$model" --repeats 3 2>&1 | grep -E 'fp32|int8|latency|engine' || true
