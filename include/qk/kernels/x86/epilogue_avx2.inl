// qk/kernels/x86/epilogue_avx2.inl - the epilogue of the AVX2 families (avx2, avxvnni): two
// hoisted tile forms (finish_tile_hoisted, see TileRequant below) and finish_row(), which does
// every other stage as the AVX-512 epilogue's epi_vector, 8 columns at a time. AVX2 has no
// masked byte stores, so a partial vector is computed in full (parameters read with fault-free
// masked loads) and its valid lanes copied out.
// Single-rounding requantization (epi_single_rounding below) is vectorized for right shifts, the
// usual case; vectors with a shift >= 0 (or outside the validated range) are computed lane by
// lane with the scalar definition.

QK_KERNEL_INLINE __m256i epi_srdhm(__m256i x, __m256i m) noexcept {
  const __m256i nudge = _mm256_set1_epi64x(std::int64_t{1} << 30);
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), nudge), 31);
  const __m256i odd = _mm256_slli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), nudge), 1);
  const __m256i r = _mm256_blend_epi32(even, odd, 0xAA);
  const __m256i int_min = _mm256_set1_epi32(std::numeric_limits<std::int32_t>::min());
  const __m256i sat = _mm256_and_si256(_mm256_cmpeq_epi32(x, int_min), _mm256_cmpeq_epi32(m, int_min));
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(std::numeric_limits<std::int32_t>::max()), sat);
}

QK_KERNEL_INLINE __m256i epi_rdpot(__m256i x, __m256i exponent) noexcept {
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, exponent), one);
  const __m256i remainder = _mm256_and_si256(x, mask);
  const __m256i threshold = _mm256_add_epi32(_mm256_srli_epi32(mask, 1), _mm256_srli_epi32(x, 31));
  // cmpgt gives -1 where the remainder is past the threshold: subtracting it adds one.
  return _mm256_sub_epi32(_mm256_srav_epi32(x, exponent), _mm256_cmpgt_epi32(remainder, threshold));
}

// TFLITE_SINGLE_ROUNDING for shifts in [-31, -1]: round(y / 2^t), ties up, y = x * m, t = 31 -
// shift in [32, 62]. AVX2 has no 64-bit arithmetic shift, so the dividend is biased to be
// non-negative: v = y + 2^62 + 2^(t-1) is in [0, 2^64) as unsigned for every int32 x and m
// (|y| <= 2^62), and 2^62 is a multiple of 2^t, so the logical shift gives
//   v >> t = floor((y + 2^(t-1)) / 2^t) + 2^(62-t) < 2^32,
// whose low dword minus 2^(62-t) is the result (it fits in int32, |y / 2^t| <= 2^30: no
// saturation). Odd lanes shift by t - 32 instead, leaving their result in the upper dword.
// *exact is false when a lane (of `mask`) has a shift outside [-31, -1]; the result is then unused.
QK_KERNEL_INLINE __m256i epi_single_rounding(__m256i x, __m256i m, __m256i shift, __m256i mask, bool* exact) noexcept {
  const __m256i one64 = _mm256_set1_epi64x(1), bias = _mm256_set1_epi64x(std::int64_t{1} << 62);
  const __m256i outside = _mm256_or_si256(_mm256_cmpgt_epi32(shift, _mm256_set1_epi32(-1)),
                                          _mm256_cmpgt_epi32(_mm256_set1_epi32(-31), shift));
  *exact = _mm256_testz_si256(outside, mask) != 0;
  const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(31), shift);
  const __m256i t_even = _mm256_and_si256(t, _mm256_set1_epi64x(0xFFFFFFFF)), t_odd = _mm256_srli_epi64(t, 32);
  const __m256i k_even = _mm256_add_epi64(bias, _mm256_sllv_epi64(one64, _mm256_sub_epi64(t_even, one64)));
  const __m256i k_odd = _mm256_add_epi64(bias, _mm256_sllv_epi64(one64, _mm256_sub_epi64(t_odd, one64)));
  const __m256i even = _mm256_srlv_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), k_even), t_even);
  const __m256i odd = _mm256_srlv_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)), k_odd),
      _mm256_sub_epi64(t_odd, _mm256_set1_epi64x(32)));
  const __m256i biased = _mm256_blend_epi32(even, odd, 0xAA);
  return _mm256_sub_epi32(biased, _mm256_sllv_epi32(_mm256_set1_epi32(1), _mm256_sub_epi32(_mm256_set1_epi32(62), t)));
}

