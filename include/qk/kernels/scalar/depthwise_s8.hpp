// qk/kernels/scalar/depthwise_s8.hpp - the portable depthwise int8 kernel (any CPU).
//
// Packed layout block 0: int32 w'[tap][channel]. Same contract as the SIMD kernels, so the
// driver's row setup and zero-point folding are exercised on every machine.
#pragma once

#include "qk/kernels/depthwise_s8_contract.hpp"

namespace qk {
namespace kernels {
namespace scalar {

inline void depthwise_s8_run(const DepthwiseS8Args& args, const std::uint8_t* const* rows, std::uint8_t* out) noexcept {
  const std::size_t c_count = args.channels, t_count = args.taps;
  const auto* w = static_cast<const std::int32_t*>(args.packed_w);
  GemmS8Args e = args.epilogue;
  e.ldc_bytes = 0;
  for (std::size_t ox = 0; ox < args.out_w; ++ox) {
    for (std::size_t c = 0; c < c_count; ++c) args.acc[c] = 0;
    for (std::size_t t = 0; t < t_count; ++t) {
      const std::uint8_t* x = depthwise_tap(args, rows, ox, t);
      const std::int32_t* wt = w + t * c_count;
      if (args.a_signed) {
        for (std::size_t c = 0; c < c_count; ++c)
          args.acc[c] = static_cast<std::int32_t>(static_cast<std::uint32_t>(args.acc[c]) +
                                                  static_cast<std::uint32_t>(static_cast<std::int8_t>(x[c]) * wt[c]));
      } else {
        for (std::size_t c = 0; c < c_count; ++c)
          args.acc[c] = static_cast<std::int32_t>(static_cast<std::uint32_t>(args.acc[c]) +
                                                  static_cast<std::uint32_t>(static_cast<std::int32_t>(x[c]) * wt[c]));
      }
    }
    e.c = out + ox * args.out_pixel_bytes;
    finish_row_scalar(e, 0, 0, c_count, args.acc, 0);  // no row term
  }
}

inline const DepthwiseS8Kernel& depthwise_s8_kernel() noexcept {
  static const DepthwiseS8Kernel kernel = {Isa::scalar, 0, &depthwise_s8_run};
  return kernel;
}

}  // namespace scalar
}  // namespace kernels
}  // namespace qk
