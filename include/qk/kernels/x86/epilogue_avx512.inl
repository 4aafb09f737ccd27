// qk/kernels/x86/epilogue_avx512.inl - finish_row() for AVX-512 families: column offsets, the
// weight-zero-point row term, and the output stage, 16 columns at a time with masked tails.
// Included inside an AVX-512 target region. Reproduces detail::output_element() bit for bit:
//  - fixed point: x << left; SRDHM as floor((x*m + 2^30) / 2^31) (equal to gemmlowp's
//    sign-dependent nudge with truncation), INT32_MIN*INT32_MIN -> INT32_MAX; RDPOT with the
//    remainder/threshold test; clamp to [qmin - zp, qmax - zp] before adding zp (as the scalar
//    code clamps in 64 bits);
//  - float: float(acc) * scale, clamp, cvtps2dq (round half to even in the default MXCSR), + zp.

QK_KERNEL_INLINE __m512i epi_srdhm(__m512i x, __m512i m) noexcept {
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), nudge), 31);
  const __m512i odd = _mm512_slli_epi64(
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)), nudge), 1);
  __m512i r = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);
  const __m512i int_min = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::min());
  const __mmask16 sat = _mm512_cmpeq_epi32_mask(x, int_min) & _mm512_cmpeq_epi32_mask(m, int_min);
  return _mm512_mask_mov_epi32(r, sat, _mm512_set1_epi32(std::numeric_limits<std::int32_t>::max()));
}

QK_KERNEL_INLINE __m512i epi_rdpot(__m512i x, __m512i exponent) noexcept {
  const __m512i one = _mm512_set1_epi32(1);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, exponent), one);
  const __m512i remainder = _mm512_and_si512(x, mask);
  const __m512i threshold = _mm512_add_epi32(_mm512_srli_epi32(mask, 1), _mm512_srli_epi32(x, 31));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(remainder, threshold);
  return _mm512_mask_add_epi32(_mm512_srav_epi32(x, exponent), up, _mm512_srav_epi32(x, exponent), one);
}

// Single rounding: (x * m + 2^(30 - shift)) >> (31 - shift) in 64 bits, saturated to int32.
QK_KERNEL_INLINE __m512i epi_single_rounding(__m512i x, __m512i m, __m512i shift) noexcept {
  const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);
  const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
  const __m512i one64 = _mm512_set1_epi64(1);
  const __m512i lo64 = _mm512_set1_epi64(std::numeric_limits<std::int32_t>::min());
  const __m512i hi64 = _mm512_set1_epi64(std::numeric_limits<std::int32_t>::max());
  const __m512i t_even = _mm512_and_si512(total, low32), t_odd = _mm512_srli_epi64(total, 32);
  __m512i even = _mm512_mul_epi32(x, m);
  __m512i odd = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32));
  even = _mm512_srav_epi64(_mm512_add_epi64(even, _mm512_sllv_epi64(one64, _mm512_sub_epi64(t_even, one64))), t_even);
  odd = _mm512_srav_epi64(_mm512_add_epi64(odd, _mm512_sllv_epi64(one64, _mm512_sub_epi64(t_odd, one64))), t_odd);
  even = _mm512_min_epi64(_mm512_max_epi64(even, lo64), hi64);
  odd = _mm512_min_epi64(_mm512_max_epi64(odd, lo64), hi64);
  return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, _mm512_slli_epi64(odd, 32));
}

QK_KERNEL_INLINE __m512i epi_param_i32(const std::int32_t* p, bool per_channel, std::size_t n, __mmask16 mask) noexcept {
  return per_channel ? _mm512_maskz_loadu_epi32(mask, p + n) : _mm512_set1_epi32(p[0]);
}
QK_KERNEL_INLINE __m512 epi_param_f32(const float* p, bool per_channel, std::size_t n, __mmask16 mask) noexcept {
  return per_channel ? _mm512_maskz_loadu_ps(mask, p + n) : _mm512_set1_ps(p[0]);
}

// One vector of 16 columns at n: offsets, row term and the output stage up to the clamped
// int32 value with the zero point added (8-bit outputs), or stored directly (32-bit outputs:
// returns false). `mask` selects the valid columns.
QK_KERNEL_INLINE bool epi_vector(const GemmS8Args& args, const std::int32_t* acc, std::size_t n, __mmask16 mask,
                                 __m512i row_sum, std::uint8_t* row, __m512i* out) noexcept {
  const OutputStage& s = args.out;
  // col_offset and col_zero_point are padded to whole panels: plain loads are in bounds.
  __m512i x = _mm512_add_epi32(_mm512_load_si512(acc), _mm512_loadu_si512(args.col_offset + n));
  if (args.col_zero_point != nullptr)
    x = _mm512_sub_epi32(x, _mm512_mullo_epi32(_mm512_loadu_si512(args.col_zero_point + n), row_sum));
  switch (s.kind) {
    case OutputStage::Kind::raw_int32:
      _mm512_mask_storeu_epi32(row + 4 * n, mask, x);
      return false;
    case OutputStage::Kind::dequantize:
      _mm512_mask_storeu_ps(row + 4 * n, mask, _mm512_mul_ps(_mm512_cvtepi32_ps(x), epi_param_f32(s.scale, s.per_channel, n, mask)));
      return false;
    case OutputStage::Kind::fixed_point: {
      const __m512i mult = epi_param_i32(s.multiplier, s.per_channel, n, mask);
      const __m512i shift = epi_param_i32(s.shift, s.per_channel, n, mask);
      if (s.rounding == RequantRounding::double_rounding) {
        const __m512i zero = _mm512_setzero_si512();
        x = _mm512_sllv_epi32(x, _mm512_max_epi32(shift, zero));
        x = epi_rdpot(epi_srdhm(x, mult), _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero));
      } else {
        x = epi_single_rounding(x, mult, shift);
      }
      break;
    }
    case OutputStage::Kind::float_scale: {
      const __m512 lo_f = _mm512_set1_ps(static_cast<float>(s.qmin - s.zero_point));
      const __m512 hi_f = _mm512_set1_ps(static_cast<float>(s.qmax - s.zero_point));
      __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), epi_param_f32(s.scale, s.per_channel, n, mask));
      f = _mm512_min_ps(_mm512_max_ps(f, lo_f), hi_f);
      x = _mm512_cvtps_epi32(f);  // already inside [lo, hi]: the integer clamp below is a no-op
      break;
    }
  }
  const __m512i lo = _mm512_set1_epi32(s.qmin - s.zero_point), hi = _mm512_set1_epi32(s.qmax - s.zero_point);
  *out = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(x, lo), hi), _mm512_set1_epi32(s.zero_point));
  return true;
}

