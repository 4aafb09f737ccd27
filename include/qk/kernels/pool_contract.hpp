// qk/kernels/pool_contract.hpp - what a pooling kernel family (kernels/pool_registry.hpp)
// promises and receives: one output row of MaxPool2D / AveragePool2D (qk/layers/pool.hpp), and
// the per-channel sums of GlobalAveragePool.
//
// Data are bytes: int8 (`is_signed`) or uint8, NHWC, channels contiguous. No allocation, no
// failure: the layer validates the geometry and passes in-range parameters.
//
// Arithmetic, bit for bit (kernels/scalar/pool.hpp is the definition; the SIMD families are
// compared with it on every ISA by tests/layers/test_layer_pool_kernels.cpp):
//  - max: out = clamp(max of the window's image taps, act_min, act_max).
//  - average: s = sum of the window's n image taps; out = clamp(s > 0 ? (s + n/2) / n :
//    (s - n/2) / n in C's truncating division, act_min, act_max) (TFLite's rounding).
//    The SIMD families divide with `divisors` (below): floor(a / n) for a = |s| + n/2 as
//    (a * mult >> 16) >> shift in 16-bit lanes, used only where make_pool_divisors verified it
//    for every a the window can produce (`exact`); other counts take the scalar division.
//  - global sums: acc[c] += sum over the pixels of x[c] (int32; the layer bounds H*W).
//  - mean output (GlobalAveragePool, qk/layers/pool.hpp's header gives TFLite's formulas): int8:
//    clamp(round_half_away(MBQM(acc - n * zp_in) / n) + zp_out); uint8: clamp(MBQM(acc) + bias),
//    MBQM = qk::multiply_by_quantized_multiplier_double_rounding.
//  - softmax rows (qk/layers/softmax.hpp; the family hosts it: the same ISA choice, registry and
//    tests): per row of n, d = max - x, sum = sum of term[d] (saturated to int32), (scale, bits) =
//    gemmlowp GetReciprocal(sum, 12), out = min(((scale * exp[d] + 2^30) >> 31 + 2^(E-1)) >> E
//    + type minimum, type maximum), E = bits + 23. `in` may equal `out`.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qk {
namespace kernels {

// floor(a / n) = (a * mult >> 16) >> shift for every a in [0, 255 * n + n / 2] (n <= 255).
struct PoolDivisor {
  std::uint16_t mult = 0;
  std::uint8_t shift = 0;
  std::uint8_t exact = 0;  // 1: verified exhaustively; 0: use the exact scalar division
};
constexpr std::size_t kPoolMaxVectorTaps = 255;  // int16 lanes hold 255 taps of int8 or uint8
struct PoolDivisors {
  PoolDivisor d[kPoolMaxVectorTaps + 1];  // index n = tap count
};

// The multiplier/shift of each count up to max_taps (capped at 255), each checked against the
// integer division for every dividend the sum of n int8 or uint8 taps plus n/2 can take.
inline void make_pool_divisors(std::size_t max_taps, PoolDivisors* out) noexcept {
  *out = PoolDivisors{};
  const std::size_t top = max_taps < kPoolMaxVectorTaps ? max_taps : kPoolMaxVectorTaps;
  for (std::uint32_t n = 1; n <= top; ++n) {
    // The largest shift whose rounded-up multiplier 2^(16+shift)/n still fits 16 bits.
    int best = -1;
    std::uint32_t mult = 0;
    for (int sh = 15; sh >= 0; --sh) {
      const std::uint64_t pow = std::uint64_t{1} << (16 + sh);
      const std::uint64_t m = (pow + n - 1) / n;
      if (m <= 0xffffu) {
        best = sh;
        mult = static_cast<std::uint32_t>(m);
        break;
      }
    }
    if (best < 0) continue;
    const std::uint32_t amax = 255u * n + n / 2;
    bool ok = true;
    for (std::uint32_t a = 0; a <= amax && ok; ++a) ok = (((a * mult) >> 16) >> best) == a / n;
    if (!ok) continue;
    out->d[n].mult = static_cast<std::uint16_t>(mult);
    out->d[n].shift = static_cast<std::uint8_t>(best);
    out->d[n].exact = 1;
  }
}

// One output row of 2-D pooling.
struct PoolRowParams {
  const std::uint8_t* image = nullptr;  // the batch's input image, in_h x in_w x channels
  std::uint8_t* out = nullptr;          // the output row, out_w x channels
  std::size_t in_w = 0, channels = 0, out_w = 0;
  std::size_t y0 = 0, y1 = 0;           // the window's image rows [y0, y1), clipped, non-empty
  std::size_t filter_x = 1, stride_x = 1, pad_left = 0;
  std::int32_t act_min = -128, act_max = 127;
  bool is_signed = true;
  const PoolDivisors* divisors = nullptr;  // average only
};

// Image columns [x0, x1) of output column ox (non-empty: the layer requires pad < filter).
inline void pool_row_window(const PoolRowParams& p, std::size_t ox, std::size_t* x0, std::size_t* x1) noexcept {
  const std::size_t start = ox * p.stride_x;
  *x0 = start < p.pad_left ? 0 : start - p.pad_left;
  const std::size_t stop = start + p.filter_x - p.pad_left;  // >= 1: pad_left < filter_x
  *x1 = stop > p.in_w ? p.in_w : stop;
}

using PoolRowFn = void (*)(const PoolRowParams& p);
// acc[c] += sum_{i < pixels} x[i * pixel_stride + c] for c < channels.
using PoolSumFn = void (*)(const std::uint8_t* x, std::size_t pixel_stride, std::size_t pixels, std::size_t channels,
                           bool is_signed, std::int32_t* acc);

struct PoolMeanParams {
  std::int32_t multiplier = 0, shift = 0;  // double rounding
  std::int32_t zp_in = 0, zp_out = 0, bias = 0;
  std::int32_t n = 1;                      // H * W, at most 2^23 - 1
  double reciprocal = 1.0;                 // 1.0 / n
  bool is_signed = true;
};
// out[c] for c < channels from acc[c] (the sums of raw values).
using PoolMeanFn = void (*)(const PoolMeanParams& p, const std::int32_t* acc, std::size_t channels, std::uint8_t* out);

// The layer's tables for d = 0..255: exp[d] in Q0.31 (0 where d is cut), term[d] = RDPOT(exp, 12).
using SoftmaxRowsFn = void (*)(const std::int32_t* etab, const std::int32_t* term, const std::uint8_t* in, std::uint8_t* out,
                               std::size_t rows, std::size_t n, bool is_signed);

struct PoolKernels {
  const char* name;
  PoolRowFn max_row;
  PoolRowFn average_row;
  PoolSumFn channel_sums;
  PoolMeanFn mean_output;
  SoftmaxRowsFn softmax_rows;
};

}  // namespace kernels
}  // namespace qk
