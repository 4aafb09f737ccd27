// qk/kernels/x86/pool_x86.hpp - pooling kernels (kernels/pool_contract.hpp) for AVX-512BW and
// AVX2 (avxvnni and avx512vnni use these: nothing here needs a dot product).
//
//  - max: the window's taps stay bytes, channels in lanes: one vpmaxsb/vpmaxub per tap per 64
//    (AVX2: 32) channels, the clamp, one store. AVX-512 tails use byte masks; AVX2 does 16
//    channels with xmm, the rest with the scalar definition.
//  - average: taps widened to int16 (vpmovsx/zxbw) and summed in registers (n <= 255 taps
//    fit: |s| <= 128 * 255 for int8, s <= 255 * 255 as unsigned 16-bit for uint8); the division
//    is (a * mult >> 16) >> shift on a = |s| + n/2 (vpmulhuw, vpsrlw), verified for every
//    possible a at init (make_pool_divisors); the sign is restored, the clamp done in int16,
//    and vpmovwb (AVX2: vpacksswb/vpackuswb, exact after the clamp) narrows. Pixels whose count
//    has no verified divisor take the scalar definition.
//  - channel sums: int16 sums in registers over at most 255 pixels, then widened into the
//    int32 accumulators.
// The max and average rows and the channel-sum block are written once (pool_rows.inl), included
// into each region with a Traits of that ISA's vectors and primitives; the tails (masks vs the
// scalar definition), the average's finish (vpmovwb vs packs), the channel-sum loop over blocks
// and the AVX-512-only mean and softmax kernels stay in the region.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qk/kernels/pool_contract.hpp"
#include "qk/kernels/scalar/pool.hpp"
#include "qk/kernels/target_region.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 bug 105593 (AVX-512 intrinsic headers)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define QK_POOL_INLINE inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// AVX-512BW
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace pool_avx512 {

QK_POOL_INLINE __mmask64 mask64(std::size_t n) noexcept {
  return n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);
}
QK_POOL_INLINE __mmask32 mask32(std::size_t n) noexcept {
  return n >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((std::uint32_t{1} << n) - 1u);
}

