// qk/quantize.hpp - affine quantization of float tensors to integers and back.
//
//   quantize:    q = clamp(round(r / scale) + zero_point, qmin, qmax)
//   dequantize:  r = scale * (q - zero_point)
//
// per tensor, per axis (one scale / zero point per index of a channel axis of an N-d tensor) and
// blocked (ONNX blocked quantization: one scale per block_size consecutive indices along the
// axis, the last block may be short). Storage types: int8_t, uint8_t, int16_t, uint16_t, int4,
// uint4 (packed, first element in the low nibble) and, for dequantization only, int32_t.
// Rounding: half to even (ONNX) or half away from zero (TFLite), see Rounding.
// docs/quantization.md explains the arithmetic and the TFLite / ONNX conventions.
//
// Contract of every entry point: all inputs are validated before the first write, and a non-ok
// Status means nothing was written. No allocation, no exceptions, no RTTI.
//
// Defined behaviour where C++ or the specs leave a hole:
//   - a NaN input element quantizes to the zero point (there is no integer NaN);
//   - +-inf and any out-of-range value saturate to qmax / qmin (the float is clamped before
//     conversion, so no float -> int conversion is ever out of range);
//   - zero points are passed as int32_t (whatever the storage type) and must lie in [qmin, qmax]
//     for quantization, in the storage type's range for dequantization, and must be 0 for int32
//     (as ONNX requires), which keeps q - zero_point exact in int32.
//
// Implementation choice: a plain scalar loop is the definition (qk/quantize/kernels.hpp); an
// xsimd loop at the translation unit's own architecture (SSE2 by default on x86-64, AVX2 with
// -mavx2, NEON on AArch64) is bit-exact with it and is used unless qk::active_isa() is
// Isa::scalar (force_isa(Isa::scalar) or QK_ISA=scalar), which runs the scalar definition.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/checked.hpp"
#include "qk/core/isa.hpp"
#include "qk/core/status.hpp"
#include "qk/quantize/kernels.hpp"
#include "qk/quantize/params.hpp"