QK_KERNEL_INLINE __m256i epi_mask(std::size_t left) noexcept {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(left < 8 ? left : 8)), lane);
}
QK_KERNEL_INLINE __m256i epi_param_i32(const std::int32_t* p, bool per_channel, std::size_t n, __m256i mask) noexcept {
  return per_channel ? _mm256_maskload_epi32(reinterpret_cast<const int*>(p + n), mask) : _mm256_set1_epi32(p[0]);
}
QK_KERNEL_INLINE __m256 epi_param_f32(const float* p, bool per_channel, std::size_t n, __m256i mask) noexcept {
  return per_channel ? _mm256_maskload_ps(p + n, mask) : _mm256_set1_ps(p[0]);
}

// Not inlined into the tile, deliberately: once inlined, GCC hoists its constants above the K
// loop, where they take vector registers from the 24 accumulators and one spills on every
// K step. One call per row of up to 64 outputs costs far less.
__attribute__((noinline)) inline void finish_row(const GemmS8Args& args, std::size_t m, std::size_t n0,
                                                 std::size_t count, const std::int32_t* acc, std::int32_t rs) noexcept {
  const OutputStage& s = args.out;
  std::uint8_t* row = args.c + m * args.ldc_bytes;
  const bool has_zb = args.col_zero_point != nullptr;
  const __m256i row_sum = _mm256_set1_epi32(rs);
  // Wrapping: raw_int32 and dequantize stages leave zero_point / qmin / qmax unvalidated (any
  // value), and these are computed for every kind (validated requantizing stages never wrap).
  const std::int32_t lo32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(s.qmin) - static_cast<std::uint32_t>(s.zero_point));
  const std::int32_t hi32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(s.qmax) - static_cast<std::uint32_t>(s.zero_point));
  const __m256i lo = _mm256_set1_epi32(lo32), hi = _mm256_set1_epi32(hi32);
  const __m256i zp = _mm256_set1_epi32(s.zero_point);
  const __m256 lo_f = _mm256_set1_ps(static_cast<float>(lo32));
  const __m256 hi_f = _mm256_set1_ps(static_cast<float>(hi32));
  for (std::size_t j = 0; j < count; j += 8) {
    const std::size_t n = n0 + j;
    const std::size_t left = count - j < 8 ? count - j : 8;
    const __m256i mask = epi_mask(left);
    __m256i x = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc + j)),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(args.col_offset + n)));
    if (has_zb)
      x = _mm256_sub_epi32(
          x, _mm256_mullo_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(args.col_zero_point + n)), row_sum));
    if (s.kind == OutputStage::Kind::raw_int32) {
      _mm256_maskstore_epi32(reinterpret_cast<int*>(row + 4 * n), mask, x);
      continue;
    }
    if (s.kind == OutputStage::Kind::dequantize) {
      _mm256_maskstore_ps(reinterpret_cast<float*>(row + 4 * n), mask,
                          _mm256_mul_ps(_mm256_cvtepi32_ps(x), epi_param_f32(s.scale, s.per_channel, n, mask)));
      continue;
    }
    if (s.kind == OutputStage::Kind::fixed_point) {
      const __m256i mult = epi_param_i32(s.multiplier, s.per_channel, n, mask);
      const __m256i shift = epi_param_i32(s.shift, s.per_channel, n, mask);
      if (s.rounding == RequantRounding::double_rounding) {
        const __m256i zero = _mm256_setzero_si256();
        x = _mm256_sllv_epi32(x, _mm256_max_epi32(shift, zero));
        x = epi_rdpot(epi_srdhm(x, mult), _mm256_max_epi32(_mm256_sub_epi32(zero, shift), zero));
      } else {
        bool exact = false;
        const __m256i r = epi_single_rounding(x, mult, shift, mask, &exact);
        if (exact) {
          x = r;
        } else {  // a shift >= 0: lane by lane, the definition itself
          alignas(32) std::int32_t xs[8], ms[8], ss[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(xs), x);
          _mm256_store_si256(reinterpret_cast<__m256i*>(ms), mult);
          _mm256_store_si256(reinterpret_cast<__m256i*>(ss), shift);
          for (std::size_t t = 0; t < 8; ++t) xs[t] = multiply_by_quantized_multiplier_single_rounding(xs[t], ms[t], ss[t]);
          x = _mm256_load_si256(reinterpret_cast<const __m256i*>(xs));
        }
      }
    } else {
      __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(x), epi_param_f32(s.scale, s.per_channel, n, mask));
      f = _mm256_min_ps(_mm256_max_ps(f, lo_f), hi_f);
      x = _mm256_cvtps_epi32(f);
    }
    x = _mm256_add_epi32(_mm256_min_epi32(_mm256_max_epi32(x, lo), hi), zp);
    // Narrow 8 int32 (already in [-128, 255]) to bytes: pack to int16, then to 8-bit.
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    const __m128i b8 = s.type == OutputType::s8 ? _mm_packs_epi16(w16, w16) : _mm_packus_epi16(w16, w16);
    alignas(16) std::uint8_t bytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), b8);
    if (left == 8)
      std::memcpy(row + n, bytes, 8);
    else
      for (std::size_t t = 0; t < left; ++t) row[n + t] = bytes[t];
  }
}

