// qk/kernels/x86/gemm_q4_x86.hpp - the four x86 blockwise 4-bit kernel families.
//
//   family      panel  int8 x nibble dot (scheme a)                    tile rows x cols
//   avx512vnni  16     vpdpbusd zmm (u = nibble, s8 = A)               4 x 32
//   avx512bw    16     vpmaddubsw zmm + vpmaddwd(ones)                 4 x 32
//   avxvnni     8      vpdpbusd ymm (VEX)                              2 x 16
//   avx2        8      vpmaddubsw ymm + vpmaddwd(ones)                 2 x 16
//
// vpmaddubsw is exact here, unlike in the int8 GEMM (docs/design.md): its unsigned operand is
// the nibble u in [0, 15] and its signed one the quantized A in [-127, 127], so a pair sum is at
// most 2 * 15 * 127 = 3810, far from int16 saturation. The zero point is not applied per
// element: isum = sum q u - zp * sum q, with the block sums of q made by the quantizer.
// Nibbles are expanded by one and (low) or shift + and (high) of the load; no separate pass.
// Scheme (b) expands 16 (8) columns of one k to fp32 per step: shift + vpermps from a 16-entry
// table (AVX-512), shift + and + vcvtdq2ps (AVX2), minus the zero point (exact small integers).
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/kernels/gemm_q4_contract.hpp"
#include "qk/kernels/target_region.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"  // QK_KERNEL_INLINE / NOINLINE / UNROLL

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, as gemm_s8_x86.hpp
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

