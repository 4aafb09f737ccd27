// qk/kernels/x86/gemm_f32_tile.inl - the fp32 GEMM tile, written once for AVX2 and AVX-512.
// Included inside a target region after a `struct F32Traits` (Vec, kLanes, kMaxPanels (2 to 4),
// kMaxRows, set1(v), load(p), bcast(p), fma(a, b, acc), store_out<clamp>(p, v, lo, hi, count)).
// Tiles: kMaxRows x up to 3 panels, or 6 rows x 4 panels (also 24 accumulators): a 64-column
// layer (resnet3x3_56's N) then runs 6 x 64 tiles, 10 loads per 24 FMAs, instead of two passes
// of 8 x 32 tiles at 10 loads per 16 FMAs.
// Same shape as the int8 tile (named accumulators, one loop body): see gemm_s8_tile.inl.
// Accumulators start at the bias: no add per output vector after the loop.
#define QK_F32_DECL_ROW(r) [[maybe_unused]] V c##r##0 = bias0, c##r##1 = bias1, c##r##2 = bias2, c##r##3 = bias3;
#define QK_F32_ROW(r)                                                    \
  if constexpr (ROWS > r) {                                              \
    if constexpr (kFold) {                                               \
      c##r##0 = T::fma_bcast(arow + r * lda, b0, c##r##0);               \
      if constexpr (NB > 1) c##r##1 = T::fma_bcast(arow + r * lda, b1, c##r##1); \
    } else {                                                             \
      const V av = T::bcast(arow + r * lda);                             \
      c##r##0 = T::fma(av, b0, c##r##0);                                 \
      if constexpr (NB > 1) c##r##1 = T::fma(av, b1, c##r##1);           \
      if constexpr (NB > 2) c##r##2 = T::fma(av, b2, c##r##2);           \
      if constexpr (NB > 3) c##r##3 = T::fma(av, b3, c##r##3);           \
    }                                                                    \
  }
