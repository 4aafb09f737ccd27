// qk/kernels/scalar/gemm_s4.hpp - the portable int4-weight GEMM kernel (any CPU).
//
// The packed-B contract of the int4 families (gemm_s8_contract.hpp, GemmS8Layout::b_nibbles) in
// plain C++: nibbles hold w + 8, two K groups per block (low nibbles group 2i, high nibbles
// 2i + 1). It multiplies A by the nibble - 8 = w for both activation types (weight offset 0: no
// row term without a weight zero point), in wrapping int32, and finishes each row with
// finish_row_scalar: TFLite's int4 arithmetic is its int8 arithmetic on the unpacked values.
//
// It can also stand in, under another ISA's name, for an ISA with no int4 family of its own
// (gemm_registry.hpp), so that a packing still reports the ISA it was packed for; every ISA with
// an int8 family has an int4 one now (x86, and AArch64 in kernels/arm/gemm_s4_arm.hpp).
#pragma once

#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_s8_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

constexpr std::uint32_t kGemmS4PanelWidth = 8;
constexpr std::uint32_t kGemmS4KGroup = 4;

inline void gemm_s4_tile(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                         std::size_t panel_end) noexcept {
  constexpr std::size_t NR = kGemmS4PanelWidth, KR = kGemmS4KGroup;
  const std::size_t pairs = (args.k + 2 * KR - 1) / (2 * KR);
  for (std::size_t p = panel_begin; p < panel_end; ++p) {
    const std::uint8_t* panel = args.packed_b + p * args.panel_bytes;
    const std::size_t n0 = p * NR;
    const std::size_t cols = args.n - n0 < NR ? args.n - n0 : NR;
    for (std::size_t m = m_begin; m < m_end; ++m) {
      const std::uint8_t* a = args.a + m * args.lda;
      const std::int32_t rs = row_sum_for(args, m);
      std::int32_t acc[NR] = {};
      for (std::size_t q = 0; q < pairs; ++q) {
        const std::uint8_t* block = panel + q * NR * KR;
        for (std::size_t half = 0; half < 2; ++half)
          for (std::size_t r = 0; r < KR; ++r) {
            const std::size_t k = (2 * q + half) * KR + r;
            if (k >= args.k) break;
            const std::int32_t av = args.a_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(a[k]))
                                                  : static_cast<std::int32_t>(a[k]);
            for (std::size_t j = 0; j < NR; ++j) {
              const std::uint8_t byte = block[j * KR + r];
              const std::int32_t w = static_cast<std::int32_t>(half == 0 ? byte & 0x0Fu : byte >> 4) - 8;
              acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) + static_cast<std::uint32_t>(av * w));
            }
          }
      }
      finish_row_scalar(args, m, n0, cols, acc, rs);
    }
  }
}

// The family, under the name of `isa` (Isa::scalar, or an ISA it stands in for).
inline const GemmS8Kernel& gemm_s4_kernel(Isa isa = Isa::scalar) noexcept {
  // One descriptor per ISA value, built once; they differ only in `isa`.
  struct Table {
    GemmS8Kernel k[kIsaCount];
    Table() noexcept {
      for (int i = 0; i < kIsaCount; ++i) {
        k[i].isa = static_cast<Isa>(i);
        k[i].layout = GemmS8Layout{kGemmS4PanelWidth, kGemmS4KGroup, 1, 0, 1, 0, 0, 0, 1};
        k[i].run = &gemm_s4_tile;
      }
    }
  };
  static const Table table;
  const int i = static_cast<int>(isa);
  return table.k[i >= 0 && i < kIsaCount ? i : 0];
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
