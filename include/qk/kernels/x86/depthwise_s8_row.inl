// qk/kernels/x86/depthwise_s8_row.inl - the depthwise int8 row kernel, written once for every x86 family.
//
// Included (never on its own) inside an ISA's target region and namespace, after the GEMM kernel
// of that family (whose finish_row() is the general epilogue) and after a `struct DwTraits` with:
//   Vec; kBlock (channels per step: 32 on zmm, 16 on ymm);
//   load<Signed>(p): kBlock bytes -> kBlock int16;  load_tail<Signed>(p, count): the same for
//   count <= kBlock bytes, without reading past them;  kMaskedTail: load_tail is a masked load,
//   as fast as load (AVX-512), so full blocks use it too;  kUnroll3x3: 3x3 windows get their
//   own unrolled instantiation;  load_w(p): one vector of packed pairs;
//   lo(a, b) / hi(a, b): vpunpcklwd / vpunpckhwd;  dot(acc, pairs, w): acc + pairwise products;
//   store_acc(int32* p, lo, hi): the two pair accumulators back in channel order;
//   Requant: supported(stage), Requant(stage, c0, count) and store(p, lo, hi, count): the
//   output stage for one block of channels with its constants held in registers (AVX-512:
//   8-bit TFLite, either rounding, and ONNX float; supported() false elsewhere, and
//   finish_row() is used).
// No standard headers may be included here.
//
// Loop order: channel blocks outer, the row's pixels inner. A block's weights (as memory
// operands, L1 resident), its bias and its requantization constants stay put for the whole row;
// interior pixels address their taps as tap_base[t] + offset, one offset add per pixel.

template <bool Signed, bool Tail>
QK_KERNEL_INLINE void dw_tap_pair(const std::uint8_t* const* p, std::size_t off, const std::int32_t* w, std::size_t t,
                                  std::size_t rest, typename DwTraits::Vec& acc_lo, typename DwTraits::Vec& acc_hi) noexcept {
  using Vec = typename DwTraits::Vec;
  constexpr std::size_t B = DwTraits::kBlock;
  const Vec x0 = Tail ? DwTraits::template load_tail<Signed>(p[t] + off, rest) : DwTraits::template load<Signed>(p[t] + off);
  const Vec x1 =
      Tail ? DwTraits::template load_tail<Signed>(p[t + 1] + off, rest) : DwTraits::template load<Signed>(p[t + 1] + off);
  acc_lo = DwTraits::dot(acc_lo, DwTraits::lo(x0, x1), DwTraits::load_w(w + (t / 2) * B));
  acc_hi = DwTraits::dot(acc_hi, DwTraits::hi(x0, x1), DwTraits::load_w(w + (t / 2) * B + B / 2));
}

// The accumulators of one pixel for one block: taps pointers p[t] + off.
template <bool Signed, bool Tail, std::size_t T>
QK_KERNEL_INLINE void dw_pixel(const std::uint8_t* const* p, std::size_t off, const std::int32_t* w, std::size_t taps,
                               std::size_t rest, typename DwTraits::Vec& acc_lo, typename DwTraits::Vec& acc_hi) noexcept {
  using Vec = typename DwTraits::Vec;
  constexpr std::size_t B = DwTraits::kBlock;
  const std::size_t n = T != 0 ? T : taps;
  std::size_t t = 0;
  if constexpr (T != 0) {  // compile-time taps: fully unrolled (Clang rejects unroll(full) otherwise)
    QK_UNROLL
    for (; t + 1 < T; t += 2) dw_tap_pair<Signed, Tail>(p, off, w, t, rest, acc_lo, acc_hi);
  } else {
    for (; t + 1 < n; t += 2) dw_tap_pair<Signed, Tail>(p, off, w, t, rest, acc_lo, acc_hi);
  }
  if (n & 1) {  // odd tap count: the last tap pairs with zeros (its partner's weights are zero)
    const Vec x0 = Tail ? DwTraits::template load_tail<Signed>(p[t] + off, rest) : DwTraits::template load<Signed>(p[t] + off);
    const Vec z = DwTraits::zero();
    acc_lo = DwTraits::dot(acc_lo, DwTraits::lo(x0, z), DwTraits::load_w(w + (t / 2) * B));
    acc_hi = DwTraits::dot(acc_hi, DwTraits::hi(x0, z), DwTraits::load_w(w + (t / 2) * B + B / 2));
  }
}

