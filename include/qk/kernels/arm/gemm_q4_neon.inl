// qk/kernels/arm/gemm_q4_neon.inl - the ARMv8.0 tile of the blockwise 4-bit scheme (a), for CPUs
// without SDOT (plain NEON): SMULL / SMLAL on bytes, SADALP into int32.
//
// A vector of a k chunk (gemm_q4_contract.hpp, P = 8) holds 4 columns x 4 k in each half: `and
// 0x0F` gives u of k = 8c .. 8c + 3, `ushr #4` u of 8c + 4 .. 8c + 7. Against the row's q of
// those k (4 bytes repeated in every 32-bit lane), SMULL forms the low group's products and SMLAL
// adds the high group's in int16 (|q u| <= 127 * 15, so a lane holds at most 3810: exact), and
// SADALP adds adjacent int16 pairs into int32: per vector half, lanes (column j: k pairs 0-1,
// 2-3; column j + 1: the same). At the block end ADDP folds the pairs into one sum per column,
// and the float steps are the dot tiles' (isum = sum q u - zp sum q, FMLA with a_scale * w_scale).
// 2 rows x 16 columns: 16 int32 accumulators (two per 4 columns) in registers; the fp32 ones in a
// stack array touched once per block. Included after gemm_q4_common.inl.

#define QK_Q4N_DECL(r)                                                                                   \
  [[maybe_unused]] int32x4_t j##r##0 = vdupq_n_s32(0), j##r##1 = vdupq_n_s32(0), j##r##2 = vdupq_n_s32(0), \
                             j##r##3 = vdupq_n_s32(0), j##r##4 = vdupq_n_s32(0), j##r##5 = vdupq_n_s32(0), \
                             j##r##6 = vdupq_n_s32(0), j##r##7 = vdupq_n_s32(0);
#define QK_Q4N_IZERO(r)                                                                         \
  if constexpr (R > r) {                                                                        \
    j##r##0 = j##r##1 = j##r##2 = j##r##3 = j##r##4 = j##r##5 = j##r##6 = j##r##7 = vdupq_n_s32(0); \
  }
