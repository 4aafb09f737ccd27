// qk/kernels/arm/gemm_q4_common.inl - what every AArch64 blockwise 4-bit tile shares: block
// scales, zero points, and the end of a row (bias, clamp, store). ARMv8.0 Advanced SIMD only;
// included inside each family's namespace (and target region), as epilogue_neon.inl is, so that
// every family inlines its own copy.

// 4 block scales of a panel (fp32, or fp16 widened exactly).
QK_ARM_INLINE float32x4_t q4_scales(const std::uint8_t* p, std::size_t i, bool f16) noexcept {
  if (f16) return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(reinterpret_cast<const std::uint16_t*>(p + 2 * i))));
  return vld1q_f32(reinterpret_cast<const float*>(p + 4 * i));
}
// 4 zero points (bytes) as int32.
QK_ARM_INLINE int32x4_t q4_zps(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(v))))));
}

// Bias, clamp, store the columns < n. The clamp is q4_clamp's comparisons (v < lo ? lo : v > hi
// ? hi : v) as compare + select, so NaN and -0 pass exactly as there (FMAX / FMIN would turn -0
// into +0 against a zero bound).
QK_ARM_INLINE void q4_store_row(const GemmQ4Args& args, std::size_t m, std::size_t n0, const float* acc) noexcept {
  const float32x4_t lo = vdupq_n_f32(args.lo), hi = vdupq_n_f32(args.hi);
  alignas(16) float t[16];
  for (std::size_t v = 0; v < 4; ++v) {
    float32x4_t x = vld1q_f32(acc + 4 * v);
    if (args.bias != nullptr) x = vaddq_f32(x, vld1q_f32(args.bias + n0 + 4 * v));  // padded to whole pairs
    x = vbslq_f32(vcltq_f32(x, lo), lo, x);
    x = vbslq_f32(vcgtq_f32(x, hi), hi, x);
    vst1q_f32(t + 4 * v, x);
  }
  float* c = args.c + m * args.ldc + n0;
  const std::size_t cols = args.n - n0 < 16 ? args.n - n0 : 16;
  std::memcpy(c, t, cols * sizeof(float));
}