QK_KERNEL_INLINE __mmask16 epi_mask16(std::size_t left) noexcept {
  return left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

// Not inlined into the tile, deliberately: once inlined, GCC hoists its constants above the K
// loop, where they take vector registers from the 24 accumulators and one spills on every
// K step. One call per row of up to 64 outputs costs far less.
__attribute__((noinline)) inline void finish_row(const GemmS8Args& args, std::size_t m, std::size_t n0,
                                                 std::size_t count, const std::int32_t* acc, std::int32_t rs) noexcept {
  std::uint8_t* row = args.c + m * args.ldc_bytes;
  const __m512i row_sum = _mm512_set1_epi32(rs);
  if (output_type_size(args.out.type) == 4) {
    __m512i unused;
    for (std::size_t j = 0; j < count; j += 16) epi_vector(args, acc + j, n0 + j, epi_mask16(count - j), row_sum, row, &unused);
    return;
  }
  // 8-bit outputs, 64 columns at a time: four vectors narrowed with saturating packs (exact: the
  // values are already clamped into the output type) and one store. A masked vpmovdb to memory
  // per 16 columns instead is slow on AMD cores and dominated small-K layers.
  const bool is_signed = args.out.type == OutputType::s8;
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (std::size_t j = 0; j < count; j += 64) {
    const std::size_t left = count - j;
    __m512i v[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512()};
    for (std::size_t q = 0; q < 4 && 16 * q < left; ++q)
      epi_vector(args, acc + j + 16 * q, n0 + j + 16 * q, epi_mask16(left - 16 * q), row_sum, row, &v[q]);
    // Per 128-bit lane l: packs give [v0 v1 v2 v3] x (4 values of lane l); the permute puts
    // dword 4l + src at position 4 src + l.
    const __m512i w01 = _mm512_packs_epi32(v[0], v[1]), w23 = _mm512_packs_epi32(v[2], v[3]);
    const __m512i bytes = is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    const __mmask64 mask = left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
    _mm512_mask_storeu_epi8(row + n0 + j, mask, _mm512_permutexvar_epi32(order, bytes));
  }
}

// The single-shift form of TFLite's double-rounding requantization. With y = x * m (64-bit,
// exact), e = -shift >= 1 and zp an output zero point folded in (or 0),
//   RDPOT(SRDHM(x, m), e) + zp == (y + 2^30 + 2^(30+e) + zp * 2^(31+e) - [y < -2^30] * 2^31) >> (31+e)
// because nested floor divisions merge: SRDHM(x, m) = floor((y + 2^30) / 2^31) (gemmlowp's
// sign-dependent nudge with truncation is that floor), RDPOT(s, e) = floor((s + 2^(e-1) - [s < 0])
// / 2^e) and s < 0 iff y < -2^30; the saturating INT32_MIN * INT32_MIN case rounds to the same
// 2^(31-e). Odd lanes shift by e - 1 instead, leaving their result in the upper dword. With
// zp != 0, e <= 22 and |zp| < 256 keep everything inside 64 bits (|y| <= 2^62); with zp = 0 any
// e in [1, 31] does.
//
// Why: on small-K layers (1x1 with K = 24, a first layer with K = 27) and depthwise layers
// requantization is most of the time, and this form is 12 vector ops per 16 outputs against the
// two-step form's 19. The one definition serves the GEMM epilogue below and both AVX-512
// depthwise kernels (depthwise_s8_x86.hpp, depthwise_s8_columns.inl).
//
// TFLITE_SINGLE_ROUNDING is the same form without the SRDHM step's terms: round(y / 2^(31+e)),
// ties up, is (y + 2^(30+e) + zp * 2^(31+e)) >> (31+e) (no 2^30, no [y < -2^30] correction), and
// with e >= 1 it cannot saturate (|y| <= 2^62). The rounding is data, not code: the constants
// drop the 2^30 and set the correction's threshold (`below`) and the narrow form's tie shift
// (`tie`) so that the correction is never taken; every caller runs the one instruction sequence
// for both roundings, with no instantiation more, and single rounding costs what double does.
struct SingleShift {
  __m512i mult, mult_odd, round_even, round_odd, shift_even, shift_odd;
  // epi_single_shift_narrow: the 16 right shifts e as dwords, and the odd lanes' multipliers
  // doubled (2m in the low dword: -(2^32 - 2m) to vpmuldq) with their rounding constants doubled.
  __m512i e32, mult_odd2, round_odd2;
  // The double-rounding correction: subtract 2^31 where y < below (qwords: -2^30 for double
  // rounding, INT64_MIN, never, for single); the narrow form subtracts x >> tie, logical (dwords:
  // 31 gives [x < 0] for double rounding, 32 gives 0 for single).
  __m512i below, tie;
};

// The constants for 16 lanes of multipliers `mult` and right shifts `e` (each >= 1).
QK_KERNEL_INLINE SingleShift single_shift_constants(__m512i mult, __m512i e, std::int32_t zp,
                                                    RequantRounding rounding) noexcept {
  const bool single = rounding == RequantRounding::single_rounding;
  const __m512i one = _mm512_set1_epi64(1), k30 = _mm512_set1_epi64(30), k31 = _mm512_set1_epi64(31);
  const __m512i half = _mm512_set1_epi64(single ? 0 : std::int64_t{1} << 30), zp64 = _mm512_set1_epi64(zp);
  const __m512i e_even = _mm512_and_si512(e, _mm512_set1_epi64(0xFFFFFFFF)), e_odd = _mm512_srli_epi64(e, 32);
  SingleShift c;
  c.mult = mult;
  c.mult_odd = _mm512_srli_epi64(mult, 32);
  c.round_even = _mm512_add_epi64(_mm512_add_epi64(half, _mm512_sllv_epi64(one, _mm512_add_epi64(e_even, k30))),
                                  _mm512_sllv_epi64(zp64, _mm512_add_epi64(e_even, k31)));
  c.round_odd = _mm512_add_epi64(_mm512_add_epi64(half, _mm512_sllv_epi64(one, _mm512_add_epi64(e_odd, k30))),
                                 _mm512_sllv_epi64(zp64, _mm512_add_epi64(e_odd, k31)));
  c.shift_even = _mm512_add_epi64(e_even, k31);
  c.shift_odd = _mm512_sub_epi64(e_odd, one);
  c.e32 = e;
  c.mult_odd2 = _mm512_add_epi64(c.mult_odd, c.mult_odd);
  c.round_odd2 = _mm512_add_epi64(c.round_odd, c.round_odd);
  c.below = _mm512_set1_epi64(single ? std::numeric_limits<std::int64_t>::min() : -(std::int64_t{1} << 30));
  c.tie = _mm512_set1_epi32(single ? 32 : 31);
  return c;
}

// x_odd holds the odd lanes' values in the low dword of each qword (x >> 32, a shuffle, or a
// load one element further on: the callers choose by which port is free).
QK_KERNEL_INLINE __m512i epi_single_shift(__m512i x, __m512i x_odd, const SingleShift& c) noexcept {
  const __m512i two31 = _mm512_set1_epi64(std::int64_t{1} << 31);
  const __m512i ye = _mm512_mul_epi32(x, c.mult), yo = _mm512_mul_epi32(x_odd, c.mult_odd);
  __m512i te = _mm512_add_epi64(ye, c.round_even), to = _mm512_add_epi64(yo, c.round_odd);
  te = _mm512_mask_sub_epi64(te, _mm512_cmplt_epi64_mask(ye, c.below), te, two31);
  to = _mm512_mask_sub_epi64(to, _mm512_cmplt_epi64_mask(yo, c.below), to, two31);
  return _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), _mm512_srav_epi64(te, c.shift_even),
                                 _mm512_srav_epi64(to, c.shift_odd));
}

