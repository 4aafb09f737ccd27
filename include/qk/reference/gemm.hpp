// qk/reference/gemm.hpp - the definition of qk's integer GEMM, as plain loops on unpacked B.
//
// Every kernel variant must reproduce this bit for bit. It is deliberately naive: each output is
// the sum over k of (A - za)(B - zb) plus bias, accumulated in wrapping 32-bit arithmetic
// (what vpdpbusd/sdot do), then output_element(). No packing, no zero-point algebra, no SIMD.
#pragma once

#include <cstddef>
#include <cstdint>

#include "qk/core/element_type.hpp"
#include "qk/core/output_stage.hpp"

namespace qk {
namespace reference {

// A[m][k] at a[m * lda + k] (int8 if a_signed, else uint8); B[k][n] at b[k * b_stride_k + n * b_stride_n]
// (int8 if b_signed, else uint8); zb per column if zb_per_column, else zb[0]; bias may be null.
// C row m at c + m * ldc elements of out.type.
inline void gemm_int8(std::size_t m, std::size_t n, std::size_t k, const void* a, std::size_t lda, bool a_signed,
                      std::int32_t za, const void* b, std::size_t b_stride_k, std::size_t b_stride_n, bool b_signed,
                      const std::int32_t* zb, bool zb_per_column, const std::int32_t* bias, const OutputStage& out,
                      void* c, std::size_t ldc) noexcept {
  const auto* a8 = static_cast<const std::uint8_t*>(a);
  const auto* b8 = static_cast<const std::uint8_t*>(b);
  const std::size_t esize = output_type_size(out.type);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::int32_t zbj = zb == nullptr ? 0 : zb[zb_per_column ? j : 0];
      std::uint32_t acc = bias == nullptr ? 0u : static_cast<std::uint32_t>(bias[j]);
      for (std::size_t kk = 0; kk < k; ++kk) {
        const std::uint8_t araw = a8[i * lda + kk], braw = b8[kk * b_stride_k + j * b_stride_n];
        const std::int32_t av = a_signed ? static_cast<std::int8_t>(araw) : static_cast<std::int32_t>(araw);
        const std::int32_t bv = b_signed ? static_cast<std::int8_t>(braw) : static_cast<std::int32_t>(braw);
        acc += static_cast<std::uint32_t>((av - za) * (bv - zbj));
      }
      detail::output_element(static_cast<std::int32_t>(acc), j, out, static_cast<std::uint8_t*>(c) + i * ldc * esize, j);
    }
  }
}

// Element i of a weight array of type t (int8, uint8, or int4: nibble i, the low nibble of byte
// i / 2 first, sign-extended), read the plainest way.
inline std::int32_t weight_element(const void* b, std::size_t i, ElementType t) noexcept {
  const auto* b8 = static_cast<const std::uint8_t*>(b);
  if (t == ElementType::s4) {
    const int nibble = (i % 2 == 0) ? (b8[i / 2] & 0x0F) : (b8[i / 2] >> 4);
    return nibble >= 8 ? nibble - 16 : nibble;
  }
  return t == ElementType::s8 ? static_cast<std::int8_t>(b8[i]) : static_cast<std::int32_t>(b8[i]);
}

// As gemm_int8, with B of any weight type (ElementType::s8, u8 or s4; strides in elements, an
// int4 element being a nibble): int4 weights are their values, and the arithmetic is the int8
// one (TFLite's int4 kernels unpack and run the int8 arithmetic).
inline void gemm_int(std::size_t m, std::size_t n, std::size_t k, const void* a, std::size_t lda, bool a_signed,
                     std::int32_t za, const void* b, std::size_t b_stride_k, std::size_t b_stride_n, ElementType b_type,
                     const std::int32_t* zb, bool zb_per_column, const std::int32_t* bias, const OutputStage& out,
                     void* c, std::size_t ldc) noexcept {
  const auto* a8 = static_cast<const std::uint8_t*>(a);
  const std::size_t esize = output_type_size(out.type);
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::int32_t zbj = zb == nullptr ? 0 : zb[zb_per_column ? j : 0];
      std::uint32_t acc = bias == nullptr ? 0u : static_cast<std::uint32_t>(bias[j]);
      for (std::size_t kk = 0; kk < k; ++kk) {
        const std::uint8_t araw = a8[i * lda + kk];
        const std::int32_t av = a_signed ? static_cast<std::int8_t>(araw) : static_cast<std::int32_t>(araw);
        const std::int32_t bv = weight_element(b, kk * b_stride_k + j * b_stride_n, b_type);
        acc += static_cast<std::uint32_t>((av - za) * (bv - zbj));
      }
      detail::output_element(static_cast<std::int32_t>(acc), j, out, static_cast<std::uint8_t*>(c) + i * ldc * esize, j);
    }
  }
}

// fp32: C = clamp(A * B + bias, lo, hi), summed in k order with fused multiply-adds. Kernels may
// sum in another order, so fp32 results are compared with a tolerance, never bit for bit.
inline void gemm_f32(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda, const float* b,
                     std::size_t b_stride_k, std::size_t b_stride_n, const float* bias, float lo, float hi, float* c,
                     std::size_t ldc) noexcept {
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double acc = bias == nullptr ? 0.0 : bias[j];
      for (std::size_t kk = 0; kk < k; ++kk)
        acc += static_cast<double>(a[i * lda + kk]) * static_cast<double>(b[kk * b_stride_k + j * b_stride_n]);
      float v = static_cast<float>(acc);
      v = v < lo ? lo : (v > hi ? hi : v);
      c[i * ldc + j] = v;
    }
}

}  // namespace reference
}  // namespace qk
