// qk/kernels/gemm_s8_contract.hpp - what an int8 GEMM kernel family promises and receives.
//
// A kernel family (one per ISA) is three things chosen together, as in XNNPACK's gemm configs:
//  - a packed layout for B: panels of `panel_width` columns; inside a panel, K is split in groups
//    of `k_group` rows, stored group after group as [column][k_group] blocks of int8 or int16
//    (elem_bytes), zero padded in K and N. So a panel is round_up(K, k_group) * panel_width
//    elements and one vector load reads one K group of `panel_width` columns.
//  - how it treats activations whose signedness its instruction cannot take. Two mechanisms:
//    * an activation offset: the kernel feeds A + offset (xor 0x80), the packer folds
//      -offset * colsum(B) into the column offsets (`s8_activation_offset` / `u8_activation_offset`;
//      ARM sdot, which is s8 x s8, feeds u8 A as A - 128; the AVX-512 VNNI family on Zen 4, see
//      SignedActivationForm below);
//    * a weight offset (`s8_weight_offset`, x86 vpdpbusd with s8 A): the packer stores B + 128 as
//      the u8 operand and the kernel passes A as the s8 operand, so no per-element work is done
//      on A at all; sum (B + 128) A = sum A B + 128 rowsum(A), so the row-term coefficient
//      becomes zb[n] + 128 and row sums are always needed. (An xor of A in the loop measured
//      22-40% slower on Zen 5, in the first sessions' kernels.)
//    Widening kernels use 0 everywhere.
//  - a tile function computing rows [m_begin, m_end) x panels [panel_begin, panel_end) of C,
//    with panel_end - panel_begin <= max_panels.
//  - int4 families (b_nibbles, below) use the same contract with 4-bit B; the packer picks them
//    for ElementType::s4 weights (gemm_registry.hpp: gemm_s4_kernel_for).
// Everything constant per column is folded at pack time into col_offset:
//   col_offset[n] = bias[n] - (za + activation_offset) * colsum[n] + K * za * zb[n]
// and the row term -col_zero_point[n] * rowsum[m] (col_zero_point = zb + weight offset) is applied
// only when some coefficient is non-zero (row sums computed by the driver into the caller's
// workspace, by the family's row_sums function if it has one). All in wrapping 32-bit arithmetic.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "qk/core/isa.hpp"
#include "qk/core/output_stage.hpp"

