#!/usr/bin/env bash
# The ONNX Runtime agreement test (CTest qk_onnx_ort_agreement): qk-quantize quantizes the
# committed Fashion-MNIST CNN, evaluates it on qk and writes the QDQ model; ort_agreement.js runs
# that file in ONNX Runtime (onnxruntime-node, installed by scripts/install-deps.sh) on the same
# images and requires top-1 agreement >= 99% and logits within 4 output quantization steps.
#   ort_agreement.sh QK_QUANTIZE MODEL NODE_MODULES WORK_DIR [observer weights]...
# weights is a --weights scheme, optionally with /BLOCK and /RANGE (--block, --weight-range):
# int4-per-block/32/mse. Schemes qk does not lower (per block) dump the reference interpreter's
# logits, so ORT is compared with qk's interpreter on the same file.
# With no [observer weights] pairs it also runs one file of each scheme qk does not lower onto
# its layers (fp16 weights, int16 activations, dynamic int8): qk-quantize then dumps the
# reference interpreter's logits. Their limits: int16 outputs are quantized (4 steps, as int8);
# fp16 and dynamic outputs are float, so an absolute difference instead (measured: 9e-6 and 3e-6;
# limits 1e-4, float summation order, and 0.05, one activation rounding step flipped by a
# DynamicQuantizeLinear tie moves a logit by about x_scale * |w|, well under 0.05 here).
# Dynamic files are compared in qk-quantize's batches of 100: the range is per batch.
set -euo pipefail
tool=$1 model=$2 modules=$3 work=$4
shift 4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Skipped (exit 77, CTest's SKIP_RETURN_CODE) only where install-deps.sh recorded that npm could
# not reach the registry; anything else missing is a failure.
# (dirname, not $modules/..: node_modules does not exist when the install failed.)
unavailable="$(dirname "$modules")/UNAVAILABLE"
if [ -f "$unavailable" ] && [ ! -d "$modules/onnxruntime-node" ]; then
  echo "ort_agreement: SKIPPED: ONNX Runtime is not installed here:"
  cat "$unavailable"
  exit 77
fi
if ! command -v node >/dev/null || [ ! -d "$modules/onnxruntime-node" ]; then
  echo "ort_agreement: node or onnxruntime-node missing ($modules): run scripts/install-deps.sh"
  exit 1
fi
configs=("$@")
extras=0
[ ${#configs[@]} -gt 0 ] || { configs=(minmax per-channel entropy per-tensor minmax int4-per-channel minmax int4-per-block/32/mse); extras=1; }
for ((i = 0; i < ${#configs[@]}; i += 2)); do
  IFS=/ read -r scheme block range <<<"${configs[i+1]}"
  extra=()
  [ -z "$block" ] || extra+=(--block "$block")
  [ -z "$range" ] || extra+=(--weight-range "$range")
  dir="$work/${configs[i]}-${configs[i+1]//\//-}"
  mkdir -p "$dir"
  "$tool" "$model" --observer "${configs[i]}" --weights "$scheme" "${extra[@]}" --evaluate --quiet --test-samples 2000 \
    --output "$dir/model.onnx" --dump "$dir" | grep -E '^\| int' || true
  NODE_PATH="$modules" node "$here/ort_agreement.js" "$dir/model.onnx" "$dir" 99.0 4
done
[ $extras = 1 ] || exit 0
# name | qk-quantize options | max steps | batch | max |diff|
for spec in "fp16|--weights fp16 --activations float32|Infinity|0|1e-4" \
            "int16|--activations int16|4|0|Infinity" \
            "dynamic|--activations dynamic-int8|Infinity|100|0.05"; do
  IFS='|' read -r name opts steps batch maxabs <<<"$spec"
  dir="$work/$name"
  mkdir -p "$dir"
  # shellcheck disable=SC2086
  "$tool" "$model" $opts --evaluate --quiet --test-samples 2000 --output "$dir/model.onnx" --dump "$dir" | grep -E '^\| ' | grep -v weights || true
  NODE_PATH="$modules" node "$here/ort_agreement.js" "$dir/model.onnx" "$dir" 99.0 "$steps" "$batch" "$maxabs"
done
