// qk/reference/conv.hpp - the definition of qk's int8 convolution, as plain loops.
//
// Every conv path (pointwise GEMM, gathered GEMM, depthwise, every ISA) must reproduce this bit
// for bit. It reads the weights in the user's layout, sums (x - zx) * (w - zw) over the taps
// inside the image (padding taps would add (zx - zx) * (w - zw) = 0) and the group's channels in
// wrapping 32-bit arithmetic, adds the bias, then applies detail::output_element(). int4
// weights (ElementType::s4) are read as their values, element i of the layout being nibble i
// (reference::weight_element): TFLite's int4 convolution is its int8 arithmetic on them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/conv.hpp"
#include "qk/core/output_stage.hpp"
#include "qk/reference/gemm.hpp"

namespace qk {
namespace reference {

// d must be valid (detail::validate_conv_desc); input [batch][in_h][in_w][in_c], output
// [batch][out_h][out_w][out_c] of out.type.
inline void conv2d_int8(const ConvS8Desc& d, std::size_t batch, const void* input, const OutputStage& out,
                        void* output) noexcept {
  const auto* x = static_cast<const std::uint8_t*>(input);
  const std::size_t oh = d.out_h(), ow = d.out_w(), cg = d.in_c / d.groups, cout_g = d.out_c / d.groups;
  const std::size_t esize = output_type_size(out.type);
  const bool x_signed = d.input_type == ElementType::s8;
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox) {
        auto* row = static_cast<std::uint8_t*>(output) + ((n * oh + oy) * ow + ox) * d.out_c * esize;
        for (std::size_t oc = 0; oc < d.out_c; ++oc) {
          const std::size_t g = oc / cout_g;
          const std::int32_t zw = detail::conv_weight_zero_point(d, oc);
          std::uint32_t acc = d.bias != nullptr ? static_cast<std::uint32_t>(d.bias[oc]) : 0u;
          for (std::size_t ky = 0; ky < d.kernel_h; ++ky) {
            const long long iy = static_cast<long long>(oy * d.stride_h + ky * d.dilation_h) - static_cast<long long>(d.pad_top);
            if (iy < 0 || iy >= static_cast<long long>(d.in_h)) continue;
            for (std::size_t kx = 0; kx < d.kernel_w; ++kx) {
              const long long ix =
                  static_cast<long long>(ox * d.stride_w + kx * d.dilation_w) - static_cast<long long>(d.pad_left);
              if (ix < 0 || ix >= static_cast<long long>(d.in_w)) continue;
              const std::uint8_t* px =
                  x + ((n * d.in_h + static_cast<std::size_t>(iy)) * d.in_w + static_cast<std::size_t>(ix)) * d.in_c + g * cg;
              for (std::size_t c = 0; c < cg; ++c) {
                const std::int32_t xv = x_signed ? static_cast<std::int8_t>(px[c]) : static_cast<std::int32_t>(px[c]);
                const std::int32_t wv =
                    weight_element(d.weights, detail::conv_weight_index(d, oc, ky, kx, c), d.weight_type);
                acc += static_cast<std::uint32_t>((xv - d.input_zero_point) * (wv - zw));
              }
            }
          }
          detail::output_element(static_cast<std::int32_t>(acc), oc, out, row, oc);
        }
      }
}

}  // namespace reference
}  // namespace qk
