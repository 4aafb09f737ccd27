// qk/kernels/x86/depthwise_s8_x86.hpp - depthwise int8 convolution kernels for the four x86
// families, next to (and sharing the epilogue of) the GEMM kernels in gemm_s8_x86.hpp.
//
//   family      widen        pair product                    channels per step
//   avx512vnni  vpmovsx/zxbw vpdpwssd zmm (s16 pairs -> s32)  32
//   avx512bw    vpmovsx/zxbw vpmaddwd + vpaddd zmm            32
//   avxvnni     vpmovsx/zxbw vpdpwssd ymm (VEX)               16
//   avx2        vpmovsx/zxbw vpmaddwd + vpaddd ymm            16
//
// Why int16 pairs of taps and not vpdpbusd: depthwise has no channel reduction, so a u8 x s8
// dot product of four would have to combine four taps of one channel, which NHWC stores
// C bytes apart (a transpose per pixel); and w - w_zero_point needs 9 bits. Two taps widened to
// int16 and interleaved with vpunpck{l,h}wd feed vpmaddwd directly; the packed weights are stored
// in that interleaved order (see depthwise_s8_contract.hpp), so no shuffle is needed on them.
// The kernel is memory bound on real layers; the widening costs less than the loads.
//
// Same region pattern as gemm_s8_x86.hpp: each family reopens the GEMM family's namespace inside
// the same target, so finish_row() (always_inline, same target) is inlined into the loop.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/kernels/depthwise_s8_contract.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"