// N pixels at offsets off + i * step, each tap pair applied to all N before the next (see
// Requant::store_n: independent chains side by side in program order).
template <bool Signed, std::size_t N, std::size_t T>
QK_KERNEL_INLINE void dw_pixels(const std::uint8_t* const* p, std::size_t off, std::size_t step, const std::int32_t* w,
                                typename DwTraits::Vec* acc_lo, typename DwTraits::Vec* acc_hi) noexcept {
  using Vec = typename DwTraits::Vec;
  constexpr std::size_t B = DwTraits::kBlock;
  QK_UNROLL
  for (std::size_t t = 0; t + 1 < T; t += 2) {
    const Vec w_lo = DwTraits::load_w(w + (t / 2) * B), w_hi = DwTraits::load_w(w + (t / 2) * B + B / 2);
    QK_UNROLL
    for (std::size_t i = 0; i < N; ++i) {
      const Vec x0 = DwTraits::template load<Signed>(p[t] + off + i * step);
      const Vec x1 = DwTraits::template load<Signed>(p[t + 1] + off + i * step);
      acc_lo[i] = DwTraits::dot(acc_lo[i], DwTraits::lo(x0, x1), w_lo);
      acc_hi[i] = DwTraits::dot(acc_hi[i], DwTraits::hi(x0, x1), w_hi);
    }
  }
  if constexpr (T % 2 != 0) {
    const Vec w_lo = DwTraits::load_w(w + (T / 2) * B), w_hi = DwTraits::load_w(w + (T / 2) * B + B / 2);
    const Vec z = DwTraits::zero();
    QK_UNROLL
    for (std::size_t i = 0; i < N; ++i) {
      const Vec x0 = DwTraits::template load<Signed>(p[T - 1] + off + i * step);
      acc_lo[i] = DwTraits::dot(acc_lo[i], DwTraits::lo(x0, z), w_lo);
      acc_hi[i] = DwTraits::dot(acc_hi[i], DwTraits::hi(x0, z), w_hi);
    }
  }
}

// Output pixel ox of one block: the hoisted requantization, or the family's finish_row().
template <bool Fast>
QK_KERNEL_INLINE void dw_finish(const DepthwiseS8Args& a, GemmS8Args& e, const typename DwTraits::Requant& rq,
                                std::uint8_t* out, std::size_t c0, std::size_t count, typename DwTraits::Vec acc_lo,
                                typename DwTraits::Vec acc_hi) noexcept {
  if constexpr (Fast) {
    rq.store(out + c0, acc_lo, acc_hi, count);
  } else {
    DwTraits::store_acc(a.acc, acc_lo, acc_hi);
    e.c = out;
    finish_row(e, 0, c0, count, a.acc, 0);  // no row term: col_zero_point is null
  }
}