// The same result in 9 ops instead of 11 when the accumulators are known to be small and the
// multipliers normalized: every |x| < 2^29 and every m in [2^30, 2^31) (TFLite's
// QuantizeMultiplier always gives that; the callers prove both before choosing this form; see
// kNarrowAccumulatorBound). Then
//   s' = floor((y + k) / 2^31) = SRDHM(x, m) + 2^(e-1) + zp * 2^e
// (k the same rounding constant) fits in 32 bits (|s'| < 2^29 + 2^30 + 2^21), so the 64-bit
// variable shift by 31 + e is not needed:
//  - even lanes: s' is the low dword of (y + k) >> 31, an immediate shift;
//  - odd lanes: vpmuldq by the low dword of 2m, which it reads as 2m - 2^32 (m >= 2^30), gives
//    2(y + k) - x * 2^32 once 2k is added, whose high dword (already the odd lane's place) is
//    s' - x exactly; a masked add of x puts s' there. Only that dword is used, so the 64-bit
//    sum may wrap. No shift and no blend for the odd lanes.
// The remaining floor division by 2^e runs on all 16 lanes at once: (s' - [y < -2^30]) >> e. For
// e >= 1 the tie test [y < -2^30] may be [y < 0] (both give zp when -2^30 <= y < 0), and with
// m > 0 that is [x < 0], which is x >> 31 as a dword (logical, c.tie = 31; single rounding has
// no such term: c.tie = 32 shifts every bit out): one shift and one subtract on 16 lanes replace
// two 64-bit compares (port 5 only on this machine) and two masked subtracts on 8 each.
QK_KERNEL_INLINE __m512i epi_single_shift_narrow(__m512i x, __m512i x_odd, const SingleShift& c) noexcept {
  const __m512i te = _mm512_add_epi64(_mm512_mul_epi32(x, c.mult), c.round_even);
  const __m512i to = _mm512_add_epi64(_mm512_mul_epi32(x_odd, c.mult_odd2), c.round_odd2);
  const __m512i s = _mm512_mask_add_epi32(_mm512_srli_epi64(te, 31), static_cast<__mmask16>(0xAAAA), to, x);
  return _mm512_srav_epi32(_mm512_sub_epi32(s, _mm512_srlv_epi32(x, c.tie)), c.e32);
}

// kNarrowMultiplierMin, kNarrowAccumulatorBound and narrow_offset_room(), the conditions of
// this form, are shared with the AVX2 epilogue (gemm_s8_contract.hpp).

// The GEMM's use of it, for one panel group of up to 64 columns: the per-column constants are
// computed once per group (gemm_s8_rows) and shared by every tile of the group's rows, with the
// zero point folded in (narrowing needs no add) and no store/reload of int32 results.
struct TileRequant {
  static constexpr std::size_t kMaxVectors = 4;
  static constexpr bool kPipelined = true;
  struct alignas(64) Column {
    __m512i zero_point;  // per-column row-term coefficients (per_column row term only)
    SingleShift q;
    __m512 scale;        // the float form's scales (float_form only)
  };
  Column col[kMaxVectors];
  // The single-shift form applies to every column of the group; the tile then starts its
  // accumulators at the column offsets (col_offset), and finish_tile does not add them.
  bool fast = false;
  // Also: every |accumulator| < kNarrowAccumulatorBound (K * 255 * 128 plus the largest column
  // offset: A is u8 after the flip, B s8) and every multiplier >= kNarrowMultiplierMin, with no
  // row term, so finish_tile uses epi_single_shift_narrow.
  bool narrow = false;
  bool clamp = false;  // [qmin, qmax] is narrower than the output type: clamp after narrowing
  // The float form (ONNX's float_scale to 8 bits, epi_float_scale): fast is set too (the tile
  // starts at the column offsets), narrow is not. With no row term it also finishes from the
  // tile's registers (finish_pair_in_registers), as the narrow form does.
  bool float_form = false;
  __m512 float_hi;        // qmax - zero point, as floats
  __m512i zero_point16;   // the zero point, as int16 (added after the first pack)
};

