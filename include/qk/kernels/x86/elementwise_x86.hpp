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
//    anywhere in int32 (Mul); AVX-512 Add's output stage merges SRDHM and RDPOT (AddV); Add's values are below 2^29 in magnitude (|x + offset| <= 255,
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

using V = __m512i;

QK_EW_INLINE __mmask64 tail_mask(std::size_t n) noexcept {
  return n >= 64 ? ~__mmask64{0} : ((__mmask64{1} << n) - 1);
}

// 32 bytes -> 32 int16 lanes.
template <bool S>
QK_EW_INLINE V widen16(__m256i x) noexcept {
  return S ? _mm512_cvtepi8_epi16(x) : _mm512_cvtepu8_epi16(x);
}
// The 64 bytes of a block as two int16 vectors (elements 0-31, 32-63).
template <bool S>
QK_EW_INLINE void widen_block(V bytes, V* w0, V* w1) noexcept {
  *w0 = widen16<S>(_mm512_castsi512_si256(bytes));
  *w1 = widen16<S>(_mm512_extracti64x4_epi64(bytes, 1));
}
// Four int32 vectors in unpack order (see the header) -> 64 bytes in order.
template <bool S>
QK_EW_INLINE V narrow_block(V r0lo, V r0hi, V r1lo, V r1hi) noexcept {
  const V w0 = _mm512_packs_epi32(r0lo, r0hi), w1 = _mm512_packs_epi32(r1lo, r1hi);
  const V b = S ? _mm512_packs_epi16(w0, w1) : _mm512_packus_epi16(w0, w1);
  return _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 4, 6, 1, 3, 5, 7), b);
}

QK_EW_INLINE V srdhm(V x, V m) noexcept {
  const V nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const V even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
  const V odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), m), nudge), 1);
  return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);
}

struct Rdpot {
  V mask, threshold, half, neg;  // general form: mask, threshold; short form: half, neg
  __m128i e;
  static Rdpot make(std::int32_t shift) noexcept {  // shift <= 0 gives e = -shift; > 0 gives e = 0
    const std::int32_t e = shift < 0 ? (shift < -31 ? 31 : -shift) : 0;
    Rdpot r;
    const std::int32_t mask = static_cast<std::int32_t>((std::uint32_t{1} << e) - 1u);
    r.mask = _mm512_set1_epi32(mask);
    r.threshold = _mm512_set1_epi32(mask >> 1);
    r.half = _mm512_set1_epi32(e > 0 ? (std::int32_t{1} << (e - 1)) : 0);
    r.neg = _mm512_set1_epi32(e > 0 ? -1 : 0);
    r.e = _mm_cvtsi32_si128(e);
    return r;
  }
  QK_EW_INLINE V general(V x) const noexcept {
    const V rem = _mm512_and_si512(x, mask);
    const V thr = _mm512_add_epi32(threshold, _mm512_srli_epi32(x, 31));
    const V q = _mm512_sra_epi32(x, e);
    return _mm512_mask_add_epi32(q, _mm512_cmpgt_epi32_mask(rem, thr), q, _mm512_set1_epi32(1));
  }
  // |x| < 2^30 only.
  QK_EW_INLINE V small(V x) const noexcept {
    return _mm512_sra_epi32(_mm512_add_epi32(_mm512_add_epi32(x, half), _mm512_and_si512(_mm512_srai_epi32(x, 31), neg)), e);
  }
};

