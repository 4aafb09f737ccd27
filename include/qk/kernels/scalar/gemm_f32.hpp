// qk/kernels/scalar/gemm_f32.hpp - portable fp32 GEMM kernel.
#pragma once

#include "qk/kernels/gemm_f32_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

inline void gemm_f32_tile(const GemmF32Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                          std::size_t panel_end) noexcept {
  constexpr std::size_t NR = 8;
  for (std::size_t p = panel_begin; p < panel_end; ++p) {
    const float* panel = args.packed_b + p * args.panel_stride;
    const std::size_t n0 = p * NR, cols = args.n - n0 < NR ? args.n - n0 : NR;
    for (std::size_t m = m_begin; m < m_end; ++m) {
      float acc[NR];
      for (std::size_t j = 0; j < NR; ++j) acc[j] = args.bias[n0 + j];
      const std::size_t seg = args.a_segment != 0 ? args.a_segment : args.k;
      const std::size_t b_stride = args.b_segment_stride != 0 ? args.b_segment_stride : seg;
      const float* a = args.a + m * args.lda;
      for (std::size_t s = 0, k0 = 0; k0 < args.k; ++s, k0 += seg)
        for (std::size_t k = 0; k < seg; ++k)
          for (std::size_t j = 0; j < NR; ++j) acc[j] += a[s * args.a_segment_stride + k] * panel[(s * b_stride + k) * NR + j];
      float* c = gemm_f32_c_row(args, m) + n0;
      for (std::size_t j = 0; j < cols; ++j) c[j] = acc[j] < args.lo ? args.lo : (acc[j] > args.hi ? args.hi : acc[j]);
    }
  }
}

inline const GemmF32Kernel& gemm_f32_kernel() noexcept {
  static const GemmF32Kernel kernel = {Isa::scalar, 8, 1, &gemm_f32_tile};
  return kernel;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