// Row sums of A for the row term (see epilogue_avx512.inl).
// The family's GemmS8CopyFn: 32 bytes a step, the tail byte by byte.
inline void gemm_s8_copy_a(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint8_t flip) noexcept {
  const __m256i f = _mm256_set1_epi8(static_cast<char>(flip));
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                        _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)), f));
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ flip);
}

inline void gemm_s8_row_sums(const std::uint8_t* a, std::size_t lda, bool a_signed, std::size_t m, std::size_t k,
                             std::int32_t* out) noexcept {
  const __m256i flip = _mm256_set1_epi8(a_signed ? static_cast<char>(0x80) : 0);
  for (std::size_t i = 0; i < m; ++i) {
    const std::uint8_t* row = a + i * lda;
    __m256i acc = _mm256_setzero_si256();
    std::size_t kk = 0;
    for (; kk + 32 <= k; kk += 32)
      acc = _mm256_add_epi64(acc, _mm256_sad_epu8(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + kk)), flip),
                                                  _mm256_setzero_si256()));
    const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    std::int64_t sum = _mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1) - (a_signed ? 128 * static_cast<std::int64_t>(kk) : 0);
    for (; kk < k; ++kk) sum += a_signed ? static_cast<std::int8_t>(row[kk]) : row[kk];
    out[i] = static_cast<std::int32_t>(sum);
  }
}

