// qk/kernels/depthwise_registry.hpp - the depthwise int8 and fp32 kernels for each ISA.
//
// ISAs without their own depthwise kernel (the ARM families, for now) use the portable one: its
// packed layout is its own, chosen when the layer is packed, so any ISA may map to it. The fp32
// kernels all take the same [tap][channel] weights.
//
// In the compiled mode (QK_COMPILED, qk/core/compiled.hpp) only the declaration is seen; the
// kernels are compiled once, in src/qk_compiled.cpp.
#pragma once

#include "qk/core/compiled.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/depthwise_f32_contract.hpp"
#include "qk/kernels/depthwise_s8_contract.hpp"

#if defined(QK_COMPILED) && !defined(QK_COMPILED_IMPLEMENTATION)
namespace qk {
namespace kernels {
const DepthwiseS8Kernel* depthwise_s8_kernel_for(Isa isa) noexcept;
const DepthwiseF32Kernel* depthwise_f32_kernel_for(Isa isa) noexcept;
}  // namespace kernels
}  // namespace qk
#else
#include "qk/kernels/scalar/depthwise_f32.hpp"
#include "qk/kernels/scalar/depthwise_s8.hpp"
#if defined(QK_HAVE_X86_KERNELS)
#include "qk/kernels/x86/depthwise_f32_x86.hpp"
#include "qk/kernels/x86/depthwise_s8_x86.hpp"
#endif

namespace qk {
namespace kernels {

QK_KERNEL_TABLE const DepthwiseS8Kernel* depthwise_s8_kernel_for(Isa isa) noexcept {
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2: return &avx2::depthwise_s8_kernel();
    case Isa::avx512bw: return &avx512bw::depthwise_s8_kernel();
    case Isa::avxvnni: return &avxvnni::depthwise_s8_kernel();
    case Isa::avx512vnni: return &avx512vnni::depthwise_s8_kernel();
#endif
    default: return &scalar::depthwise_s8_kernel();
  }
}

// fp32: the widest FMA family each x86 ISA has, as gemm_f32_kernel_for does.
QK_KERNEL_TABLE const DepthwiseF32Kernel* depthwise_f32_kernel_for(Isa isa) noexcept {
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2:
    case Isa::avxvnni: return &avx2f32::depthwise_f32_kernel(isa);
    case Isa::avx512bw:
    case Isa::avx512vnni: return &avx512f32::depthwise_f32_kernel(isa);
#endif
    default: return &scalar::depthwise_f32_kernel();
  }
}

}  // namespace kernels
}  // namespace qk
#endif  // QK_COMPILED
