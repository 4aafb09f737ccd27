// qk/fixed_point.hpp - integer requantization exactly as TFLite and ONNX define it.
//
// TFLite represents a real multiplier M > 0 as a Q0.31 integer and a power-of-two exponent:
//   M ~= quantized_multiplier * 2^(shift - 31),  quantized_multiplier in [2^30, 2^31).
// Applying it to an int32 accumulator (MultiplyByQuantizedMultiplier) has two variants:
//  - double rounding (TFLite's default, gemmlowp's): x << max(shift,0), then
//    SaturatingRoundingDoublingHighMul (rounds to nearest, ties toward +infinity), then
//    RoundingDivideByPOT by max(-shift,0) (rounds to nearest, ties away from zero);
//  - single rounding (TFLITE_SINGLE_ROUNDING, XNNPACK, ruy): one 64-bit product, one
//    rounding right shift by 31 - shift (ties toward +infinity).
// The two differ on a few results per thousand; the TFLite conformance vectors tell them apart.
//
// ONNX instead rescales in float: y = saturate(round_half_to_even(acc * scale) + zero_point).
//
// These scalar functions are the definition every SIMD requantization in qk is tested against.
// Arithmetic that C++ leaves undefined (signed overflow of x << shift) is done in unsigned
// arithmetic, i.e. it wraps in two's complement exactly as vpsllvd / vshl do.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "qk/core/status.hpp"

namespace qk {

// Shift range accepted by multiply_by_quantized_multiplier (TFLite's own limits). A shift is a
// std::int32_t everywhere, as OutputStage holds them (on arm-none-eabi int32_t is long, not int).
constexpr std::int32_t kMinRequantShift = -31;
constexpr std::int32_t kMaxRequantShift = 30;

enum class RequantRounding : int {
  double_rounding = 0,  // TFLite default (reference kernels, gemmlowp)
  single_rounding = 1,  // TFLITE_SINGLE_ROUNDING, XNNPACK, ruy
};

// gemmlowp SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties toward +infinity;
// the only overflow, INT32_MIN * INT32_MIN, saturates to INT32_MAX.
inline std::int32_t saturating_rounding_doubling_high_mul(std::int32_t a, std::int32_t b) noexcept {
  const bool overflow = a == b && a == std::numeric_limits<std::int32_t>::min();
  const std::int64_t ab = static_cast<std::int64_t>(a) * static_cast<std::int64_t>(b);
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  // C++ integer division truncates toward zero, which together with the sign-dependent nudge
  // gives round-half-up; this is the defining formula, not an optimisation.
  const std::int32_t high = static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
  return overflow ? std::numeric_limits<std::int32_t>::max() : high;
}

// gemmlowp RoundingDivideByPOT: round(x / 2^exponent), ties away from zero. gemmlowp (and
// TFLite) require exponent in [0, 31], where this is its formula. Outside that range shifting by
// `exponent` would be undefined behaviour, so the function stays defined instead: an exponent
// in [32, 63] gives the exactly rounded quotient, computed in 64 bits (-1, 0 or 1; e.g.
// INT32_MIN / 2^32 = -0.5 rounds to -1), an exponent above 63 the same as 63 (0 for every
// int32), and a negative exponent counts as 0 (x unchanged: it is not a left shift).
// Validation (validate_quantized_multiplier) keeps the operators' exponents in [0, 31].
inline std::int32_t rounding_divide_by_pot(std::int32_t x, int exponent) noexcept {
  if (exponent < 0) exponent = 0;
  if (exponent > 31) {
    const int e = exponent > 63 ? 63 : exponent;
    const std::uint64_t mask = (std::uint64_t{1} << e) - 1;
    const std::int64_t x64 = x;
    const std::uint64_t remainder = static_cast<std::uint64_t>(x64) & mask;
    const std::uint64_t threshold = (mask >> 1) + (x < 0 ? 1u : 0u);
    return static_cast<std::int32_t>((x64 >> e) + (remainder > threshold ? 1 : 0));
  }
  const std::uint32_t mask = static_cast<std::uint32_t>((std::uint64_t{1} << exponent) - 1);
  const std::int32_t remainder = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) & mask);
  const std::int32_t threshold = static_cast<std::int32_t>(mask >> 1) + (x < 0 ? 1 : 0);
  // Arithmetic right shift of a negative value is implementation-defined before C++20;
  // GCC, Clang and MSVC all shift arithmetically, which is what gemmlowp relies on too.
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// Wrapping left shift (two's complement), as SIMD shifts behave: x * 2^shift modulo 2^32.
// shift in [0, 31]; outside it stays defined: 32 or more gives 0 (every bit shifted out), a
// negative shift counts as 0.
inline std::int32_t wrapping_shift_left(std::int32_t x, int shift) noexcept {
  if (shift <= 0) return x;
  if (shift > 31) return 0;
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << shift);
}