namespace qk {

// Bytes needed to store n elements of T (n/2 rounded up for the 4-bit types).
// size_overflow if n * sizeof(storage) does not fit in size_t.
template <class T>
Status storage_bytes(std::size_t n, std::size_t* bytes) noexcept {
  if (bytes == nullptr) return Status(StatusCode::null_pointer, "storage_bytes: null output");
  if constexpr (storage_traits<T>::packed) {
    *bytes = n / 2 + n % 2;
  } else {
    std::size_t b = 0;
    if (!detail::checked_mul(n, sizeof(storage_t<T>), &b))
      return Status(StatusCode::size_overflow, "storage_bytes: byte count overflows size_t", "n", n);
    *bytes = b;
  }
  return Status::success();
}

namespace detail {

inline bool use_simd() noexcept { return kQuantizeHasSimd && active_isa() != Isa::scalar; }

// An N-d shape seen around one axis: outer x channels x inner elements.
struct AxisLayout {
  std::size_t outer = 1;
  std::size_t channels = 1;
  std::size_t inner = 1;
  std::size_t total = 1;
};

inline Status make_axis_layout(const std::size_t* dims, std::size_t ndim, int axis, AxisLayout* out) noexcept {
  if (dims == nullptr && ndim != 0) return Status(StatusCode::null_pointer, "null dims with non-zero rank");
  const long long r = static_cast<long long>(ndim);
  const long long a = axis < 0 ? static_cast<long long>(axis) + r : static_cast<long long>(axis);
  if (ndim == 0 || a < 0 || a >= r) return Status(StatusCode::invalid_argument, "axis out of range for the rank", "axis", axis);
  const std::size_t ax = static_cast<std::size_t>(a);
  AxisLayout l;
  for (std::size_t d = 0; d < ndim; ++d) {
    std::size_t* part = d < ax ? &l.outer : (d == ax ? &l.channels : &l.inner);
    if (d == ax) *part = dims[d];
    else if (!checked_mul(*part, dims[d], part))
      return Status(StatusCode::size_overflow, "element count overflows size_t", "dims[d]", dims[d]);
  }
  if (!checked_mul3(l.outer, l.channels, l.inner, &l.total))
    return Status(StatusCode::size_overflow, "element count overflows size_t");
  std::size_t bytes = 0;
  if (!checked_mul(l.total, sizeof(float), &bytes))
    return Status(StatusCode::size_overflow, "byte count overflows size_t", "element count", l.total);
  *out = l;
  return Status::success();
}

inline Status check_count(std::size_t n) noexcept {
  std::size_t bytes = 0;
  if (!checked_mul(n, sizeof(float), &bytes)) return Status(StatusCode::size_overflow, "byte count overflows size_t", "n", n);
  return Status::success();
}

inline Status check_scales(const float* scales, std::size_t count) noexcept {
  if (scales == nullptr && count != 0) return Status(StatusCode::null_pointer, "null scales");
  for (std::size_t i = 0; i < count; ++i) QK_RETURN_IF_ERROR(check_scale(scales[i]));
  return Status::success();
}

inline Status check_zero_points(const std::int32_t* zps, std::size_t count, std::int32_t lo, std::int32_t hi) noexcept {
  if (zps == nullptr) return Status::success();  // all zero, and 0 is in every range
  for (std::size_t i = 0; i < count; ++i)
    if (zps[i] < lo || zps[i] > hi)
      return Status(StatusCode::invalid_argument, "zero point outside the integer range", "zero_point", zps[i]);
  return Status::success();
}

// [qmin, qmax] from the options, plus the rounding mode check.
template <class T>
Status quantize_range(const QuantizeOptions& opt, std::int32_t* qmin, std::int32_t* qmax) noexcept {
  if (opt.rounding != Rounding::half_to_even && opt.rounding != Rounding::half_away_from_zero)
    return Status(StatusCode::invalid_argument, "unknown rounding mode", "rounding", static_cast<int>(opt.rounding));
  return quant_range<T>(opt.bits, opt.narrow_range, qmin, qmax);
}

// Zero points accepted by dequantization of T.
template <class T>
void dequantize_zp_range(std::int32_t* lo, std::int32_t* hi) noexcept {
  if constexpr (storage_traits<T>::quantizable) {
    *lo = storage_traits<T>::lowest;
    *hi = storage_traits<T>::highest;
  } else {
    *lo = 0;
    *hi = 0;
  }
}

template <class T>
void quantize_run_any(const float* x, std::size_t n, const RunParams& p, storage_t<T>* y, std::size_t off,
                      Rounding rounding, bool simd) noexcept {
  if (rounding == Rounding::half_to_even)
    quantize_run<T, Rounding::half_to_even>(x, n, p, y, off, simd);
  else
    quantize_run<T, Rounding::half_away_from_zero>(x, n, p, y, off, simd);
}

// The drivers below assume validated arguments. Elements are visited in increasing order.

template <class T>
void quantize_per_axis_unchecked(const float* x, const AxisLayout& l, const float* scales, const std::int32_t* zps,
                                 std::int32_t qmin, std::int32_t qmax, storage_t<T>* y, Rounding rounding,
                                 bool simd) noexcept {
  for (std::size_t o = 0; o < l.outer; ++o) {
    const std::size_t base = o * l.channels * l.inner;
    if (l.inner == 1) {  // channels are contiguous: one run with a scale per element
      const RunParams p{scales, zps, true, qmin, qmax};
      quantize_run_any<T>(x + base, l.channels, p, y, base, rounding, simd);
    } else {
      for (std::size_t c = 0; c < l.channels; ++c) {
        const RunParams p{scales + c, zps == nullptr ? nullptr : zps + c, false, qmin, qmax};
        const std::size_t off = base + c * l.inner;
        quantize_run_any<T>(x + off, l.inner, p, y, off, rounding, simd);
      }
    }
  }
}

template <class T>
void dequantize_per_axis_unchecked(const storage_t<T>* q, const AxisLayout& l, const float* scales,
                                   const std::int32_t* zps, float* y, bool simd) noexcept {
  for (std::size_t o = 0; o < l.outer; ++o) {
    const std::size_t base = o * l.channels * l.inner;
    if (l.inner == 1) {
      const RunParams p{scales, zps, true, 0, 0};
      dequantize_run<T>(q, base, l.channels, p, y + base, simd);
    } else {
      for (std::size_t c = 0; c < l.channels; ++c) {
        const RunParams p{scales + c, zps == nullptr ? nullptr : zps + c, false, 0, 0};
        const std::size_t off = base + c * l.inner;
        dequantize_run<T>(q, off, l.inner, p, y + off, simd);
      }
    }
  }
}

// Blocked: scales have the input's shape with dims[axis] replaced by ceil(dims[axis] / block);
// element (o, c, i) uses scale (o, c / block, i).
template <class T>
void quantize_blocked_unchecked(const float* x, const AxisLayout& l, std::size_t block, const float* scales,
                                const std::int32_t* zps, std::int32_t qmin, std::int32_t qmax, storage_t<T>* y,
                                Rounding rounding, bool simd) noexcept {
  const std::size_t nb = div_up(l.channels, block);
  for (std::size_t o = 0; o < l.outer; ++o) {
    const std::size_t base = o * l.channels * l.inner;
    if (l.inner == 1) {  // a block is a contiguous run with one scale
      for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k = o * nb + b;
        const std::size_t c0 = b * block;
        const std::size_t len = l.channels - c0 < block ? l.channels - c0 : block;
        const RunParams p{scales + k, zps == nullptr ? nullptr : zps + k, false, qmin, qmax};
        quantize_run_any<T>(x + base + c0, len, p, y, base + c0, rounding, simd);
      }
    } else {  // a row along inner takes a row of scales
      for (std::size_t c = 0; c < l.channels; ++c) {
        const std::size_t k = (o * nb + c / block) * l.inner;
        const RunParams p{scales + k, zps == nullptr ? nullptr : zps + k, true, qmin, qmax};
        const std::size_t off = base + c * l.inner;
        quantize_run_any<T>(x + off, l.inner, p, y, off, rounding, simd);
      }
    }
  }
}

template <class T>
void dequantize_blocked_unchecked(const storage_t<T>* q, const AxisLayout& l, std::size_t block, const float* scales,
                                  const std::int32_t* zps, float* y, bool simd) noexcept {
  const std::size_t nb = div_up(l.channels, block);
  for (std::size_t o = 0; o < l.outer; ++o) {
    const std::size_t base = o * l.channels * l.inner;
    if (l.inner == 1) {
      for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k = o * nb + b;
        const std::size_t c0 = b * block;
        const std::size_t len = l.channels - c0 < block ? l.channels - c0 : block;
        const RunParams p{scales + k, zps == nullptr ? nullptr : zps + k, false, 0, 0};
        dequantize_run<T>(q, base + c0, len, p, y + base + c0, simd);
      }
    } else {
      for (std::size_t c = 0; c < l.channels; ++c) {
        const std::size_t k = (o * nb + c / block) * l.inner;
        const RunParams p{scales + k, zps == nullptr ? nullptr : zps + k, true, 0, 0};
        const std::size_t off = base + c * l.inner;
        dequantize_run<T>(q, off, l.inner, p, y + off, simd);
      }
    }
  }
}

