// qk/kernels/pool_registry.hpp - the pooling kernels (pool_contract.hpp) for each ISA. The
// layers (qk/layers/pool.hpp) take the table of active_isa() when they are built and keep it.
//
//   avx2, avxvnni             pool_avx2 (32 channels a block)
//   avx512bw, avx512vnni      pool_avx512 (64 channels a block, masked tails)
//   anything else (ARM too)   the portable scalar family (auto-vectorised loops).
//
// In the compiled mode (QK_COMPILED, qk/core/compiled.hpp) only the declaration is seen; the
// kernels are compiled once, in src/qk_compiled.cpp.
#pragma once

#include "qk/core/compiled.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/pool_contract.hpp"

#if defined(QK_COMPILED) && !defined(QK_COMPILED_IMPLEMENTATION)
namespace qk {
namespace kernels {
const PoolKernels* pool_kernels_for(Isa isa) noexcept;
}  // namespace kernels
}  // namespace qk
#else
#include "qk/kernels/scalar/pool.hpp"
#if defined(QK_HAVE_X86_KERNELS)
#include "qk/kernels/x86/pool_x86.hpp"
#endif

namespace qk {
namespace kernels {

QK_KERNEL_TABLE const PoolKernels* pool_kernels_for(Isa isa) noexcept {
  switch (isa) {
#if defined(QK_HAVE_X86_KERNELS)
    case Isa::avx2:
    case Isa::avxvnni: return &pool_avx2::pool_kernels();
    case Isa::avx512bw:
    case Isa::avx512vnni: return &pool_avx512::pool_kernels();
#endif
    default: return &pool_scalar::pool_kernels();
  }
}

}  // namespace kernels
}  // namespace qk
#endif  // QK_COMPILED

namespace qk {
namespace kernels {
inline const PoolKernels* active_pool_kernels() noexcept { return pool_kernels_for(active_isa()); }
}  // namespace kernels
}  // namespace qk
