// qk/kernels/scalar/gemm_s8.hpp - the portable int8 GEMM kernel (any CPU).
//
// Not the reference (qk/reference/gemm.hpp is, and works on unpacked B): this is the fallback
// kernel family for CPUs without a SIMD family, using the same packed-B contract as the others
// so that the packing and driver code paths are exercised on every machine.
#pragma once

#include "qk/kernels/gemm_s8_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

constexpr std::uint32_t kGemmS8PanelWidth = 8;
constexpr std::uint32_t kGemmS8KGroup = 4;

inline void gemm_s8_tile(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                         std::size_t panel_end) noexcept {
  constexpr std::size_t NR = kGemmS8PanelWidth, KR = kGemmS8KGroup;
  const std::size_t kgroups = (args.k + KR - 1) / KR;
  for (std::size_t p = panel_begin; p < panel_end; ++p) {
    const auto* panel = reinterpret_cast<const std::int8_t*>(args.packed_b + p * args.panel_bytes);
    const std::size_t n0 = p * NR;
    const std::size_t cols = args.n - n0 < NR ? args.n - n0 : NR;
    for (std::size_t m = m_begin; m < m_end; ++m) {
      const std::uint8_t* a = args.a + m * args.lda;
      const std::int32_t rs = row_sum_for(args, m);
      std::int32_t acc[NR] = {};
      for (std::size_t g = 0; g < kgroups; ++g) {
        for (std::size_t r = 0; r < KR; ++r) {
          const std::size_t k = g * KR + r;
          if (k >= args.k) break;
          const std::int32_t av = args.a_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(a[k]))
                                                : static_cast<std::int32_t>(a[k]);
          for (std::size_t j = 0; j < NR; ++j)
            acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) +
                                               static_cast<std::uint32_t>(av * panel[(g * NR + j) * KR + r]));
        }
      }
      finish_row_scalar(args, m, n0, cols, acc, rs);
    }
  }
}

inline const GemmS8Kernel& gemm_s8_kernel() noexcept {
  static const GemmS8Kernel kernel = {Isa::scalar, GemmS8Layout{kGemmS8PanelWidth, kGemmS8KGroup, 1, 0, 1},
                                      &gemm_s8_tile};
  return kernel;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
