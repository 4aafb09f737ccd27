// qk/kernels/x86/depthwise_s8_x86.hpp - depthwise int8 convolution kernels for the four x86
// families, next to (and sharing the epilogue of) the GEMM kernels in gemm_s8_x86.hpp.
//
//   family      widen        pair product                    channels per step
//   avx512vnni  vpmovsx/zxbw vpdpwssd zmm (s16 pairs -> s32)  32
//   avx512bw    vpmovsx/zxbw vpmaddwd + vpaddd zmm            32
//   avxvnni     vpmovsx/zxbw vpdpwssd ymm (VEX)               16
//   avx2        vpmovsx/zxbw vpmaddwd + vpaddd ymm            16
//
// (avx512vnni also has the vpdpbusd column kernel, depthwise_s8_columns.inl, for weights that
// fit int8: it groups four kernel ROWS per lane instead of four taps of a pixel, see there.)
// Why int16 pairs of taps and not vpdpbusd: depthwise has no channel reduction, so a u8 x s8
// dot product of four would have to combine four taps of one channel, which NHWC stores
// C bytes apart (a transpose per pixel); and w - w_zero_point needs 9 bits. Two taps widened to
// int16 and interleaved with vpunpck{l,h}wd feed vpmaddwd directly; the packed weights are stored
// in that interleaved order (see depthwise_s8_contract.hpp), so no shuffle is needed on them.
// The kernel is memory bound on real layers; the widening costs less than the loads.
//
// Same region pattern as gemm_s8_x86.hpp: each family reopens the GEMM family's namespace inside
// the same target, so finish_row() and the epilogue helpers are callable from the row kernel.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qk/kernels/depthwise_s8_contract.hpp"
#include "qk/kernels/target_region.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"

// GCC 12 bug 105593 (see gemm_s8_x86.hpp): spurious -Wmaybe-uninitialized from the AVX-512
// intrinsic headers once inlined. Popped at the end of this file.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same report, when the use is not inlined into a caller
#endif

