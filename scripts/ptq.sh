#!/usr/bin/env bash
# Set-up command 3 of the README: on a fresh Debian 12, as root, installs qk's dependencies,
# builds qk-quantize and qk-run-qdq (tools/, on the ONNX front end) and quantizes the committed
# Fashion-MNIST CNN (models/fashion_cnn) with every scheme and observer, printing the table of
# docs/ptq.md (test accuracy against fp32, bits per weight, model size, qk's batch-1 latency),
# then runs the committed quantization-aware fine-tuned models through qk and draws the plot of
# accuracy against bits per weight (build/ptq/ptq_accuracy.png). About 20 minutes on 2 cores.
#   bash scripts/ptq.sh [qk-quantize options, e.g. --test-samples 2000]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
QK_WITH_ARM=0 QK_WITH_ORT=0 QK_WITH_PLOT=1 bash scripts/install-deps.sh
build=${QK_BUILD_DIR:-build/ptq}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build" --target qk-quantize qk-run-qdq -j "$(nproc)"
echo
"$build/tools/qk-quantize" models/fashion_cnn/fashion_cnn.onnx --table --csv "$build/table.csv" "$@"
# The QAT models (scripts/ptq/qat_finetune.py; models/fashion_cnn/README.md), through qk's
# network with single rounding, the rounding of the simulation they were fine-tuned with.
echo
echo "quantization-aware fine-tuned models (2 epochs, per-channel weights, int8 activations), qk's network:"
qat_csv=$build/qat.csv
echo "weights,accuracy" >"$qat_csv"
for bits in 8 4 3; do
  acc=$("$build/tools/qk-run-qdq" "models/fashion_cnn/qat_int$bits.onnx" --rounding single | sed -n 's/^qk int8 accuracy: \([0-9.]*\)%.*/\1/p')
  echo "  int$bits weights: $acc%"
  echo "int$bits-per-channel,$acc" >>"$qat_csv"
done
/usr/bin/python3 scripts/ptq/plot_accuracy.py "$build/table.csv" --qat "$qat_csv" --output "$build/ptq_accuracy.png"
