// qk/kernels/gemm_q4_contract.hpp - blockwise 4-bit weights: the arithmetic every family
// reproduces bit for bit, the packed layout, and what a kernel family receives.
//
// Weights W[n][k] = (u[n][k] - zp[n][b]) * w_scale[n][b], b = k / B (block size B, a power of two
// in [16, 256]); u in [0, 15] (signed nibbles q in [-8, 7] are stored as u = q + 8, zp = 8).
//
// (a) W4A8 dynamic ("s4b"): each row of A is quantized per block of B to int8 at run time,
//     symmetric, with ONNX Runtime's MLAS arithmetic (QuantizeARow_CompInt8_avx512, which
//     MatMulNBits accuracy_level 4 runs on x86):
//       amax  = max |a[k]| over the block's real elements
//       scale = amax / 127                        (fp32 division)
//       inv   = 127 / amax                        (fp32 division; not 1 / scale: MLAS does this)
//       q[k]  = round-half-to-even(a[k] * inv)    (fp32 product, |q| <= 127; cvtps2dq)
//     llama.cpp's reference quantize_row_q8_0_ref differs in two ways: id = 1 / d and roundf
//     (half away from zero); its AVX2 path matches MLAS (127 / amax, round to nearest even), but
//     it stores d as fp16. qk stores the fp32 scale (ORT does).
//     Defined edge cases (ORT leaves them undefined):
//       - a block holding NaN or +-inf: its scale is NaN and its q are 0, so the row's every
//         output is NaN (before the clamp; the clamp keeps NaN: see below);
//       - amax < 2^-120 (all zero, or so small that 127 / amax would overflow to inf): the
//         block is all zeros with scale 0 (its contribution is exactly 0).
//     Padding of the last block (K not a multiple of B) is q = 0.
//     Then, for each output:
//       acc = 0.0f
//       for b = 0 .. n_blocks - 1, in order:
//         isum = sum_k q[m][k] * (u[n][k] - zp[n][b])        (exact int32: |isum| <= 256*127*15)
//         acc  = fmaf((float)isum, a_scale[m][b] * w_scale[n][b], acc)   (product rounded first)
//       acc = acc + bias[n]                                   (when there is a bias)
//       c   = acc < lo ? lo : (acc > hi ? hi : acc)           (NaN stays NaN)
//     isum is exact in any order, so SIMD kernels compute it as sum q*u - zp * sum q (the block
//     sums of q come with the quantized A) and reproduce the float steps per lane (N in lanes).
//
// (b) W4 fp32 weight-only ("w4f32"): fp32 A as given, for each output:
//       acc = 0.0f
//       for b in order:
//         s = 0.0f
//         for k in block b, k < K, in order: s = fmaf(a[m][k], (float)(u[n][k] - zp[n][b]), s)
//         acc = fmaf(s, w_scale[n][b], acc)
//       then bias and clamp as (a).
//     (u - zp) is a small integer, exact in fp32: the weights are expanded in registers and the
//     scale is applied once per block (one rounding fewer per element than (u - zp) * scale).
//     NaN / inf in A propagate as IEEE says (inf * 0 weight is NaN), identically on every ISA.
//
// Packed layout (per family: panel width P columns, 8 or 16): columns in panels of P (N padded
// to a multiple of 2 P with zero-scale columns: every tile covers two panels), each panel:
//   [nibbles] for k chunk c = 0 .. K_pad / 8 - 1: 4 P bytes; byte 4 j + i (column j, i < 4)
//             holds u[k = 8c + i] in its low nibble and u[8c + 4 + i] in its high nibble.
//             So one vector load + and 0x0F gives P columns x 4 consecutive k as bytes (the
//             vpdpbusd operand), + shift 4 + and the next 4 k. K_pad = n_blocks * B, padded u = 0.
//   [scales]  n_blocks x P floats (block-major: one load per block per panel), or, when every
//             scale is exactly an fp16 normal or zero (scales that came from fp16 models, as
//             MatMulNBits' and Q4_0's do), n_blocks x P fp16 (scale_f16): vcvtph2ps is exact, and
//             the GEMV, which only streams weights, reads 9 instead of 10.5 bytes per 16 weights
//             at B = 32 (measured: its time is bytes / 22 GB/s here, for s8 and s4 alike)
//   [zps]     n_blocks x P bytes, only when the zero points are not all equal (zp_uniform)
// each part starting on 64 bytes.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/core/isa.hpp"

