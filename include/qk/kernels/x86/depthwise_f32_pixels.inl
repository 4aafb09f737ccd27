// qk/kernels/x86/depthwise_f32_pixels.inl - the fp32 depthwise kernel, written once for AVX2 and
// AVX-512. Included inside a target region after a `struct DwF32Traits` (Vec, kLanes, set1(v),
// load(p), load_part(p, count), fma(a, b, acc), store_clamped(p, v, lo, hi, count)).
//
// Per output pixel, the channels in blocks of up to four vectors, each block's accumulators in
// registers over all its taps: one load of the input and one of the weights per FMA, and the
// output written once. (The portable loop adds every tap into the output in memory, a load and a
// store more per FMA, which held it to ~10 GOPS.) The taps inside the image are found once per
// row (ky) and once per pixel (kx; none to find in the interior), not tested per tap and block.

// The accumulators of a block start at the bias of channels [c, c + NV vectors).
template <std::size_t NV, bool TAIL, std::size_t P>
QK_KERNEL_INLINE void dw_f32_acc_from_bias(const DepthwiseF32Args& a, std::size_t c, std::size_t last,
                                           typename DwF32Traits::Vec (&acc)[P][NV]) noexcept {
  using T = DwF32Traits;
  constexpr std::size_t L = T::kLanes;
  QK_UNROLL for (std::size_t v = 0; v < NV; ++v) {
    const typename T::Vec b = TAIL && v == NV - 1 ? T::load_part(a.bias + c + v * L, last) : T::load(a.bias + c + v * L);
    QK_UNROLL for (std::size_t p = 0; p < P; ++p) acc[p][v] = b;
  }
}

// A block's P pixels x NV vectors, clamped to [lo, hi], into the output (pixels C floats apart).
template <std::size_t NV, bool TAIL, std::size_t P>
QK_KERNEL_INLINE void dw_f32_store(const DepthwiseF32Args& a, const typename DwF32Traits::Vec (&acc)[P][NV],
                                   std::size_t c, std::size_t last, float* out) noexcept {
  using T = DwF32Traits;
  constexpr std::size_t L = T::kLanes;
  const std::size_t C = a.channels;
  const typename T::Vec lo = T::set1(a.lo), hi = T::set1(a.hi);
  QK_UNROLL for (std::size_t p = 0; p < P; ++p)
    QK_UNROLL for (std::size_t v = 0; v < NV; ++v)
      T::store_clamped(out + p * C + c + v * L, acc[p][v], lo, hi, TAIL && v == NV - 1 ? last : L);
}

// P pixels (stride_w apart) x NV vectors of channels from c, the last vector holding `last`
// channels when TAIL. The P x NV accumulators stay in registers over all taps; each tap loads its
// NV weight vectors once for the P pixels, so a 32-channel layer (NV = 2) does 2 + 2P loads per 2P
// FMAs instead of 4 per 2, and the loop overhead is shared P ways: one pixel at a time it ran
// ~280 instructions per pixel. The v and p loops are unrolled so that acc[][] lives in registers
// (rolled, GCC kept it on the stack: a load and a store around every FMA).
template <std::size_t NV, bool TAIL, std::size_t P>
QK_KERNEL_INLINE void dw_f32_block(const DepthwiseF32Args& a, const float* x0, const float* w0, std::size_t taps_h,
                                   std::size_t taps_w, std::size_t c, std::size_t last, float* out) noexcept {
  using T = DwF32Traits;
  using V = typename T::Vec;
  constexpr std::size_t L = T::kLanes;
  const std::size_t C = a.channels, x_step = a.dilation_w * C, x_row = a.dilation_h * a.in_w * C, w_row = a.kernel_w * C;
  const std::size_t x_pixel = a.stride_w * C;
  V acc[P][NV];
  dw_f32_acc_from_bias<NV, TAIL, P>(a, c, last, acc);
  x0 += c, w0 += c;
  // Pointers from indices, never stepped past the last tap (which could leave the buffer).
  for (std::size_t ky = 0; ky < taps_h; ++ky) {
    for (std::size_t kx = 0; kx < taps_w; ++kx) {
      const float* x = x0 + ky * x_row + kx * x_step;
      const float* w = w0 + ky * w_row + kx * C;
      QK_UNROLL for (std::size_t v = 0; v < NV; ++v) {
        const bool part = TAIL && v == NV - 1;
        const V wv = part ? T::load_part(w + v * L, last) : T::load(w + v * L);
        QK_UNROLL for (std::size_t p = 0; p < P; ++p) {
          const float* xp = x + p * x_pixel + v * L;
          acc[p][v] = T::fma(part ? T::load_part(xp, last) : T::load(xp), wv, acc[p][v]);
        }
      }
    }
  }
  dw_f32_store<NV, TAIL, P>(a, acc, c, last, out);
}

