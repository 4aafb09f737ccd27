// qk/kernels/x86/pool_rows.inl - the max / average pooling rows and the channel-sum block
// (pool_x86.hpp) written once for AVX2 and AVX-512BW.
//
// Included (never on its own) inside an ISA's target region and namespace, after that region
// has defined:
//   struct Traits {
//     using V;  using H;                      // a block of kBytes bytes; a half block (kHalf bytes),
//     kBytes, kHalf                           //   which widens to one V of int16
//     load(p), store(p, v), loadh(p), storeh(p, h), lower(v), upper(v)   // upper: the high half
//     set1_8(x), set1_16(x), zero(), add16, add32, max8<S>, min8<S> (V), max8h<S>, min8h<S> (H)
//     widen<S>(h) (bytes -> int16), widen16_32<S>(h) (int16 -> int32; uint8 sums are unsigned 16-bit)
//     finish<S>(s, half, mult, sh, lo, hi)    // int16 sums -> a half block of clamped averages
//     max_tail<S>(...), average_tail<S>(...)  // the channels after the last half block: AVX-512
//                                             // with byte masks, AVX2 by the scalar definition
//   };
// After it the region defines channel_sums_t (its loop over blocks: AVX-512 masks every block,
// AVX2 leaves the tail to the scalar family) around channel_block, the mean and softmax kernels
// where it has them, and the kernel table. No standard headers here.

using V = Traits::V;
using H = Traits::H;

template <bool S>
__attribute__((noinline)) inline void max_row_t(const PoolRowParams& p) noexcept {
  const std::size_t C = p.channels, row = p.in_w * C;
  const V lo = Traits::set1_8(p.act_min), hi = Traits::set1_8(p.act_max);
  const std::size_t rows = p.y1 - p.y0;
  for (std::size_t ox = 0; ox < p.out_w; ++ox) {
    std::size_t x0 = 0, x1 = 0;
    pool_row_window(p, ox, &x0, &x1);
    const std::size_t cols = x1 - x0;
    const std::uint8_t* base = p.image + (p.y0 * p.in_w + x0) * C;
    std::uint8_t* o = p.out + ox * C;
    std::size_t c = 0;
    for (; c + Traits::kBytes <= C; c += Traits::kBytes) {
      const std::uint8_t* b = base + c;
      V m = Traits::load(b);
      for (std::size_t iy = 0; iy < rows; ++iy, b += row)
        for (std::size_t ix = 0; ix < cols; ++ix) m = Traits::template max8<S>(m, Traits::load(b + ix * C));
      Traits::store(o + c, Traits::template min8<S>(Traits::template max8<S>(m, lo), hi));
    }
    if (c + Traits::kHalf <= C) {  // a half block without masks (AVX-512: C = 32, 96, ...)
      const std::uint8_t* b = base + c;
      H m = Traits::loadh(b);
      for (std::size_t iy = 0; iy < rows; ++iy, b += row)
        for (std::size_t ix = 0; ix < cols; ++ix) m = Traits::template max8h<S>(m, Traits::loadh(b + ix * C));
      Traits::storeh(o + c, Traits::template min8h<S>(Traits::template max8h<S>(m, Traits::lower(lo)), Traits::lower(hi)));
      c += Traits::kHalf;
    }
    if (c < C) Traits::template max_tail<S>(p, ox, base, o, c, C, row, rows, cols, lo, hi);
  }
}

