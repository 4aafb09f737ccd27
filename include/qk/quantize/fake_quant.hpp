// qk/quantize/fake_quant.hpp - quantization-aware-training primitives, bit-exact with PyTorch 1.13
// (CPU, float32): fake quantization per tensor and per channel with their straight-through
// backward, and the learnable (LSQ) variants with scale / zero-point gradients.
//
// Why bit-exact and not "close": a QAT model trained in PyTorch and fine-tuned or checked here
// must see the same rounding decisions; one element that rounds the other way at a tie changes a
// gradient by a whole quantization step. So every formula below copies PyTorch's float operation
// order, its conversions (float vs double, integer promotion) and its quirks; docs/qat.md lists
// them and tests/quantize/test_fake_quant.cpp checks them against vectors written by PyTorch.
//
// Conventions (as the rest of qk): no allocation, no exceptions, every entry point validates all
// of its inputs before it writes anything, so a non-ok Status means nothing was written.
// Per-channel layouts are outer x channels x inner (the `axis` of PyTorch is the middle one):
// element (o, c, i) lives at (o * channels + c) * inner + i.
// Masks are one byte per element, 1 = the element was inside [quant_min, quant_max] before the
// clamp (PyTorch's bool `cachemask`).
//
// Floating-point environment: the default one (round to nearest even). Must not be compiled with
// -ffast-math. In PyTorch's LSQ gradient kernels two a*b+c expressions come out fused in the
// binary (its AVX2 kernels are built with FMA available and GCC contracts by default): checked
// against PyTorch's results, see detail::lsq_grad_elem. We call std::fma for exactly those two,
// and no other expression here has a multiply feeding an add, so our own compiler's contraction
// setting cannot change a result (the tests also pass built with -march=native).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qk/core/status.hpp"
#include "qk/quantize/params.hpp"

