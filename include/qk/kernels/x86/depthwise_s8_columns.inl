// qk/kernels/x86/depthwise_s8_columns.inl - the avx512vnni depthwise column kernel (vpdpbusd).
//
// Included (never on its own) inside the avx512vnni target region and namespace, after the GEMM
// kernel of that family (finish_row()). Layout and row conventions: depthwise_s8_contract.hpp,
// "The column kernel". No standard headers may be included here.
//
// Why this shape (measured on the 2-port AVX-512 Xeon this was tuned on, where every zmm
// shuffle issues on one port and every multiply on the other): the int16 pair kernel spent
// 19 shuffles and 10 vpdpwssd per 32-channel pixel of a 3x3 window, and its requantization
// another ~28 vector ops, 60 cycles a pixel. Here the four bytes of a vpdpbusd lane are four
// kernel rows of one channel, so one interleaved input column serves kernel_w output pixels:
// 4 shuffles and 6 vpdpbusd per 32 channels (stride 1). The requantization keeps the one-
// rounding form, with the sign test on the product instead of on SRDHM's result (below).

// 4 x 4 transpose of 128-bit blocks: block k of output q = block q of input k. Maps the
// accumulators' lane order to channel order and back (it is its own inverse).
QK_KERNEL_INLINE void dwc_transpose(__m512i& a, __m512i& b, __m512i& c, __m512i& d) noexcept {
  const __m512i t0 = _mm512_shuffle_i32x4(a, b, 0x44), t1 = _mm512_shuffle_i32x4(a, b, 0xEE);
  const __m512i t2 = _mm512_shuffle_i32x4(c, d, 0x44), t3 = _mm512_shuffle_i32x4(c, d, 0xEE);
  a = _mm512_shuffle_i32x4(t0, t2, 0x88);
  b = _mm512_shuffle_i32x4(t0, t2, 0xDD);
  c = _mm512_shuffle_i32x4(t1, t3, 0x88);
  d = _mm512_shuffle_i32x4(t1, t3, 0xDD);
}

// The rows a segment's columns come from, read in place: the input's own rows (or the driver's
// expanded rows, or its zero-point row), row_bytes = in_w * channels each, no padding around
// them. A column starts at a byte offset `start` from the row start: pixel ix's channels c0...
// at ix * channels + c0, or in pair mode pixels (ix, ix + 1) at ix * 32. Bytes outside
// [0, row_bytes) are padding: the input zero point (`fill`, as stored). Every byte is then
// xor-ed with `flip` (0x80 for s8 inputs: x ^ 0x80 = x + 128 as u8, vpdpbusd's unsigned side).
//
// Why in place: the previous design copied every input row once into a padded, flipped ring
// (branch-free kernel), and that copy was a quarter of mbv2_dw_s2_56 (42.5 us with it, 31.3 for
// the kernel alone reading the input rows where they lie). The flip now costs one vpxord per
// loaded vector, and border columns take masked loads.
struct DwRows {
  const std::uint8_t* q[4];
  std::ptrdiff_t row_bytes;
  __m512i flip, fill;
  // A load of `width` bytes at `start` reads only row bytes: the column needs no masking.
  QK_KERNEL_INLINE bool inside(std::ptrdiff_t start, std::ptrdiff_t width) const noexcept {
    return start >= 0 && start + width <= row_bytes;
  }
  // Lanes [0, width) of a load at `start` that fall inside the row.
  QK_KERNEL_INLINE std::uint64_t row_lanes(std::ptrdiff_t start, std::ptrdiff_t width) const noexcept {
    const std::ptrdiff_t lo = start < 0 ? -start : 0, hi = row_bytes - start < width ? row_bytes - start : width;
    if (hi <= lo) return 0;
    const std::uint64_t upto = hi >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << hi) - 1;
    return upto & ~((std::uint64_t{1} << lo) - 1);
  }
  // Address of byte `start` of row r, which may lie outside the row when only masked lanes are
  // read there (formed as an integer: no out-of-bounds pointer arithmetic).
  QK_KERNEL_INLINE const void* at(int r, std::ptrdiff_t start) const noexcept {
    return reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(q[r]) + static_cast<std::uintptr_t>(start));
  }
  template <bool kEdge>
  QK_KERNEL_INLINE __m512i load64(int r, std::ptrdiff_t start) const noexcept {
    if constexpr (kEdge)
      return _mm512_xor_si512(_mm512_mask_loadu_epi8(fill, row_lanes(start, 64), at(r, start)), flip);
    return _mm512_xor_si512(_mm512_loadu_si512(q[r] + start), flip);
  }
};

