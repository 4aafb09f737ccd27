// qk/kernels/arm/gemm_q4_tile.inl - the blockwise 4-bit tiles of the AArch64 dot-product
// families, written once.
//
// Included inside a family's namespace (and target region) after gemm_q4_common.inl, with
// QK_Q4_DOT_LANE(acc, u, q, L) defined: acc += the 4-term dot products of the unsigned nibbles u
// (uint8x16_t, 4 columns x 4 k) with lane L of the quantized activations q (int8x16_t), in
// int32. neon_dot uses SDOT (u in [0, 15] is a valid s8), neon_i8mm USDOT.
//
// The packed layout (gemm_q4_contract.hpp, P = 8): a k chunk of a panel is 32 bytes, two vectors
// of 4 columns whose 32-bit lanes hold u of k = 8c .. 8c + 3 in the low nibbles and 8c + 4 ..
// 8c + 7 in the high ones: `and 0x0F` and `ushr #4` give the two SDOT operands directly.
// A tile is R rows x one pair of panels (16 columns, 4 vectors) over all of K. Per block the
// int32 sums are exact (|isum| <= 256 * 127 * 15), so their order is free; the float steps follow
// the contract lane by lane (lanes are columns): isum = sum q u - zp sum q, then
// acc = fma(float(isum), a_scale * w_scale, acc) with FMLA (one rounding, as fmaf), then
// q4_store_row (gemm_q4_common.inl).
// The fp32 accumulators (16 per 4 rows) live in a stack array touched once per block, so the 16
// int32 accumulators, 4 activation and 8 weight vectors of the chunk loop stay in registers.

#define QK_Q4_DECL(r)                                                                                 \
  [[maybe_unused]] int32x4_t i##r##0 = vdupq_n_s32(0), i##r##1 = vdupq_n_s32(0), i##r##2 = vdupq_n_s32(0), \
                             i##r##3 = vdupq_n_s32(0);
#define QK_Q4_ALL(X) X(0) X(1) X(2) X(3)
#define QK_Q4_IZERO(r)                                                                                  \
  if constexpr (R > r) {                                                                                \
    i##r##0 = vdupq_n_s32(0);                                                                           \
    i##r##1 = vdupq_n_s32(0);                                                                           \
    i##r##2 = vdupq_n_s32(0);                                                                           \
    i##r##3 = vdupq_n_s32(0);                                                                           \
  }
