// qk/kernels/arm/epilogue_neon.inl - finish_row() for the AArch64 families: column offsets, the
// weight-zero-point row term and the output stage, 4 columns at a time. Only ARMv8.0 Advanced
// SIMD is used; the file is included inside each family's namespace (and target region), like
// the x86 epilogues, so that every family inlines its own copy.
//
// Bit-exact with detail::output_element(), operation for operation:
//  - fixed point, double rounding: x << max(shift, 0) with SSHL (wraps, as the scalar code's
//    unsigned shift does); SaturatingRoundingDoublingHighMul is exactly SQRDMULH:
//    (2*x*m + 2^31) >> 32 = floor((x*m + 2^30) / 2^31), which equals gemmlowp's sign-dependent
//    nudge followed by truncation, and saturates only INT32_MIN * INT32_MIN to INT32_MAX;
//    RoundingDivideByPOT (ties away from zero) is SRSHL by -exponent (ties toward +infinity)
//    after subtracting 1 from negative x when exponent > 0 (gemmlowp's NEON fix-up): for x < 0,
//    floor((x - 1 + 2^(e-1)) / 2^e) = -floor((-x + 2^(e-1)) / 2^e). The subtraction saturates
//    (SQADD), which changes nothing: INT32_MIN and INT32_MIN - 1 round to the same quotient.
//    SRSHL adds its rounding constant in unbounded precision, so INT32_MAX cannot overflow.
//  - fixed point, single rounding: SMULL to 64 bits, SRSHL by -(31 - shift) (unbounded-precision
//    round half up, exactly (x*m + 2^(30-shift)) >> (31-shift)), SQXTN saturates to int32;
//  - zero point and clamp: clamp to [qmin - zp, qmax - zp], then + zp, which equals the scalar
//    code's 64-bit add-then-clamp (the bounds minus zp fit int32 for 8-bit outputs);
//  - float: SCVTF (round to nearest, as static_cast<float>), FMUL, FMAX/FMIN to the exact float
//    bounds, FCVTNS (round to nearest, ties to even = nearbyint in the default environment);
//  - dequantize: SCVTF then FMUL, one rounding each, nothing fused.

QK_ARM_INLINE int32x4_t epi_param_i32(const std::int32_t* p, bool per_channel, std::size_t n, std::size_t left) noexcept {
  if (!per_channel) return vdupq_n_s32(p[0]);
  if (left >= 4) return vld1q_s32(p + n);
  std::int32_t t[4] = {0, 0, 0, 0};  // parameter arrays hold exactly N values: no over-read
  for (std::size_t i = 0; i < left; ++i) t[i] = p[n + i];
  return vld1q_s32(t);
}