// One interleaved column: the 64 bytes at `start` of rows q[0..3], as vpdpbusd operands (lane j
// in vector (j % 16) / 4, byte r from row r). kEdge: some bytes may lie outside the rows.
struct DwColumn {
  __m512i v[4];
};
template <bool kEdge = false>
QK_KERNEL_INLINE DwColumn dwc_column(const DwRows& rows, std::ptrdiff_t start) noexcept {
  const __m512i r0 = rows.load64<kEdge>(0, start), r1 = rows.load64<kEdge>(1, start);
  const __m512i r2 = rows.load64<kEdge>(2, start), r3 = rows.load64<kEdge>(3, start);
  const __m512i lo01 = _mm512_unpacklo_epi8(r0, r1), hi01 = _mm512_unpackhi_epi8(r0, r1);
  const __m512i lo23 = _mm512_unpacklo_epi8(r2, r3), hi23 = _mm512_unpackhi_epi8(r2, r3);
  DwColumn c;
  c.v[0] = _mm512_unpacklo_epi16(lo01, lo23);
  c.v[1] = _mm512_unpackhi_epi16(lo01, lo23);
  c.v[2] = _mm512_unpacklo_epi16(hi01, hi23);
  c.v[3] = _mm512_unpackhi_epi16(hi01, hi23);
  return c;
}
// Either form, chosen per column (the paths that are not tuned for one geometry).
QK_KERNEL_INLINE DwColumn dwc_column_any(const DwRows& rows, std::ptrdiff_t start) noexcept {
  return rows.inside(start, 64) ? dwc_column<false>(rows, start) : dwc_column<true>(rows, start);
}
// The column of pixel pair (x + 1, x + 2) from those of (x, x + 1) and (x + 2, x + 3): in pair
// mode 128-bit blocks 0-1 are the first pixel and 2-3 the second, and the interleave never
// crosses blocks, so the middle column is a block shuffle (4 shuffles instead of 8).
QK_KERNEL_INLINE DwColumn dwc_middle(const DwColumn& a, const DwColumn& b) noexcept {
  DwColumn c;
  for (int k = 0; k < 4; ++k) c.v[k] = _mm512_shuffle_i64x2(a.v[k], b.v[k], 0x4E);
  return c;
}

// Hoisted requantization of one segment for 8-bit TFLite outputs (either rounding) when every
// multiplier is >= 0 and every shift <= -1 (right shift e >= 1): the usual case. Then the
// single-shift form (SingleShift / epi_single_shift in epilogue_avx512.inl, shared with the GEMM
// epilogue; single rounding is the same form with its own constants) applies;
// (m >= 0 also excludes SRDHM's INT32_MIN saturation). The even dwords' results land in the low
// halves, the odd ones in the high halves.
//
// Lean (mode 2): with e <= 22 and |zp| < 256 the zero point is folded into the rounding
// constants as zp * 2^(31+e) (a multiple of the divisor, and |p + k| < 2^63), so the narrowing
// needs no int16 add; and when [qmin, qmax] is the whole output type the saturating packs are
// the clamp. 4 of the ~55 ops per 64 outputs, on every pixel. Narrow builds on it; lean alone
// has no instantiation of its own (it runs as fast: see the constructor).
//
// Narrow (mode 3): lean, and also every |accumulator| < 2^29 (the bias plus 4 * kernel_w *
// 255 * 128: inputs are u8 after the flip, weights int8) and every multiplier in [2^30, 2^31),
// so epi_single_shift_narrow applies (9 ops per 16 lanes instead of 11, no 64-bit compares).
// TFLite's MobileNet layers, with normalized multipliers and biases far below 2^28, always
// take it.
//
// Float (ONNX's float_scale to 8 bits) runs as the fast mode, with epi_float_scale in place of
// the single-shift form (a branch per vector, taken the same way for the whole segment): its
// narrowing is the fast mode's (zero point added as int16, 8-bit clamp), and a mode of its own
// would be a third more of this kernel to compile in every program.
enum DwMode : int { kDwGeneral = 0, kDwFast = 1, kDwLean = 2, kDwNarrow = 3 };
struct DwColumnRequant {
  SingleShift q[4];
  __m512i zp16, qmin8, qmax8, lo32, hi32, zp32;
  __m512 scale[4], float_hi;  // the float form's
  int mode = kDwGeneral;
  bool out_s8 = true, float_form = false;
  // Short channel tails (<= 32 of a segment's 64 lanes): the accumulators are transposed to
  // channel order and only the live vectors requantized, the parameters kept in channel order.
  bool channel_order = false;

  // Per-channel parameter p as the 4 accumulator vectors of the segment at channel c0.
  static QK_KERNEL_INLINE void param(const std::int32_t* p, bool per_channel, bool pair, bool channel_order, std::size_t c0,
                                     std::size_t count, std::int32_t fill, __m512i* v) noexcept {
    if (!per_channel) {
      v[0] = v[1] = v[2] = v[3] = _mm512_set1_epi32(p[0]);
      return;
    }
    const __m512i f = _mm512_set1_epi32(fill);
    if (pair) {
      v[0] = v[2] = _mm512_loadu_si512(p);
      v[1] = v[3] = _mm512_loadu_si512(p + 16);
    } else {
      for (std::size_t q = 0; q < 4; ++q) {
        const std::size_t have = count > 16 * q ? count - 16 * q : 0;
        const auto mask = static_cast<__mmask16>(have >= 16 ? 0xFFFFu : (1u << have) - 1u);
        v[q] = _mm512_mask_loadu_epi32(f, mask, p + c0 + (have > 0 ? 16 * q : 0));
      }
    }
    if (!channel_order) dwc_transpose(v[0], v[1], v[2], v[3]);
  }