// The float form for 16 accumulators: float(x) * scale, rounded half to even, up to the
// addition of the zero point. 4 ops where detail::requantize_float clamps both sides in double:
//  - only the upper bound is applied in float (min with qmax - zp, which also maps +inf);
//  - a product below -2^31 (or -inf) converts to INT32_MIN, cvtps2dq's "integer indefinite",
//    which lies below qmin - zp as the product does: the saturating packs and the 8-bit clamp
//    give qmin for it and for every other value below the range;
//  - the zero point is added as int16 with saturation after the first pack (tile_row_bytes):
//    in int32, INT32_MIN + a negative zero point would wrap. The values in range are exact
//    integers within +-510, so int16 holds them and their sum with the zero point.
// NaN cannot occur: validate_output_stage accepts only finite, positive, normal scales.
// Of the 4, only the multiply uses vpdpbusd's pipe on Zen 4 (bench_peak's
// vpdpbusd_zmm_beside rows), against two vpmuldq for the exact fixed-point forms.
QK_KERNEL_INLINE __m512i epi_float_scale(__m512i x, __m512 scale, __m512 hi) noexcept {
  return _mm512_cvtps_epi32(_mm512_min_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(x), scale), hi));
}

inline void prepare_tile_requant(const GemmS8Args& args, std::size_t n0, std::size_t count, TileRequant* rq) noexcept {
  const OutputStage& s = args.out;
  rq->fast = rq->narrow = rq->float_form = false;
  rq->float_hi = _mm512_setzero_ps();  // read (unused) by the other forms' shared narrowing
  rq->zero_point16 = _mm512_setzero_si512();
  const std::int32_t type_min = s.type == OutputType::s8 ? -128 : 0, type_max = s.type == OutputType::s8 ? 127 : 255;
  rq->clamp = s.qmin > type_min || s.qmax < type_max;
  if (s.kind == OutputStage::Kind::float_scale && output_type_size(s.type) == 1 && count <= 16 * TileRequant::kMaxVectors) {
    for (std::size_t j = 0; 16 * j < count; ++j) {
      const std::size_t n = n0 + 16 * j;
      const __mmask16 mask = epi_mask16(count - 16 * j);
      TileRequant::Column& c = rq->col[j];
      c.zero_point = args.col_zero_point != nullptr ? _mm512_loadu_si512(args.col_zero_point + n) : _mm512_setzero_si512();
      c.scale = epi_param_f32(s.scale, s.per_channel, n, mask);
    }
    rq->float_hi = _mm512_set1_ps(static_cast<float>(s.qmax - s.zero_point));  // exact: |qmax - zp| <= 510
    rq->zero_point16 = _mm512_set1_epi16(static_cast<std::int16_t>(s.zero_point));
    rq->fast = rq->float_form = true;
    return;
  }
  if (s.kind != OutputStage::Kind::fixed_point || output_type_size(s.type) != 1 || s.zero_point <= -256 ||
      s.zero_point >= 256 || count > 16 * TileRequant::kMaxVectors)
    return;
  const __m512i zero = _mm512_setzero_si512(), one32 = _mm512_set1_epi32(1), max_e = _mm512_set1_epi32(22);
  __mmask16 bad = 0, wide = 0;
  // The tile starts from the column offset and adds K products.
  const std::int64_t room = narrow_offset_room(args.k);
  const __m512i offset_room = _mm512_set1_epi32(static_cast<std::int32_t>(room < 0 ? 0 : room));
  for (std::size_t j = 0; 16 * j < count; ++j) {
    const std::size_t n = n0 + 16 * j;
    const __mmask16 mask = epi_mask16(count - 16 * j);
    TileRequant::Column& c = rq->col[j];
    c.zero_point = args.col_zero_point != nullptr ? _mm512_loadu_si512(args.col_zero_point + n) : zero;
    // e = -shift; lanes past the last column take e = 1 (any valid value: their bytes are not stored).
    const __m512i e = _mm512_mask_blend_epi32(mask, one32, _mm512_sub_epi32(zero, epi_param_i32(s.shift, s.per_channel, n, mask)));
    bad = static_cast<__mmask16>(bad | _mm512_cmplt_epi32_mask(e, one32) | _mm512_cmpgt_epi32_mask(e, max_e));
    const __m512i mult = epi_param_i32(s.multiplier, s.per_channel, n, mask);
    c.q = single_shift_constants(mult, e, s.zero_point, s.rounding);
    // |offset| > room (abs of INT32_MIN stays negative as unsigned compare: counted as wide).
    const __m512i offset_abs = _mm512_abs_epi32(_mm512_maskz_loadu_epi32(mask, args.col_offset + n));
    wide = static_cast<__mmask16>(wide | _mm512_mask_cmplt_epi32_mask(mask, mult, _mm512_set1_epi32(kNarrowMultiplierMin)) |
                                  _mm512_cmpgt_epu32_mask(offset_abs, offset_room));
  }
  rq->fast = bad == 0;
  rq->narrow = rq->fast && wide == 0 && args.col_zero_point == nullptr && room >= 0;
}

// The tile through its hoisted form (TileRequant: single shift, narrow or float), row by row:
// the row's vectors are requantized in registers, narrowed with saturating packs (exact: packs
// clamp to the output type, and a value saturating at int16 is beyond it on the same side),
// clamped to [qmin, qmax] in 8 bits if that is narrower, and stored with one masked store. The
// tile started its accumulators at the column offsets (gemm_s8_tile_rows), so with no row term
// the accumulators are the values themselves. The odd lanes come from a vpshufd (port 5, which has room: the shifts are port 0's)
// and not from a load one element further on: that load spans two of the tile's just-stored
// vectors, which defeats store forwarding, so the epilogue could not start until the whole tile
// had retired and committed (3136x144x24: 100 -> 97 us despite the extra op). The vector count,
// the kind of row term and the form are template parameters: as run-time tests inside the row
// loop they cost two taken branches per vector.
enum class RowTerm { none, uniform, per_column };

// Which requantization a hoisted tile epilogue runs (TileRequant): single shift, its narrow
// form, or the float form.
enum class TileForm { single_shift, narrow, float_scale };

