// qk/kernels/depthwise_s8_contract.hpp - what a depthwise int8 convolution kernel receives.
//
// Depthwise convolution has no reduction over channels, so it cannot use the GEMM tiles: each
// output channel c of a pixel is sum_t x_t[c] * w_t[c] over the T taps of the window. It is
// memory bound, and the kernels here are built around the NHWC channel vector:
//  - the driver (qk/conv.hpp) hands the kernel one pointer per tap per output pixel (an
//    indirection buffer, as XNNPACK does): a pointer to the input pixel's channels, or to a row
//    filled with the input zero point where the tap falls in the padding. T is rounded up to an
//    even count (the extra tap points at that row and meets zero weights), so taps come in pairs;
//  - the weights are packed at layer creation as int16 w' = w - w_zero_point (in [-255, 255]),
//    and the constant part of the zero-point algebra is folded into col_offset:
//      acc[c] = sum_t x_t[c] * w'_t[c] + (bias[c] - x_zero_point * sum_t w'_t[c])
//    which equals sum_t (x_t[c] - zx) * (w_t[c] - zw[c]) + bias[c] in wrapping int32 arithmetic,
//    and padding taps (x = zx) contribute exactly nothing;
//  - x86 kernels widen activations to int16 and multiply pairs of taps with vpmaddwd (or
//    vpdpwssd): pair sums are at most 2 * 255 * 255, no saturation is possible, unlike
//    vpmaddubsw. Packed layout for a kernel with `block` channels per vector step: for each
//    block of `block` channels, for each tap pair p, `block` int32 words, each holding the
//    int16 pair (w'[2p][ch], w'[2p+1][ch]); the first block/2 words are channels
//    (i/4)*8 + i%4 and the second block/2 are (i/4)*8 + 4 + i%4, the order in which
//    vpunpcklwd / vpunpckhwd interleave two tap vectors within 128-bit lanes. block == 0 means the
//    portable layout: int32 w'[t][channel], no pairs.
//  - the epilogue is the GEMM's finish_row() for the same ISA (the kernel fills a GemmS8Args
//    whose single row is the output pixel), so requantization is bit-identical to the GEMM path.
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
  std::size_t channels = 0;   // output channels = bytes of each tap row the kernel reads
  std::size_t taps = 0;       // even: window taps rounded up to a pair
  bool a_signed = false;
  const void* packed_w = nullptr;  // layout per the kernel's block (see above)
  // Epilogue: n = channels, col_offset (padded to kDepthwiseChannelPad), out; c, m, ldc unused.
  GemmS8Args epilogue;
  std::int32_t* acc = nullptr;  // scratch: round_up(channels, kDepthwiseChannelPad) int32, 64-byte aligned
};

// Computes `pixels` output pixels: pixel i reads taps[i * args.taps + t] and is written at
// out + i * out_pixel_bytes.
using DepthwiseS8RowFn = void (*)(const DepthwiseS8Args& args, const std::uint8_t* const* taps, std::size_t pixels,
                                  std::uint8_t* out, std::size_t out_pixel_bytes);

struct DepthwiseS8Kernel {
  Isa isa = Isa::scalar;
  std::uint32_t block = 0;  // channels per packed block; 0: portable int32 [tap][channel] layout
  DepthwiseS8RowFn run = nullptr;
};

}  // namespace kernels
}  // namespace qk