  // bias: the segment's 64 accumulator start values; kw: kernel columns (for the narrow bound).
  QK_KERNEL_INLINE DwColumnRequant(const OutputStage& s, bool pair, std::size_t c0, std::size_t count,
                                   const std::int32_t* bias, std::size_t kw) noexcept {
    const __m512i zero = _mm512_setzero_si512();
    channel_order = !pair && count <= 32;
    zp16 = qmin8 = qmax8 = lo32 = hi32 = zp32 = zero;
    for (int k = 0; k < 4; ++k) q[k] = SingleShift{zero, zero, zero, zero, zero, zero, zero, zero, zero, zero, zero};
    for (int k = 0; k < 4; ++k) scale[k] = _mm512_setzero_ps();
    float_hi = _mm512_setzero_ps();
    if (s.kind == OutputStage::Kind::float_scale && output_type_size(s.type) == 1) {
      if (s.per_channel) {
        // Scales as bits through the int32 loader (its loads are intrinsics, which may alias);
        // lanes past the channels get 0.0f.
        __m512i bits[4];
        param(reinterpret_cast<const std::int32_t*>(s.scale), true, pair, channel_order, c0, count, 0, bits);
        for (int k = 0; k < 4; ++k) scale[k] = _mm512_castsi512_ps(bits[k]);
      } else {
        for (int k = 0; k < 4; ++k) scale[k] = _mm512_set1_ps(s.scale[0]);
      }
      float_hi = _mm512_set1_ps(static_cast<float>(s.qmax - s.zero_point));  // exact: |qmax - zp| <= 510
      float_form = true;
      mode = kDwFast;
      set_narrowing(s, 0);
      return;
    }
    // Either rounding: single rounding is the same form with other constants (SingleShift).
    if (s.kind != OutputStage::Kind::fixed_point || output_type_size(s.type) != 1) return;
    __m512i m[4], sh[4];
    // Lanes past the channels: any multiplier the narrow form takes (their bytes are not stored).
    param(s.multiplier, s.per_channel, pair, channel_order, c0, count, kNarrowMultiplierMin, m);
    param(s.shift, s.per_channel, pair, channel_order, c0, count, -1, sh);  // lanes past the channels: harmless
    __mmask16 bad = 0;
    for (int k = 0; k < 4; ++k)
      bad = static_cast<__mmask16>(bad | _mm512_cmplt_epi32_mask(m[k], zero) |
                                   _mm512_cmpgt_epi32_mask(sh[k], _mm512_set1_epi32(-1)));
    if (bad != 0) return;
    out_s8 = s.type == OutputType::s8;
    const std::int32_t type_min = out_s8 ? -128 : 0, type_max = out_s8 ? 127 : 255;
    __mmask16 wide = 0;  // e > 22: zp * 2^(31+e) could overflow 64 bits
    for (int k = 0; k < 4; ++k) wide = static_cast<__mmask16>(wide | _mm512_cmplt_epi32_mask(sh[k], _mm512_set1_epi32(-22)));
    const bool lean = wide == 0 && s.zero_point > -256 && s.zero_point < 256 && s.qmin <= type_min && s.qmax >= type_max;
    // Lean alone (mode 2) is not instantiated: a layer that is lean but not narrow (a bias or a
    // multiplier out of the narrow range: rare) runs the fast mode, 4 ops per 64 outputs more, so
    // that every program compiles a quarter less of this kernel (docs/build.md).
    mode = kDwFast;
    const std::int64_t room = narrow_offset_room(4 * kw);  // four kernel rows per lane, kw columns
    if (lean && room >= 0) {
      __m512i big = zero;  // |bias| as unsigned (INT32_MIN stays 2^31: too big, as it should)
      __mmask16 small_mult = 0;
      for (int k = 0; k < 4; ++k) {
        big = _mm512_max_epu32(big, _mm512_abs_epi32(_mm512_loadu_si512(bias + 16 * k)));
        small_mult = static_cast<__mmask16>(small_mult | _mm512_cmplt_epi32_mask(m[k], _mm512_set1_epi32(kNarrowMultiplierMin)));
      }
      if (static_cast<std::int64_t>(_mm512_reduce_max_epu32(big)) <= room && small_mult == 0) mode = kDwNarrow;
    }
    const std::int32_t folded_zp = mode == kDwNarrow ? s.zero_point : 0;
    for (int k = 0; k < 4; ++k) q[k] = single_shift_constants(m[k], _mm512_sub_epi32(zero, sh[k]), folded_zp, s.rounding);
    set_narrowing(s, folded_zp);
  }

  // The narrowing's constants, for requantized values that already hold `folded_zp` of the zero
  // point (the lean and narrow modes fold all of it; the fast mode and the float form none).
  QK_KERNEL_INLINE void set_narrowing(const OutputStage& s, std::int32_t folded_zp) noexcept {
    out_s8 = s.type == OutputType::s8;
    zp16 = _mm512_set1_epi16(static_cast<std::int16_t>(s.zero_point - folded_zp));
    qmin8 = _mm512_set1_epi8(static_cast<char>(s.qmin));
    qmax8 = _mm512_set1_epi8(static_cast<char>(s.qmax));
    lo32 = _mm512_set1_epi32(s.qmin - s.zero_point + folded_zp);
    hi32 = _mm512_set1_epi32(s.qmax - s.zero_point + folded_zp);
    zp32 = _mm512_set1_epi32(s.zero_point - folded_zp);
  }

