// qk/kernels/arm/gemm_s8_i8mm.inl - the ARMv8.6 i8mm family: 2x8 by 8x2 matrix multiply.
//
// Layout: panel 8 columns, K group 8, int8 B. A K group of a panel is 64 bytes: four vectors,
// each two adjacent columns x 8 K values ([column][k_group]), which is exactly the 8x2 right
// operand SMMLA/USMMLA read (stored transposed, one column per 8 bytes).
// Loop: per K group, rows 2p and 2p+1 are loaded as one vector (8 bytes each) and
// `smmla acc.4s, a.16b, b.16b` adds the 2x2 block [r0.c0, r0.c1, r1.c0, r1.c1]: 32
// multiply-accumulates per instruction. After K, pairs of 2x2 blocks are unzipped (ZIP1/ZIP2 on
// 64-bit lanes) into 4-column row vectors for the epilogue.
//
// Signedness needs no offset: USMMLA takes u8 activations x s8 weights, SMMLA s8 x s8; both
// accumulate their 8 products in int32 (|sum| <= 8 * 255 * 128 < 2^31), wrapping as the definition.
// An odd row count pairs the last row with itself (a valid read) and drops the duplicate.
//
// Included inside namespace qk::kernels::neon_i8mm, inside its i8mm target region.

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 8, kElemBytes = 1, kMaxPanels = 2, kMaxRows = 4;
};

template <bool Signed>
QK_ARM_INLINE int32x4_t mmla(int32x4_t acc, uint8x16_t a, int8x16_t b) noexcept {
  if constexpr (Signed)
    return vmmlaq_s32(acc, vreinterpretq_s8_u8(a), b);
  else
    return vusmmlaq_s32(acc, a, b);
}

// Accumulator c<p><q>: rows 2p, 2p+1 x columns 2q, 2q+1 (q = 4 * panel + column pair).
#define QK_MM_DECL_PAIR(p)                                                                                \
  [[maybe_unused]] int32x4_t c##p##0 = vdupq_n_s32(0), c##p##1 = vdupq_n_s32(0), c##p##2 = vdupq_n_s32(0), \
                             c##p##3 = vdupq_n_s32(0), c##p##4 = vdupq_n_s32(0), c##p##5 = vdupq_n_s32(0), \
                             c##p##6 = vdupq_n_s32(0), c##p##7 = vdupq_n_s32(0);
#define QK_MM_LOAD_A(p)                                                                            \
  [[maybe_unused]] const uint8x16_t a##p =                                                         \
      PAIRS > p ? vcombine_u8(vld1_u8(arow + (2 * p) * lda),                                       \
                              vld1_u8(arow + (2 * p + 1 < ROWS ? 2 * p + 1 : 2 * p) * lda))        \
                : a0;
#define QK_MM_PAIR(p)                                                  \
  if constexpr (PAIRS > p) {                                           \
    c##p##0 = mmla<Signed>(c##p##0, a##p, b0);                         \
    c##p##1 = mmla<Signed>(c##p##1, a##p, b1);                         \
    c##p##2 = mmla<Signed>(c##p##2, a##p, b2);                         \
    c##p##3 = mmla<Signed>(c##p##3, a##p, b3);                         \
    if constexpr (NB > 1) {                                            \
      c##p##4 = mmla<Signed>(c##p##4, a##p, b4);                       \
      c##p##5 = mmla<Signed>(c##p##5, a##p, b5);                       \
      c##p##6 = mmla<Signed>(c##p##6, a##p, b6);                       \
      c##p##7 = mmla<Signed>(c##p##7, a##p, b7);                       \
    }                                                                  \
  }
// Rows 2p (ZIP1) and 2p+1 (ZIP2) of column pairs (q, q+1) -> columns 2q .. 2q+3.
#define QK_MM_UNZIP(p, q0, q1, col)                                                                   \
  {                                                                                                   \
    const int64x2_t lo = vreinterpretq_s64_s32(c##p##q0), hi = vreinterpretq_s64_s32(c##p##q1);       \
    vst1q_s32(&tile[2 * p][col], vreinterpretq_s32_s64(vzip1q_s64(lo, hi)));                          \
    if constexpr (2 * p + 1 < ROWS) vst1q_s32(&tile[2 * p + 1][col], vreinterpretq_s32_s64(vzip2q_s64(lo, hi))); \
  }
#define QK_MM_STORE_PAIR(p)                                           \
  if constexpr (PAIRS > p) {                                          \
    QK_MM_UNZIP(p, 0, 1, 0) QK_MM_UNZIP(p, 2, 3, 4)                   \
    if constexpr (NB > 1) { QK_MM_UNZIP(p, 4, 5, 8) QK_MM_UNZIP(p, 6, 7, 12) } \
  }

template <std::size_t ROWS, std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_tile_rows(const GemmS8Args& args, std::size_t m0, std::size_t p0) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 4 && NB >= 1 && NB <= 2, "register tile up to 4 rows x 2 panels");
  constexpr std::size_t PAIRS = (ROWS + 1) / 2;
  QK_MM_DECL_PAIR(0) QK_MM_DECL_PAIR(1)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  std::size_t lda = args.lda;
  const auto* pb = reinterpret_cast<const std::int8_t*>(args.packed_b + p0 * args.panel_bytes);
  const std::size_t pstride = args.panel_bytes;
  // As the x86 tile: the K loop runs a second time at most, over a zero-padded copy of each
  // row's last partial group (padding meets zero-padded B; B holds whole groups of 8).
  alignas(16) std::uint8_t tail[ROWS][8] = {};
  const std::size_t full = args.k / 8, rest = args.k - full * 8;
  std::size_t g_end = full;
  for (std::size_t g = 0;;) {
    for (; g < g_end; ++g, pb += 64, arow += 8) {
      const int8x16_t b0 = vld1q_s8(pb), b1 = vld1q_s8(pb + 16), b2 = vld1q_s8(pb + 32), b3 = vld1q_s8(pb + 48);
      [[maybe_unused]] const int8x16_t b4 = NB > 1 ? vld1q_s8(pb + pstride) : b0;
      [[maybe_unused]] const int8x16_t b5 = NB > 1 ? vld1q_s8(pb + pstride + 16) : b1;
      [[maybe_unused]] const int8x16_t b6 = NB > 1 ? vld1q_s8(pb + pstride + 32) : b2;
      [[maybe_unused]] const int8x16_t b7 = NB > 1 ? vld1q_s8(pb + pstride + 48) : b3;
      QK_MM_LOAD_A(0) QK_MM_LOAD_A(1)
      QK_MM_PAIR(0) QK_MM_PAIR(1)
    }
    if (rest == 0 || g_end != full) break;
    for (std::size_t r = 0; r < ROWS; ++r)
      for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
    arow = &tail[0][0];
    lda = 8;
    ++g_end;
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_MM_STORE_PAIR(0) QK_MM_STORE_PAIR(1)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_MM_DECL_PAIR
#undef QK_MM_LOAD_A
#undef QK_MM_PAIR
#undef QK_MM_UNZIP
#undef QK_MM_STORE_PAIR