// ---- Add
struct AddInputV {
  V offset, mult_high, mult_low, round;
  __m128i high_left, low_shift, high_shift;
  Rdpot div;
  static AddInputV make(const ew::AddInput& s, std::int32_t multiplier, std::int32_t left_shift, std::int32_t shift) noexcept {
    AddInputV a;
    const std::int32_t k = 31 - left_shift, mh = multiplier >> 16, ml = multiplier & 0xffff;
    a.offset = _mm512_set1_epi16(static_cast<short>(s.offset));
    // vpmaddwd pairs against (v, 2v): (mh, 0) gives v * mh, (ml - 2^15, 2^14) gives v * ml.
    a.mult_high = _mm512_set1_epi32(mh);
    a.mult_low = _mm512_set1_epi32(static_cast<std::int32_t>((std::uint32_t{1} << 30) | static_cast<std::uint32_t>((ml - 32768) & 0xffff)));
    a.round = _mm512_set1_epi32(s.round);
    a.high_left = _mm_cvtsi32_si128(k <= 16 ? 16 - k : 0);
    a.low_shift = _mm_cvtsi32_si128(s.low_shift);
    a.high_shift = _mm_cvtsi32_si128(s.high_shift);
    a.div = Rdpot::make(shift);
    return a;
  }
  // x: int32 lanes holding (v, 2v) as int16 pairs, v = x + offset.
  QK_EW_INLINE V apply(V x) const noexcept {
    const V lo = _mm512_sra_epi32(_mm512_add_epi32(_mm512_madd_epi16(x, mult_low), round), low_shift);
    const V hi = _mm512_sll_epi32(_mm512_madd_epi16(x, mult_high), high_left);
    return div.small(_mm512_sra_epi32(_mm512_add_epi32(hi, lo), high_shift));
  }
  // int16 lanes (x + offset) -> the rescaled int32 values in unpack order.
  QK_EW_INLINE void apply16(V v16, V* lo, V* hi) const noexcept {
    const V twice = _mm512_add_epi16(v16, v16);
    *lo = apply(_mm512_unpacklo_epi16(v16, twice));
    *hi = apply(_mm512_unpackhi_epi16(v16, twice));
  }
};

// The output stage in one rounding step per lane pair, no 64-bit shift: with |S| < 2^29,
// t = SRDHM(S, m) + 2^(e-1) is the high dword of 2S * m + 2^31 + 2^(e-1) * 2^32 (2S fits int32),
// which vpmuldq leaves in the odd dword of each qword: even lanes take it with a shuffle. Then
// RDPOT(SRDHM(S, m), e) = (t - [S < 0]) >> e for e >= 1 ([SRDHM < 0] may be [S < 0]: both give 0
// when -2^30 <= S * m < 0), t for e = 0 (neg_limit = INT32_MIN: never below).
struct AddV {
  AddInputV in1, in2;
  V out_mult, nudge, neg_limit, out_offset, lo, hi;
  __m128i e;
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

template <bool S, bool BC>
QK_EW_INLINE V add_block(const AddV& c, V a, V b, V bconst) noexcept {
  V a0, a1;
  widen_block<S>(a, &a0, &a1);
  V s1[4];
  c.in1.apply16(_mm512_add_epi16(a0, c.in1.offset), &s1[0], &s1[1]);
  c.in1.apply16(_mm512_add_epi16(a1, c.in1.offset), &s1[2], &s1[3]);
  V s2[4] = {bconst, bconst, bconst, bconst};
  if (!BC) {
    V b0, b1;
    widen_block<S>(b, &b0, &b1);
    c.in2.apply16(_mm512_add_epi16(b0, c.in2.offset), &s2[0], &s2[1]);
    c.in2.apply16(_mm512_add_epi16(b1, c.in2.offset), &s2[2], &s2[3]);
  }
  return narrow_block<S>(c.finish(_mm512_add_epi32(s1[0], s2[0])), c.finish(_mm512_add_epi32(s1[1], s2[1])),
                         c.finish(_mm512_add_epi32(s1[2], s2[2])), c.finish(_mm512_add_epi32(s1[3], s2[3])));
}

template <bool S, bool BC>
__attribute__((noinline)) inline void add_loop(const AddV& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = _mm512_set1_epi32(bfixed);
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const V va = _mm512_loadu_si512(a + i);
    const V vb = BC ? va : _mm512_loadu_si512(b + i);
    _mm512_storeu_si512(out + i, add_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const __mmask64 m = tail_mask(n - i);
    const V va = _mm512_maskz_loadu_epi8(m, a + i);
    const V vb = BC ? va : _mm512_maskz_loadu_epi8(m, b + i);
    _mm512_mask_storeu_epi8(out + i, m, add_block<S, BC>(c, va, vb, bconst));
  }
}

inline void ew_add(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  const ew::AddInput s1 = ew::AddInput::make(p.offset1, p.left_shift, p.multiplier1, p.shift1);
  const ew::AddInput s2 = ew::AddInput::make(p.offset2, p.left_shift, p.multiplier2, p.shift2);
  AddV c;
  c.in1 = AddInputV::make(s1, p.multiplier1, p.left_shift, p.shift1);
  c.in2 = AddInputV::make(s2, p.multiplier2, p.left_shift, p.shift2);
  const std::int32_t e = p.output_shift < 0 ? (p.output_shift < -31 ? 31 : -p.output_shift) : 0;
  c.out_mult = _mm512_set1_epi32(p.output_multiplier);
  c.nudge = _mm512_set1_epi64(static_cast<std::int64_t>((e > 0 ? std::uint64_t{1} << (e - 1) : 0u) << 32 | 0x80000000u));
  c.neg_limit = _mm512_set1_epi32(e > 0 ? 0 : std::numeric_limits<std::int32_t>::min());
  c.e = _mm_cvtsi32_si128(e);
  c.out_offset = _mm512_set1_epi32(p.output_offset);
  c.lo = _mm512_set1_epi32(p.act_min);
  c.hi = _mm512_set1_epi32(p.act_max);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = s2(is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]);
  if (is_signed)
    b_broadcast ? add_loop<true, true>(c, a, b, out, n, bfixed) : add_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? add_loop<false, true>(c, a, b, out, n, bfixed) : add_loop<false, false>(c, a, b, out, n, bfixed);
}

