// qk/kernels/depthwise_s8_contract.hpp - what a depthwise int8 convolution kernel receives.
//
// Depthwise convolution has no reduction over channels, so it cannot use the GEMM tiles: each
// output channel c of a pixel is sum_t x_t[c] * w_t[c] over the T taps of the window. It is
// memory bound, and the kernels here are built around the NHWC channel vector:
//  - one kernel call computes one whole output row. The driver (qk/conv.hpp) passes kernel_h
//    input-row pointers (a row of in_w pixels of `channels` bytes each; a row of the input zero
//    point where the row falls in the padding), and the row geometry. Interior pixels (every tap
//    inside the row, [ox_begin, ox_end)) address their taps as tap_base[t] + ox * stride * C: the
//    kernel computes T tap pointers once per row, not per pixel. Border pixels (at most a few
//    per row) build their T pointers one by one, padding taps pointing at `zero_row`;
//  - a channel multiplier > 1 is handled by the driver, which expands each input row to Cout
//    channels (x[c] repeated) so the kernel always sees in_c == out_c == channels;
//  - the weights are packed at layer creation as int16 w' = w - w_zero_point (in [-255, 255]),
//    and the constant part of the zero-point algebra is folded into col_offset:
//      acc[c] = sum_t x_t[c] * w'_t[c] + (bias[c] - x_zero_point * sum_t w'_t[c])
//    which equals sum_t (x_t[c] - zx) * (w_t[c] - zw[c]) + bias[c] in wrapping int32 arithmetic,
//    and padding taps (x = zx) contribute exactly nothing;
//  - x86 kernels widen activations to int16 and multiply pairs of taps with vpmaddwd (or
//    vpdpwssd): pair sums are at most 2 * 255 * 255, no saturation is possible, unlike
//    vpmaddubsw. Packed layout for a kernel with `block` channels per vector step: for each
//    block of `block` channels, for each tap pair p (T rounded up to even, the extra tap's weights
//    zero), `block` int32 words, each holding the int16 pair (w'[2p][ch], w'[2p+1][ch]); the
//    first block/2 words are channels (i/4)*8 + i%4 and the second block/2 are
//    (i/4)*8 + 4 + i%4, the order in which vpunpcklwd / vpunpckhwd interleave two tap vectors
//    within 128-bit lanes. `packed_bias` holds col_offset in that same order per block, so an
//    accumulator can start from it. block == 0 means the portable layout: int32 w'[t][channel],
//    no pairs.
//  - the epilogue is bit-identical to the GEMM's finish_row(): AVX-512 kernels requantize 8-bit
//    TFLite (double rounding) outputs themselves with the per-channel constants hoisted per
//    channel block for the whole row; every other case calls the family's finish_row().
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_s8_contract.hpp"

namespace qk {
namespace kernels {

// Channel counts are padded to this many for the accumulator scratch and col_offset, so that
// every vector width (16 or 32 int16 lanes, 8 or 16 int32 lanes) reads whole vectors.
constexpr std::size_t kDepthwiseChannelPad = 32;

struct DepthwiseS8Args {
  std::size_t channels = 0;   // channels of each input and output pixel
  std::size_t taps = 0;       // kernel_h * kernel_w (not rounded)
  bool a_signed = false;
  const void* packed_w = nullptr;              // layout per the kernel's block (see above)
  const std::int32_t* packed_bias = nullptr;   // col_offset in the packed channel order (block > 0)
  // Row geometry: output pixels [0, out_w); input pixel ix = ox * stride_w - pad_left + kx * dilation_w.
  std::size_t out_w = 0, in_w = 0, kernel_w = 0, stride_w = 1, dilation_w = 1, pad_left = 0;
  std::size_t ox_begin = 0, ox_end = 0;  // interior pixels: all taps inside [0, in_w)
  const std::uint8_t* zero_row = nullptr;  // in_w * channels bytes of the input zero point
  std::size_t out_pixel_bytes = 0;
  // Epilogue: n = channels, col_offset (channel order, padded to kDepthwiseChannelPad), out.
  GemmS8Args epilogue;
  // Scratch, per thread: taps pointers each, and round_up(channels, kDepthwiseChannelPad) int32
  // (64-byte aligned) for the accumulators handed to finish_row.
  const std::uint8_t** tap_ptrs = nullptr;
  const std::uint8_t** border_ptrs = nullptr;
  std::int32_t* acc = nullptr;
};

// Computes one output row: rows[ky] is the input row of kernel row ky (or a zero-point row),
// in_w * channels bytes; pixel ox is written at out + ox * out_pixel_bytes.
using DepthwiseS8RowFn = void (*)(const DepthwiseS8Args& args, const std::uint8_t* const* rows, std::uint8_t* out);

// Address of tap t of output pixel ox: the input pixel's channels, or zero_row in the padding.
inline const std::uint8_t* depthwise_tap(const DepthwiseS8Args& a, const std::uint8_t* const* rows, std::size_t ox,
                                         std::size_t t) noexcept {
  const std::size_t ky = t / a.kernel_w, kx = t % a.kernel_w;
  const std::ptrdiff_t ix = static_cast<std::ptrdiff_t>(ox * a.stride_w + kx * a.dilation_w) -
                            static_cast<std::ptrdiff_t>(a.pad_left);
  return ix >= 0 && ix < static_cast<std::ptrdiff_t>(a.in_w) ? rows[ky] + static_cast<std::size_t>(ix) * a.channels
                                                              : a.zero_row;
}

struct DepthwiseS8Kernel {
  Isa isa = Isa::scalar;
  std::uint32_t block = 0;  // channels per packed block; 0: portable int32 [tap][channel] layout
  DepthwiseS8RowFn run = nullptr;
};

}  // namespace kernels
}  // namespace qk