inline Status blocked_scale_count(const AxisLayout& l, std::size_t block, std::size_t scale_count) noexcept {
  if (block == 0) return Status(StatusCode::bad_shape, "block size is 0", "block", block);
  std::size_t expected = 0;
  if (!checked_mul3(l.outer, div_up(l.channels, block), l.inner, &expected))
    return Status(StatusCode::size_overflow, "scale count overflows size_t", "block", block);
  if (expected != scale_count)
    return Status(StatusCode::bad_shape, "scale count does not match the shape and block size", "scale_count", scale_count);
  return Status::success();
}

// ---- The validated implementations, with the implementation choice explicit (tests use it). ----

template <class T>
Status quantize_impl(const float* x, std::size_t n, float scale, std::int32_t zero_point, storage_t<T>* y,
                     const QuantizeOptions& opt, bool simd) noexcept {
  std::int32_t qmin = 0, qmax = 0;
  QK_RETURN_IF_ERROR(quantize_range<T>(opt, &qmin, &qmax));
  QK_RETURN_IF_ERROR(check_count(n));
  if (n != 0 && (x == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "quantize: null data");
  QK_RETURN_IF_ERROR(check_scale(scale));
  QK_RETURN_IF_ERROR(check_zero_points(&zero_point, 1, qmin, qmax));
  const RunParams p{&scale, &zero_point, false, qmin, qmax};
  quantize_run_any<T>(x, n, p, y, 0, opt.rounding, simd);
  return Status::success();
}

template <class T>
Status dequantize_impl(const storage_t<T>* q, std::size_t n, float scale, std::int32_t zero_point, float* y,
                       bool simd) noexcept {
  QK_RETURN_IF_ERROR(check_count(n));
  if (n != 0 && (q == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "dequantize: null data");
  QK_RETURN_IF_ERROR(check_scale(scale));
  std::int32_t lo = 0, hi = 0;
  dequantize_zp_range<T>(&lo, &hi);
  QK_RETURN_IF_ERROR(check_zero_points(&zero_point, 1, lo, hi));
  const RunParams p{&scale, &zero_point, false, 0, 0};
  dequantize_run<T>(q, 0, n, p, y, simd);
  return Status::success();
}

template <class T>
Status quantize_per_axis_impl(const float* x, const std::size_t* dims, std::size_t ndim, int axis, const float* scales,
                              const std::int32_t* zero_points, std::size_t scale_count, storage_t<T>* y,
                              const QuantizeOptions& opt, bool simd) noexcept {
  std::int32_t qmin = 0, qmax = 0;
  QK_RETURN_IF_ERROR(quantize_range<T>(opt, &qmin, &qmax));
  AxisLayout l;
  QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, axis, &l));
  if (scale_count != l.channels) return Status(StatusCode::bad_shape, "scale count differs from dims[axis]", "scale_count", scale_count);
  if (l.total != 0 && (x == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "quantize: null data");
  QK_RETURN_IF_ERROR(check_scales(scales, scale_count));
  QK_RETURN_IF_ERROR(check_zero_points(zero_points, scale_count, qmin, qmax));
  if (l.total != 0) quantize_per_axis_unchecked<T>(x, l, scales, zero_points, qmin, qmax, y, opt.rounding, simd);
  return Status::success();
}

template <class T>
Status dequantize_per_axis_impl(const storage_t<T>* q, const std::size_t* dims, std::size_t ndim, int axis,
                                const float* scales, const std::int32_t* zero_points, std::size_t scale_count, float* y,
                                bool simd) noexcept {
  AxisLayout l;
  QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, axis, &l));
  if (scale_count != l.channels) return Status(StatusCode::bad_shape, "scale count differs from dims[axis]", "scale_count", scale_count);
  if (l.total != 0 && (q == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "dequantize: null data");
  QK_RETURN_IF_ERROR(check_scales(scales, scale_count));
  std::int32_t lo = 0, hi = 0;
  dequantize_zp_range<T>(&lo, &hi);
  QK_RETURN_IF_ERROR(check_zero_points(zero_points, scale_count, lo, hi));
  if (l.total != 0) dequantize_per_axis_unchecked<T>(q, l, scales, zero_points, y, simd);
  return Status::success();
}