// The tile epilogue. Two stages to 8 bits with no row term take a hoisted form, with their
// per-column constants computed once per panel group (prepare_tile_requant):
//  - TFLite's fixed point with normalized multipliers, right shifts of 1 to 22 and small
//    accumulators (a K of up to about 16000 with TFLite-sized biases): the narrow single-shift
//    form of epilogue_avx512.inl (which says why it is exact) on ymm (TileRequant::rows_narrow);
//  - ONNX's float stage: epilogue_avx512.inl's float form (epi_float_scale, which says why it
//    is exact) on ymm, the zero point added in int16 after the first pack (rows_float).
// Everything else goes row by row through finish_row. Why: finish_row spends about 117
// instructions per 8 outputs (the two-step SRDHM/RDPOT, per-vector tests of the stage and the
// parameters' masked loads); on a 1x1 layer with K = 24 that was twice the K loop's count
// (callgrind, QK_ISA=avx2).
//
// The AVX-512 tiles' flags stay false here (the tile loop tests them: accumulators start at 0
// and the register epilogue is never taken); this family's own flags are rows_narrow and
// rows_float.
struct TileRequant {
  static constexpr bool fast = false, narrow = false, float_form = false, kPipelined = false;
  static constexpr std::size_t kMaxVectors = 2;  // the 6 x 16 tile: two panels of 8
  // epilogue_avx512.inl's SingleShift, the narrow form's half, for 8 lanes.
  struct Column {
    __m256i mult, mult_odd2, round_even, round_odd2, e32;
  };
  Column col[kMaxVectors];
  __m256i tie;
  __m256 scale[kMaxVectors];  // the float form's per-column scales
  __m256 float_hi;            // qmax - zero point, as floats
  __m256i zero_point16;       // the zero point, as int16
  bool rows_narrow = false, rows_float = false;
  bool clamp = false;  // [qmin, qmax] is narrower than the output type
};
enum class TileForm { single_shift, narrow, float_scale };

// epilogue_avx512.inl's single_shift_constants (the narrow form's part) for 8 lanes.
QK_KERNEL_INLINE TileRequant::Column narrow_constants(__m256i mult, __m256i e, std::int32_t zp, RequantRounding rounding) noexcept {
  const bool single = rounding == RequantRounding::single_rounding;
  const __m256i one = _mm256_set1_epi64x(1), k30 = _mm256_set1_epi64x(30), k31 = _mm256_set1_epi64x(31);
  const __m256i half = _mm256_set1_epi64x(single ? 0 : std::int64_t{1} << 30), zp64 = _mm256_set1_epi64x(zp);
  const __m256i e_even = _mm256_and_si256(e, _mm256_set1_epi64x(0xFFFFFFFF)), e_odd = _mm256_srli_epi64(e, 32);
  TileRequant::Column c;
  c.mult = mult;
  const __m256i mult_odd = _mm256_srli_epi64(mult, 32);
  c.mult_odd2 = _mm256_add_epi64(mult_odd, mult_odd);
  c.round_even = _mm256_add_epi64(_mm256_add_epi64(half, _mm256_sllv_epi64(one, _mm256_add_epi64(e_even, k30))),
                                  _mm256_sllv_epi64(zp64, _mm256_add_epi64(e_even, k31)));
  const __m256i round_odd = _mm256_add_epi64(_mm256_add_epi64(half, _mm256_sllv_epi64(one, _mm256_add_epi64(e_odd, k30))),
                                             _mm256_sllv_epi64(zp64, _mm256_add_epi64(e_odd, k31)));
  c.round_odd2 = _mm256_add_epi64(round_odd, round_odd);
  c.e32 = e;
  return c;
}

// epilogue_avx512.inl's epi_single_shift_narrow on 8 lanes, the masked add as a blend.
QK_KERNEL_INLINE __m256i epi_narrow(__m256i x, const TileRequant::Column& c, __m256i tie) noexcept {
  const __m256i te = _mm256_add_epi64(_mm256_mul_epi32(x, c.mult), c.round_even);
  const __m256i to = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), c.mult_odd2), c.round_odd2);
  const __m256i s = _mm256_blend_epi32(_mm256_srli_epi64(te, 31), _mm256_add_epi32(to, x), 0xAA);
  return _mm256_srav_epi32(_mm256_sub_epi32(s, _mm256_srlv_epi32(x, tie)), c.e32);
}