// dw_f32_block for interior pixels of a 3-wide kernel at stride 1, dilation 1 (most depthwise
// layers): adjacent pixels share input, pixel p's tap kx reading input pixel p + kx. So each
// kernel row loads its P + 2 input pixels and 3 weight vectors once per vector of channels and
// feeds each input to every accumulator that uses it: 5 + 3 loads per 12 FMAs (P = 4) instead
// of 3 + 12. Zen 4 loads one zmm per cycle and the FMAs issue at one per cycle too, so the
// loads bound the general block (mbv2_dw_112: 0.90 of oneDNN, which slides as well).
template <std::size_t NV, bool TAIL, std::size_t P>
QK_KERNEL_INLINE void dw_f32_block_slide3(const DepthwiseF32Args& a, const float* x0, const float* w0, std::size_t taps_h,
                                          std::size_t c, std::size_t last, float* out) noexcept {
  using T = DwF32Traits;
  using V = typename T::Vec;
  constexpr std::size_t L = T::kLanes;
  const std::size_t C = a.channels, x_row = a.dilation_h * a.in_w * C, w_row = 3 * C;
  V acc[P][NV];
  dw_f32_acc_from_bias<NV, TAIL, P>(a, c, last, acc);
  x0 += c, w0 += c;
  for (std::size_t ky = 0; ky < taps_h; ++ky) {
    const float* x = x0 + ky * x_row;
    const float* w = w0 + ky * w_row;
    QK_UNROLL for (std::size_t v = 0; v < NV; ++v) {
      const bool part = TAIL && v == NV - 1;
      const V w_0 = part ? T::load_part(w + v * L, last) : T::load(w + v * L);
      const V w_1 = part ? T::load_part(w + C + v * L, last) : T::load(w + C + v * L);
      const V w_2 = part ? T::load_part(w + 2 * C + v * L, last) : T::load(w + 2 * C + v * L);
      QK_UNROLL for (std::size_t j = 0; j < P + 2; ++j) {
        const float* xp = x + j * C + v * L;
        const V xv = part ? T::load_part(xp, last) : T::load(xp);
        if (j < P) acc[j][v] = T::fma(xv, w_0, acc[j][v]);
        if (j >= 1 && j - 1 < P) acc[j - 1][v] = T::fma(xv, w_1, acc[j - 1][v]);
        if (j >= 2) acc[j - 2][v] = T::fma(xv, w_2, acc[j - 2][v]);
      }
    }
  }
  dw_f32_store<NV, TAIL, P>(a, acc, c, last, out);
}

// One block of NV vectors: the sliding form when SLIDE3 (the caller checked its shape).
template <std::size_t NV, bool TAIL, std::size_t P, bool SLIDE3>
QK_KERNEL_INLINE void dw_f32_block_of(const DepthwiseF32Args& a, const float* x0, const float* w0, std::size_t th,
                                      std::size_t tw, std::size_t c, std::size_t last, float* out) noexcept {
  if constexpr (SLIDE3)
    dw_f32_block_slide3<NV, TAIL, P>(a, x0, w0, th, c, last, out);
  else
    dw_f32_block<NV, TAIL, P>(a, x0, w0, th, tw, c, last, out);
}