QK_ARM_INLINE float32x4_t epi_param_f32(const float* p, bool per_channel, std::size_t n, std::size_t left) noexcept {
  if (!per_channel) return vdupq_n_f32(p[0]);
  if (left >= 4) return vld1q_f32(p + n);
  float t[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  for (std::size_t i = 0; i < left; ++i) t[i] = p[n + i];
  return vld1q_f32(t);
}

// gemmlowp RoundingDivideByPOT; neg_exponent = -exponent, in [-31, 0].
QK_ARM_INLINE int32x4_t epi_rdpot(int32x4_t x, int32x4_t neg_exponent) noexcept {
  // -1 in lanes where x < 0 and the exponent is non-zero (the sign bit of x & -exponent).
  const int32x4_t fixup = vshrq_n_s32(vandq_s32(x, neg_exponent), 31);
  return vrshlq_s32(vqaddq_s32(x, fixup), neg_exponent);
}

QK_ARM_INLINE int32x4_t epi_single_rounding(int32x4_t x, int32x4_t m, int32x4_t shift) noexcept {
  const int32x4_t right = vsubq_s32(shift, vdupq_n_s32(31));  // -(31 - shift), in [-62, -1]
  const int64x2_t lo = vrshlq_s64(vmull_s32(vget_low_s32(x), vget_low_s32(m)), vmovl_s32(vget_low_s32(right)));
  const int64x2_t hi = vrshlq_s64(vmull_high_s32(x, m), vmovl_high_s32(right));
  return vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
}

// Writes `left` (1 to 4) 32-bit lanes.
QK_ARM_INLINE void epi_store_32(void* dst, uint32x4_t v, std::size_t left) noexcept {
  if (left >= 4) {
    vst1q_u32(static_cast<std::uint32_t*>(dst), v);
    return;
  }
  std::uint32_t t[4];
  vst1q_u32(t, v);
  std::memcpy(dst, t, left * 4);
}

QK_ARM_INLINE void finish_row(const GemmS8Args& args, std::size_t m, std::size_t n0, std::size_t count,
                              const std::int32_t* acc, std::int32_t rs) noexcept {
  const OutputStage& s = args.out;
  std::uint8_t* row = args.c + m * args.ldc_bytes;
  const bool has_zb = args.col_zero_point != nullptr;
  const int32x4_t row_sum = vdupq_n_s32(rs);
  // Wrapping: raw_int32 and dequantize stages leave zero_point / qmin / qmax unvalidated (any
  // value), and these are computed for every kind (validated requantizing stages never wrap).
  const std::int32_t lo32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(s.qmin) - static_cast<std::uint32_t>(s.zero_point));
  const std::int32_t hi32 = static_cast<std::int32_t>(static_cast<std::uint32_t>(s.qmax) - static_cast<std::uint32_t>(s.zero_point));
  const int32x4_t lo = vdupq_n_s32(lo32), hi = vdupq_n_s32(hi32);
  const int32x4_t zp = vdupq_n_s32(s.zero_point);
  const float32x4_t lo_f = vdupq_n_f32(static_cast<float>(lo32));
  const float32x4_t hi_f = vdupq_n_f32(static_cast<float>(hi32));
  const int32x4_t zero = vdupq_n_s32(0);
  for (std::size_t j = 0; j < count; j += 4) {
    const std::size_t n = n0 + j;
    const std::size_t left = count - j < 4 ? count - j : 4;
    // col_offset and col_zero_point are padded to whole panels: full loads are in bounds.
    int32x4_t x = vaddq_s32(vld1q_s32(acc + j), vld1q_s32(args.col_offset + n));
    if (has_zb) x = vmlsq_s32(x, vld1q_s32(args.col_zero_point + n), row_sum);  // wraps, as the definition
    switch (s.kind) {
      case OutputStage::Kind::raw_int32:
        epi_store_32(row + 4 * n, vreinterpretq_u32_s32(x), left);
        continue;
      case OutputStage::Kind::dequantize: {
        const float32x4_t f = vmulq_f32(vcvtq_f32_s32(x), epi_param_f32(s.scale, s.per_channel, n, left));
        epi_store_32(row + 4 * n, vreinterpretq_u32_f32(f), left);
        continue;
      }
      case OutputStage::Kind::fixed_point: {
        const int32x4_t mult = epi_param_i32(s.multiplier, s.per_channel, n, left);
        const int32x4_t shift = epi_param_i32(s.shift, s.per_channel, n, left);
        if (s.rounding == RequantRounding::double_rounding) {
          x = vshlq_s32(x, vmaxq_s32(shift, zero));
          x = epi_rdpot(vqrdmulhq_s32(x, mult), vminq_s32(shift, zero));
        } else {
          x = epi_single_rounding(x, mult, shift);
        }
        break;
      }
      case OutputStage::Kind::float_scale: {
        float32x4_t f = vmulq_f32(vcvtq_f32_s32(x), epi_param_f32(s.scale, s.per_channel, n, left));
        f = vminq_f32(vmaxq_f32(f, lo_f), hi_f);
        x = vcvtnq_s32_f32(f);  // already inside [lo, hi]: the integer clamp below is a no-op
        break;
      }
    }
    x = vaddq_s32(vminq_s32(vmaxq_s32(x, lo), hi), zp);
    // In [qmin, qmax] of the output type: truncating narrowing keeps the value (s8) or its byte (u8).
    const int16x4_t h = vmovn_s32(x);
    const int8x8_t b = vmovn_s16(vcombine_s16(h, h));
    const std::uint32_t bytes = vget_lane_u32(vreinterpret_u32_s8(b), 0);
    std::memcpy(row + n, &bytes, left);  // little endian: lane 0 is the first byte
  }
}