struct Traits {
  using V = __m512i;
  using H = __m256i;
  static constexpr std::size_t kBytes = 64, kHalf = 32;
  static QK_POOL_INLINE V load(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
  static QK_POOL_INLINE void store(std::uint8_t* p, V v) noexcept { _mm512_storeu_si512(p, v); }
  static QK_POOL_INLINE H loadh(const std::uint8_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const H*>(p)); }
  static QK_POOL_INLINE void storeh(std::uint8_t* p, H v) noexcept { _mm256_storeu_si256(reinterpret_cast<H*>(p), v); }
  static QK_POOL_INLINE H lower(V v) noexcept { return _mm512_castsi512_si256(v); }
  static QK_POOL_INLINE H upper(V v) noexcept { return _mm512_extracti64x4_epi64(v, 1); }
  static QK_POOL_INLINE V set1_8(std::int32_t x) noexcept { return _mm512_set1_epi8(static_cast<char>(x)); }
  static QK_POOL_INLINE V set1_16(std::int32_t x) noexcept { return _mm512_set1_epi16(static_cast<short>(x)); }
  static QK_POOL_INLINE V zero() noexcept { return _mm512_setzero_si512(); }
  static QK_POOL_INLINE V add16(V a, V b) noexcept { return _mm512_add_epi16(a, b); }
  static QK_POOL_INLINE V add32(V a, V b) noexcept { return _mm512_add_epi32(a, b); }
  template <bool S>
  static QK_POOL_INLINE V max8(V a, V b) noexcept {
    return S ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE V min8(V a, V b) noexcept {
    return S ? _mm512_min_epi8(a, b) : _mm512_min_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE H max8h(H a, H b) noexcept {
    return S ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE H min8h(H a, H b) noexcept {
    return S ? _mm256_min_epi8(a, b) : _mm256_min_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE V widen(H x) noexcept {
    return S ? _mm512_cvtepi8_epi16(x) : _mm512_cvtepu8_epi16(x);
  }
  template <bool S>
  static QK_POOL_INLINE V widen16_32(H x) noexcept {
    return S ? _mm512_cvtepi16_epi32(x) : _mm512_cvtepu16_epi32(x);
  }
  // int16 sums -> clamped, divided int16 values, narrowed by vpmovwb.
  template <bool S>
  static QK_POOL_INLINE H finish(V s, V half, V mult, __m128i sh, V lo, V hi) noexcept {
    V q;
    if (S) {
      q = _mm512_srl_epi16(_mm512_mulhi_epu16(_mm512_add_epi16(_mm512_abs_epi16(s), half), mult), sh);
      q = _mm512_mask_sub_epi16(q, _mm512_movepi16_mask(s), _mm512_setzero_si512(), q);
    } else {
      q = _mm512_srl_epi16(_mm512_mulhi_epu16(_mm512_add_epi16(s, half), mult), sh);
    }
    return _mm512_cvtepi16_epi8(_mm512_min_epi16(_mm512_max_epi16(q, lo), hi));
  }
  // The last C - c < 32 channels of a max pixel, with byte masks.
  template <bool S>
  static QK_POOL_INLINE void max_tail(const PoolRowParams&, std::size_t, const std::uint8_t* base, std::uint8_t* o, std::size_t c,
                                      std::size_t C, std::size_t row, std::size_t rows, std::size_t cols, V lo, V hi) noexcept {
    const __mmask64 k = mask64(C - c);
    const std::uint8_t* b = base + c;
    V m = _mm512_maskz_loadu_epi8(k, b);
    for (std::size_t iy = 0; iy < rows; ++iy, b += row)
      for (std::size_t ix = 0; ix < cols; ++ix) m = max8<S>(m, _mm512_maskz_loadu_epi8(k, b + ix * C));
    _mm512_mask_storeu_epi8(o + c, k, min8<S>(max8<S>(m, lo), hi));
  }
  // The last C - c < 64 channels of an average pixel, 32 at a time with byte masks.
  template <bool S>
  static QK_POOL_INLINE void average_tail(const PoolRowParams&, std::size_t, const std::uint8_t* base, std::uint8_t* o, std::size_t c,
                                          std::size_t C, std::size_t row, std::size_t rows, std::size_t cols, V half, V mult,
                                          __m128i sh, V lo, V hi) noexcept {
    for (; c < C; c += 32) {
      const __mmask32 k = mask32(C - c);
      const std::uint8_t* b = base + c;
      V s0 = _mm512_setzero_si512();
      for (std::size_t iy = 0; iy < rows; ++iy, b += row)
        for (std::size_t ix = 0; ix < cols; ++ix) s0 = _mm512_add_epi16(s0, widen<S>(_mm256_maskz_loadu_epi8(k, b + ix * C)));
      _mm256_mask_storeu_epi8(o + c, k, finish<S>(s0, half, mult, sh, lo, hi));
    }
  }
};

#include "qk/kernels/x86/pool_rows.inl"

// A block of 64 channels by one masked load (the tail block too), widened to int16.
template <bool S>
struct MaskedLoad {
  __mmask64 k;
  QK_POOL_INLINE void operator()(const std::uint8_t* q, V* w0, V* w1) const noexcept {
    const V v = _mm512_maskz_loadu_epi8(k, q);
    *w0 = Traits::widen<S>(_mm512_castsi512_si256(v));
    *w1 = Traits::widen<S>(_mm512_extracti64x4_epi64(v, 1));
  }
};

// Channels [0, channels) in blocks of 64 (masked tail); int16 sums over runs of 255 pixels.
template <bool S>
__attribute__((noinline)) inline void channel_sums_t(const std::uint8_t* x, std::size_t stride, std::size_t pixels,
                                                     std::size_t channels, std::int32_t* acc) noexcept {
  for (std::size_t c = 0; c < channels; c += 64) {
    const std::size_t left = channels - c;
    const MaskedLoad<S> load{mask64(left)};
    V a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;  // int32: channels c + 16j..
    channel_block<S>(x, stride, pixels, c, load, &a0, &a1, &a2, &a3);
    const V parts[4] = {a0, a1, a2, a3};
    for (std::size_t j = 0; j < 4; ++j) {
      if (16 * j >= left) break;
      const std::size_t m = left - 16 * j;
      const __mmask16 kk = m >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << m) - 1u);
      std::int32_t* d = acc + c + 16 * j;
      _mm512_mask_storeu_epi32(d, kk, _mm512_add_epi32(_mm512_maskz_loadu_epi32(kk, d), parts[j]));
    }
  }
}

// int8 mean output, 16 channels a step: MBQM as the scalar family (wrapping left shift, SRDHM
// on even/odd lanes by vpmuldq for multiplier >= 0, RDPOT with TFLite's remainder rule), the
// division by n in double (8 lanes, exact as in the scalar family), |q| capped at 2^16 before the
// sign and zero point (the clamp to int8 gives the same result). Other parameters (uint8, a
// negative multiplier, shifts outside [-31, 30]) take the scalar definition.
QK_POOL_INLINE V srdhm(V x, V m) noexcept {
  const V nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const V even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
  const V odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge), 1);
  return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);
}
__attribute__((noinline)) inline void mean_output(const PoolMeanParams& p, const std::int32_t* acc, std::size_t channels,
                                                  std::uint8_t* out) noexcept {
  if (!p.is_signed || p.multiplier < 0 || p.shift < -31 || p.shift > 30) {
    pool_scalar::mean_output(p, acc, channels, out);
    return;
  }
  const std::int32_t e = p.shift > 0 ? 0 : -p.shift;
  const __m128i left = _mm_cvtsi32_si128(p.shift > 0 ? p.shift : 0), ev = _mm_cvtsi32_si128(e);
  const std::int32_t mask = static_cast<std::int32_t>((std::uint32_t{1} << e) - 1u);
  const V vmask = _mm512_set1_epi32(mask), thr = _mm512_set1_epi32(mask >> 1), one = _mm512_set1_epi32(1);
  const V m = _mm512_set1_epi32(p.multiplier), nzp = _mm512_set1_epi32(p.n * p.zp_in);
  const V half = _mm512_set1_epi32(p.n / 2), cap = _mm512_set1_epi32(1 << 16), zout = _mm512_set1_epi32(p.zp_out);
  const V lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
  const __m512d r = _mm512_set1_pd(p.reciprocal), h05 = _mm512_set1_pd(0.5);
  for (std::size_t c = 0; c < channels; c += 16) {
    const std::size_t left_n = channels - c;
    const __mmask16 k = left_n >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left_n) - 1u);
    const V x = _mm512_sll_epi32(_mm512_sub_epi32(_mm512_maskz_loadu_epi32(k, acc + c), nzp), left);
    const V h = srdhm(x, m);
    const V rem = _mm512_and_si512(h, vmask);
    const V t = _mm512_add_epi32(thr, _mm512_srli_epi32(h, 31));
    const V q0 = _mm512_sra_epi32(h, ev);
    const V scaled = _mm512_mask_add_epi32(q0, _mm512_cmpgt_epi32_mask(rem, t), q0, one);
    const V a = _mm512_add_epi32(_mm512_abs_epi32(scaled), half);  // < 2^32 as unsigned
    const __m512d d0 = _mm512_add_pd(_mm512_cvtepu32_pd(_mm512_castsi512_si256(a)), h05);
    const __m512d d1 = _mm512_add_pd(_mm512_cvtepu32_pd(_mm512_extracti64x4_epi64(a, 1)), h05);
    const __m256i q0h = _mm512_cvttpd_epu32(_mm512_mul_pd(d0, r)), q1h = _mm512_cvttpd_epu32(_mm512_mul_pd(d1, r));
    V q = _mm512_min_epu32(_mm512_inserti64x4(_mm512_castsi256_si512(q0h), q1h, 1), cap);
    q = _mm512_mask_sub_epi32(q, _mm512_movepi32_mask(scaled), _mm512_setzero_si512(), q);
    q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zout), lo), hi);
    _mm_mask_storeu_epi8(out + c, k, _mm512_cvtepi32_epi8(q));
  }
}