// GCC 12 bug 105593 (see gemm_s8_x86.hpp): spurious -Wmaybe-uninitialized from the AVX-512
// intrinsic headers once inlined. Popped at the end of this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// ---------------------------------------------------------------------------------------------
// AVX-512 (VNNI and BW share everything but the pair product)
#define QK_DW_AVX512_TRAITS(DOT_EXPR)                                                                   \
  struct DwTraits {                                                                                    \
    using Vec = __m512i;                                                                               \
    static constexpr std::size_t kBlock = 32;                                                          \
    static QK_KERNEL_INLINE Vec zero() noexcept { return _mm512_setzero_si512(); }                     \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec widen(__m256i v) noexcept {                                            \
      return Signed ? _mm512_cvtepi8_epi16(v) : _mm512_cvtepu8_epi16(v);                               \
    }                                                                                                  \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec load(const std::uint8_t* p) noexcept {                                 \
      return widen<Signed>(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));                   \
    }                                                                                                  \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec load_tail(const std::uint8_t* p, std::size_t count) noexcept {         \
      const __mmask32 m = static_cast<__mmask32>((std::uint64_t{1} << count) - 1u);                    \
      return widen<Signed>(_mm256_maskz_loadu_epi8(m, p));                                             \
    }                                                                                                  \
    static QK_KERNEL_INLINE Vec load_w(const std::int32_t* p) noexcept { return _mm512_loadu_si512(p); } \
    static QK_KERNEL_INLINE Vec lo(Vec a, Vec b) noexcept { return _mm512_unpacklo_epi16(a, b); }      \
    static QK_KERNEL_INLINE Vec hi(Vec a, Vec b) noexcept { return _mm512_unpackhi_epi16(a, b); }      \
    static QK_KERNEL_INLINE Vec dot(Vec acc, Vec x, Vec w) noexcept { return DOT_EXPR; }               \
    /* lo holds channels {0-3, 8-11, 16-19, 24-27}, hi {4-7, 12-15, 20-23, 28-31}, one 128-bit   */    \
    /* lane per group of four: interleave the lanes back (qword indices, bit 3 selects hi).      */    \
    static QK_KERNEL_INLINE void store_acc(std::int32_t* p, Vec l, Vec h) noexcept {                   \
      const __m512i first = _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11);                               \
      const __m512i second = _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15);                            \
      _mm512_store_si512(p, _mm512_permutex2var_epi64(l, first, h));                                   \
      _mm512_store_si512(p + 16, _mm512_permutex2var_epi64(l, second, h));                             \
    }                                                                                                  \
  };

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
#endif
namespace qk {
namespace kernels {
namespace avx512vnni {
QK_DW_AVX512_TRAITS(_mm512_dpwssd_epi32(acc, x, w))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
#endif
namespace qk {
namespace kernels {
namespace avx512bw {
QK_DW_AVX512_TRAITS(_mm512_add_epi32(acc, _mm512_madd_epi16(x, w)))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avx512bw
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef QK_DW_AVX512_TRAITS

// ---------------------------------------------------------------------------------------------
// AVX2 / AVX-VNNI on ymm. No masked byte loads: a channel tail is copied to a zeroed stack block.
#define QK_DW_AVX2_TRAITS(DOT_EXPR)                                                                     \
  struct DwTraits {                                                                                    \
    using Vec = __m256i;                                                                               \
    static constexpr std::size_t kBlock = 16;                                                          \
    static QK_KERNEL_INLINE Vec zero() noexcept { return _mm256_setzero_si256(); }                     \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec widen(__m128i v) noexcept {                                            \
      return Signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);                               \
    }                                                                                                  \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec load(const std::uint8_t* p) noexcept {                                 \
      return widen<Signed>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));                      \
    }                                                                                                  \
    template <bool Signed>                                                                             \
    static QK_KERNEL_INLINE Vec load_tail(const std::uint8_t* p, std::size_t count) noexcept {         \
      alignas(16) std::uint8_t block[16] = {};                                                         \
      for (std::size_t i = 0; i < count; ++i) block[i] = p[i];                                         \
      return widen<Signed>(_mm_load_si128(reinterpret_cast<const __m128i*>(block)));                   \
    }                                                                                                  \
    static QK_KERNEL_INLINE Vec load_w(const std::int32_t* p) noexcept {                               \
      return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));                                  \
    }                                                                                                  \
    static QK_KERNEL_INLINE Vec lo(Vec a, Vec b) noexcept { return _mm256_unpacklo_epi16(a, b); }      \
    static QK_KERNEL_INLINE Vec hi(Vec a, Vec b) noexcept { return _mm256_unpackhi_epi16(a, b); }      \
    static QK_KERNEL_INLINE Vec dot(Vec acc, Vec x, Vec w) noexcept { return DOT_EXPR; }               \
    /* lo holds channels {0-3, 8-11}, hi {4-7, 12-15}. */                                              \
    static QK_KERNEL_INLINE void store_acc(std::int32_t* p, Vec l, Vec h) noexcept {                   \
      _mm256_store_si256(reinterpret_cast<__m256i*>(p), _mm256_permute2x128_si256(l, h, 0x20));        \
      _mm256_store_si256(reinterpret_cast<__m256i*>(p + 8), _mm256_permute2x128_si256(l, h, 0x31));    \
    }                                                                                                  \
  };

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2,avxvnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2,avxvnni")
#endif
namespace qk {
namespace kernels {
namespace avxvnni {
QK_DW_AVX2_TRAITS(_mm256_dpwssd_avx_epi32(acc, x, w))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avxvnni
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,bmi2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,bmi2")
#endif
namespace qk {
namespace kernels {
namespace avx2 {
QK_DW_AVX2_TRAITS(_mm256_add_epi32(acc, _mm256_madd_epi16(x, w)))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avx2
}  // namespace kernels
}  // namespace qk
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef QK_DW_AVX2_TRAITS

// Descriptors: outside every target region, they only take the kernels' addresses.
namespace qk {
namespace kernels {
#define QK_X86_DEPTHWISE_S8_DESCRIPTOR(ns, isa_value)                                                  \
  namespace ns {                                                                                     \
  inline const DepthwiseS8Kernel& depthwise_s8_kernel() noexcept {                                   \
    static const DepthwiseS8Kernel kernel = {isa_value, static_cast<std::uint32_t>(DwTraits::kBlock), \
                                             &depthwise_s8_run};                                     \
    return kernel;                                                                                   \
  }                                                                                                  \
  }
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avx512vnni, Isa::avx512vnni)
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avx512bw, Isa::avx512bw)
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avxvnni, Isa::avxvnni)
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avx2, Isa::avx2)
#undef QK_X86_DEPTHWISE_S8_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
