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
//    TFLite outputs (either rounding; the column kernel also ONNX's float requantization)
//    themselves with the per-channel constants hoisted per channel block for the whole row;
//    every other case calls the family's finish_row().
//
// The column kernel (`quad_run`, avx512vnni only; chosen at packing when every w' fits int8 and
// kernel_h <= 4, as with all TFLite weights). vpdpbusd sums four u8 x s8 products per int32
// lane; depthwise has no channel reduction, so the four bytes of a lane are the four kernel
// ROWS of one channel at one kernel column: the kernel interleaves the same 64 bytes of up to
// four input rows (vpunpck{l,h}bw then {l,h}wd) into a "column" of 4 vectors, and a column is
// shared by every output pixel whose window covers it (kernel_w of them at stride 1), so a
// 3x3 window costs one column (8 shuffles) and 12 vpdpbusd per 64 channels per pixel.
//  - rows are the same in_w * channels byte rows as the pair kernel's, read in place (the
//    input's rows, a zero-point row in the padding, or the driver's expanded rows for a channel
//    multiplier). The kernel xors every loaded byte with 0x80 for s8 inputs (x ^ 0x80 = x + 128
//    as u8, the unsigned operand vpdpbusd needs), and border columns, whose bytes partly or
//    wholly fall outside the row, take masked loads filled with `zero_point_bits`.
//  - a segment is 64 lanes: 64 channels of one pixel, or (`pair`: channels == 32, stride_w ==
//    1) the 32 channels of two adjacent output pixels. Lane j of a segment sits in vector
//    k = (j % 16) / 4, dword 4 * (j / 16) + j % 4: the order the unpacks produce, which the
//    saturating packs (packssdw then packsswb) narrow straight back to lane order.
//  - packed_w (int8): per segment, per kernel column kx, 4 vectors of 64 bytes in that order,
//    byte r of a dword holding w'[row r][kx] (zero for r >= kernel_h and for lanes past the
//    channels). packed_bias: per segment, the 4 x 16 int32 col_offset in the same order, where
//    col_offset = bias - zx' * sum_t w'_t with zx' = zx (+ 128 for s8 inputs); the same values
//    in channel order are epilogue.col_offset, for finish_row() on the stages the kernel does
//    not requantize itself.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_s8_contract.hpp"

namespace qk {
namespace kernels {

// Channel counts are padded to this many for the accumulator scratch and col_offset, so that
// every vector width (16 or 32 int16 lanes, 8 or 16 int32 lanes) reads whole vectors.
constexpr std::size_t kDepthwiseChannelPad = 64;  // (the column kernel stores 64-lane segments)

struct DepthwiseS8Args {
  std::size_t channels = 0;   // channels of each input and output pixel
  std::size_t taps = 0;       // kernel_h * kernel_w (not rounded)
  std::size_t kernel_h = 0;
  bool pair = false;          // column kernel: 64-lane segments are two pixels of 32 channels
  bool a_signed = false;
  std::uint8_t zero_point_bits = 0;  // the input zero point as stored (column kernel's padding)
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
  // The column kernel (see above), or null when the family has none.
  DepthwiseS8RowFn quad_run = nullptr;
};

}  // namespace kernels
}  // namespace qk