// ---------------------------------------------------------------------------------------------
// AVX-512 (VNNI and BW share everything but the pair product)
// The hoisted AVX-512 epilogue for 8-bit TFLite outputs (either rounding; ONNX float ones per
// pixel with epilogue_avx512.inl's epi_float_scale and the 32-bit clamp): the same arithmetic
// as epilogue_avx512.inl's epi_vector (so bit-identical to detail::output_element), with every
// per-channel constant computed once per channel block and row instead of once per pixel, and
// in the lo/hi channel order of the pair accumulators, so the accumulators are never permuted:
// packs_epi32(lo, hi) puts channels back in order inside each 128-bit lane, vpmovwb narrows.
#define QK_DW_AVX512_REQUANT                                                                            \
  struct DwRequantAvx512 {                                                                             \
    __m512i m_lo, m_hi, mo_lo, mo_hi, left_lo, left_hi, right_lo, right_hi, mask_lo, mask_hi;          \
    __m512i thr_lo, thr_hi, clamp_lo, clamp_hi, zp, sh_lo, sh_hi;                                      \
    __mmask16 min_lo = 0, min_hi = 0;                                                                  \
    /* Hoisted per block: most layers have no positive shift and no INT32_MIN multiplier. */           \
    bool any_left = false, any_min = false;                                                            \
    /* One-rounding form of double rounding, valid when every right shift e >= 1 (below). */           \
    /* Single rounding: the combined form with its own constants, else epi_single_rounding. */         \
    bool combined = false, out_s8 = true, single = false;                                              \
    SingleShift single_lo, single_hi; /* the combined form's constants (epilogue_avx512.inl) */        \
    __m512i zp16, qmin8, qmax8;                                                                        \
    /* ONNX's float requantization (epi_float_scale), clamped and offset as the integer forms. */     \
    bool float_form = false;                                                                           \
    __m512 scale_lo, scale_hi, float_hi;                                                               \
    static bool supported(const OutputStage& s) noexcept {                                             \
      return (s.kind == OutputStage::Kind::fixed_point || s.kind == OutputStage::Kind::float_scale) &&  \
             output_type_size(s.type) == 1;                                                            \
    }                                                                                                  \
    /* Per-channel values of channels [c0, c0 + count) as the lo / hi accumulator orders. */           \
    static QK_KERNEL_INLINE void param(const std::int32_t* p, bool per_channel, std::size_t c0,         \
                                       std::size_t count, __m512i* lo, __m512i* hi) noexcept {         \
      if (!per_channel) {                                                                              \
        *lo = *hi = _mm512_set1_epi32(p[0]);                                                           \
        return;                                                                                        \
      }                                                                                                \
      const std::size_t second = count > 16 ? count - 16 : 0;                                          \
      const auto m16 = [](std::size_t k) noexcept {                                                    \
        return static_cast<__mmask16>(k >= 16 ? 0xFFFFu : (1u << k) - 1u);                              \
      };                                                                                               \
      const __m512i a = _mm512_maskz_loadu_epi32(m16(count), p + c0);                                  \
      const __m512i b = _mm512_maskz_loadu_epi32(m16(second), p + c0 + (second > 0 ? 16 : 0));        \
      *lo = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(0, 1, 4, 5, 8, 9, 12, 13), b);              \
      *hi = _mm512_permutex2var_epi64(a, _mm512_setr_epi64(2, 3, 6, 7, 10, 11, 14, 15), b);            \
    }                                                                                                  \
    QK_KERNEL_INLINE DwRequantAvx512(const OutputStage& s, std::size_t c0, std::size_t count, bool active) noexcept { \
      const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);                         \
      m_lo = m_hi = mo_lo = mo_hi = left_lo = left_hi = right_lo = right_hi = zero;                    \
      single_lo = single_hi = SingleShift{zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero}; \
      zp16 = qmin8 = qmax8 = zero;                                                                     \
      mask_lo = mask_hi = thr_lo = thr_hi = clamp_lo = clamp_hi = zp = sh_lo = sh_hi = zero;           \
      scale_lo = scale_hi = float_hi = _mm512_setzero_ps();                                            \
      if (!active) return;                                                                             \
      clamp_lo = _mm512_set1_epi32(s.qmin - s.zero_point), clamp_hi = _mm512_set1_epi32(s.qmax - s.zero_point); \
      zp = _mm512_set1_epi32(s.zero_point);                                                            \
      if (s.kind == OutputStage::Kind::float_scale) {                                                  \
        /* Scales as bits through the int32 loader (intrinsic loads, which may alias). */              \
        if (s.per_channel) {                                                                           \
          __m512i lo_bits, hi_bits;                                                                    \
          param(reinterpret_cast<const std::int32_t*>(s.scale), true, c0, count, &lo_bits, &hi_bits);  \
          scale_lo = _mm512_castsi512_ps(lo_bits), scale_hi = _mm512_castsi512_ps(hi_bits);            \
        } else {                                                                                       \
          scale_lo = scale_hi = _mm512_set1_ps(s.scale[0]);                                            \
        }                                                                                              \
        float_hi = _mm512_set1_ps(static_cast<float>(s.qmax - s.zero_point)); /* exact: <= 510 */     \
        float_form = true;                                                                             \
        return;                                                                                        \
      }                                                                                                \
      param(s.multiplier, s.per_channel, c0, count, &m_lo, &m_hi);                                     \
      param(s.shift, s.per_channel, c0, count, &sh_lo, &sh_hi);                                        \
      mo_lo = _mm512_srli_epi64(m_lo, 32), mo_hi = _mm512_srli_epi64(m_hi, 32);                       \
      left_lo = _mm512_max_epi32(sh_lo, zero), left_hi = _mm512_max_epi32(sh_hi, zero);                \
      right_lo = _mm512_max_epi32(_mm512_sub_epi32(zero, sh_lo), zero);                                \
      right_hi = _mm512_max_epi32(_mm512_sub_epi32(zero, sh_hi), zero);                                \
      mask_lo = _mm512_sub_epi32(_mm512_sllv_epi32(one, right_lo), one);                               \
      mask_hi = _mm512_sub_epi32(_mm512_sllv_epi32(one, right_hi), one);                               \
      thr_lo = _mm512_srli_epi32(mask_lo, 1), thr_hi = _mm512_srli_epi32(mask_hi, 1);                  \
      const __m512i int_min = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::min());             \
      min_lo = _mm512_cmpeq_epi32_mask(m_lo, int_min), min_hi = _mm512_cmpeq_epi32_mask(m_hi, int_min); \
      any_left = _mm512_test_epi32_mask(_mm512_or_si512(left_lo, left_hi), _mm512_or_si512(left_lo, left_hi)) != 0; \
      any_min = (min_lo | min_hi) != 0;                                                                \
      const __mmask16 e0 = _mm512_cmpeq_epi32_mask(right_lo, zero) | _mm512_cmpeq_epi32_mask(right_hi, zero); \
      combined = !any_left && e0 == 0;                                                                 \
      single = s.rounding == RequantRounding::single_rounding;                                         \
      single_lo = single_shift_constants(m_lo, right_lo, 0, s.rounding);                               \
      single_hi = single_shift_constants(m_hi, right_hi, 0, s.rounding);                               \
      out_s8 = s.type == OutputType::s8;                                                               \
      zp16 = _mm512_set1_epi16(static_cast<short>(s.zero_point));                                      \
      qmin8 = _mm512_set1_epi8(static_cast<char>(s.qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(s.qmax)); \
    }                                                                                                  \
    /* combined: every right shift of the block >= 1 and no left shift, so the single-shift form */ \
    /* (epi_single_shift, zero point not folded: it is added in int16 below) applies.            */ \
    static QK_KERNEL_INLINE __m512i one_vector(__m512i x, __m512i m, __m512i mo, __m512i left, __m512i right, \
                                               __m512i mask, __m512i thr, __mmask16 mmin, __m512i lo,  \
                                               __m512i hi, __m512i zpv, bool any_left, bool any_min) noexcept { \
      const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);                                  \
      if (any_left) x = _mm512_sllv_epi32(x, left);                                                    \
      const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);     \
      const __m512i odd =                                                                              \
          _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo), nudge), 1); \
      __m512i r = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);                  \
      if (any_min) {                                                                                   \
        const __mmask16 sat = _mm512_mask_cmpeq_epi32_mask(mmin, x, _mm512_set1_epi32(std::numeric_limits<std::int32_t>::min())); \
        r = _mm512_mask_mov_epi32(r, sat, _mm512_set1_epi32(std::numeric_limits<std::int32_t>::max())); \
      }                                                                                                \
      const __m512i threshold = _mm512_add_epi32(thr, _mm512_srli_epi32(r, 31));                       \
      const __mmask16 up = _mm512_cmpgt_epi32_mask(_mm512_and_si512(r, mask), threshold);              \
      const __m512i q = _mm512_srav_epi32(r, right);                                                   \
      const __m512i rounded = _mm512_mask_add_epi32(q, up, q, _mm512_set1_epi32(1));                   \
      return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(rounded, lo), hi), zpv);               \
    }                                                                                                  \
    /* N pixels (out + i * stride), every step applied to all 2N vectors before the next: each  */    \
    /* pixel's requantization is a ~25-deep dependency chain, and written one pixel after the */     \
    /* other the scheduler cannot hold enough of them to overlap pixels.                      */     \
    template <std::size_t N>                                                                           \
    QK_KERNEL_INLINE void store_n(std::uint8_t* p, std::size_t stride, __m512i* lo, __m512i* hi) const noexcept { \
      const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);                                  \
      const __m512i one = _mm512_set1_epi32(1);                                                        \
      __m512i v[2 * N], r[2 * N];                                                                      \
      QK_UNROLL for (std::size_t i = 0; i < N; ++i) v[2 * i] = lo[i], v[2 * i + 1] = hi[i];            \
      if (combined) {                                                                                  \
        /* Clamp and narrow: saturating packs to int16, + zero point with int16 saturation, packs */  \
        /* to 8 bits, clamp in 8 bits. Equal to clamp(v, qmin - zp, qmax - zp) + zp: a value      */  \
        /* that saturates anywhere is beyond [qmin, qmax] on the same side.                      */  \
        __m512i w[N];                                                                                  \
        QK_UNROLL for (std::size_t i = 0; i < N; ++i) {                                                \
          const __m512i a = epi_single_shift(lo[i], _mm512_srli_epi64(lo[i], 32), single_lo);           \
          const __m512i b = epi_single_shift(hi[i], _mm512_srli_epi64(hi[i], 32), single_hi);           \
          w[i] = _mm512_adds_epi16(_mm512_packs_epi32(a, b), zp16);                                    \
        }                                                                                              \
        const __m512i order = _mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7);                               \
        QK_UNROLL for (std::size_t i = 0; i + 1 < N; i += 2) {                                         \
          __m512i bytes;                                                                               \
          if (out_s8)                                                                                  \
            bytes = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(w[i], w[i + 1]), qmin8), qmax8); \
          else                                                                                         \
            bytes = _mm512_min_epu8(_mm512_max_epu8(_mm512_packus_epi16(w[i], w[i + 1]), qmin8), qmax8); \
          bytes = _mm512_permutexvar_epi64(order, bytes);                                              \
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + i * stride), _mm512_castsi512_si256(bytes)); \
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + (i + 1) * stride), _mm512_extracti64x4_epi64(bytes, 1)); \
        }                                                                                              \
        return;                                                                                        \
      }                                                                                                \
      if (any_left || any_min || single || float_form) {                                               \
        QK_UNROLL for (std::size_t i = 0; i < N; ++i) store(p + i * stride, lo[i], hi[i], 32);         \
        return;                                                                                        \
      }                                                                                                \
      QK_UNROLL for (std::size_t i = 0; i < 2 * N; ++i) {                                              \
        const __m512i m = i % 2 ? m_hi : m_lo, mo = i % 2 ? mo_hi : mo_lo;                             \
        const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(v[i], m), nudge), 31); \
        const __m512i odd =                                                                            \
            _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(v[i], 32), mo), nudge), 1); \
        r[i] = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);                     \
      }                                                                                                \
      QK_UNROLL for (std::size_t i = 0; i < 2 * N; ++i) {                                              \
        const __m512i mask = i % 2 ? mask_hi : mask_lo, thr = i % 2 ? thr_hi : thr_lo;                 \
        const __m512i right = i % 2 ? right_hi : right_lo;                                             \
        const __m512i threshold = _mm512_add_epi32(thr, _mm512_srli_epi32(r[i], 31));                  \
        const __mmask16 up = _mm512_cmpgt_epi32_mask(_mm512_and_si512(r[i], mask), threshold);         \
        const __m512i q = _mm512_srav_epi32(r[i], right);                                              \
        v[i] = _mm512_mask_add_epi32(q, up, q, one);                                                   \
      }                                                                                                \
      QK_UNROLL for (std::size_t i = 0; i < 2 * N; ++i)                                                \
        v[i] = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v[i], clamp_lo), clamp_hi), zp);     \
      QK_UNROLL for (std::size_t i = 0; i < N; ++i)                                                    \
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p + i * stride),                                \
                            _mm512_cvtepi16_epi8(_mm512_packs_epi32(v[2 * i], v[2 * i + 1])));         \
    }                                                                                                  \
    QK_KERNEL_INLINE void store(std::uint8_t* p, __m512i lo, __m512i hi, std::size_t count) const noexcept { \
      __m512i a, b;                                                                                    \
      if (float_form || single) {                                                                      \
        /* Float: below the range cvtps2dq gives INT32_MIN (epi_float_scale); the clamp takes it. */  \
        if (float_form) {                                                                              \
          a = epi_float_scale(lo, scale_lo, float_hi), b = epi_float_scale(hi, scale_hi, float_hi);    \
        } else {                                                                                       \
          a = combined ? epi_single_shift(lo, _mm512_srli_epi64(lo, 32), single_lo) : epi_single_rounding(lo, m_lo, sh_lo); \
          b = combined ? epi_single_shift(hi, _mm512_srli_epi64(hi, 32), single_hi) : epi_single_rounding(hi, m_hi, sh_hi); \
        }                                                                                              \
        a = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(a, clamp_lo), clamp_hi), zp);          \
        b = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(b, clamp_lo), clamp_hi), zp);          \
      } else {                                                                                         \
        a = one_vector(lo, m_lo, mo_lo, left_lo, right_lo, mask_lo, thr_lo, min_lo, clamp_lo, clamp_hi, zp, any_left, any_min); \
        b = one_vector(hi, m_hi, mo_hi, left_hi, right_hi, mask_hi, thr_hi, min_hi, clamp_lo, clamp_hi, zp, any_left, any_min); \
      }                                                                                                \
      /* Values are inside the 8-bit output type: the packs and the truncating vpmovwb are exact. */   \
      const __m256i bytes = _mm512_cvtepi16_epi8(_mm512_packs_epi32(a, b));                            \
      if (count == 32)                                                                                 \
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), bytes);                                     \
      else                                                                                             \
        _mm256_mask_storeu_epi8(p, static_cast<__mmask32>((std::uint64_t{1} << count) - 1u), bytes);   \
    }                                                                                                  \
  };