inline void prepare_tile_requant(const GemmS8Args& args, std::size_t n0, std::size_t count, TileRequant* rq) noexcept {
  const OutputStage& s = args.out;
  rq->rows_narrow = rq->rows_float = false;
  const std::int32_t type_min = s.type == OutputType::s8 ? -128 : 0, type_max = s.type == OutputType::s8 ? 127 : 255;
  rq->clamp = s.qmin > type_min || s.qmax < type_max;
  if (s.kind == OutputStage::Kind::float_scale && output_type_size(s.type) == 1 && count <= 8 * TileRequant::kMaxVectors &&
      args.col_zero_point == nullptr) {
    for (std::size_t j = 0; 8 * j < count; ++j) rq->scale[j] = epi_param_f32(s.scale, s.per_channel, n0 + 8 * j, epi_mask(count - 8 * j));
    rq->float_hi = _mm256_set1_ps(static_cast<float>(s.qmax - s.zero_point));  // exact: |qmax - zp| <= 510
    rq->zero_point16 = _mm256_set1_epi16(static_cast<std::int16_t>(s.zero_point));
    rq->rows_float = true;
    return;
  }
  const std::int64_t room = narrow_offset_room(args.k);
  if (s.kind != OutputStage::Kind::fixed_point || output_type_size(s.type) != 1 || s.zero_point <= -256 ||
      s.zero_point >= 256 || count > 8 * TileRequant::kMaxVectors || args.col_zero_point != nullptr || room < 0)
    return;
  const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);
  const __m256i max_e = _mm256_set1_epi32(22), min_mult = _mm256_set1_epi32(kNarrowMultiplierMin - 1);
  const __m256i offset_room = _mm256_set1_epi32(static_cast<std::int32_t>(room));
  __m256i bad = zero;
  for (std::size_t j = 0; 8 * j < count; ++j) {
    const std::size_t n = n0 + 8 * j;
    const __m256i mask = epi_mask(count - 8 * j);
    // e = -shift; lanes past the last column take e = 1 and the smallest valid multiplier
    // (their bytes are not stored).
    const __m256i e = _mm256_blendv_epi8(one, _mm256_sub_epi32(zero, epi_param_i32(s.shift, s.per_channel, n, mask)), mask);
    const __m256i mult = _mm256_blendv_epi8(_mm256_add_epi32(min_mult, one), epi_param_i32(s.multiplier, s.per_channel, n, mask), mask);
    // The column offsets are padded to whole panels; |INT32_MIN| stays negative and fails the
    // unsigned test, as it should.
    const __m256i offset_abs = _mm256_and_si256(
        mask, _mm256_abs_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(args.col_offset + n))));
    bad = _mm256_or_si256(bad, _mm256_or_si256(_mm256_cmpgt_epi32(one, e), _mm256_cmpgt_epi32(e, max_e)));
    bad = _mm256_or_si256(bad, _mm256_cmpgt_epi32(min_mult, mult));  // mult < 2^30
    // offset_abs > room, unsigned: max_epu32(x, room) != room.
    bad = _mm256_or_si256(bad, _mm256_xor_si256(_mm256_cmpeq_epi32(_mm256_max_epu32(offset_abs, offset_room), offset_room),
                                                _mm256_set1_epi32(-1)));
    rq->col[j] = narrow_constants(mult, e, s.zero_point, s.rounding);
  }
  rq->tie = _mm256_set1_epi32(s.rounding == RequantRounding::single_rounding ? 32 : 31);
  rq->rows_narrow = _mm256_testz_si256(bad, bad) != 0;
}

// epilogue_avx512.inl's epi_float_scale on 8 lanes: float(x) * scale, bounded above by qmax -
// zp, rounded half to even; the zero point is added after the first pack.
QK_KERNEL_INLINE __m256i epi_float_scale(__m256i x, __m256 scale, __m256 hi) noexcept {
  return _mm256_cvtps_epi32(_mm256_min_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(x), scale), hi));
}

