// qk/kernels/x86/gemm_s8_x86.hpp - the four x86 int8 GEMM kernel families.
//
//   family      instruction                      panel  K group  B stored  s8 A       tiles
//   avx512vnni  vpdpbusd zmm (u8 x s8 -> s32)     16     4        int8/+128 s8 operand 8x48, 6x64
//    (on Zen 4)                                                    int8      xor 0x80   convolutions 12x32
//   avxvnni     vpdpbusd ymm (VEX)                8      4        int8/+128 s8 operand 6 x 16
//   avx512bw    vpmaddwd zmm (s16 x s16 -> s32)   16     2        int16     widened    8x48, 6x64
//   avx2        vpmaddwd ymm                      8      2        int16     widened    6 x 16
//
// Why no vpmaddubsw: it adds two u8 x s8 products into a *saturating* int16, and 255 * 127 * 2
// does not fit, so it silently clips exactly at the extremes users feed it (oneDNN #476,
// ORT #16105). Without VNNI qk widens both operands to int16 and uses vpmaddwd, whose pair sums
// (at most 2 * 255 * 128) always fit in int32; B is widened once, at packing.
//
// Each family is compiled inside its own target region (GCC push_options/target, Clang
// attribute push), so a binary built without -m flags carries all four and dispatches at run
// time; the kernel descriptors are defined outside the regions and only hold function pointers.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qk/kernels/gemm_s8_contract.hpp"
#include "qk/kernels/target_region.hpp"

// GCC 12's AVX-512 intrinsic headers build vectors from a deliberately uninitialised variable
// (_mm512_undefined_epi32), which -Wmaybe-uninitialized reports once inlined (GCC bug 105593).
// Silenced for the kernel headers only; the matching pop is at the end of this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same report, when the use is not inlined into a caller
#endif

