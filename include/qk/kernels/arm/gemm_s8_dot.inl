// qk/kernels/arm/gemm_s8_dot.inl - the ARMv8.2 dot-product family: SDOT by element.
//
// Layout: panel 8 columns, K group 4, int8 B. A K group of a panel is 32 bytes: two vectors of
// 4 columns x 4 K values, exactly the [column][k_group] blocks SDOT's lanes consume.
// Loop: 16 activations of a row (4 K groups) are loaded once; for each group L,
// `sdot acc.4s, b.16b, a.4b[L]` adds the 4-term dot product of a's group L with each of 4
// columns: 16 multiply-accumulates per instruction.
//
// SDOT is s8 x s8 only. u8 activations are fed as A xor 0x80 = A - 128 (u8_activation_offset
// -128; the packer adds 128 * colsum(B) to the column offsets). Both operands are then in
// [-128, 127] and SDOT accumulates the four products in int32 without intermediate narrowing
// (|sum| <= 4 * 2^14), so the result wraps exactly as the definition's.
//
// Included inside namespace qk::kernels::neon_dot, inside its dotprod target region.

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 4, kElemBytes = 1, kMaxPanels = 2, kMaxRows = 4;
};

template <bool Signed>
QK_ARM_INLINE int8x16_t load_a16(const std::uint8_t* p) noexcept {
  const uint8x16_t v = vld1q_u8(p);
  return vreinterpretq_s8_u8(Signed ? v : veorq_u8(v, vdupq_n_u8(0x80)));
}
// One K group (4 activations) in every 32-bit lane.
template <bool Signed>
QK_ARM_INLINE int8x16_t load_a4(const std::uint8_t* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return vreinterpretq_s8_u32(vdupq_n_u32(Signed ? v : v ^ 0x80808080u));
}

#define QK_DOT_DECL_ROW(r)                                                                               \
  [[maybe_unused]] int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = vdupq_n_s32(0), c##r##2 = vdupq_n_s32(0), \
                             c##r##3 = vdupq_n_s32(0);
#define QK_DOT_LANE_ROW(r, L)                                   \
  if constexpr (ROWS > r) {                                     \
    c##r##0 = vdotq_laneq_s32(c##r##0, b0, a##r, L);            \
    c##r##1 = vdotq_laneq_s32(c##r##1, b1, a##r, L);            \
    if constexpr (NB > 1) {                                     \
      c##r##2 = vdotq_laneq_s32(c##r##2, b2, a##r, L);          \
      c##r##3 = vdotq_laneq_s32(c##r##3, b3, a##r, L);          \
    }                                                           \
  }
#define QK_DOT_LOAD_B(L)                                                                \
  const int8x16_t b0 = vld1q_s8(pb + 32 * (L));                                         \
  const int8x16_t b1 = vld1q_s8(pb + 32 * (L) + 16);                                    \
  [[maybe_unused]] const int8x16_t b2 = NB > 1 ? vld1q_s8(pb + pstride + 32 * (L)) : b0; \
  [[maybe_unused]] const int8x16_t b3 = NB > 1 ? vld1q_s8(pb + pstride + 32 * (L) + 16) : b1;
#define QK_DOT_LANE(L)                                                                              \
  {                                                                                                 \
    QK_DOT_LOAD_B(L)                                                                                \
    QK_DOT_LANE_ROW(0, L) QK_DOT_LANE_ROW(1, L) QK_DOT_LANE_ROW(2, L) QK_DOT_LANE_ROW(3, L)         \
  }
#define QK_DOT_LOAD_A(r) [[maybe_unused]] const int8x16_t a##r = ROWS > r ? load_a16<Signed>(arow + r * lda) : a0;
#define QK_DOT_TAIL_ROW(r)                                              \
  if constexpr (ROWS > r) {                                             \
    const int8x16_t av = load_a4<Signed>(&tail[r][4 * g]);             \
    c##r##0 = vdotq_s32(c##r##0, b0, av);                               \
    c##r##1 = vdotq_s32(c##r##1, b1, av);                               \
    if constexpr (NB > 1) {                                             \
      c##r##2 = vdotq_s32(c##r##2, b2, av);                             \
      c##r##3 = vdotq_s32(c##r##3, b3, av);                             \
    }                                                                   \
  }
#define QK_DOT_STORE_ROW(r)            \
  if constexpr (ROWS > r) {            \
    vst1q_s32(&tile[r][0], c##r##0);   \
    vst1q_s32(&tile[r][4], c##r##1);   \
    if constexpr (NB > 1) {            \
      vst1q_s32(&tile[r][8], c##r##2); \
      vst1q_s32(&tile[r][12], c##r##3); \
    }                                  \
  }

template <std::size_t ROWS, std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_tile_rows(const GemmS8Args& args, std::size_t m0, std::size_t p0) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 4 && NB >= 1 && NB <= 2, "register tile up to 4 rows x 2 panels");
  QK_DOT_DECL_ROW(0) QK_DOT_DECL_ROW(1) QK_DOT_DECL_ROW(2) QK_DOT_DECL_ROW(3)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  const std::size_t lda = args.lda;
  const auto* pb = reinterpret_cast<const std::int8_t*>(args.packed_b + p0 * args.panel_bytes);
  const std::size_t pstride = args.panel_bytes;
  std::size_t k = 0;
  for (; k + 16 <= args.k; k += 16, arow += 16, pb += 4 * 32) {
    QK_DOT_LOAD_A(0) QK_DOT_LOAD_A(1) QK_DOT_LOAD_A(2) QK_DOT_LOAD_A(3)
    QK_DOT_LANE(0) QK_DOT_LANE(1) QK_DOT_LANE(2) QK_DOT_LANE(3)
  }
  if (k < args.k) {
    // The last K % 16 activations: copied into zero-padded rows, then one K group at a time up to
    // the last group B holds (B is padded to whole groups only: a 4-group step could run past it).
    // Padding activations meet zero-padded weights; for u8 they become -128 * 0.
    const std::size_t rest = args.k - k, groups = (rest + 3) / 4;
    alignas(16) std::uint8_t tail[ROWS][16] = {};
    for (std::size_t r = 0; r < ROWS; ++r)
      for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
    for (std::size_t g = 0; g < groups; ++g, pb += 32) {
      QK_DOT_LOAD_B(0)
      QK_DOT_TAIL_ROW(0) QK_DOT_TAIL_ROW(1) QK_DOT_TAIL_ROW(2) QK_DOT_TAIL_ROW(3)
    }
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_DOT_STORE_ROW(0) QK_DOT_STORE_ROW(1) QK_DOT_STORE_ROW(2) QK_DOT_STORE_ROW(3)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_DOT_DECL_ROW
#undef QK_DOT_LANE_ROW
#undef QK_DOT_LOAD_B
#undef QK_DOT_LANE
#undef QK_DOT_LOAD_A
#undef QK_DOT_TAIL_ROW
#undef QK_DOT_STORE_ROW
