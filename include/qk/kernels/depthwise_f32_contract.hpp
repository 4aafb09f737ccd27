// qk/kernels/depthwise_f32_contract.hpp - the fp32 depthwise convolution kernel contract.
//
// NHWC input and output, channel multiplier 1 (groups == in_c == out_c), weights packed
// [tap][channel] (tap = ky * kernel_w + kx) so that a tap's channels are contiguous like the
// input's. A kernel computes output rows [row_begin, row_end), row u = n * out_h + oy:
//   y[n][oy][ox][c] = clamp(bias[c] + sum over taps inside the image of x[..][c] * w[tap][c], lo, hi)
// Taps outside the image contribute nothing (zero padding). Every ISA's kernel computes the same
// sums, but not necessarily in the same order: results match to float rounding, not bit for bit.
#pragma once

#include <cstddef>

#include "qk/core/isa.hpp"

namespace qk {
namespace kernels {

struct DepthwiseF32Args {
  const float* input = nullptr;    // batch x in_h x in_w x channels
  const float* weights = nullptr;  // [kernel_h * kernel_w][channels]
  const float* bias = nullptr;     // channels values (zeros where the layer has none)
  float* output = nullptr;         // batch x out_h x out_w x channels
  std::size_t channels = 0, in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  std::size_t kernel_h = 0, kernel_w = 0, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  std::size_t pad_top = 0, pad_left = 0;
  float lo = 0, hi = 0;
};

using DepthwiseF32RowsFn = void (*)(const DepthwiseF32Args& args, std::size_t row_begin, std::size_t row_end);

struct DepthwiseF32Kernel {
  Isa isa = Isa::scalar;
  DepthwiseF32RowsFn run = nullptr;
};

}  // namespace kernels
}  // namespace qk
