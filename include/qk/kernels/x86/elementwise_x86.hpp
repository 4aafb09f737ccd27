// qk/kernels/x86/elementwise_x86.hpp - element-wise kernels (kernels/elementwise_contract.hpp)
// for AVX2 (32 bytes a block) and AVX-512BW (64 bytes a block), with a VBMI variant of the
// table lookup. avxvnni and avx512vnni use these (nothing here needs a dot product).
//
// Layout of a block: bytes are widened to int16 (vpmovsx/zxbw), the offset added in int16, and
// vpunpck{l,h}wd against the sign (Add) or vpmullw/vpmulhw (Mul, the exact 17-bit product) gives
// int32 lanes holding elements {0-3, 4-7} of each 128-bit lane; vpackssdw puts them back in order
// inside each lane and one cross-lane permute of qwords after vpacksswb/vpackuswb restores the
// block order (the saturating packs are exact: values are already clamped into the type).
//
// Arithmetic (bit-exact with the scalar family, kernels/scalar/elementwise.hpp):
//  - SRDHM(x, m), m >= 0: floor((x * m + 2^30) / 2^31): vpmuldq on even lanes and on the odd
//    lanes shifted down, + 2^30, bits 31..62 picked by a logical shift (the quotient fits int32).
//  - RDPOT(x, e): general form (x >> e) + ((x & mask) > (mask >> 1) + [x < 0]) where x may be
//    anywhere in int32 (Mul); AVX-512 Add's output stage merges SRDHM and RDPOT (AddOut); Add's values are below 2^29 in magnitude (|x + offset| <= 255,
//    left_shift <= 20, multipliers < 2^31 never enlarge), so there the shorter
//    (x + 2^(e-1) - [x < 0]) >> e (e >= 1; x itself for e = 0) cannot overflow. It is the same
//    floor: for x >= 0 it rounds half up, for x < 0 it is -floor((|x| + 2^(e-1)) / 2^e).
//  - Add's input stage as the scalar AddInput, (v * high + ((v * low + round) >> low_shift)) >>
//    high_shift, with the multiplier's halves mh < 2^15 and ml < 2^16 as vpmaddwd pairs against
//    (v, 2v): v * mh and v * ml = v * (ml - 2^15) + 2v * 2^14, exact in int32 (|v| <= 255), and
//    high = mh * 2^(16-k) applied as a left shift (vpmaddwd is one uop where vpmulld is two on
//    many cores; the same speed on this Zen 5). An operand broadcast by the plan is rescaled once,
//    in scalar code.
//  - LUT: VBMI: two vpermi2b (entries 0-127, 128-255) and a blend by the index's top bit per 64
//    bytes. Without VBMI: 16 vpshufb of the table's 16-byte rows by the low nibble, merged by
//    a tree of 15 blends on bits 4..7 of the index.
// Tails: AVX-512 loads and stores the last partial block with byte masks; AVX2 copies it through
// a 32-byte stack buffer. Nothing here allocates.
//
// Add, Mul and the Maximum / Minimum dispatch are written once (elementwise_blocks.inl), included
// into each region with a Traits of that ISA's vector type and primitives. What differs stays in
// the region: the block layout, SRDHM and the general RDPOT (masks vs compares), Add's output
// stage, the Maximum / Minimum loop (AVX-512: 128 a step then masked 64s; AVX2: 64, 32, buffer),
// and the table lookups.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qk/kernels/elementwise_contract.hpp"
#include "qk/kernels/scalar/elementwise.hpp"
#include "qk/kernels/target_region.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 bug 105593 (AVX-512 intrinsic headers)
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define QK_EW_INLINE inline __attribute__((always_inline))

// ---------------------------------------------------------------------------------------------
// AVX-512BW
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace ew_avx512 {

QK_EW_INLINE __mmask64 tail_mask(std::size_t n) noexcept {
  return n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);
}

