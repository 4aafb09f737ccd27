// qk/kernels/x86/gemm_s4_x86.hpp - the four x86 int4-weight GEMM kernel families (W4A8, per
// channel: TFLite's int4 arithmetic, the int8 output stage).
//
//   family          instruction                               panel  K step      B stored     tiles
//   avx512vnni::s4  vpdpbusd zmm                               16     2 x 4 (8)   w + 8, 4-bit as int8's
//   avx512bw::s4    vpmaddubsw + vpmaddwd(ones) zmm            16     2 x 4 (8)   w + 8, 4-bit as int8's
//   avxvnni::s4     vpdpbusd ymm (VEX)                         8      2 x 4 (8)   w + 8, 4-bit 5 x 16
//   avx2::s4        vpmaddubsw + vpmaddwd(ones) ymm            8      2 x 4 (8)   w + 8, 4-bit 4 x 16
//
// B is loaded unaligned, as in the int8 families: pack_into() takes caller memory of any
// alignment (the loads fold into the and / shift either way).
//
// Packed B (gemm_s8_contract.hpp, GemmS8Layout::b_nibbles): each nibble holds u = w + 8 in
// [0, 15], and one vector of bytes holds two K groups, the low nibbles group g and the high
// nibbles group g + 1, each laid out as the int8 layout's group. One load gives both groups'
// vectors with an and (low) and a shift and an and (high): the expansion lives in the packed
// layout and in registers, never in a separate pass or a buffer.
//
// u is a valid operand of either signedness, so one packing serves both activation types:
//  - s8 A: u is the u8 operand, A the s8 one; sum A u = sum A w + 8 rowsum(A), the layout's
//    weight offset of 8 joins the row term (as the int8 families' 128).
//  - u8 A: u - 8 = w (one subtract per vector) is the s8 operand, A the u8 one: no row term, so
//    a convolution (whose gathers flip s8 input to u8) keeps the narrow epilogue of int8 layers.
//    In the loop the subtract, like the and and the shift, issues beside the vpdpbusd (the conv
//    layers, all u8 A, run within noise of their int8 twins).
//
// vpmaddubsw (AVX2, AVX-512BW) is exact here: its int16 pair sums are at most 2 * 15 * 128 =
// 3840 (s8 A against u) and 2 * 255 * 8 = 4080 (u8 A against w), far below 32767, so the
// saturation that keeps the int8 families off it (gemm_s8_x86.hpp) cannot happen. vpmaddwd
// against ones then sums the pairs into the int32 lanes: a 4-deep K group, as vpdpbusd's, at 3
// instructions instead of 1, and a quarter of the B bytes of the int8 widening families'
// int16 panels (4 bits against 16): on this machine 1.2-2.5x their int8 speed.
//
// Each family is its ISA's namespace `s4`, in the ISA's target region, with its own Traits; the
// tile loop is gemm_s8_tile.inl again (QK_GEMM_TILE_S4: its K loop steps two groups and calls
// Traits::b_lo / b_hi), and everything after the K loop (epilogue, row sums, copies) is the
// ISA's own, shared with the int8 tiles.
#pragma once

