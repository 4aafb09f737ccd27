// qk/layers/detail/gemmlowp_fixed_point.hpp - the few gemmlowp fixed-point functions TFLite's
// integer softmax calls (gemmlowp/fixedpoint/fixedpoint.h), on raw int32 values.
//
// gemmlowp's FixedPoint<int32_t, I> is a raw int32 read as raw / 2^(31 - I) ("Q I.(31-I)"); its
// type only tracks I. Here the raw value is the int32 itself and I is a template argument or is
// named in the function (q0 = Q0.31, q2 = Q2.29, ...). Written from gemmlowp's published
// semantics, not copied; tests/layers/test_layer_softmax.cpp compares every function with
// gemmlowp's own header where Debian's libgemmlowp-dev is installed.
//
// Where gemmlowp adds raw int32 values with plain `+` (which would be signed overflow if it ever
// overflowed), these add modulo 2^32: identical wherever gemmlowp is defined, and defined
// everywhere. SRDHM and RDPOT are qk's (qk/fixed_point.hpp), already checked against gemmlowp.
#pragma once

#include <cstdint>
#include <limits>

#include "qk/fixed_point.hpp"

namespace qk {
namespace detail {
namespace gemmlowp_fp {

constexpr std::int32_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int32_t kInt32Min = std::numeric_limits<std::int32_t>::min();

inline std::int32_t add(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
inline std::int32_t sub(std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(a) - static_cast<std::uint32_t>(b));
}
// FixedPoint operator*: the integer bits of the operands add up; the raw value is SRDHM.
inline std::int32_t mul(std::int32_t a, std::int32_t b) noexcept { return saturating_rounding_doubling_high_mul(a, b); }

// SaturatingRoundingMultiplyByPOT<Exponent>: a saturating left shift for Exponent > 0 (values
// beyond +-(2^(31 - Exponent) - 1) saturate, gemmlowp's threshold), RDPOT for Exponent < 0.
template <int Exponent>
inline std::int32_t saturating_rounding_multiply_by_pot(std::int32_t x) noexcept {
  static_assert(Exponent > -32 && Exponent < 32, "exponent out of range");
  if (Exponent == 0) return x;
  if (Exponent < 0) return rounding_divide_by_pot(x, Exponent < 0 ? -Exponent : 0);
  constexpr int kLeft = Exponent > 0 ? Exponent : 0;
  constexpr std::int32_t kThreshold = static_cast<std::int32_t>((std::int64_t{1} << (31 - kLeft)) - 1);
  if (x > kThreshold) return kInt32Max;
  if (x < -kThreshold) return kInt32Min;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << kLeft);
}

// Rescale<Dst> of a FixedPoint<int32, Src>: multiply the raw value by 2^(Src - Dst), saturating.
template <int Dst, int Src>
inline std::int32_t rescale(std::int32_t x) noexcept {
  return saturating_rounding_multiply_by_pot<Src - Dst>(x);
}

// RoundingHalfSum: (a + b) / 2 rounded to nearest, ties away from zero (in 64 bits).
inline std::int32_t rounding_half_sum(std::int32_t a, std::int32_t b) noexcept {
  const std::int64_t sum = static_cast<std::int64_t>(a) + static_cast<std::int64_t>(b);
  return static_cast<std::int32_t>((sum + (sum >= 0 ? 1 : -1)) / 2);
}

// exp(a) for a in [-1/4, 0), Q0.31 in and out: a fourth-order Taylor expansion around -1/8.
inline std::int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(std::int32_t a) noexcept {
  constexpr std::int32_t kExpMinusOneEighth = 1895147668;  // exp(-1/8) in Q0.31
  constexpr std::int32_t kOneThird = 715827883;            // 1/3 in Q0.31
  const std::int32_t x = add(a, std::int32_t{1} << 28);     // x = a + 1/8
  const std::int32_t x2 = mul(x, x);
  const std::int32_t x3 = mul(x2, x);
  const std::int32_t x4 = mul(x2, x2);
  const std::int32_t x4_over_4 = saturating_rounding_multiply_by_pot<-2>(x4);
  const std::int32_t poly = saturating_rounding_multiply_by_pot<-1>(add(mul(add(x4_over_4, x3), kOneThird), x2));
  return add(kExpMinusOneEighth, mul(kExpMinusOneEighth, add(x, poly)));
}

// exp(a) for a <= 0 given in Q(IntegerBits).(31 - IntegerBits), result in Q0.31: a modulo 1/4
// through the Taylor polynomial, then one multiplication by exp(-2^k) for every bit k of the
// rest (a barrel shifter), exp(0) = 1 (INT32_MAX) exactly, and 0 below -32 when IntegerBits > 5.
template <int IntegerBits>
inline std::int32_t exp_on_negative_values(std::int32_t a) noexcept {
  static_assert(IntegerBits >= 0 && IntegerBits <= 29, "exp_on_negative_values: 1/4 must be representable");
  constexpr int kFractionalBits = 31 - IntegerBits;
  constexpr std::int32_t kOneQuarter = std::int32_t{1} << (kFractionalBits - 2);
  const std::int32_t a_mod_quarter_minus_one_quarter = sub(a & (kOneQuarter - 1), kOneQuarter);
  std::int32_t result =
      exp_on_interval_between_negative_one_quarter_and_0_excl(rescale<0, IntegerBits>(a_mod_quarter_minus_one_quarter));
  const std::int32_t remainder = sub(a_mod_quarter_minus_one_quarter, a);
  // exp(-2^k) in Q0.31 for k = -2 .. 4; bit (kFractionalBits + k) of the remainder selects it.
  constexpr std::int32_t kExpMinusPow2[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = -2; k <= 4; ++k) {
    if (IntegerBits <= k) break;
    const std::uint32_t bit = std::uint32_t{1} << (kFractionalBits + k);
    if ((static_cast<std::uint32_t>(remainder) & bit) != 0) result = mul(result, kExpMinusPow2[k + 2]);
  }
  if (IntegerBits > 5) {
    // Below -32 the result is 0 (exp(-32) is below Q0.31's resolution).
    const std::int64_t clamp = -(std::int64_t{1} << (IntegerBits > 5 ? 36 - IntegerBits : 0));
    if (a < clamp) result = 0;
  }
  return a == 0 ? kInt32Max : result;
}

// 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps on the half
// denominator, in Q2.29, from the initial estimate 48/17 - 32/17 * d.
inline std::int32_t one_over_one_plus_x_for_x_in_0_1(std::int32_t a) noexcept {
  constexpr std::int32_t kQ2One = std::int32_t{1} << 29;
  constexpr std::int32_t k48Over17 = 1515870810;      // Q2.29
  constexpr std::int32_t kMinus32Over17 = -1010580540;  // Q2.29
  const std::int32_t half_denominator = rounding_half_sum(a, kInt32Max);  // Q0.31
  std::int32_t x = add(k48Over17, mul(half_denominator, kMinus32Over17));  // Q2.29
  for (int i = 0; i < 3; ++i) {
    const std::int32_t half_denominator_times_x = mul(half_denominator, x);     // Q2.29
    const std::int32_t one_minus = sub(kQ2One, half_denominator_times_x);      // Q2.29
    x = add(x, rescale<2, 4>(mul(x, one_minus)));                              // Q4.27 -> Q2.29
  }
  // ExactMulByPot<-1>: the same raw value read as Q1.30, then Rescale to Q0.31.
  return rescale<0, 1>(x);
}

// TFLite's GetReciprocal (kernels/internal/common.h): for x > 0 in Q(integer_digits), returns
// 1 / x as a Q0.31 value `scale` in (1/2, 1] and *num_bits_over_unit such that
// 1 / x = scale * 2^-num_bits_over_unit.
inline std::int32_t get_reciprocal(std::int32_t x, int integer_digits, int* num_bits_over_unit) noexcept {
  int headroom_plus_one = 0;  // leading zeros of x as uint32
  for (std::uint32_t v = static_cast<std::uint32_t>(x); headroom_plus_one < 32 && (v & 0x80000000u) == 0; v <<= 1)
    ++headroom_plus_one;
  *num_bits_over_unit = integer_digits - headroom_plus_one;
  const std::uint32_t shifted = headroom_plus_one >= 32 ? 0u : static_cast<std::uint32_t>(x) << headroom_plus_one;
  const std::int32_t shifted_minus_one = static_cast<std::int32_t>(shifted - 0x80000000u);
  return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one);
}

}  // namespace gemmlowp_fp
}  // namespace detail
}  // namespace qk