template <class T>
Status quantize_blocked_impl(const float* x, const std::size_t* dims, std::size_t ndim, int axis,
                             std::size_t block_size, const float* scales, const std::int32_t* zero_points,
                             std::size_t scale_count, storage_t<T>* y, const QuantizeOptions& opt, bool simd) noexcept {
  std::int32_t qmin = 0, qmax = 0;
  QK_RETURN_IF_ERROR(quantize_range<T>(opt, &qmin, &qmax));
  AxisLayout l;
  QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, axis, &l));
  QK_RETURN_IF_ERROR(blocked_scale_count(l, block_size, scale_count));
  if (l.total != 0 && (x == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "quantize: null data");
  QK_RETURN_IF_ERROR(check_scales(scales, scale_count));
  QK_RETURN_IF_ERROR(check_zero_points(zero_points, scale_count, qmin, qmax));
  if (l.total != 0)
    quantize_blocked_unchecked<T>(x, l, block_size, scales, zero_points, qmin, qmax, y, opt.rounding, simd);
  return Status::success();
}

template <class T>
Status dequantize_blocked_impl(const storage_t<T>* q, const std::size_t* dims, std::size_t ndim, int axis,
                               std::size_t block_size, const float* scales, const std::int32_t* zero_points,
                               std::size_t scale_count, float* y, bool simd) noexcept {
  AxisLayout l;
  QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, axis, &l));
  QK_RETURN_IF_ERROR(blocked_scale_count(l, block_size, scale_count));
  if (l.total != 0 && (q == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "dequantize: null data");
  QK_RETURN_IF_ERROR(check_scales(scales, scale_count));
  std::int32_t lo = 0, hi = 0;
  dequantize_zp_range<T>(&lo, &hi);
  QK_RETURN_IF_ERROR(check_zero_points(zero_points, scale_count, lo, hi));
  if (l.total != 0) dequantize_blocked_unchecked<T>(q, l, block_size, scales, zero_points, y, simd);
  return Status::success();
}

}  // namespace detail

