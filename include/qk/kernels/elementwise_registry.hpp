// qk/kernels/elementwise_registry.hpp - the element-wise kernels (elementwise_contract.hpp) for
// each ISA. The layers take the table of active_isa() when they are built and keep it.
//
//   avx2, avxvnni             ew_avx2 (32-byte blocks)
//   avx512bw, avx512vnni      ew_avx512 (64-byte blocks); its table lookup is vpermi2b when the
//                             CPU has AVX-512 VBMI (detail::CpuFeatures::avx512vbmi), else a
//                             vpshufb tree. `allow_vbmi = false` gives the tree (for tests).
//   anything else (ARM too)   the portable scalar family (auto-vectorised loops).
//
// In the compiled mode (QK_COMPILED, qk/core/compiled.hpp) only the declaration is seen; the
// kernels are compiled once, in src/qk_compiled.cpp.
#pragma once

#include "qk/core/compiled.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/elementwise_contract.hpp"

#if defined(QK_COMPILED) && !defined(QK_COMPILED_IMPLEMENTATION)
namespace qk {
namespace kernels {
const ElementwiseKernels* elementwise_kernels_for(Isa isa, bool allow_vbmi) noexcept;
}  // namespace kernels
}  // namespace qk
#else
#include "qk/kernels/scalar/elementwise.hpp"
#if defined(QK_HAVE_X86_KERNELS)
#include "qk/kernels/x86/elementwise_x86.hpp"
#endif

namespace qk {
namespace kernels {

QK_KERNEL_TABLE const ElementwiseKernels* elementwise_kernels_for(Isa isa, bool allow_vbmi) noexcept {
  (void)allow_vbmi;
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2:
    case Isa::avxvnni: return &ew_avx2::elementwise_kernels();
    case Isa::avx512bw:
    case Isa::avx512vnni:
      return allow_vbmi && detail::cpu_features().avx512vbmi ? &ew_avx512vbmi::elementwise_kernels()
                                                             : &ew_avx512::elementwise_kernels();
#endif
    default: return &scalar::elementwise_kernels();
  }
}

}  // namespace kernels
}  // namespace qk
#endif  // QK_COMPILED

namespace qk {
namespace kernels {
// The table the layers use: active_isa()'s, with VBMI where the CPU has it.
inline const ElementwiseKernels* active_elementwise_kernels() noexcept { return elementwise_kernels_for(active_isa(), true); }
}  // namespace kernels
}  // namespace qk