// ---- Mul
struct MulV {
  V offset1, offset2, mult, out_offset, lo, hi;
  __m128i left;
  Rdpot div;
  QK_EW_INLINE V finish(V prod) const noexcept {
    const V x = _mm512_sll_epi32(prod, left);
    const V r = _mm512_add_epi32(div.general(srdhm(x, mult)), out_offset);
    return _mm512_min_epi32(_mm512_max_epi32(r, lo), hi);
  }
  // int16 operands (offsets added) -> finished int32 values in unpack order.
  QK_EW_INLINE void half(V v1, V v2, V* rlo, V* rhi) const noexcept {
    const V pl = _mm512_mullo_epi16(v1, v2), ph = _mm512_mulhi_epi16(v1, v2);
    *rlo = finish(_mm512_unpacklo_epi16(pl, ph));
    *rhi = finish(_mm512_unpackhi_epi16(pl, ph));
  }
};

template <bool S, bool BC>
QK_EW_INLINE V mul_block(const MulV& c, V a, V b, V bconst) noexcept {
  V a0, a1, b0 = bconst, b1 = bconst;
  widen_block<S>(a, &a0, &a1);
  if (!BC) {
    widen_block<S>(b, &b0, &b1);
    b0 = _mm512_add_epi16(b0, c.offset2);
    b1 = _mm512_add_epi16(b1, c.offset2);
  }
  V r[4];
  c.half(_mm512_add_epi16(a0, c.offset1), b0, &r[0], &r[1]);
  c.half(_mm512_add_epi16(a1, c.offset1), b1, &r[2], &r[3]);
  return narrow_block<S>(r[0], r[1], r[2], r[3]);
}

template <bool S, bool BC>
__attribute__((noinline)) inline void mul_loop(const MulV& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = _mm512_set1_epi16(static_cast<short>(bfixed));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const V va = _mm512_loadu_si512(a + i);
    const V vb = BC ? va : _mm512_loadu_si512(b + i);
    _mm512_storeu_si512(out + i, mul_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const __mmask64 m = tail_mask(n - i);
    const V va = _mm512_maskz_loadu_epi8(m, a + i);
    const V vb = BC ? va : _mm512_maskz_loadu_epi8(m, b + i);
    _mm512_mask_storeu_epi8(out + i, m, mul_block<S, BC>(c, va, vb, bconst));
  }
}

inline void ew_mul(const EwMulParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  MulV c;
  c.offset1 = _mm512_set1_epi16(static_cast<short>(p.offset1));
  c.offset2 = _mm512_set1_epi16(static_cast<short>(p.offset2));
  c.mult = _mm512_set1_epi32(p.output_multiplier);
  c.out_offset = _mm512_set1_epi32(p.output_offset);
  c.lo = _mm512_set1_epi32(p.act_min);
  c.hi = _mm512_set1_epi32(p.act_max);
  c.left = _mm_cvtsi32_si128(p.output_shift > 0 ? p.output_shift : 0);
  c.div = Rdpot::make(p.output_shift);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = (is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]) + p.offset2;
  if (is_signed)
    b_broadcast ? mul_loop<true, true>(c, a, b, out, n, bfixed) : mul_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? mul_loop<false, true>(c, a, b, out, n, bfixed) : mul_loop<false, false>(c, a, b, out, n, bfixed);
}