// One tile row's vectors through the tile's form into v[0..kVectors).
template <std::size_t kVectors, RowTerm kRowTerm, TileForm kForm>
QK_KERNEL_INLINE void tile_row_requant(const TileRequant& rq, const std::int32_t* acc, __m512i row_term, __m512i* v) noexcept {
  static_assert(kForm != TileForm::narrow || kRowTerm == RowTerm::none, "the narrow form has no row term");
  QK_UNROLL for (std::size_t j = 0; j < kVectors; ++j) {
    const TileRequant::Column& c = rq.col[j];
    __m512i x = _mm512_load_si512(acc + 16 * j);
    if constexpr (kForm == TileForm::float_scale) {
      if constexpr (kRowTerm == RowTerm::uniform) x = _mm512_sub_epi32(x, row_term);
      if constexpr (kRowTerm == RowTerm::per_column) x = _mm512_sub_epi32(x, _mm512_mullo_epi32(c.zero_point, row_term));
      v[j] = epi_float_scale(x, c.scale, rq.float_hi);
    } else if constexpr (kRowTerm == RowTerm::none) {
      const __m512i x_odd = _mm512_shuffle_epi32(x, _MM_PERM_DDBB);  // dword 2i+1 to 2i
      v[j] = kForm == TileForm::narrow ? epi_single_shift_narrow(x, x_odd, c.q) : epi_single_shift(x, x_odd, c.q);
    } else {
      x = kRowTerm == RowTerm::uniform ? _mm512_sub_epi32(x, row_term)
                                       : _mm512_sub_epi32(x, _mm512_mullo_epi32(c.zero_point, row_term));
      v[j] = epi_single_shift(x, _mm512_srli_epi64(x, 32), c.q);
    }
  }
}

// Row r's row term as a broadcast: -coef * rowsum folded as one scalar (uniform, wrapping int32),
// the row sum itself (per_column: multiplied per column), nothing (none).
template <RowTerm kRowTerm>
QK_KERNEL_INLINE __m512i tile_row_term(std::uint32_t coef, const std::int32_t* sums, std::size_t r) noexcept {
  if constexpr (kRowTerm == RowTerm::uniform)
    return _mm512_set1_epi32(static_cast<std::int32_t>(coef * static_cast<std::uint32_t>(sums[r])));
  if constexpr (kRowTerm == RowTerm::per_column) return _mm512_set1_epi32(sums[r]);
  return _mm512_setzero_si512();
}

// Four vectors of 16 int32 to 64 bytes in order: per 128-bit lane l the packs give
// [v0 v1 v2 v3] x (4 values of lane l); the permute `order` puts dword 4l + src at 4 src + l.
// kAddZeroPoint (the float form): zp16 is added to the int16 values with saturation.
template <bool kAddZeroPoint = false>
QK_KERNEL_INLINE __m512i tile_row_bytes(const __m512i* v, bool is_signed, bool clamp, __m512i qmin8, __m512i qmax8,
                                        __m512i order, [[maybe_unused]] __m512i zp16 = __m512i()) noexcept {
  __m512i w01 = _mm512_packs_epi32(v[0], v[1]), w23 = _mm512_packs_epi32(v[2], v[3]);
  if constexpr (kAddZeroPoint) w01 = _mm512_adds_epi16(w01, zp16), w23 = _mm512_adds_epi16(w23, zp16);
  __m512i bytes = is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
  if (clamp)
    bytes = is_signed ? _mm512_min_epi8(_mm512_max_epi8(bytes, qmin8), qmax8) : _mm512_min_epu8(_mm512_max_epu8(bytes, qmin8), qmax8);
  return _mm512_permutexvar_epi32(order, bytes);
}

template <std::size_t kVectors, RowTerm kRowTerm, TileForm kForm = TileForm::single_shift>
QK_KERNEL_INLINE void finish_tile_hoisted_t(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                            std::size_t rows, std::size_t n0, std::size_t count,
                                            const std::int32_t* acc, std::size_t acc_stride,
                                            const std::int32_t* sums) noexcept {
  const OutputStage& s = args.out;
  constexpr bool kFloat = kForm == TileForm::float_scale;
  const bool is_signed = s.type == OutputType::s8, clamp = rq.clamp;
  const std::uint32_t coef = args.col_zero_point != nullptr ? static_cast<std::uint32_t>(args.col_zero_point[0]) : 0u;
  const __m512i zero = _mm512_setzero_si512();
  const __m512i qmin8 = _mm512_set1_epi8(static_cast<char>(s.qmin)), qmax8 = _mm512_set1_epi8(static_cast<char>(s.qmax));
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __mmask64 store_mask = count >= 64 ? ~__mmask64{0} : ((__mmask64{1} << count) - 1);
  std::uint8_t* out = args.c + m0 * args.ldc_bytes + n0;
  std::size_t r = 0;
  // Up to 32 columns: two rows share the narrowing (row r in v[0..1], row r + 1 in v[2..3]) and
  // leave it as bytes 0-31 and 32-63, stored with two masked stores (the second 32 bytes before
  // row r + 1, hence ldc >= 32). The narrowing of a 32-column row (a packssdw, a packsswb and a
  // permute, all on port 5) becomes two packssdw, one packsswb and one permute per two rows:
  // 3 of ~25 vector ops per row become 2 (first_224: 32 channels, K = 27: 122 -> 121 us).
  // When the two rows are contiguous (C is N = 32 bytes wide) they are one plain 64-byte
  // store: two masked stores into the same 64 bytes held the epilogue back (first_224:
  // 103.3 -> 100.4 us).
  const std::size_t ldc = args.ldc_bytes;
  if constexpr (kVectors <= 2) {
    const bool contiguous = ldc == 32 && count == 32;
    if (ldc >= 32) {
      for (; r + 2 <= rows; r += 2) {
        const std::int32_t* const acc_r = acc + r * acc_stride;
        std::uint8_t* const out_r = out + r * ldc;
        __m512i v[4] = {zero, zero, zero, zero};
        tile_row_requant<kVectors, kRowTerm, kForm>(rq, acc_r, tile_row_term<kRowTerm>(coef, sums, r), v);
        tile_row_requant<kVectors, kRowTerm, kForm>(rq, acc_r + acc_stride, tile_row_term<kRowTerm>(coef, sums, r + 1), v + 2);
        const __m512i bytes = tile_row_bytes<kFloat>(v, is_signed, clamp, qmin8, qmax8, order, rq.zero_point16);
        if (contiguous) {
          _mm512_storeu_si512(out_r, bytes);
        } else {
          _mm512_mask_storeu_epi8(out_r, store_mask, bytes);
          _mm512_mask_storeu_epi8(out_r + ldc - 32, store_mask << 32, bytes);
        }
      }
    }
  }
  // Row pointers from r, not stepped: a step past the last row would leave the C array when
  // ldc is larger than what remains of it (a 1-row GEMM may have any ldc), which is undefined
  // even unused (UBSan, fuzz_gemm).
  for (; r < rows; ++r) {
    __m512i v[TileRequant::kMaxVectors] = {zero, zero, zero, zero};
    tile_row_requant<kVectors, kRowTerm, kForm>(rq, acc + r * acc_stride, tile_row_term<kRowTerm>(coef, sums, r), v);
    _mm512_mask_storeu_epi8(out + r * ldc, store_mask,
                            tile_row_bytes<kFloat>(v, is_signed, clamp, qmin8, qmax8, order, rq.zero_point16));
  }
}

