#!/usr/bin/env bash
# qk's blockwise int4 GEMM rows against ONNX Runtime's MatMulNBits, timed in one invocation.
#
#   bash benchmarks/ort/run.sh
#
# ONNX Runtime's C++ API is not in Debian and its C API is a versioned table of function
# pointers, so it is not linked into qk_bench_gemm; it is timed from node (the npm package
# onnxruntime-node, which bundles libonnxruntime.so) on models of the very weights qk is timed on:
#   1. installs what is missing: Debian's nodejs, npm and python3-onnx (apt-get), and
#      onnxruntime-node into $QK_ORT_DIR/npm (npm install --ignore-scripts: its CPU library is in
#      the package). Nothing here is needed by the build or the tests.
#   2. builds qk_bench_gemm (Release, into $QK_ORT_DIR/build) and qk_ort_dump (header-only);
#   3. per shape: qk_ort_dump writes bench_gemm.cpp's operands of the blockwise rows in
#      MatMulNBits' layout with qk's outputs on them, make_models.py writes the MatMulNBits models
#      (bits 4, block_size 32 and 128, accuracy_level 0 and 4, fp32 A, bias);
#   4. checks that ONNX Runtime's outputs agree with qk's (fails the script otherwise);
#   5. runs $QK_ORT_ROUNDS rounds, each qk_bench_gemm's rows gemm/qk_s4b32, gemm/qk_s4b128 and
#      gemm/qk_w4f32b32 (one repetition) then ort_bench.js (one repetition of every model), one
#      thread each, the load average noted before each round;
#   6. prints summarize.py's table (medians over the rounds; speed = ORT time / qk time).
#
# Environment: QK_ORT_DIR (work directory, default build/ort), QK_ORT_SHAPES (default: the five
# gemm benchmark shapes), QK_ORT_ROUNDS (default 5), QK_ORT_INSTALL (0: install nothing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
src=$PWD
work=${QK_ORT_DIR:-build/ort}
mkdir -p "$work"
work=$(cd "$work" && pwd)
shapes=${QK_ORT_SHAPES:-"1024x1024x1024 3136x64x576 196x256x2304 128x3072x768 1x4096x4096"}
rounds=${QK_ORT_ROUNDS:-5}
ort_version=1.30.0
py=/usr/bin/python3  # Debian's python3-onnx is installed for the system interpreter

# 1. Dependencies.
if [ "${QK_ORT_INSTALL:-1}" = 1 ]; then
  missing=()
  command -v node >/dev/null || missing+=(nodejs)
  command -v npm >/dev/null || missing+=(npm)
  "$py" -c 'import onnx, numpy' 2>/dev/null || missing+=(python3-onnx)
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  if ! grep -qs "\"version\": \"$ort_version\"" "$work/npm/node_modules/onnxruntime-node/package.json"; then
    mkdir -p "$work/npm"
    npm install --prefix "$work/npm" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ort_version"
  fi
fi
export NODE_PATH="$work/npm/node_modules"

# 2. Builds.
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DQK_BUILD_TESTS=OFF -DQK_BUILD_EXAMPLES=OFF \
  -DQK_BUILD_BENCHMARKS=ON -DQK_INSTALL=OFF >"$work/cmake.log"
cmake --build "$work/build" --target qk_bench_gemm -j"${QK_JOBS:-1}" >>"$work/cmake.log"
bench="$work/build/benchmarks/qk_bench_gemm"
if [ ! -x "$work/qk_ort_dump" ] || [ -n "$(find "$src/include" "$src/benchmarks/bench_common.hpp" \
  "$src/benchmarks/ort/qk_ort_dump.cpp" -newer "$work/qk_ort_dump" -print -quit)" ]; then
  "${CXX:-c++}" -std=c++17 -O2 -DNDEBUG -I"$src/include" -I"$src/benchmarks" "$src/benchmarks/ort/qk_ort_dump.cpp" \
    -o "$work/qk_ort_dump" -lbenchmark -lpthread
fi

# 3. Operands, qk's outputs and the models.
dirs=()
for s in $shapes; do
  d="$work/data/$s"
  mkdir -p "$d"
  read -r m n k <<<"${s//x/ }"
  "$work/qk_ort_dump" "$m" "$n" "$k" "$d" >/dev/null
  "$py" "$src/benchmarks/ort/make_models.py" "$m" "$n" "$k" "$d"
  dirs+=("$d")
done

# 4. Same results.
echo "== ONNX Runtime $ort_version against qk on the same weights (normwise = max |diff| / max |C|)"
node "$src/benchmarks/ort/ort_bench.js" check "${dirs[@]}" | tee "$work/check.jsonl"

# 5. Timing, alternating qk and ONNX Runtime.
filter="gemm/qk_(s4b32|s4b128|w4f32b32)/(${shapes// /|})/"
rm -f "$work"/qk_round*.json "$work/ort.jsonl"
echo "== $rounds rounds on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
for r in $(seq 1 "$rounds"); do
  echo "round $r: $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
  "$bench" --benchmark_filter="$filter" --benchmark_out="$work/qk_round$r.json" --benchmark_out_format=json \
    >/dev/null 2>>"$work/bench.log"
  node "$src/benchmarks/ort/ort_bench.js" time --reps 1 "${dirs[@]}" >>"$work/ort.jsonl"
done
echo "done: $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"

# 6. Table.
echo
"$py" "$src/benchmarks/ort/summarize.py" "$work"