  // Odd dwords to even positions with a shuffle (not vpsrlq): it issues on the other port.
  template <int Mode>
  QK_KERNEL_INLINE __m512i apply(__m512i x, int k) const noexcept {
    if constexpr (Mode == kDwNarrow) return epi_single_shift_narrow(x, _mm512_shuffle_epi32(x, _MM_PERM_DDBB), q[k]);
    if (float_form) return epi_float_scale(x, scale[k], float_hi);
    return epi_single_shift(x, _mm512_shuffle_epi32(x, _MM_PERM_DDBB), q[k]);
  }

  // Requantizes the segment's accumulators and stores `bytes` (<= 64) lanes at p. The packs
  // narrow the accumulator order straight to lane order; saturating at 16 and 8 bits before
  // the 8-bit clamp is exact (a value that saturates lies beyond [qmin, qmax] on that side).
  // Lean: the zero point is already in, and the packs' saturation is the clamp.
  template <int Mode>
  QK_KERNEL_INLINE void store(std::uint8_t* p, const __m512i* acc, std::size_t bytes) const noexcept {
    const __m512i r0 = apply<Mode>(acc[0], 0), r1 = apply<Mode>(acc[1], 1), r2 = apply<Mode>(acc[2], 2), r3 = apply<Mode>(acc[3], 3);
    __m512i w01 = _mm512_packs_epi32(r0, r1), w23 = _mm512_packs_epi32(r2, r3);
    if constexpr (Mode < kDwLean) {
      w01 = _mm512_adds_epi16(w01, zp16);
      w23 = _mm512_adds_epi16(w23, zp16);
    }
    __m512i b = out_s8 ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    if constexpr (Mode < kDwLean)
      b = out_s8 ? _mm512_min_epi8(_mm512_max_epi8(b, qmin8), qmax8) : _mm512_min_epu8(_mm512_max_epu8(b, qmin8), qmax8);
    if (bytes >= 64)
      _mm512_storeu_si512(p, b);
    else
      _mm512_mask_storeu_epi8(p, (__mmask64{1} << bytes) - 1, b);
  }

  // `count` (<= 16) channels in channel order from vector v of the accumulators (parameters in
  // channel order: vector k holds channels 16k to 16k + 15), clamped in 32 bits and narrowed.
  template <int Mode>
  QK_KERNEL_INLINE void store16(std::uint8_t* p, __m512i v, int k, std::size_t count) const noexcept {
    const __m512i r = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(apply<Mode>(v, k), lo32), hi32), zp32);
    _mm_mask_storeu_epi8(p, static_cast<__mmask16>(count >= 16 ? 0xFFFFu : (1u << count) - 1u), _mm512_cvtepi32_epi8(r));
  }

  // channel_order: `count` (<= 32) channels, clamped in 32 bits, narrowed 16 at a time.
  template <int Mode>
  QK_KERNEL_INLINE void store_channels(std::uint8_t* p, const __m512i* acc, std::size_t count) const noexcept {
    __m512i v0 = acc[0], v1 = acc[1], v2 = acc[2], v3 = acc[3];
    dwc_transpose(v0, v1, v2, v3);  // (v2 and v3 are dead: the compiler drops their shuffles)
    const __m512i v[2] = {v0, v1};
    for (std::size_t b = 0; 16 * b < count; ++b) store16<Mode>(p + 16 * b, v[b], static_cast<int>(b), count - 16 * b);
  }
};

// Finishes one segment of accumulators for output bytes at `out` (lane j at out + j): the
// hoisted requantization, or accumulators back in channel order through finish_row().
// kFull: a whole 64-channel segment in lane order (known at compile time: no channel-order
// branch in the pixel loop, which made the compiler keep the accumulators in memory for it).
template <int Mode, bool kFull = false>
QK_KERNEL_INLINE void dwc_finish(const DepthwiseS8Args& a, const DwColumnRequant& rq, __m512i* acc, std::uint8_t* out,
                                 std::size_t c0, std::size_t count, std::size_t pixels) noexcept {
  if constexpr (kFull && Mode != kDwGeneral) {
    rq.template store<Mode>(out + c0, acc, 64);
  } else if constexpr (Mode != kDwGeneral) {
    if (rq.channel_order)
      rq.template store_channels<Mode>(out + c0, acc, count);
    else
      rq.template store<Mode>(out + c0, acc, a.pair ? 32 * pixels : count);
  } else {
    __m512i v0 = acc[0], v1 = acc[1], v2 = acc[2], v3 = acc[3];
    dwc_transpose(v0, v1, v2, v3);
    _mm512_store_si512(a.acc, v0);
    _mm512_store_si512(a.acc + 16, v1);
    _mm512_store_si512(a.acc + 32, v2);
    _mm512_store_si512(a.acc + 48, v3);
    GemmS8Args e = a.epilogue;
    e.ldc_bytes = 0;
    for (std::size_t i = 0; i < pixels; ++i) {
      e.c = out + i * a.out_pixel_bytes;
      finish_row(e, 0, c0, count, a.acc + 32 * i, 0);  // no row term: col_zero_point is null
    }
  }
}