// Softmax rows: the maximum by vpmaxsb/ub (masked tail filled with the type's minimum); d = max - x
// in int32 lanes (16 a step); the sum of term[d] by vpgatherdd into int32 lanes (a lane takes at
// most 2048 terms of <= 2^19 before it is added to the 64-bit sum); the reciprocal in scalar code
// (the scalar family's); the outputs by a vpgatherdd of exp[d] and the unsigned 64-bit
// arithmetic of softmax_output_value in even/odd lanes (vpmuludq, vpsrlq). Rows longer than 256
// tabulate their 256 outputs the same way and look the bytes up with scalar loads.
template <bool S>
QK_POOL_INLINE V widen32(__m128i x) noexcept {
  return S ? _mm512_cvtepi8_epi32(x) : _mm512_cvtepu8_epi32(x);
}
// 16 outputs (int32 lanes, before the type minimum) from 16 table entries e.
QK_POOL_INLINE V softmax_out16(V e, V scale, V nudge, V round, __m128i ex) noexcept {
  const V pe = _mm512_srl_epi64(_mm512_add_epi64(_mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epu32(e, scale), nudge), 31), round), ex);
  const V po = _mm512_srl_epi64(
      _mm512_add_epi64(_mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epu32(_mm512_srli_epi64(e, 32), scale), nudge), 31), round), ex);
  return _mm512_or_si512(pe, _mm512_slli_epi64(po, 32));  // both below 2^32: dword lanes in order
}
template <bool S>
__attribute__((noinline)) inline void softmax_rows_t(const std::int32_t* etab, const std::int32_t* term, const std::uint8_t* in,
                                                     std::uint8_t* out, std::size_t rows, std::size_t n) noexcept {
  const std::int32_t lo = S ? -128 : 0, hi = S ? 127 : 255;
  const V tmin = _mm512_set1_epi8(static_cast<char>(lo));
  const V nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::uint8_t* x = in + r * n;
    std::uint8_t* y = out + r * n;
    V mv = tmin;
    for (std::size_t c = 0; c < n; c += 64) mv = Traits::max8<S>(mv, _mm512_mask_loadu_epi8(tmin, mask64(n - c), x + c));
    __m256i m2 = S ? _mm256_max_epi8(_mm512_castsi512_si256(mv), _mm512_extracti64x4_epi64(mv, 1))
                   : _mm256_max_epu8(_mm512_castsi512_si256(mv), _mm512_extracti64x4_epi64(mv, 1));
    __m128i m1 = S ? _mm_max_epi8(_mm256_castsi256_si128(m2), _mm256_extracti128_si256(m2, 1))
                   : _mm_max_epu8(_mm256_castsi256_si128(m2), _mm256_extracti128_si256(m2, 1));
    for (int sh = 8; sh >= 1; sh /= 2) {
      const __m128i t = sh == 8 ? _mm_srli_si128(m1, 8) : sh == 4 ? _mm_srli_si128(m1, 4) : sh == 2 ? _mm_srli_si128(m1, 2) : _mm_srli_si128(m1, 1);
      m1 = S ? _mm_max_epi8(m1, t) : _mm_max_epu8(m1, t);
    }
    const std::int32_t m = S ? static_cast<std::int32_t>(static_cast<std::int8_t>(_mm_cvtsi128_si32(m1) & 0xff))
                             : (_mm_cvtsi128_si32(m1) & 0xff);
    const V mvec = _mm512_set1_epi32(m);
    std::int64_t sum = 0;
    for (std::size_t c0 = 0; c0 < n; c0 += 2048 * 16) {
      const std::size_t c1 = n - c0 < 2048 * 16 ? n : c0 + 2048 * 16;
      V acc = _mm512_setzero_si512();
      for (std::size_t c = c0; c < c1; c += 16) {
        const __mmask16 k = c1 - c >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (c1 - c)) - 1u);
        const V d = _mm512_sub_epi32(mvec, widen32<S>(_mm_maskz_loadu_epi8(k, x + c)));
        acc = _mm512_add_epi32(acc, _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, d, term, 4));
      }
      // Each lane is at most 2^30; their total needs 64 bits.
      sum += _mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_cvtepu32_epi64(_mm512_castsi512_si256(acc)),
                                                      _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(acc, 1))));
    }
    std::int32_t scale = 0;
    int exponent = 0;
    pool_scalar::softmax_reciprocal(sum, &scale, &exponent);
    const V vs = _mm512_set1_epi64(static_cast<std::int64_t>(static_cast<std::uint32_t>(scale)));
    const V round = _mm512_set1_epi64(std::int64_t{1} << (exponent - 1));
    const __m128i ex = _mm_cvtsi32_si128(exponent);
    const V vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
    if (n > 256) {
      alignas(64) std::uint8_t table[256];
      for (std::size_t i = 0; i < 256; i += 16) {
        const V o = softmax_out16(_mm512_loadu_si512(etab + i), vs, nudge, round, ex);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(table + i),
                         _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_add_epi32(o, vlo), vhi)));
      }
      const std::uint8_t mb = static_cast<std::uint8_t>(m & 0xff);
      for (std::size_t c = 0; c < n; ++c) y[c] = table[static_cast<std::uint8_t>(mb - x[c])];
    } else {
      for (std::size_t c = 0; c < n; c += 16) {
        const __mmask16 k = n - c >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - c)) - 1u);
        const V d = _mm512_sub_epi32(mvec, widen32<S>(_mm_maskz_loadu_epi8(k, x + c)));
        const V e = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), k, d, etab, 4);
        const V o = _mm512_min_epi32(_mm512_add_epi32(softmax_out16(e, vs, nudge, round, ex), vlo), vhi);
        _mm_mask_storeu_epi8(y + c, k, _mm512_cvtepi32_epi8(o));
      }
    }
  }
}
inline void softmax_rows(const std::int32_t* etab, const std::int32_t* term, const std::uint8_t* in, std::uint8_t* out,
                         std::size_t rows, std::size_t n, bool s) noexcept {
  s ? softmax_rows_t<true>(etab, term, in, out, rows, n) : softmax_rows_t<false>(etab, term, in, out, rows, n);
}