template <std::size_t kVectors>
QK_KERNEL_INLINE void finish_tile_hoisted_v(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                            std::size_t rows, std::size_t n0, std::size_t count,
                                            const std::int32_t* acc, std::size_t acc_stride,
                                            const std::int32_t* sums) noexcept {
  if (rq.float_form) {
    constexpr TileForm kF = TileForm::float_scale;
    if (args.col_zero_point == nullptr)
      finish_tile_hoisted_t<kVectors, RowTerm::none, kF>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
    else if (args.row_term_uniform)
      finish_tile_hoisted_t<kVectors, RowTerm::uniform, kF>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
    else
      finish_tile_hoisted_t<kVectors, RowTerm::per_column, kF>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
  } else if (rq.narrow)
    finish_tile_hoisted_t<kVectors, RowTerm::none, TileForm::narrow>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
  else if (args.col_zero_point == nullptr)
    finish_tile_hoisted_t<kVectors, RowTerm::none>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
  else if (args.row_term_uniform)
    finish_tile_hoisted_t<kVectors, RowTerm::uniform>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
  else
    finish_tile_hoisted_t<kVectors, RowTerm::per_column>(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
}

QK_KERNEL_INLINE void finish_tile_hoisted(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                          std::size_t rows, std::size_t n0, std::size_t count,
                                          const std::int32_t* acc, std::size_t acc_stride,
                                          const std::int32_t* sums) noexcept {
  switch ((count + 15) / 16) {
    case 1: finish_tile_hoisted_v<1>(args, rq, m0, rows, n0, count, acc, acc_stride, sums); break;
    case 2: finish_tile_hoisted_v<2>(args, rq, m0, rows, n0, count, acc, acc_stride, sums); break;
    case 3: finish_tile_hoisted_v<3>(args, rq, m0, rows, n0, count, acc, acc_stride, sums); break;
    default: finish_tile_hoisted_v<4>(args, rq, m0, rows, n0, count, acc, acc_stride, sums); break;
  }
}

// A full tile of 3 or 4 panels whose epilogue (the narrow single-shift form) runs inside the
// next tile's K loop, one row per K step (gemm_s8_tile.inl, kPipe): the K loop keeps the
// multiply ports busy with vpdpbusd, the epilogue needs mostly the shift and shuffle ports, and
// run one after the other a small-K tile spent as long in its epilogue as in its K loop, which
// the out-of-order window (a 24-vector epilogue is ~300 uops) could not overlap.
struct PendingTile {
  const std::int32_t* acc = nullptr;  // rows x (NB * 16) int32, 64-byte aligned
  std::uint8_t* out = nullptr;        // row 0's first output byte
  std::size_t rows = 0;               // rows still to finish (0: none pending)
  std::uint64_t mask = 0;             // the columns to store, as a byte mask
};

// Row r of a pending tile: requantized, narrowed and stored.
template <std::size_t NB>
QK_KERNEL_INLINE void finish_pending_row(const GemmS8Args& args, const TileRequant& rq, const PendingTile& p,
                                         std::size_t r) noexcept {
  static_assert(NB >= 3 && NB <= 4, "3- and 4-panel tiles (smaller ones finish from registers)");
  const __m512i zero = _mm512_setzero_si512();
  __m512i v[4] = {zero, zero, zero, zero};
  tile_row_requant<NB, RowTerm::none, TileForm::narrow>(rq, p.acc + r * NB * 16, zero, v);
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const OutputStage& s = args.out;
  const bool is_signed = s.type == OutputType::s8;
  const __m512i bytes = rq.clamp ? tile_row_bytes(v, is_signed, true, _mm512_set1_epi8(static_cast<char>(s.qmin)),
                                                  _mm512_set1_epi8(static_cast<char>(s.qmax)), order)
                                 : tile_row_bytes(v, is_signed, false, zero, zero, order);
  _mm512_mask_storeu_epi8(p.out + r * args.ldc_bytes, static_cast<__mmask64>(p.mask), bytes);
}

// Column vector j of a register-epilogue row through the narrow or the float form.
template <TileForm kForm>
QK_KERNEL_INLINE __m512i register_requant(const TileRequant& rq, __m512i x, std::size_t j) noexcept {
  if constexpr (kForm == TileForm::float_scale) return epi_float_scale(x, rq.col[j].scale, rq.float_hi);
  else return epi_single_shift_narrow(x, _mm512_shuffle_epi32(x, _MM_PERM_DDBB), rq.col[j].q);
}

// The narrow single-shift form (TileRequant::narrow) straight from the tile's registers, two
// rows at a time: x0, x1 are row r's accumulators (columns 0-15, 16-31; x1 unused when NB == 1),
// x2, x3 row r + 1's (unused when !kTwoRows), stored at out and out + ldc. The tile calls it
// instead of storing its accumulators for finish_tile, which cost 24 stores and as many loads
// per 12 x 32 tile, a third of the non-epilogue time of first_224 (K = 27). Only tiles of up
// to 32 columns: wider ones (6 x 64) have no registers to spare. The constants are read from
// rq, in memory, and never hoisted: the K loop needs every register but a few.
// kForm: narrow, or float_scale (TileRequant::float_form with no row term), whose 4 ops per
// vector (epi_float_scale) need no shuffle.
template <std::size_t NB, bool kTwoRows, TileForm kForm = TileForm::narrow>
QK_KERNEL_INLINE void finish_pair_in_registers(const GemmS8Args& args, const TileRequant& rq, std::uint8_t* out,
                                               std::size_t count, __m512i x0, __m512i x1, __m512i x2,
                                               __m512i x3) noexcept {
  static_assert(NB <= 2, "up to 32 columns");
  static_assert(kForm != TileForm::single_shift, "the narrow or the float form");
  constexpr bool kFloat = kForm == TileForm::float_scale;
  const OutputStage& s = args.out;
  const std::size_t ldc = args.ldc_bytes;
  const __m512i zero = _mm512_setzero_si512();
  __m512i v[4] = {zero, zero, zero, zero};
  v[0] = register_requant<kForm>(rq, x0, 0);
  if constexpr (NB > 1) v[1] = register_requant<kForm>(rq, x1, 1);
  if constexpr (kTwoRows) {
    v[2] = register_requant<kForm>(rq, x2, 0);
    if constexpr (NB > 1) v[3] = register_requant<kForm>(rq, x3, 1);
  }
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  // (The clamp bounds only when clamping: as arguments they were two byte broadcasts, port 5
  // uops, per pair of rows whether used or not.)
  const bool is_signed = s.type == OutputType::s8;
  const __m512i bytes =
      rq.clamp ? tile_row_bytes<kFloat>(v, is_signed, true, _mm512_set1_epi8(static_cast<char>(s.qmin)),
                                        _mm512_set1_epi8(static_cast<char>(s.qmax)), order, rq.zero_point16)
               : tile_row_bytes<kFloat>(v, is_signed, false, zero, zero, order, rq.zero_point16);
  const __mmask64 row_mask = (__mmask64{1} << count) - 1;  // count <= 32
  if (kTwoRows && ldc == 32 && count == 32) {  // contiguous rows: one store (see finish_tile_hoisted_t)
    _mm512_storeu_si512(out, bytes);
    return;
  }
  _mm512_mask_storeu_epi8(out, row_mask, bytes);
  if constexpr (kTwoRows)
    _mm256_mask_storeu_epi8(out + ldc, static_cast<__mmask32>(row_mask), _mm512_extracti64x4_epi64(bytes, 1));
}

// A whole register tile (rows x count columns of acc, rows acc_stride apart, 64-byte aligned).
// The hoisted forms (TileRequant::fast: TFLite's single shift, narrow or not, and ONNX's float
// to 8 bits) go to finish_tile_hoisted. Below: TFLite double-rounding requantization to 8 bits
// when the shifts do not allow the single-shift form, with every per-column
// constant (offset, zero point, multiplier, shifts, rounding mask) computed once per 16 columns
// and applied to all rows; the tile buffer is rewritten in place with the final int32 values,
// then each row is narrowed 64 columns per store. Per-row finishing recomputed the constants
// for every row: the epilogue was a quarter of a 6 x 64 tile at K = 576. Other output stages
// go row by row through finish_row().
__attribute__((noinline)) inline void finish_tile(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                                  std::size_t rows, std::size_t n0, std::size_t count, std::int32_t* acc,
                                                  std::size_t acc_stride, const std::int32_t* sums) noexcept {
  if (rq.fast) {
    finish_tile_hoisted(args, rq, m0, rows, n0, count, acc, acc_stride, sums);
    return;
  }
  const OutputStage& s = args.out;
  if (s.kind != OutputStage::Kind::fixed_point || s.rounding != RequantRounding::double_rounding ||
      output_type_size(s.type) != 1) {
    for (std::size_t r = 0; r < rows; ++r) finish_row(args, m0 + r, n0, count, acc + r * acc_stride, sums[r]);
    return;
  }
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  const __m512i nudge = _mm512_set1_epi64(std::int64_t{1} << 30);
  const __m512i int_min = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::min());
  const __m512i int_max = _mm512_set1_epi32(std::numeric_limits<std::int32_t>::max());
  const __m512i lo = _mm512_set1_epi32(s.qmin - s.zero_point), hi = _mm512_set1_epi32(s.qmax - s.zero_point);
  const __m512i zp = _mm512_set1_epi32(s.zero_point);
  const bool has_zb = args.col_zero_point != nullptr;
  // Uniform row-term coefficient: -coef * rowsum is one scalar per row, folded here once.
  const bool uniform = has_zb && args.row_term_uniform;
  std::int32_t row_terms[8];
  for (std::size_t r = 0; r < rows && r < 8; ++r)
    row_terms[r] = uniform ? static_cast<std::int32_t>(static_cast<std::uint32_t>(args.col_zero_point[0]) *
                                                       static_cast<std::uint32_t>(sums[r]))
                           : 0;
  const bool hoisted_rows = rows <= 8;
  for (std::size_t j = 0; j < count; j += 16) {
    const std::size_t n = n0 + j;
    const __mmask16 mask = epi_mask16(count - j);
    const __m512i col_off = _mm512_loadu_si512(args.col_offset + n);  // padded to whole panels
    const __m512i zbv = has_zb ? _mm512_loadu_si512(args.col_zero_point + n) : zero;
    const __m512i mult = epi_param_i32(s.multiplier, s.per_channel, n, mask);
    const __m512i shift = epi_param_i32(s.shift, s.per_channel, n, mask);
    const __m512i left = _mm512_max_epi32(shift, zero), right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
    const __m512i mult_odd = _mm512_srli_epi64(mult, 32);
    const __m512i round_mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
    const __m512i half = _mm512_srli_epi32(round_mask, 1);
    const __mmask16 mult_is_min = _mm512_cmpeq_epi32_mask(mult, int_min);
    // Steps that are no-ops for these 16 columns are skipped (a branch per column vector, not
    // per row): no positive shift (multipliers below one), no INT32_MIN multiplier.
    const bool any_left = _mm512_cmpgt_epi32_mask(shift, zero) != 0;
    for (std::size_t r = 0; r < rows; ++r) {
      std::int32_t* p = acc + r * acc_stride + j;
      __m512i x = _mm512_add_epi32(_mm512_load_si512(p), col_off);
      if (uniform && hoisted_rows)
        x = _mm512_sub_epi32(x, _mm512_set1_epi32(row_terms[r]));
      else if (has_zb)
        x = _mm512_sub_epi32(x, _mm512_mullo_epi32(zbv, _mm512_set1_epi32(sums[r])));
      if (any_left) x = _mm512_sllv_epi32(x, left);
      // SaturatingRoundingDoublingHighMul, as epi_srdhm.
      const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, mult), nudge), 31);
      const __m512i odd = _mm512_slli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mult_odd), nudge), 1);
      __m512i y = _mm512_mask_blend_epi32(static_cast<__mmask16>(0xAAAA), even, odd);
      if (mult_is_min != 0) y = _mm512_mask_mov_epi32(y, _mm512_mask_cmpeq_epi32_mask(mult_is_min, x, int_min), int_max);
      // RoundingDivideByPOT, as epi_rdpot.
      const __m512i threshold = _mm512_add_epi32(half, _mm512_srli_epi32(y, 31));
      const __mmask16 up = _mm512_cmpgt_epi32_mask(_mm512_and_si512(y, round_mask), threshold);
      const __m512i shifted = _mm512_srav_epi32(y, right);
      y = _mm512_mask_add_epi32(shifted, up, shifted, one);
      _mm512_store_si512(p, _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(y, lo), hi), zp));
    }
  }
  const bool is_signed = s.type == OutputType::s8;
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  for (std::size_t r = 0; r < rows; ++r) {
    const std::int32_t* p = acc + r * acc_stride;
    std::uint8_t* row = args.c + (m0 + r) * args.ldc_bytes + n0;
    for (std::size_t j = 0; j < count; j += 64) {
      const std::size_t left = count - j;
      const __m512i v0 = _mm512_load_si512(p + j);
      const __m512i v1 = left > 16 ? _mm512_load_si512(p + j + 16) : zero;
      const __m512i v2 = left > 32 ? _mm512_load_si512(p + j + 32) : zero;
      const __m512i v3 = left > 48 ? _mm512_load_si512(p + j + 48) : zero;
      const __m512i w01 = _mm512_packs_epi32(v0, v1), w23 = _mm512_packs_epi32(v2, v3);
      const __m512i bytes = is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
      const __mmask64 mask = left >= 64 ? ~__mmask64{0} : ((__mmask64{1} << left) - 1);
      _mm512_mask_storeu_epi8(row + j, mask, _mm512_permutexvar_epi32(order, bytes));
    }
  }
}

