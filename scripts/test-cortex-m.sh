#!/usr/bin/env bash
# Cortex-M pass: builds examples/cortex_m (quantize, gemm_s8, conv_s8 general and depthwise, each
# checked against a plain loop in the app) for bare-metal Arm with Debian's arm-none-eabi GCC and
# newlib, with qk's warning flags as errors and -fno-exceptions -fno-rtti, then runs it under
# qemu-system-arm with semihosting (the app's exit code is qemu's). One build and run per target:
#   cortex-m4  on mps2-an386  ARMv7E-M, single-precision FPU (hard float)
#   cortex-m55 on mps3-an547  ARMv8.1-M with MVE (Helium) and FPU (hard float)
# Both use qk's scalar kernels; QK_NO_THREADS and QK_QUANTIZE_NO_XSIMD are defined by the headers
# themselves (qk/core/config.hpp), no cpuinfo, no threads. See docs/embedded.md. The app is also
# compiled (syntax and warnings only, -fsyntax-only) by Clang for the same target, with the
# arm-none-eabi libstdc++ and newlib headers: qk's warnings are errors with both compilers.
#
# Needs gcc-arm-none-eabi, libstdc++-arm-none-eabi-newlib and qemu-system-arm
# (scripts/install-deps.sh, QK_WITH_CORTEX_M=1, the default unless QK_WITH_ARM=0).
#
# Environment: QK_BUILD_ROOT (default build/test; the pass builds in $QK_BUILD_ROOT/cortex-m),
# QK_CORTEX_M_TARGETS (default "cortex-m4:mps2-an386 cortex-m55:mps3-an547"),
# QK_CORTEX_M_RUN=0 to build only. Prints one summary line; exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_root=${QK_BUILD_ROOT:-build/test}
dir=$build_root/cortex-m
targets=${QK_CORTEX_M_TARGETS:-"cortex-m4:mps2-an386 cortex-m55:mps3-an547"}
run=${QK_CORTEX_M_RUN:-1}
app=examples/cortex_m

tools=(arm-none-eabi-g++ arm-none-eabi-gcc arm-none-eabi-size)
[ "$run" = 1 ] && tools+=(qemu-system-arm)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || {
    echo "qk cortex-m: FAILED: $tool not found (scripts/install-deps.sh with QK_WITH_CORTEX_M=1)"
    exit 1
  }
done

# qk's own warning set (cmake/QkWarnings.cmake), as errors.
warnings=(-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wold-style-cast
          -Wnon-virtual-dtor -Wundef -Werror)

t0=$SECONDS
failed=0
results=()
for spec in $targets; do
  cpu=${spec%%:*} board=${spec#*:}
  case $cpu in
    cortex-m4) arch=(-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16) ;;
    cortex-m7) arch=(-mcpu=cortex-m7 -mthumb -mfloat-abi=hard -mfpu=fpv5-d16) ;;
    *) arch=(-mcpu="$cpu" -mthumb -mfloat-abi=hard) ;;
  esac
  case $cpu in
    cortex-m4 | cortex-m7) triple=thumbv7em-none-eabihf ;;
    cortex-m55 | cortex-m85) triple=thumbv8.1m.main-none-eabihf ;;
    *) triple= ;;
  esac
  out=$dir/$cpu
  mkdir -p "$out"
  echo "==================== qk cortex-m: $cpu ($board) ===================="
  t=$SECONDS
  if ! arm-none-eabi-g++ -std=c++17 "${arch[@]}" -O2 -fno-exceptions -fno-rtti "${warnings[@]}" \
         -ffunction-sections -fdata-sections -Iinclude -c "$app/main.cpp" -o "$out/main.o" ||
     ! arm-none-eabi-gcc "${arch[@]}" -c "$app/startup.S" -o "$out/startup.o" ||
     ! arm-none-eabi-g++ "${arch[@]}" --specs=nano.specs --specs=rdimon.specs -nostartfiles \
         -Wl,--gc-sections -T "$app/cortex_m.ld" "$out/startup.o" "$out/main.o" -o "$out/app.elf"; then
    results+=("$cpu build FAILED")
    failed=1
    continue
  fi
  read -r text data bss _ < <(arm-none-eabi-size "$out/app.elf" | tail -n 1)
  echo "$cpu: built in $((SECONDS - t)) s; $out/app.elf text $text data $data bss $bss"
  if [ -n "$triple" ] && command -v clang++ >/dev/null; then
    # GCC's header directories for this multilib, minus GCC's own builtin headers (Clang has
    # its own, which must come after libstdc++'s and before newlib's).
    cxx_inc=() c_inc=()
    while read -r d; do
      d=$(realpath "$d")
      case $d in
        /usr/lib/gcc/*) ;;
        */c++/*) cxx_inc+=(-isystem "$d") ;;
        *) c_inc+=(-isystem "$d") ;;
      esac
    done < <(arm-none-eabi-g++ "${arch[@]}" -E -v -x c++ /dev/null 2>&1 |
             sed -n '/<...> search starts here/,/End of search list/p' | sed '1d;$d')
    if ! clang++ --target="$triple" "${arch[@]}" -std=c++17 -fno-exceptions -fno-rtti "${warnings[@]}" -nostdinc \
           "${cxx_inc[@]}" -isystem "$(clang++ -print-resource-dir)/include" "${c_inc[@]}" -Iinclude \
           -fsyntax-only "$app/main.cpp"; then
      results+=("$cpu clang FAILED")
      failed=1
      continue
    fi
    echo "$cpu: clang++ --target=$triple compiles it without warnings"
  fi
  if [ "$run" != 1 ]; then
    results+=("$cpu built (text $text data $data bss $bss), not run")
    continue
  fi
  t=$SECONDS rc=0
  timeout 120 qemu-system-arm -M "$board" -cpu "$cpu" -nographic -monitor none \
    -semihosting-config enable=on,target=native -kernel "$out/app.elf" >"$out/run.log" 2>&1 || rc=$?
  cat "$out/run.log"
  if [ $rc -eq 0 ] && grep -q '^RESULT: PASS' "$out/run.log"; then
    results+=("$cpu PASSED (text $text data $data bss $bss, run $((SECONDS - t)) s)")
  else
    results+=("$cpu FAILED (exit $rc)")
    failed=1
  fi
done
echo
echo "qk cortex-m: $([ $failed -eq 0 ] && echo PASSED || echo FAILED) in $((SECONDS - t0)) s: $(IFS=';'; echo "${results[*]}" | sed 's/;/; /g')"
exit $failed
