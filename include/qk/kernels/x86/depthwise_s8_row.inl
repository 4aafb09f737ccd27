// qk/kernels/x86/depthwise_s8_row.inl - the depthwise int8 loop, written once for every x86 family.
//
// Included (never on its own) inside an ISA's target region and namespace, after the GEMM kernel
// of that family (whose finish_row() is the epilogue) and after a `struct DwTraits` with:
//   Vec; kBlock (channels per step: 32 on zmm, 16 on ymm);
//   load<Signed>(p): kBlock bytes -> kBlock int16;  load_tail<Signed>(p, count): the same for
//   count < kBlock bytes, without reading past them;  load_w(p): one vector of packed pairs;
//   lo(a, b) / hi(a, b): vpunpcklwd / vpunpckhwd;  dot(acc, pairs, w): acc + pairwise products;
//   store_acc(int32* p, lo, hi): the two pair accumulators back in channel order.
// No standard headers may be included here.

template <bool Signed>
QK_KERNEL_INLINE void depthwise_s8_pixel(const DepthwiseS8Args& args, const std::uint8_t* const* taps) noexcept {
  using Vec = typename DwTraits::Vec;
  constexpr std::size_t B = DwTraits::kBlock;
  const std::size_t channels = args.channels, pairs = args.taps / 2;
  const auto* w = static_cast<const std::int32_t*>(args.packed_w);
  std::size_t c0 = 0;
  // Two accumulators (the low and high halves of the pair interleave) per block; consecutive
  // pixels are independent, so out-of-order execution overlaps their chains.
  for (; c0 + B <= channels; c0 += B, w += pairs * B) {
    Vec acc_lo = DwTraits::zero(), acc_hi = DwTraits::zero();
    for (std::size_t p = 0; p < pairs; ++p) {
      const Vec x0 = DwTraits::template load<Signed>(taps[2 * p] + c0);
      const Vec x1 = DwTraits::template load<Signed>(taps[2 * p + 1] + c0);
      acc_lo = DwTraits::dot(acc_lo, DwTraits::lo(x0, x1), DwTraits::load_w(w + p * B));
      acc_hi = DwTraits::dot(acc_hi, DwTraits::hi(x0, x1), DwTraits::load_w(w + p * B + B / 2));
    }
    DwTraits::store_acc(args.acc + c0, acc_lo, acc_hi);
  }
  if (c0 < channels) {  // channel tail: zero-padded weights, loads limited to the valid bytes
    const std::size_t rest = channels - c0;
    Vec acc_lo = DwTraits::zero(), acc_hi = DwTraits::zero();
    for (std::size_t p = 0; p < pairs; ++p) {
      const Vec x0 = DwTraits::template load_tail<Signed>(taps[2 * p] + c0, rest);
      const Vec x1 = DwTraits::template load_tail<Signed>(taps[2 * p + 1] + c0, rest);
      acc_lo = DwTraits::dot(acc_lo, DwTraits::lo(x0, x1), DwTraits::load_w(w + p * B));
      acc_hi = DwTraits::dot(acc_hi, DwTraits::hi(x0, x1), DwTraits::load_w(w + p * B + B / 2));
    }
    DwTraits::store_acc(args.acc + c0, acc_lo, acc_hi);
  }
}

// The DepthwiseS8RowFn of this family.
inline void depthwise_s8_run(const DepthwiseS8Args& args, const std::uint8_t* const* taps, std::size_t pixels,
                             std::uint8_t* out, std::size_t out_pixel_bytes) noexcept {
  GemmS8Args e = args.epilogue;
  e.ldc_bytes = 0;
  for (std::size_t px = 0; px < pixels; ++px, taps += args.taps) {
    if (args.a_signed)
      depthwise_s8_pixel<true>(args, taps);
    else
      depthwise_s8_pixel<false>(args, taps);
    e.c = out + px * out_pixel_bytes;
    finish_row(e, 0, 0, args.channels, args.acc, 0);  // no row term: col_zero_point is null
  }
}