// Row sums of A for the row term, 64 bytes per step (the last one a masked load: zero bytes),
// with the family's Traits::row_sum_step / row_sum_finish (a dot product with ones on VNNI,
// vpsadbw otherwise). Four rows at a time: each row is a dependency chain through its
// accumulator, and one row at a time left the tile waiting on that latency (~11% of a
// 6 x 64 tile at K = 576).
template <bool Signed>
QK_KERNEL_INLINE void gemm_s8_row_sums_t(const std::uint8_t* a, std::size_t lda, std::size_t m, std::size_t k,
                                         std::int32_t* out) noexcept {
  std::size_t i = 0;
  for (; i + 4 <= m; i += 4) {
    const std::uint8_t* row = a + i * lda;
    __m512i acc0 = _mm512_setzero_si512(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
    std::size_t kk = 0;
    for (; kk < k; kk += 64) {
      const __mmask64 mask = k - kk >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (k - kk)) - 1);
      acc0 = Traits::template row_sum_step<Signed>(acc0, _mm512_maskz_loadu_epi8(mask, row + kk));
      acc1 = Traits::template row_sum_step<Signed>(acc1, _mm512_maskz_loadu_epi8(mask, row + lda + kk));
      acc2 = Traits::template row_sum_step<Signed>(acc2, _mm512_maskz_loadu_epi8(mask, row + 2 * lda + kk));
      acc3 = Traits::template row_sum_step<Signed>(acc3, _mm512_maskz_loadu_epi8(mask, row + 3 * lda + kk));
    }
    out[i] = Traits::row_sum_finish(acc0, Signed, kk);
    out[i + 1] = Traits::row_sum_finish(acc1, Signed, kk);
    out[i + 2] = Traits::row_sum_finish(acc2, Signed, kk);
    out[i + 3] = Traits::row_sum_finish(acc3, Signed, kk);
  }
  for (; i < m; ++i) {
    const std::uint8_t* row = a + i * lda;
    __m512i acc = _mm512_setzero_si512();
    std::size_t kk = 0;
    for (; kk < k; kk += 64) {
      const __mmask64 mask = k - kk >= 64 ? ~__mmask64{0} : ((__mmask64{1} << (k - kk)) - 1);
      acc = Traits::template row_sum_step<Signed>(acc, _mm512_maskz_loadu_epi8(mask, row + kk));
    }
    out[i] = Traits::row_sum_finish(acc, Signed, kk);
  }
}

