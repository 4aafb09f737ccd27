// qk/kernels/arm/gemm_s4_neon.inl - the ARMv8.0 int4 family: SMLAL by lane on nibbles expanded
// in registers.
//
// Layout (gemm_s8_contract.hpp, b_nibbles): panel 8 columns, K group 1, so a block is 8 bytes:
// K rows 2i (low nibbles) and 2i + 1 (high nibbles) of the panel's 8 columns, each nibble
// u = w + 8. The int8 family stores B pre-widened to int16 (4x the bytes of int8, 4x those of
// int4 at 16 bits); here the two panels' blocks are loaded as one 16-byte vector, expanded as in
// the dot family (`eor 0x88`, `shl #4; sshr #4` low, `sshr #4` high: w as int8) and widened with
// SXTL / SXTL2: 8 instructions for 32 int16 weights, which feed 16 SMLALs per row.
// The weights are w itself (weight offset 0): no row term, and activation signedness is the
// widening's (SXTL / UXTL), as in the int8 family; products are at most 255 * 8 in magnitude.
//
// Included inside namespace qk::kernels::neon::s4 (no target region: the AArch64 baseline),
// after the int8 family (whose widen8, scalar16 and finish_row it uses).

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 1, kElemBytes = 1, kMaxPanels = 2, kMaxRows = 4;
};

// K rows 2i and 2i + 1 of panels p and p + 1 (the second only when NB > 1), as int16 columns:
// val[0] row 2i panel p, val[1] row 2i panel p + 1, val[2] row 2i + 1 panel p, val[3] row 2i + 1
// panel p + 1.
template <std::size_t NB>
QK_ARM_INLINE int16x8x4_t expand_block(const std::uint8_t* p, std::size_t pstride) noexcept {
  int16x8x4_t w;
  if constexpr (NB > 1) {
    const int8x16_t x = vreinterpretq_s8_u8(veorq_u8(vcombine_u8(vld1_u8(p), vld1_u8(p + pstride)), vdupq_n_u8(0x88)));
    const int8x16_t lo = vshrq_n_s8(vshlq_n_s8(x, 4), 4), hi = vshrq_n_s8(x, 4);
    w.val[0] = vmovl_s8(vget_low_s8(lo));
    w.val[1] = vmovl_high_s8(lo);
    w.val[2] = vmovl_s8(vget_low_s8(hi));
    w.val[3] = vmovl_high_s8(hi);
  } else {
    static_cast<void>(pstride);
    const int8x8_t x = vreinterpret_s8_u8(veor_u8(vld1_u8(p), vdup_n_u8(0x88)));
    w.val[0] = vmovl_s8(vshr_n_s8(vshl_n_s8(x, 4), 4));
    w.val[2] = vmovl_s8(vshr_n_s8(x, 4));
    w.val[1] = w.val[0];
    w.val[3] = w.val[2];
  }
  return w;
}

#define QK_NEON4_DECL_ROW(r)                                                                             \
  [[maybe_unused]] int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = vdupq_n_s32(0), c##r##2 = vdupq_n_s32(0), \
                             c##r##3 = vdupq_n_s32(0);
// K row with weights b0 (panel p) and b1 (panel p + 1), lane L of the widened activations a<r>.
#define QK_NEON4_LANE_ROW(r, b0, b1, L)                                        \
  if constexpr (ROWS > r) {                                                    \
    c##r##0 = vmlal_laneq_s16(c##r##0, vget_low_s16(b0), a##r, L);             \
    c##r##1 = vmlal_high_laneq_s16(c##r##1, b0, a##r, L);                      \
    if constexpr (NB > 1) {                                                    \
      c##r##2 = vmlal_laneq_s16(c##r##2, vget_low_s16(b1), a##r, L);           \
      c##r##3 = vmlal_high_laneq_s16(c##r##3, b1, a##r, L);                    \
    }                                                                          \
  }
