// qk/kernels/x86/elementwise_blocks.inl - the element-wise loops (elementwise_x86.hpp) written
// once for AVX2 and AVX-512BW.
//
// Included (never on its own) inside an ISA's target region and namespace, after that region
// has defined:
//   struct Traits {
//     using V;                                  // one block of kBytes bytes
//     kBytes                                    // bytes a block (32, 64)
//     load(p), store(p, v)                      // a whole block, unaligned
//     struct Tail { Tail(n); load(p); store(p, v); }   // the last 0 < n < kBytes bytes
//     set1_16(x), set1_32(x), add16, add32, and_, sra32(v, count), sll32(v, count), sign32(v),
//     madd16, unpacklo16, unpackhi16, mullo16, mulhi16, min32, max32, max8<S>, min8<S>
//     widen_block<S>(bytes, &w0, &w1), narrow_block<S>(r0lo, r0hi, r1lo, r1hi)   // header of
//                                               // elementwise_x86.hpp: the block layout
//     srdhm(x, m), rdpot_general(x, mask, threshold, e)   // the ISA's own instructions
//   };
// and a declaration of minmax_loop<S, IsMax, BC> (its loop shape is the ISA's own). After it the
// region defines minmax_loop, Add's output stage (a struct Out: `static Out make(const
// EwAddParams&)`, `V finish(V sum) const`; AVX-512's merges SRDHM and RDPOT), ew_add (from
// ew_add_t<Out>), the table lookup and the kernel table. Everything here is inlined into the
// noinline loops, so each ISA keeps its own instruction sequence. No standard headers here.

using V = Traits::V;

struct Rdpot {
  V mask, threshold, half, neg;  // general form: mask, threshold; short form: half, neg
  __m128i e;
  static Rdpot make(std::int32_t shift) noexcept {  // shift <= 0 gives e = -shift; > 0 gives e = 0
    const std::int32_t e = shift < 0 ? (shift < -31 ? 31 : -shift) : 0;
    Rdpot r;
    const std::int32_t mask = static_cast<std::int32_t>((std::uint32_t{1} << e) - 1u);
    r.mask = Traits::set1_32(mask);
    r.threshold = Traits::set1_32(mask >> 1);
    r.half = Traits::set1_32(e > 0 ? (std::int32_t{1} << (e - 1)) : 0);
    r.neg = Traits::set1_32(e > 0 ? -1 : 0);
    r.e = _mm_cvtsi32_si128(e);
    return r;
  }
  QK_EW_INLINE V general(V x) const noexcept { return Traits::rdpot_general(x, mask, threshold, e); }
  // |x| < 2^30 only.
  QK_EW_INLINE V small(V x) const noexcept {
    return Traits::sra32(Traits::add32(Traits::add32(x, half), Traits::and_(Traits::sign32(x), neg)), e);
  }
};

// ---- Add
struct AddInputV {
  V offset, mult_high, mult_low, round;
  __m128i high_left, low_shift, high_shift;
  Rdpot div;
  static AddInputV make(const ew::AddInput& s, std::int32_t multiplier, std::int32_t left_shift, std::int32_t shift) noexcept {
    AddInputV a;
    const std::int32_t k = 31 - left_shift, mh = multiplier >> 16, ml = multiplier & 0xffff;
    a.offset = Traits::set1_16(s.offset);
    // vpmaddwd pairs against (v, 2v): (mh, 0) gives v * mh, (ml - 2^15, 2^14) gives v * ml.
    a.mult_high = Traits::set1_32(mh);
    a.mult_low = Traits::set1_32(static_cast<std::int32_t>((std::uint32_t{1} << 30) | static_cast<std::uint32_t>((ml - 32768) & 0xffff)));
    a.round = Traits::set1_32(s.round);
    a.high_left = _mm_cvtsi32_si128(k <= 16 ? 16 - k : 0);
    a.low_shift = _mm_cvtsi32_si128(s.low_shift);
    a.high_shift = _mm_cvtsi32_si128(s.high_shift);
    a.div = Rdpot::make(shift);
    return a;
  }
  // x: int32 lanes holding (v, 2v) as int16 pairs, v = x + offset.
  QK_EW_INLINE V apply(V x) const noexcept {
    const V lo = Traits::sra32(Traits::add32(Traits::madd16(x, mult_low), round), low_shift);
    const V hi = Traits::sll32(Traits::madd16(x, mult_high), high_left);
    return div.small(Traits::sra32(Traits::add32(hi, lo), high_shift));
  }
  // int16 lanes (x + offset) -> the rescaled int32 values in unpack order.
  QK_EW_INLINE void apply16(V v16, V* lo, V* hi) const noexcept {
    const V twice = Traits::add16(v16, v16);
    *lo = apply(Traits::unpacklo16(v16, twice));
    *hi = apply(Traits::unpackhi16(v16, twice));
  }
};

