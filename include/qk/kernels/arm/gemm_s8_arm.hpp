// qk/kernels/arm/gemm_s8_arm.hpp - the three AArch64 int8 GEMM kernel families.
//
//   family     instruction                         panel  K group  B stored  u8 A      tile
//   neon       smlal/smlal2 by lane (s16 -> s32)    8      1        int16     widened   4 x 16
//   neon_dot   sdot by lane (4 x s8*s8 -> s32)      8      4        int8      xor 0x80  4 x 16
//   neon_i8mm  smmla / usmmla (2x8 . 8x2 -> 2x2)    8      8        int8      usmmla    4 x 16
//
// Every family keeps a 4-row x 16-column tile in 16 of the 32 vector registers (XNNPACK's 4x16
// shape on AArch64), leaving room for 4 activation and up to 8 weight vectors without spills.
// Each family's file explains its loop and why its arithmetic is exact at the operand extremes.
//
// Dispatch: the dot-product and i8mm families are compiled inside target regions (GCC
// push_options / target, Clang attribute push), so a binary built for plain ARMv8.0 carries all
// three and picks one at run time (qk/core/isa.hpp, from getauxval(AT_HWCAP/AT_HWCAP2)); the
// kernel descriptors are defined outside the regions and only hold function pointers. No
// standard header is included inside a region.
//
// Little-endian AArch64 only (the epilogue stores byte lanes through memcpy of a 32-bit lane);
// big-endian builds get the scalar family.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/kernels/gemm_s8_contract.hpp"

#if defined(QK_HAVE_ARM_KERNELS) && defined(__aarch64__) && !defined(__AARCH64EB__)
#include <arm_neon.h>

#define QK_HAVE_ARM_GEMM_S8 1

#define QK_ARM_INLINE inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// ARMv8.0 Advanced SIMD: the AArch64 baseline, no target region.
namespace qk {
namespace kernels {
namespace neon {
#include "qk/kernels/arm/epilogue_neon.inl"
#include "qk/kernels/arm/gemm_s8_neon.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace neon
}  // namespace kernels
}  // namespace qk

// ---------------------------------------------------------------------------------------------
// ARMv8.2 dot product (SDOT/UDOT)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
namespace qk {
namespace kernels {
namespace neon_dot {
#include "qk/kernels/arm/epilogue_neon.inl"
#include "qk/kernels/arm/gemm_s8_dot.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace neon_dot
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---------------------------------------------------------------------------------------------
// ARMv8.6 int8 matrix multiply (SMMLA/USMMLA/UMMLA)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("i8mm"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.6-a+i8mm")
#endif
namespace qk {
namespace kernels {
namespace neon_i8mm {
#include "qk/kernels/arm/epilogue_neon.inl"
#include "qk/kernels/arm/gemm_s8_i8mm.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace neon_i8mm
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Descriptors: outside every target region, they only take the kernels' addresses.
namespace qk {
namespace kernels {
#define QK_ARM_GEMM_S8_DESCRIPTOR(ns, isa_value, u8_offset)                                                  \
  namespace ns {                                                                                            \
  inline const GemmS8Kernel& gemm_s8_kernel() noexcept {                                                    \
    static const GemmS8Kernel kernel = {                                                                    \
        isa_value,                                                                                          \
        GemmS8Layout{static_cast<std::uint32_t>(Traits::kPanelWidth), static_cast<std::uint32_t>(Traits::kKGroup), \
                     static_cast<std::uint32_t>(Traits::kElemBytes), 0,                                     \
                     static_cast<std::uint32_t>(Traits::kMaxPanels), u8_offset},                            \
        &gemm_s8_run};                                                                                      \
    return kernel;                                                                                          \
  }                                                                                                         \
  }
QK_ARM_GEMM_S8_DESCRIPTOR(neon, Isa::neon, 0)
QK_ARM_GEMM_S8_DESCRIPTOR(neon_dot, Isa::neon_dot, -128)
QK_ARM_GEMM_S8_DESCRIPTOR(neon_i8mm, Isa::neon_i8mm, 0)
#undef QK_ARM_GEMM_S8_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#undef QK_ARM_INLINE
#endif  // QK_HAVE_ARM_KERNELS && little-endian AArch64