struct Traits {
  using V = __m512i;
  static constexpr std::size_t kBytes = 64;
  static QK_EW_INLINE V load(const std::uint8_t* p) noexcept { return _mm512_loadu_si512(p); }
  static QK_EW_INLINE void store(std::uint8_t* p, V v) noexcept { _mm512_storeu_si512(p, v); }
  struct Tail {  // byte masks
    __mmask64 m;
    QK_EW_INLINE explicit Tail(std::size_t n) noexcept : m(tail_mask(n)) {}
    QK_EW_INLINE V load(const std::uint8_t* p) const noexcept { return _mm512_maskz_loadu_epi8(m, p); }
    QK_EW_INLINE void store(std::uint8_t* p, V v) const noexcept { _mm512_mask_storeu_epi8(p, m, v); }
  };
  static QK_EW_INLINE V set1_16(std::int32_t x) noexcept { return _mm512_set1_epi16(static_cast<short>(x)); }
  static QK_EW_INLINE V set1_32(std::int32_t x) noexcept { return _mm512_set1_epi32(x); }
  static QK_EW_INLINE V add16(V a, V b) noexcept { return _mm512_add_epi16(a, b); }
  static QK_EW_INLINE V add32(V a, V b) noexcept { return _mm512_add_epi32(a, b); }
  static QK_EW_INLINE V and_(V a, V b) noexcept { return _mm512_and_si512(a, b); }
  static QK_EW_INLINE V sra32(V a, __m128i n) noexcept { return _mm512_sra_epi32(a, n); }
  static QK_EW_INLINE V sll32(V a, __m128i n) noexcept { return _mm512_sll_epi32(a, n); }
  static QK_EW_INLINE V sign32(V a) noexcept { return _mm512_srai_epi32(a, 31); }
  static QK_EW_INLINE V madd16(V a, V b) noexcept { return _mm512_madd_epi16(a, b); }
  static QK_EW_INLINE V unpacklo16(V a, V b) noexcept { return _mm512_unpacklo_epi16(a, b); }
  static QK_EW_INLINE V unpackhi16(V a, V b) noexcept { return _mm512_unpackhi_epi16(a, b); }
  static QK_EW_INLINE V mullo16(V a, V b) noexcept { return _mm512_mullo_epi16(a, b); }
  static QK_EW_INLINE V mulhi16(V a, V b) noexcept { return _mm512_mulhi_epi16(a, b); }
  static QK_EW_INLINE V min32(V a, V b) noexcept { return _mm512_min_epi32(a, b); }
  static QK_EW_INLINE V max32(V a, V b) noexcept { return _mm512_max_epi32(a, b); }
  template <bool S>
  static QK_EW_INLINE V max8(V a, V b) noexcept {
    return S ? _mm512_max_epi8(a, b) : _mm512_max_epu8(a, b);
  }
  template <bool S>
  static QK_EW_INLINE V min8(V a, V b) noexcept {
    return S ? _mm512_min_epi8(a, b) : _mm512_min_epu8(a, b);
  }
  // 32 bytes -> 32 int16 lanes.
  template <bool S>
  static QK_EW_INLINE V widen16(__m256i x) noexcept {
    return S ? _mm512_cvtepi8_epi16(x) : _mm512_cvtepu8_epi16(x);
  }
  // The 64 bytes of a block as two int16 vectors (elements 0-31, 32-63).
  template <bool S>
  static QK_EW_INLINE void widen_block(V bytes, V* w0, V* w1) noexcept {
    *w0 = widen16<S>(_mm512_castsi512_si256(bytes));
    *w1 = widen16<S>(_mm512_extracti64x4_epi64(bytes, 1));
  }
  // Four int32 vectors in unpack order (see the header) -> 64 bytes in order.
  template <bool S>
  static QK_EW_INLINE V narrow_block(V r0lo, V r0hi, V r1lo, V r1hi) noexcept {
    const V w0 = _mm512_packs_epi32(r0lo, r0hi), w1 = _mm512_packs_epi32(r1lo, r1hi);
    const V b = S ? _mm512_packs_epi16(w0, w1) : _mm512_packus_epi16(w0, w1);
    return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), b);
  }
  static QK_EW_INLINE V srdhm(V x, V m) noexcept {
    const V nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
    const V even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
    const V odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge), 1);
    return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);
  }
  static QK_EW_INLINE V rdpot_general(V x, V mask, V threshold, __m128i e) noexcept {
    const V rem = _mm512_and_si512(x, mask);
    const V thr = _mm512_add_epi32(threshold, _mm512_srli_epi32(x, 31));
    const V q = _mm512_sra_epi32(x, e);
    return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, _mm512_set1_epi32(1));
  }
};

// The region's own (defined after the shared body, which dispatches to it).
template <bool S, bool IsMax, bool BC>
__attribute__((noinline)) void minmax_loop(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::size_t n, std::int32_t lo32,
                 std::int32_t hi32) noexcept;

#include "qk/kernels/x86/elementwise_blocks.inl"