// Out: the ISA's output stage (sum of the rescaled inputs -> clamped int32 lanes).
template <class Out>
struct AddV {
  AddInputV in1, in2;
  Out out;
};

template <bool S, bool BC, class Out>
QK_EW_INLINE V add_block(const AddV<Out>& c, V a, V b, V bconst) noexcept {
  V a0, a1;
  Traits::template widen_block<S>(a, &a0, &a1);
  V s1[4];
  c.in1.apply16(Traits::add16(a0, c.in1.offset), &s1[0], &s1[1]);
  c.in1.apply16(Traits::add16(a1, c.in1.offset), &s1[2], &s1[3]);
  V s2[4] = {bconst, bconst, bconst, bconst};
  if (!BC) {
    V b0, b1;
    Traits::template widen_block<S>(b, &b0, &b1);
    c.in2.apply16(Traits::add16(b0, c.in2.offset), &s2[0], &s2[1]);
    c.in2.apply16(Traits::add16(b1, c.in2.offset), &s2[2], &s2[3]);
  }
  return Traits::template narrow_block<S>(c.out.finish(Traits::add32(s1[0], s2[0])), c.out.finish(Traits::add32(s1[1], s2[1])),
                                          c.out.finish(Traits::add32(s1[2], s2[2])), c.out.finish(Traits::add32(s1[3], s2[3])));
}

template <bool S, bool BC, class Out>
__attribute__((noinline)) inline void add_loop(const AddV<Out>& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = Traits::set1_32(bfixed);
  std::size_t i = 0;
  for (; i + Traits::kBytes <= n; i += Traits::kBytes) {
    const V va = Traits::load(a + i);
    const V vb = BC ? va : Traits::load(b + i);
    Traits::store(out + i, add_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const typename Traits::Tail t(n - i);
    const V va = t.load(a + i);
    const V vb = BC ? va : t.load(b + i);
    t.store(out + i, add_block<S, BC>(c, va, vb, bconst));
  }
}

template <class Out>
inline void ew_add_t(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                     std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  const ew::AddInput s1 = ew::AddInput::make(p.offset1, p.left_shift, p.multiplier1, p.shift1);
  const ew::AddInput s2 = ew::AddInput::make(p.offset2, p.left_shift, p.multiplier2, p.shift2);
  AddV<Out> c;
  c.in1 = AddInputV::make(s1, p.multiplier1, p.left_shift, p.shift1);
  c.in2 = AddInputV::make(s2, p.multiplier2, p.left_shift, p.shift2);
  c.out = Out::make(p);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = s2(is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]);
  if (is_signed)
    b_broadcast ? add_loop<true, true>(c, a, b, out, n, bfixed) : add_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? add_loop<false, true>(c, a, b, out, n, bfixed) : add_loop<false, false>(c, a, b, out, n, bfixed);
}

// ---- Mul
struct MulV {
  V offset1, offset2, mult, out_offset, lo, hi;
  __m128i left;
  Rdpot div;
  QK_EW_INLINE V finish(V prod) const noexcept {
    const V x = Traits::sll32(prod, left);
    const V r = Traits::add32(div.general(Traits::srdhm(x, mult)), out_offset);
    return Traits::min32(Traits::max32(r, lo), hi);
  }
  // int16 operands (offsets added) -> finished int32 values in unpack order.
  QK_EW_INLINE void half(V v1, V v2, V* rlo, V* rhi) const noexcept {
    const V pl = Traits::mullo16(v1, v2), ph = Traits::mulhi16(v1, v2);
    *rlo = finish(Traits::unpacklo16(pl, ph));
    *rhi = finish(Traits::unpackhi16(pl, ph));
  }
};

