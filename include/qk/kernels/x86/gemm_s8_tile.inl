// qk/kernels/x86/gemm_s8_tile.inl - the int8 GEMM tile loop, written once for every x86 family.
//
// Included (never on its own) inside an ISA's target region and namespace, after that region
// has defined:
//   struct Traits {
//     using Vec;                       // one accumulator vector of int32 lanes
//     kLanes                           // int32 lanes = packed panel width
//     kKGroup                          // K values per lane (4: u8 x s8 dot product, 2: int16 pairs)
//     kMaxPanels, rows_for(panels)     // register tile: rows_for(NB) x (NB * kLanes), NB <= kMaxPanels
//     zero(), load_b(p), bcast_a<Signed>(p), madd<Signed>(acc, a, b),
//     store(int32* p, Vec)
//   };
//   finish_tile(args, m0, rows, n0, count, acc, acc_stride, sums) / finish_row(...): the
//   vectorised epilogue of a tile / of one row, and
//   gemm_s8_row_sums(): the family's GemmS8RowSumsFn.
// Being textually included keeps every function inside the target region (GCC will not inline a
// function without the target into one with it, and vice versa), and lets each ISA get its own
// instantiation with its own register allocation. No standard headers may be included here.
//
// int4 weights (gemm_s4_x86.hpp): included a second time, with QK_GEMM_TILE_S4 defined, inside a
// namespace nested in the ISA's (`s4`), whose Traits add
//     b_lo<Signed>(p), b_hi<Signed>(p)  // the two K groups of one B block (GemmS8Layout::b_nibbles)
// Only the K loop differs: it steps two groups per B load, expanding the nibbles in registers.
// The epilogue, the row sums and everything after the K loop are the ISA's own (shared, not
// instantiated again). Fewer tiles are instantiated (docs/build.md): no A by K group (int4
// layouts do not take it: conv.hpp runs first layers on int8), no 2-row remainder tile (2-3 leftover rows run
// as 1-row tiles), and no register epilogue with s8 A, where it is dead code (the int4 weight
// offset always makes a row term, and that form has none). Preprocessor, not `if constexpr`, so that the int8 tiles' source is the
// same token for token as without int4 (their speed cannot move), and the tiles have their own
// names: argument-dependent lookup through TileRequant (the ISA's) would otherwise see the int8
// templates beside the int4 ones.

// One register tile: ROWS rows x NB panels, all of K.
//
// The accumulators are named variables (c<row><panel>), not an array: GCC will not scalarise a
// 1.5 KB array of vectors (it exceeds its SRA size limit) and then spills accumulators on every
// K step; named variables stay in registers with both GCC and Clang. `if constexpr` removes the
// rows and panels a tile does not have.
#define QK_TILE_DECL_ROW(r)                                                                       \
  [[maybe_unused]] Vec c##r##0 = Traits::zero(), c##r##1 = Traits::zero(), c##r##2 = Traits::zero(), \
                       c##r##3 = Traits::zero();
#define QK_TILE_INIT_ROW(r)                                  \
  if constexpr (ROWS > r) {                                   \
    c##r##0 = o0;                                             \
    if constexpr (NB > 1) c##r##1 = o1;                       \
    if constexpr (NB > 2) c##r##2 = o2;                       \
    if constexpr (NB > 3) c##r##3 = o3;                       \
  }
#define QK_TILE_MADD_ROW(r, A, BCAST)                                       \
  if constexpr (ROWS > r) {                                                  \
    const Vec av = BCAST((A) + r * lda);                                     \
    c##r##0 = Traits::template madd<Signed>(c##r##0, av, b0);                                 \
    if constexpr (NB > 1) c##r##1 = Traits::template madd<Signed>(c##r##1, av, b1);           \
    if constexpr (NB > 2) c##r##2 = Traits::template madd<Signed>(c##r##2, av, b2);           \
    if constexpr (NB > 3) c##r##3 = Traits::template madd<Signed>(c##r##3, av, b3);           \
  }