// The family's GemmS8CopyFn: 64 bytes a step, the tail with masked moves.
inline void gemm_s8_copy_a(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint8_t flip) noexcept {
  const __m512i f = _mm512_set1_epi8(static_cast<char>(flip));
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), f));
  if (i < n) {
    const __mmask64 m = (__mmask64{1} << (n - i)) - 1;
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), f));
  }
}

// The family's GemmS8ComposeFn: each vector holds the groups of as many whole pixels as fit
// (pitch bytes apart), byte j of every pixel from one masked load of src[j] placed j bytes early,
// so lane i * pitch + j reads src[j][i * pitch]: k_group masked loads and one store per vector,
// where a byte at a time cost a load and a store per byte (first_224: ~5 us of ~100).
inline void gemm_s8_compose_a(std::uint8_t* dst, const std::uint8_t* const* src, std::size_t pitch,
                              std::size_t count) noexcept {
  constexpr std::size_t KG = Traits::kKGroup;
  const std::size_t per = pitch <= 64 ? 64 / pitch : 1;  // pixels per vector
  __mmask64 first = 0;  // byte 0 of every pixel; byte j's lanes are these shifted by j
  for (std::size_t p = 0; p < 64; p += pitch) first |= __mmask64{1} << p;
  for (std::size_t i = 0; i < count; i += per) {
    const std::size_t n = count - i < per ? count - i : per, bytes = (n - 1) * pitch + KG;  // <= 64
    const __mmask64 live = bytes >= 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
    __m512i v = _mm512_setzero_si512();
    for (std::size_t j = 0; j < KG; ++j)
      if (src[j] != nullptr) v = _mm512_mask_loadu_epi8(v, (first << j) & live, src[j] + i * pitch - j);
    _mm512_mask_storeu_epi8(dst + i * pitch, live, v);
  }
}

inline void gemm_s8_row_sums(const std::uint8_t* a, std::size_t lda, bool a_signed, std::size_t m, std::size_t k,
                             std::int32_t* out) noexcept {
  if (a_signed)
    gemm_s8_row_sums_t<true>(a, lda, m, k, out);
  else
    gemm_s8_row_sums_t<false>(a, lda, m, k, out);
}
