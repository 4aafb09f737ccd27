// qk/kernels/arm/gemm_s8_neon.inl - the ARMv8.0 family: int16 multiply-accumulate by lane.
//
// Layout: panel 8 columns, K group 1, B pre-widened to int16 at packing. One K step of a panel
// is one 16-byte vector: B[k][n0 .. n0+7].
// Loop: 8 activations of a row are loaded and widened to int16 once (SXTL/UXTL), then for each
// of those 8 K steps `smlal  acc.4s, b.4h, a.h[lane]` / `smlal2` add a.h[lane] * B to 4 int32
// columns each: 4 multiply-accumulates per instruction.
//
// Why exact at every extreme: each product is formed at full width and added straight into an
// int32 lane: SMLAL multiplies int16 x int16 into 32 bits, and |a * b| <= 255 * 128 = 32640 for
// u8 or s8 activations and s8 weights (u8 weights are stored as B - 128, still int8). Nothing is
// ever summed in int16 (as SMULL + SADALP on int8 pairs would do, where -128 * -128 + -128 * -128
// = 32768 overflows int16), so the int32 lane sum wraps exactly as the definition's does.
// Activation signedness is handled by the widening (SXTL for s8, UXTL for u8): offsets are 0.
//
// Included inside namespace qk::kernels::neon (no target region needed: ARMv8.0 Advanced SIMD is
// the AArch64 baseline), after epilogue_neon.inl.

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 1, kElemBytes = 2, kMaxPanels = 2, kMaxRows = 4;
};

template <bool Signed>
QK_ARM_INLINE int16x8_t widen8(const std::uint8_t* p) noexcept {
  if constexpr (Signed)
    return vmovl_s8(vld1_s8(reinterpret_cast<const std::int8_t*>(p)));
  else
    return vreinterpretq_s16_u16(vmovl_u8(vld1_u8(p)));
}

template <bool Signed>
QK_ARM_INLINE std::int16_t scalar16(std::uint8_t v) noexcept {
  return Signed ? static_cast<std::int16_t>(static_cast<std::int8_t>(v)) : static_cast<std::int16_t>(v);
}

// Accumulator c<r><v>: row r, columns 4v .. 4v+3 of the tile (v = 2 * panel + half).
#define QK_NEON_DECL_ROW(r)                                                                              \
  [[maybe_unused]] int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = vdupq_n_s32(0), c##r##2 = vdupq_n_s32(0), \
                             c##r##3 = vdupq_n_s32(0);
// One K step (lane L of the widened activations a<r>) for row r.
#define QK_NEON_LANE_ROW(r, L)                                                 \
  if constexpr (ROWS > r) {                                                    \
    c##r##0 = vmlal_laneq_s16(c##r##0, vget_low_s16(b0), a##r, L);             \
    c##r##1 = vmlal_high_laneq_s16(c##r##1, b0, a##r, L);                      \
    if constexpr (NB > 1) {                                                    \
      c##r##2 = vmlal_laneq_s16(c##r##2, vget_low_s16(b1), a##r, L);           \
      c##r##3 = vmlal_high_laneq_s16(c##r##3, b1, a##r, L);                    \
    }                                                                          \
  }
#define QK_NEON_LANE(L)                                                                         \
  {                                                                                             \
    const int16x8_t b0 = vld1q_s16(pb + 8 * (L));                                               \
    [[maybe_unused]] const int16x8_t b1 = NB > 1 ? vld1q_s16(pb + pstride + 8 * (L)) : b0;      \
    QK_NEON_LANE_ROW(0, L) QK_NEON_LANE_ROW(1, L) QK_NEON_LANE_ROW(2, L) QK_NEON_LANE_ROW(3, L) \
  }
#define QK_NEON_LOAD_A(r) \
  [[maybe_unused]] const int16x8_t a##r = ROWS > r ? widen8<Signed>(arow + r * lda) : a0;
#define QK_NEON_TAIL_ROW(r)                                                \
  if constexpr (ROWS > r) {                                                \
    const std::int16_t av = scalar16<Signed>(arow[r * lda]);               \
    c##r##0 = vmlal_n_s16(c##r##0, vget_low_s16(b0), av);                  \
    c##r##1 = vmlal_high_n_s16(c##r##1, b0, av);                           \
    if constexpr (NB > 1) {                                                \
      c##r##2 = vmlal_n_s16(c##r##2, vget_low_s16(b1), av);                \
      c##r##3 = vmlal_high_n_s16(c##r##3, b1, av);                         \
    }                                                                      \
  }
#define QK_NEON_STORE_ROW(r)                                 \
  if constexpr (ROWS > r) {                                  \
    vst1q_s32(&tile[r][0], c##r##0);                         \
    vst1q_s32(&tile[r][4], c##r##1);                         \
    if constexpr (NB > 1) {                                  \
      vst1q_s32(&tile[r][8], c##r##2);                       \
      vst1q_s32(&tile[r][12], c##r##3);                      \
    }                                                        \
  }

template <std::size_t ROWS, std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_tile_rows(const GemmS8Args& args, std::size_t m0, std::size_t p0) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 4 && NB >= 1 && NB <= 2, "register tile up to 4 rows x 2 panels");
  QK_NEON_DECL_ROW(0) QK_NEON_DECL_ROW(1) QK_NEON_DECL_ROW(2) QK_NEON_DECL_ROW(3)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  const std::size_t lda = args.lda;
  const auto* pb = reinterpret_cast<const std::int16_t*>(args.packed_b + p0 * args.panel_bytes);
  const std::size_t pstride = args.panel_bytes / 2;  // in int16 elements
  std::size_t k = 0;
  for (; k + 8 <= args.k; k += 8, arow += 8, pb += 64) {
    QK_NEON_LOAD_A(0) QK_NEON_LOAD_A(1) QK_NEON_LOAD_A(2) QK_NEON_LOAD_A(3)
    QK_NEON_LANE(0) QK_NEON_LANE(1) QK_NEON_LANE(2) QK_NEON_LANE(3)
    QK_NEON_LANE(4) QK_NEON_LANE(5) QK_NEON_LANE(6) QK_NEON_LANE(7)
  }
  // The last K % 8 steps one at a time: B holds exactly K rows, so no step may run past them.
  for (; k < args.k; ++k, ++arow, pb += 8) {
    const int16x8_t b0 = vld1q_s16(pb);
    [[maybe_unused]] const int16x8_t b1 = NB > 1 ? vld1q_s16(pb + pstride) : b0;
    QK_NEON_TAIL_ROW(0) QK_NEON_TAIL_ROW(1) QK_NEON_TAIL_ROW(2) QK_NEON_TAIL_ROW(3)
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_NEON_STORE_ROW(0) QK_NEON_STORE_ROW(1) QK_NEON_STORE_ROW(2) QK_NEON_STORE_ROW(3)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_NEON_DECL_ROW
#undef QK_NEON_LANE_ROW
#undef QK_NEON_LANE
#undef QK_NEON_LOAD_A
#undef QK_NEON_TAIL_ROW
#undef QK_NEON_STORE_ROW