#define QK_F32_STORE_ROW(r, CLAMP)                                                                   \
  if constexpr (ROWS > r) {                                                                          \
    float* crow = gemm_f32_c_row(args, m0 + r) + n0;                                                 \
    T::store_out<CLAMP>(crow, c##r##0, lo, hi, cols);                                                \
    if constexpr (NB > 1) if (cols > T::kLanes) T::store_out<CLAMP>(crow + T::kLanes, c##r##1, lo, hi, cols - T::kLanes); \
    if constexpr (NB > 2) if (cols > 2 * T::kLanes) T::store_out<CLAMP>(crow + 2 * T::kLanes, c##r##2, lo, hi, cols - 2 * T::kLanes); \
    if constexpr (NB > 3) if (cols > 3 * T::kLanes) T::store_out<CLAMP>(crow + 3 * T::kLanes, c##r##3, lo, hi, cols - 3 * T::kLanes); \
  }
#define QK_F32_STORE_ROWS(CLAMP)                                                             \
  QK_F32_STORE_ROW(0, CLAMP) QK_F32_STORE_ROW(1, CLAMP) QK_F32_STORE_ROW(2, CLAMP)           \
  QK_F32_STORE_ROW(3, CLAMP) QK_F32_STORE_ROW(4, CLAMP) QK_F32_STORE_ROW(5, CLAMP)           \
  QK_F32_STORE_ROW(6, CLAMP) QK_F32_STORE_ROW(7, CLAMP) QK_F32_STORE_ROW(8, CLAMP)           \
  QK_F32_STORE_ROW(9, CLAMP) QK_F32_STORE_ROW(10, CLAMP) QK_F32_STORE_ROW(11, CLAMP)

template <std::size_t ROWS, std::size_t NB>
QK_KERNEL_INLINE void gemm_f32_tile_rows(const GemmF32Args& args, std::size_t m0, std::size_t p0) noexcept {
  using T = F32Traits;
  using V = typename T::Vec;
  const std::size_t n0 = p0 * T::kLanes;
  const V bias0 = T::load(args.bias + n0);
  [[maybe_unused]] const V bias1 = NB > 1 ? T::load(args.bias + n0 + T::kLanes) : bias0;
  [[maybe_unused]] const V bias2 = NB > 2 ? T::load(args.bias + n0 + 2 * T::kLanes) : bias0;
  [[maybe_unused]] const V bias3 = NB > 3 ? T::load(args.bias + n0 + 3 * T::kLanes) : bias0;
  QK_F32_DECL_ROW(0) QK_F32_DECL_ROW(1) QK_F32_DECL_ROW(2) QK_F32_DECL_ROW(3)
  QK_F32_DECL_ROW(4) QK_F32_DECL_ROW(5) QK_F32_DECL_ROW(6) QK_F32_DECL_ROW(7)
  QK_F32_DECL_ROW(8) QK_F32_DECL_ROW(9) QK_F32_DECL_ROW(10) QK_F32_DECL_ROW(11)
  // Tiles of up to two panels (12 x 32: first_224) read A into each FMA as a broadcast operand
  // (AVX-512; on AVX2 T::fma_bcast compiles to the shared vbroadcastss as before),
  // two reads of one float where one vbroadcastss fed both FMAs: 24 instructions per K step
  // instead of 36. first_224 (K = 27, six interleaved pairs, min of 5): 233-236 -> 223-226 us.
  // The FMA rate is not why: a loop of 24 independent FMAs runs as fast with 12 vbroadcastss
  // beside them as with none (measured). Presumably the out-of-order window, which then holds
  // more of the next tile while one tile's 24 results are stored (not verified: no counters).
  // Not for 3 and 4 panels: 6 x 64 tiles read A four times then, and the fp32 GEMMs
  // (3136x64x576: 2062-2067 -> 2153-2169 us) were slower.
  constexpr bool kFold = NB <= 2;
  const float* const a_m0 = args.a + m0 * args.lda;
  const std::size_t lda = args.lda, ps = args.panel_stride;
  const std::size_t seg = args.a_segment != 0 ? args.a_segment : args.k;
  const std::size_t b_step = (args.b_segment_stride != 0 ? args.b_segment_stride : seg) * T::kLanes;
  const float* const pb0 = args.packed_b + p0 * ps;
  for (std::size_t s = 0, k0 = 0; k0 < args.k; ++s, k0 += seg) {
    const float* arow = a_m0 + s * args.a_segment_stride;  // (never stepped past the last segment)
    const float* pb = pb0 + s * b_step;
    for (std::size_t k = 0; k < seg; ++k, ++arow, pb += T::kLanes) {
      const V b0 = T::load(pb);
      [[maybe_unused]] const V b1 = NB > 1 ? T::load(pb + ps) : b0;
      [[maybe_unused]] const V b2 = NB > 2 ? T::load(pb + 2 * ps) : b0;
      [[maybe_unused]] const V b3 = NB > 3 ? T::load(pb + 3 * ps) : b0;
      QK_F32_ROW(0) QK_F32_ROW(1) QK_F32_ROW(2) QK_F32_ROW(3) QK_F32_ROW(4) QK_F32_ROW(5) QK_F32_ROW(6) QK_F32_ROW(7)
      QK_F32_ROW(8) QK_F32_ROW(9) QK_F32_ROW(10) QK_F32_ROW(11)
    }
  }
  const std::size_t cols = args.n - n0 < NB * T::kLanes ? args.n - n0 : NB * T::kLanes;
  const V lo = T::set1(args.lo), hi = T::set1(args.hi);
  // No clamp (+-infinity, the default) stores the sums as they are: the max and min were a
  // tenth of first_224's (K = 27) floating-point operations. (It also keeps a NaN a NaN, as the
  // portable kernel does; the x86 max turned it into lo.)
  if (args.lo == -std::numeric_limits<float>::infinity() && args.hi == std::numeric_limits<float>::infinity()) {
    QK_F32_STORE_ROWS(false)
  } else {
    QK_F32_STORE_ROWS(true)
  }
}
#undef QK_F32_DECL_ROW
#undef QK_F32_ROW
#undef QK_F32_STORE_ROW
#undef QK_F32_STORE_ROWS

template <std::size_t NB>
QK_KERNEL_INLINE void gemm_f32_rows(const GemmF32Args& args, std::size_t m_begin, std::size_t m_end, std::size_t p0) noexcept {
  constexpr std::size_t MR = NB > 3 ? 6 : NB == 2 ? F32Traits::kRowsTwoPanels : F32Traits::kMaxRows;
  std::size_t m = m_begin;
  for (; m + MR <= m_end; m += MR) gemm_f32_tile_rows<MR, NB>(args, m, p0);
  if (m + 4 <= m_end) { gemm_f32_tile_rows<4, NB>(args, m, p0); m += 4; }
  if (m + 2 <= m_end) { gemm_f32_tile_rows<2, NB>(args, m, p0); m += 2; }
  for (; m < m_end; ++m) gemm_f32_tile_rows<1, NB>(args, m, p0);
}

inline void gemm_f32_run(const GemmF32Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                         std::size_t panel_end) noexcept {
  switch (panel_end - panel_begin) {
    case 1: gemm_f32_rows<1>(args, m_begin, m_end, panel_begin); break;
    case 2: gemm_f32_rows<(F32Traits::kMaxPanels >= 2 ? 2 : 1)>(args, m_begin, m_end, panel_begin); break;
    case 3: gemm_f32_rows<(F32Traits::kMaxPanels >= 3 ? 3 : F32Traits::kMaxPanels)>(args, m_begin, m_end, panel_begin); break;
    default: gemm_f32_rows<F32Traits::kMaxPanels>(args, m_begin, m_end, panel_begin); break;
  }
}