inline const PoolKernels& pool_kernels() noexcept {
  static constexpr PoolKernels k{"avx512bw", &max_row, &average_row, &channel_sums, &mean_output, &softmax_rows};
  return k;
}

}  // namespace pool_avx512
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX2
QK_TARGET_PUSH("avx2,fma,bmi2")
namespace qk {
namespace kernels {
namespace pool_avx2 {

QK_POOL_INLINE __m128i load16(const std::uint8_t* p) noexcept {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

struct Traits {
  using V = __m256i;
  using H = __m128i;
  static constexpr std::size_t kBytes = 32, kHalf = 16;
  static QK_POOL_INLINE V load(const std::uint8_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const V*>(p)); }
  static QK_POOL_INLINE void store(std::uint8_t* p, V v) noexcept { _mm256_storeu_si256(reinterpret_cast<V*>(p), v); }
  static QK_POOL_INLINE H loadh(const std::uint8_t* p) noexcept { return load16(p); }
  static QK_POOL_INLINE void storeh(std::uint8_t* p, H v) noexcept { _mm_storeu_si128(reinterpret_cast<H*>(p), v); }
  static QK_POOL_INLINE H lower(V v) noexcept { return _mm256_castsi256_si128(v); }
  static QK_POOL_INLINE H upper(V v) noexcept { return _mm256_extracti128_si256(v, 1); }
  static QK_POOL_INLINE V set1_8(std::int32_t x) noexcept { return _mm256_set1_epi8(static_cast<char>(x)); }
  static QK_POOL_INLINE V set1_16(std::int32_t x) noexcept { return _mm256_set1_epi16(static_cast<short>(x)); }
  static QK_POOL_INLINE V zero() noexcept { return _mm256_setzero_si256(); }
  static QK_POOL_INLINE V add16(V a, V b) noexcept { return _mm256_add_epi16(a, b); }
  static QK_POOL_INLINE V add32(V a, V b) noexcept { return _mm256_add_epi32(a, b); }
  template <bool S>
  static QK_POOL_INLINE V max8(V a, V b) noexcept {
    return S ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE V min8(V a, V b) noexcept {
    return S ? _mm256_min_epi8(a, b) : _mm256_min_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE H max8h(H a, H b) noexcept {
    return S ? _mm_max_epi8(a, b) : _mm_max_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE H min8h(H a, H b) noexcept {
    return S ? _mm_min_epi8(a, b) : _mm_min_epu8(a, b);
  }
  template <bool S>
  static QK_POOL_INLINE V widen(H x) noexcept {
    return S ? _mm256_cvtepi8_epi16(x) : _mm256_cvtepu8_epi16(x);
  }
  template <bool S>
  static QK_POOL_INLINE V widen16_32(H x) noexcept {
    return S ? _mm256_cvtepi16_epi32(x) : _mm256_cvtepu16_epi32(x);
  }
  // int16 sums -> clamped, divided int16 values, narrowed by packs (exact after the clamp).
  template <bool S>
  static QK_POOL_INLINE H finish(V s, V half, V mult, __m128i sh, V lo, V hi) noexcept {
    V q;
    if (S) {
      q = _mm256_srl_epi16(_mm256_mulhi_epu16(_mm256_add_epi16(_mm256_abs_epi16(s), half), mult), sh);
      q = _mm256_sign_epi16(q, s);
    } else {
      q = _mm256_srl_epi16(_mm256_mulhi_epu16(_mm256_add_epi16(s, half), mult), sh);
    }
    q = _mm256_min_epi16(_mm256_max_epi16(q, lo), hi);
    return S ? _mm_packs_epi16(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1))
             : _mm_packus_epi16(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  }
  // The last C - c < 16 channels of a max pixel: the scalar definition.
  template <bool S>
  static QK_POOL_INLINE void max_tail(const PoolRowParams& p, std::size_t ox, const std::uint8_t*, std::uint8_t*, std::size_t c,
                                      std::size_t C, std::size_t, std::size_t, std::size_t, V, V) noexcept {
    pool_scalar::pixel_any<true>(p, ox, c, C);
  }
  // The last C - c < 32 channels of an average pixel: 16 in registers, the rest by the scalar
  // definition.
  template <bool S>
  static QK_POOL_INLINE void average_tail(const PoolRowParams& p, std::size_t ox, const std::uint8_t* base, std::uint8_t* o,
                                          std::size_t c, std::size_t C, std::size_t row, std::size_t rows, std::size_t cols, V half,
                                          V mult, __m128i sh, V lo, V hi) noexcept {
    if (c + 16 <= C) {
      const std::uint8_t* b = base + c;
      V s0 = _mm256_setzero_si256();
      for (std::size_t iy = 0; iy < rows; ++iy, b += row)
        for (std::size_t ix = 0; ix < cols; ++ix) s0 = _mm256_add_epi16(s0, widen<S>(load16(b + ix * C)));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(o + c), finish<S>(s0, half, mult, sh, lo, hi));
      c += 16;
    }
    if (c < C) pool_scalar::pixel_any<false>(p, ox, c, C);
  }
};

#include "qk/kernels/x86/pool_rows.inl"

// A block of 32 channels as two 16-byte loads, widened to int16.
template <bool S>
struct HalvesLoad {
  QK_POOL_INLINE void operator()(const std::uint8_t* q, V* w0, V* w1) const noexcept {
    *w0 = Traits::widen<S>(load16(q));
    *w1 = Traits::widen<S>(load16(q + 16));
  }
};

// Channels in blocks of 32; the rest by the scalar definition.
template <bool S>
__attribute__((noinline)) inline void channel_sums_t(const std::uint8_t* x, std::size_t stride, std::size_t pixels,
                                                     std::size_t channels, std::int32_t* acc) noexcept {
  std::size_t c = 0;
  for (; c + 32 <= channels; c += 32) {
    V a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    channel_block<S>(x, stride, pixels, c, HalvesLoad<S>{}, &a0, &a1, &a2, &a3);
    std::int32_t* d = acc + c;
    _mm256_storeu_si256(reinterpret_cast<V*>(d), _mm256_add_epi32(Traits::load(reinterpret_cast<const std::uint8_t*>(d)), a0));
    _mm256_storeu_si256(reinterpret_cast<V*>(d + 8), _mm256_add_epi32(Traits::load(reinterpret_cast<const std::uint8_t*>(d + 8)), a1));
    _mm256_storeu_si256(reinterpret_cast<V*>(d + 16), _mm256_add_epi32(Traits::load(reinterpret_cast<const std::uint8_t*>(d + 16)), a2));
    _mm256_storeu_si256(reinterpret_cast<V*>(d + 24), _mm256_add_epi32(Traits::load(reinterpret_cast<const std::uint8_t*>(d + 24)), a3));
  }
  if (c < channels) pool_scalar::channel_sums(x + c, stride, pixels, channels - c, S, acc + c);
}

inline const PoolKernels& pool_kernels() noexcept {
  static constexpr PoolKernels k{"avx2", &max_row, &average_row, &channel_sums, &pool_scalar::mean_output,
                                 &pool_scalar::softmax_rows};
  return k;
}

}  // namespace pool_avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

#undef QK_POOL_INLINE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
