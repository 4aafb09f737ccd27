// qk/quantize/kernels.hpp - the element-wise quantize / dequantize loops, scalar and xsimd.
//
// The scalar functions quantize_value / dequantize_value are the DEFINITION; the xsimd loops
// must equal them bit for bit (tests/quantize checks all tails, ties, extremes, NaN). Both work
// on "runs": contiguous elements that share one (scale, zero point) or that take one
// (scale, zero point) per element from arrays (per-axis and blocked quantization reduce to these
// two cases). Runs are processed in chunks of kChunk elements through an int32 stack buffer, so
// the SIMD arithmetic is written once for all storage types: a chunk is computed as int32, then
// narrowed (or packed into nibbles) by a plain loop, and vice versa for dequantization.
//
// No allocation, no exceptions. Preconditions (checked by the callers in qk/quantize.hpp):
// scales finite and > 0, zero points in [qmin, qmax], qmin <= qmax inside the storage range.
//
// Floating-point environment: the default one (round to nearest even). The code must not be
// compiled with -ffast-math (it relies on NaN tests and exact float operations).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qk/core/config.hpp"  // may define QK_QUANTIZE_NO_XSIMD (cores xsimd has nothing for)
#include "qk/quantize/params.hpp"

#if !defined(QK_QUANTIZE_NO_XSIMD)
#include <xsimd/xsimd.hpp>
#if !defined(XSIMD_NO_SUPPORTED_ARCHITECTURE)
#define QK_QUANTIZE_HAVE_XSIMD 1
#endif
#endif

