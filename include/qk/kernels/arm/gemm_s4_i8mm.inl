// qk/kernels/arm/gemm_s4_i8mm.inl - the ARMv8.6 i8mm int4 family: SMMLA / USMMLA on nibbles
// expanded in registers.
//
// Layout (gemm_s8_contract.hpp, b_nibbles): the int8 i8mm family's panel of 8 columns and K
// group of 8, two groups a block: a block of a panel is 64 bytes, four vectors of two columns x
// 8 K rows (the 8x2 operand of SMMLA), group 2i in the low nibbles and 2i + 1 in the high ones,
// each nibble u = w + 8. One vector expands, as in the dot family, to w of both groups (`eor
// 0x88`, `shl #4; sshr #4` low, `sshr #4` high), and each feeds the two row pairs: 4 MMLAs of
// 32 multiply-accumulates per 4 instructions of expansion.
// The weights are w itself: s8 activations take SMMLA (s8 x s8), u8 ones USMMLA (u8 x s8), with
// no offset and no row term, as in the int8 family; |w| <= 8, so the int32 sums are exact.
// Per 16-K step a row pair's activations are two 16-byte loads, split by 64-bit zips into the
// low group's and the high group's 2x8 operands.
//
// Included inside namespace qk::kernels::neon_i8mm::s4, inside the i8mm target region, after
// the int8 family (whose mmla and finish_row it uses).

struct Traits {
  static constexpr std::size_t kPanelWidth = 8, kKGroup = 8, kElemBytes = 1, kMaxPanels = 2, kMaxRows = 4;
};

QK_ARM_INLINE int8x16x2_t split_nibbles(const std::uint8_t* p) noexcept {
  const int8x16_t x = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), vdupq_n_u8(0x88)));
  int8x16x2_t w;
  w.val[0] = vshrq_n_s8(vshlq_n_s8(x, 4), 4);
  w.val[1] = vshrq_n_s8(x, 4);
  return w;
}

// Accumulator c<p><q>: rows 2p, 2p+1 x columns 2q, 2q+1 (q = 4 * panel + column pair).
#define QK_MM4_DECL_PAIR(p)                                                                               \
  [[maybe_unused]] int32x4_t c##p##0 = vdupq_n_s32(0), c##p##1 = vdupq_n_s32(0), c##p##2 = vdupq_n_s32(0), \
                             c##p##3 = vdupq_n_s32(0), c##p##4 = vdupq_n_s32(0), c##p##5 = vdupq_n_s32(0), \
                             c##p##6 = vdupq_n_s32(0), c##p##7 = vdupq_n_s32(0);
// Row pair p's 16 activations: lo<p> = K 0-7 of rows 2p, 2p+1 (the low group), hi<p> = K 8-15.
#define QK_MM4_LOAD_A(p)                                                                                       \
  [[maybe_unused]] uint64x2_t lo##p = vdupq_n_u64(0), hi##p = vdupq_n_u64(0);                                  \
  if constexpr (PAIRS > p) {                                                                                   \
    const uint64x2_t r0 = vreinterpretq_u64_u8(vld1q_u8(arow + (2 * p) * lda));                               \
    const uint64x2_t r1 = vreinterpretq_u64_u8(vld1q_u8(arow + (2 * p + 1 < ROWS ? 2 * p + 1 : 2 * p) * lda)); \
    lo##p = vzip1q_u64(r0, r1);                                                                                \
    hi##p = vzip2q_u64(r0, r1);                                                                                \
  }
#define QK_MM4_PAIR(p, q, w)                                                        \
  if constexpr (PAIRS > p) {                                                        \
    c##p##q = mmla<Signed>(c##p##q, vreinterpretq_u8_u64(lo##p), w.val[0]);          \
    c##p##q = mmla<Signed>(c##p##q, vreinterpretq_u8_u64(hi##p), w.val[1]);          \
  }
// Column pair q of the block (vector q % 4 of panel q / 4).
#define QK_MM4_COLS(q)                                                                        \
  if constexpr (q < 4 * NB) {                                                                 \
    const int8x16x2_t w = split_nibbles(pb + ((q) / 4) * pstride + 16 * ((q) % 4));           \
    QK_MM4_PAIR(0, q, w) QK_MM4_PAIR(1, q, w)                                                 \
  }
