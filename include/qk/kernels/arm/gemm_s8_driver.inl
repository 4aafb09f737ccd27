// qk/kernels/arm/gemm_s8_driver.inl - rows and panel groups of one AArch64 family, written once.
//
// Included inside a family's namespace (and target region) after its Traits and
// gemm_s8_tile_rows<ROWS, NB, Signed>; defines the family's GemmS8TileFn, gemm_s8_run().

// Rows [m_begin, m_end) of panels [p0, p0 + NB): tiles of kMaxRows rows, then 2, then 1.
template <std::size_t NB, bool Signed>
QK_ARM_INLINE void gemm_s8_rows(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t p0) noexcept {
  static_assert(Traits::kMaxRows == 4, "row split below assumes 4-row tiles");
  std::size_t m = m_begin;
  for (; m + 4 <= m_end; m += 4) gemm_s8_tile_rows<4, NB, Signed>(args, m, p0);
  if (m + 2 <= m_end) {
    gemm_s8_tile_rows<2, NB, Signed>(args, m, p0);
    m += 2;
  }
  if (m < m_end) gemm_s8_tile_rows<1, NB, Signed>(args, m, p0);
}

// The GemmS8TileFn of this family: panel_end - panel_begin is 1 or 2 (kMaxPanels).
inline void gemm_s8_run(const GemmS8Args& args, std::size_t m_begin, std::size_t m_end, std::size_t panel_begin,
                        std::size_t panel_end) noexcept {
  static_assert(Traits::kMaxPanels == 2, "tile widths of 1 or 2 panels");
  for (std::size_t p = panel_begin; p < panel_end; p += 2) {
    const bool two = panel_end - p >= 2;
    if (args.a_signed) {
      if (two) gemm_s8_rows<2, true>(args, m_begin, m_end, p);
      else gemm_s8_rows<1, true>(args, m_begin, m_end, p);
    } else {
      if (two) gemm_s8_rows<2, false>(args, m_begin, m_end, p);
      else gemm_s8_rows<1, false>(args, m_begin, m_end, p);
    }
  }
}
