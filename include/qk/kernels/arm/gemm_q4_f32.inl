// qk/kernels/arm/gemm_q4_f32.inl - the AArch64 tile of the blockwise 4-bit scheme (b) (fp32 A,
// weights expanded to fp32 in registers), ARMv8.0 Advanced SIMD only: one copy, in
// qk::kernels::neon::q4, which every AArch64 family's descriptor points to.
//
// Lanes are columns and each lane runs the contract's definition step for step: per block,
// s = fma(a[k], float(u - zp), s) for k in order, stopping at K (a padding k would meet no
// activation, and even fma(0, 0, -0) would turn -0 into +0), then acc = fma(s, w_scale, acc),
// then q4_store_row. FMLA is one rounding, as fmaf; u - zp is a small integer, exact in fp32.
// Expansion of one k for 4 columns: TBL picks byte k % 4 of each column's 32-bit lane (the low
// nibbles' vector for k % 8 < 4, the high nibbles' otherwise) into the lane's low byte, zeroing
// the rest (indices >= 16 read 0), then UCVTF and FSUB of the zero point: 3 instructions beside
// R = 4 FMLAs. Included after gemm_q4_common.inl.

// TBL indices for byte j (row j) of every 32-bit lane.
alignas(16) inline constexpr std::uint8_t kQ4ByteOfLane[4][16] = {
    {0, 16, 16, 16, 4, 16, 16, 16, 8, 16, 16, 16, 12, 16, 16, 16},
    {1, 16, 16, 16, 5, 16, 16, 16, 9, 16, 16, 16, 13, 16, 16, 16},
    {2, 16, 16, 16, 6, 16, 16, 16, 10, 16, 16, 16, 14, 16, 16, 16},
    {3, 16, 16, 16, 7, 16, 16, 16, 11, 16, 16, 16, 15, 16, 16, 16}};

QK_ARM_INLINE float32x4_t q4_expand(uint8x16_t nibbles, uint8x16_t idx, float32x4_t zp) noexcept {
  return vsubq_f32(vcvtq_f32_u32(vreinterpretq_u32_u8(vqtbl1q_u8(nibbles, idx))), zp);
}

#define QK_Q4F_DECL(r)                                                                                      \
  [[maybe_unused]] float32x4_t s##r##0 = vdupq_n_f32(0.0f), s##r##1 = vdupq_n_f32(0.0f), s##r##2 = vdupq_n_f32(0.0f), \
                               s##r##3 = vdupq_n_f32(0.0f);
#define QK_Q4F_ALL(X) X(0) X(1) X(2) X(3)
#define QK_Q4F_SZERO(r)                                                                              \
  if constexpr (R > r) {                                                                             \
    s##r##0 = vdupq_n_f32(0.0f);                                                                     \
    s##r##1 = vdupq_n_f32(0.0f);                                                                     \
    s##r##2 = vdupq_n_f32(0.0f);                                                                     \
    s##r##3 = vdupq_n_f32(0.0f);                                                                     \
  }
#define QK_Q4F_FMA(r)                                  \
  if constexpr (R > r) {                               \
    const float av = a[r * lda + k + i];               \
    s##r##0 = vfmaq_n_f32(s##r##0, e0, av);            \
    s##r##1 = vfmaq_n_f32(s##r##1, e1, av);            \
    s##r##2 = vfmaq_n_f32(s##r##2, e2, av);            \
    s##r##3 = vfmaq_n_f32(s##r##3, e3, av);            \
  }