// ------------------------------------------------------------------------------------------------
// Per tensor.

// y[i] = clamp(round(x[i] / scale) + zero_point, qmin, qmax), [qmin, qmax] from opt (bits,
// narrow_range). T's storage: storage_bytes<T>(n) bytes at y.
template <class T>
Status quantize(const float* x, std::size_t n, float scale, std::int32_t zero_point, storage_t<T>* y,
                const QuantizeOptions& opt = {}) noexcept {
  return detail::quantize_impl<T>(x, n, scale, zero_point, y, opt, detail::use_simd());
}

// Same with parameters from choose_quant_params (its qmin / qmax are used: they must lie in T's
// range, and zero_point in [qmin, qmax]).
template <class T>
Status quantize(const float* x, std::size_t n, const QuantParams& p, storage_t<T>* y,
                Rounding rounding = Rounding::half_to_even) noexcept {
  using Tr = storage_traits<T>;
  static_assert(Tr::quantizable, "int32 is a dequantize-only storage type");
  if (p.qmin > p.qmax || p.qmin < Tr::lowest || p.qmax > Tr::highest)
    return Status(StatusCode::invalid_argument, "quantize: [qmin, qmax] is empty or outside the storage type", "qmin", p.qmin);
  if (rounding != Rounding::half_to_even && rounding != Rounding::half_away_from_zero)
    return Status(StatusCode::invalid_argument, "unknown rounding mode", "rounding", static_cast<int>(rounding));
  QK_RETURN_IF_ERROR(detail::check_count(n));
  if (n != 0 && (x == nullptr || y == nullptr)) return Status(StatusCode::null_pointer, "quantize: null data");
  QK_RETURN_IF_ERROR(detail::check_scale(p.scale));
  QK_RETURN_IF_ERROR(detail::check_zero_points(&p.zero_point, 1, p.qmin, p.qmax));
  const detail::RunParams rp{&p.scale, &p.zero_point, false, p.qmin, p.qmax};
  detail::quantize_run_any<T>(x, n, rp, y, 0, rounding, detail::use_simd());
  return Status::success();
}

// y[i] = scale * (q[i] - zero_point).
template <class T>
Status dequantize(const storage_t<T>* q, std::size_t n, float scale, std::int32_t zero_point, float* y) noexcept {
  return detail::dequantize_impl<T>(q, n, scale, zero_point, y, detail::use_simd());
}

// ------------------------------------------------------------------------------------------------
// Per axis: x has shape dims[0..ndim) (row-major), scales / zero_points one per index of
// dims[axis] (scale_count must equal dims[axis]); axis may be negative (ONNX: axis + ndim).
// zero_points may be null (all 0). TFLite per-channel: axis = quantized_dimension.

template <class T>
Status quantize_per_axis(const float* x, const std::size_t* dims, std::size_t ndim, int axis, const float* scales,
                         const std::int32_t* zero_points, std::size_t scale_count, storage_t<T>* y,
                         const QuantizeOptions& opt = {}) noexcept {
  return detail::quantize_per_axis_impl<T>(x, dims, ndim, axis, scales, zero_points, scale_count, y, opt,
                                           detail::use_simd());
}

template <class T>
Status dequantize_per_axis(const storage_t<T>* q, const std::size_t* dims, std::size_t ndim, int axis,
                           const float* scales, const std::int32_t* zero_points, std::size_t scale_count,
                           float* y) noexcept {
  return detail::dequantize_per_axis_impl<T>(q, dims, ndim, axis, scales, zero_points, scale_count, y,
                                             detail::use_simd());
}

// ------------------------------------------------------------------------------------------------
// Blocked (ONNX 21+ block_size): scales / zero_points have x's shape with dims[axis] replaced by
// ceil(dims[axis] / block_size), row-major; element (.., c, ..) along the axis uses block
// c / block_size. The last block may be short. scale_count must equal that shape's element count.

template <class T>
Status quantize_blocked(const float* x, const std::size_t* dims, std::size_t ndim, int axis, std::size_t block_size,
                        const float* scales, const std::int32_t* zero_points, std::size_t scale_count,
                        storage_t<T>* y, const QuantizeOptions& opt = {}) noexcept {
  return detail::quantize_blocked_impl<T>(x, dims, ndim, axis, block_size, scales, zero_points, scale_count, y, opt,
                                          detail::use_simd());
}

