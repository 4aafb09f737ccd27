// qk/kernels/scalar/gemm_q4.hpp - the portable blockwise 4-bit kernel family (any CPU: the
// scalar ISA, and any build without the x86 or AArch64 families).
//
// It reads the packed layout of gemm_q4_contract.hpp (panels of 8) and follows the contract's
// definition step for step, so it is also the plainest statement of the summation order.
#pragma once

#include <cmath>

#include "qk/kernels/gemm_q4_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

constexpr std::uint32_t kGemmQ4PanelWidth = 8;

// u of column j (< P) at k, in a panel's nibbles.
inline std::int32_t q4_nibble(const std::uint8_t* nibbles, std::size_t P, std::size_t j, std::size_t k) noexcept {
  const std::size_t c = k / 8, i = k % 8;
  const std::uint8_t byte = nibbles[c * 4 * P + 4 * j + (i & 3)];
  return i < 4 ? (byte & 0x0F) : (byte >> 4);
}

inline std::int32_t q4_zero_point(const GemmQ4Args& args, const std::uint8_t* panel, std::size_t P, std::size_t b,
                                  std::size_t j) noexcept {
  return args.zp_uniform ? args.zp : static_cast<std::int32_t>(panel[args.zps_at + b * P + j]);
}

inline float q4_scale(const GemmQ4Args& args, const std::uint8_t* panel, std::size_t P, std::size_t b,
                      std::size_t j) noexcept {
  if (!args.scale_f16) return reinterpret_cast<const float*>(panel + args.scales_at)[b * P + j];
  return q4_half_to_float(reinterpret_cast<const std::uint16_t*>(panel + args.scales_at)[b * P + j]);
}

inline float q4_finish(const GemmQ4Args& args, float acc, std::size_t n) noexcept {
  if (args.bias != nullptr) acc = acc + args.bias[n];
  return q4_clamp(acc, args.lo, args.hi);
}

inline void gemm_q4_dynamic_tile(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                                 std::size_t pair_end) noexcept {
  constexpr std::size_t P = kGemmQ4PanelWidth;
  for (std::size_t p = 2 * pair_begin; p < 2 * pair_end; ++p) {
    const std::uint8_t* panel = args.packed + p * args.panel_bytes;
    for (std::size_t j = 0; j < P && p * P + j < args.n; ++j)
      for (std::size_t m = m_begin; m < m_end; ++m) {
        const std::int8_t* q = args.qa + m * args.qa_stride;
        float acc = 0.0f;
        for (std::size_t b = 0; b < args.n_blocks; ++b) {
          const std::int32_t zp = q4_zero_point(args, panel, P, b, j);
          std::int32_t isum = 0;
          for (std::size_t k = b * args.block; k < (b + 1) * args.block; ++k)
            isum += q[k] * (q4_nibble(panel, P, j, k) - zp);
          acc = std::fma(static_cast<float>(isum), args.a_scale[m * args.n_blocks + b] * q4_scale(args, panel, P, b, j), acc);
        }
        args.c[m * args.ldc + p * P + j] = q4_finish(args, acc, p * P + j);
      }
  }
}

inline void gemm_q4_f32_tile(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                             std::size_t pair_end) noexcept {
  constexpr std::size_t P = kGemmQ4PanelWidth;
  for (std::size_t p = 2 * pair_begin; p < 2 * pair_end; ++p) {
    const std::uint8_t* panel = args.packed + p * args.panel_bytes;
    for (std::size_t j = 0; j < P && p * P + j < args.n; ++j)
      for (std::size_t m = m_begin; m < m_end; ++m) {
        const float* a = args.a + m * args.lda;
        float acc = 0.0f;
        for (std::size_t b = 0; b < args.n_blocks; ++b) {
          const std::int32_t zp = q4_zero_point(args, panel, P, b, j);
          const std::size_t k1 = (b + 1) * args.block < args.k ? (b + 1) * args.block : args.k;
          float s = 0.0f;
          for (std::size_t k = b * args.block; k < k1; ++k)
            s = std::fma(a[k], static_cast<float>(q4_nibble(panel, P, j, k) - zp), s);
          acc = std::fma(s, q4_scale(args, panel, P, b, j), acc);
        }
        args.c[m * args.ldc + p * P + j] = q4_finish(args, acc, p * P + j);
      }
  }
}

inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel kernel = {Isa::scalar, kGemmQ4PanelWidth, 1, &gemm_q4_dynamic_tile, &gemm_q4_f32_tile,
                                      &q4_quantize_rows_scalar};
  return kernel;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
