// qk/kernels/scalar/pool.hpp - the portable pooling family (any CPU) and the definition the SIMD
// families reproduce (kernels/pool_contract.hpp).
//
// Each output pixel accumulates its taps into per-channel int32 sums (max: maxima) over blocks
// of kChannelBlock channels on the stack; the loops are branch-free over channels and
// auto-vectorise at whatever ISA the including file is compiled for. The average's division is
// the exact integer one of the contract, done through the reciprocal 1/n in double:
// floor((a + 0.5) * (1/n)) equals floor(a / n) for every a < 2^31 and n < 2^23 (the product's
// error, below 2^-44, is far smaller than the 0.5/n distance of (a + 0.5)/n to an integer), and
// it vectorises (there is no vector integer division).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "qk/fixed_point.hpp"
#include "qk/kernels/pool_contract.hpp"
#include "qk/layers/detail/gemmlowp_fixed_point.hpp"

namespace qk {
namespace kernels {
namespace pool_scalar {

constexpr std::size_t kChannelBlock = 256;

// Round-half-away-from-zero s / n through r = 1/n (see the header comment).
inline std::int32_t divide_round(std::int32_t s, std::int32_t half, double r) noexcept {
  const std::int32_t a = s < 0 ? -s : s;
  const std::int32_t q = static_cast<std::int32_t>((static_cast<double>(a + half) + 0.5) * r);
  return s < 0 ? -q : q;
}

// Channels [c_begin, c_end) of output pixel ox of the row.
template <class T, bool IsMax>
void pixel(const PoolRowParams& p, std::size_t ox, std::size_t c_begin, std::size_t c_end) noexcept {
  const std::size_t C = p.channels;
  const T* image = reinterpret_cast<const T*>(p.image);
  T* out = reinterpret_cast<T*>(p.out) + ox * C;
  std::size_t x0 = 0, x1 = 0;
  pool_row_window(p, ox, &x0, &x1);
  const std::int32_t n = static_cast<std::int32_t>((p.y1 - p.y0) * (x1 - x0));
  const std::int32_t half = n / 2;
  const double r = 1.0 / static_cast<double>(n);
  const std::int32_t lo = p.act_min, hi = p.act_max;
  for (std::size_t c0 = c_begin; c0 < c_end; c0 += kChannelBlock) {
    const std::size_t cb = c_end - c0 < kChannelBlock ? c_end - c0 : kChannelBlock;
    std::int32_t acc[kChannelBlock];
    {
      const T* q = image + (p.y0 * p.in_w + x0) * C + c0;
      for (std::size_t c = 0; c < cb; ++c) acc[c] = q[c];
    }
    for (std::size_t iy = p.y0; iy < p.y1; ++iy) {
      for (std::size_t ix = (iy == p.y0 ? x0 + 1 : x0); ix < x1; ++ix) {
        const T* q = image + (iy * p.in_w + ix) * C + c0;
        if (IsMax) {
          for (std::size_t c = 0; c < cb; ++c) {
            const std::int32_t v = q[c];
            acc[c] = v > acc[c] ? v : acc[c];
          }
        } else {
          for (std::size_t c = 0; c < cb; ++c) acc[c] += q[c];
        }
      }
    }
    T* o = out + c0;
    for (std::size_t c = 0; c < cb; ++c) {
      std::int32_t v = acc[c];
      if (!IsMax)
        v = std::is_signed<T>::value ? divide_round(v, half, r)
                                     : static_cast<std::int32_t>((static_cast<double>(v + half) + 0.5) * r);
      v = v < lo ? lo : v;
      v = v > hi ? hi : v;
      o[c] = static_cast<T>(v);
    }
  }
}

template <bool IsMax>
inline void pixel_any(const PoolRowParams& p, std::size_t ox, std::size_t c_begin, std::size_t c_end) noexcept {
  if (p.is_signed)
    pixel<std::int8_t, IsMax>(p, ox, c_begin, c_end);
  else
    pixel<std::uint8_t, IsMax>(p, ox, c_begin, c_end);
}

inline void max_row(const PoolRowParams& p) noexcept {
  for (std::size_t ox = 0; ox < p.out_w; ++ox) pixel_any<true>(p, ox, 0, p.channels);
}
inline void average_row(const PoolRowParams& p) noexcept {
  for (std::size_t ox = 0; ox < p.out_w; ++ox) pixel_any<false>(p, ox, 0, p.channels);
}

template <class T>
void channel_sums_t(const T* x, std::size_t stride, std::size_t pixels, std::size_t channels, std::int32_t* acc) noexcept {
  for (std::size_t i = 0; i < pixels; ++i) {
    const T* q = x + i * stride;
    for (std::size_t c = 0; c < channels; ++c) acc[c] += q[c];
  }
}
inline void channel_sums(const std::uint8_t* x, std::size_t stride, std::size_t pixels, std::size_t channels,
                         bool is_signed, std::int32_t* acc) noexcept {
  if (is_signed)
    channel_sums_t(reinterpret_cast<const std::int8_t*>(x), stride, pixels, channels, acc);
  else
    channel_sums_t(x, stride, pixels, channels, acc);
}

// int8: the division by n through the reciprocal: floor((a + 0.5) / n) for a = |scaled| + n/2 <
// 2^33 and n < 2^23 is exact (error below 2^-19 / n, the distance to an integer at least 0.5/n).
inline void mean_output(const PoolMeanParams& p, const std::int32_t* acc, std::size_t channels, std::uint8_t* out) noexcept {
  const std::int64_t n = p.n;
  const std::int64_t tmin = p.is_signed ? -128 : 0, tmax = p.is_signed ? 127 : 255;
  for (std::size_t c = 0; c < channels; ++c) {
    std::int64_t v;
    if (p.is_signed) {
      // sum (x - zp) = sum x - n * zp: both below 2^31 in magnitude (the layer bounds n).
      const std::int32_t centred = acc[c] - p.n * p.zp_in;
      const std::int64_t scaled = multiply_by_quantized_multiplier_double_rounding(centred, p.multiplier, p.shift);
      const std::int64_t a = (scaled < 0 ? -scaled : scaled) + n / 2;
      const std::int64_t q = static_cast<std::int64_t>((static_cast<double>(a) + 0.5) * p.reciprocal);
      v = (scaled < 0 ? -q : q) + p.zp_out;
    } else {
      v = static_cast<std::int64_t>(multiply_by_quantized_multiplier_double_rounding(acc[c], p.multiplier, p.shift)) + p.bias;
    }
    v = v < tmin ? tmin : v;
    v = v > tmax ? tmax : v;
    out[c] = static_cast<std::uint8_t>(static_cast<std::int32_t>(v) & 0xff);
  }
}

// Softmax: one output from the table entry e (0 for a cut difference) and the row's reciprocal.
// Both operands are non-negative (scale in (1/2, 1], e in [0, 1)), where SRDHM is
// (scale * e + 2^30) >> 31 and RDPOT, ties away from zero, is (v + 2^(E-1)) >> E for every E in
// [1, 62]: TFLite's integers, in unsigned 64-bit lanes, defined for its exponents above 31 too.
inline std::int32_t softmax_output_value(std::int32_t e, std::int32_t scale, int exponent, std::int32_t lo,
                                         std::int32_t hi) noexcept {
  const std::uint64_t high = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(scale)) *
                                  static_cast<std::uint64_t>(static_cast<std::uint32_t>(e)) +
                              (std::uint64_t{1} << 30)) >> 31;
  const std::uint64_t rounded = (high + (std::uint64_t{1} << (exponent - 1))) >> exponent;  // < 2^32
  const std::int64_t v = static_cast<std::int64_t>(rounded) + lo;
  return static_cast<std::int32_t>(v > hi ? hi : v);
}
// The reciprocal of a row's 64-bit sum (saturated to int32, see qk/layers/softmax.hpp).
inline void softmax_reciprocal(std::int64_t sum, std::int32_t* scale, int* exponent) noexcept {
  const std::int32_t sum32 = sum > 2147483647 ? 2147483647 : static_cast<std::int32_t>(sum);
  int bits = 0;
  *scale = ::qk::detail::gemmlowp_fp::get_reciprocal(sum32, 12, &bits);
  *exponent = bits + 31 - 8;  // in [23, 34]: the sum is in [2^19, 2^31)
}

template <class T>
void softmax_rows_t(const std::int32_t* etab, const std::int32_t* term, const T* in, T* out, std::size_t begin,
                    std::size_t end, std::size_t n) noexcept {
  constexpr std::int32_t lo = std::is_signed<T>::value ? -128 : 0, hi = std::is_signed<T>::value ? 127 : 255;
  for (std::size_t r = begin; r < end; ++r) {
    const T* x = in + r * n;
    T* y = out + r * n;
    // The maximum in 16 independent lanes (GCC's SLP vectorises the fixed-width inner loop).
    T lanes[16];
    for (T& l : lanes) l = x[0];
    std::size_t c = 0;
    for (; c + 16 <= n; c += 16)
      for (std::size_t j = 0; j < 16; ++j) lanes[j] = x[c + j] > lanes[j] ? x[c + j] : lanes[j];
    for (; c < n; ++c) lanes[0] = x[c] > lanes[0] ? x[c] : lanes[0];
    T max = lanes[0];
    for (T l : lanes) max = l > max ? l : max;
    const std::int32_t m = max;
    std::int64_t sums[4] = {0, 0, 0, 0};
    c = 0;
    for (; c + 4 <= n; c += 4)
      for (std::size_t j = 0; j < 4; ++j) sums[j] += term[static_cast<std::size_t>(m - static_cast<std::int32_t>(x[c + j]))];
    for (; c < n; ++c) sums[0] += term[static_cast<std::size_t>(m - static_cast<std::int32_t>(x[c]))];
    std::int32_t scale = 0;
    int exponent = 0;
    softmax_reciprocal(sums[0] + sums[1] + sums[2] + sums[3], &scale, &exponent);
    if (n > 256) {
      T table[256];
      for (std::size_t i = 0; i < 256; ++i) table[i] = static_cast<T>(softmax_output_value(etab[i], scale, exponent, lo, hi));
      for (c = 0; c < n; ++c) y[c] = table[static_cast<std::size_t>(m - static_cast<std::int32_t>(x[c]))];
    } else {
      for (c = 0; c < n; ++c)
        y[c] = static_cast<T>(
            softmax_output_value(etab[static_cast<std::size_t>(m - static_cast<std::int32_t>(x[c]))], scale, exponent, lo, hi));
    }
  }
}
inline void softmax_rows(const std::int32_t* etab, const std::int32_t* term, const std::uint8_t* in, std::uint8_t* out,
                         std::size_t rows, std::size_t n, bool is_signed) noexcept {
  if (is_signed)
    softmax_rows_t(etab, term, reinterpret_cast<const std::int8_t*>(in), reinterpret_cast<std::int8_t*>(out), 0, rows, n);
  else
    softmax_rows_t(etab, term, in, out, 0, rows, n);
}

inline const PoolKernels& pool_kernels() noexcept {
  static constexpr PoolKernels k{"scalar", &max_row, &average_row, &channel_sums, &mean_output, &softmax_rows};
  return k;
}

}  // namespace pool_scalar
}  // namespace kernels
}  // namespace qk
