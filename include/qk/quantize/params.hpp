// qk/quantize/params.hpp - storage types and quantization parameters (scale, zero point).
//
// Included by qk/quantize.hpp; see that header and docs/quantization.md for the arithmetic.
// Everything here is scalar, constexpr-friendly and allocation free.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qk/core/status.hpp"

namespace qk {

// 4-bit storage tags. Values are stored packed two per byte, the FIRST element in the LOW nibble
// (ONNX int4/uint4 and TFLite kTfLiteInt4 agree on this). An odd count leaves the high nibble of
// the last byte zero. Tags only: no object of these types is ever created.
struct int4 {};
struct uint4 {};

// What a storage type looks like in memory and which integers it holds.
//   storage_type: the element type of the caller's buffer (uint8_t bytes for the packed 4-bit tags)
//   bits, lowest, highest: the full integer range of the type
//   quantizable: false for int32, which ONNX only dequantizes (biases, accumulators)
template <class T>
struct storage_traits;

namespace detail {
template <class S, int Bits, bool Signed, bool Packed, bool Quantizable>
struct storage_traits_base {
  using storage_type = S;
  static constexpr int bits = Bits;
  static constexpr bool is_signed = Signed;
  static constexpr bool packed = Packed;
  static constexpr bool quantizable = Quantizable;
  static constexpr std::int32_t lowest =
      Signed ? static_cast<std::int32_t>(-(std::int64_t{1} << (Bits - 1))) : 0;
  static constexpr std::int32_t highest =
      static_cast<std::int32_t>(Signed ? (std::int64_t{1} << (Bits - 1)) - 1 : (std::int64_t{1} << Bits) - 1);
};
}  // namespace detail

template <> struct storage_traits<std::int8_t> : detail::storage_traits_base<std::int8_t, 8, true, false, true> {};
template <> struct storage_traits<std::uint8_t> : detail::storage_traits_base<std::uint8_t, 8, false, false, true> {};
template <> struct storage_traits<std::int16_t> : detail::storage_traits_base<std::int16_t, 16, true, false, true> {};
template <> struct storage_traits<std::uint16_t> : detail::storage_traits_base<std::uint16_t, 16, false, false, true> {};
template <> struct storage_traits<std::int32_t> : detail::storage_traits_base<std::int32_t, 32, true, false, false> {};
template <> struct storage_traits<int4> : detail::storage_traits_base<std::uint8_t, 4, true, true, true> {};
template <> struct storage_traits<uint4> : detail::storage_traits_base<std::uint8_t, 4, false, true, true> {};

template <class T>
using storage_t = typename storage_traits<T>::storage_type;

// Rounding of r / scale to an integer.
enum class Rounding : int {
  half_to_even = 0,         // ONNX QuantizeLinear / DynamicQuantizeLinear (numpy.round, rint)
  half_away_from_zero = 1,  // TFLite AffineQuantize (TfLiteRound = std::round)
};

// How choose_quant_params maps a real range onto the integers.
enum class QuantScheme : int {
  asymmetric = 0,        // zero point anywhere in [qmin, qmax]; range widened to contain 0
  symmetric = 1,         // zero point 0, full signed range [-2^(b-1), 2^(b-1)-1]
  symmetric_narrow = 2,  // zero point 0, narrow range [-(2^(b-1)-1), 2^(b-1)-1] (TFLite weights)
};

// r = scale * (q - zero_point), q in [qmin, qmax].
struct QuantParams {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
  std::int32_t qmin = 0;
  std::int32_t qmax = 0;
};

// Options of the quantize calls. bits = 0 means the storage type's full width.
struct QuantizeOptions {
  Rounding rounding = Rounding::half_to_even;
  int bits = 0;
  bool narrow_range = false;  // signed storage only: qmin = -qmax (e.g. [-127, 127])
};

// The integer range [qmin, qmax] of a `bits`-wide integer held in storage type T.
// bits = 0 selects the type's width. Signed: [-2^(b-1), 2^(b-1)-1] ([-(2^(b-1)-1), ...] when
// narrow); unsigned: [0, 2^b-1]. Errors: bits outside [2, min(16, bits of T)], or narrow range
// with an unsigned type (invalid_argument). Nothing is written on error.
template <class T>
Status quant_range(int bits, bool narrow_range, std::int32_t* qmin, std::int32_t* qmax) noexcept {
  using Tr = storage_traits<T>;
  static_assert(Tr::quantizable, "int32 is a dequantize-only storage type");
  if (bits == 0) bits = Tr::bits;
  if (bits < 2 || bits > 16 || bits > Tr::bits)
    return Status(StatusCode::invalid_argument, "quant_range: bit width must be in [2, bits of the storage type]", "bits", bits);
  if (narrow_range && !Tr::is_signed)
    return Status(StatusCode::invalid_argument, "quant_range: narrow range needs a signed storage type", "narrow_range", 1);
  if (qmin == nullptr || qmax == nullptr) return Status(StatusCode::null_pointer, "quant_range: null output");
  const std::int32_t hi = Tr::is_signed ? (std::int32_t{1} << (bits - 1)) - 1 : (std::int32_t{1} << bits) - 1;
  const std::int32_t lo = Tr::is_signed ? (narrow_range ? -hi : -hi - 1) : 0;
  *qmin = lo;
  *qmax = hi;
  return Status::success();
}

namespace detail {

inline bool is_valid_scale(float s) noexcept { return std::isfinite(s) && s > 0.0f; }

inline Status check_scale(float s) noexcept {
  if (std::isnan(s)) return Status(StatusCode::invalid_argument, "scale is NaN", "scale", s);
  if (std::isinf(s)) return Status(StatusCode::invalid_argument, "scale is infinite", "scale", s);
  if (s == 0.0f) return Status(StatusCode::invalid_argument, "scale is zero", "scale", s);
  if (s < 0.0f) return Status(StatusCode::invalid_argument, "scale is negative", "scale", s);
  return Status::success();
}

}  // namespace detail

// Quantization parameters for the real range [rmin, rmax] (a calibration min/max), storage T,
// `bits` wide (0 = the type's width).
//
//  asymmetric:        range first widened to contain 0 (rmin' = min(rmin, 0), rmax' = max(rmax, 0))
//                     so that real 0 is exactly representable (zero padding must be exact);
//                     S = (rmax' - rmin') / (qmax - qmin), Z = round(qmax - rmax' / S) clamped to
//                     [qmin, qmax], rounded half away from zero. S is computed in double and then
//                     rounded once to float.
//  symmetric(_narrow): Z = 0, S = max(|rmin|, |rmax|) / qmax (qmax = 2^(b-1)-1 in both, so the two
//                     only differ in qmin). Signed storage only.
//  Degenerate range (rmin' == rmax', i.e. both 0): S = 1, Z = 0. Any S represents an all-zero
//                     tensor exactly; 1 is chosen so that the result is a valid scale everywhere.
//
// Errors (invalid_argument, *out untouched): NaN or infinite rmin/rmax, rmin > rmax, bad bit
// width, symmetric with unsigned storage, a range so small that S underflows to 0 in float.
template <class T>
Status choose_quant_params(float rmin, float rmax, QuantScheme scheme, int bits, QuantParams* out) noexcept {
  using Tr = storage_traits<T>;
  static_assert(Tr::quantizable, "int32 is a dequantize-only storage type");
  if (out == nullptr) return Status(StatusCode::null_pointer, "choose_quant_params: null output");
  if (scheme != QuantScheme::asymmetric && scheme != QuantScheme::symmetric && scheme != QuantScheme::symmetric_narrow)
    return Status(StatusCode::invalid_argument, "choose_quant_params: unknown scheme", "scheme", static_cast<int>(scheme));
  if (std::isnan(rmin) || std::isinf(rmin))
    return Status(StatusCode::invalid_argument, "choose_quant_params: rmin is NaN or infinite", "rmin", rmin);
  if (std::isnan(rmax) || std::isinf(rmax))
    return Status(StatusCode::invalid_argument, "choose_quant_params: rmax is NaN or infinite", "rmax", rmax);
  if (rmin > rmax) return Status(StatusCode::invalid_argument, "choose_quant_params: rmin > rmax", "rmin", rmin);
  if (scheme != QuantScheme::asymmetric && !Tr::is_signed)
    return Status(StatusCode::invalid_argument, "choose_quant_params: symmetric needs a signed storage type", "scheme",
                  static_cast<int>(scheme));
  std::int32_t qmin = 0, qmax = 0;
  QK_RETURN_IF_ERROR(quant_range<T>(bits, scheme == QuantScheme::symmetric_narrow, &qmin, &qmax));

  QuantParams p;
  p.qmin = qmin;
  p.qmax = qmax;
  if (scheme == QuantScheme::asymmetric) {
    const double lo = rmin < 0.0f ? static_cast<double>(rmin) : 0.0;
    const double hi = rmax > 0.0f ? static_cast<double>(rmax) : 0.0;
    if (lo == hi) {
      p.scale = 1.0f;
      p.zero_point = 0;
    } else {
      const float s = static_cast<float>((hi - lo) / static_cast<double>(qmax - qmin));
      if (!(s > 0.0f))
        return Status(StatusCode::invalid_argument, "choose_quant_params: range too small, scale underflows", "rmax", rmax);
      double z = std::round(static_cast<double>(qmax) - hi / static_cast<double>(s));
      if (z < qmin) z = qmin;
      if (z > qmax) z = qmax;
      p.scale = s;
      p.zero_point = static_cast<std::int32_t>(z);
    }
  } else {
    const double m = std::fmax(std::fabs(static_cast<double>(rmin)), std::fabs(static_cast<double>(rmax)));
    if (m == 0.0) {
      p.scale = 1.0f;
    } else {
      const float s = static_cast<float>(m / static_cast<double>(qmax));
      if (!(s > 0.0f))
        return Status(StatusCode::invalid_argument, "choose_quant_params: range too small, scale underflows", "rmax", rmax);
      p.scale = s;
    }
    p.zero_point = 0;
  }
  *out = p;
  return Status::success();
}

// ONNX DynamicQuantizeLinear parameters (uint8), computed in float32 exactly as the ONNX
// reference does:
//   x_min = min(0, min x), x_max = max(0, max x)
//   scale = (x_max - x_min) / 255
//   zero_point = round_half_even(clip(0 - x_min / scale, 0, 255))
// Defined where ONNX is not: NaN elements are ignored when taking min and max (and quantize to
// the zero point); an empty or all-zero input (ONNX: 0/0) gives scale 1, zero point 0.
// Errors: null x with n > 0 (null_pointer); an infinite element (invalid_argument: the scale
// would be infinite). Outputs untouched on error.
inline Status dynamic_quantize_linear_params(const float* x, std::size_t n, float* scale,
                                             std::uint8_t* zero_point) noexcept {
  if (x == nullptr && n != 0) return Status(StatusCode::null_pointer, "dynamic_quantize_linear: null input");
  if (scale == nullptr || zero_point == nullptr)
    return Status(StatusCode::null_pointer, "dynamic_quantize_linear: null scale or zero point output");
  float lo = 0.0f, hi = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    const float v = x[i];
    // Written so that a NaN compares false and is skipped.
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  if (std::isinf(lo) || std::isinf(hi))
    return Status(StatusCode::invalid_argument, "dynamic_quantize_linear: infinite input value", "x", std::isinf(lo) ? lo : hi);
  if (lo == hi) {
    *scale = 1.0f;
    *zero_point = 0;
    return Status::success();
  }
  const float s = (hi - lo) / 255.0f;
  if (!detail::is_valid_scale(s))
    return Status(StatusCode::invalid_argument, "dynamic_quantize_linear: range too small or too large", "scale", s);
  float z = 0.0f - lo / s;
  z = z < 0.0f ? 0.0f : (z > 255.0f ? 255.0f : z);
  *scale = s;
  *zero_point = static_cast<std::uint8_t>(std::nearbyint(z));
  return Status::success();
}

}  // namespace qk