// ---- Maximum / Minimum (bytes throughout)
template <bool S, bool IsMax>
QK_EW_INLINE V minmax_op(V x, V y, V l, V h) noexcept {
  const V r = IsMax ? (S ? _mm512_max_epi8(x, y) : _mm512_max_epu8(x, y)) : (S ? _mm512_min_epi8(x, y) : _mm512_min_epu8(x, y));
  return S ? _mm512_min_epi8(_mm512_max_epi8(r, l), h) : _mm512_min_epu8(_mm512_max_epu8(r, l), h);
}

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

template <bool IsMax>
inline void ew_minmax(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                      std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  if (is_signed)
    bc ? minmax_loop<true, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<true, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
  else
    bc ? minmax_loop<false, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<false, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
}
inline void ew_maximum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<true>(p, s, a, b, bc, out, n);
}
inline void ew_minimum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<false>(p, s, a, b, bc, out, n);
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

using V = __m256i;

template <bool S>
QK_EW_INLINE V widen16(__m128i x) noexcept {
  return S ? _mm256_cvtepi8_epi16(x) : _mm256_cvtepu8_epi16(x);
}
template <bool S>
QK_EW_INLINE void widen_block(V bytes, V* w0, V* w1) noexcept {
  *w0 = widen16<S>(_mm256_castsi256_si128(bytes));
  *w1 = widen16<S>(_mm256_extracti128_si256(bytes, 1));
}
template <bool S>
QK_EW_INLINE V narrow_block(V r0lo, V r0hi, V r1lo, V r1hi) noexcept {
  const V w0 = _mm256_packs_epi32(r0lo, r0hi), w1 = _mm256_packs_epi32(r1lo, r1hi);
  const V b = S ? _mm256_packs_epi16(w0, w1) : _mm256_packus_epi16(w0, w1);
  return _mm256_permute4x64_epi64(b, 0xD8);  // qwords 0, 2, 1, 3
}

QK_EW_INLINE V srdhm(V x, V m) noexcept {
  const V nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const V even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
  const V odd = _mm256_slli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), m), nudge), 1);
  return _mm256_blend_epi32(even, odd, 0xAA);
}