// TFLite MultiplyByQuantizedMultiplier, default (double rounding) variant.
// TFLite requires shift in [kMinRequantShift, kMaxRequantShift]; any other int stays defined (the
// shifts saturate as described above).
inline std::int32_t multiply_by_quantized_multiplier_double_rounding(std::int32_t x, std::int32_t multiplier,
                                                                     std::int32_t shift) noexcept {
  const int left_shift = shift > 0 ? shift : 0;
  const int right_shift = shift > 0 ? 0 : (shift < -63 ? 63 : -shift);  // (-INT_MIN would overflow)
  return rounding_divide_by_pot(
      saturating_rounding_doubling_high_mul(wrapping_shift_left(x, left_shift), multiplier), right_shift);
}

// TFLite MultiplyByQuantizedMultiplier under TFLITE_SINGLE_ROUNDING: round(x * m / 2^(31-shift)),
// ties toward +infinity, result saturated to int32 (TFLite only DCHECKs that it fits).
// TFLite requires multiplier >= 0 and shift in [kMinRequantShift, kMaxRequantShift] (its
// DCHECKs; the operators' validation refuses anything else). Outside that range the one 64-bit
// shift would be undefined (a shift count of 63 or more, or a negative one), so the function
// stays defined by computing the same exact value: shift < -31 rounds x * m / 2^(31-shift) with
// |x * m| < 2^63 (0 once the divisor reaches 2^64), shift >= 31 is the exact product
// x * m * 2^(shift-31), saturated to int32 like the in-range results.
inline std::int32_t multiply_by_quantized_multiplier_single_rounding(std::int32_t x, std::int32_t multiplier,
                                                                     std::int32_t shift) noexcept {
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  constexpr std::int64_t kMin = std::numeric_limits<std::int32_t>::min();
  const std::int64_t product = static_cast<std::int64_t>(x) * multiplier;  // |product| <= 2^62
  if (shift > 30) {
    if (product == 0) return 0;
    const int left = shift - 31;  // >= 0
    if (left > 31) return product > 0 ? static_cast<std::int32_t>(kMax) : static_cast<std::int32_t>(kMin);
    if (product > (kMax >> left)) return static_cast<std::int32_t>(kMax);
    if (product < -((-kMin) >> left)) return static_cast<std::int32_t>(kMin);
    return static_cast<std::int32_t>(product * (std::int64_t{1} << left));
  }
  if (shift < -32) return 0;  // divisor 2^64 or more (and 31 - shift could overflow int)
  const int total_shift = 31 - shift;  // in [1, 63]
  std::int64_t result = 0;
  if (total_shift <= 62) {
    const std::int64_t round = std::int64_t{1} << (total_shift - 1);
    result = (product + round) >> total_shift;
  } else {
    // |product| <= 2^62 <= 2^(total_shift - 1): the quotient is in [-1/2, 1/2], and ties go up.
    const std::int64_t half = std::int64_t{1} << 62;
    result = total_shift == 63 && product == half ? 1 : 0;
  }
  if (result > kMax) return static_cast<std::int32_t>(kMax);
  if (result < kMin) return static_cast<std::int32_t>(kMin);
  return static_cast<std::int32_t>(result);
}