// A hoisted form (kFloat: the float form, else the narrow one), row by row: the row's one or two
// vectors (plus the column offsets, which the tile did not start from), packed to 16 bytes in
// order, clamped to [qmin, qmax] if narrower than the type, and stored. Not inlined into the
// tile, as finish_row.
template <bool kFloat>
__attribute__((noinline)) inline void finish_tile_hoisted(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                                          std::size_t rows, std::size_t n0, std::size_t count,
                                                          const std::int32_t* acc, std::size_t acc_stride) noexcept {
  const OutputStage& s = args.out;
  const bool is_signed = s.type == OutputType::s8, clamp = rq.clamp, two = count > 8;
  const __m128i qmin8 = _mm_set1_epi8(static_cast<char>(s.qmin)), qmax8 = _mm_set1_epi8(static_cast<char>(s.qmax));
  const __m256i off0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(args.col_offset + n0));
  const __m256i off1 = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(args.col_offset + n0 + 8)) : off0;
  std::uint8_t* out = args.c + m0 * args.ldc_bytes + n0;
  const auto requant = [&rq](__m256i x, std::size_t j) noexcept {
    if constexpr (kFloat) return epi_float_scale(x, rq.scale[j], rq.float_hi);
    else return epi_narrow(x, rq.col[j], rq.tie);
  };
  for (std::size_t r = 0; r < rows; ++r, acc += acc_stride, out += args.ldc_bytes) {
    const __m256i v0 = requant(_mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc)), off0), 0);
    const __m256i v1 = two ? requant(_mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(acc + 8)), off1), 1) : v0;
    // packs interleaves the 128-bit lanes: v0[0..3] v1[0..3] v0[4..7] v1[4..7]; the permute
    // restores column order. Saturation at int16, then at 8 bits, is the clamp to the type.
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    if constexpr (kFloat) w = _mm256_adds_epi16(w, rq.zero_point16);
    const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
    __m128i b = is_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
    if (clamp) b = is_signed ? _mm_min_epi8(_mm_max_epi8(b, qmin8), qmax8) : _mm_min_epu8(_mm_max_epu8(b, qmin8), qmax8);
    if (count == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), b);
    } else {
      alignas(16) std::uint8_t bytes[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(bytes), b);
      std::memcpy(out, bytes, count);
    }
  }
}

// The AVX-512 tiles' pipelined epilogue (epilogue_avx512.inl); never taken here (kPipelined).
struct PendingTile {
  const std::int32_t* acc = nullptr;
  std::uint8_t* out = nullptr;
  std::size_t rows = 0;
  std::uint64_t mask = 0;
};
template <std::size_t NB>
QK_KERNEL_INLINE void finish_pending_row(const GemmS8Args&, const TileRequant&, const PendingTile&, std::size_t) noexcept {}
// The AVX-512 tiles' register epilogue (epilogue_avx512.inl); never taken here (narrow and
// float_form are false).
template <std::size_t NB, bool kTwoRows, TileForm kForm, class Vec>
QK_KERNEL_INLINE void finish_pair_in_registers(const GemmS8Args&, const TileRequant&, std::uint8_t*, std::size_t, Vec, Vec,
                                               Vec, Vec) noexcept {}

QK_KERNEL_INLINE void finish_tile(const GemmS8Args& args, const TileRequant& rq, std::size_t m0, std::size_t rows, std::size_t n0,
                                  std::size_t count, std::int32_t* acc, std::size_t acc_stride,
                                  const std::int32_t* sums) noexcept {
  if (rq.rows_narrow) {
    finish_tile_hoisted<false>(args, rq, m0, rows, n0, count, acc, acc_stride);
    return;
  }
  if (rq.rows_float) {
    finish_tile_hoisted<true>(args, rq, m0, rows, n0, count, acc, acc_stride);
    return;
  }
  for (std::size_t r = 0; r < rows; ++r) finish_row(args, m0 + r, n0, count, acc + r * acc_stride, sums[r]);
}