template <class T>
Status dequantize_blocked(const storage_t<T>* q, const std::size_t* dims, std::size_t ndim, int axis,
                          std::size_t block_size, const float* scales, const std::int32_t* zero_points,
                          std::size_t scale_count, float* y) noexcept {
  return detail::dequantize_blocked_impl<T>(q, dims, ndim, axis, block_size, scales, zero_points, scale_count, y,
                                            detail::use_simd());
}

// ------------------------------------------------------------------------------------------------
// ONNX DynamicQuantizeLinear: parameters from dynamic_quantize_linear_params, then
// quantization to uint8 with half-to-even rounding. scale / zero_point / y untouched on error.
inline Status dynamic_quantize_linear(const float* x, std::size_t n, std::uint8_t* y, float* scale,
                                      std::uint8_t* zero_point) noexcept {
  QK_RETURN_IF_ERROR(detail::check_count(n));
  if (n != 0 && y == nullptr) return Status(StatusCode::null_pointer, "dynamic_quantize_linear: null output");
  float s = 1.0f;
  std::uint8_t z = 0;
  QK_RETURN_IF_ERROR(dynamic_quantize_linear_params(x, n, &s, &z));
  if (scale == nullptr || zero_point == nullptr)
    return Status(StatusCode::null_pointer, "dynamic_quantize_linear: null scale or zero point output");
  QK_RETURN_IF_ERROR(quantize<std::uint8_t>(x, n, s, z, y));
  *scale = s;
  *zero_point = z;
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// 4-bit packing: out[i / 2] holds element i in its low nibble if i is even, high nibble if odd;
// an odd n leaves the last byte's high nibble 0. pack_*: values must be in [-8, 7] (int4) or
// [0, 15] (uint4), else invalid_argument and nothing written. out holds n / 2 + n % 2 bytes.

namespace detail {
template <class V, int Lo, int Hi>
Status pack_nibbles(const V* values, std::size_t n, std::uint8_t* out) noexcept {
  if (n != 0 && (values == nullptr || out == nullptr)) return Status(StatusCode::null_pointer, "pack: null data");
  for (std::size_t i = 0; i < n; ++i)
    if (values[i] < Lo || values[i] > Hi)
      return Status(StatusCode::invalid_argument, "pack: value outside the 4-bit range", "value", static_cast<int>(values[i]));
  const auto nib = [](V v) { return static_cast<std::uint32_t>(static_cast<std::uint8_t>(v)) & 0x0Fu; };
  std::size_t i = 0;
  for (; i + 1 < n; i += 2) out[i / 2] = static_cast<std::uint8_t>(nib(values[i]) | (nib(values[i + 1]) << 4));
  if (i < n) out[i / 2] = static_cast<std::uint8_t>(nib(values[i]));
  return Status::success();
}
}  // namespace detail

inline Status pack_int4(const std::int8_t* values, std::size_t n, std::uint8_t* out) noexcept {
  return detail::pack_nibbles<std::int8_t, -8, 7>(values, n, out);
}
inline Status pack_uint4(const std::uint8_t* values, std::size_t n, std::uint8_t* out) noexcept {
  return detail::pack_nibbles<std::uint8_t, 0, 15>(values, n, out);
}

// Unpacks n 4-bit values (sign-extended for int4). The high nibble of an odd n's last byte is ignored.
inline Status unpack_int4(const std::uint8_t* packed, std::size_t n, std::int8_t* out) noexcept {
  if (n != 0 && (packed == nullptr || out == nullptr)) return Status(StatusCode::null_pointer, "unpack: null data");
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t b = packed[i / 2];
    out[i] = static_cast<std::int8_t>(detail::nibble_value<int4>((i & 1u) != 0 ? b >> 4 : b & 0x0Fu));
  }
  return Status::success();
}
inline Status unpack_uint4(const std::uint8_t* packed, std::size_t n, std::uint8_t* out) noexcept {
  if (n != 0 && (packed == nullptr || out == nullptr)) return Status(StatusCode::null_pointer, "unpack: null data");
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t b = packed[i / 2];
    out[i] = static_cast<std::uint8_t>((i & 1u) != 0 ? b >> 4 : b & 0x0Fu);
  }
  return Status::success();
}

}  // namespace qk

#include "qk/quantize/int4.hpp"