// One block of channels [c0, c0 + count) over the whole row. Not inlined (QK_KERNEL_NOINLINE):
// one call per block of channels of a whole output row.
template <bool Signed, bool Tail, bool Fast, std::size_t T>
QK_KERNEL_NOINLINE void dw_block(const DepthwiseS8Args& a, const std::uint8_t* const* rows, std::uint8_t* out,
                               std::size_t c0, std::size_t count, const std::int32_t* w, const std::int32_t* bias) noexcept {
  using Vec = typename DwTraits::Vec;
  constexpr std::size_t B = DwTraits::kBlock;
  const std::size_t taps = T != 0 ? T : a.taps, opx = a.out_pixel_bytes;
  GemmS8Args e = a.epilogue;
  e.ldc_bytes = 0;
  typename DwTraits::Requant rq(a.epilogue.out, c0, count, Fast);
  // The fast epilogue starts the accumulators at col_offset; finish_row() adds it itself.
  const Vec init_lo = Fast ? DwTraits::load_w(bias) : DwTraits::zero();
  const Vec init_hi = Fast ? DwTraits::load_w(bias + B / 2) : DwTraits::zero();
  const std::size_t rest = count;
  // Border pixels: taps one by one, padding taps on the zero-point row.
  for (std::size_t ox = 0; ox < a.out_w; ++ox) {
    if (ox == a.ox_begin && a.ox_begin < a.ox_end) {
      // Interior: T tap pointers for ox_begin, then one offset step per pixel. With a
      // compile-time T the pointers live in a local array the stores cannot alias.
      constexpr std::size_t kLocal = T != 0 ? T : 1;
      const std::uint8_t* local[kLocal];
      const std::uint8_t** p = T != 0 ? local : a.tap_ptrs;
      // Interior: ix = ox * stride - pad_left + kx * dilation is inside the row, no checks.
      const std::size_t ix0 = a.ox_begin * a.stride_w - a.pad_left;
      for (std::size_t t = 0, ky = 0; t < taps; ++ky)
        for (std::size_t kx = 0; kx < a.kernel_w; ++kx, ++t) p[t] = rows[ky] + (ix0 + kx * a.dilation_w) * a.channels;
      const std::size_t step = a.stride_w * a.channels;
      std::size_t off = c0;
      // Full blocks, hoisted epilogue, compile-time taps: four pixels interleaved.
      if constexpr (Fast && (!Tail || DwTraits::kMaskedTail) && T != 0) {
        constexpr std::size_t kN = 4;
        for (; count == B && ox + kN <= a.ox_end; ox += kN, off += kN * step) {
          Vec lo[kN], hi[kN];
          for (std::size_t i = 0; i < kN; ++i) lo[i] = init_lo, hi[i] = init_hi;
          dw_pixels<Signed, kN, T>(p, off, step, w, lo, hi);
          rq.template store_n<kN>(out + ox * opx + c0, opx, lo, hi);
        }
      }
      for (; ox < a.ox_end; ++ox, off += step) {
        Vec acc_lo = init_lo, acc_hi = init_hi;
        dw_pixel<Signed, Tail, T>(p, off, w, taps, rest, acc_lo, acc_hi);
        dw_finish<Fast>(a, e, rq, out + ox * opx, c0, count, acc_lo, acc_hi);
      }
      if (ox == a.out_w) break;
    }
    const std::uint8_t** p = a.border_ptrs;
    for (std::size_t t = 0; t < taps; ++t) p[t] = depthwise_tap(a, rows, ox, t);
    Vec acc_lo = init_lo, acc_hi = init_hi;
    dw_pixel<Signed, Tail, T>(p, c0, w, taps, rest, acc_lo, acc_hi);
    dw_finish<Fast>(a, e, rq, out + ox * opx, c0, count, acc_lo, acc_hi);
  }
}

template <bool Signed, bool Fast, std::size_t T>
QK_KERNEL_INLINE void dw_row(const DepthwiseS8Args& a, const std::uint8_t* const* rows, std::uint8_t* out) noexcept {
  constexpr std::size_t B = DwTraits::kBlock;
  const std::size_t pairs = (a.taps + 1) / 2;
  const auto* w = static_cast<const std::int32_t*>(a.packed_w);
  const std::int32_t* bias = a.packed_bias;
  std::size_t c0 = 0;
  // With masked loads (kMaskedTail) the tail instantiation serves full blocks too, at the same
  // speed: one instantiation of dw_block instead of two for every program to compile.
  constexpr bool kFullTail = DwTraits::kMaskedTail;
  for (; c0 + B <= a.channels; c0 += B, w += pairs * B, bias += B) dw_block<Signed, kFullTail, Fast, T>(a, rows, out, c0, B, w, bias);
  if (c0 < a.channels) dw_block<Signed, true, Fast, T>(a, rows, out, c0, a.channels - c0, w, bias);
}

// The DepthwiseS8RowFn of this family: 3x3 windows get a fully unrolled tap loop, where the
// family runs them (kUnroll3x3: not avx512vnni, whose column kernel takes every 3x3 layer with
// int8 weights, leaving this kernel the rare wide weights and the taller windows).
template <bool Signed, bool Fast>
QK_KERNEL_INLINE void dw_row_taps(const DepthwiseS8Args& a, const std::uint8_t* const* rows, std::uint8_t* out) noexcept {
  if constexpr (DwTraits::kUnroll3x3) {
    if (a.taps == 9) return dw_row<Signed, Fast, 9>(a, rows, out);
  }
  dw_row<Signed, Fast, 0>(a, rows, out);
}

inline void depthwise_s8_run(const DepthwiseS8Args& a, const std::uint8_t* const* rows, std::uint8_t* out) noexcept {
  const bool fast = DwTraits::Requant::supported(a.epilogue.out);
  if (a.a_signed) {
    if (fast)
      dw_row_taps<true, true>(a, rows, out);
    else
      dw_row_taps<true, false>(a, rows, out);
  } else {
    if (fast)
      dw_row_taps<false, true>(a, rows, out);
    else
      dw_row_taps<false, false>(a, rows, out);
  }
}