namespace qk {
namespace kernels {

// Which of the two mechanisms above the AVX-512 VNNI int8 family uses for s8 activations (and,
// with the xor, conv_max_panels 2: the two are the family's Zen 4 form, measured together). Chosen
// per core by gemm_s8_kernel_for (gemm_registry.hpp) when `automatic`: the xor on AMD Zen 4
// (CpuFeatures::amd_zen4), where it measured 2-8% faster on every GEMM row of the benchmarks
// (docs/performance.md: the row term's sums and wide epilogue cost more there than an xor per
// broadcast, which is one instruction with the broadcast load); the weight offset elsewhere (the
// Zen 5 and Intel figures in docs/ were measured with it). Convolutions flip s8 input to u8 in
// their copies where the family has a weight offset, and on the pointwise path for the xor form
// too (qk/conv.hpp, where it is measured); the xor form's gather path gets s8 A.
enum class SignedActivationForm { automatic, weight_offset, activation_xor };

// Process-wide: the form gemm_s8_kernel_for picks from now on (tests sweep both; weights already
// packed keep the family they were packed for). One object in the program (a function-local
// static of an inline function), also in the compiled mode.
inline std::atomic<SignedActivationForm>& vnni_signed_activation_form() noexcept {
  static std::atomic<SignedActivationForm> form{SignedActivationForm::automatic};
  return form;
}

struct GemmS8Layout {
  std::uint32_t panel_width = 0;  // columns per panel (= int32 lanes of one accumulator vector)
  std::uint32_t k_group = 0;      // K rows interleaved per column
  std::uint32_t elem_bytes = 0;   // 1: int8 B, 2: int8 B pre-widened to int16
  std::int32_t s8_activation_offset = 0;  // added to s8 activations by the kernel
  std::uint32_t max_panels = 0;   // panels one tile covers at most
  std::int32_t u8_activation_offset = 0;  // added to u8 activations by the kernel
  std::int32_t s8_weight_offset = 0;      // added to packed B when activations are s8 (see above)
  // 1: the tile honours GemmS8Args::a_group_offset (below); 0: it reads A's rows contiguously.
  std::uint32_t a_group_offsets = 0;
  // 1: an int4 family (ElementType::s4 weights). B is 4-bit: each nibble holds the stored weight
  // + 8 (0..15), and one block of panel_width * k_group bytes holds two K groups, group 2i in the
  // low nibbles and group 2i + 1 in the high nibbles, each laid out as an int8 group would be
  // (byte (j * k_group + r) of the block: column j, K rows 2i * k_group + r and
  // (2i + 1) * k_group + r). A panel is round_up(K, 2 * k_group) * panel_width / 2 bytes. The
  // kernel multiplies A by (nibble - 8 + weight offset), the weight offset being
  // s8_weight_offset for s8 activations and 0 for u8: x86 vpdpbusd / vpmaddubsw take the nibble
  // itself as the u8 operand against s8 A (offset 8: a row term) and nibble - 8 as the s8
  // operand against u8 A (no row term). The tile steps K two groups at a time. elem_bytes is 1;
  // a_group_offsets is 0 (int4 tiles read A's rows contiguously).
  std::uint32_t b_nibbles = 0;
  // The most panels a convolution's tiles take (qk/conv.hpp; 0: max_panels). A per-core choice
  // carried by the family chosen for the core: the Zen 4 form of AVX-512 VNNI (below) says 2, so
  // that convolutions run 12 x 32 tiles with the register epilogue, not 6 x 64 / 8 x 48 ones
  // (measured there, docs/performance.md: resnet3x3_56 539-548 -> 527-533 us, its 64 columns'
  // B (18 KB a pass instead of 36) then stays in the 32 KB L1; mbv2_1x1_56 112-123 -> 107-108,
  // no accumulator buffer to store and reload on a core that stores one zmm in two cycles).
  // GEMMs keep max_panels: their rows measured the same either way, the GEMV slower.
  std::uint32_t conv_max_panels = 0;
};

struct GemmS8Args {
  std::size_t m = 0, n = 0, k = 0;
  const std::uint8_t* a = nullptr;  // A bytes (s8 or u8 per a_signed)
  std::size_t lda = 0;              // bytes between rows of A
  // A by K group (layouts with a_group_offsets only; null otherwise): K group g of row m is the
  // k_group bytes at a + m * lda + a_group_offset[g], for the k / k_group groups (k a multiple of
  // k_group). A convolution reads its input rows in place this way: each kernel row's groups,
  // and groups it composed from several rows (qk/conv.hpp). Only with u8 A (a_signed false):
  // the tiles that honour it are compiled for unsigned A alone.
  const std::size_t* a_group_offset = nullptr;
  bool a_signed = false;
  const std::uint8_t* packed_b = nullptr;  // panel 0
  std::size_t panel_bytes = 0;             // bytes from one panel to the next
  const std::int32_t* col_offset = nullptr;  // padded to whole panels
  const std::int32_t* col_zero_point = nullptr;  // null when every zb is 0
  // True when every real column's row-term coefficient equals col_zero_point[0] (the usual
  // case: no weight zero point, coefficient = the s8 weight offset): epilogues may then
  // subtract one scalar per row instead of multiplying per column.
  bool row_term_uniform = false;
  // Row sums of A (m values) when col_zero_point != null, if the caller precomputed them; when
  // null, each tile computes the sums of its own rows (they are in L1 at that point).
  const std::int32_t* row_sum = nullptr;
  // When set (and there is a row term), tiles compute the sums of their own rows right after
  // their K loop (the rows are then in L1), use them, and store them here, indexed like row_sum,
  // for later panel groups of the same rows. A separate pass over A before the GEMM cost ~14% on
  // 3136x64x576: it reads A from memory without overlapping any compute.
  std::int32_t* row_sum_out = nullptr;
  OutputStage out;
  std::uint8_t* c = nullptr;  // C bytes
  std::size_t ldc_bytes = 0;
};

using GemmS8TileFn = void (*)(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end,
                              std::size_t panel_begin, std::size_t panel_end);

// out[i] = sum of the k activations of row i (as int8 if a_signed, else uint8).
using GemmS8RowSumsFn = void (*)(const std::uint8_t* a, std::size_t lda, bool a_signed, std::size_t m,
                                 std::size_t k, std::int32_t* out);

// dst[i] = src[i] ^ flip for i < n: the copies a convolution makes of A (flipping s8 to u8).
using GemmS8CopyFn = void (*)(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint8_t flip);

// dst[i * pitch + j] = src[j][i * pitch] for i < count and j < k_group (pitch >= k_group; the
// bytes of dst between groups, and those of a null src[j], are set to unspecified values): K
// groups a convolution composes from bytes of several input rows, one byte per row (qk/conv.hpp).
// The function may form (not read) addresses up to k_group bytes before each src[j].
using GemmS8ComposeFn = void (*)(std::uint8_t* dst, const std::uint8_t* const* src, std::size_t pitch, std::size_t count);

struct GemmS8Kernel {
  Isa isa = Isa::scalar;
  GemmS8Layout layout;
  GemmS8TileFn run = nullptr;
  GemmS8RowSumsFn row_sums = nullptr;  // optional SIMD row sums; null: portable loop
  GemmS8CopyFn copy_a = nullptr;       // optional SIMD copy in the family's vectors; null: portable
  GemmS8ComposeFn compose_a = nullptr; // optional; null: a convolution pads its runs instead
};

// The narrow single-shift requantization (epilogue_avx512.inl's epi_single_shift_narrow, and
// its ymm form in epilogue_avx2.inl) is exact for multipliers of at least kNarrowMultiplierMin
// (TFLite's QuantizeMultiplier always gives that) and |accumulator| < kNarrowAccumulatorBound.
constexpr std::int32_t kNarrowMultiplierMin = std::int32_t{1} << 30;
constexpr std::int64_t kNarrowAccumulatorBound = std::int64_t{1} << 29;

// The largest |start value| (column offset or bias) an accumulator of `terms` u8 x int8 products
// (each at most 255 * 128 in magnitude) may start from and stay below kNarrowAccumulatorBound;
// negative when none can. The one bound test of the GEMM epilogues and the depthwise kernel.
constexpr std::int64_t narrow_offset_room(std::size_t terms) noexcept {
  const std::size_t capped = terms < (std::size_t{1} << 20) ? terms : (std::size_t{1} << 20);
  return kNarrowAccumulatorBound - 1 - static_cast<std::int64_t>(capped) * 255 * 128;
}

// Portable row sums (the definition of GemmS8RowSumsFn).
inline void row_sums_scalar(const std::uint8_t* a, std::size_t lda, bool a_signed, std::size_t m, std::size_t k,
                            std::int32_t* out) noexcept {
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint8_t* row = a + i * lda;
    std::int32_t s = 0;
    for (std::size_t kk = 0; kk < k; ++kk)
      s += a_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(row[kk])) : static_cast<std::int32_t>(row[kk]);
    out[i] = s;
  }
}

