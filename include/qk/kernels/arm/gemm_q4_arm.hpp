// qk/kernels/arm/gemm_q4_arm.hpp - the AArch64 blockwise 4-bit kernel families.
//
//   family      panel  scheme (a): int8 x nibble dot              scheme (b): fp32 A   tile
//   neon        8      smull + smlal (s8 x s8 -> s16), sadalp     neon::q4 (FMLA)      2 x 16 (a)
//   neon_dot    8      sdot by lane (u = nibble as s8, q = A)     neon::q4 (FMLA)      4 x 16
//   neon_i8mm   8      usdot by lane (u as u8, q = A)             neon::q4 (FMLA)      4 x 16
//
// Scheme (a): one tile source (gemm_q4_tile.inl) in two target regions; only the dot
// instruction differs. The i8mm family uses USDOT, which FEAT_I8MM itself provides, so it needs
// no dot-product support from the CPU (the two features are detected separately). Plain NEON
// has a tile of its own (gemm_q4_neon.inl). P = 8 is the portable family's panel too.
// Scheme (b) needs only ARMv8.0 (FMLA, TBL): one copy (gemm_q4_f32.inl) serves all three. The
// activation quantizer is the portable one (M x K floats against the GEMM's M x N x K work).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/kernels/gemm_q4_contract.hpp"
#include "qk/kernels/scalar/gemm_q4.hpp"

#if defined(QK_HAVE_ARM_KERNELS) && defined(__aarch64__) && !defined(__AARCH64EB__)
#include <arm_neon.h>

#define QK_HAVE_ARM_GEMM_Q4 1
#define QK_ARM_INLINE inline __attribute__((always_inline))
#define QK_ARM_NOINLINE __attribute__((noinline))

// ---------------------------------------------------------------------------------------------
// ARMv8.0 Advanced SIMD (no target region): scheme (b) for every family, scheme (a) for plain NEON
namespace qk {
namespace kernels {
namespace neon {
namespace q4 {
#include "qk/kernels/arm/gemm_q4_common.inl"
#include "qk/kernels/arm/gemm_q4_f32.inl"
#include "qk/kernels/arm/gemm_q4_neon.inl"
}  // namespace q4
}  // namespace neon
}  // namespace kernels
}  // namespace qk

// ---------------------------------------------------------------------------------------------
// ARMv8.2 dot product: SDOT by element (u in [0, 15] is a valid s8 operand)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
namespace qk {
namespace kernels {
namespace neon_dot {
namespace q4 {
#include "qk/kernels/arm/gemm_q4_common.inl"
#define QK_Q4_DOT_LANE(acc, u, q, L) acc = vdotq_laneq_s32(acc, vreinterpretq_s8_u8(u), q, L)
#include "qk/kernels/arm/gemm_q4_tile.inl"
#undef QK_Q4_DOT_LANE
}  // namespace q4
}  // namespace neon_dot
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---------------------------------------------------------------------------------------------
// ARMv8.6 i8mm: USDOT by element (unsigned nibbles x signed activations)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("i8mm"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.6-a+i8mm")
#endif
namespace qk {
namespace kernels {
namespace neon_i8mm {
namespace q4 {
#include "qk/kernels/arm/gemm_q4_common.inl"
#define QK_Q4_DOT_LANE(acc, u, q, L) acc = vusdotq_laneq_s32(acc, u, q, L)
#include "qk/kernels/arm/gemm_q4_tile.inl"
#undef QK_Q4_DOT_LANE
}  // namespace q4
}  // namespace neon_i8mm
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Descriptors, outside the regions.
namespace qk {
namespace kernels {
namespace neon {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::neon, scalar::kGemmQ4PanelWidth, 4, &q4::gemm_q4_neon_dynamic_run,
                                 &q4::gemm_q4_f32_run, &q4_quantize_rows_scalar};
  return k;
}
}  // namespace neon
namespace neon_dot {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::neon_dot, scalar::kGemmQ4PanelWidth, 4, &q4::gemm_q4_dynamic_run,
                                 &neon::q4::gemm_q4_f32_run, &q4_quantize_rows_scalar};
  return k;
}
}  // namespace neon_dot
namespace neon_i8mm {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::neon_i8mm, scalar::kGemmQ4PanelWidth, 4, &q4::gemm_q4_dynamic_run,
                                 &neon::q4::gemm_q4_f32_run, &q4_quantize_rows_scalar};
  return k;
}
}  // namespace neon_i8mm
}  // namespace kernels
}  // namespace qk

#undef QK_ARM_INLINE
#undef QK_ARM_NOINLINE
#endif  // QK_HAVE_ARM_KERNELS && little-endian AArch64
