// qk/core/config.hpp - configuration macros qk derives from the platform (or takes from the user).
//
// QK_NO_THREADS        qk::ThreadPool is left out (and <thread>, <mutex>, <condition_variable>
//                      are not included). Executor and SerialExecutor remain; the operators never
//                      need threads (a null executor runs serially). Defined automatically when
//                      the standard library has no threads: a freestanding implementation
//                      (__STDC_HOSTED__ == 0), libstdc++ configured without gthreads (e.g.
//                      Debian's arm-none-eabi newlib build), libc++ configured without threads.
//                      Define it yourself to drop ThreadPool anywhere else.
// QK_QUANTIZE_NO_XSIMD quantize/dequantize use their scalar loops only and <xsimd/xsimd.hpp> is
//                      not included. Defined automatically for 32-bit Arm cores without NEON
//                      (Cortex-M, MVE included: xsimd has no kernels for them anyway), so that a
//                      bare-metal build needs no xsimd headers.
//
// Bare-metal Cortex-M builds need nothing else: without QK_HAVE_CPUINFO no cpuinfo header is
// included, CPU feature detection reports nothing (scalar kernels only, the only ones compiled
// for such a target) and QK_ISA is read with std::getenv, which newlib answers with null.
// See docs/embedded.md.
#pragma once

#include <cstddef>  // the standard library's configuration macros (_GLIBCXX_*, _LIBCPP_*)

#if !defined(QK_NO_THREADS)
#if (defined(__STDC_HOSTED__) && __STDC_HOSTED__ == 0) ||                                   \
    (defined(__GLIBCXX__) && !defined(_GLIBCXX_HAS_GTHREADS)) ||                             \
    (defined(_LIBCPP_VERSION) && (defined(_LIBCPP_HAS_NO_THREADS) ||                         \
                                  (defined(_LIBCPP_HAS_THREADS) && _LIBCPP_HAS_THREADS == 0)))
#define QK_NO_THREADS 1
#endif
#endif

#if !defined(QK_QUANTIZE_NO_XSIMD) && defined(__arm__) && !defined(__aarch64__) && !defined(__ARM_NEON)
#define QK_QUANTIZE_NO_XSIMD 1
#endif