// Shared AVX-512 pieces of both zmm families (everything but the dot).
#define QK_Q4_AVX512_TRAITS                                                                               \
  using Vi = __m512i;                                                                                     \
  using Vf = __m512;                                                                                      \
  static constexpr std::size_t kLanes = 16, kRows = 4;                                                    \
  static QK_KERNEL_INLINE Vi izero() noexcept { return _mm512_setzero_si512(); }                          \
  static QK_KERNEL_INLINE Vf fzero() noexcept { return _mm512_setzero_ps(); }                             \
  static QK_KERNEL_INLINE Vi iload(const std::uint8_t* p) noexcept { return _mm512_load_si512(p); }       \
  static QK_KERNEL_INLINE Vi lo_nibbles(Vi v) noexcept { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); } \
  static QK_KERNEL_INLINE Vi hi_nibbles(Vi v) noexcept {                                                  \
    return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F));                             \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vi bcast4(const std::int8_t* p) noexcept {                                      \
    std::int32_t v;                                                                                       \
    std::memcpy(&v, p, 4);                                                                                \
    return _mm512_set1_epi32(v);                                                                          \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vi iset1(std::int32_t v) noexcept { return _mm512_set1_epi32(v); }              \
  static QK_KERNEL_INLINE Vf fset1(float v) noexcept { return _mm512_set1_ps(v); }                        \
  static QK_KERNEL_INLINE Vi isub(Vi a, Vi b) noexcept { return _mm512_sub_epi32(a, b); }                 \
  static QK_KERNEL_INLINE Vi imul(Vi a, Vi b) noexcept { return _mm512_mullo_epi32(a, b); }               \
  static QK_KERNEL_INLINE Vf cvt(Vi a) noexcept { return _mm512_cvtepi32_ps(a); }                         \
  static QK_KERNEL_INLINE Vf fmul(Vf a, Vf b) noexcept { return _mm512_mul_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fadd(Vf a, Vf b) noexcept { return _mm512_add_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fmadd(Vf a, Vf b, Vf c) noexcept { return _mm512_fmadd_ps(a, b, c); }        \
  static QK_KERNEL_INLINE Vf fmax(Vf a, Vf b) noexcept { return _mm512_max_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fmin(Vf a, Vf b) noexcept { return _mm512_min_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf load_scales(const std::uint8_t* p, std::size_t i, bool f16) noexcept {     \
    return f16 ? _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i*>(p + 2 * i)))         \
               : _mm512_load_ps(reinterpret_cast<const float*>(p + 4 * i));                              \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vf floadu(const float* p) noexcept { return _mm512_loadu_ps(p); }               \
  static QK_KERNEL_INLINE void fstoreu(float* p, Vf v) noexcept { _mm512_storeu_ps(p, v); }               \
  static QK_KERNEL_INLINE Vi load_zp(const std::uint8_t* p) noexcept {                                    \
    return _mm512_cvtepu8_epi32(_mm_load_si128(reinterpret_cast<const __m128i*>(p)));                     \
  }                                                                                                       \
  /* u of k = 8c + i for 16 columns: vpermps reads the low 4 bits of each index lane. */                 \
  static QK_KERNEL_INLINE Vf expand(Vi v, int shift, Vf zp) noexcept {                                    \
    const Vf table = _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);                \
    return _mm512_sub_ps(_mm512_permutexvar_ps(_mm512_srl_epi32(v, _mm_cvtsi32_si128(shift)), table), zp); \
  }

#define QK_Q4_AVX2_TRAITS                                                                                 \
  using Vi = __m256i;                                                                                     \
  using Vf = __m256;                                                                                      \
  static constexpr std::size_t kLanes = 8, kRows = 2;                                                     \
  static QK_KERNEL_INLINE Vi izero() noexcept { return _mm256_setzero_si256(); }                          \
  static QK_KERNEL_INLINE Vf fzero() noexcept { return _mm256_setzero_ps(); }                             \
  static QK_KERNEL_INLINE Vi iload(const std::uint8_t* p) noexcept {                                      \
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(p));                                        \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vi lo_nibbles(Vi v) noexcept { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); } \
  static QK_KERNEL_INLINE Vi hi_nibbles(Vi v) noexcept {                                                  \
    return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));                             \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vi bcast4(const std::int8_t* p) noexcept {                                      \
    std::int32_t v;                                                                                       \
    std::memcpy(&v, p, 4);                                                                                \
    return _mm256_set1_epi32(v);                                                                          \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vi iset1(std::int32_t v) noexcept { return _mm256_set1_epi32(v); }              \
  static QK_KERNEL_INLINE Vf fset1(float v) noexcept { return _mm256_set1_ps(v); }                        \
  static QK_KERNEL_INLINE Vi isub(Vi a, Vi b) noexcept { return _mm256_sub_epi32(a, b); }                 \
  static QK_KERNEL_INLINE Vi imul(Vi a, Vi b) noexcept { return _mm256_mullo_epi32(a, b); }               \
  static QK_KERNEL_INLINE Vf cvt(Vi a) noexcept { return _mm256_cvtepi32_ps(a); }                         \
  static QK_KERNEL_INLINE Vf fmul(Vf a, Vf b) noexcept { return _mm256_mul_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fadd(Vf a, Vf b) noexcept { return _mm256_add_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fmadd(Vf a, Vf b, Vf c) noexcept { return _mm256_fmadd_ps(a, b, c); }        \
  static QK_KERNEL_INLINE Vf fmax(Vf a, Vf b) noexcept { return _mm256_max_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf fmin(Vf a, Vf b) noexcept { return _mm256_min_ps(a, b); }                    \
  static QK_KERNEL_INLINE Vf load_scales(const std::uint8_t* p, std::size_t i, bool f16) noexcept {     \
    return f16 ? _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(p + 2 * i)))             \
               : _mm256_load_ps(reinterpret_cast<const float*>(p + 4 * i));                              \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vf floadu(const float* p) noexcept { return _mm256_loadu_ps(p); }               \
  static QK_KERNEL_INLINE void fstoreu(float* p, Vf v) noexcept { _mm256_storeu_ps(p, v); }               \
  static QK_KERNEL_INLINE Vi load_zp(const std::uint8_t* p) noexcept {                                    \
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));                    \
  }                                                                                                       \
  static QK_KERNEL_INLINE Vf expand(Vi v, int shift, Vf zp) noexcept {                                    \
    const Vi u = _mm256_and_si256(_mm256_srl_epi32(v, _mm_cvtsi32_si128(shift)), _mm256_set1_epi32(15));  \
    return _mm256_sub_ps(_mm256_cvtepi32_ps(u), zp);                                                      \
  }

// The AVX-512 quantizer (scheme (a) of the contract, lane for lane): amax as an unsigned max of
// |x|'s bits (NaN and inf above every finite value), then x * inv rounded by vcvtps2dq in the
// default mode (half to even), narrowed with saturation (|q| <= 127 anyway).
#define QK_Q4_AVX512_QUANTIZE                                                                             \
  inline void gemm_q4_quantize(const float* a, std::size_t lda, std::size_t m, std::size_t k, std::size_t block, \
                               std::int8_t* qa, std::size_t qa_stride, float* a_scale, std::int32_t* a_sum) noexcept { \
    const std::size_t nb = (k + block - 1) / block;                                                      \
    for (std::size_t r = 0; r < m; ++r)                                                                  \
      for (std::size_t b = 0; b < nb; ++b) {                                                             \
        const float* x = a + r * lda + b * block;                                                        \
        std::int8_t* q = qa + r * qa_stride + b * block;                                                 \
        const std::size_t len = k - b * block < block ? k - b * block : block;                           \
        __m512i amax = _mm512_setzero_si512();                                                           \
        for (std::size_t i = 0; i < len; i += 16) {                                                      \
          const __mmask16 mk = len - i >= 16 ? static_cast<__mmask16>(0xFFFF)                            \
                                             : static_cast<__mmask16>((1u << (len - i)) - 1);            \
          const __m512i bits = _mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(mk, x + i)),   \
                                                _mm512_set1_epi32(0x7FFFFFFF));                          \
          amax = _mm512_max_epu32(amax, bits);                                                           \
        }                                                                                                \
        const std::uint32_t amax_bits = _mm512_reduce_max_epu32(amax);                                   \
        float amax_f;                                                                                    \
        std::memcpy(&amax_f, &amax_bits, 4);                                                             \
        const std::size_t at = r * nb + b;                                                               \
        if (amax_bits >= 0x7F800000u || !(amax_f >= kQ4MinAmax)) {                                       \
          std::memset(q, 0, block);                                                                      \
          a_scale[at] = amax_bits >= 0x7F800000u ? __builtin_nanf("") : 0.0f;                            \
          a_sum[at] = 0;                                                                                 \
          continue;                                                                                      \
        }                                                                                                \
        a_scale[at] = amax_f / 127.0f;                                                                   \
        const __m512 inv = _mm512_set1_ps(127.0f / amax_f);                                              \
        __m512i sum = _mm512_setzero_si512();                                                            \
        for (std::size_t i = 0; i < block; i += 16) {                                                    \
          const std::size_t rem = i < len ? len - i : 0;                                                 \
          const __mmask16 mk = rem >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << rem) - 1); \
          const __m512i v = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + i), inv));    \
          sum = _mm512_add_epi32(sum, v);                                                                \
          _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtsepi32_epi8(v));                 \
        }                                                                                                \
        a_sum[at] = _mm512_reduce_add_epi32(sum);                                                        \
      }                                                                                                  \
  }

