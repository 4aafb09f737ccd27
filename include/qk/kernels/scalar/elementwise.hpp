// qk/kernels/scalar/elementwise.hpp - the portable element-wise family (any CPU), and the
// definition the SIMD families reproduce (kernels/elementwise_contract.hpp).
//
// The arithmetic is TFLite's, written branch-free for validated parameters so that these loops
// auto-vectorise in int32 lanes where the compiler can (ARM, or x86 without the SIMD families):
//  - SRDHM(x, m) for m >= 0 is floor((x * m + 2^30) / 2^31) (gemmlowp's sign-dependent nudge with
//    truncation rounds half up; its saturating case needs m = INT32_MIN, excluded);
//  - RDPOT(x, e), e in [0, 31]: (x >> e) + ((x & mask) > (mask >> 1) + [x < 0]);
//  - Add's input stage SRDHM((x + offset) * 2^L, m) in int32 lanes only: with v = x + offset
//    (|v| <= 255) and k = 31 - L >= 11, it is floor((v * m + 2^(k-1)) / 2^k); split m = mh * 2^16
//    + ml and nest the floor divisions (see AddInput::make).
// tests/layers/test_layer_kernels.cpp checks these against qk::multiply_by_quantized_multiplier_
// double_rounding over every multiplier/shift extreme.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/kernels/elementwise_contract.hpp"

namespace qk {
namespace kernels {
namespace ew {

// One multiplier/exponent (double rounding) in the form the loops use.
struct Requant {
  std::int32_t multiplier = 0;
  std::uint32_t left = 0;      // max(shift, 0)
  std::int32_t right = 0;      // max(-shift, 0), in [0, 31]
  std::int32_t mask = 0;       // 2^right - 1
  std::int32_t threshold = 0;  // mask >> 1

  static Requant make(std::int32_t multiplier, std::int32_t shift) noexcept {
    Requant r;
    r.multiplier = multiplier;
    r.left = static_cast<std::uint32_t>(shift > 0 ? shift : 0);
    r.right = shift > 0 ? 0 : (shift < -31 ? 31 : -shift);
    r.mask = static_cast<std::int32_t>((std::uint32_t{1} << r.right) - 1u);
    r.threshold = r.mask >> 1;
    return r;
  }
  // SRDHM for multiplier >= 0; bits 31..62 of the 64-bit sum, read with a logical shift.
  std::int32_t high_mul(std::int32_t x) const noexcept {
    const std::int64_t p = static_cast<std::int64_t>(x) * multiplier + (std::int64_t{1} << 30);
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(p) >> 31));
  }
  std::int32_t divide(std::int32_t x) const noexcept {
    const std::int32_t remainder = x & mask;
    const std::int32_t limit = threshold + (x < 0 ? 1 : 0);
    return (x >> right) + (remainder > limit ? 1 : 0);
  }
  // MBQM (double rounding); the left shift wraps as TFLite's does.
  std::int32_t apply(std::int32_t x) const noexcept {
    return divide(high_mul(static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left)));
  }
};

// Add's input rescaling RDPOT(SRDHM((x + offset) * 2^L, m), e) in int32 lanes. With k = 31 - L:
//   k <= 16: v * mh * 2^(16-k) + floor((v * ml + 2^(k-1)) / 2^k)
//   k > 16:  floor((v * mh + floor((v * ml + 2^(k-1)) / 2^16)) / 2^(k-16))
// i.e. (v * high + ((v * low + round) >> low_shift)) >> high_shift; every product < 2^28.
struct AddInput {
  std::int32_t offset = 0, high = 0, low = 0, round = 0;
  std::int32_t low_shift = 0, high_shift = 0;
  Requant divide_by;

  static AddInput make(std::int32_t offset, std::int32_t left_shift, std::int32_t multiplier, std::int32_t shift) noexcept {
    AddInput a;
    const std::int32_t k = 31 - left_shift;  // in [11, 31]
    a.offset = offset;
    a.high = (multiplier >> 16) * (k <= 16 ? (std::int32_t{1} << (16 - k)) : 1);  // < 2^20
    a.low = multiplier & 0xffff;
    a.round = std::int32_t{1} << (k - 1);
    a.low_shift = k <= 16 ? k : 16;
    a.high_shift = k <= 16 ? 0 : k - 16;
    a.divide_by = Requant::make(0, shift);
    return a;
  }
  std::int32_t operator()(std::int32_t x) const noexcept {
    const std::int32_t v = x + offset;
    return divide_by.divide((v * high + ((v * low + round) >> low_shift)) >> high_shift);
  }
};

inline std::int32_t clamp(std::int32_t v, std::int32_t lo, std::int32_t hi) noexcept {
  return v < lo ? lo : (v > hi ? hi : v);
}