inline std::int32_t multiply_by_quantized_multiplier(std::int32_t x, std::int32_t multiplier, std::int32_t shift,
                                                     RequantRounding rounding = RequantRounding::double_rounding) noexcept {
  return rounding == RequantRounding::double_rounding
             ? multiply_by_quantized_multiplier_double_rounding(x, multiplier, shift)
             : multiply_by_quantized_multiplier_single_rounding(x, multiplier, shift);
}

// TFLite QuantizeMultiplier: real multiplier -> (Q0.31 multiplier, shift).
//  - 0 gives (0, 0);
//  - frexp's mantissa rounded half away from zero; a mantissa that rounds up to 2^31 is halved
//    and the shift incremented;
//  - shift < -31 flushes to (0, 0) (every result would be zero anyway);
//  - shift > 30 cannot be applied without overflow: refused (TFLite would overflow silently),
//    as are NaN, infinity and negative multipliers (no qk requantization has a negative scale).
inline Status quantize_multiplier(double real_multiplier, std::int32_t* quantized_multiplier,
                                  std::int32_t* shift) noexcept {
  if (quantized_multiplier == nullptr || shift == nullptr)
    return Status(StatusCode::null_pointer, "quantize_multiplier: null output");
  if (!std::isfinite(real_multiplier))
    return Status(StatusCode::invalid_argument, "quantize_multiplier: multiplier is NaN or infinite", "real_multiplier",
                  real_multiplier);
  if (real_multiplier < 0)
    return Status(StatusCode::invalid_argument, "quantize_multiplier: multiplier is negative", "real_multiplier",
                  real_multiplier);
  if (real_multiplier == 0) {
    *quantized_multiplier = 0;
    *shift = 0;
    return Status::success();
  }
  int exponent = 0;
  const double mantissa = std::frexp(real_multiplier, &exponent);  // in [0.5, 1)
  std::int64_t q = static_cast<std::int64_t>(std::round(mantissa * static_cast<double>(std::int64_t{1} << 31)));
  if (q == (std::int64_t{1} << 31)) {
    q /= 2;
    ++exponent;
  }
  if (exponent < kMinRequantShift) {
    q = 0;
    exponent = 0;
  }
  if (exponent > kMaxRequantShift)
    return Status(StatusCode::invalid_argument, "quantize_multiplier: multiplier >= 2^30 cannot be applied to int32",
                  "real_multiplier", real_multiplier);
  *quantized_multiplier = static_cast<std::int32_t>(q);
  *shift = exponent;
  return Status::success();
}

// Validates a (multiplier, shift) pair for multiply_by_quantized_multiplier, as TFLite defines
// them: shift in [kMinRequantShift, kMaxRequantShift] (TFLite's QuantizeMultiplier never gives
// more than 30, and its single-rounding MultiplyByQuantizedMultiplier DCHECKs [-31, 30]), and
// a non-negative multiplier (QuantizeMultiplier gives 0 or a value in [2^30, 2^31); qk also
// accepts the unnormalized [1, 2^30), which its epilogues handle, but never a negative one:
// no TFLite scale is negative). The rounding must be one of RequantRounding's values.
inline Status validate_quantized_multiplier(std::int32_t multiplier, std::int32_t shift, RequantRounding rounding) noexcept {
  if (rounding != RequantRounding::double_rounding && rounding != RequantRounding::single_rounding)
    return Status(StatusCode::invalid_argument, "requantization: unknown rounding mode", "rounding",
                  static_cast<int>(rounding));
  if (shift < kMinRequantShift || shift > kMaxRequantShift)
    return Status(StatusCode::invalid_argument, "requantization: shift outside [-31, 30]", "shift", shift);
  if (multiplier < 0)
    return Status(StatusCode::invalid_argument, "requantization: multiplier is negative (must be in [0, 2^31))",
                  "multiplier", multiplier);
  return Status::success();
}