// ---- Add's output stage in one rounding step per lane pair, no 64-bit shift: with |S| < 2^29,
// t = SRDHM(S, m) + 2^(e-1) is the high dword of 2S * m + 2^31 + 2^(e-1) * 2^32 (2S fits int32),
// which vpmuldq leaves in the odd dword of each qword: even lanes take it with a shuffle. Then
// RDPOT(SRDHM(S, m), e) = (t - [S < 0]) >> e for e >= 1 ([SRDHM < 0] may be [S < 0]: both give 0
// when -2^30 <= S * m < 0), t for e = 0 (neg_limit = INT32_MIN: never below).
struct AddOut {
  V out_mult, nudge, neg_limit, out_offset, lo, hi;
  __m128i e;
  static AddOut make(const EwAddParams& p) noexcept {
    AddOut c;
    const std::int32_t e = p.output_shift < 0 ? (p.output_shift < -31 ? 31 : -p.output_shift) : 0;
    c.out_mult = _mm512_set1_epi32(p.output_multiplier);
    c.nudge = _mm512_set1_epi64(static_cast<std::int64_t>((e > 0 ? std::uint64_t{1} << (e - 1) : 0u) << 32 | 0x80000000u));
    c.neg_limit = _mm512_set1_epi32(e > 0 ? 0 : std::numeric_limits<std::int32_t>::min());
    c.e = _mm_cvtsi32_si128(e);
    c.out_offset = _mm512_set1_epi32(p.output_offset);
    c.lo = _mm512_set1_epi32(p.act_min);
    c.hi = _mm512_set1_epi32(p.act_max);
    return c;
  }
  QK_EW_INLINE V finish(V s) const noexcept {
    const V s2 = _mm512_add_epi32(s, s);
    const V pe = _mm512_add_epi64(_mm512_mul_epi32(s2, out_mult), nudge);
    const V po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_shuffle_epi32(s2, _MM_PERM_DDBB), out_mult), nudge);
    V t = _mm512_mask_shuffle_epi32(po, static_cast<__mmask16>(0x5555), pe, _MM_PERM_DDBB);
    t = _mm512_mask_sub_epi32(t, _mm512_cmplt_epi32_mask(s, neg_limit), t, _mm512_set1_epi32(1));
    const V r = _mm512_add_epi32(_mm512_sra_epi32(t, e), out_offset);
    return _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
  }
};

inline void ew_add(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  ew_add_t<AddOut>(p, is_signed, a, b, b_broadcast, out, n);
}

// ---- Maximum / Minimum
template <bool S, bool IsMax, bool BC>
__attribute__((noinline)) inline void minmax_loop(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::size_t n,
                                                  std::int32_t lo32, std::int32_t hi32) noexcept {
  const V lo = _mm512_set1_epi8(static_cast<char>(lo32)), hi = _mm512_set1_epi8(static_cast<char>(hi32));
  const V bconst = _mm512_set1_epi8(static_cast<char>(b[0]));
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const V a0 = _mm512_loadu_si512(a + i), a1 = _mm512_loadu_si512(a + i + 64);
    const V b0 = BC ? bconst : _mm512_loadu_si512(b + i), b1 = BC ? bconst : _mm512_loadu_si512(b + i + 64);
    _mm512_storeu_si512(out + i, minmax_op<S, IsMax>(a0, b0, lo, hi));
    _mm512_storeu_si512(out + i + 64, minmax_op<S, IsMax>(a1, b1, lo, hi));
  }
  for (; i < n; i += 64) {
    const __mmask64 m = tail_mask(n - i);
    const V va = _mm512_maskz_loadu_epi8(m, a + i);
    const V vb = BC ? bconst : _mm512_maskz_loadu_epi8(m, b + i);
    _mm512_mask_storeu_epi8(out + i, m, minmax_op<S, IsMax>(va, vb, lo, hi));
  }
}