template <bool S, bool BC>
QK_EW_INLINE V mul_block(const MulV& c, V a, V b, V bconst) noexcept {
  V a0, a1, b0 = bconst, b1 = bconst;
  Traits::template widen_block<S>(a, &a0, &a1);
  if (!BC) {
    Traits::template widen_block<S>(b, &b0, &b1);
    b0 = Traits::add16(b0, c.offset2);
    b1 = Traits::add16(b1, c.offset2);
  }
  V r[4];
  c.half(Traits::add16(a0, c.offset1), b0, &r[0], &r[1]);
  c.half(Traits::add16(a1, c.offset1), b1, &r[2], &r[3]);
  return Traits::template narrow_block<S>(r[0], r[1], r[2], r[3]);
}

template <bool S, bool BC>
__attribute__((noinline)) inline void mul_loop(const MulV& c, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                                               std::size_t n, std::int32_t bfixed) noexcept {
  const V bconst = Traits::set1_16(bfixed);
  std::size_t i = 0;
  for (; i + Traits::kBytes <= n; i += Traits::kBytes) {
    const V va = Traits::load(a + i);
    const V vb = BC ? va : Traits::load(b + i);
    Traits::store(out + i, mul_block<S, BC>(c, va, vb, bconst));
  }
  if (i < n) {
    const typename Traits::Tail t(n - i);
    const V va = t.load(a + i);
    const V vb = BC ? va : t.load(b + i);
    t.store(out + i, mul_block<S, BC>(c, va, vb, bconst));
  }
}

inline void ew_mul(const EwMulParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  MulV c;
  c.offset1 = Traits::set1_16(p.offset1);
  c.offset2 = Traits::set1_16(p.offset2);
  c.mult = Traits::set1_32(p.output_multiplier);
  c.out_offset = Traits::set1_32(p.output_offset);
  c.lo = Traits::set1_32(p.act_min);
  c.hi = Traits::set1_32(p.act_max);
  c.left = _mm_cvtsi32_si128(p.output_shift > 0 ? p.output_shift : 0);
  c.div = Rdpot::make(p.output_shift);
  std::int32_t bfixed = 0;
  if (b_broadcast) bfixed = (is_signed ? static_cast<std::int32_t>(static_cast<std::int8_t>(b[0])) : b[0]) + p.offset2;
  if (is_signed)
    b_broadcast ? mul_loop<true, true>(c, a, b, out, n, bfixed) : mul_loop<true, false>(c, a, b, out, n, bfixed);
  else
    b_broadcast ? mul_loop<false, true>(c, a, b, out, n, bfixed) : mul_loop<false, false>(c, a, b, out, n, bfixed);
}

// ---- Maximum / Minimum (bytes throughout; minmax_loop is the region's)
template <bool S, bool IsMax>
QK_EW_INLINE V minmax_op(V x, V y, V l, V h) noexcept {
  const V r = IsMax ? Traits::template max8<S>(x, y) : Traits::template min8<S>(x, y);
  return Traits::template min8<S>(Traits::template max8<S>(r, l), h);
}

template <bool IsMax>
inline void ew_minmax(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                      std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  if (is_signed)
    bc ? minmax_loop<true, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<true, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
  else
    bc ? minmax_loop<false, IsMax, true>(a, b, out, n, p.act_min, p.act_max)
       : minmax_loop<false, IsMax, false>(a, b, out, n, p.act_min, p.act_max);
}
inline void ew_maximum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<true>(p, s, a, b, bc, out, n);
}
inline void ew_minimum(const EwClampParams& p, bool s, const std::uint8_t* a, const std::uint8_t* b, bool bc,
                       std::uint8_t* out, std::size_t n) noexcept {
  ew_minmax<false>(p, s, a, b, bc, out, n);
}