namespace qk {
namespace kernels {

struct GemmQ4Args {
  std::size_t m = 0, n = 0, k = 0;
  std::size_t block = 0, n_blocks = 0;     // B and ceil(K / B)
  const std::uint8_t* packed = nullptr;   // panel 0
  std::size_t panel_bytes = 0;            // from one panel to the next
  std::size_t scales_at = 0, zps_at = 0;  // offsets inside a panel
  bool zp_uniform = true;
  std::int32_t zp = 8;                    // the zero point when zp_uniform
  bool scale_f16 = false;                 // scales stored as fp16 (exact), see the layout
  const float* bias = nullptr;            // padded to whole panel pairs, or null
  float lo = 0, hi = 0;
  // (a): quantized A (row stride qa_stride bytes, n_blocks * B per row, zero padded), per (row,
  // block) scales and sums of q, row stride n_blocks.
  const std::int8_t* qa = nullptr;
  std::size_t qa_stride = 0;
  const float* a_scale = nullptr;
  const std::int32_t* a_sum = nullptr;
  // (b): fp32 A
  const float* a = nullptr;
  std::size_t lda = 0;
  float* c = nullptr;
  std::size_t ldc = 0;
};

// Rows [m_begin, m_end) x panel pairs [pair_begin, pair_end) of C.
using GemmQ4TileFn = void (*)(const GemmQ4Args& args, std::size_t m_begin, std::size_t m_end, std::size_t pair_begin,
                              std::size_t pair_end);
// Quantizes rows [0, m) of fp32 A into args' qa / a_scale / a_sum (scheme (a) above).
using GemmQ4QuantizeFn = void (*)(const float* a, std::size_t lda, std::size_t m, std::size_t k, std::size_t block,
                                  std::int8_t* qa, std::size_t qa_stride, float* a_scale, std::int32_t* a_sum);

struct GemmQ4Kernel {
  Isa isa = Isa::scalar;
  std::uint32_t panel_width = 0;  // P
  std::uint32_t rows = 0;         // rows of the widest register tile (for the row blocking)
  GemmQ4TileFn run_dynamic = nullptr;
  GemmQ4TileFn run_f32 = nullptr;
  GemmQ4QuantizeFn quantize = nullptr;
};

// Below this amax a block quantizes to zeros (127 / amax must be finite).
constexpr float kQ4MinAmax = 0x1p-120f;

// The definition of the activation quantizer (scheme (a)), one block of len <= B real values;
// q[len .. B) are set to 0. Returns the block's sum of q through *sum.
inline float q4_quantize_block(const float* x, std::size_t len, std::size_t block, std::int8_t* q,
                               std::int32_t* sum) noexcept {
  // amax over the bit patterns of |x|: for non-negative floats integer order is float order, and
  // NaN / inf (exponent all ones) compare above every finite value, so one max finds both.
  std::uint32_t amax_bits = 0;
  for (std::size_t i = 0; i < len; ++i) {
    std::uint32_t bits;
    std::memcpy(&bits, &x[i], 4);
    bits &= 0x7FFFFFFFu;
    amax_bits = bits > amax_bits ? bits : amax_bits;
  }
  float amax;
  std::memcpy(&amax, &amax_bits, 4);
  std::int32_t s = 0;
  float scale = 0.0f;
  if (amax_bits >= 0x7F800000u) {
    scale = std::nanf("");
    for (std::size_t i = 0; i < block; ++i) q[i] = 0;
  } else if (!(amax >= kQ4MinAmax)) {
    for (std::size_t i = 0; i < block; ++i) q[i] = 0;
  } else {
    scale = amax / 127.0f;
    const float inv = 127.0f / amax;
    for (std::size_t i = 0; i < block; ++i) {
      // nearbyint: the default rounding mode, half to even (as cvtps2dq).
      const std::int32_t v = i < len ? static_cast<std::int32_t>(std::nearbyint(x[i] * inv)) : 0;
      q[i] = static_cast<std::int8_t>(v);
      s += v;
    }
  }
  *sum = s;
  return scale;
}

// Portable quantizer (GemmQ4QuantizeFn): the definition applied block by block.
inline void q4_quantize_rows_scalar(const float* a, std::size_t lda, std::size_t m, std::size_t k, std::size_t block,
                                    std::int8_t* qa, std::size_t qa_stride, float* a_scale, std::int32_t* a_sum) noexcept {
  const std::size_t nb = (k + block - 1) / block;
  for (std::size_t r = 0; r < m; ++r)
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t k0 = b * block, len = k - k0 < block ? k - k0 : block;
      a_scale[r * nb + b] = q4_quantize_block(a + r * lda + k0, len, block, qa + r * qa_stride + k0, &a_sum[r * nb + b]);
    }
}

// fp16 bits of a normal fp16 (or zero) to float, exactly (the scalar family's scale_f16 loads).
inline float q4_half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
  const std::uint32_t bits = e == 0 ? sign : sign | ((e - 15 + 127) << 23) | (mant << 13);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
// The fp16 bits of v when v is exactly a normal fp16 or +-0; false otherwise.
inline bool q4_float_to_half_exact(float v, std::uint16_t* h) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  const std::uint32_t sign = (bits >> 16) & 0x8000u;
  const std::int32_t e = static_cast<std::int32_t>((bits >> 23) & 0xFFu) - 127;
  if ((bits & 0x7FFFFFFFu) == 0) {
    *h = static_cast<std::uint16_t>(sign);
    return true;
  }
  if (e < -14 || e > 15 || (bits & 0x1FFFu) != 0) return false;
  *h = static_cast<std::uint16_t>(sign | static_cast<std::uint32_t>(e + 15) << 10 | ((bits >> 13) & 0x3FFu));
  return true;
}

// The clamp of both schemes: comparisons, so NaN passes through (SIMD: max(lo, x) then
// min(hi, x) with x as the second operand, which x86 returns when either is NaN).
inline float q4_clamp(float v, float lo, float hi) noexcept { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace kernels
}  // namespace qk