namespace qk {
namespace detail {

// PyTorch converts float -> int64 with a plain static_cast. On x86-64 (cvttss2si) a value
// outside [-2^63, 2^63) and NaN become INT64_MIN; PyTorch's results for huge inputs, infinities
// and NaN follow from that (e.g. +inf fake-quantizes to quant_min). We reproduce that result
// on every architecture, without the undefined behaviour of the C++ conversion.
inline std::int64_t fq_to_int64(float f) noexcept {
  constexpr float two63 = 9223372036854775808.0f;  // 2^63, exact in float
  if (!(f >= -two63 && f < two63)) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(f);
}

// Validation shared by every entry point. Order of the checks = order of the reported error.
inline Status fq_check_range(std::int32_t quant_min, std::int32_t quant_max) noexcept {
  if (quant_min > quant_max)
    return Status(StatusCode::invalid_argument, "fake_quantize: quant_min > quant_max", "quant_min", quant_min);
  return Status::success();
}

inline Status fq_check_zero_point(std::int32_t zp, std::int32_t quant_min, std::int32_t quant_max) noexcept {
  if (zp < quant_min || zp > quant_max)
    return Status(StatusCode::invalid_argument, "fake_quantize: zero point outside [quant_min, quant_max]",
                  "zero_point", zp);
  return Status::success();
}

// The per-element forward of fake_quantize_per_tensor_affine (and of the per-channel op with
// int32 zero points, which uses the same expression):
//   inv = 1.0f / scale                       (float; computed once by the caller)
//   qf  = float(zp) + nearbyint(x * inv)     (product rounded to float, ties to even, int + float
//                                             is a float addition)
//   q   = int64(qf)                          (fq_to_int64)
//   mask = quant_min <= q <= quant_max
//   y   = float(double(clamp(q) - zp) * double(scale))
// PyTorch computes the last line in double (std::fmin/fmax of integers promote to double) and
// stores to float: one rounding of the exact product, so it equals a float multiply whenever
// clamp(q) - zp is exact in float, but we keep the double form so that any int32 range matches.
struct FqElem {
  float y;
  bool inside;
};

inline FqElem fq_forward_elem(float x, float scale, float inv_scale, std::int32_t zp, std::int32_t quant_min,
                              std::int32_t quant_max) noexcept {
  const float qf = static_cast<float>(zp) + std::nearbyint(x * inv_scale);
  const std::int64_t q = fq_to_int64(qf);
  const bool inside = quant_min <= q && q <= quant_max;
  const std::int64_t qc = q < quant_min ? quant_min : (q > quant_max ? quant_max : q);
  const double d = static_cast<double>(qc - zp) * static_cast<double>(scale);
  return {static_cast<float>(d), inside};
}

// PyTorch's backward multiplies dY by the bool mask as floats: dY * 1.0f or dY * 0.0f, so a
// negative dY outside the range gives -0.0f and an infinite or NaN dY gives NaN. Kept as a
// multiply for bit equality.
inline float fq_ste(float dy, bool inside) noexcept { return dy * (inside ? 1.0f : 0.0f); }

// The LSQ gradient of one element (PyTorch's learnable-grad kernel), zp and the two clamp
// slopes converted as PyTorch does:
//   qf   = fma(x, inv, float(zp))             NOTE: zp added BEFORE rounding, unlike the forward,
//                                             and fused (one rounding) in PyTorch's binary
//   q    = int64(nearbyint(qf))
//   dx   = dy * (q inside)
//   inside:  dscale = ((dy * fma(float(q - zp), scale, -x)) * inv) * g
//                     (source: xfq = float(q - zp) * scale; (xfq - x) ...; fused in the binary)
//            dzp    = 0
//   outside: dscale = (dy * (q < qmin ? qmin - zp : qmax - zp)) * g
//            dzp    = ((dy * -1) * scale) * g
// zp is the per-tensor kernel's int64 zero point, converted to float where it meets a float.
struct LsqGrad {
  float dx;
  float dscale;
  float dzp;
};

inline LsqGrad lsq_grad_elem(float x, float dy, float scale, float inv_scale, std::int32_t zp, std::int32_t quant_min,
                             std::int32_t quant_max, float grad_factor) noexcept {
  const float qf = std::fma(x, inv_scale, static_cast<float>(zp));
  const std::int64_t q = fq_to_int64(std::nearbyint(qf));
  const bool inside = q >= quant_min && q <= quant_max;
  LsqGrad g;
  g.dx = fq_ste(dy, inside);
  if (!inside) {
    g.dzp = dy * -1.0f * scale * grad_factor;
    // The slopes are integer differences converted once to float.
    const float slope = q < quant_min ? static_cast<float>(std::int64_t{quant_min} - zp)
                                      : static_cast<float>(std::int64_t{quant_max} - zp);
    g.dscale = dy * slope * grad_factor;
  } else {
    // inside: clamp(q) = q; the integer difference is converted to float, then x * s - x fused.
    const float err = std::fma(static_cast<float>(q - zp), scale, -x);
    g.dzp = 0.0f;
    g.dscale = dy * err * inv_scale * grad_factor;
  }
  return g;
}

// The per-channel LSQ kernel (fake_quantize_learnable_channel_grad_kernel_cpu) holds the zero
// point as a float (already rounded and clamped, so an integer value zpf) and mixes it with
// integers in float: slopes float(qmin) - zpf and float(qmax) - zpf, and float(q) - zpf inside.
// Otherwise the same expressions, fused in the same two places (checked against PyTorch).
inline LsqGrad lsq_channel_grad_elem(float x, float dy, float scale, float inv_scale, float zpf,
                                     std::int32_t quant_min, std::int32_t quant_max, float grad_factor) noexcept {
  const float qf = std::fma(x, inv_scale, zpf);
  const std::int64_t q = fq_to_int64(std::nearbyint(qf));
  const bool inside = q >= quant_min && q <= quant_max;
  LsqGrad g;
  g.dx = fq_ste(dy, inside);
  if (!inside) {
    g.dzp = dy * -1.0f * scale * grad_factor;
    const float slope = q < quant_min ? static_cast<float>(quant_min) - zpf : static_cast<float>(quant_max) - zpf;
    g.dscale = dy * slope * grad_factor;
  } else {
    const float err = std::fma(static_cast<float>(q) - zpf, scale, -x);
    g.dzp = 0.0f;
    g.dscale = dy * err * inv_scale * grad_factor;
  }
  return g;
}

// PyTorch 1.13's float sum of a contiguous tensor (aten SumKernel cascade_sum, the serial path
// taken below 32768 elements, vector width 8 as on AVX2 and the default build): the input is
// read as vectors of 8 lanes; groups of 4 vectors are added into 4 vector accumulators with a
// 4-level cascade (level 0 takes 16 groups, then carries into level 1, ...); the leftover vectors
// go into accumulator 0, accumulators 1..3 are added to 0; the scalar tail (n mod 8 elements) is
// summed from 0 first and then the 8 lanes are added in lane order. Fewer than 8 elements: the
// same scheme on scalars (4 accumulators, tail into accumulator 0). Reproducing it makes the
// summed LSQ gradients bit-exact for n < 32768; above that PyTorch splits the sum over threads.
template <std::size_t L>
struct CascadeAcc {
  float v[L];
};

template <std::size_t L>
inline CascadeAcc<L> cascade_load(const float* p) noexcept {
  CascadeAcc<L> r;
  for (std::size_t l = 0; l < L; ++l) r.v[l] = p[l];
  return r;
}

// multi_row_sum with 4 rows: rows are groups of 4 consecutive blocks of L floats.
template <std::size_t L>
inline void cascade_multi_row(const float* x, std::size_t groups, CascadeAcc<L> out[4]) noexcept {
  constexpr std::size_t kLevels = 4;
  std::size_t clog = 0;  // ceil(log2(groups))
  while ((std::size_t{1} << clog) < groups) ++clog;
  const std::size_t power = clog / kLevels > 4 ? clog / kLevels : 4;
  const std::size_t step = std::size_t{1} << power;
  const std::size_t mask = step - 1;
  CascadeAcc<L> acc[kLevels][4];
  for (auto& level : acc)
    for (auto& a : level)
      for (std::size_t l = 0; l < L; ++l) a.v[l] = 0.0f;
  std::size_t i = 0;
  while (i + step <= groups) {
    for (std::size_t j = 0; j < step; ++j, ++i)
      for (std::size_t k = 0; k < 4; ++k)
        for (std::size_t l = 0; l < L; ++l) acc[0][k].v[l] += x[(i * 4 + k) * L + l];
    for (std::size_t j = 1; j < kLevels; ++j) {
      for (std::size_t k = 0; k < 4; ++k)
        for (std::size_t l = 0; l < L; ++l) {
          acc[j][k].v[l] += acc[j - 1][k].v[l];
          acc[j - 1][k].v[l] = 0.0f;
        }
      if ((i & (mask << (j * power))) != 0) break;
    }
  }
  for (; i < groups; ++i)
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t l = 0; l < L; ++l) acc[0][k].v[l] += x[(i * 4 + k) * L + l];
  for (std::size_t j = 1; j < kLevels; ++j)
    for (std::size_t k = 0; k < 4; ++k)
      for (std::size_t l = 0; l < L; ++l) acc[0][k].v[l] += acc[j][k].v[l];
  for (std::size_t k = 0; k < 4; ++k) out[k] = acc[0][k];
}

// row_sum: blocks of L floats, ILP factor 4.
template <std::size_t L>
inline CascadeAcc<L> cascade_row_sum(const float* x, std::size_t blocks) noexcept {
  const std::size_t groups = blocks / 4;
  CascadeAcc<L> part[4];
  cascade_multi_row<L>(x, groups, part);
  for (std::size_t b = groups * 4; b < blocks; ++b)
    for (std::size_t l = 0; l < L; ++l) part[0].v[l] += x[b * L + l];
  for (std::size_t k = 1; k < 4; ++k)
    for (std::size_t l = 0; l < L; ++l) part[0].v[l] += part[k].v[l];
  return part[0];
}

}  // namespace detail

