// qk/kernels/x86/gemm_q4_tile.inl - the blockwise 4-bit tiles, written once for every x86 family.
//
// Included inside an ISA's target region and namespace after its Traits (see gemm_q4_x86.hpp).
// A tile is R rows x one pair of panels (2 P columns) over all of K. Per (row, panel) it keeps an
// fp32 accumulator across blocks and an int32 (a) or fp32 (b) block accumulator, as named
// variables (an array of vectors gets spilled by GCC: docs/design.md). Lanes are columns, so
// each lane runs the contract's scalar definition step for step.
// No standard headers may be included here.

using Vi = Traits::Vi;
using Vf = Traits::Vf;

#define QK_Q4_DECL(r)                                                                   \
  [[maybe_unused]] Vf f##r##0 = Traits::fzero(), f##r##1 = Traits::fzero();             \
  [[maybe_unused]] Vi i##r##0 = Traits::izero(), i##r##1 = Traits::izero();              \
  [[maybe_unused]] Vf s##r##0 = Traits::fzero(), s##r##1 = Traits::fzero();
#define QK_Q4_ALL(X) X(0) X(1) X(2) X(3)

// (a): int8 A (4 consecutive k broadcast) x nibbles.
#define QK_Q4_IZERO(r) \
  if constexpr (R > r) { i##r##0 = Traits::izero(); i##r##1 = Traits::izero(); }
#define QK_Q4_DOT(r)                                                  \
  if constexpr (R > r) {                                              \
    const Vi alo = Traits::bcast4(q + r * qs), ahi = Traits::bcast4(q + r * qs + 4); \
    i##r##0 = Traits::dot(Traits::dot(i##r##0, l0, alo), h0, ahi);     \
    i##r##1 = Traits::dot(Traits::dot(i##r##1, l1, alo), h1, ahi);     \
  }
// isum = sum q u - zp sum q (exact); acc = fma(float(isum), a_scale * w_scale, acc).
#define QK_Q4_BLOCK_END(r)                                                                        \
  if constexpr (R > r) {                                                                          \
    const std::size_t at = (m0 + r) * nb + b;                                                     \
    const Vi sum = Traits::iset1(args.a_sum[at]);                                                 \
    const Vf as = Traits::fset1(args.a_scale[at]);                                                \
    f##r##0 = Traits::fmadd(Traits::cvt(Traits::isub(i##r##0, Traits::imul(z0, sum))), Traits::fmul(as, ws0), f##r##0); \
    f##r##1 = Traits::fmadd(Traits::cvt(Traits::isub(i##r##1, Traits::imul(z1, sum))), Traits::fmul(as, ws1), f##r##1); \
  }
#define QK_Q4_STORE(r) \
  if constexpr (R > r) store_row(args, m0 + r, n0, f##r##0, f##r##1);

// Bias, clamp (NaN kept: x is max/min's second operand), store 2 P columns of one row.
QK_KERNEL_INLINE void store_row(const GemmQ4Args& args, std::size_t m, std::size_t n0, Vf v0, Vf v1) noexcept {
  constexpr std::size_t P = Traits::kLanes;
  if (args.bias != nullptr) {
    v0 = Traits::fadd(v0, Traits::floadu(args.bias + n0));
    v1 = Traits::fadd(v1, Traits::floadu(args.bias + n0 + P));
  }
  const Vf lo = Traits::fset1(args.lo), hi = Traits::fset1(args.hi);
  v0 = Traits::fmin(hi, Traits::fmax(lo, v0));
  v1 = Traits::fmin(hi, Traits::fmax(lo, v1));
  float* c = args.c + m * args.ldc + n0;
  if (n0 + 2 * P <= args.n) {
    Traits::fstoreu(c, v0);
    Traits::fstoreu(c + P, v1);
  } else {
    alignas(64) float t[2 * P];
    Traits::fstoreu(t, v0);
    Traits::fstoreu(t + P, v1);
    for (std::size_t j = 0; n0 + j < args.n; ++j) c[j] = t[j];
  }
}

template <std::size_t R>
QK_KERNEL_NOINLINE void q4_dynamic_rows(const GemmQ4Args& args, std::size_t m0, std::size_t pair) noexcept {
  constexpr std::size_t P = Traits::kLanes, kChunk = 4 * P;
  const std::uint8_t* p0 = args.packed + 2 * pair * args.panel_bytes;
  const std::uint8_t* p1 = p0 + args.panel_bytes;
  const std::uint8_t* w0 = p0;
  const std::uint8_t* w1 = p1;
  const std::int8_t* q = args.qa + m0 * args.qa_stride;
  const std::size_t qs = args.qa_stride, nb = args.n_blocks, chunks = args.block / 8;
  const std::size_t n0 = 2 * pair * P;
  QK_Q4_ALL(QK_Q4_DECL)
  for (std::size_t b = 0; b < nb; ++b) {
    QK_Q4_ALL(QK_Q4_IZERO)
    for (std::size_t c = 0; c < chunks; ++c) {
      const Vi v0 = Traits::iload(w0), v1 = Traits::iload(w1);
      const Vi l0 = Traits::lo_nibbles(v0), h0 = Traits::hi_nibbles(v0);
      const Vi l1 = Traits::lo_nibbles(v1), h1 = Traits::hi_nibbles(v1);
      QK_Q4_ALL(QK_Q4_DOT)
      w0 += kChunk;
      w1 += kChunk;
      q += 8;
    }
    const Vf ws0 = Traits::load_scales(p0 + args.scales_at, b * P, args.scale_f16);
    const Vf ws1 = Traits::load_scales(p1 + args.scales_at, b * P, args.scale_f16);
    const Vi z0 = args.zp_uniform ? Traits::iset1(args.zp) : Traits::load_zp(p0 + args.zps_at + b * P);
    const Vi z1 = args.zp_uniform ? Traits::iset1(args.zp) : Traits::load_zp(p1 + args.zps_at + b * P);
    QK_Q4_ALL(QK_Q4_BLOCK_END)
  }
  QK_Q4_ALL(QK_Q4_STORE)
}

// (b): fp32 A broadcast per k x weights expanded to fp32 (u - zp) in registers.
#define QK_Q4_SZERO(r) \
  if constexpr (R > r) { s##r##0 = Traits::fzero(); s##r##1 = Traits::fzero(); }
#define QK_Q4_FMA(r)                                     \
  if constexpr (R > r) {                                 \
    const Vf av = Traits::fset1(a[r * lda + k + i]);     \
    s##r##0 = Traits::fmadd(av, e0, s##r##0);            \
    s##r##1 = Traits::fmadd(av, e1, s##r##1);            \
  }
#define QK_Q4_FBLOCK_END(r)                          \
  if constexpr (R > r) {                             \
    f##r##0 = Traits::fmadd(s##r##0, ws0, f##r##0);  \
    f##r##1 = Traits::fmadd(s##r##1, ws1, f##r##1);  \
  }

template <std::size_t R>
QK_KERNEL_NOINLINE void q4_f32_rows(const GemmQ4Args& args, std::size_t m0, std::size_t pair) noexcept {
  constexpr std::size_t P = Traits::kLanes, kChunk = 4 * P;
  const std::uint8_t* p0 = args.packed + 2 * pair * args.panel_bytes;
  const std::uint8_t* p1 = p0 + args.panel_bytes;
  const float* a = args.a + m0 * args.lda;
  const std::size_t lda = args.lda, K = args.k;
  const std::size_t n0 = 2 * pair * P;
  QK_Q4_ALL(QK_Q4_DECL)
  for (std::size_t b = 0; b < args.n_blocks; ++b) {
    QK_Q4_ALL(QK_Q4_SZERO)
    const Vf z0 = args.zp_uniform ? Traits::fset1(static_cast<float>(args.zp)) : Traits::cvt(Traits::load_zp(p0 + args.zps_at + b * P));
    const Vf z1 = args.zp_uniform ? Traits::fset1(static_cast<float>(args.zp)) : Traits::cvt(Traits::load_zp(p1 + args.zps_at + b * P));
    const std::size_t k_end = (b + 1) * args.block < K ? (b + 1) * args.block : K;
    for (std::size_t k = b * args.block; k < k_end; k += 8) {
      const Vi v0 = Traits::iload(p0 + k / 8 * kChunk), v1 = Traits::iload(p1 + k / 8 * kChunk);
      if (k + 8 <= k_end) {
        QK_UNROLL
        for (unsigned i = 0; i < 8; ++i) {
          // k + i sits in byte (i & 3) of each column's 32-bit lane, high nibble from i = 4.
          const int shift = static_cast<int>((i & 3) * 8 + (i >> 2) * 4);
          const Vf e0 = Traits::expand(v0, shift, z0), e1 = Traits::expand(v1, shift, z1);
          QK_Q4_ALL(QK_Q4_FMA)
        }
      } else {
        for (unsigned i = 0; i < k_end - k; ++i) {
          const int shift = static_cast<int>((i & 3) * 8 + (i >> 2) * 4);
          const Vf e0 = Traits::expand(v0, shift, z0), e1 = Traits::expand(v1, shift, z1);
          QK_Q4_ALL(QK_Q4_FMA)
        }
      }
    }
    const Vf ws0 = Traits::load_scales(p0 + args.scales_at, b * P, args.scale_f16);
    const Vf ws1 = Traits::load_scales(p1 + args.scales_at, b * P, args.scale_f16);
    QK_Q4_ALL(QK_Q4_FBLOCK_END)
  }
  QK_Q4_ALL(QK_Q4_STORE)
}

// Pairs outer, rows inner: a pair's weights (K * P bytes) stay in L1 while the rows' A streams.
template <bool Dynamic>
inline void q4_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                   std::size_t pair_end) noexcept {
  constexpr std::size_t R = Traits::kRows;
  for (std::size_t pair = pair_begin; pair < pair_end; ++pair) {
    std::size_t m = m_begin;
    for (; m + R <= m_end; m += R) Dynamic ? q4_dynamic_rows<R>(args, m, pair) : q4_f32_rows<R>(args, m, pair);
    // Row tails one row at a time: one more instantiation, not R - 1.
    for (; m < m_end; ++m) Dynamic ? q4_dynamic_rows<1>(args, m, pair) : q4_f32_rows<1>(args, m, pair);
  }
}
inline void gemm_q4_dynamic_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                                std::size_t pair_end) noexcept {
  q4_run<true>(args, m_begin, m_end, pair_begin, pair_end);
}
inline void gemm_q4_f32_run(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                            std::size_t pair_end) noexcept {
  q4_run<false>(args, m_begin, m_end, pair_begin, pair_end);
}

#undef QK_Q4_DECL
#undef QK_Q4_ALL
#undef QK_Q4_IZERO
#undef QK_Q4_DOT
#undef QK_Q4_BLOCK_END
#undef QK_Q4_STORE
#undef QK_Q4_SZERO
#undef QK_Q4_FMA
#undef QK_Q4_FBLOCK_END
