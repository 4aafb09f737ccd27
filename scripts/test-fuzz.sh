#!/usr/bin/env bash
# Builds qk's libFuzzer targets (tests/fuzz, Clang, ASan + UBSan, every UB report fatal) and runs
# each for QK_FUZZ_SECONDS (default 60) on a copy of its seed corpus, two at a time.
# Prints one line per target; exits non-zero if a target crashed (or the build failed).
#
#   QK_FUZZ_SECONDS   seconds per target (default 60)
#   QK_FUZZ_JOBS      targets run at once (default 2)
#   QK_FUZZ_TARGETS   space-separated subset of targets (default: all)
#   QK_FUZZ_BUILD     build directory (default build/fuzz)
#   QK_JOBS           build parallelism (default 2)
#
# Crash inputs and logs are kept in $QK_FUZZ_BUILD/runs/<target>/ (crash-*, log.txt); reproduce
# with $QK_FUZZ_BUILD/tests/fuzz/<target> <crash file>.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${QK_FUZZ_BUILD:-$root/build/fuzz}"
seconds="${QK_FUZZ_SECONDS:-60}"
jobs="${QK_FUZZ_JOBS:-2}"
all_targets="fuzz_gemm fuzz_conv fuzz_quantize fuzz_requant fuzz_gemm_s8_diff fuzz_conv_s8_diff fuzz_layers fuzz_gemm_q4 fuzz_onnx_load"
targets="${QK_FUZZ_TARGETS:-$all_targets}"

if ! command -v clang++ >/dev/null; then
  echo "fuzz: FAIL (clang++ not found; scripts/install-deps.sh installs clang and libclang-rt-14-dev)"
  exit 1
fi
start=$(date +%s)
mkdir -p "$build"
if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE= -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_COMPILER=clang++ \
       -DQK_BUILD_FUZZERS=ON -DQK_BUILD_TESTS=OFF -DQK_BUILD_BENCHMARKS=OFF -DQK_BUILD_EXAMPLES=OFF \
       -DQK_INSTALL=OFF >"$build/configure.log" 2>&1; then
  echo "fuzz: FAIL (configure, see $build/configure.log)"
  exit 1
fi
# shellcheck disable=SC2086
if ! cmake --build "$build" -j "${QK_JOBS:-2}" --target $targets >"$build/build.log" 2>&1; then
  echo "fuzz: FAIL (build, see $build/build.log)"
  exit 1
fi
echo "fuzz: built in $(($(date +%s) - start)) s"

# One target: fresh copy of its seed corpus, then libFuzzer for $seconds. Writes a result line.
run_one() {
  local t="$1" dir="$build/runs/$1"
  rm -rf "$dir"
  mkdir -p "$dir/corpus"
  if [ -d "$root/tests/fuzz/corpus/$t" ]; then cp "$root/tests/fuzz/corpus/$t"/* "$dir/corpus/" 2>/dev/null; fi
  local t0 rc
  t0=$(date +%s)
  (cd "$dir" && ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}" \
     UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
     "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
       -print_final_stats=1 corpus >log.txt 2>&1)
  rc=$?
  local execs units
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log.txt" | grep -o '[0-9]*$' | tail -1)
  units=$(ls "$dir/corpus" | wc -l)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t ok ($((${execs:-0})) runs, corpus $units, $(($(date +%s) - t0)) s)" >"$dir/result"
  else
    local what
    what=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|qk fuzz check failed|.*runtime error)' "$dir/log.txt" | cut -c1-160)
    echo "fuzz: $t FAIL (exit $rc: ${what:-see log}; $dir/log.txt, $(ls "$dir"/crash-* "$dir"/timeout-* "$dir"/oom-* 2>/dev/null | head -1))" >"$dir/result"
  fi
}

failed=0
running=0
for t in $targets; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait
for t in $targets; do
  r="$build/runs/$t/result"
  if [ -f "$r" ]; then cat "$r"; else echo "fuzz: $t FAIL (no result)"; failed=1; fi
  grep -q ' FAIL ' "$r" 2>/dev/null && failed=1
done
echo "fuzz: total $(($(date +%s) - start)) s"
exit $failed
