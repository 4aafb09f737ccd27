// qk/core/isa.hpp - instruction-set selection: which kernel family runs.
//
// Every packed-weight object remembers the ISA it was packed for (layouts differ per ISA), so the
// choice is made once, when weights are packed, from active_isa():
//   1. force_isa(x) if called (tests and benchmarks sweep every ISA this way);
//   2. else the environment variable QK_ISA (e.g. QK_ISA=avx2), read once;
//   3. else the best ISA the CPU supports.
// A forced ISA the CPU cannot run is refused with StatusCode::unsupported, never executed.
#pragma once

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "qk/core/cpu_features.hpp"
#include "qk/core/status.hpp"

// Kernel families compiled into this build. x86 kernels need GCC/Clang target attributes;
// AArch64 kernels need an AArch64 GCC/Clang. Anything else gets the portable scalar kernels.
#if defined(QK_ARCH_X86) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(QK_DISABLE_SIMD)
#define QK_HAVE_X86_KERNELS 1
#endif
// Little-endian only: the AArch64 families store byte lanes through 32-bit lanes
// (kernels/arm/gemm_s8_arm.hpp) and have no big-endian tables, so on big-endian AArch64
// (__AARCH64EB__) the NEON ISAs are not supported and best_isa() is scalar.
#if defined(QK_ARCH_ARM64) && (defined(__GNUC__) || defined(__clang__)) && !defined(QK_DISABLE_SIMD) && \
    !defined(__AARCH64EB__)
#define QK_HAVE_ARM_KERNELS 1
#endif

namespace qk {

// Ordered from least to most capable within each architecture.
enum class Isa : int {
  scalar = 0,   // portable C++, any CPU; defines nothing by itself (the reference does)
  avx2,         // x86 AVX2: int8 widened to int16, vpmaddwd (no saturation hazard)
  avx512bw,     // x86 AVX-512 F/BW/DQ/VL: as avx2 on zmm
  avxvnni,      // x86 AVX-VNNI: vpdpbusd on ymm
  avx512vnni,   // x86 AVX-512 VNNI: vpdpbusd on zmm
  neon,         // AArch64 Advanced SIMD (ARMv8.0)
  neon_dot,     // AArch64 SDOT/UDOT (ARMv8.2 dotprod)
  neon_i8mm,    // AArch64 SMMLA/USMMLA (ARMv8.6 i8mm)
};
constexpr int kIsaCount = 8;

constexpr const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return "scalar";
    case Isa::avx2: return "avx2";
    case Isa::avx512bw: return "avx512bw";
    case Isa::avxvnni: return "avxvnni";
    case Isa::avx512vnni: return "avx512vnni";
    case Isa::neon: return "neon";
    case Isa::neon_dot: return "neon_dot";
    case Isa::neon_i8mm: return "neon_i8mm";
  }
  return "unknown";
}

// Parses an isa_name() string; false if it names no ISA.
inline bool parse_isa(const char* name, Isa* out) noexcept {
  if (name == nullptr) return false;
  for (int i = 0; i < kIsaCount; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (std::strcmp(name, isa_name(isa)) == 0) {
      *out = isa;
      return true;
    }
  }
  return false;
}

// True if this build has kernels for `isa` and this CPU can execute them.
inline bool isa_supported(Isa isa) noexcept {
  [[maybe_unused]] const detail::CpuFeatures& f = detail::cpu_features();  // unused without SIMD kernels
  switch (isa) {
    case Isa::scalar: return true;
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2: return f.avx2;
    case Isa::avx512bw: return f.avx512bw;
    case Isa::avxvnni: return f.avxvnni;
    case Isa::avx512vnni: return f.avx512vnni;
#endif
#if defined(QK_HAVE_ARM_KERNELS)
    case Isa::neon: return f.neon;
    case Isa::neon_dot: return f.neon_dot;
    case Isa::neon_i8mm: return f.neon_i8mm;
#endif
    default: return false;
  }
}

// The most capable supported ISA. AVX-512 VNNI outranks AVX-VNNI (twice the width).
inline Isa best_isa() noexcept {
  static const Isa best = [] {
    const Isa order[] = {Isa::avx512vnni, Isa::avxvnni, Isa::avx512bw, Isa::avx2,
                         Isa::neon_i8mm,  Isa::neon_dot, Isa::neon};
    for (Isa isa : order)
      if (isa_supported(isa)) return isa;
    return Isa::scalar;
  }();
  return best;
}

namespace detail {
// -1: not forced. Atomic so that a test thread forcing an ISA is not a data race.
inline std::atomic<int>& forced_isa_slot() noexcept {
  static std::atomic<int> slot{-1};
  return slot;
}
// QK_ISA, read once. An unknown or unsupported name is ignored (falls back to best_isa()),
// with no output: a library must not print.
inline int env_isa() noexcept {
  static const int value = [] {
    Isa isa = Isa::scalar;
    const char* env = std::getenv("QK_ISA");
    if (env != nullptr && parse_isa(env, &isa) && isa_supported(isa)) return static_cast<int>(isa);
    return -1;
  }();
  return value;
}
}  // namespace detail

// The ISA new packings use (see the header comment for the order of precedence).
inline Isa active_isa() noexcept {
  const int forced = detail::forced_isa_slot().load(std::memory_order_relaxed);
  if (forced >= 0) return static_cast<Isa>(forced);
  const int env = detail::env_isa();
  if (env >= 0) return static_cast<Isa>(env);
  return best_isa();
}

// Forces `isa` for subsequent packings. Refused (and nothing changes) if it is not supported.
inline Status force_isa(Isa isa) noexcept {
  if (static_cast<int>(isa) < 0 || static_cast<int>(isa) >= kIsaCount)
    return Status(StatusCode::invalid_argument, "force_isa: not an Isa value", "isa", static_cast<int>(isa));
  if (!isa_supported(isa))
    return Status(StatusCode::unsupported, "force_isa: ISA not supported by this CPU/build", "isa", static_cast<int>(isa));
  detail::forced_isa_slot().store(static_cast<int>(isa), std::memory_order_relaxed);
  return Status::success();
}

// Undoes force_isa(): back to QK_ISA or the best ISA.
inline void reset_isa() noexcept { detail::forced_isa_slot().store(-1, std::memory_order_relaxed); }

}  // namespace qk