// The column of a short tail (<= 16 channels at off) in channel order: dword i holds channel i
// of rows 0-3. Rows go to 128-bit blocks 0-3 (three inserts, either port), vpermd moves dword b
// of block r to dword r of block b, and vpshufb transposes each block's 4 x 4 bytes: 2 shuffles
// and one vpdpbusd per kernel column instead of 8 and 4 for a 64-lane column. (vpermb would do
// both steps but needs VBMI, which this family does not assume.) On mbv2_dw_s2_56's 16-channel
// tail (144 = 2 x 64 + 16) that was a full segment's shuffles and dot products: the layer went
// from 50.6 to 47.4 us (minimum of 4 alternating runs; the rest of the segment cost is the
// requantization, which this path still pays in full for 16 lanes).
struct DwTail16 {
  __m512i dwords, bytes;
  QK_KERNEL_INLINE DwTail16() noexcept
      : dwords(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)),
        bytes(_mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15))) {}
  template <bool kEdge>
  static QK_KERNEL_INLINE __m128i load16(const DwRows& rows, int r, std::ptrdiff_t start) noexcept {
    if constexpr (kEdge)
      return _mm_mask_loadu_epi8(_mm512_castsi512_si128(rows.fill), static_cast<__mmask16>(rows.row_lanes(start, 16)),
                                 rows.at(r, start));
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(rows.q[r] + start));
  }
  template <bool kEdge>
  QK_KERNEL_INLINE __m512i column(const DwRows& rows, std::ptrdiff_t start) const noexcept {
    __m512i v = _mm512_castsi128_si512(load16<kEdge>(rows, 0, start));
    v = _mm512_inserti32x4(v, load16<kEdge>(rows, 1, start), 1);
    v = _mm512_inserti32x4(v, load16<kEdge>(rows, 2, start), 2);
    v = _mm512_inserti32x4(v, load16<kEdge>(rows, 3, start), 3);
    v = _mm512_xor_si512(v, rows.flip);  // one xor for all four rows
    return _mm512_shuffle_epi8(_mm512_permutexvar_epi32(dwords, v), bytes);
  }
};
// Channel-order vector of a segment-order quadruple (the transpose's first output: block 0 of
// each, which holds lanes 0-15 = channels 0-15 of the segment).
QK_KERNEL_INLINE __m512i dwc_first16(const __m512i* v) noexcept {
  __m512i a = v[0], b = v[1], c = v[2], d = v[3];
  dwc_transpose(a, b, c, d);  // (b, c, d are dead: the compiler drops their shuffles)
  return a;
}

QK_KERNEL_INLINE void dwc_dot(__m512i* acc, const DwColumn& c, const __m512i* w) noexcept {
  for (int k = 0; k < 4; ++k) acc[k] = _mm512_dpbusd_epi32(acc[k], c.v[k], w[k]);
}

// Pixels [lo, hi) of a loop over n pixels whose loads (at first + i * step, the last ending at
// last_end + i * step, all in bytes) stay inside the rows: those take unmasked loads.
struct DwSpan {
  std::size_t lo = 0, hi = 0;
};
QK_KERNEL_INLINE DwSpan dwc_inside(const DwRows& rows, std::ptrdiff_t first, std::ptrdiff_t last_end, std::ptrdiff_t step,
                                   std::size_t n) noexcept {
  DwSpan s;
  if (last_end > rows.row_bytes) return s;
  const std::size_t hi = static_cast<std::size_t>((rows.row_bytes - last_end) / step) + 1;
  const std::size_t lo = first >= 0 ? 0 : static_cast<std::size_t>((-first + step - 1) / step);
  s.hi = hi < n ? hi : n;
  s.lo = lo < s.hi ? lo : s.hi;
  return s;
}

// Pixels [ox, ox_end) of the sliding loop. Per pixel: slides the kept columns by S, loads the S
// new ones (the window's first column starts at *start), accumulates the KW dot products from
// init, finishes the pixel and advances *start by S pixels. kEdge: masked loads (border pixels).
template <int Mode, std::size_t KW, std::size_t S, bool kFull, bool kEdge>
QK_KERNEL_INLINE void dwc_slide_pixels(const DepthwiseS8Args& a, const DwColumnRequant& rq, const DwRows& rows,
                                       std::uint8_t* out, std::size_t c0, std::size_t count, const __m512i* init,
                                       const __m512i (*wk)[4], DwColumn* col, std::ptrdiff_t* start, std::size_t ox,
                                       std::size_t ox_end) noexcept {
  const auto C = static_cast<std::ptrdiff_t>(a.channels);
  for (; ox < ox_end; ++ox) {
    QK_UNROLL
    for (std::size_t kx = 0; kx + S < KW; ++kx) col[kx] = col[kx + S];
    QK_UNROLL
    for (std::size_t kx = KW - S; kx < KW; ++kx) col[kx] = dwc_column<kEdge>(rows, *start + static_cast<std::ptrdiff_t>(kx) * C);
    __m512i acc[4] = {init[0], init[1], init[2], init[3]};
    QK_UNROLL
    for (std::size_t kx = 0; kx < KW; ++kx) dwc_dot(acc, col[kx], wk[kx]);
    dwc_finish<Mode, kFull>(a, rq, acc, out + ox * a.out_pixel_bytes, c0, count, 1);
    *start += static_cast<std::ptrdiff_t>(S) * C;
  }
}