#define QK_TILE_MADD_ALL(A, BCAST)                                                                     \
  QK_TILE_MADD_ROW(0, A, BCAST) QK_TILE_MADD_ROW(1, A, BCAST) QK_TILE_MADD_ROW(2, A, BCAST)            \
  QK_TILE_MADD_ROW(3, A, BCAST) QK_TILE_MADD_ROW(4, A, BCAST) QK_TILE_MADD_ROW(5, A, BCAST)            \
  QK_TILE_MADD_ROW(6, A, BCAST) QK_TILE_MADD_ROW(7, A, BCAST) QK_TILE_MADD_ROW(8, A, BCAST)            \
  QK_TILE_MADD_ROW(9, A, BCAST) QK_TILE_MADD_ROW(10, A, BCAST) QK_TILE_MADD_ROW(11, A, BCAST)
#define QK_TILE_STORE_ROW(r)                                                           \
  if constexpr (ROWS > r) {                                                             \
    Traits::store(&tile[r][0], c##r##0);                                                \
    if constexpr (NB > 1) Traits::store(&tile[r][Traits::kLanes], c##r##1);             \
    if constexpr (NB > 2) Traits::store(&tile[r][2 * Traits::kLanes], c##r##2);         \
    if constexpr (NB > 3) Traits::store(&tile[r][3 * Traits::kLanes], c##r##3);         \
  }

#if defined(QK_GEMM_TILE_S4)
#define QK_TILE_ROWS_FN gemm_s4_tile_rows
#define QK_TILE_ROWS_T_FN gemm_s4_rows_t
#elif defined(QK_GEMM_TILE_XOR_A)  // the VNNI family's xor form of s8 A (gemm_s8_x86.hpp): own names, as int4's
#define QK_TILE_ROWS_FN gemm_xor_a_tile_rows
#define QK_TILE_ROWS_T_FN gemm_xor_a_rows_t
#else
#define QK_TILE_ROWS_FN gemm_s8_tile_rows
#define QK_TILE_ROWS_T_FN gemm_s8_rows_t
#endif

// Not inlined into its dispatcher (QK_KERNEL_NOINLINE says why); a tile is all of K for up to 24
// accumulators, so the call costs nothing measurable.
// kPipe (int8 only, see QK_TILE_ROWS_T_FN): the tile finishes pend's rows, one per K step, and
// stores its accumulators to `keep` (ROWS x NB * kLanes int32, 64-byte aligned) unfinished.
template <std::size_t ROWS, std::size_t NB, bool Signed, bool kByGroup, bool kPipe = false>
QK_KERNEL_NOINLINE void QK_TILE_ROWS_FN(const GemmS8Args& args, const TileRequant& rq, std::size_t m0,
                                        std::size_t p0, [[maybe_unused]] const PendingTile* pend = nullptr,
                                        [[maybe_unused]] std::int32_t* keep = nullptr) noexcept {
  static_assert(ROWS >= 1 && ROWS <= 12 && NB >= 1 && NB <= 4, "register tile up to 12 rows x 4 panels");
  using Vec = typename Traits::Vec;
  constexpr std::size_t KG = Traits::kKGroup;
#if defined(QK_GEMM_TILE_S4)
  constexpr std::size_t kBStep = Traits::kLanes * KG;  // bytes per two K groups of nibbles
#else
  constexpr std::size_t kBStep = Traits::kLanes * KG * Traits::kElemBytes;  // bytes per K group
#endif
  QK_TILE_DECL_ROW(0) QK_TILE_DECL_ROW(1) QK_TILE_DECL_ROW(2) QK_TILE_DECL_ROW(3)
  QK_TILE_DECL_ROW(4) QK_TILE_DECL_ROW(5) QK_TILE_DECL_ROW(6) QK_TILE_DECL_ROW(7)
  QK_TILE_DECL_ROW(8) QK_TILE_DECL_ROW(9) QK_TILE_DECL_ROW(10) QK_TILE_DECL_ROW(11)
  // With the epilogue's single-shift form (TileRequant::fast) the accumulators start at the
  // column offsets, which saves the epilogue an add per vector (loads only, before the loop).
  if (rq.fast) {
    const std::int32_t* off = args.col_offset + p0 * Traits::kLanes;  // padded to whole panels
    [[maybe_unused]] const Vec o0 = Traits::load_offset(off);
    [[maybe_unused]] const Vec o1 = NB > 1 ? Traits::load_offset(off + Traits::kLanes) : o0;
    [[maybe_unused]] const Vec o2 = NB > 2 ? Traits::load_offset(off + 2 * Traits::kLanes) : o0;
    [[maybe_unused]] const Vec o3 = NB > 3 ? Traits::load_offset(off + 3 * Traits::kLanes) : o0;
    QK_TILE_INIT_ROW(0) QK_TILE_INIT_ROW(1) QK_TILE_INIT_ROW(2) QK_TILE_INIT_ROW(3)
    QK_TILE_INIT_ROW(4) QK_TILE_INIT_ROW(5) QK_TILE_INIT_ROW(6) QK_TILE_INIT_ROW(7)
    QK_TILE_INIT_ROW(8) QK_TILE_INIT_ROW(9) QK_TILE_INIT_ROW(10) QK_TILE_INIT_ROW(11)
  }
  // A is addressed as one advancing pointer plus a row stride and B as one pointer plus a panel
  // stride, so that rows and panels become addressing modes: eight row pointers and four panel
  // pointers would not fit in the general registers beside the loop state.
  const std::uint8_t* arow = args.a + m0 * args.lda;
  std::size_t lda = args.lda;
  const std::uint8_t* pb = args.packed_b + p0 * args.panel_bytes;
  const std::size_t pstride = args.panel_bytes;

#if defined(QK_GEMM_TILE_S4)
  // One K step of two groups: each panel's B block is loaded once per group and its nibbles
  // expanded (b_lo: group g, b_hi: group g + 1; an and, or a shift and an and, plus a subtract
  // for u8 A: Traits), then every row's broadcasts of its A groups at ag0 / ag1 + r * lda. The
  // block is read twice rather than kept: 24 accumulators, 4 B vectors and the broadcast leave
  // no register for it, and the second read is an L1 hit folded into the shift. The second
  // read's pointer goes through an empty asm so that the compiler cannot merge the two loads:
  // merged, GCC 12 kept the 4 loaded blocks live across the first group's 24 vpdpbusd and
  // spilled accumulators on every step (1024^3: 0.72x the int8 time).
#if defined(__GNUC__) || defined(__clang__)
#define QK_TILE_LAUNDER(p) __asm__("" : "+r"(p))
#else
#define QK_TILE_LAUNDER(p)
#endif
#define QK_TILE_K_STEP2(ag0, ag1)                                                                        \
  {                                                                                                      \
    Vec b0 = Traits::template b_lo<Signed>(pb);                                                          \
    [[maybe_unused]] Vec b1 = NB > 1 ? Traits::template b_lo<Signed>(pb + pstride) : b0;                 \
    [[maybe_unused]] Vec b2 = NB > 2 ? Traits::template b_lo<Signed>(pb + 2 * pstride) : b0;             \
    [[maybe_unused]] Vec b3 = NB > 3 ? Traits::template b_lo<Signed>(pb + 3 * pstride) : b0;             \
    QK_TILE_MADD_ALL(ag0, Traits::template bcast_a<Signed>)                                              \
    const std::uint8_t* pb_hi = pb;                                                                      \
    QK_TILE_LAUNDER(pb_hi);                                                                              \
    b0 = Traits::template b_hi<Signed>(pb_hi);                                                           \
    if constexpr (NB > 1) b1 = Traits::template b_hi<Signed>(pb_hi + pstride);                           \
    if constexpr (NB > 2) b2 = Traits::template b_hi<Signed>(pb_hi + 2 * pstride);                       \
    if constexpr (NB > 3) b3 = Traits::template b_hi<Signed>(pb_hi + 3 * pstride);                       \
    QK_TILE_MADD_ALL(ag1, Traits::template bcast_a<Signed>)                                              \
  }
  static_assert(!kByGroup, "int4 tiles read A's rows contiguously (GemmS8Layout::a_group_offsets = 0)");
  {
    // As the int8 loop below, two groups a step: the last partial pair (K mod 2 * KG bytes of
    // each row) runs through the same body on a zero-padded stack copy; B is zero padded (a
    // nibble of 0, which meets a zero activation whatever it expands to).
    alignas(16) std::uint8_t tail[ROWS][2 * KG] = {};
    const std::size_t full = args.k / (2 * KG), rest = args.k - full * 2 * KG;
    std::size_t g_end = full;
    for (std::size_t g = 0;;) {
      for (; g < g_end; ++g, pb += kBStep, arow += 2 * KG) QK_TILE_K_STEP2(arow, arow + KG)
      if (rest == 0 || g_end != full) break;
      for (std::size_t r = 0; r < ROWS; ++r)
        for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
      arow = &tail[0][0];
      lda = 2 * KG;
      ++g_end;
    }
  }
#undef QK_TILE_K_STEP2
#undef QK_TILE_LAUNDER
#else
  // One K step: K group g's B vectors, then every row's broadcast of its A group at ag + r * lda.
#define QK_TILE_K_STEP(ag)                                                                 \
  {                                                                                         \
    const Vec b0 = Traits::load_b(pb);                                                      \
    [[maybe_unused]] const Vec b1 = NB > 1 ? Traits::load_b(pb + pstride) : b0;             \
    [[maybe_unused]] const Vec b2 = NB > 2 ? Traits::load_b(pb + 2 * pstride) : b0;         \
    [[maybe_unused]] const Vec b3 = NB > 3 ? Traits::load_b(pb + 3 * pstride) : b0;         \
    QK_TILE_MADD_ALL(ag, Traits::template bcast_a<Signed>)                                  \
  }
  if constexpr (kByGroup) {
    // A by K group (GemmS8Args::a_group_offset): each group's address from its table; K is
    // whole groups. As runs of groups with the pointer moved between runs, each run's loop exit
    // cost a mispredicted branch (first_224, 4 runs of 2, 2, 2 and 1 groups: no faster than 9
    // groups in 3 runs). Its own instantiation: as a run-time test in the loop below it cost
    // the plain GEMM a general register, which GCC then kept in a vector register and moved
    // back on every K step (1024^3: 3150 -> 3830 us).
    const std::uint8_t* const a_m0 = arow;
    const std::size_t* const group_offset = args.a_group_offset;
    const std::size_t groups = args.k / KG;
    for (std::size_t g = 0; g < groups; ++g, pb += kBStep) {
      QK_TILE_K_STEP(a_m0 + group_offset[g])
      if constexpr (kPipe) {
        if (g < pend->rows) finish_pending_row<NB>(args, rq, *pend, g);
      }
    }
    if constexpr (kPipe)
      for (std::size_t r = groups; r < pend->rows; ++r) finish_pending_row<NB>(args, rq, *pend, r);
  } else {
    // The K loop runs twice at most: over the whole K groups reading A in place, then, if K is
    // not a multiple of KG, once more over a zero-padded stack copy of each row's last partial
    // group (the padding meets zero-padded B). One copy of the loop body, deliberately: a
    // separate tail block keeps every accumulator live across two loops and GCC then spills
    // them on each step.
    alignas(16) std::uint8_t tail[ROWS][KG] = {};
    const std::size_t full = args.k / KG, rest = args.k - full * KG;
    std::size_t g_end = full;
    for (std::size_t g = 0;;) {
      for (; g < g_end; ++g, pb += kBStep, arow += KG) {
        QK_TILE_K_STEP(arow)
        if constexpr (kPipe) {
          if (g < pend->rows) finish_pending_row<NB>(args, rq, *pend, g);
        }
      }
      if (rest == 0 || g_end != full) break;
      for (std::size_t r = 0; r < ROWS; ++r)
        for (std::size_t i = 0; i < rest; ++i) tail[r][i] = arow[r * lda + i];
      arow = &tail[0][0];
      lda = KG;
      ++g_end;
    }
    if constexpr (kPipe)
      for (std::size_t r = g_end; r < pend->rows; ++r) finish_pending_row<NB>(args, rq, *pend, r);
  }
#undef QK_TILE_K_STEP
#endif  // QK_GEMM_TILE_S4

#if !defined(QK_GEMM_TILE_S4)
  if constexpr (kPipe) {
    std::int32_t(*tile)[NB * Traits::kLanes] = reinterpret_cast<std::int32_t(*)[NB * Traits::kLanes]>(keep);
    QK_TILE_STORE_ROW(0) QK_TILE_STORE_ROW(1) QK_TILE_STORE_ROW(2) QK_TILE_STORE_ROW(3)
    QK_TILE_STORE_ROW(4) QK_TILE_STORE_ROW(5) QK_TILE_STORE_ROW(6) QK_TILE_STORE_ROW(7)
    QK_TILE_STORE_ROW(8) QK_TILE_STORE_ROW(9) QK_TILE_STORE_ROW(10) QK_TILE_STORE_ROW(11)
    return;
  }
#endif
  // Row sums for the row term: given, or computed here, after the K loop has brought the rows
  // into L1 (see GemmS8Args::row_sum_out). Before the loop they were the rows' first touch, a
  // burst of misses with no compute to hide it: 11% on 3136x64x576.
  std::int32_t sums[ROWS] = {};
  if (args.col_zero_point != nullptr) {
    if (args.row_sum != nullptr && args.row_sum_out == nullptr) {
      for (std::size_t r = 0; r < ROWS; ++r) sums[r] = args.row_sum[m0 + r];
    } else {
      gemm_s8_row_sums(args.a + m0 * args.lda, args.lda, Signed, ROWS, args.k, sums);
      if (args.row_sum_out != nullptr)
        for (std::size_t r = 0; r < ROWS; ++r) args.row_sum_out[m0 + r] = sums[r];
    }
  }
  const std::size_t n0 = p0 * Traits::kLanes;
  const std::size_t cols = args.n - n0 < NB * Traits::kLanes ? args.n - n0 : NB * Traits::kLanes;
  // Full tiles of up to 32 columns with the narrow epilogue finish from their registers, two
  // rows at a time (finish_pair_in_registers); the others store the tile for finish_tile. Not
  // the remainder tiles (an M tail: a few rows of a layer): the inlined epilogue is most of a
  // tile's code, and every program compiles every tile (docs/build.md).
#if defined(QK_GEMM_TILE_S4)
#define QK_TILE_REGISTER_EPILOGUE (NB <= 2 && ROWS == Traits::rows_for(NB) && !Signed)
#else
#define QK_TILE_REGISTER_EPILOGUE (NB <= 2 && ROWS == Traits::rows_for(NB))
#endif
  if constexpr (QK_TILE_REGISTER_EPILOGUE) {
#undef QK_TILE_REGISTER_EPILOGUE
    std::uint8_t* const out = args.c + m0 * args.ldc_bytes + n0;
#define QK_TILE_FINISH_PAIR(r, s, form)                                                                        \
  if constexpr (ROWS > r)                                                                                      \
    finish_pair_in_registers<NB, (ROWS > s), form>(args, rq, out + r * args.ldc_bytes, cols, c##r##0, c##r##1, \
                                                   c##s##0, c##s##1);
#define QK_TILE_FINISH_ALL(form)                                                         \
  QK_TILE_FINISH_PAIR(0, 1, form) QK_TILE_FINISH_PAIR(2, 3, form) QK_TILE_FINISH_PAIR(4, 5, form) \
  QK_TILE_FINISH_PAIR(6, 7, form) QK_TILE_FINISH_PAIR(8, 9, form) QK_TILE_FINISH_PAIR(10, 11, form)
    if (rq.narrow) {
      QK_TILE_FINISH_ALL(TileForm::narrow)
      return;
    }
    // The float form (ONNX's float_scale) without a row term: the same, with its 4-op vectors.
    // Not in int4 tiles (their float stage takes finish_tile's hoisted form): 7 KB less code per
    // program for a rare combination, int4 weights with a float output stage.
#if !defined(QK_GEMM_TILE_S4)
    if (rq.float_form && args.col_zero_point == nullptr) {
      QK_TILE_FINISH_ALL(TileForm::float_scale)
      return;
    }
#endif
#undef QK_TILE_FINISH_ALL
#undef QK_TILE_FINISH_PAIR
  }
  alignas(64) std::int32_t tile[ROWS][NB * Traits::kLanes];
  QK_TILE_STORE_ROW(0) QK_TILE_STORE_ROW(1) QK_TILE_STORE_ROW(2) QK_TILE_STORE_ROW(3)
  QK_TILE_STORE_ROW(4) QK_TILE_STORE_ROW(5) QK_TILE_STORE_ROW(6) QK_TILE_STORE_ROW(7)
  QK_TILE_STORE_ROW(8) QK_TILE_STORE_ROW(9) QK_TILE_STORE_ROW(10) QK_TILE_STORE_ROW(11)
  finish_tile(args, rq, m0, ROWS, n0, cols, &tile[0][0], NB * Traits::kLanes, sums);
}
#undef QK_TILE_DECL_ROW
#undef QK_TILE_INIT_ROW
#undef QK_TILE_MADD_ROW
#undef QK_TILE_MADD_ALL
#undef QK_TILE_STORE_ROW

// Rows [m_begin, m_end) of one panel group: full tiles of rows_for(NB) rows, then the remainder in
// tiles of 4, 2 and 1 rows so that a 1-row GEMV does one row of work, not a whole tile of rows.
// (No 8-row tile for a 12-row MR: two 4-row tiles do an M tail of 8 to 11 rows, one more pass
// over an L1-resident B, for 12 fewer tiles to compile per AVX-512 family.)
template <std::size_t NB, bool Signed, bool kByGroup>
QK_KERNEL_INLINE void QK_TILE_ROWS_T_FN(const GemmS8Args& args, const TileRequant& rq, std::size_t m_begin, std::size_t m_end,
                                     std::size_t p0) noexcept {
  constexpr std::size_t MR = Traits::rows_for(NB);
  std::size_t m = m_begin;
#if !defined(QK_GEMM_TILE_S4)
  // Full 3- and 4-panel tiles with the narrow epilogue, two or more: each tile leaves its
  // accumulators in one of two buffers and finishes the previous tile's rows inside its K loop
  // (PendingTile, epilogue_avx512.inl); the last tile's rows are finished here. mbv2_1x1_56
  // (3136x144x24, 8 x 48 tiles): 115 -> 103 us. Tiles of 1-2 panels keep their register
  // epilogue: pipelined through a buffer, first_224 (12 x 32, K = 27) was no faster.
  if constexpr (TileRequant::kPipelined && NB >= 3) {
    if (rq.narrow && m + 2 * MR <= m_end) {
      alignas(64) std::int32_t keep[2][MR * NB * Traits::kLanes];
      PendingTile pend;
      const std::size_t n0 = p0 * Traits::kLanes;
      const std::size_t cols = args.n - n0 < NB * Traits::kLanes ? args.n - n0 : NB * Traits::kLanes;
      pend.mask = cols >= 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << cols) - 1);
      for (std::size_t which = 0; m + MR <= m_end; m += MR, which ^= 1) {
        QK_TILE_ROWS_FN<MR, NB, Signed, kByGroup, true>(args, rq, m, p0, &pend, keep[which]);
        pend.acc = keep[which];
        pend.out = args.c + m * args.ldc_bytes + n0;
        pend.rows = MR;
      }
      for (std::size_t r = 0; r < pend.rows; ++r) finish_pending_row<NB>(args, rq, pend, r);
    }
  }
#endif
  for (; m + MR <= m_end; m += MR) QK_TILE_ROWS_FN<MR, NB, Signed, kByGroup>(args, rq, m, p0);
  for (; MR > 4 && m + 4 <= m_end; m += (MR > 4 ? 4 : 1)) QK_TILE_ROWS_FN<(MR > 4 ? 4 : 1), NB, Signed, kByGroup>(args, rq, m, p0);
#if !defined(QK_GEMM_TILE_S4)
  if (MR > 2 && m + 2 <= m_end) { QK_TILE_ROWS_FN<(MR > 2 ? 2 : 1), NB, Signed, kByGroup>(args, rq, m, p0); m += (MR > 2 ? 2 : 1); }
#endif
  for (; m < m_end; ++m) QK_TILE_ROWS_FN<1, NB, Signed, kByGroup>(args, rq, m, p0);
}

// A by K group (a convolution's first layer) is its own instantiation: as a run-time test in
// the one K loop it cost the plain GEMM's 6 x 64 tile a general register, which GCC then kept
// in a vector register and moved back on every K step (1024^3: 3150 -> 3830 us).
template <std::size_t NB, bool Signed>
QK_KERNEL_INLINE void gemm_s8_rows(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t p0) noexcept {
  // The epilogue's per-column constants, once for all the rows of this panel group.
  TileRequant rq;
  const std::size_t n0 = p0 * Traits::kLanes;
  prepare_tile_requant(args, n0, args.n - n0 < NB * Traits::kLanes ? args.n - n0 : NB * Traits::kLanes, &rq);
  // A by K group is u8 only (GemmS8Args::a_group_offset: the convolution's row copy flips s8
  // input), so it has no signed instantiation: 18 fewer tiles per AVX-512 family to compile.
#if !defined(QK_GEMM_TILE_S4)
  if constexpr (!Signed) {
    if (args.a_group_offset != nullptr) return QK_TILE_ROWS_T_FN<NB, false, true>(args, rq, m_begin, m_end, p0);
  }
#endif
  QK_TILE_ROWS_T_FN<NB, Signed, false>(args, rq, m_begin, m_end, p0);
}
#undef QK_TILE_ROWS_FN
#undef QK_TILE_ROWS_T_FN

template <bool Signed>
QK_KERNEL_INLINE void gemm_s8_group(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t p0,
                                    std::size_t np) noexcept {
  static_assert(Traits::kMaxPanels >= 1 && Traits::kMaxPanels <= 4, "tile widths 1 to 4 panels");
  switch (np) {
    case 1: gemm_s8_rows<1, Signed>(args, m_begin, m_end, p0); break;
    case 2: gemm_s8_rows<(Traits::kMaxPanels >= 2 ? 2 : 1), Signed>(args, m_begin, m_end, p0); break;
    case 3: gemm_s8_rows<(Traits::kMaxPanels >= 3 ? 3 : 1), Signed>(args, m_begin, m_end, p0); break;
    default: gemm_s8_rows<Traits::kMaxPanels, Signed>(args, m_begin, m_end, p0); break;
  }
}

// The GemmS8TileFn of this family.
inline void gemm_s8_run(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                        std::size_t panel_end) noexcept {
  const std::size_t np = panel_end - panel_begin;
  if (args.a_signed)
    gemm_s8_group<true>(args, m_begin, m_end, panel_begin, np);
  else
    gemm_s8_group<false>(args, m_begin, m_end, panel_begin, np);
}