// Validates an ONNX float requantization scale: finite, > 0 and normal. A subnormal scale (below
// FLT_MIN, about 1.2e-38) is refused too: no product of real tensor scales is that small, and
// such a scale maps every accumulator below 2^126 to the zero point.
inline Status validate_requant_scale(float scale) noexcept {
  if (std::isnan(scale)) return Status(StatusCode::invalid_argument, "float requantization: scale is NaN", "scale", scale);
  if (std::isinf(scale))
    return Status(StatusCode::invalid_argument, "float requantization: scale is infinite", "scale", scale);
  if (!(scale > 0.0f))
    return Status(StatusCode::invalid_argument, "float requantization: scale must be > 0", "scale", scale);
  if (!std::isnormal(scale))
    return Status(StatusCode::invalid_argument, "float requantization: scale is subnormal", "scale", scale);
  return Status::success();
}

// Round half to even in the default floating-point environment (round-to-nearest), the rounding
// ONNX specifies and the one cvtps2dq / fcvtns perform.
inline float round_half_to_even(float v) noexcept { return std::nearbyint(v); }

// ONNX float requantization of an int32 accumulator: saturate(round_half_even(acc * scale) + zp)
// into [qmin, qmax]. The product is a float, as ONNX computes it. The clamp and the rounding are
// done in double, where every int32 bound and every bound minus zero point is exact: in float,
// INT32_MAX rounds up to 2^31 and qmin - zero_point can overflow int32, so a full-int32 output
// range used to wrap to INT32_MIN. For 8/16-bit outputs the result is identical to clamping and
// rounding in float (what the SIMD kernels do), since those bounds are exact floats.
// `scale` must pass validate_requant_scale() (finite, positive, normal; the operators check it).
// Other scales stay defined: a NaN product (a NaN scale, or acc = 0 times an infinite one)
// counts as 0, i.e. gives the zero point clamped to [qmin, qmax] (converting NaN to an integer
// would be undefined behaviour); infinities and negative scales follow the formula (clamped).
inline std::int32_t requantize_float(std::int32_t acc, float scale, std::int32_t zero_point, std::int32_t qmin,
                                     std::int32_t qmax) noexcept {
  const float product = static_cast<float>(acc) * scale;
  const double v = std::isnan(product) ? 0.0 : static_cast<double>(product);
  const double lo = static_cast<double>(qmin) - static_cast<double>(zero_point);
  const double hi = static_cast<double>(qmax) - static_cast<double>(zero_point);
  const double clamped = v < lo ? lo : (v > hi ? hi : v);
  // nearbyint: round half to even in the default rounding mode; the result lies in
  // [qmin - zp, qmax - zp], so adding zero_point in 64 bits lands in [qmin, qmax].
  return static_cast<std::int32_t>(static_cast<std::int64_t>(std::nearbyint(clamped)) + zero_point);
}

// TFLite fixed-point requantization of an accumulator to an output type:
// clamp(MultiplyByQuantizedMultiplier(acc) + zero_point, qmin, qmax).
inline std::int32_t requantize_fixed_point(std::int32_t acc, std::int32_t multiplier, std::int32_t shift, std::int32_t zero_point,
                                           std::int32_t qmin, std::int32_t qmax,
                                           RequantRounding rounding = RequantRounding::double_rounding) noexcept {
  // The scaled value is in int32; adding the zero point is done in 64 bits so that an extreme
  // accumulator cannot overflow before the clamp.
  const std::int64_t v = static_cast<std::int64_t>(multiply_by_quantized_multiplier(acc, multiplier, shift, rounding)) + zero_point;
  return static_cast<std::int32_t>(v < qmin ? qmin : (v > qmax ? qmax : v));
}

}  // namespace qk