// The sliding-window pixel loop of one segment (KW == 3, dilation 1, stride S): border pixels
// with masked loads, the rest without.
template <int Mode, std::size_t KW, std::size_t S, bool kFull>
QK_KERNEL_INLINE void dwc_slide(const DepthwiseS8Args& a, const DwColumnRequant& rq, const DwRows& rows,
                                std::uint8_t* out, std::size_t c0, std::size_t count, const std::int8_t* w,
                                const __m512i* init) noexcept {
  const auto C = static_cast<std::ptrdiff_t>(a.channels);
  __m512i wk[KW][4];
  for (std::size_t kx = 0; kx < KW; ++kx)
    for (int k = 0; k < 4; ++k) wk[kx][k] = _mm512_loadu_si512(w + kx * 256 + 64 * k);
  // The window's first column at pixel 0: input pixel -pad_left.
  std::ptrdiff_t start = static_cast<std::ptrdiff_t>(c0) - static_cast<std::ptrdiff_t>(a.pad_left) * C;
  DwColumn col[KW];
  for (std::size_t kx = 0; kx + S < KW; ++kx) col[kx + S] = dwc_column_any(rows, start + static_cast<std::ptrdiff_t>(kx) * C);
  const DwSpan in = dwc_inside(rows, start + static_cast<std::ptrdiff_t>(KW - S) * C,
                               start + static_cast<std::ptrdiff_t>(KW - 1) * C + 64, static_cast<std::ptrdiff_t>(S) * C, a.out_w);
  dwc_slide_pixels<Mode, KW, S, kFull, true>(a, rq, rows, out, c0, count, init, wk, col, &start, 0, in.lo);
  dwc_slide_pixels<Mode, KW, S, kFull, false>(a, rq, rows, out, c0, count, init, wk, col, &start, in.lo, in.hi);
  dwc_slide_pixels<Mode, KW, S, kFull, true>(a, rq, rows, out, c0, count, init, wk, col, &start, in.hi, a.out_w);
}

// Pixels [ox, ox_end) of a short tail's sliding loop (see DwTail16).
template <int Mode, std::size_t KW, std::size_t S, bool kEdge>
QK_KERNEL_INLINE void dwc_tail_pixels(const DepthwiseS8Args& a, const DwColumnRequant& rq, const DwRows& rows,
                                      const DwTail16& tail, std::uint8_t* out, std::size_t c0, std::size_t count,
                                      __m512i init16, const __m512i* wk, __m512i* col, std::ptrdiff_t* start,
                                      std::size_t ox, std::size_t ox_end) noexcept {
  const auto C = static_cast<std::ptrdiff_t>(a.channels);
  for (; ox < ox_end; ++ox) {
    QK_UNROLL
    for (std::size_t kx = 0; kx + S < KW; ++kx) col[kx] = col[kx + S];
    QK_UNROLL
    for (std::size_t kx = KW - S; kx < KW; ++kx)
      col[kx] = tail.template column<kEdge>(rows, *start + static_cast<std::ptrdiff_t>(kx) * C);
    __m512i acc = init16;
    QK_UNROLL
    for (std::size_t kx = 0; kx < KW; ++kx) acc = _mm512_dpbusd_epi32(acc, col[kx], wk[kx]);
    rq.template store16<Mode>(out + ox * a.out_pixel_bytes + c0, acc, 0, count);
    *start += static_cast<std::ptrdiff_t>(S) * C;
  }
}