#define QK_DW_AVX512_TRAITS(DOT_EXPR, UNROLL_3X3)                                                       \
  struct DwTraits {                                                                                    \
    using Vec = __m512i;                                                                               \
    static constexpr std::size_t kBlock = 32;                                                          \
    static constexpr bool kMaskedTail = true;                                                          \
    static constexpr bool kUnroll3x3 = UNROLL_3X3;                                                     \
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
    using Requant = DwRequantAvx512;                                                                   \
  };

QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")
namespace qk {
namespace kernels {
namespace avx512vnni {
QK_DW_AVX512_REQUANT
QK_DW_AVX512_TRAITS(_mm512_dpwssd_epi32(acc, x, w), false)  // 3x3 int8 layers take the column kernel
#include "qk/kernels/x86/depthwise_s8_row.inl"
#include "qk/kernels/x86/depthwise_s8_columns.inl"
}  // namespace avx512vnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512bw {
QK_DW_AVX512_REQUANT
QK_DW_AVX512_TRAITS(_mm512_add_epi32(acc, _mm512_madd_epi16(x, w)), true)
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avx512bw
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP
#undef QK_DW_AVX512_TRAITS
#undef QK_DW_AVX512_REQUANT

// ---------------------------------------------------------------------------------------------
// AVX2 / AVX-VNNI on ymm. No masked byte loads: a channel tail is copied to a zeroed stack block.
#define QK_DW_AVX2_TRAITS(DOT_EXPR)                                                                     \
  struct DwTraits {                                                                                    \
    using Vec = __m256i;                                                                               \
    static constexpr std::size_t kBlock = 16;                                                          \
    static constexpr bool kMaskedTail = false;                                                         \
    static constexpr bool kUnroll3x3 = true;                                                           \
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
    /* No hoisted epilogue on ymm: finish_row() for every output stage. */                             \
    struct Requant {                                                                                   \
      static bool supported(const OutputStage&) noexcept { return false; }                             \
      Requant(const OutputStage&, std::size_t, std::size_t, bool) noexcept {}                          \
      void store(std::uint8_t*, Vec, Vec, std::size_t) const noexcept {}                               \
      template <std::size_t N>                                                                         \
      void store_n(std::uint8_t*, std::size_t, Vec*, Vec*) const noexcept {}                           \
    };                                                                                                 \
  };

QK_TARGET_PUSH("avx2,fma,bmi2,avxvnni")
namespace qk {
namespace kernels {
namespace avxvnni {
QK_DW_AVX2_TRAITS(_mm256_dpwssd_avx_epi32(acc, x, w))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avxvnni
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,bmi2")
namespace qk {
namespace kernels {
namespace avx2 {
QK_DW_AVX2_TRAITS(_mm256_add_epi32(acc, _mm256_madd_epi16(x, w)))
#include "qk/kernels/x86/depthwise_s8_row.inl"
}  // namespace avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP
#undef QK_DW_AVX2_TRAITS

// Descriptors: outside every target region, they only take the kernels' addresses.
namespace qk {
namespace kernels {
#define QK_X86_DEPTHWISE_S8_DESCRIPTOR(ns, isa_value)                                                  \
  namespace ns {                                                                                     \
  inline const DepthwiseS8Kernel& depthwise_s8_kernel() noexcept {                                   \
    static const DepthwiseS8Kernel kernel = {isa_value, static_cast<std::uint32_t>(DwTraits::kBlock), \
                                             &depthwise_s8_run, nullptr};                   \
    return kernel;                                                                                   \
  }                                                                                                  \
  }
// avx512vnni also has the column kernel (vpdpbusd) for weights that fit int8.
namespace avx512vnni {
inline const DepthwiseS8Kernel& depthwise_s8_kernel() noexcept {
  static const DepthwiseS8Kernel kernel = {Isa::avx512vnni, static_cast<std::uint32_t>(DwTraits::kBlock),
                                           &depthwise_s8_run, &depthwise_s8_columns_run};
  return kernel;
}
}  // namespace avx512vnni
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avx512bw, Isa::avx512bw)
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avxvnni, Isa::avxvnni)
QK_X86_DEPTHWISE_S8_DESCRIPTOR(avx2, Isa::avx2)
#undef QK_X86_DEPTHWISE_S8_DESCRIPTOR
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
