// qk/kernels/gemm_f32_contract.hpp - the fp32 GEMM kernel contract (the int8 one, simplified).
//
// Packed B: panels of panel_width columns; a panel stores K rows of panel_width floats, zero
// padded in N. Bias is padded to whole panels. A tile function computes rows [m_begin, m_end)
// x panels [panel_begin, panel_end) of C = clamp(A * B + bias, lo, hi), A's rows plain or in
// segments (GemmF32Args::a_segment), B's K rows contiguous or in segments of its own stride
// (GemmF32Args::b_segment_stride): a convolution's edge pixel multiplies only its valid taps.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/isa.hpp"

namespace qk {
namespace kernels {

struct GemmF32Args {
  std::size_t m = 0, n = 0, k = 0;
  const float* a = nullptr;
  std::size_t lda = 0;  // elements
  const float* packed_b = nullptr;
  std::size_t panel_stride = 0;  // floats from one panel to the next
  const float* bias = nullptr;   // padded to whole panels
  float lo = 0, hi = 0;
  float* c = nullptr;
  std::size_t ldc = 0;  // elements
  // A row in segments (an implicit im2col): A[m][k] = a[m * lda + (k / a_segment) * a_segment_stride
  // + k % a_segment], a_segment dividing K. 0 = one segment of K (a plain row). conv_f32 points
  // it at the input image itself: a segment is one kernel row's taps, contiguous in NHWC.
  std::size_t a_segment = 0, a_segment_stride = 0;
  // B's K rows in segments: segment s (a_segment rows) starts at packed K row s * b_segment_stride
  // (packed_b may itself point at a later K row: + k0 * panel_width floats). 0 = contiguous, B
  // read as K rows from packed_b. conv_f32 uses it to skip the taps of an edge pixel that fall in
  // the padding: its A segments are the valid part of each kernel row, its B segments the same
  // taps of each kernel row of the packed weights.
  std::size_t b_segment_stride = 0;
  // C rows in groups of c_rows (0: one group): row m at c + (m / c_rows) * c_rows_stride +
  // (m % c_rows) * ldc. conv_f32 writes the interior columns of several output rows this way,
  // their edge columns computed apart (on fewer taps).
  std::size_t c_rows = 0, c_rows_stride = 0;
};

// Where row m of C starts (GemmF32Args::c_rows).
inline float* gemm_f32_c_row(const GemmF32Args& args, std::size_t m) noexcept {
  return args.c_rows == 0 ? args.c + m * args.ldc
                          : args.c + (m / args.c_rows) * args.c_rows_stride + (m % args.c_rows) * args.ldc;
}

using GemmF32TileFn = void (*)(const GemmF32Args& args, std::size_t m_begin, std::size_t m_end,
                               std::size_t panel_begin, std::size_t panel_end);

struct GemmF32Kernel {
  Isa isa = Isa::scalar;
  std::uint32_t panel_width = 0;
  std::uint32_t max_panels = 0;
  GemmF32TileFn run = nullptr;
};

}  // namespace kernels
}  // namespace qk