// ---- LUT without VBMI: vpshufb rows + a blend tree.
struct Rows16 {
  V row[16];
};
QK_EW_INLINE V lut_tree(const Rows16& t, V x) noexcept {
  const V idx = _mm512_and_si512(x, _mm512_set1_epi8(0x0F));
  V r[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm512_shuffle_epi8(t.row[j], idx);
  const __mmask64 b4 = _mm512_test_epi8_mask(x, _mm512_set1_epi8(0x10));
  const __mmask64 b5 = _mm512_test_epi8_mask(x, _mm512_set1_epi8(0x20));
  const __mmask64 b6 = _mm512_test_epi8_mask(x, _mm512_set1_epi8(0x40));
  const __mmask64 b7 = _mm512_movepi8_mask(x);
  for (int j = 0; j < 8; ++j) r[j] = _mm512_mask_blend_epi8(b4, r[2 * j], r[2 * j + 1]);
  for (int j = 0; j < 4; ++j) r[j] = _mm512_mask_blend_epi8(b5, r[2 * j], r[2 * j + 1]);
  for (int j = 0; j < 2; ++j) r[j] = _mm512_mask_blend_epi8(b6, r[2 * j], r[2 * j + 1]);
  return _mm512_mask_blend_epi8(b7, r[0], r[1]);
}
inline void ew_lut(const std::uint8_t* table, const std::uint8_t* in, std::uint8_t* out, std::size_t n) noexcept {
  Rows16 t;
  for (int j = 0; j < 16; ++j)
    t.row[j] = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * j)));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(out + i, lut_tree(t, _mm512_loadu_si512(in + i)));
  if (i < n) {
    const __mmask64 m = tail_mask(n - i);
    _mm512_mask_storeu_epi8(out + i, m, lut_tree(t, _mm512_maskz_loadu_epi8(m, in + i)));
  }
}

inline const ElementwiseKernels& elementwise_kernels() noexcept {
  static constexpr ElementwiseKernels k{"avx512bw", &ew_add, &ew_mul, &ew_maximum, &ew_minimum, &ew_lut};
  return k;
}

}  // namespace ew_avx512
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX-512 VBMI: the table lookup only (the rest is the AVX-512BW family's).
QK_TARGET_PUSH("avx2,fma,bmi2,avx512f,avx512bw,avx512dq,avx512vl,avx512vbmi")
namespace qk {
namespace kernels {
namespace ew_avx512vbmi {

inline void ew_lut(const std::uint8_t* table, const std::uint8_t* in, std::uint8_t* out, std::size_t n) noexcept {
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m512i x0 = _mm512_loadu_si512(in + i), x1 = _mm512_loadu_si512(in + i + 64);
    const __m512i l0 = _mm512_permutex2var_epi8(t0, x0, t1), h0 = _mm512_permutex2var_epi8(t2, x0, t3);
    const __m512i l1 = _mm512_permutex2var_epi8(t0, x1, t1), h1 = _mm512_permutex2var_epi8(t2, x1, t3);
    _mm512_storeu_si512(out + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x0), l0, h0));
    _mm512_storeu_si512(out + i + 64, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x1), l1, h1));
  }
  for (; i < n; i += 64) {
    const __mmask64 m = n - i >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (n - i)) - 1);
    const __m512i x = _mm512_maskz_loadu_epi8(m, in + i);
    const __m512i l = _mm512_permutex2var_epi8(t0, x, t1), h = _mm512_permutex2var_epi8(t2, x, t3);
    _mm512_mask_storeu_epi8(out + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), l, h));
  }
}

inline const ElementwiseKernels& elementwise_kernels() noexcept {
  static constexpr ElementwiseKernels k{"avx512bw+vbmi", &ew_avx512::ew_add, &ew_avx512::ew_mul, &ew_avx512::ew_maximum,
                                        &ew_avx512::ew_minimum, &ew_lut};
  return k;
}

}  // namespace ew_avx512vbmi
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

