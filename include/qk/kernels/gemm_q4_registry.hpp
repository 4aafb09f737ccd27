// qk/kernels/gemm_q4_registry.hpp - the blockwise 4-bit kernel family for each ISA.
//
// As gemm_registry.hpp: the only place mapping ISAs to q4 families, and the compiled mode's
// boundary (QK_COMPILED: declaration only; src/qk_compiled.cpp defines it). An ISA without a
// family of its own in this build uses the portable family (correct, not fast).
#pragma once

#include "qk/core/compiled.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_q4_contract.hpp"

#if defined(QK_COMPILED) && !defined(QK_COMPILED_IMPLEMENTATION)
namespace qk {
namespace kernels {
const GemmQ4Kernel* gemm_q4_kernel_for(Isa isa) noexcept;
}  // namespace kernels
}  // namespace qk
#else
#include "qk/kernels/scalar/gemm_q4.hpp"
#if defined(QK_HAVE_X86_KERNELS)
#include "qk/kernels/x86/gemm_q4_x86.hpp"
#endif
#if defined(QK_HAVE_ARM_KERNELS) && __has_include("qk/kernels/arm/gemm_q4_arm.hpp")
#include "qk/kernels/arm/gemm_q4_arm.hpp"
#endif

namespace qk {
namespace kernels {

QK_KERNEL_TABLE const GemmQ4Kernel* gemm_q4_kernel_for(Isa isa) noexcept {
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2: return &avx2::gemm_q4_kernel();
    case Isa::avx512bw: return &avx512bw::gemm_q4_kernel();
    case Isa::avxvnni: return &avxvnni::gemm_q4_kernel();
    case Isa::avx512vnni: return &avx512vnni::gemm_q4_kernel();
#endif
#if defined(QK_HAVE_ARM_KERNELS) && defined(QK_HAVE_ARM_GEMM_Q4)
    case Isa::neon: return &neon::gemm_q4_kernel();
    case Isa::neon_dot: return &neon_dot::gemm_q4_kernel();
    case Isa::neon_i8mm: return &neon_i8mm::gemm_q4_kernel();
#endif
    default: return &scalar::gemm_q4_kernel();
  }
}

}  // namespace kernels
}  // namespace qk
#endif  // QK_COMPILED