#define QK_Q4_LOAD_A(r) [[maybe_unused]] const int8x16_t a##r = R > r ? vld1q_s8(q + r * qs) : a0;
// Chunk C (0 or 1) of the 16 loaded k: lanes 2C (low nibbles) and 2C + 1 (high).
#define QK_Q4_ROW(r, C)                                         \
  if constexpr (R > r) {                                        \
    QK_Q4_DOT_LANE(i##r##0, l0, a##r, 2 * (C));                 \
    QK_Q4_DOT_LANE(i##r##1, l1, a##r, 2 * (C));                 \
    QK_Q4_DOT_LANE(i##r##2, l2, a##r, 2 * (C));                 \
    QK_Q4_DOT_LANE(i##r##3, l3, a##r, 2 * (C));                 \
    QK_Q4_DOT_LANE(i##r##0, h0, a##r, 2 * (C) + 1);             \
    QK_Q4_DOT_LANE(i##r##1, h1, a##r, 2 * (C) + 1);             \
    QK_Q4_DOT_LANE(i##r##2, h2, a##r, 2 * (C) + 1);             \
    QK_Q4_DOT_LANE(i##r##3, h3, a##r, 2 * (C) + 1);             \
  }
#define QK_Q4_CHUNK(C)                                                                          \
  {                                                                                             \
    const uint8x16_t v0 = vld1q_u8(w0 + 32 * (C)), v1 = vld1q_u8(w0 + 32 * (C) + 16);           \
    const uint8x16_t v2 = vld1q_u8(w1 + 32 * (C)), v3 = vld1q_u8(w1 + 32 * (C) + 16);           \
    const uint8x16_t mask = vdupq_n_u8(0x0F);                                                   \
    const uint8x16_t l0 = vandq_u8(v0, mask), l1 = vandq_u8(v1, mask), l2 = vandq_u8(v2, mask), \
                     l3 = vandq_u8(v3, mask);                                                   \
    const uint8x16_t h0 = vshrq_n_u8(v0, 4), h1 = vshrq_n_u8(v1, 4), h2 = vshrq_n_u8(v2, 4),    \
                     h3 = vshrq_n_u8(v3, 4);                                                    \
    QK_Q4_ROW(0, C) QK_Q4_ROW(1, C) QK_Q4_ROW(2, C) QK_Q4_ROW(3, C)                             \
  }
// isum = i - zp * sum q; acc = fma(float(isum), a_scale * w_scale, acc), 4 columns at a time.
#define QK_Q4_BLOCK_END(r)                                                                            \
  if constexpr (R > r) {                                                                              \
    const std::size_t at = (m0 + r) * nb + b;                                                         \
    const int32x4_t sum = vdupq_n_s32(args.a_sum[at]);                                                \
    const float32x4_t as = vdupq_n_f32(args.a_scale[at]);                                             \
    float* f = &acc[r][0];                                                                            \
    vst1q_f32(f, vfmaq_f32(vld1q_f32(f), vcvtq_f32_s32(vmlsq_s32(i##r##0, z0, sum)), vmulq_f32(as, ws0)));          \
    vst1q_f32(f + 4, vfmaq_f32(vld1q_f32(f + 4), vcvtq_f32_s32(vmlsq_s32(i##r##1, z1, sum)), vmulq_f32(as, ws1)));  \
    vst1q_f32(f + 8, vfmaq_f32(vld1q_f32(f + 8), vcvtq_f32_s32(vmlsq_s32(i##r##2, z2, sum)), vmulq_f32(as, ws2)));  \
    vst1q_f32(f + 12, vfmaq_f32(vld1q_f32(f + 12), vcvtq_f32_s32(vmlsq_s32(i##r##3, z3, sum)), vmulq_f32(as, ws3))); \
  }

template <std::size_t R>
QK_ARM_NOINLINE void q4_dynamic_rows(const GemmQ4Args& args, std::size_t m0, std::size_t pair) noexcept {
  constexpr std::size_t P = 8;
  const std::uint8_t* p0 = args.packed + 2 * pair * args.panel_bytes;
  const std::uint8_t* p1 = p0 + args.panel_bytes;
  const std::uint8_t* w0 = p0;
  const std::uint8_t* w1 = p1;
  const std::int8_t* q = args.qa + m0 * args.qa_stride;
  const std::size_t qs = args.qa_stride, nb = args.n_blocks, steps = args.block / 16;  // block >= 16
  const std::size_t n0 = 2 * pair * P;
  alignas(16) float acc[R][16] = {};
  QK_Q4_ALL(QK_Q4_DECL)
  for (std::size_t b = 0; b < nb; ++b) {
    QK_Q4_ALL(QK_Q4_IZERO)
    for (std::size_t s = 0; s < steps; ++s, w0 += 64, w1 += 64, q += 16) {
      QK_Q4_ALL(QK_Q4_LOAD_A)
      QK_Q4_CHUNK(0) QK_Q4_CHUNK(1)
    }
    const float32x4_t ws0 = q4_scales(p0 + args.scales_at, b * P, args.scale_f16);
    const float32x4_t ws1 = q4_scales(p0 + args.scales_at, b * P + 4, args.scale_f16);
    const float32x4_t ws2 = q4_scales(p1 + args.scales_at, b * P, args.scale_f16);
    const float32x4_t ws3 = q4_scales(p1 + args.scales_at, b * P + 4, args.scale_f16);
    int32x4_t z0 = vdupq_n_s32(args.zp), z1 = z0, z2 = z0, z3 = z0;
    if (!args.zp_uniform) {
      z0 = q4_zps(p0 + args.zps_at + b * P);
      z1 = q4_zps(p0 + args.zps_at + b * P + 4);
      z2 = q4_zps(p1 + args.zps_at + b * P);
      z3 = q4_zps(p1 + args.zps_at + b * P + 4);
    }
    QK_Q4_ALL(QK_Q4_BLOCK_END)
  }
  for (std::size_t r = 0; r < R; ++r) q4_store_row(args, m0 + r, n0, &acc[r][0]);
}

// Pairs outer, rows inner: a pair's weights (K * 8 bytes) stay in L1 while the rows' A streams.
inline void gemm_q4_dynamic_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                                std::size_t pair_end) noexcept {
  for (std::size_t pair = pair_begin; pair < pair_end; ++pair) {
    std::size_t m = m_begin;
    for (; m + 4 <= m_end; m += 4) q4_dynamic_rows<4>(args, m, pair);
    // Row tails one row at a time: one more instantiation, not three.
    for (; m < m_end; ++m) q4_dynamic_rows<1>(args, m, pair);
  }
}

#undef QK_Q4_DECL
#undef QK_Q4_ALL
#undef QK_Q4_IZERO
#undef QK_Q4_LOAD_A
#undef QK_Q4_ROW
#undef QK_Q4_CHUNK
#undef QK_Q4_BLOCK_END