template <bool S>
__attribute__((noinline)) inline void average_row_t(const PoolRowParams& p) noexcept {
  const std::size_t C = p.channels, row = p.in_w * C;
  const V lo = Traits::set1_16(p.act_min), hi = Traits::set1_16(p.act_max);
  const std::size_t rows = p.y1 - p.y0;
  for (std::size_t ox = 0; ox < p.out_w; ++ox) {
    std::size_t x0 = 0, x1 = 0;
    pool_row_window(p, ox, &x0, &x1);
    const std::size_t cols = x1 - x0, n = rows * cols;
    if (n > kPoolMaxVectorTaps || !p.divisors->d[n].exact) {
      pool_scalar::pixel_any<false>(p, ox, 0, C);
      continue;
    }
    const PoolDivisor dv = p.divisors->d[n];
    const V half = Traits::set1_16(static_cast<std::int32_t>(n / 2)), mult = Traits::set1_16(dv.mult);
    const __m128i sh = _mm_cvtsi32_si128(dv.shift);
    const std::uint8_t* base = p.image + (p.y0 * p.in_w + x0) * C;
    std::uint8_t* o = p.out + ox * C;
    std::size_t c = 0;
    for (; c + Traits::kBytes <= C; c += Traits::kBytes) {
      const std::uint8_t* b = base + c;
      V s0 = Traits::zero(), s1 = Traits::zero();
      for (std::size_t iy = 0; iy < rows; ++iy, b += row)
        for (std::size_t ix = 0; ix < cols; ++ix) {
          s0 = Traits::add16(s0, Traits::template widen<S>(Traits::loadh(b + ix * C)));
          s1 = Traits::add16(s1, Traits::template widen<S>(Traits::loadh(b + ix * C + Traits::kHalf)));
        }
      Traits::storeh(o + c, Traits::template finish<S>(s0, half, mult, sh, lo, hi));
      Traits::storeh(o + c + Traits::kHalf, Traits::template finish<S>(s1, half, mult, sh, lo, hi));
    }
    if (c < C) Traits::template average_tail<S>(p, ox, base, o, c, C, row, rows, cols, half, mult, sh, lo, hi);
  }
}

// One block of channels at c: int16 sums over runs of at most 255 pixels, widened into the four
// int32 vectors a0..a3 (channels c + j * kBytes / 4 ..). load(q, &w0, &w1) reads the block and
// widens its halves to int16 (the region's: one masked load, or two loads widened from memory).
template <bool S, class Load>
QK_POOL_INLINE void channel_block(const std::uint8_t* x, std::size_t stride, std::size_t pixels, std::size_t c, const Load& load,
                                  V* a0, V* a1, V* a2, V* a3) noexcept {
  for (std::size_t i0 = 0; i0 < pixels; i0 += kPoolMaxVectorTaps) {
    const std::size_t i1 = pixels - i0 < kPoolMaxVectorTaps ? pixels : i0 + kPoolMaxVectorTaps;
    V s0 = Traits::zero(), s1 = s0;
    const std::uint8_t* q = x + i0 * stride + c;
    for (std::size_t i = i0; i < i1; ++i, q += stride) {
      V w0, w1;
      load(q, &w0, &w1);
      s0 = Traits::add16(s0, w0);
      s1 = Traits::add16(s1, w1);
    }
    *a0 = Traits::add32(*a0, Traits::template widen16_32<S>(Traits::lower(s0)));
    *a1 = Traits::add32(*a1, Traits::template widen16_32<S>(Traits::upper(s0)));
    *a2 = Traits::add32(*a2, Traits::template widen16_32<S>(Traits::lower(s1)));
    *a3 = Traits::add32(*a3, Traits::template widen16_32<S>(Traits::upper(s1)));
  }
}

template <bool S>  // the region's (defined after this file)
__attribute__((noinline)) void channel_sums_t(const std::uint8_t* x, std::size_t stride, std::size_t pixels, std::size_t channels, std::int32_t* acc) noexcept;

inline void max_row(const PoolRowParams& p) noexcept { p.is_signed ? max_row_t<true>(p) : max_row_t<false>(p); }
inline void average_row(const PoolRowParams& p) noexcept {
  p.is_signed ? average_row_t<true>(p) : average_row_t<false>(p);
}
inline void channel_sums(const std::uint8_t* x, std::size_t stride, std::size_t pixels, std::size_t channels, bool s,
                         std::int32_t* acc) noexcept {
  s ? channel_sums_t<true>(x, stride, pixels, channels, acc) : channel_sums_t<false>(x, stride, pixels, channels, acc);
}