// Vector V (columns 4V .. 4V + 3) of the chunk for row r: accumulators j<r><2V>, j<r><2V+1>.
#define QK_Q4N_MAC(r, V, lo, hi, A, B)                                                          \
  if constexpr (R > r) {                                                                        \
    int16x8_t pl = vmull_s8(vget_low_s8(lo), vget_low_s8(ql##r));                               \
    int16x8_t ph = vmull_high_s8(lo, ql##r);                                                    \
    pl = vmlal_s8(pl, vget_low_s8(hi), vget_low_s8(qh##r));                                     \
    ph = vmlal_high_s8(ph, hi, qh##r);                                                          \
    j##r##A = vpadalq_s16(j##r##A, pl);                                                         \
    j##r##B = vpadalq_s16(j##r##B, ph);                                                         \
  }
#define QK_Q4N_VEC(V, src, A, B)                                                                \
  {                                                                                             \
    const uint8x16_t raw = vld1q_u8(src);                                                       \
    const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(raw, vdupq_n_u8(0x0F)));                  \
    const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(raw, 4));                               \
    QK_Q4N_MAC(0, V, lo, hi, A, B) QK_Q4N_MAC(1, V, lo, hi, A, B)                               \
  }
#define QK_Q4N_LOAD_Q(r)                                                                        \
  [[maybe_unused]] int8x16_t ql##r = vdupq_n_s8(0), qh##r = vdupq_n_s8(0);                      \
  if constexpr (R > r) {                                                                        \
    std::uint32_t lo4, hi4;                                                                     \
    std::memcpy(&lo4, q + r * qs, 4);                                                           \
    std::memcpy(&hi4, q + r * qs + 4, 4);                                                       \
    ql##r = vreinterpretq_s8_u32(vdupq_n_u32(lo4));                                             \
    qh##r = vreinterpretq_s8_u32(vdupq_n_u32(hi4));                                             \
  }
#define QK_Q4N_BLOCK_END(r)                                                                           \
  if constexpr (R > r) {                                                                              \
    const std::size_t at = (m0 + r) * nb + b;                                                         \
    const int32x4_t sum = vdupq_n_s32(args.a_sum[at]);                                                \
    const float32x4_t as = vdupq_n_f32(args.a_scale[at]);                                             \
    float* f = &acc[r][0];                                                                            \
    const int32x4_t i0 = vpaddq_s32(j##r##0, j##r##1), i1 = vpaddq_s32(j##r##2, j##r##3);             \
    const int32x4_t i2 = vpaddq_s32(j##r##4, j##r##5), i3 = vpaddq_s32(j##r##6, j##r##7);             \
    vst1q_f32(f, vfmaq_f32(vld1q_f32(f), vcvtq_f32_s32(vmlsq_s32(i0, z0, sum)), vmulq_f32(as, ws0)));          \
    vst1q_f32(f + 4, vfmaq_f32(vld1q_f32(f + 4), vcvtq_f32_s32(vmlsq_s32(i1, z1, sum)), vmulq_f32(as, ws1)));  \
    vst1q_f32(f + 8, vfmaq_f32(vld1q_f32(f + 8), vcvtq_f32_s32(vmlsq_s32(i2, z2, sum)), vmulq_f32(as, ws2)));  \
    vst1q_f32(f + 12, vfmaq_f32(vld1q_f32(f + 12), vcvtq_f32_s32(vmlsq_s32(i3, z3, sum)), vmulq_f32(as, ws3))); \
  }

template <std::size_t R>
QK_ARM_NOINLINE void q4_neon_dynamic_rows(const GemmQ4Args& args, std::size_t m0, std::size_t pair) noexcept {
  constexpr std::size_t P = 8;
  const std::uint8_t* p0 = args.packed + 2 * pair * args.panel_bytes;
  const std::uint8_t* p1 = p0 + args.panel_bytes;
  const std::uint8_t* w0 = p0;
  const std::uint8_t* w1 = p1;
  const std::int8_t* q = args.qa + m0 * args.qa_stride;
  const std::size_t qs = args.qa_stride, nb = args.n_blocks, chunks = args.block / 8;
  const std::size_t n0 = 2 * pair * P;
  alignas(16) float acc[R][16] = {};
  QK_Q4N_DECL(0) QK_Q4N_DECL(1)
  for (std::size_t b = 0; b < nb; ++b) {
    QK_Q4N_IZERO(0) QK_Q4N_IZERO(1)
    for (std::size_t c = 0; c < chunks; ++c, w0 += 32, w1 += 32, q += 8) {
      QK_Q4N_LOAD_Q(0) QK_Q4N_LOAD_Q(1)
      QK_Q4N_VEC(0, w0, 0, 1) QK_Q4N_VEC(1, w0 + 16, 2, 3) QK_Q4N_VEC(2, w1, 4, 5) QK_Q4N_VEC(3, w1 + 16, 6, 7)
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
    QK_Q4N_BLOCK_END(0) QK_Q4N_BLOCK_END(1)
  }
  for (std::size_t r = 0; r < R; ++r) q4_store_row(args, m0 + r, n0, &acc[r][0]);
}

inline void gemm_q4_neon_dynamic_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end,
                                     std::size_t pair_begin, std::size_t pair_end) noexcept {
  for (std::size_t pair = pair_begin; pair < pair_end; ++pair) {
    std::size_t m = m_begin;
    for (; m + 2 <= m_end; m += 2) q4_neon_dynamic_rows<2>(args, m, pair);
    if (m < m_end) q4_neon_dynamic_rows<1>(args, m, pair);
  }
}

#undef QK_Q4N_DECL
#undef QK_Q4N_IZERO
#undef QK_Q4N_MAC
#undef QK_Q4N_VEC
#undef QK_Q4N_LOAD_Q
#undef QK_Q4N_BLOCK_END
