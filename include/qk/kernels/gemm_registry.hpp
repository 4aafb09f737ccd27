// qk/kernels/gemm_registry.hpp - the GEMM kernel family for each ISA.
//
// The only place that knows which header implements which ISA. Returns null for an ISA this
// build has no kernels for; callers check isa_supported() for the CPU side.
//
// In the compiled mode (QK_COMPILED, see qk/core/compiled.hpp) a user's file sees only the two
// declarations below; their definitions, and with them every kernel family, are compiled once,
// in src/qk_compiled.cpp. This file is the mode's whole boundary for the GEMM: the operators
// reach kernels through these tables only.
#pragma once

#include "qk/core/compiled.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_s8_contract.hpp"
#include "qk/kernels/gemm_f32_contract.hpp"

#if defined(QK_COMPILED) && !defined(QK_COMPILED_IMPLEMENTATION)
namespace qk {
namespace kernels {
const GemmS8Kernel* gemm_s8_kernel_for(Isa isa) noexcept;
const GemmS8Kernel* gemm_s4_kernel_for(Isa isa) noexcept;
const GemmF32Kernel* gemm_f32_kernel_for(Isa isa) noexcept;
}  // namespace kernels
}  // namespace qk
#else
#include "qk/kernels/scalar/gemm_f32.hpp"
#include "qk/kernels/scalar/gemm_s4.hpp"
#include "qk/kernels/scalar/gemm_s8.hpp"
#if defined(QK_HAVE_X86_KERNELS)
#include "qk/kernels/x86/gemm_f32_x86.hpp"
#include "qk/kernels/x86/gemm_s4_x86.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"
#endif
#if defined(QK_HAVE_ARM_KERNELS) && __has_include("qk/kernels/arm/gemm_s8_arm.hpp")
#include "qk/kernels/arm/gemm_s8_arm.hpp"
#endif
#if defined(QK_HAVE_ARM_KERNELS) && __has_include("qk/kernels/arm/gemm_s4_arm.hpp")
#include "qk/kernels/arm/gemm_s4_arm.hpp"
#endif

namespace qk {
namespace kernels {

QK_KERNEL_TABLE const GemmS8Kernel* gemm_s8_kernel_for(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return &scalar::gemm_s8_kernel();
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2: return &avx2::gemm_s8_kernel();
    case Isa::avx512bw: return &avx512bw::gemm_s8_kernel();
    case Isa::avxvnni: return &avxvnni::gemm_s8_kernel();
    case Isa::avx512vnni: {
      // s8 activations xor-ed in the loop on Zen 4, as B + 128 against them elsewhere
      // (SignedActivationForm, gemm_s8_contract.hpp).
      const SignedActivationForm form = vnni_signed_activation_form().load(std::memory_order_relaxed);
      const bool by_xor = form == SignedActivationForm::automatic ? detail::cpu_features().amd_zen4
                                                                  : form == SignedActivationForm::activation_xor;
      return by_xor ? &avx512vnni::xor_a::gemm_s8_kernel() : &avx512vnni::gemm_s8_kernel();
    }
#endif
#if defined(QK_HAVE_ARM_KERNELS) && defined(QK_HAVE_ARM_GEMM_S8)
    case Isa::neon: return &neon::gemm_s8_kernel();
    case Isa::neon_dot: return &neon_dot::gemm_s8_kernel();
    case Isa::neon_i8mm: return &neon_i8mm::gemm_s8_kernel();
#endif
    default: return nullptr;
  }
}

// int4 weights (ElementType::s4, per channel; gemm_s8_contract.hpp's b_nibbles layouts): the
// x86 families of kernels/x86/gemm_s4_x86.hpp and the AArch64 ones of
// kernels/arm/gemm_s4_arm.hpp. An ISA with an int8 family but no int4 one (none today) would get
// the portable one under its own name: correct everywhere.
QK_KERNEL_TABLE const GemmS8Kernel* gemm_s4_kernel_for(Isa isa) noexcept {
  switch (isa) {
    case Isa::scalar: return &scalar::gemm_s4_kernel();
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2: return &avx2::s4::gemm_s4_kernel();
    case Isa::avx512bw: return &avx512bw::s4::gemm_s4_kernel();
    case Isa::avxvnni: return &avxvnni::s4::gemm_s4_kernel();
    case Isa::avx512vnni: return &avx512vnni::s4::gemm_s4_kernel();
#endif
#if defined(QK_HAVE_ARM_KERNELS) && defined(QK_HAVE_ARM_GEMM_S4)
    case Isa::neon: return &neon::s4::gemm_s4_kernel();
    case Isa::neon_dot: return &neon_dot::s4::gemm_s4_kernel();
    case Isa::neon_i8mm: return &neon_i8mm::s4::gemm_s4_kernel();
#endif
    default:
      // Only where the int8 table has a family (an ISA this build runs at all).
      return gemm_s8_kernel_for(isa) != nullptr ? &scalar::gemm_s4_kernel(isa) : nullptr;
  }
}

// fp32: one family per vector width; each x86 ISA uses the widest FMA family it has. ISAs
// without an fp32 family of their own (ARM for now) use the portable kernel.
QK_KERNEL_TABLE const GemmF32Kernel* gemm_f32_kernel_for(Isa isa) noexcept {
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2:
    case Isa::avxvnni: return &avx2f32::gemm_f32_kernel(isa);
    case Isa::avx512bw:
    case Isa::avx512vnni: return &avx512f32::gemm_f32_kernel(isa);
#endif
    default: return &scalar::gemm_f32_kernel();
  }
}

}  // namespace kernels
}  // namespace qk
#endif  // QK_COMPILED