struct Rdpot {
  V mask, threshold, half, neg;
  __m128i e;
  static Rdpot make(std::int32_t shift) noexcept {
    const std::int32_t e = shift < 0 ? (shift < -31 ? 31 : -shift) : 0;
    Rdpot r;
    const std::int32_t mask = static_cast<std::int32_t>((std::uint32_t{1} << e) - 1u);
    r.mask = _mm256_set1_epi32(mask);
    r.threshold = _mm256_set1_epi32(mask >> 1);
    r.half = _mm256_set1_epi32(e > 0 ? (std::int32_t{1} << (e - 1)) : 0);
    r.neg = _mm256_set1_epi32(e > 0 ? -1 : 0);
    r.e = _mm_cvtsi32_si128(e);
    return r;
  }
  QK_EW_INLINE V general(V x) const noexcept {
    const V rem = _mm256_and_si256(x, mask);
    const V thr = _mm256_add_epi32(threshold, _mm256_srli_epi32(x, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(x, e), _mm256_cmpgt_epi32(rem, thr));
  }
  QK_EW_INLINE V small(V x) const noexcept {
    return _mm256_sra_epi32(_mm256_add_epi32(_mm256_add_epi32(x, half), _mm256_and_si256(_mm256_srai_epi32(x, 31), neg)), e);
  }
};

struct AddInputV {
  V offset, mult_high, mult_low, round;
  __m128i high_left, low_shift, high_shift;
  Rdpot div;
  static AddInputV make(const ew::AddInput& s, std::int32_t multiplier, std::int32_t left_shift, std::int32_t shift) noexcept {
    AddInputV a;
    const std::int32_t k = 31 - left_shift, mh = multiplier >> 16, ml = multiplier & 0xffff;
    a.offset = _mm256_set1_epi16(static_cast<short>(s.offset));
    // vpmaddwd pairs against (v, 2v): (mh, 0) gives v * mh, (ml - 2^15, 2^14) gives v * ml.
    a.mult_high = _mm256_set1_epi32(mh);
    a.mult_low = _mm256_set1_epi32(static_cast<std::int32_t>((std::uint32_t{1} << 30) | static_cast<std::uint32_t>((ml - 32768) & 0xffff)));
    a.round = _mm256_set1_epi32(s.round);
    a.high_left = _mm_cvtsi32_si128(k <= 16 ? 16 - k : 0);
    a.low_shift = _mm_cvtsi32_si128(s.low_shift);
    a.high_shift = _mm_cvtsi32_si128(s.high_shift);
    a.div = Rdpot::make(shift);
    return a;
  }
  // x: int32 lanes holding (v, 2v) as int16 pairs, v = x + offset.
  QK_EW_INLINE V apply(V x) const noexcept {
    const V lo = _mm256_sra_epi32(_mm256_add_epi32(_mm256_madd_epi16(x, mult_low), round), low_shift);
    const V hi = _mm256_sll_epi32(_mm256_madd_epi16(x, mult_high), high_left);
    return div.small(_mm256_sra_epi32(_mm256_add_epi32(hi, lo), high_shift));
  }
  // int16 lanes (x + offset) -> the rescaled int32 values in unpack order.
  QK_EW_INLINE void apply16(V v16, V* lo, V* hi) const noexcept {
    const V twice = _mm256_add_epi16(v16, v16);
    *lo = apply(_mm256_unpacklo_epi16(v16, twice));
    *hi = apply(_mm256_unpackhi_epi16(v16, twice));
  }
};

struct AddV {
  AddInputV in1, in2;
  V out_mult, out_offset, lo, hi;
  Rdpot out_div;
  QK_EW_INLINE V finish(V s) const noexcept {
    const V r = _mm256_add_epi32(out_div.small(srdhm(s, out_mult)), out_offset);
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
  }
};

template <bool S, bool BC>
QK_EW_INLINE V add_block(const AddV& c, V a, V b, V bconst) noexcept {
  V a0, a1;
  widen_block<S>(a, &a0, &a1);
  V s1[4];
  c.in1.apply16(_mm256_add_epi16(a0, c.in1.offset), &s1[0], &s1[1]);
  c.in1.apply16(_mm256_add_epi16(a1, c.in1.offset), &s1[2], &s1[3]);
  V s2[4] = {bconst, bconst, bconst, bconst};
  if (!BC) {
    V b0, b1;
    widen_block<S>(b, &b0, &b1);
    c.in2.apply16(_mm256_add_epi16(b0, c.in2.offset), &s2[0], &s2[1]);
    c.in2.apply16(_mm256_add_epi16(b1, c.in2.offset), &s2[2], &s2[3]);
  }
  return narrow_block<S>(c.finish(_mm256_add_epi32(s1[0], s2[0])), c.finish(_mm256_add_epi32(s1[1], s2[1])),
                         c.finish(_mm256_add_epi32(s1[2], s2[2])), c.finish(_mm256_add_epi32(s1[3], s2[3])));
}

// The last n < 32 elements through 32-byte buffers.
QK_EW_INLINE V load_partial(const std::uint8_t* p, std::size_t n) noexcept {
  alignas(32) std::uint8_t buf[32] = {};
  std::memcpy(buf, p, n);
  return _mm256_load_si256(reinterpret_cast<const V*>(buf));
}
QK_EW_INLINE void store_partial(std::uint8_t* p, V v, std::size_t n) noexcept {
  alignas(32) std::uint8_t buf[32];
  _mm256_store_si256(reinterpret_cast<V*>(buf), v);
  std::memcpy(p, buf, n);
}

template <bool S, bool BC>
__attribute__((noinline)) inline void add_loop(const AddV& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = _mm256_set1_epi32(bfixed);
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const V va = _mm256_loadu_si256(reinterpret_cast<const V*>(a + i));
    const V vb = BC ? va : _mm256_loadu_si256(reinterpret_cast<const V*>(b + i));
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i), add_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const V va = load_partial(a + i, n - i);
    const V vb = BC ? va : load_partial(b + i, n - i);
    store_partial(out + i, add_block<S, BC>(c, va, vb, bconst), n - i);
  }
}

inline void ew_add(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  const ew::AddInput s1 = ew::AddInput::make(p.offset1, p.left_shift, p.multiplier1, p.shift1);
  const ew::AddInput s2 = ew::AddInput::make(p.offset2, p.left_shift, p.multiplier2, p.shift2);
  AddV c;
  c.in1 = AddInputV::make(s1, p.multiplier1, p.left_shift, p.shift1);
  c.in2 = AddInputV::make(s2, p.multiplier2, p.left_shift, p.shift2);
  c.out_mult = _mm256_set1_epi32(p.output_multiplier);
  c.out_offset = _mm256_set1_epi32(p.output_offset);
  c.lo = _mm256_set1_epi32(p.act_min);
  c.hi = _mm256_set1_epi32(p.act_max);
  c.out_div = Rdpot::make(p.output_shift);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = s2(is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]);
  if (is_signed)
    b_broadcast ? add_loop<true, true>(c, a, b, out, n, bfixed) : add_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? add_loop<false, true>(c, a, b, out, n, bfixed) : add_loop<false, false>(c, a, b, out, n, bfixed);
}

