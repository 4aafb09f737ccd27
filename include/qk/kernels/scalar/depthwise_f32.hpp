// qk/kernels/scalar/depthwise_f32.hpp - portable fp32 depthwise kernel (depthwise_f32_contract.hpp):
// per output pixel, the taps in order, channels innermost (contiguous in NHWC and in the packed
// weights, so the compiler can vectorize it for its baseline target).
#pragma once

#include <cstddef>

#include "qk/kernels/depthwise_f32_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

inline void depthwise_f32_rows(const DepthwiseF32Args& a, std::size_t row_begin, std::size_t row_end) noexcept {
  const std::size_t C = a.channels;
  for (std::size_t u = row_begin; u < row_end; ++u) {
    const std::size_t n = u / a.out_h, oy = u % a.out_h;
    const float* image = a.input + n * a.in_h * a.in_w * C;
    float* out = a.output + u * a.out_w * C;
    for (std::size_t ox = 0; ox < a.out_w; ++ox, out += C) {
      for (std::size_t c = 0; c < C; ++c) out[c] = a.bias[c];
      for (std::size_t ky = 0; ky < a.kernel_h; ++ky) {
        const std::size_t iy = oy * a.stride_h + ky * a.dilation_h;  // + pad_top
        if (iy < a.pad_top || iy - a.pad_top >= a.in_h) continue;
        for (std::size_t kx = 0; kx < a.kernel_w; ++kx) {
          const std::size_t ix = ox * a.stride_w + kx * a.dilation_w;  // + pad_left
          if (ix < a.pad_left || ix - a.pad_left >= a.in_w) continue;
          const float* x = image + ((iy - a.pad_top) * a.in_w + (ix - a.pad_left)) * C;
          const float* w = a.weights + (ky * a.kernel_w + kx) * C;
          for (std::size_t c = 0; c < C; ++c) out[c] += w[c] * x[c];
        }
      }
      for (std::size_t c = 0; c < C; ++c) out[c] = out[c] < a.lo ? a.lo : out[c] > a.hi ? a.hi : out[c];
    }
  }
}

inline const DepthwiseF32Kernel& depthwise_f32_kernel() noexcept {
  static const DepthwiseF32Kernel kernel = {Isa::scalar, &depthwise_f32_rows};
  return kernel;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