// One channel segment sg (64 channels of one pixel). KW/S compile-time (3; 1 or 2) with dilation
// 1: the window's columns slide, the last S computed anew per pixel; KW == 0: every column anew.
// Not inlined (QK_KERNEL_NOINLINE): one call per 64 channels of a whole output row.
template <int Mode, std::size_t KW, std::size_t S>
QK_KERNEL_NOINLINE void dwc_channels(const DepthwiseS8Args& a, const DwColumnRequant& rq, std::size_t sg,
                                   const DwRows& rows, std::uint8_t* out) noexcept {
  const auto C = static_cast<std::ptrdiff_t>(a.channels);
  const std::size_t kw = KW != 0 ? KW : a.kernel_w;
  const auto* wbase = static_cast<const std::int8_t*>(a.packed_w);
  const std::size_t c0 = 64 * sg, count = a.channels - c0 < 64 ? a.channels - c0 : 64;
  const std::int8_t* w = wbase + sg * kw * 256;
  const std::int32_t* bias = a.packed_bias + 64 * sg;
  __m512i init[4];
  for (int k = 0; k < 4; ++k) init[k] = Mode != kDwGeneral ? _mm512_loadu_si512(bias + 16 * k) : _mm512_setzero_si512();
  if constexpr (KW != 0 && Mode != kDwGeneral) {
    if (count <= 16) {  // short tail: one channel-order vector (see DwTail16)
      const DwTail16 tail;
      const __m512i init16 = dwc_first16(init);
      __m512i wk[KW];
      for (std::size_t kx = 0; kx < KW; ++kx) {
        __m512i v[4];
        for (int k = 0; k < 4; ++k) v[k] = _mm512_loadu_si512(w + kx * 256 + 64 * k);
        wk[kx] = dwc_first16(v);
      }
      std::ptrdiff_t start = static_cast<std::ptrdiff_t>(c0) - static_cast<std::ptrdiff_t>(a.pad_left) * C;
      __m512i col[KW];
      for (std::size_t kx = 0; kx + S < KW; ++kx)
        col[kx + S] = tail.template column<true>(rows, start + static_cast<std::ptrdiff_t>(kx) * C);
      const DwSpan in = dwc_inside(rows, start + static_cast<std::ptrdiff_t>(KW - S) * C,
                                   start + static_cast<std::ptrdiff_t>(KW - 1) * C + 16, static_cast<std::ptrdiff_t>(S) * C,
                                   a.out_w);
      dwc_tail_pixels<Mode, KW, S, true>(a, rq, rows, tail, out, c0, count, init16, wk, col, &start, 0, in.lo);
      dwc_tail_pixels<Mode, KW, S, false>(a, rq, rows, tail, out, c0, count, init16, wk, col, &start, in.lo, in.hi);
      dwc_tail_pixels<Mode, KW, S, true>(a, rq, rows, tail, out, c0, count, init16, wk, col, &start, in.hi, a.out_w);
      return;
    }
  }
  if constexpr (KW != 0) {
    if (count == 64)
      dwc_slide<Mode, KW, S, true>(a, rq, rows, out, c0, count, w, init);
    else
      dwc_slide<Mode, KW, S, false>(a, rq, rows, out, c0, count, w, init);
  } else {
    const auto step = static_cast<std::ptrdiff_t>(a.stride_w) * C, dil = static_cast<std::ptrdiff_t>(a.dilation_w) * C;
    std::ptrdiff_t start = static_cast<std::ptrdiff_t>(c0) - static_cast<std::ptrdiff_t>(a.pad_left) * C;
    for (std::size_t ox = 0; ox < a.out_w; ++ox, start += step) {
      __m512i acc[4] = {init[0], init[1], init[2], init[3]};
      for (std::size_t kx = 0; kx < kw; ++kx) {
        __m512i wk[4];
        for (int k = 0; k < 4; ++k) wk[k] = _mm512_loadu_si512(w + kx * 256 + 64 * k);
        dwc_dot(acc, dwc_column_any(rows, start + static_cast<std::ptrdiff_t>(kx) * dil), wk);
      }
      dwc_finish<Mode>(a, rq, acc, out + ox * a.out_pixel_bytes, c0, count, 1);
    }
  }
}

// Steps [p, p_end) of the pair loop (KW == 3, dilation 1): *c2 holds the pair at ox (the
// previous step's ox + 2), *start the byte offset of the pair at ox + 2.
template <int Mode, bool kEdge>
QK_KERNEL_INLINE void dwc_pair_steps(const DepthwiseS8Args& a, const DwColumnRequant& rq, const DwRows& rows,
                                     std::uint8_t* out, const __m512i* init, const __m512i (*wk)[4], DwColumn* c2,
                                     std::ptrdiff_t* start, std::size_t p, std::size_t p_end, std::size_t pairs) noexcept {
  for (; p < p_end; ++p) {
    const DwColumn c0 = *c2;
    *c2 = dwc_column<kEdge>(rows, *start);
    const DwColumn c1 = dwc_middle(c0, *c2);
    __m512i acc[4] = {init[0], init[1], init[2], init[3]};
    dwc_dot(acc, c0, wk[0]);
    dwc_dot(acc, c1, wk[1]);
    dwc_dot(acc, *c2, wk[2]);
    dwc_finish<Mode>(a, rq, acc, out + 2 * p * a.out_pixel_bytes, 0, 32, p < pairs ? 2 : 1);
    *start += 64;
  }
}

