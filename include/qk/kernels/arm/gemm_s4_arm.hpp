// qk/kernels/arm/gemm_s4_arm.hpp - the three AArch64 int4-weight GEMM kernel families (W4A8, per
// channel: TFLite's int4 arithmetic, the int8 output stage).
//
//   family           instruction                        panel  K step     weights    u8 A      tile
//   neon::s4         smlal/smlal2 by lane (s16 -> s32)  8      2 x 1 (2)  w, int16   widened   4 x 16
//   neon_dot::s4     sdot by lane                       8      2 x 4 (8)  w, int8    xor 0x80  4 x 16
//   neon_i8mm::s4    smmla / usmmla                     8      2 x 8 (16) w, int8    usmmla    4 x 16
//
// Packed B is gemm_s8_contract.hpp's b_nibbles layout with each int8 family's panel and K group:
// nibbles u = w + 8, two K groups a block (low nibbles the even group). Every family expands a
// loaded vector in registers with the same 4 instructions: `eor 0x88` makes both nibbles w in
// 4-bit two's complement, `sshr #4` sign-extends the high one, `shl #4; sshr #4` the low one.
// With w as the signed operand the weight offset is 0 for both activation types: no row term
// (unlike x86, whose vpdpbusd needs an unsigned side), and activations are handled exactly as in
// the int8 families (the NEON family widens them, sdot flips u8 to s8, i8mm has usmmla).
//
// Each family is its ISA's namespace `s4`, inside the same target region as its int8 family and
// reusing everything but the K loop: finish_row (epilogue_neon.inl), the activation loads and
// the driver (gemm_s8_driver.inl, which runs this namespace's Traits and tile).
#pragma once

#include "qk/kernels/arm/gemm_s8_arm.hpp"

#if defined(QK_HAVE_ARM_GEMM_S8)

#define QK_HAVE_ARM_GEMM_S4 1
#define QK_ARM_INLINE inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// ARMv8.0 Advanced SIMD
namespace qk {
namespace kernels {
namespace neon {
namespace s4 {
#include "qk/kernels/arm/gemm_s4_neon.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace s4
}  // namespace neon
}  // namespace kernels
}  // namespace qk

// ---------------------------------------------------------------------------------------------
// ARMv8.2 dot product
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif
namespace qk {
namespace kernels {
namespace neon_dot {
namespace s4 {
#include "qk/kernels/arm/gemm_s4_dot.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace s4
}  // namespace neon_dot
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// ---------------------------------------------------------------------------------------------
// ARMv8.6 int8 matrix multiply
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("i8mm"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.6-a+i8mm")
#endif
namespace qk {
namespace kernels {
namespace neon_i8mm {
namespace s4 {
#include "qk/kernels/arm/gemm_s4_i8mm.inl"
#include "qk/kernels/arm/gemm_s8_driver.inl"
}  // namespace s4
}  // namespace neon_i8mm
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

// Descriptors: outside every target region. Layout fields: panel, K group, 1-byte elements, no
// s8 activation offset, 2 panels a tile, the family's u8 activation offset, weight offset 0, no
// A by K group (a convolution expands a first layer's int4 weights to int8 instead), nibbles.
namespace qk {
namespace kernels {
#define QK_ARM_GEMM_S4_DESCRIPTOR(ns, isa_value, u8_offset)                                                        \
  namespace ns {                                                                                                  \
  namespace s4 {                                                                                                  \
  inline const GemmS8Kernel& gemm_s4_kernel() noexcept {                                                          \
    static const GemmS8Kernel kernel = {                                                                          \
        isa_value,                                                                                                \
        GemmS8Layout{static_cast<std::uint32_t>(Traits::kPanelWidth), static_cast<std::uint32_t>(Traits::kKGroup), 1, \
                     0, static_cast<std::uint32_t>(Traits::kMaxPanels), u8_offset, 0, 0, 1},                     \
        &gemm_s8_run};                                                                                            \
    return kernel;                                                                                                \
  }                                                                                                               \
  }                                                                                                               \
  }
QK_ARM_GEMM_S4_DESCRIPTOR(neon, Isa::neon, 0)
QK_ARM_GEMM_S4_DESCRIPTOR(neon_dot, Isa::neon_dot, -128)
QK_ARM_GEMM_S4_DESCRIPTOR(neon_i8mm, Isa::neon_i8mm, 0)
#undef QK_ARM_GEMM_S4_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#undef QK_ARM_INLINE
#endif  // QK_HAVE_ARM_GEMM_S8