// The sum of x[0..n) in PyTorch 1.13's order (see detail::cascade_multi_row). x may be null
// when n = 0 (sum 0).
inline float pytorch_sum(const float* x, std::size_t n) noexcept {
  constexpr std::size_t kLanes = 8;
  if (n == 0 || x == nullptr) return 0.0f;
  float total = 0.0f;
  if (n < kLanes) {
    total = detail::cascade_row_sum<1>(x, n).v[0];
  } else {
    const std::size_t vecs = n / kLanes;
    const detail::CascadeAcc<kLanes> acc = detail::cascade_row_sum<kLanes>(x, vecs);
    float tail = 0.0f;
    for (std::size_t k = vecs * kLanes; k < n; ++k) tail += x[k];
    for (std::size_t l = 0; l < kLanes; ++l) tail += acc.v[l];
    total = tail;
  }
  // PyTorch accumulates into an output filled with zero: 0 + s (turns a -0 sum into +0).
  return 0.0f + total;
}

// ---------------------------------------------------------------------------------------------
// Fake quantization per tensor (torch.fake_quantize_per_tensor_affine, float32 on CPU).
//
//   y[i]    = (clamp(zp + nearbyint(x[i] * (1.0f / scale)), quant_min, quant_max) - zp) * scale
//   mask[i] = the unclamped value was inside [quant_min, quant_max]
// mask may be null (not written). x may equal y (in place). Errors (nothing written): scale NaN,
// infinite, zero or negative; quant_min > quant_max; zero_point outside [quant_min, quant_max];
// null x or y with n > 0.
inline Status fake_quantize_per_tensor_affine(const float* x, std::size_t n, float scale, std::int32_t zero_point,
                                              std::int32_t quant_min, std::int32_t quant_max, float* y,
                                              std::uint8_t* mask) noexcept {
  QK_RETURN_IF_ERROR(detail::check_scale(scale));
  QK_RETURN_IF_ERROR(detail::fq_check_range(quant_min, quant_max));
  QK_RETURN_IF_ERROR(detail::fq_check_zero_point(zero_point, quant_min, quant_max));
  if (n != 0 && (x == nullptr || y == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_per_tensor_affine: null x or y");
  const float inv_scale = 1.0f / scale;  // PyTorch: 1.0f / sc in float, then a multiply
  for (std::size_t i = 0; i < n; ++i) {
    const detail::FqElem e = detail::fq_forward_elem(x[i], scale, inv_scale, zero_point, quant_min, quant_max);
    y[i] = e.y;
    if (mask != nullptr) mask[i] = e.inside ? 1 : 0;
  }
  return Status::success();
}

// Straight-through backward from a mask: dx[i] = dy[i] * (mask[i] ? 1.0f : 0.0f) (a multiply, as
// PyTorch's dY * mask: -0.0f for a negative dy outside, NaN for an infinite dy outside).
// Errors: null dy, mask or dx with n > 0. dx may equal dy.
inline Status fake_quantize_backward_from_mask(const float* dy, const std::uint8_t* mask, std::size_t n,
                                               float* dx) noexcept {
  if (n != 0 && (dy == nullptr || mask == nullptr || dx == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_backward_from_mask: null dy, mask or dx");
  for (std::size_t i = 0; i < n; ++i) dx[i] = detail::fq_ste(dy[i], mask[i] != 0);
  return Status::success();
}

// Straight-through backward recomputing the mask from x (same result as the forward's mask):
// dx[i] = dy[i] where quant_min <= zp + nearbyint(x[i] * (1/scale)) <= quant_max, else dy*0.
// Errors as the forward, plus null dy. dx may equal dy or x.
inline Status fake_quantize_per_tensor_affine_backward(const float* dy, const float* x, std::size_t n, float scale,
                                                       std::int32_t zero_point, std::int32_t quant_min,
                                                       std::int32_t quant_max, float* dx) noexcept {
  QK_RETURN_IF_ERROR(detail::check_scale(scale));
  QK_RETURN_IF_ERROR(detail::fq_check_range(quant_min, quant_max));
  QK_RETURN_IF_ERROR(detail::fq_check_zero_point(zero_point, quant_min, quant_max));
  if (n != 0 && (dy == nullptr || x == nullptr || dx == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_per_tensor_affine_backward: null dy, x or dx");
  const float inv_scale = 1.0f / scale;
  for (std::size_t i = 0; i < n; ++i) {
    const detail::FqElem e = detail::fq_forward_elem(x[i], scale, inv_scale, zero_point, quant_min, quant_max);
    dx[i] = detail::fq_ste(dy[i], e.inside);
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// Fake quantization per channel (torch.fake_quantize_per_channel_affine with int32 zero points).
// Shape outer x channels x inner; scales[c], zero_points[c] for c < channels, and num_params must
// equal channels (it is the length of the caller's scale / zero-point arrays: a mismatch is
// PyTorch's "dimensions of scale and zero-point are not consistent with input tensor").
// Same element formula as per tensor, with inv = 1.0f / scales[c] per channel.
// Errors (nothing written): num_params != channels or outer*channels*inner overflowing size_t
// (bad_shape / size_overflow); any scale invalid or zero point outside the range
// (invalid_argument, the first offending channel reported); quant_min > quant_max; null
// pointers with a non-empty tensor (scales and zero points are required when channels > 0).
namespace detail {
inline Status fq_check_channels(const char* what, std::size_t outer, std::size_t channels, std::size_t inner,
                                std::size_t num_params, const float* scales, const std::int32_t* zero_points,
                                std::int32_t quant_min, std::int32_t quant_max, std::size_t* total) noexcept {
  if (num_params != channels)
    return Status(StatusCode::bad_shape, what, "num_params", static_cast<unsigned long long>(num_params));
  std::size_t t = 0;
  if (channels != 0 && outer > std::numeric_limits<std::size_t>::max() / channels)
    return Status(StatusCode::size_overflow, "fake_quantize per channel: element count overflows", "outer",
                  static_cast<unsigned long long>(outer));
  t = outer * channels;
  if (inner != 0 && t > std::numeric_limits<std::size_t>::max() / inner)
    return Status(StatusCode::size_overflow, "fake_quantize per channel: element count overflows", "inner",
                  static_cast<unsigned long long>(inner));
  t *= inner;
  QK_RETURN_IF_ERROR(fq_check_range(quant_min, quant_max));
  if (channels != 0 && (scales == nullptr || zero_points == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize per channel: null scales or zero points");
  for (std::size_t c = 0; c < channels; ++c) {
    QK_RETURN_IF_ERROR(check_scale(scales[c]));
    QK_RETURN_IF_ERROR(fq_check_zero_point(zero_points[c], quant_min, quant_max));
  }
  *total = t;
  return Status::success();
}

// The outer count the loops run, re-derived from the checked total rather than the caller's
// `outer`: GCC (aarch64, -O2) inlines a call whose outer*channels*inner overflows, does not see
// that the check returned first, and reports the loop's index overflow as undefined behaviour
// (-Waggressive-loop-optimizations, an error under -Werror). Equal to outer whenever the check
// passed and channels, inner > 0; 0 otherwise (the loops then have nothing to do).
inline std::size_t fq_outer(std::size_t total, std::size_t channels, std::size_t inner) noexcept {
  return channels == 0 || inner == 0 ? 0 : total / channels / inner;
}
}  // namespace detail

inline Status fake_quantize_per_channel_affine(const float* x, std::size_t outer, std::size_t channels,
                                               std::size_t inner, const float* scales,
                                               const std::int32_t* zero_points, std::size_t num_params,
                                               std::int32_t quant_min, std::int32_t quant_max, float* y,
                                               std::uint8_t* mask) noexcept {
  std::size_t total = 0;
  QK_RETURN_IF_ERROR(detail::fq_check_channels("fake_quantize_per_channel_affine: num_params != channels", outer,
                                               channels, inner, num_params, scales, zero_points, quant_min,
                                               quant_max, &total));
  if (total != 0 && (x == nullptr || y == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_per_channel_affine: null x or y");
  for (std::size_t o = 0, outer_n = detail::fq_outer(total, channels, inner); o < outer_n; ++o)
    for (std::size_t c = 0; c < channels; ++c) {
      const float s = scales[c];
      const float inv = 1.0f / s;  // per element in PyTorch; same value
      const std::size_t base = (o * channels + c) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        const detail::FqElem e = detail::fq_forward_elem(x[base + i], s, inv, zero_points[c], quant_min, quant_max);
        y[base + i] = e.y;
        if (mask != nullptr) mask[base + i] = e.inside ? 1 : 0;
      }
    }
  return Status::success();
}

// Straight-through backward per channel, mask recomputed from x. Errors as the forward plus null dy.
inline Status fake_quantize_per_channel_affine_backward(const float* dy, const float* x, std::size_t outer,
                                                        std::size_t channels, std::size_t inner,
                                                        const float* scales, const std::int32_t* zero_points,
                                                        std::size_t num_params, std::int32_t quant_min,
                                                        std::int32_t quant_max, float* dx) noexcept {
  std::size_t total = 0;
  QK_RETURN_IF_ERROR(detail::fq_check_channels("fake_quantize_per_channel_affine_backward: num_params != channels",
                                               outer, channels, inner, num_params, scales, zero_points, quant_min,
                                               quant_max, &total));
  if (total != 0 && (dy == nullptr || x == nullptr || dx == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_per_channel_affine_backward: null dy, x or dx");
  for (std::size_t o = 0, outer_n = detail::fq_outer(total, channels, inner); o < outer_n; ++o)
    for (std::size_t c = 0; c < channels; ++c) {
      const float s = scales[c];
      const float inv = 1.0f / s;
      const std::size_t base = (o * channels + c) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        const detail::FqElem e = detail::fq_forward_elem(x[base + i], s, inv, zero_points[c], quant_min, quant_max);
        dx[base + i] = detail::fq_ste(dy[base + i], e.inside);
      }
    }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// Learnable fake quantization per tensor (LSQ; torch._fake_quantize_learnable_per_tensor_affine).
// The zero point is a float parameter. PyTorch rounds it DIFFERENTLY in the two passes:
//   forward:  zp = int(clamp(nearbyint(zero_point), quant_min, quant_max))   (ties to even)
//   backward: zp = int(clamp(zero_point + 0.5f, quant_min, quant_max))      (truncation toward 0,
//             so -2.5 -> -2 and 2.5 -> 3 where the forward gives -2 and 2)
// The two helpers below expose both so that callers and tests can see them.
inline std::int32_t lsq_forward_zero_point(float zero_point, std::int32_t quant_min, std::int32_t quant_max) noexcept {
  float z = std::nearbyint(zero_point);
  z = z < static_cast<float>(quant_min) ? static_cast<float>(quant_min) : z;
  z = z > static_cast<float>(quant_max) ? static_cast<float>(quant_max) : z;
  return static_cast<std::int32_t>(z);
}
inline std::int32_t lsq_backward_zero_point(float zero_point, std::int32_t quant_min, std::int32_t quant_max) noexcept {
  float z = zero_point + 0.5f;
  z = z < static_cast<float>(quant_min) ? static_cast<float>(quant_min) : z;
  z = z > static_cast<float>(quant_max) ? static_cast<float>(quant_max) : z;
  return static_cast<std::int32_t>(z);
}

namespace detail {
// What the two LSQ backward passes need beyond the forward's checks: the zero-point gradient
// formula assumes the range contains 0, and g scales every gradient.
inline Status lsq_check_backward(std::int32_t quant_min, std::int32_t quant_max, float grad_factor) noexcept {
  if (quant_min > 0 || quant_max < 0)
    return Status(StatusCode::invalid_argument, "fake_quantize_learnable backward: range must contain 0",
                  "quant_min", quant_min);
  if (!std::isfinite(grad_factor))
    return Status(StatusCode::invalid_argument, "fake_quantize_learnable backward: grad_factor not finite",
                  "grad_factor", grad_factor);
  return Status::success();
}

inline Status lsq_check(float scale, float zero_point, std::int32_t quant_min, std::int32_t quant_max) noexcept {
  QK_RETURN_IF_ERROR(check_scale(scale));
  QK_RETURN_IF_ERROR(fq_check_range(quant_min, quant_max));
  if (!std::isfinite(zero_point))
    return Status(StatusCode::invalid_argument, "fake_quantize_learnable: zero point is NaN or infinite",
                  "zero_point", zero_point);
  return Status::success();
}
}  // namespace detail

// Forward: fake_quantize_per_tensor_affine with the forward-rounded zero point. mask may be null.
// Errors: as fake_quantize_per_tensor_affine, and a NaN or infinite zero_point.
inline Status fake_quantize_learnable_per_tensor_affine(const float* x, std::size_t n, float scale,
                                                        float zero_point, std::int32_t quant_min,
                                                        std::int32_t quant_max, float* y,
                                                        std::uint8_t* mask) noexcept {
  QK_RETURN_IF_ERROR(detail::lsq_check(scale, zero_point, quant_min, quant_max));
  return fake_quantize_per_tensor_affine(x, n, scale, lsq_forward_zero_point(zero_point, quant_min, quant_max),
                                         quant_min, quant_max, y, mask);
}

// Backward. Per element (detail::lsq_grad_elem, zp = lsq_backward_zero_point(zero_point)):
//   dx[i], dscale_elem[i], dzp_elem[i]
// and the parameter gradients as PyTorch returns them:
//   *dscale = pytorch_sum(dscale_elem), *dzero_point = pytorch_sum(dzp_elem)
// grad_factor is LSQ's g (PyTorch's _LearnableFakeQuantize passes 1/sqrt(numel * quant_max) when
// use_grad_scaling, else 1), used as a float. dscale_elem and dzp_elem are caller buffers of n
// floats (the per-element contributions, and the scratch for the sums: qk does not allocate);
// dx, dscale_elem and dzp_elem may not be null when n > 0; dscale and dzero_point may be null.
// With n = 0 the sums are 0.
// Errors (nothing written): as the forward, and PyTorch's requirement quant_min <= 0 <= quant_max
// (invalid_argument), and a non-finite grad_factor.
inline Status fake_quantize_learnable_per_tensor_affine_backward(
    const float* dy, const float* x, std::size_t n, float scale, float zero_point, std::int32_t quant_min,
    std::int32_t quant_max, float grad_factor, float* dx, float* dscale_elem, float* dzp_elem, float* dscale,
    float* dzero_point) noexcept {
  QK_RETURN_IF_ERROR(detail::lsq_check(scale, zero_point, quant_min, quant_max));
  QK_RETURN_IF_ERROR(detail::lsq_check_backward(quant_min, quant_max, grad_factor));
  if (n != 0 && (dy == nullptr || x == nullptr || dx == nullptr || dscale_elem == nullptr || dzp_elem == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_learnable_per_tensor_affine_backward: null pointer");
  const float inv_scale = 1.0f / scale;
  const std::int32_t zp = lsq_backward_zero_point(zero_point, quant_min, quant_max);
  for (std::size_t i = 0; i < n; ++i) {
    const detail::LsqGrad g =
        detail::lsq_grad_elem(x[i], dy[i], scale, inv_scale, zp, quant_min, quant_max, grad_factor);
    dx[i] = g.dx;
    dscale_elem[i] = g.dscale;
    dzp_elem[i] = g.dzp;
  }
  if (dscale != nullptr) *dscale = pytorch_sum(dscale_elem, n);
  if (dzero_point != nullptr) *dzero_point = pytorch_sum(dzp_elem, n);
  return Status::success();
}


// ---------------------------------------------------------------------------------------------
// Learnable fake quantization per channel (torch._fake_quantize_learnable_per_channel_affine),
// float zero points. PyTorch rounds them the same way in both passes here:
//   zp[c] = clamp(nearbyint(zero_points[c]), quant_min, quant_max)   (torch.round: ties to even)
// (as an int32 in the forward, kept as a float in the backward). Layout and num_params as
// fake_quantize_per_channel_affine.
namespace detail {
inline Status lsq_check_channels(std::size_t outer, std::size_t channels, std::size_t inner, std::size_t num_params,
                                 const float* scales, const float* zero_points, std::int32_t quant_min,
                                 std::int32_t quant_max, std::size_t* total) noexcept {
  if (num_params != channels)
    return Status(StatusCode::bad_shape, "fake_quantize_learnable_per_channel_affine: num_params != channels",
                  "num_params", static_cast<unsigned long long>(num_params));
  if (channels != 0 && outer > std::numeric_limits<std::size_t>::max() / channels)
    return Status(StatusCode::size_overflow, "fake_quantize_learnable_per_channel_affine: element count overflows",
                  "outer", static_cast<unsigned long long>(outer));
  std::size_t t = outer * channels;
  if (inner != 0 && t > std::numeric_limits<std::size_t>::max() / inner)
    return Status(StatusCode::size_overflow, "fake_quantize_learnable_per_channel_affine: element count overflows",
                  "inner", static_cast<unsigned long long>(inner));
  t *= inner;
  QK_RETURN_IF_ERROR(fq_check_range(quant_min, quant_max));
  if (channels != 0 && (scales == nullptr || zero_points == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_learnable_per_channel_affine: null scales or zero points");
  for (std::size_t c = 0; c < channels; ++c) {
    QK_RETURN_IF_ERROR(check_scale(scales[c]));
    if (!std::isfinite(zero_points[c]))
      return Status(StatusCode::invalid_argument, "fake_quantize_learnable: zero point is NaN or infinite",
                    "zero_point", zero_points[c]);
  }
  *total = t;
  return Status::success();
}
}  // namespace detail

// Forward: fake_quantize_per_channel_affine with the rounded zero points. mask may be null.
inline Status fake_quantize_learnable_per_channel_affine(const float* x, std::size_t outer, std::size_t channels,
                                                         std::size_t inner, const float* scales,
                                                         const float* zero_points, std::size_t num_params,
                                                         std::int32_t quant_min, std::int32_t quant_max, float* y,
                                                         std::uint8_t* mask) noexcept {
  std::size_t total = 0;
  QK_RETURN_IF_ERROR(detail::lsq_check_channels(outer, channels, inner, num_params, scales, zero_points, quant_min,
                                                quant_max, &total));
  if (total != 0 && (x == nullptr || y == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_learnable_per_channel_affine: null x or y");
  for (std::size_t o = 0, outer_n = detail::fq_outer(total, channels, inner); o < outer_n; ++o)
    for (std::size_t c = 0; c < channels; ++c) {
      const float s = scales[c];
      const float inv = 1.0f / s;
      const std::int32_t zp = lsq_forward_zero_point(zero_points[c], quant_min, quant_max);
      const std::size_t base = (o * channels + c) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        const detail::FqElem e = detail::fq_forward_elem(x[base + i], s, inv, zp, quant_min, quant_max);
        y[base + i] = e.y;
        if (mask != nullptr) mask[base + i] = e.inside ? 1 : 0;
      }
    }
  return Status::success();
}

// Backward: dx and the per-element contributions dscale_elem, dzp_elem (caller buffers of
// outer*channels*inner floats, same layout as x), and, when dscale / dzero_point are not null,
// the per-channel gradients (arrays of `channels` floats):
//   dscale[c] = sum over o of pytorch_sum(dscale_elem[o][c][0..inner))   (o ascending, from 0)
// which is the order of PyTorch's reduction over the non-channel axes for the shapes the tests
// use (outer < 16); in general it is a documented order, not PyTorch's: see docs/qat.md.
// Errors as the forward, plus quant_min <= 0 <= quant_max and a finite grad_factor.
inline Status fake_quantize_learnable_per_channel_affine_backward(
    const float* dy, const float* x, std::size_t outer, std::size_t channels, std::size_t inner, const float* scales,
    const float* zero_points, std::size_t num_params, std::int32_t quant_min, std::int32_t quant_max,
    float grad_factor, float* dx, float* dscale_elem, float* dzp_elem, float* dscale, float* dzero_point) noexcept {
  std::size_t total = 0;
  QK_RETURN_IF_ERROR(detail::lsq_check_channels(outer, channels, inner, num_params, scales, zero_points, quant_min,
                                                quant_max, &total));
  QK_RETURN_IF_ERROR(detail::lsq_check_backward(quant_min, quant_max, grad_factor));
  if (total != 0 && (dy == nullptr || x == nullptr || dx == nullptr || dscale_elem == nullptr || dzp_elem == nullptr))
    return Status(StatusCode::null_pointer, "fake_quantize_learnable_per_channel_affine_backward: null pointer");
  for (std::size_t o = 0, outer_n = detail::fq_outer(total, channels, inner); o < outer_n; ++o)
    for (std::size_t c = 0; c < channels; ++c) {
      const float s = scales[c];
      const float inv = 1.0f / s;
      const float zpf = static_cast<float>(lsq_forward_zero_point(zero_points[c], quant_min, quant_max));
      const std::size_t base = (o * channels + c) * inner;
      for (std::size_t i = 0; i < inner; ++i) {
        const detail::LsqGrad g = detail::lsq_channel_grad_elem(x[base + i], dy[base + i], s, inv, zpf, quant_min,
                                                                quant_max, grad_factor);
        dx[base + i] = g.dx;
        dscale_elem[base + i] = g.dscale;
        dzp_elem[base + i] = g.dzp;
      }
    }
  for (std::size_t c = 0; c < channels; ++c) {
    float ds = 0.0f, dz = 0.0f;
    for (std::size_t o = 0, outer_n = detail::fq_outer(total, channels, inner); o < outer_n; ++o) {
      const std::size_t base = (o * channels + c) * inner;
      ds += pytorch_sum(dscale_elem + base, inner);
      dz += pytorch_sum(dzp_elem + base, inner);
    }
    if (dscale != nullptr) dscale[c] = ds;
    if (dzero_point != nullptr) dzero_point[c] = dz;
  }
  return Status::success();
}

}  // namespace qk