// Block J of the current 8-K step: K rows 2J and 2J + 1.
#define QK_NEON4_BLOCK(J)                                                                            \
  {                                                                                                  \
    const int16x8x4_t w = expand_block<NB>(pb + 8 * (J), pstride);                                   \
    QK_NEON4_LANE_ROW(0, w.val[0], w.val[1], 2 * (J)) QK_NEON4_LANE_ROW(1, w.val[0], w.val[1], 2 * (J)) \
    QK_NEON4_LANE_ROW(2, w.val[0], w.val[1], 2 * (J)) QK_NEON4_LANE_ROW(3, w.val[0], w.val[1], 2 * (J)) \
    QK_NEON4_LANE_ROW(0, w.val[2], w.val[3], 2 * (J) + 1) QK_NEON4_LANE_ROW(1, w.val[2], w.val[3], 2 * (J) + 1) \
    QK_NEON4_LANE_ROW(2, w.val[2], w.val[3], 2 * (J) + 1) QK_NEON4_LANE_ROW(3, w.val[2], w.val[3], 2 * (J) + 1) \
  }
#define QK_NEON4_LOAD_A(r) \
  [[maybe_unused]] const int16x8_t a##r = ROWS > r ? widen8<Signed>(arow + r * lda) : a0;
#define QK_NEON4_STORE_ROW(r)           \
  if constexpr (ROWS > r) {             \
    vst1q_s32(&tile[r][0], c##r##0);    \
    vst1q_s32(&tile[r][4], c##r##1);    \
    if constexpr (NB > 1) {             \
      vst1q_s32(&tile[r][8], c##r##2);  \
      vst1q_s32(&tile[r][12], c##r##3); \
    }                                   \
  }

template <std::size_t ROWS, std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_tile_rows(const GemmS8Args& args, std::size_t m0, std::size_t p0) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 4 && NB >= 1 && NB <= 2, "register tile up to 4 rows x 2 panels");
  QK_NEON4_DECL_ROW(0) QK_NEON4_DECL_ROW(1) QK_NEON4_DECL_ROW(2) QK_NEON4_DECL_ROW(3)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  std::size_t lda = args.lda;
  const std::uint8_t* pb = args.packed_b + p0 * args.panel_bytes;
  const std::size_t pstride = args.panel_bytes;
  std::size_t k = 0;
  for (; k + 8 <= args.k; k += 8, arow += 8, pb += 4 * 8) {
    QK_NEON4_LOAD_A(0) QK_NEON4_LOAD_A(1) QK_NEON4_LOAD_A(2) QK_NEON4_LOAD_A(3)
    QK_NEON4_BLOCK(0) QK_NEON4_BLOCK(1) QK_NEON4_BLOCK(2) QK_NEON4_BLOCK(3)
  }
  if (k < args.k) {
    // The last K % 8 activations, on a zero-padded copy of each row; only the blocks B holds
    // (whole K pairs) are read, and a padding activation 0 meets a padding nibble (w = -8) as 0.
    const std::size_t rest = args.k - k;
    alignas(16) std::uint8_t tail[ROWS][8] = {};
    for (std::size_t r = 0; r < ROWS; ++r)
      for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
    arow = &tail[0][0];
    lda = 8;
    QK_NEON4_LOAD_A(0) QK_NEON4_LOAD_A(1) QK_NEON4_LOAD_A(2) QK_NEON4_LOAD_A(3)
    QK_NEON4_BLOCK(0)
    if (rest > 2) QK_NEON4_BLOCK(1)
    if (rest > 4) QK_NEON4_BLOCK(2)
    if (rest > 6) QK_NEON4_BLOCK(3)
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_NEON4_STORE_ROW(0) QK_NEON4_STORE_ROW(1) QK_NEON4_STORE_ROW(2) QK_NEON4_STORE_ROW(3)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_NEON4_DECL_ROW
#undef QK_NEON4_LANE_ROW
#undef QK_NEON4_BLOCK
#undef QK_NEON4_LOAD_A
#undef QK_NEON4_STORE_ROW