namespace qk {
namespace detail {

// ---------------------------------------------------------------------------------------------
// Scalar definition.

// q = clamp(round(x / scale) + zp, qmin, qmax); NaN x -> zp.
// Before rounding, x / scale is clamped to [qmin - zp - 1, qmax - zp + 1]: integers, so the clamp
// cannot change the final result (rounding is monotone and fixes integers), and afterwards the
// float -> int conversion is always in range (converting NaN or an out-of-range float is UB).
template <Rounding R>
inline std::int32_t quantize_value(float x, float scale, std::int32_t zp, std::int32_t qmin,
                                   std::int32_t qmax) noexcept {
  float v = x / scale;
  if (std::isnan(v)) return zp;
  const float lo = static_cast<float>(qmin - zp) - 1.0f;
  const float hi = static_cast<float>(qmax - zp) + 1.0f;
  v = v < lo ? lo : (v > hi ? hi : v);
  const float r = R == Rounding::half_to_even ? std::nearbyint(v) : std::round(v);
  const std::int32_t q = static_cast<std::int32_t>(r) + zp;
  return q < qmin ? qmin : (q > qmax ? qmax : q);
}

// r = scale * (q - zp), the subtraction exact in int32 (|q|, |zp| <= 65535, or zp = 0 for int32),
// then one rounding to float, then one float multiply (ONNX: (x - zp).astype(float32) * scale).
inline float dequantize_value(std::int32_t q, float scale, std::int32_t zp) noexcept {
  return static_cast<float>(q - zp) * scale;
}

// ---------------------------------------------------------------------------------------------
// Storage access at an element offset: narrow / pack a chunk of int32, widen / unpack it back.
// 4-bit: element e lives in byte e/2, low nibble if e is even. Elements are always written in
// increasing order, so an odd element's low-nibble neighbour has already been written.

constexpr std::size_t kChunk = 64;
// Stands in for a null zero-point array (all zero points 0).
inline constexpr std::int32_t kZeroPoints[kChunk] = {};

template <class T>
inline void store_chunk(const std::int32_t* buf, std::size_t m, storage_t<T>* y, std::size_t off) noexcept {
  if constexpr (storage_traits<T>::packed) {
    std::size_t j = 0;
    if (m > 0 && (off & 1u) != 0) {
      std::uint8_t& b = y[off / 2];
      b = static_cast<std::uint8_t>((b & 0x0Fu) | ((static_cast<std::uint32_t>(buf[0]) & 0x0Fu) << 4));
      j = 1;
    }
    for (; j + 1 < m; j += 2) {
      y[(off + j) / 2] = static_cast<std::uint8_t>((static_cast<std::uint32_t>(buf[j]) & 0x0Fu) |
                                                   ((static_cast<std::uint32_t>(buf[j + 1]) & 0x0Fu) << 4));
    }
    if (j < m) y[(off + j) / 2] = static_cast<std::uint8_t>(static_cast<std::uint32_t>(buf[j]) & 0x0Fu);
  } else {
    storage_t<T>* dst = y + off;
    for (std::size_t j = 0; j < m; ++j) dst[j] = static_cast<storage_t<T>>(buf[j]);
  }
}

template <class T>
inline std::int32_t nibble_value(std::uint32_t nib) noexcept {
  if constexpr (storage_traits<T>::is_signed) return static_cast<std::int32_t>(nib ^ 8u) - 8;
  return static_cast<std::int32_t>(nib);
}

template <class T>
inline void load_chunk(const storage_t<T>* q, std::size_t off, std::size_t m, std::int32_t* buf) noexcept {
  if constexpr (storage_traits<T>::packed) {
    std::size_t j = 0;
    if (m > 0 && (off & 1u) != 0) {  // odd start: the high nibble of the first byte
      buf[0] = nibble_value<T>(static_cast<std::uint32_t>(q[off / 2]) >> 4);
      j = 1;
    }
    // Whole bytes, branch free (the compiler vectorizes this loop).
    const std::uint8_t* bytes = q + (off + j) / 2;
    const std::size_t pairs = (m - j) / 2;
    for (std::size_t k = 0; k < pairs; ++k) {
      const std::uint32_t byte = bytes[k];
      buf[j + 2 * k] = nibble_value<T>(byte & 0x0Fu);
      buf[j + 2 * k + 1] = nibble_value<T>(byte >> 4);
    }
    j += 2 * pairs;
    if (j < m) buf[j] = nibble_value<T>(static_cast<std::uint32_t>(q[(off + j) / 2]) & 0x0Fu);
  } else {
    const storage_t<T>* src = q + off;
    for (std::size_t j = 0; j < m; ++j) buf[j] = static_cast<std::int32_t>(src[j]);
  }
}

// Parameters of one run. per_element: scale[i], zp[i] for element i of the run (zp may be null:
// all zero); else scale[0], zp[0] (zp null: 0) for every element.
struct RunParams {
  const float* scale;
  const std::int32_t* zp;
  bool per_element;
  std::int32_t qmin;
  std::int32_t qmax;
};

// ---------------------------------------------------------------------------------------------
// Chunk arithmetic. m <= kChunk. s and z point at the chunk's own parameters (per element) or at
// the run's single parameters; z is never null here (callers substitute zeros).

template <Rounding R>
inline void quantize_chunk_scalar(const float* x, std::size_t m, const float* s, const std::int32_t* z,
                                  bool per_element, std::int32_t qmin, std::int32_t qmax,
                                  std::int32_t* buf) noexcept {
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t k = per_element ? j : 0;
    buf[j] = quantize_value<R>(x[j], s[k], z[k], qmin, qmax);
  }
}

inline void dequantize_chunk_scalar(const std::int32_t* buf, std::size_t m, const float* s, const std::int32_t* z,
                                    bool per_element, float* y) noexcept {
  for (std::size_t j = 0; j < m; ++j) {
    const std::size_t k = per_element ? j : 0;
    y[j] = dequantize_value(buf[j], s[k], z[k]);
  }
}

#if defined(QK_QUANTIZE_HAVE_XSIMD)
using fbatch = xsimd::batch<float>;
using ibatch = xsimd::batch<std::int32_t>;
constexpr std::size_t kLanes = fbatch::size;
static_assert(kChunk % kLanes == 0, "chunk must be a whole number of batches");

// Correctly rounded float division. xsimd 8.1 (Debian 12) has no float division of its own for
// neon64: it falls back to its ARMv7 NEON code, a reciprocal estimate refined by two
// Newton-Raphson steps, which is off by an ulp often enough to move a quantized value across a
// rounding boundary (found by the bit-exactness test under qemu-aarch64). AArch64 has an IEEE
// FDIV on vectors; use it there.
inline fbatch divide(fbatch a, fbatch b) noexcept {
#if defined(__aarch64__) && XSIMD_WITH_NEON64
  return fbatch(vdivq_f32(a, b));
#else
  return a / b;
#endif
}

// One batch of quantize_value. Operation for operation the scalar definition:
//  - NaN -> 0 before the clamp, which then gives exactly zp;
//  - clamp to [qmin - zp - 1, qmax - zp + 1] (float, exact: all small integers);
//  - half to even: cvtps2dq-style conversion in the default rounding mode (= nearbyint);
//    half away from zero: truncate, then add +-1 when the exact fraction v - trunc(v) reaches
//    +-0.5 (= std::round);
//  - + zp and the final clamp in float (exact integers), then an exact conversion.
template <Rounding R>
inline ibatch quantize_batch(fbatch x, fbatch s, fbatch zf, fbatch qminf, fbatch qmaxf) noexcept {
  const fbatch one(1.0f);
  fbatch v = divide(x, s);
  v = xsimd::select(xsimd::isnan(v), fbatch(0.0f), v);
  v = xsimd::min(xsimd::max(v, qminf - zf - one), qmaxf - zf + one);
  fbatch r;
  if constexpr (R == Rounding::half_to_even) {
    r = xsimd::batch_cast<float>(xsimd::nearbyint_as_int(v));
  } else {
    const fbatch t = xsimd::batch_cast<float>(xsimd::batch_cast<std::int32_t>(v));
    const fbatch frac = v - t;
    const fbatch zero(0.0f);
    r = t + xsimd::select(frac >= fbatch(0.5f), one, zero) - xsimd::select(frac <= fbatch(-0.5f), one, zero);
  }
  r = xsimd::min(xsimd::max(r + zf, qminf), qmaxf);
  return xsimd::batch_cast<std::int32_t>(r);
}

template <Rounding R>
inline void quantize_chunk_simd(const float* x, std::size_t m, const float* s, const std::int32_t* z,
                                bool per_element, std::int32_t qmin, std::int32_t qmax,
                                std::int32_t* buf) noexcept {
  const fbatch qminf(static_cast<float>(qmin));
  const fbatch qmaxf(static_cast<float>(qmax));
  const fbatch s_uniform(s[0]);
  const fbatch z_uniform(static_cast<float>(z[0]));
  std::size_t j = 0;
  for (; j + kLanes <= m; j += kLanes) {
    const fbatch xb = fbatch::load_unaligned(x + j);
    const fbatch sb = per_element ? fbatch::load_unaligned(s + j) : s_uniform;
    const fbatch zb = per_element ? xsimd::batch_cast<float>(ibatch::load_unaligned(z + j)) : z_uniform;
    quantize_batch<R>(xb, sb, zb, qminf, qmaxf).store_unaligned(buf + j);
  }
  if (j < m) {
    // Tail: pad to a whole batch (x = 0, scale = 1, zp = 0 in the unused lanes), keep m - j lanes.
    alignas(64) float xt[kLanes] = {};
    alignas(64) float st[kLanes];
    alignas(64) std::int32_t zt[kLanes] = {};
    alignas(64) std::int32_t qt[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) st[l] = per_element ? 1.0f : s[0];
    for (std::size_t l = 0; j + l < m; ++l) {
      xt[l] = x[j + l];
      st[l] = per_element ? s[j + l] : s[0];
      zt[l] = per_element ? z[j + l] : z[0];
    }
    const fbatch zb = xsimd::batch_cast<float>(ibatch::load_aligned(zt));
    quantize_batch<R>(fbatch::load_aligned(xt), fbatch::load_aligned(st), zb, qminf, qmaxf).store_aligned(qt);
    for (std::size_t l = 0; j + l < m; ++l) buf[j + l] = qt[l];
  }
}

inline fbatch dequantize_batch(ibatch q, fbatch s, ibatch z) noexcept {
  return xsimd::batch_cast<float>(q - z) * s;
}

inline void dequantize_chunk_simd(const std::int32_t* buf, std::size_t m, const float* s, const std::int32_t* z,
                                  bool per_element, float* y) noexcept {
  const fbatch s_uniform(s[0]);
  const ibatch z_uniform(z[0]);
  std::size_t j = 0;
  for (; j + kLanes <= m; j += kLanes) {
    const fbatch sb = per_element ? fbatch::load_unaligned(s + j) : s_uniform;
    const ibatch zb = per_element ? ibatch::load_unaligned(z + j) : z_uniform;
    dequantize_batch(ibatch::load_unaligned(buf + j), sb, zb).store_unaligned(y + j);
  }
  if (j < m) {
    alignas(64) std::int32_t qt[kLanes] = {};
    alignas(64) float st[kLanes];
    alignas(64) std::int32_t zt[kLanes] = {};
    alignas(64) float yt[kLanes];
    for (std::size_t l = 0; l < kLanes; ++l) st[l] = per_element ? 1.0f : s[0];
    for (std::size_t l = 0; j + l < m; ++l) {
      qt[l] = buf[j + l];
      st[l] = per_element ? s[j + l] : s[0];
      zt[l] = per_element ? z[j + l] : z[0];
    }
    dequantize_batch(ibatch::load_aligned(qt), fbatch::load_aligned(st), ibatch::load_aligned(zt)).store_aligned(yt);
    for (std::size_t l = 0; j + l < m; ++l) y[j + l] = yt[l];
  }
}
#endif  // QK_QUANTIZE_HAVE_XSIMD

// Whether this build has a vector path at all (else "simd" silently means scalar).
constexpr bool kQuantizeHasSimd =
#if defined(QK_QUANTIZE_HAVE_XSIMD)
    true;
#else
    false;
#endif

// ---------------------------------------------------------------------------------------------
// Runs. x / y hold the run's own elements; `off` is the run's element offset in the storage
// buffer (needed for nibble packing).

template <class T, Rounding R>
inline void quantize_run(const float* x, std::size_t n, const RunParams& p, storage_t<T>* y, std::size_t off,
                         bool simd) noexcept {
  alignas(64) std::int32_t buf[kChunk];
  for (std::size_t i = 0; i < n; i += kChunk) {
    const std::size_t m = n - i < kChunk ? n - i : kChunk;
    const float* s = p.per_element ? p.scale + i : p.scale;
    const std::int32_t* z = p.zp == nullptr ? kZeroPoints : (p.per_element ? p.zp + i : p.zp);
#if defined(QK_QUANTIZE_HAVE_XSIMD)
    if (simd)
      quantize_chunk_simd<R>(x + i, m, s, z, p.per_element, p.qmin, p.qmax, buf);
    else
#endif
      quantize_chunk_scalar<R>(x + i, m, s, z, p.per_element, p.qmin, p.qmax, buf);
    store_chunk<T>(buf, m, y, off + i);
  }
  (void)simd;
}

template <class T>
inline void dequantize_run(const storage_t<T>* q, std::size_t off, std::size_t n, const RunParams& p, float* y,
                           bool simd) noexcept {
  alignas(64) std::int32_t buf[kChunk];
  for (std::size_t i = 0; i < n; i += kChunk) {
    const std::size_t m = n - i < kChunk ? n - i : kChunk;
    const float* s = p.per_element ? p.scale + i : p.scale;
    const std::int32_t* z = p.zp == nullptr ? kZeroPoints : (p.per_element ? p.zp + i : p.zp);
    load_chunk<T>(q, off + i, m, buf);
#if defined(QK_QUANTIZE_HAVE_XSIMD)
    if (simd)
      dequantize_chunk_simd(buf, m, s, z, p.per_element, y + i);
    else
#endif
      dequantize_chunk_scalar(buf, m, s, z, p.per_element, y + i);
  }
  (void)simd;
}

}  // namespace detail
}  // namespace qk