struct MulV {
  V offset1, offset2, mult, out_offset, lo, hi;
  __m128i left;
  Rdpot div;
  QK_EW_INLINE V finish(V prod) const noexcept {
    const V x = _mm256_sll_epi32(prod, left);
    const V r = _mm256_add_epi32(div.general(srdhm(x, mult)), out_offset);
    return _mm256_min_epi32(_mm256_max_epi32(r, lo), hi);
  }
  QK_EW_INLINE void half(V v1, V v2, V* rlo, V* rhi) const noexcept {
    const V pl = _mm256_mullo_epi16(v1, v2), ph = _mm256_mulhi_epi16(v1, v2);
    *rlo = finish(_mm256_unpacklo_epi16(pl, ph));
    *rhi = finish(_mm256_unpackhi_epi16(pl, ph));
  }
};

template <bool S, bool BC>
QK_EW_INLINE V mul_block(const MulV& c, V a, V b, V bconst) noexcept {
  V a0, a1, b0 = bconst, b1 = bconst;
  widen_block<S>(a, &a0, &a1);
  if (!BC) {
    widen_block<S>(b, &b0, &b1);
    b0 = _mm256_add_epi16(b0, c.offset2);
    b1 = _mm256_add_epi16(b1, c.offset2);
  }
  V r[4];
  c.half(_mm256_add_epi16(a0, c.offset1), b0, &r[0], &r[1]);
  c.half(_mm256_add_epi16(a1, c.offset1), b1, &r[2], &r[3]);
  return narrow_block<S>(r[0], r[1], r[2], r[3]);
}

template <bool S, bool BC>
__attribute__((noinline)) inline void mul_loop(const MulV& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = _mm256_set1_epi16(static_cast<short>(bfixed));
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const V va = _mm256_loadu_si256(reinterpret_cast<const V*>(a + i));
    const V vb = BC ? va : _mm256_loadu_si256(reinterpret_cast<const V*>(b + i));
    _mm256_storeu_si256(reinterpret_cast<V*>(out + i), mul_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const V va = load_partial(a + i, n - i);
    const V vb = BC ? va : load_partial(b + i, n - i);
    store_partial(out + i, mul_block<S, BC>(c, va, vb, bconst), n - i);
  }
}

inline void ew_mul(const EwMulParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  MulV c;
  c.offset1 = _mm256_set1_epi16(static_cast<short>(p.offset1));
  c.offset2 = _mm256_set1_epi16(static_cast<short>(p.offset2));
  c.mult = _mm256_set1_epi32(p.output_multiplier);
  c.out_offset = _mm256_set1_epi32(p.output_offset);
  c.lo = _mm256_set1_epi32(p.act_min);
  c.hi = _mm256_set1_epi32(p.act_max);
  c.left = _mm_cvtsi32_si128(p.output_shift > 0 ? p.output_shift : 0);
  c.div = Rdpot::make(p.output_shift);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = (is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]) + p.offset2;
  if (is_signed)
    b_broadcast ? mul_loop<true, true>(c, a, b, out, n, bfixed) : mul_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? mul_loop<false, true>(c, a, b, out, n, bfixed) : mul_loop<false, false>(c, a, b, out, n, bfixed);
}

template <bool S, bool IsMax>
QK_EW_INLINE V minmax_op(V x, V y, V l, V h) noexcept {
  const V r = IsMax ? (S ? _mm256_max_epi8(x, y) : _mm256_max_epu8(x, y)) : (S ? _mm256_min_epi8(x, y) : _mm256_min_epu8(x, y));
  return S ? _mm256_min_epi8(_mm256_max_epi8(r, l), h) : _mm256_min_epu8(_mm256_max_epu8(r, l), h);
}

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

template <bool IsMax>
inline void ew_minmax(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                      std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  if (is_signed)
    bc ? minmax_loop<true, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<true, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
  else
    bc ? minmax_loop<false, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<false, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
}
inline void ew_maximum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<true>(p, s, a, b, bc, out, n);
}
inline void ew_minimum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<false>(p, s, a, b, bc, out, n);
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
