// qk/core/cpu_features.hpp - what the running CPU (and OS) can execute.
//
// cpuinfo (Debian's libcpuinfo-dev) answers the common questions and already checks that the OS
// saves the wide register state. Debian's 2022 cpuinfo has no query for AVX-VNNI (VEX-encoded
// vpdpbusd) or ARM i8mm, so those two are read directly: CPUID leaf 7 sub-leaf 1 on x86,
// getauxval(AT_HWCAP2) on Linux/AArch64. When qk is used without cpuinfo (QK_HAVE_CPUINFO
// undefined), everything is read directly, including XGETBV for the OS state.
#pragma once

#include <cstdint>

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#define QK_ARCH_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(__aarch64__)
#define QK_ARCH_ARM64 1
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

#if defined(QK_HAVE_CPUINFO)
#include <cpuinfo.h>
#endif

namespace qk {
namespace detail {

struct CpuFeatures {
  bool avx2 = false;        // AVX2 + FMA, OS saves ymm
  bool avx512bw = false;    // AVX-512 F/BW/DQ/VL, OS saves zmm/opmask
  bool avx512vnni = false;  // AVX512_VNNI (EVEX vpdpbusd)
  bool avxvnni = false;     // AVX-VNNI (VEX vpdpbusd on ymm)
  bool avx512vbmi = false;  // AVX512_VBMI (vpermb / vpermi2b), with avx512bw; not an Isa level:
                            // the element-wise table lookup chooses its kernel by it
  bool neon = false;        // AArch64 Advanced SIMD
  bool neon_dot = false;    // SDOT/UDOT (ARMv8.2 dotprod)
  bool neon_i8mm = false;   // SMMLA/USMMLA (ARMv8.6 i8mm)
  // An AMD family 19h core with AVX-512: Zen 4 (Zen 3, the same family, has no AVX-512; Zen 5 is
  // family 1Ah). Not an ISA: it picks the Zen 4 form of the AVX-512 VNNI int8 family
  // (kernels/gemm_registry.hpp: s8 activations xor-ed in the loop, 12 x 32 convolution tiles),
  // the choices measured to differ between the cores qk runs on.
  bool amd_zen4 = false;
};

#if defined(QK_ARCH_X86)
inline void cpuid(unsigned leaf, unsigned subleaf, unsigned r[4]) noexcept {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, static_cast<int>(leaf), static_cast<int>(subleaf));
  for (int i = 0; i < 4; ++i) r[i] = static_cast<unsigned>(regs[i]);
#else
  __cpuid_count(leaf, subleaf, r[0], r[1], r[2], r[3]);
#endif
}

// XCR0: which register state the OS saves on context switch.
inline std::uint64_t xgetbv0() noexcept {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<std::uint64_t>(hi) << 32) | lo;
#endif
}

inline CpuFeatures detect_cpu_features_raw() noexcept {
  CpuFeatures f;
  unsigned r[4] = {0, 0, 0, 0};
  cpuid(0, 0, r);
  const unsigned max_leaf = r[0];
  const bool amd = r[1] == 0x68747541u && r[3] == 0x69746E65u && r[2] == 0x444D4163u;  // "AuthenticAMD"
  if (max_leaf < 7) return f;
  cpuid(1, 0, r);
  const unsigned base_family = (r[0] >> 8) & 0xFu;
  const unsigned family = base_family == 0xFu ? base_family + ((r[0] >> 20) & 0xFFu) : base_family;
  const bool osxsave = (r[2] >> 27) & 1u;
  const bool fma = (r[2] >> 12) & 1u;
  if (!osxsave) return f;
  const std::uint64_t xcr0 = xgetbv0();
  const bool os_ymm = (xcr0 & 0x6u) == 0x6u;
  const bool os_zmm = (xcr0 & 0xE6u) == 0xE6u;
  unsigned l7[4];
  cpuid(7, 0, l7);
  const bool avx2 = (l7[1] >> 5) & 1u;
  const bool avx512f = (l7[1] >> 16) & 1u, avx512dq = (l7[1] >> 17) & 1u;
  const bool avx512bw = (l7[1] >> 30) & 1u, avx512vl = (l7[1] >> 31) & 1u;
  const bool vnni512 = (l7[2] >> 11) & 1u;
  const bool vbmi = (l7[2] >> 1) & 1u;
  unsigned l71[4];
  cpuid(7, 1, l71);
  const bool avxvnni = (l71[0] >> 4) & 1u;
  f.avx2 = os_ymm && avx2 && fma;
  f.avx512bw = f.avx2 && os_zmm && avx512f && avx512dq && avx512bw && avx512vl;
  f.avx512vnni = f.avx512bw && vnni512;
  f.avxvnni = f.avx2 && avxvnni;
  f.avx512vbmi = f.avx512bw && vbmi;
  f.amd_zen4 = amd && family == 0x19u && f.avx512bw;
  return f;
}
#endif

inline CpuFeatures detect_cpu_features() noexcept {
  CpuFeatures f;
#if defined(QK_ARCH_X86)
  f = detect_cpu_features_raw();
#if defined(QK_HAVE_CPUINFO)
  // Prefer cpuinfo's verdict where it has one (it also knows of errata); keep the raw
  // CPUID answer for AVX-VNNI, which this cpuinfo cannot report.
  if (cpuinfo_initialize()) {
    f.avx2 = cpuinfo_has_x86_avx2() && cpuinfo_has_x86_fma3();
    f.avx512bw = f.avx2 && cpuinfo_has_x86_avx512f() && cpuinfo_has_x86_avx512bw() &&
                 cpuinfo_has_x86_avx512dq() && cpuinfo_has_x86_avx512vl();
    f.avx512vnni = f.avx512bw && cpuinfo_has_x86_avx512vnni();
    f.avx512vbmi = f.avx512bw && cpuinfo_has_x86_avx512vbmi();
    f.avxvnni = f.avx2 && f.avxvnni;
    f.amd_zen4 = f.amd_zen4 && f.avx512bw;
  }
#endif
#elif defined(QK_ARCH_ARM64)
  f.neon = true;  // mandatory in AArch64
#if defined(__linux__)
  const unsigned long hwcap = getauxval(AT_HWCAP);
  const unsigned long hwcap2 = getauxval(AT_HWCAP2);
  f.neon_dot = (hwcap & (1ul << 20)) != 0;    // HWCAP_ASIMDDP
  f.neon_i8mm = (hwcap2 & (1ul << 13)) != 0;  // HWCAP2_I8MM
#endif
#if defined(QK_HAVE_CPUINFO)
  if (cpuinfo_initialize()) f.neon_dot = f.neon_dot || cpuinfo_has_arm_neon_dot();
#endif
#endif
  return f;
}

// Detected once per process; the answer cannot change while it runs.
inline const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = detect_cpu_features();
  return features;
}

}  // namespace detail
}  // namespace qk