// The barrier keeps the second panel's loads (and so its expansion) below the first panel's
// MMLAs: GCC 12 expanded all 8 vectors up front (16 weight vectors beside 16 accumulators and 4
// activation vectors) and spilled on every step.
#define QK_MM4_STEP                                                                            \
  {                                                                                            \
    QK_MM4_LOAD_A(0) QK_MM4_LOAD_A(1)                                                          \
    QK_MM4_COLS(0) QK_MM4_COLS(1) QK_MM4_COLS(2) QK_MM4_COLS(3)                                \
    if constexpr (NB > 1) __asm__ volatile("" ::: "memory");                                   \
    QK_MM4_COLS(4) QK_MM4_COLS(5) QK_MM4_COLS(6) QK_MM4_COLS(7)                                \
  }
// Rows 2p (ZIP1) and 2p+1 (ZIP2) of column pairs (q, q+1) -> columns 2q .. 2q+3.
#define QK_MM4_UNZIP(p, q0, q1, col)                                                                  \
  {                                                                                                   \
    const int64x2_t lo = vreinterpretq_s64_s32(c##p##q0), hi = vreinterpretq_s64_s32(c##p##q1);       \
    vst1q_s32(&tile[2 * p][col], vreinterpretq_s32_s64(vzip1q_s64(lo, hi)));                          \
    if constexpr (2 * p + 1 < ROWS) vst1q_s32(&tile[2 * p + 1][col], vreinterpretq_s32_s64(vzip2q_s64(lo, hi))); \
  }
#define QK_MM4_STORE_PAIR(p)                                          \
  if constexpr (PAIRS > p) {                                          \
    QK_MM4_UNZIP(p, 0, 1, 0) QK_MM4_UNZIP(p, 2, 3, 4)                 \
    if constexpr (NB > 1) { QK_MM4_UNZIP(p, 4, 5, 8) QK_MM4_UNZIP(p, 6, 7, 12) } \
  }

template <std::size_t ROWS, std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_tile_rows(const GemmS8Args& args, std::size_t m0, std::size_t p0) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 4 && NB >= 1 && NB <= 2, "register tile up to 4 rows x 2 panels");
  constexpr std::size_t PAIRS = (ROWS + 1) / 2;
  QK_MM4_DECL_PAIR(0) QK_MM4_DECL_PAIR(1)
  const std::uint8_t* arow = args.a + m0 * args.lda;
  std::size_t lda = args.lda;
  const std::uint8_t* pb = args.packed_b + p0 * args.panel_bytes;
  const std::size_t pstride = args.panel_bytes;
  std::size_t k = 0;
  for (; k + 16 <= args.k; k += 16, arow += 16, pb += 64) QK_MM4_STEP
  if (k < args.k) {
    // The last K % 16 activations, on a zero-padded copy of each row: B holds whole blocks
    // (16 K), and a padding activation 0 meets the padding nibbles' w = -8 as 0 (no offsets).
    const std::size_t rest = args.k - k;
    alignas(16) std::uint8_t tail[ROWS][16] = {};
    for (std::size_t r = 0; r < ROWS; ++r)
      for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
    arow = &tail[0][0];
    lda = 16;
    QK_MM4_STEP
  }
  alignas(16) std::int32_t tile[ROWS][NB * 8];
  QK_MM4_STORE_PAIR(0) QK_MM4_STORE_PAIR(1)
  const std::size_t n0 = p0 * 8;
  const std::size_t cols = args.n - n0 < NB * 8 ? args.n - n0 : NB * 8;
  for (std::size_t r = 0; r < ROWS; ++r) finish_row(args, m0 + r, n0, cols, tile[r], row_sum_for(args, m0 + r));
}
#undef QK_MM4_DECL_PAIR
#undef QK_MM4_LOAD_A
#undef QK_MM4_PAIR
#undef QK_MM4_COLS
#undef QK_MM4_STEP
#undef QK_MM4_UNZIP
#undef QK_MM4_STORE_PAIR