// ---------------------------------------------------------------------------------------------
// AVX2
QK_TARGET_PUSH("avx2,fma,bmi2")
namespace qk {
namespace kernels {
namespace ew_avx2 {

// The last n < 32 elements through 32-byte buffers.
QK_EW_INLINE __m256i load_partial(const std::uint8_t* p, std::size_t n) noexcept {
  alignas(32) std::uint8_t buf[32] = {};
  std::memcpy(buf, p, n);
  return _mm256_load_si256(reinterpret_cast<const __m256i*>(buf));
}
QK_EW_INLINE void store_partial(std::uint8_t* p, __m256i v, std::size_t n) noexcept {
  alignas(32) std::uint8_t buf[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(buf), v);
  std::memcpy(p, buf, n);
}

struct Traits {
  using V = __m256i;
  static constexpr std::size_t kBytes = 32;
  static QK_EW_INLINE V load(const std::uint8_t* p) noexcept { return _mm256_loadu_si256(reinterpret_cast<const V*>(p)); }
  static QK_EW_INLINE void store(std::uint8_t* p, V v) noexcept { _mm256_storeu_si256(reinterpret_cast<V*>(p), v); }
  struct Tail {  // stack buffers
    std::size_t n;
    QK_EW_INLINE explicit Tail(std::size_t count) noexcept : n(count) {}
    QK_EW_INLINE V load(const std::uint8_t* p) const noexcept { return load_partial(p, n); }
    QK_EW_INLINE void store(std::uint8_t* p, V v) const noexcept { store_partial(p, v, n); }
  };
  static QK_EW_INLINE V set1_16(std::int32_t x) noexcept { return _mm256_set1_epi16(static_cast<short>(x)); }
  static QK_EW_INLINE V set1_32(std::int32_t x) noexcept { return _mm256_set1_epi32(x); }
  static QK_EW_INLINE V add16(V a, V b) noexcept { return _mm256_add_epi16(a, b); }
  static QK_EW_INLINE V add32(V a, V b) noexcept { return _mm256_add_epi32(a, b); }
  static QK_EW_INLINE V and_(V a, V b) noexcept { return _mm256_and_si256(a, b); }
  static QK_EW_INLINE V sra32(V a, __m128i n) noexcept { return _mm256_sra_epi32(a, n); }
  static QK_EW_INLINE V sll32(V a, __m128i n) noexcept { return _mm256_sll_epi32(a, n); }
  static QK_EW_INLINE V sign32(V a) noexcept { return _mm256_srai_epi32(a, 31); }
  static QK_EW_INLINE V madd16(V a, V b) noexcept { return _mm256_madd_epi16(a, b); }
  static QK_EW_INLINE V unpacklo16(V a, V b) noexcept { return _mm256_unpacklo_epi16(a, b); }
  static QK_EW_INLINE V unpackhi16(V a, V b) noexcept { return _mm256_unpackhi_epi16(a, b); }
  static QK_EW_INLINE V mullo16(V a, V b) noexcept { return _mm256_mullo_epi16(a, b); }
  static QK_EW_INLINE V mulhi16(V a, V b) noexcept { return _mm256_mulhi_epi16(a, b); }
  static QK_EW_INLINE V min32(V a, V b) noexcept { return _mm256_min_epi32(a, b); }
  static QK_EW_INLINE V max32(V a, V b) noexcept { return _mm256_max_epi32(a, b); }
  template <bool S>
  static QK_EW_INLINE V max8(V a, V b) noexcept {
    return S ? _mm256_max_epi8(a, b) : _mm256_max_epu8(a, b);
  }
  template <bool S>
  static QK_EW_INLINE V min8(V a, V b) noexcept {
    return S ? _mm256_min_epi8(a, b) : _mm256_min_epu8(a, b);
  }
  template <bool S>
  static QK_EW_INLINE V widen16(__m128i x) noexcept {
    return S ? _mm256_cvtepi8_epi16(x) : _mm256_cvtepu8_epi16(x);
  }
  template <bool S>
  static QK_EW_INLINE void widen_block(V bytes, V* w0, V* w1) noexcept {
    *w0 = widen16<S>(_mm256_castsi256_si128(bytes));
    *w1 = widen16<S>(_mm256_extracti128_si256(bytes, 1));
  }
  template <bool S>
  static QK_EW_INLINE V narrow_block(V r0lo, V r0hi, V r1lo, V r1hi) noexcept {
    const V w0 = _mm256_packs_epi32(r0lo, r0hi), w1 = _mm256_packs_epi32(r1lo, r1hi);
    const V b = S ? _mm256_packs_epi16(w0, w1) : _mm256_packus_epi16(w0, w1);
    return _mm256_permute4x64_epi64(b, 0xD8);  // qwords 0, 2, 1, 3
  }
  static QK_EW_INLINE V srdhm(V x, V m) noexcept {
    const V nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
    const V even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
    const V odd = _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge), 1);
    return _mm256_blend_epi32(even, odd, 0xAA);
  }
  static QK_EW_INLINE V rdpot_general(V x, V mask, V threshold, __m128i e) noexcept {
    const V rem = _mm256_and_si256(x, mask);
    const V thr = _mm256_add_epi32(threshold, _mm256_srli_epi32(x, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(x, e), _mm256_cmpgt_epi32(rem, thr));
  }
};

// The region's own (defined after the shared body, which dispatches to it).
template <bool S, bool IsMax, bool BC>
__attribute__((noinline)) void minmax_loop(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::size_t n, std::int32_t lo32,
                 std::int32_t hi32) noexcept;

#include "qk/kernels/x86/elementwise_blocks.inl"

// ---- Add's output stage: SRDHM, then the short RDPOT.
struct AddOut {
  V out_mult, out_offset, lo, hi;
  Rdpot out_div;
  static AddOut make(const EwAddParams& p) noexcept {
    AddOut c;
    c.out_mult = _mm256_set1_epi32(p.output_multiplier);
    c.out_offset = _mm256_set1_epi32(p.output_offset);
    c.lo = _mm256_set1_epi32(p.act_min);
    c.hi = _mm256_set1_epi32(p.act_max);
    c.out_div = Rdpot::make(p.output_shift);
    return c;
  }
  QK_EW_INLINE V finish(V s) const noexcept {
    const V r = _mm256_add_epi32(out_div.small(Traits::srdhm(s, out_mult)), out_offset);
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
  }
};

inline void ew_add(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  ew_add_t<AddOut>(p, is_signed, a, b, b_broadcast, out, n);
}

// ---- Maximum / Minimum
template <bool S, bool IsMax, bool BC>
__attribute__((noinline)) inline void minmax_loop(const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out, std::size_t n,
                                                  std::int32_t lo32, std::int32_t hi32) noexcept {
  const V lo = _mm256_set1_epi8(static_cast<char>(lo32)), hi = _mm256_set1_epi8(static_cast<char>(hi32));
  const V bconst = _mm256_set1_epi8(static_cast<char>(b[0]));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const V a0 = _mm256_loadu_si256(reinterpret_cast<const V*>(a + i));
    const V a1 = _mm256_loadu_si256(reinterpret_cast<const V*>(a + i + 32));
    const V b0 = BC ? bconst : _mm256_loadu_si256(reinterpret_cast<const V*>(b + i));
    const V b1 = BC ? bconst : _mm256_loadu_si256(reinterpret_cast<const V*>(b + i + 32));
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i), minmax_op<S, IsMax>(a0, b0, lo, hi));
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i + 32), minmax_op<S, IsMax>(a1, b1, lo, hi));
  }
  for (; i + 32 <= n; i += 32) {
    const V va = _mm256_loadu_si256(reinterpret_cast<const V*>(a + i));
    const V vb = BC ? bconst : _mm256_loadu_si256(reinterpret_cast<const V*>(b + i));
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i), minmax_op<S, IsMax>(va, vb, lo, hi));
  }
  if (i < n) {
    const V va = load_partial(a + i, n - i);
    const V vb = BC ? bconst : load_partial(b + i, n - i);
    store_partial(out + i, minmax_op<S, IsMax>(va, vb, lo, hi), n - i);
  }
}