#if defined(__GNUC__) || defined(__clang__)
#define QK_KERNEL_INLINE inline __attribute__((always_inline))
// A real call at a boundary where the callee does enough work (a whole register tile over all of
// K, a channel segment over a whole output row) that the call is free, and that the compiler then
// optimises each instantiation on its own: inlined into their dispatcher, GCC's passes ran over
// one function of ~70 tiles, and a file calling conv_s8 took 31 s at -O2 instead of 19.
#define QK_KERNEL_NOINLINE inline __attribute__((noinline))
#else
#define QK_KERNEL_INLINE inline
#define QK_KERNEL_NOINLINE inline
#endif
#if defined(__clang__)
#define QK_UNROLL _Pragma("clang loop unroll(full)")
#else
#define QK_UNROLL _Pragma("GCC unroll 16")
#endif

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
namespace qk {
namespace kernels {
namespace avx512vnni {
struct Traits {
  using Vec = __m512i;
  static constexpr std::size_t kLanes = 16, kKGroup = 4, kElemBytes = 1, kMaxPanels = 4;
  // 32 zmm registers: rows x panels accumulators + panels B vectors + 1 broadcast A.
  // 4 panels: 6 x 64 (24 + 4 + 1); 3 panels: 8 x 48 (24 + 3 + 1); 1-2 panels: 12 x 32 (24 + 2 + 1),
  // which halves the per-tile overhead (offset loads, stores, the epilogue call) per output of a
  // 32-channel layer against 8 rows.
  static constexpr std::size_t rows_for(std::size_t panels) { return panels == 4 ? 6 : panels == 3 ? 8 : 12; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm512_setzero_si512(); }
  // Unaligned: pack_into() accepts caller memory of any alignment (see the AVX2 families).
  static QK_KERNEL_INLINE Vec load_b(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  // vpdpbusd multiplies u8 (second operand) by s8 (third). u8 A is the u8 operand; s8 A is the
  // s8 operand against B packed as B + 128 (layout s8_weight_offset; see gemm_s8_contract.hpp).
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept {
    return Signed ? _mm512_dpbusd_epi32(acc, b, a) : _mm512_dpbusd_epi32(acc, a, b);
  }
  // Row sums (epilogue_avx512.inl): one vpdpbusd against ones per 64 bytes sums groups of
  // four bytes into int32 lanes, exactly (no saturation), for s8 (as the signed operand) or u8.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec row_sum_step(Vec acc, Vec bytes) noexcept {
    const Vec ones = _mm512_set1_epi8(1);
    return Signed ? _mm512_dpbusd_epi32(acc, ones, bytes) : _mm512_dpbusd_epi32(acc, bytes, ones);
  }
  static QK_KERNEL_INLINE std::int32_t row_sum_finish(Vec acc, bool, std::size_t) noexcept {
    return _mm512_reduce_add_epi32(acc);
  }
  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept { _mm512_store_si512(p, v); }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept { return _mm512_loadu_si512(p); }
};
#include "qk/kernels/x86/epilogue_avx512.inl"
#include "qk/kernels/x86/gemm_s8_tile.inl"

// The same family with s8 A xor-ed to u8 in the loop (layout s8_activation_offset 128, B stored
// as it is, no row term), for the cores where that is faster (SignedActivationForm,
// gemm_s8_contract.hpp). The broadcast of an A group and its xor are one instruction
// (vpxord with a 32-bit broadcast operand: GCC 12 folds them, checked in the disassembly), which
// on Zen 4 costs less than what it removes, the row term: the rows' sums after each tile's K
// loop and the wide epilogue (without it these GEMMs take the narrow, pipelined one). Only the
// s8 tiles are its own; u8 A runs the family above (the same packing for u8 A: no offset either
// way).
namespace xor_a {
struct Traits : avx512vnni::Traits {
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    const Vec a = _mm512_set1_epi32(v);
    return Signed ? _mm512_xor_si512(a, _mm512_set1_epi32(static_cast<std::int32_t>(0x80808080u))) : a;
  }
  template <bool>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept {
    return _mm512_dpbusd_epi32(acc, a, b);
  }
};
#define QK_GEMM_TILE_XOR_A 1
#include "qk/kernels/x86/gemm_s8_tile.inl"
#undef QK_GEMM_TILE_XOR_A
// The GemmS8TileFn of this form: s8 A here, u8 A in the family above.
inline void gemm_s8_run_xor(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                            std::size_t panel_end) noexcept {
  if (args.a_signed)
    gemm_s8_group<true>(args, m_begin, m_end, panel_begin, panel_end - panel_begin);
  else
    avx512vnni::gemm_s8_run(args, m_begin, m_end, panel_begin, panel_end);
}
}  // namespace xor_a
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX-512 BW (no VNNI): int16 x int16 pairs
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512bw {
struct Traits {
  using Vec = __m512i;
  static constexpr std::size_t kLanes = 16, kKGroup = 2, kElemBytes = 2, kMaxPanels = 4;
  static constexpr std::size_t rows_for(std::size_t panels) { return panels == 4 ? 6 : panels == 3 ? 8 : 12; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm512_setzero_si512(); }
  // Unaligned: pack_into() accepts caller memory of any alignment (see the AVX2 families).
  static QK_KERNEL_INLINE Vec load_b(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
  // Two activations widened to int16 and placed in every 32-bit lane, in general registers.
  // avx2's way (a 2-byte broadcast and vpmovzxbw / vpmovsxbw, see there) measured no better on
  // Zen 4 with zmm (3 interleaved pairs, best of each, per benchmark row: 0.93-1.18x this
  // time, no consistent direction), so this stays.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec pair(std::uint32_t a0, std::uint32_t a1) noexcept {
    const std::uint32_t lo = Signed ? static_cast<std::uint32_t>(static_cast<std::int8_t>(a0)) & 0xFFFFu : a0;
    const std::uint32_t hi = Signed ? static_cast<std::uint32_t>(static_cast<std::int8_t>(a1)) & 0xFFFFu : a1;
    return _mm512_set1_epi32(static_cast<int>(lo | (hi << 16)));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept { return pair<Signed>(p[0], p[1]); }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept { return _mm512_add_epi32(acc, _mm512_madd_epi16(a, b)); }
  // Row sums (epilogue_avx512.inl): vpsadbw sums 8 bytes into each 64-bit lane; s8 bytes are
  // flipped to u8 (+128, padding zeros included) and 128 per byte read is taken off at the end.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec row_sum_step(Vec acc, Vec bytes) noexcept {
    if (Signed) bytes = _mm512_xor_si512(bytes, _mm512_set1_epi8(static_cast<char>(0x80)));
    return _mm512_add_epi64(acc, _mm512_sad_epu8(bytes, _mm512_setzero_si512()));
  }
  static QK_KERNEL_INLINE std::int32_t row_sum_finish(Vec acc, bool is_signed, std::size_t bytes_read) noexcept {
    return static_cast<std::int32_t>(_mm512_reduce_add_epi64(acc) - (is_signed ? 128 * static_cast<std::int64_t>(bytes_read) : 0));
  }
  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept { _mm512_store_si512(p, v); }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept { return _mm512_loadu_si512(p); }
};
#include "qk/kernels/x86/epilogue_avx512.inl"
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace avx512bw
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX-VNNI (VEX vpdpbusd on ymm; 16 vector registers)
QK_TARGET_PUSH("avx2,fma,bmi2,avxvnni")
namespace qk {
namespace kernels {
namespace avxvnni {
struct Traits {
  using Vec = __m256i;
  static constexpr std::size_t kLanes = 8, kKGroup = 4, kElemBytes = 1, kMaxPanels = 2;
  // 16 ymm registers: 6 x 2 accumulators + 2 B + 1 A.
  static constexpr std::size_t rows_for(std::size_t) { return 6; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm256_setzero_si256(); }
  // Unaligned load: pack_into() takes caller memory of any alignment (64 bytes only recommended);
  // on aligned data it costs the same as the aligned form, which faulted on a misaligned buffer.
  static QK_KERNEL_INLINE Vec load_b(const std::uint8_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  // As avx512vnni: s8 A is the signed operand against B + 128.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept {
    return Signed ? _mm256_dpbusd_avx_epi32(acc, b, a) : _mm256_dpbusd_avx_epi32(acc, a, b);
  }

  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept {
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};
#include "qk/kernels/x86/epilogue_avx2.inl"
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace avxvnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX2: int16 x int16 pairs on ymm
QK_TARGET_PUSH("avx2,fma,bmi2")
namespace qk {
namespace kernels {
namespace avx2 {
struct Traits {
  using Vec = __m256i;
  static constexpr std::size_t kLanes = 8, kKGroup = 2, kElemBytes = 2, kMaxPanels = 2;
  static constexpr std::size_t rows_for(std::size_t) { return 6; }
  static QK_KERNEL_INLINE Vec zero() noexcept { return _mm256_setzero_si256(); }
  // Unaligned load: pack_into() takes caller memory of any alignment (64 bytes only recommended);
  // on aligned data it costs the same as the aligned form, which faulted on a misaligned buffer.
  static QK_KERNEL_INLINE Vec load_b(const std::uint8_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
  // A group's two activations (p[0], p[1]) widened to int16 in every 32-bit lane: a 2-byte
  // broadcast load puts a0, a1, a0, a1, ... in the 16 bytes of an xmm, which vpmovzxbw
  // (u8) or vpmovsxbw (s8) widens to 16 words, a0, a1 in every dword. Two vector ops, no
  // general register and no constant register. Widened in general registers (two byte loads,
  // a shift, an or, a move to a vector register and a broadcast), the 6 x 16 tile's K loop was
  // 73 instructions per group for its 12 vpmaddwd, against 46 now, and int8 ran no faster than
  // fp32 (docs/performance.md). A byte shuffle of the broadcast (vpshufb) needed a constant
  // register, the 16th, and GCC spilled an accumulator for it. Reads the group's two bytes.
  template <bool Signed>
  static QK_KERNEL_INLINE Vec bcast_a(const std::uint8_t* p) noexcept {
    std::int16_t pair;
    std::memcpy(&pair, p, 2);
    const __m128i bytes = _mm_set1_epi16(pair);
    return Signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
  }
  template <bool Signed>
  static QK_KERNEL_INLINE Vec madd(Vec acc, Vec a, Vec b) noexcept { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }
  static QK_KERNEL_INLINE void store(std::int32_t* p, Vec v) noexcept {
    _mm256_store_si256(reinterpret_cast<__m256i*>(p), v);
  }
  static QK_KERNEL_INLINE Vec load_offset(const std::int32_t* p) noexcept {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  }
};
#include "qk/kernels/x86/epilogue_avx2.inl"
#include "qk/kernels/x86/gemm_s8_tile.inl"
}  // namespace avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// Descriptors: outside every target region, they only take the kernels' addresses.
namespace qk {
namespace kernels {
#define QK_X86_GEMM_S8_DESCRIPTOR(ns, isa_value, weight_offset, compose)                                                   \
  namespace ns {                                                                                          \
  inline const GemmS8Kernel& gemm_s8_kernel() noexcept {                                                  \
    static const GemmS8Kernel kernel = {                                                                  \
        isa_value,                                                                                        \
        GemmS8Layout{static_cast<std::uint32_t>(Traits::kLanes), static_cast<std::uint32_t>(Traits::kKGroup), \
                     static_cast<std::uint32_t>(Traits::kElemBytes), 0,                                   \
                     static_cast<std::uint32_t>(Traits::kMaxPanels), 0, weight_offset, 1},                \
        &gemm_s8_run, &gemm_s8_row_sums, &gemm_s8_copy_a, compose};                                       \
    return kernel;                                                                                        \
  }                                                                                                       \
  }
// compose_a: AVX-512 only (it is masked byte loads); AVX2 convolutions pad their runs instead.
QK_X86_GEMM_S8_DESCRIPTOR(avx512vnni, Isa::avx512vnni, 128, &gemm_s8_compose_a)
namespace avx512vnni {
namespace xor_a {
inline const GemmS8Kernel& gemm_s8_kernel() noexcept {
  static const GemmS8Kernel kernel = {
      Isa::avx512vnni,
      GemmS8Layout{static_cast<std::uint32_t>(Traits::kLanes), static_cast<std::uint32_t>(Traits::kKGroup),
                   static_cast<std::uint32_t>(Traits::kElemBytes), 128, static_cast<std::uint32_t>(Traits::kMaxPanels),
                   0, 0, 1, 0, /*conv_max_panels=*/2},
      &gemm_s8_run_xor, &avx512vnni::gemm_s8_row_sums, &avx512vnni::gemm_s8_copy_a, &avx512vnni::gemm_s8_compose_a};
  return kernel;
}
}  // namespace xor_a
}  // namespace avx512vnni
QK_X86_GEMM_S8_DESCRIPTOR(avx512bw, Isa::avx512bw, 0, &gemm_s8_compose_a)
QK_X86_GEMM_S8_DESCRIPTOR(avxvnni, Isa::avxvnni, 128, nullptr)
QK_X86_GEMM_S8_DESCRIPTOR(avx2, Isa::avx2, 0, nullptr)
#undef QK_X86_GEMM_S8_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