// Pair segments (32 channels, stride 1): output pixels (ox, ox + 1) read pixel pairs starting at
// ox + kx * dilation. KW == 3 with dilation 1: per step the pairs at ox + 2 (kept from the last
// step), ox + 4 (new) and ox + 3 (block shuffle of the two).
template <int Mode, std::size_t KW>
QK_KERNEL_INLINE void dwc_pairs(const DepthwiseS8Args& a, const DwColumnRequant& rq, const DwRows& rows,
                                std::uint8_t* out) noexcept {
  const std::size_t kw = KW != 0 ? KW : a.kernel_w;
  const auto dil = static_cast<std::ptrdiff_t>(a.dilation_w) * 32, left = static_cast<std::ptrdiff_t>(a.pad_left) * 32;
  const auto* w = static_cast<const std::int8_t*>(a.packed_w);
  __m512i init[4];
  for (int k = 0; k < 4; ++k) init[k] = Mode != kDwGeneral ? _mm512_loadu_si512(a.packed_bias + 16 * k) : _mm512_setzero_si512();
  const std::size_t pairs = a.out_w / 2, odd = a.out_w % 2;
  if constexpr (KW == 3) {
    __m512i wk[3][4];
    for (std::size_t kx = 0; kx < 3; ++kx)
      for (int k = 0; k < 4; ++k) wk[kx][k] = _mm512_loadu_si512(w + kx * 256 + 64 * k);
    DwColumn c2 = dwc_column_any(rows, -left);  // the pair at ox = 0
    std::ptrdiff_t start = 64 - left;             // the pair at ox + 2
    const DwSpan in = dwc_inside(rows, start, start + 64, 64, pairs + odd);
    dwc_pair_steps<Mode, true>(a, rq, rows, out, init, wk, &c2, &start, 0, in.lo, pairs);
    dwc_pair_steps<Mode, false>(a, rq, rows, out, init, wk, &c2, &start, in.lo, in.hi, pairs);
    dwc_pair_steps<Mode, true>(a, rq, rows, out, init, wk, &c2, &start, in.hi, pairs + odd, pairs);
  } else {
    for (std::size_t p = 0; p < pairs + odd; ++p) {
      const std::size_t ox = 2 * p;
      __m512i acc[4] = {init[0], init[1], init[2], init[3]};
      for (std::size_t kx = 0; kx < kw; ++kx) {
        __m512i wk[4];
        for (int k = 0; k < 4; ++k) wk[k] = _mm512_loadu_si512(w + kx * 256 + 64 * k);
        dwc_dot(acc, dwc_column_any(rows, static_cast<std::ptrdiff_t>(ox) * 32 - left + static_cast<std::ptrdiff_t>(kx) * dil), wk);
      }
      dwc_finish<Mode>(a, rq, acc, out + ox * a.out_pixel_bytes, 0, 32, p < pairs ? 2 : 1);
    }
  }
}

// One segment (or the pair segment) in its epilogue mode's instantiation.
// The general mode (stages other than 8-bit TFLite requantization) always takes the generic
// column shape: its per-pixel epilogue (a stored tile and finish_row) outweighs what sliding the
// columns saves, and the three sliding instantiations were a sixth of the kernels' code.
template <int Mode>
QK_KERNEL_INLINE void dwc_segment(const DepthwiseS8Args& a, const DwColumnRequant& rq, std::size_t sg,
                                  const DwRows& rows, std::uint8_t* out) noexcept {
  const bool slide = Mode != kDwGeneral && a.kernel_w == 3 && a.dilation_w == 1;
  if (a.pair) {
    if (slide)
      dwc_pairs<Mode, 3>(a, rq, rows, out);
    else
      dwc_pairs<Mode, 0>(a, rq, rows, out);
  } else if (slide && a.stride_w == 1) {
    dwc_channels<Mode, 3, 1>(a, rq, sg, rows, out);
  } else if (slide && a.stride_w == 2) {
    dwc_channels<Mode, 3, 2>(a, rq, sg, rows, out);
  } else {
    dwc_channels<Mode, 0, 1>(a, rq, sg, rows, out);
  }
}

// The DepthwiseS8Kernel::quad_run of this family. Rows past kernel_h repeat the last row (their
// weights are zero). Each segment builds its requantization constants (~150 vector ops) once per
// row and a switch runs its mode's instantiation. (Each instantiation used to build them to find
// out whether the segment was its mode: four times per segment and row, ~10% of both MobileNet
// depthwise layers. Keeping them across rows in a per-call workspace cache measured slower: the
// loop then read them through a pointer.)
inline void depthwise_s8_columns_run(const DepthwiseS8Args& a, const std::uint8_t* const* in_rows, std::uint8_t* out) noexcept {
  DwRows rows;
  for (std::size_t r = 0; r < 4; ++r) rows.q[r] = in_rows[r < a.kernel_h ? r : a.kernel_h - 1];
  rows.row_bytes = static_cast<std::ptrdiff_t>(a.in_w * a.channels);
  rows.flip = _mm512_set1_epi8(static_cast<char>(a.a_signed ? 0x80 : 0));
  rows.fill = _mm512_set1_epi8(static_cast<char>(a.zero_point_bits));
  const std::size_t segs = a.pair ? 1 : (a.channels + 63) / 64;
  for (std::size_t sg = 0; sg < segs; ++sg) {
    const std::size_t c0 = 64 * sg, count = a.pair ? 32 : (a.channels - c0 < 64 ? a.channels - c0 : 64);
    const DwColumnRequant rq(a.epilogue.out, a.pair, c0, count, a.packed_bias + 64 * sg, a.kernel_w);
    switch (rq.mode) {
      case kDwNarrow: dwc_segment<kDwNarrow>(a, rq, sg, rows, out); break;
      case kDwFast: dwc_segment<kDwFast>(a, rq, sg, rows, out); break;
      default: dwc_segment<kDwGeneral>(a, rq, sg, rows, out); break;
    }
  }
}