// vpblendvb selects by bit 7 of each mask byte: x shifted left by 3, 2, 1, 0 bits brings index
// bits 4, 5, 6, 7 there (a 16-bit shift: only the byte's own lower bits reach its bit 7).
struct Rows16 {
  V row[16];
};
QK_EW_INLINE V lut_tree(const Rows16& t, V x) noexcept {
  const V idx = _mm256_and_si256(x, _mm256_set1_epi8(0x0F));
  V r[16];
  for (int j = 0; j < 16; ++j) r[j] = _mm256_shuffle_epi8(t.row[j], idx);
  const V m4 = _mm256_slli_epi16(x, 3), m5 = _mm256_slli_epi16(x, 2), m6 = _mm256_slli_epi16(x, 1);
  for (int j = 0; j < 8; ++j) r[j] = _mm256_blendv_epi8(r[2 * j], r[2 * j + 1], m4);
  for (int j = 0; j < 4; ++j) r[j] = _mm256_blendv_epi8(r[2 * j], r[2 * j + 1], m5);
  for (int j = 0; j < 2; ++j) r[j] = _mm256_blendv_epi8(r[2 * j], r[2 * j + 1], m6);
  return _mm256_blendv_epi8(r[0], r[1], x);
}
inline void ew_lut(const std::uint8_t* table, const std::uint8_t* in, std::uint8_t* out, std::size_t n) noexcept {
  Rows16 t;
  for (int j = 0; j < 16; ++j)
    t.row[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * j)));
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i), lut_tree(t, _mm256_loadu_si256(reinterpret_cast<const V*>(in + i))));
  if (i < n) store_partial(out + i, lut_tree(t, load_partial(in + i, n - i)), n - i);
}

inline const ElementwiseKernels& elementwise_kernels() noexcept {
  static constexpr ElementwiseKernels k{"avx2", &ew_add, &ew_mul, &ew_maximum, &ew_minimum, &ew_lut};
  return k;
}

}  // namespace ew_avx2
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

#undef QK_EW_INLINE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