#define QK_Q4F_BLOCK_END(r)                                                       \
  if constexpr (R > r) {                                                          \
    float* f = &acc[r][0];                                                        \
    vst1q_f32(f, vfmaq_f32(vld1q_f32(f), s##r##0, ws0));                          \
    vst1q_f32(f + 4, vfmaq_f32(vld1q_f32(f + 4), s##r##1, ws1));                  \
    vst1q_f32(f + 8, vfmaq_f32(vld1q_f32(f + 8), s##r##2, ws2));                  \
    vst1q_f32(f + 12, vfmaq_f32(vld1q_f32(f + 12), s##r##3, ws3));                \
  }

template <std::size_t R>
QK_ARM_NOINLINE void q4_f32_rows(const GemmQ4Args& args, std::size_t m0, std::size_t pair) noexcept {
  constexpr std::size_t P = 8;
  const std::uint8_t* p0 = args.packed + 2 * pair * args.panel_bytes;
  const std::uint8_t* p1 = p0 + args.panel_bytes;
  const float* a = args.a + m0 * args.lda;
  const std::size_t lda = args.lda, K = args.k;
  const std::size_t n0 = 2 * pair * P;
  alignas(16) float acc[R][16] = {};
  QK_Q4F_ALL(QK_Q4F_DECL)
  for (std::size_t b = 0; b < args.n_blocks; ++b) {
    QK_Q4F_ALL(QK_Q4F_SZERO)
    float32x4_t z0 = vdupq_n_f32(static_cast<float>(args.zp)), z1 = z0, z2 = z0, z3 = z0;
    if (!args.zp_uniform) {
      z0 = vcvtq_f32_s32(q4_zps(p0 + args.zps_at + b * P));
      z1 = vcvtq_f32_s32(q4_zps(p0 + args.zps_at + b * P + 4));
      z2 = vcvtq_f32_s32(q4_zps(p1 + args.zps_at + b * P));
      z3 = vcvtq_f32_s32(q4_zps(p1 + args.zps_at + b * P + 4));
    }
    const std::size_t k_end = (b + 1) * args.block < K ? (b + 1) * args.block : K;
    for (std::size_t k = b * args.block; k < k_end; k += 8) {
      const uint8x16_t mask = vdupq_n_u8(0x0F);
      const uint8x16_t v0 = vld1q_u8(p0 + k / 8 * 32), v1 = vld1q_u8(p0 + k / 8 * 32 + 16);
      const uint8x16_t v2 = vld1q_u8(p1 + k / 8 * 32), v3 = vld1q_u8(p1 + k / 8 * 32 + 16);
      const uint8x16_t l0 = vandq_u8(v0, mask), l1 = vandq_u8(v1, mask), l2 = vandq_u8(v2, mask), l3 = vandq_u8(v3, mask);
      const uint8x16_t h0 = vshrq_n_u8(v0, 4), h1 = vshrq_n_u8(v1, 4), h2 = vshrq_n_u8(v2, 4), h3 = vshrq_n_u8(v3, 4);
      const std::size_t count = k_end - k < 8 ? k_end - k : 8;
      for (std::size_t i = 0; i < count; ++i) {
        const uint8x16_t idx = vld1q_u8(kQ4ByteOfLane[i & 3]);
        const bool high = i >= 4;
        const float32x4_t e0 = q4_expand(high ? h0 : l0, idx, z0), e1 = q4_expand(high ? h1 : l1, idx, z1);
        const float32x4_t e2 = q4_expand(high ? h2 : l2, idx, z2), e3 = q4_expand(high ? h3 : l3, idx, z3);
        QK_Q4F_ALL(QK_Q4F_FMA)
      }
    }
    const float32x4_t ws0 = q4_scales(p0 + args.scales_at, b * P, args.scale_f16);
    const float32x4_t ws1 = q4_scales(p0 + args.scales_at, b * P + 4, args.scale_f16);
    const float32x4_t ws2 = q4_scales(p1 + args.scales_at, b * P, args.scale_f16);
    const float32x4_t ws3 = q4_scales(p1 + args.scales_at, b * P + 4, args.scale_f16);
    QK_Q4F_ALL(QK_Q4F_BLOCK_END)
  }
  for (std::size_t r = 0; r < R; ++r) q4_store_row(args, m0 + r, n0, &acc[r][0]);
}

// Pairs outer, rows inner, as the dynamic tiles.
inline void gemm_q4_f32_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                            std::size_t pair_end) noexcept {
  for (std::size_t pair = pair_begin; pair < pair_end; ++pair) {
    std::size_t m = m_begin;
    for (; m + 4 <= m_end; m += 4) q4_f32_rows<4>(args, m, pair);
    for (; m < m_end; ++m) q4_f32_rows<1>(args, m, pair);
  }
}

#undef QK_Q4F_DECL
#undef QK_Q4F_ALL
#undef QK_Q4F_SZERO
#undef QK_Q4F_FMA
#undef QK_Q4F_BLOCK_END