// All channels of P pixels: blocks of four vectors, then the rest (1-4 vectors, maybe a tail).
template <std::size_t P, bool SLIDE3 = false>
QK_KERNEL_INLINE void dw_f32_pixels(const DepthwiseF32Args& a, const float* x0, const float* w0, std::size_t th,
                                    std::size_t tw, float* out) noexcept {
  constexpr std::size_t L = DwF32Traits::kLanes;
  const std::size_t C = a.channels, full = C / (4 * L) * (4 * L), rest = C - full;
  const std::size_t rest_vectors = (rest + L - 1) / L, last = rest - (rest_vectors > 0 ? rest_vectors - 1 : 0) * L;
  // Blocks wider than kPixels pixels are for up to two vectors of channels only (the caller's
  // choice): the three- and four-vector blocks are not instantiated for them (compile time).
  constexpr bool kNarrow = P > DwF32Traits::kPixels;
  if constexpr (!kNarrow)
    for (std::size_t c = 0; c < full; c += 4 * L) dw_f32_block_of<4, false, P, SLIDE3>(a, x0, w0, th, tw, c, L, out);
  switch (rest_vectors * 2 + (rest % L != 0 ? 1 : 0)) {
    case 2: dw_f32_block_of<1, false, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
    case 3: dw_f32_block_of<1, true, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
    case 4: dw_f32_block_of<2, false, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
    case 5: dw_f32_block_of<2, true, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
    default:
      if constexpr (!kNarrow) {
        switch (rest_vectors * 2 + (rest % L != 0 ? 1 : 0)) {
          case 6: dw_f32_block_of<3, false, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
          case 7: dw_f32_block_of<3, true, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
          case 8: dw_f32_block_of<4, true, P, SLIDE3>(a, x0, w0, th, tw, full, last, out); break;
          default: break;  // rest == 0
        }
      }
      break;
  }
}

inline void depthwise_f32_rows(const DepthwiseF32Args& a, std::size_t row_begin, std::size_t row_end) noexcept {
  constexpr std::size_t P = DwF32Traits::kPixels;
  const std::size_t C = a.channels;
  // Interior columns [ox_lo, ox_hi): every kx tap inside the image (the closed form ConvF32's
  // direct path uses too).
  std::size_t ox_lo = 0, ox_hi = 0;
  qk::detail::interior_columns(a.out_w, a.in_w, a.pad_left, a.stride_w, a.kernel_w, a.dilation_w, &ox_lo, &ox_hi);
  for (std::size_t u = row_begin; u < row_end; ++u) {
    const std::size_t n = u / a.out_h, oy = u % a.out_h;
    std::size_t ky0 = 0, ky1 = 0;
    qk::detail::valid_taps(oy, a.stride_h, a.dilation_h, a.pad_top, a.in_h, a.kernel_h, &ky0, &ky1);
    const float* image = a.input + n * a.in_h * a.in_w * C;
    float* row_out = a.output + u * a.out_w * C;
    const std::size_t iy0 = oy * a.stride_h + ky0 * a.dilation_h - a.pad_top;  // valid when ky1 > ky0
    const float* w_row = a.weights + ky0 * a.kernel_w * C;
    std::size_t ox = 0;
    // Edge (and, with no valid row, every) pixel: its own taps, one at a time.
    auto edge = [&](std::size_t x) {
      std::size_t kx0 = 0, kx1 = 0;
      qk::detail::valid_taps(x, a.stride_w, a.dilation_w, a.pad_left, a.in_w, a.kernel_w, &kx0, &kx1);
      const bool any = ky1 > ky0 && kx1 > kx0;  // else the bias alone (padding wider than the kernel)
      const float* x0 = any ? image + (iy0 * a.in_w + x * a.stride_w + kx0 * a.dilation_w - a.pad_left) * C : image;
      dw_f32_pixels<1>(a, x0, w_row + (any ? kx0 : 0) * C, any ? ky1 - ky0 : 0, any ? kx1 - kx0 : 0, row_out + x * C);
    };
    for (; ox < ox_lo; ++ox) edge(ox);
    if (ky1 > ky0) {
      // Interior ox: ox * stride_w >= pad_left, so the offset is formed without wrapping (a base
      // pointer with pad_left subtracted first would point before the image: UBSan's report).
      const bool slide3 = a.kernel_w == 3 && a.stride_w == 1 && a.dilation_w == 1;
      // Up to two vectors of channels: 2P pixels per block (4P accumulators), fewer loads per FMA.
      if (slide3 && C <= 2 * DwF32Traits::kLanes)
        for (; ox + 2 * P <= ox_hi; ox += 2 * P)
          dw_f32_pixels<2 * P, true>(a, image + (iy0 * a.in_w + ox - a.pad_left) * C, w_row, ky1 - ky0, 3, row_out + ox * C);
      for (; ox + P <= ox_hi; ox += P) {
        const float* x0 = image + (iy0 * a.in_w + ox * a.stride_w - a.pad_left) * C;
        if (slide3)
          dw_f32_pixels<P, true>(a, x0, w_row, ky1 - ky0, 3, row_out + ox * C);
        else
          dw_f32_pixels<P>(a, x0, w_row, ky1 - ky0, a.kernel_w, row_out + ox * C);
      }
    }
    for (; ox < a.out_w; ++ox) edge(ox);
  }
}