// ---------------------------------------------------------------------------------------------
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
namespace qk {
namespace kernels {
namespace avx512vnni {
struct Q4Traits {
  QK_Q4_AVX512_TRAITS
  static QK_KERNEL_INLINE Vi dot(Vi acc, Vi u, Vi a) noexcept { return _mm512_dpbusd_epi32(acc, u, a); }
};
namespace q4 {
using Traits = Q4Traits;
#include "qk/kernels/x86/gemm_q4_tile.inl"
QK_Q4_AVX512_QUANTIZE
}  // namespace q4
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512bw {
struct Q4Traits {
  QK_Q4_AVX512_TRAITS
  static QK_KERNEL_INLINE Vi dot(Vi acc, Vi u, Vi a) noexcept {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, a), _mm512_set1_epi16(1)));
  }
};
namespace q4 {
using Traits = Q4Traits;
#include "qk/kernels/x86/gemm_q4_tile.inl"
QK_Q4_AVX512_QUANTIZE
}  // namespace q4
}  // namespace avx512bw
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,bmi2,f16c,avxvnni")
namespace qk {
namespace kernels {
namespace avxvnni {
struct Q4Traits {
  QK_Q4_AVX2_TRAITS
  static QK_KERNEL_INLINE Vi dot(Vi acc, Vi u, Vi a) noexcept { return _mm256_dpbusd_avx_epi32(acc, u, a); }
};
namespace q4 {
using Traits = Q4Traits;
#include "qk/kernels/x86/gemm_q4_tile.inl"
}  // namespace q4
}  // namespace avxvnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,bmi2,f16c")
namespace qk {
namespace kernels {
namespace avx2 {
struct Q4Traits {
  QK_Q4_AVX2_TRAITS
  static QK_KERNEL_INLINE Vi dot(Vi acc, Vi u, Vi a) noexcept {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
  }
};
namespace q4 {
using Traits = Q4Traits;
#include "qk/kernels/x86/gemm_q4_tile.inl"
}  // namespace q4
}  // namespace avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

#undef QK_Q4_AVX512_TRAITS
#undef QK_Q4_AVX2_TRAITS
#undef QK_Q4_AVX512_QUANTIZE

// Descriptors, outside the regions. The ymm families quantize A with the portable loop (A is
// M x K floats against the GEMM's M x N x K work).
namespace qk {
namespace kernels {
namespace avx512vnni {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::avx512vnni, 16, 4, &q4::gemm_q4_dynamic_run, &q4::gemm_q4_f32_run, &q4::gemm_q4_quantize};
  return k;
}
}  // namespace avx512vnni
namespace avx512bw {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::avx512bw, 16, 4, &q4::gemm_q4_dynamic_run, &q4::gemm_q4_f32_run, &q4::gemm_q4_quantize};
  return k;
}
}  // namespace avx512bw
namespace avxvnni {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::avxvnni, 8, 2, &q4::gemm_q4_dynamic_run, &q4::gemm_q4_f32_run, &q4_quantize_rows_scalar};
  return k;
}
}  // namespace avxvnni
namespace avx2 {
inline const GemmQ4Kernel& gemm_q4_kernel() noexcept {
  static const GemmQ4Kernel k = {Isa::avx2, 8, 2, &q4::gemm_q4_dynamic_run, &q4::gemm_q4_f32_run, &q4_quantize_rows_scalar};
  return k;
}
}  // namespace avx2
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