struct AddOp {
  AddInput in1, in2;
  Requant out;
  std::int32_t offset, lo, hi;
  explicit AddOp(const EwAddParams& p) noexcept
      : in1(AddInput::make(p.offset1, p.left_shift, p.multiplier1, p.shift1)),
        in2(AddInput::make(p.offset2, p.left_shift, p.multiplier2, p.shift2)),
        out(Requant::make(p.output_multiplier, p.output_shift)),
        offset(p.output_offset),
        lo(p.act_min),
        hi(p.act_max) {}
  std::int32_t prepare1(std::int32_t x) const noexcept { return in1(x); }
  std::int32_t prepare2(std::int32_t x) const noexcept { return in2(x); }
  // Add's shifts are <= 0: no left shift in the output stage.
  std::int32_t finish(std::int32_t a, std::int32_t b) const noexcept {
    return clamp(out.divide(out.high_mul(a + b)) + offset, lo, hi);
  }
};

struct MulOp {
  std::int32_t offset1, offset2;
  Requant r;
  std::int32_t offset, lo, hi;
  explicit MulOp(const EwMulParams& p) noexcept
      : offset1(p.offset1),
        offset2(p.offset2),
        r(Requant::make(p.output_multiplier, p.output_shift)),
        offset(p.output_offset),
        lo(p.act_min),
        hi(p.act_max) {}
  std::int32_t prepare1(std::int32_t x) const noexcept { return x + offset1; }
  std::int32_t prepare2(std::int32_t x) const noexcept { return x + offset2; }
  // The zero point is added as TFLite's int32 addition does on every machine it runs on,
  // wrapping (reachable only with a left shift wrapping the product: shifts near 30); SIMD adds
  // wrap the same way.
  std::int32_t finish(std::int32_t a, std::int32_t b) const noexcept {
    const std::uint32_t sum = static_cast<std::uint32_t>(r.apply(a * b)) + static_cast<std::uint32_t>(offset);
    return clamp(static_cast<std::int32_t>(sum), lo, hi);
  }
};

template <bool IsMax>
struct MinMaxOp {
  std::int32_t lo, hi;
  explicit MinMaxOp(const EwClampParams& p) noexcept : lo(p.act_min), hi(p.act_max) {}
  std::int32_t prepare1(std::int32_t x) const noexcept { return x; }
  std::int32_t prepare2(std::int32_t x) const noexcept { return x; }
  std::int32_t finish(std::int32_t a, std::int32_t b) const noexcept {
    return clamp(IsMax ? (a > b ? a : b) : (a < b ? a : b), lo, hi);
  }
};

// One run, the element type T (int8_t or uint8_t) at compile time; the broadcast operand's own
// arithmetic is done once.
template <class T, class Op>
inline void run(const Op& op, const std::uint8_t* a8, const std::uint8_t* b8, bool b_broadcast, std::uint8_t* out8,
                std::size_t n) noexcept {
  const T* a = reinterpret_cast<const T*>(a8);
  const T* b = reinterpret_cast<const T*>(b8);
  T* out = reinterpret_cast<T*>(out8);
  if (b_broadcast) {
    const std::int32_t pb = op.prepare2(b[0]);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(op.finish(op.prepare1(a[i]), pb));
  } else {
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<T>(op.finish(op.prepare1(a[i]), op.prepare2(b[i])));
  }
}

template <class Op, class Params>
inline void run_typed(const Params& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                      std::uint8_t* out, std::size_t n) noexcept {
  if (n == 0) return;
  const Op op(p);
  if (is_signed)
    run<std::int8_t>(op, a, b, b_broadcast, out, n);
  else
    run<std::uint8_t>(op, a, b, b_broadcast, out, n);
}

}  // namespace ew

namespace scalar {

inline void ew_add(const EwAddParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  ew::run_typed<ew::AddOp>(p, is_signed, a, b, b_broadcast, out, n);
}
inline void ew_mul(const EwMulParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b, bool b_broadcast,
                   std::uint8_t* out, std::size_t n) noexcept {
  ew::run_typed<ew::MulOp>(p, is_signed, a, b, b_broadcast, out, n);
}
inline void ew_maximum(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b,
                       bool b_broadcast, std::uint8_t* out, std::size_t n) noexcept {
  ew::run_typed<ew::MinMaxOp<true>>(p, is_signed, a, b, b_broadcast, out, n);
}
inline void ew_minimum(const EwClampParams& p, bool is_signed, const std::uint8_t* a, const std::uint8_t* b,
                       bool b_broadcast, std::uint8_t* out, std::size_t n) noexcept {
  ew::run_typed<ew::MinMaxOp<false>>(p, is_signed, a, b, b_broadcast, out, n);
}
inline void ew_lut(const std::uint8_t* table, const std::uint8_t* in, std::uint8_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = table[in[i]];
}

inline const ElementwiseKernels& elementwise_kernels() noexcept {
  static constexpr ElementwiseKernels k{"scalar", &ew_add, &ew_mul, &ew_maximum, &ew_minimum, &ew_lut};
  return k;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