// Row sum of row m for the row term: precomputed, or computed now (and stored if asked).
inline std::int32_t row_sum_for(const GemmS8Args& args, std::size_t m) noexcept {
  if (args.col_zero_point == nullptr) return 0;
  if (args.row_sum != nullptr && args.row_sum_out == nullptr) return args.row_sum[m];
  std::int32_t s = 0;
  row_sums_scalar(args.a + m * args.lda, args.lda, args.a_signed, 1, args.k, &s);
  if (args.row_sum_out != nullptr) args.row_sum_out[m] = s;
  return s;
}

// Finishes one row of a tile: acc[j] is the kernel's sum for column n0 + j, *without* col_offset;
// rs is the row's sum of A (used only when there is a row term).
// Portable; SIMD families use it for the columns their vector epilogue does not cover.
inline void finish_row_scalar(const GemmS8Args& args, std::size_t m, std::size_t n0, std::size_t count,
                              const std::int32_t* acc, std::int32_t rs) noexcept {
  void* row = args.c + m * args.ldc_bytes;
  for (std::size_t j = 0; j < count; ++j) {
    const std::size_t n = n0 + j;
    std::uint32_t v = static_cast<std::uint32_t>(acc[j]) + static_cast<std::uint32_t>(args.col_offset[n]);
    if (args.col_zero_point != nullptr)
      v -= static_cast<std::uint32_t>(args.col_zero_point[n]) * static_cast<std::uint32_t>(rs);
    detail::output_element(static_cast<std::int32_t>(v), n, args.out, row, n);
  }
}

}  // namespace kernels
}  // namespace qk