#include "qk/kernels/x86/gemm_s8_x86.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, as in gemm_s8_x86.hpp
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define QK_GEMM_TILE_S4 1

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
namespace qk {
namespace kernels {
namespace avx512vnni {
namespace s4 {
// The int8 family's broadcasts and vpdpbusd (madd<Signed> puts s8 A on the signed side, as with
// B + 128); only B's loads differ.
struct Traits : avx512vnni::Traits {
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_lo(const std::uint8_t* p) noexcept {
    const Vec v = _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi8(0x0F));
    return Signed ? v : _mm512_sub_epi8(v, _mm512_set1_epi8(8));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_hi(const std::uint8_t* p) noexcept {
    const Vec v = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(p), 4), _mm512_set1_epi8(0x0F));
    return Signed ? v : _mm512_sub_epi8(v, _mm512_set1_epi8(8));
  }
};
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace s4
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX-512 BW: vpmaddubsw (exact for 4-bit B, above) + vpmaddwd against ones
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512bw {
namespace s4 {
struct Traits {
  using Vec = __m512i;
  static constexpr std::size_t kLanes = 16, kKGroup = 4, kElemBytes = 1, kMaxPanels = 4;
  static constexpr std::size_t rows_for(std::size_t panels) { return panels == 4 ? 6 : panels == 3 ? 8 : 12; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm512_setzero_si512(); }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  // vpmaddubsw takes u8 first, s8 second: s8 A against u, u8 A against w.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept {
    const Vec pairs = Signed ? _mm512_maddubs_epi16(b, a) : _mm512_maddubs_epi16(a, b);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_lo(const std::uint8_t* p) noexcept {
    const Vec v = _mm512_and_si512(_mm512_loadu_si512(p), _mm512_set1_epi8(0x0F));
    return Signed ? v : _mm512_sub_epi8(v, _mm512_set1_epi8(8));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_hi(const std::uint8_t* p) noexcept {
    const Vec v = _mm512_and_si512(_mm512_srli_epi16(_mm512_loadu_si512(p), 4), _mm512_set1_epi8(0x0F));
    return Signed ? v : _mm512_sub_epi8(v, _mm512_set1_epi8(8));
  }
  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept { _mm512_store_si512(p, v); }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept { return _mm512_loadu_si512(p); }
};
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace s4
}  // namespace avx512bw
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX-VNNI (ymm)
QK_TARGET_PUSH("avx2,fma,bmi2,avxvnni")
namespace qk {
namespace kernels {
namespace avxvnni {
namespace s4 {
// 16 ymm registers: 12 accumulators, 2 B vectors, the broadcast and the loaded block the VEX
// shift needs in a register (it has no memory form) take them all, so the nibble mask and the 8
// are memory operands, read through a pointer the compiler cannot see through (ymm_constant):
// kept in registers, they pushed two accumulators to the stack on every K step.
struct Traits : avxvnni::Traits {
  alignas(32) static constexpr std::uint8_t kConstants[64] = {
      15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
      8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8,  8};
  static constexpr std::size_t rows_for(std::size_t) { return 5; }
  static QK_KERNEL_INLINE Vec ymm_constant(std::size_t at) noexcept {
    const std::uint8_t* p = kConstants + at;
    __asm__ volatile("" : "+r"(p));
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_lo(const std::uint8_t* p) noexcept {
    const Vec v = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), ymm_constant(0));
    return Signed ? v : _mm256_sub_epi8(v, ymm_constant(32));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_hi(const std::uint8_t* p) noexcept {
    const Vec v = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), 4), ymm_constant(0));
    return Signed ? v : _mm256_sub_epi8(v, ymm_constant(32));
  }
};
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace s4
}  // namespace avxvnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX2: vpmaddubsw + vpmaddwd against ones on ymm
QK_TARGET_PUSH("avx2,fma,bmi2")
namespace qk {
namespace kernels {
namespace avx2 {
namespace s4 {
// 16 ymm registers: each product needs a temporary (the vpmaddubsw result), and the ones and
// the nibble mask take two more, so 4 rows (8 accumulators): with 6, GCC 12 kept a third of the
// loop's operands on the stack.
struct Traits {
  using Vec = __m256i;
  static constexpr std::size_t kLanes = 8, kKGroup = 4, kElemBytes = 1, kMaxPanels = 2;
  static constexpr std::size_t rows_for(std::size_t) { return 4; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm256_setzero_si256(); }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept {
    const Vec pairs = Signed ? _mm256_maddubs_epi16(b, a) : _mm256_maddubs_epi16(a, b);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_lo(const std::uint8_t* p) noexcept {
    const Vec v = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8(0x0F));
    return Signed ? v : _mm256_sub_epi8(v, _mm256_set1_epi8(8));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec b_hi(const std::uint8_t* p) noexcept {
    const Vec v = _mm256_and_si256(_mm256_srli_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), 4),
                                   _mm256_set1_epi8(0x0F));
    return Signed ? v : _mm256_sub_epi8(v, _mm256_set1_epi8(8));
  }
  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept {
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace s4
}  // namespace avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

#undef QK_GEMM_TILE_S4

// Descriptors: outside every target region. The row sums and A copies are the ISA's int8 ones
// (they touch A only). No A by K group (a_group_offsets 0, no compose_a): 16 fewer tiles per
// AVX-512 family (docs/build.md); a convolution expands a first layer's int4 weights to int8
// instead (conv.hpp), and that layer reads its input rows in place on the int8 family.
namespace qk {
namespace kernels {
#define QK_X86_GEMM_S4_DESCRIPTOR(ns, isa_value, compose)                                                       \
  namespace ns {                                                                                                \
  namespace s4 {                                                                                                \
  inline const GemmS8Kernel& gemm_s4_kernel() noexcept {                                                        \
    static const GemmS8Kernel kernel = {                                                                        \
        isa_value,                                                                                              \
        GemmS8Layout{static_cast<std::uint32_t>(Traits::kLanes), static_cast<std::uint32_t>(Traits::kKGroup), 1, \
                     0, static_cast<std::uint32_t>(Traits::kMaxPanels), 0, 8, 0, 1},                            \
        &gemm_s8_run, &ns::gemm_s8_row_sums, &ns::gemm_s8_copy_a, compose};                                    \
    return kernel;                                                                                              \
  }                                                                                                             \
  }                                                                                                             \
  }
QK_X86_GEMM_S4_DESCRIPTOR(avx512vnni, Isa::avx512vnni, nullptr)
QK_X86_GEMM_S4_DESCRIPTOR(avx512bw, Isa::avx512bw, nullptr)
QK_X86_GEMM_S4_DESCRIPTOR(avxvnni, Isa::avxvnni, nullptr)
QK_X86_GEMM_S4_DESCRIPTOR(avx2, Isa::avx2, nullptr)
#undef QK_X86_GEMM_S4_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
