// qk/kernels/arm/gemm_s4_dot.inl - the ARMv8.2 dot-product int4 family: SDOT by element on
// nibbles expanded in registers.
//
// Layout (gemm_s8_contract.hpp, b_nibbles): the int8 dot family's panel of 8 columns and K group
// of 4, two groups a block: a block of a panel is 32 bytes, two vectors of 4 columns x 4 K rows,
// group 2i in the low nibbles and 2i + 1 in the high ones, each nibble u = w + 8.
// Expansion: `eor 0x88` turns both nibbles of a byte into w in 4-bit two's complement (u = w + 8
// differs from w mod 16 in bit 3 only); `sshr #4` then gives the high group as int8 and
// `shl #4; sshr #4` the low one: 4 instructions per loaded vector, which feed 8 SDOTs (2 groups
// x 4 rows). The weights are then w itself (weight offset 0), so s8 activations need no row
// term, and u8 activations are fed as A xor 0x80, exactly as in the int8 family (activation
// offset -128). Exact for the same reason as the int8 family: |w| <= 8.
//
// Included inside namespace qk::kernels::neon_dot::s4, inside the dotprod target region, after
// the int8 family (whose load_a16 and finish_row it uses).

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 4, kElemBytes = 1, kMaxPanels = 2, kMaxRows = 4;
};

// Both K groups of one 16-byte nibble vector as signed bytes: val[0] the low nibbles' group.
QK_ARM_INLINE int8x16x2_t split_nibbles(const std::uint8_t* p) noexcept {
  const int8x16_t x = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x88)));
  int8x16x2_t w;
  w.val[0] = vshrq_n_s8(vshlq_n_s8(x, 4), 4);
  w.val[1] = vshrq_n_s8(x, 4);
  return w;
}

#define QK_DOT4_DECL_ROW(r)                                                                              \
  [[maybe_unused]] int32x4_t c##r##0 = vdupq_n_s32(0), c##r##1 = vdupq_n_s32(0), c##r##2 = vdupq_n_s32(0), \
                             c##r##3 = vdupq_n_s32(0);
#define QK_DOT4_LOAD_A(r) [[maybe_unused]] const int8x16_t a##r = ROWS > r ? load_a16<Signed>(arow + r * lda) : a0;
// Group H (0 low, 1 high) of the block, lane L of the activations, row r.
#define QK_DOT4_ROW(r, H, L)                                    \
  if constexpr (ROWS > r) {                                     \
    c##r##0 = vdotq_laneq_s32(c##r##0, w0.val[H], a##r, L);     \
    c##r##1 = vdotq_laneq_s32(c##r##1, w1.val[H], a##r, L);     \
    if constexpr (NB > 1) {                                     \
      c##r##2 = vdotq_laneq_s32(c##r##2, w2.val[H], a##r, L);   \
      c##r##3 = vdotq_laneq_s32(c##r##3, w3.val[H], a##r, L);   \
    }                                                           \
  }
// Block P of the current 16-K step (K groups 2P and 2P + 1: activation lanes 2P and 2P + 1).
#define QK_DOT4_BLOCK(P)                                                                       \
  {                                                                                            \
    const int8x16x2_t w0 = split_nibbles(pb + 32 * (P));                                       \
    const int8x16x2_t w1 = split_nibbles(pb + 32 * (P) + 16);                                  \
    [[maybe_unused]] const int8x16x2_t w2 = NB > 1 ? split_nibbles(pb + pstride + 32 * (P)) : w0; \
    [[maybe_unused]] const int8x16x2_t w3 = NB > 1 ? split_nibbles(pb + pstride + 32 * (P) + 16) : w1; \
    QK_DOT4_ROW(0, 0, 2 * (P)) QK_DOT4_ROW(1, 0, 2 * (P)) QK_DOT4_ROW(2, 0, 2 * (P)) QK_DOT4_ROW(3, 0, 2 * (P)) \
    QK_DOT4_ROW(0, 1, 2 * (P) + 1) QK_DOT4_ROW(1, 1, 2 * (P) + 1) QK_DOT4_ROW(2, 1, 2 * (P) + 1) \
    QK_DOT4_ROW(3, 1, 2 * (P) + 1)                                                             \
  }
#define QK_DOT4_STORE_ROW(r)            \
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
  QK_DOT4_DECL_ROW(0) QK_DOT4_DECL_ROW(1) QK_DOT4_DECL_ROW(2) QK_DOT4_DECL_ROW(3)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  std::size_t lda = args.lda;
  const std::uint8_t* pb = args.packed_b + p0 * args.panel_bytes;
  const std::size_t pstride = args.panel_bytes;
  std::size_t k = 0;
  for (; k + 16 <= args.k; k += 16, arow += 16, pb += 2 * 32) {
    QK_DOT4_LOAD_A(0) QK_DOT4_LOAD_A(1) QK_DOT4_LOAD_A(2) QK_DOT4_LOAD_A(3)
    QK_DOT4_BLOCK(0)
    // Keeps the second block's loads (and so its expansion) below the first block's SDOTs: GCC
    // 12 expanded both blocks up front, 16 weight vectors beside 16 accumulators and 4
    // activation vectors, and spilled 5 accumulators on every step.
    __asm__ volatile("" ::: "memory");
    QK_DOT4_BLOCK(1)
  }
  if (k < args.k) {
    // The last K % 16 activations, copied into padded rows; B holds whole blocks (8 K), so the
    // second block is read only if K reaches into it. Padding nibbles are 0 (w = -8), so the
    // padding activations must enter as 0: 0 for s8, 0x80 for u8 (xor 0x80 in load_a16).
    const std::size_t rest = args.k - k;
    alignas(16) std::uint8_t tail[ROWS][16];
    for (std::size_t r = 0; r < ROWS; ++r)
      for (std::size_t i = 0; i < 16; ++i) tail[r][i] = i < rest ? arow[r * lda + i] : (Signed ? 0 : 0x80);
    arow = &tail[0][0];
    lda = 16;
    QK_DOT4_LOAD_A(0) QK_DOT4_LOAD_A(1) QK_DOT4_LOAD_A(2) QK_DOT4_LOAD_A(3)
    QK_DOT4_BLOCK(0)
    if (rest > 8) QK_DOT4_BLOCK(1)
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_DOT4_STORE_ROW(0) QK_DOT4_STORE_ROW(1) QK_DOT4_STORE_ROW(2) QK_DOT4_STORE_ROW(3)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_DOT4_DECL_ROW
#undef QK_DOT4_LOAD_A
#undef QK_DOT4_ROW
#undef QK_DOT4_BLOCK
#undef QK_DOT4_STORE_ROW
