// qk/kernels/x86/depthwise_f32_x86.hpp - fp32 depthwise kernels: AVX-512 (zmm FMA, masked tails)
// and AVX2 (ymm FMA, maskload tails), one source (depthwise_f32_pixels.inl). avx512bw and
// avx512vnni run the AVX-512 one, avx2 and avxvnni the AVX2 one, as for the fp32 GEMM.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "qk/core/checked.hpp"
#include "qk/kernels/depthwise_f32_contract.hpp"
#include "qk/kernels/target_region.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"  // QK_KERNEL_INLINE

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, see gemm_s8_x86.hpp
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same report, when the use is not inlined into a caller
#endif

QK_TARGET_PUSH("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512f32 {
struct DwF32Traits {
  using Vec = __m512;
  static constexpr std::size_t kLanes = 16, kPixels = 4;  // up to 16 accumulators + 4 weights of 32 zmm
  static QK_KERNEL_INLINE __mmask16 mask(std::size_t count) noexcept {
    return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
  }
  static QK_KERNEL_INLINE Vec set1(float v) noexcept { return _mm512_set1_ps(v); }
  static QK_KERNEL_INLINE Vec load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static QK_KERNEL_INLINE Vec load_part(const float* p, std::size_t count) noexcept { return _mm512_maskz_loadu_ps(mask(count), p); }
  static QK_KERNEL_INLINE Vec fma(Vec a, Vec b, Vec c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  static QK_KERNEL_INLINE void store_clamped(float* p, Vec v, Vec lo, Vec hi, std::size_t count) noexcept {
    _mm512_mask_storeu_ps(p, mask(count), _mm512_min_ps(_mm512_max_ps(v, lo), hi));
  }
};
#include "qk/kernels/x86/depthwise_f32_pixels.inl"
inline const DepthwiseF32Kernel& depthwise_f32_kernel(Isa isa) noexcept {
  static const DepthwiseF32Kernel vnni = {Isa::avx512vnni, &depthwise_f32_rows};
  static const DepthwiseF32Kernel bw = {Isa::avx512bw, &depthwise_f32_rows};
  return isa == Isa::avx512vnni ? vnni : bw;
}
}  // namespace avx512f32
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma")
namespace qk {
namespace kernels {
namespace avx2f32 {
struct DwF32Traits {
  using Vec = __m256;
  static constexpr std::size_t kLanes = 8, kPixels = 2;  // up to 8 accumulators + 4 weights of 16 ymm
  static QK_KERNEL_INLINE __m256i mask(std::size_t count) noexcept {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static QK_KERNEL_INLINE Vec set1(float v) noexcept { return _mm256_set1_ps(v); }
  static QK_KERNEL_INLINE Vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static QK_KERNEL_INLINE Vec load_part(const float* p, std::size_t count) noexcept {
    return count >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, mask(count));
  }
  static QK_KERNEL_INLINE Vec fma(Vec a, Vec b, Vec c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  static QK_KERNEL_INLINE void store_clamped(float* p, Vec v, Vec lo, Vec hi, std::size_t count) noexcept {
    v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    if (count >= 8)
      _mm256_storeu_ps(p, v);
    else
      _mm256_maskstore_ps(p, mask(count), v);
  }
};
#include "qk/kernels/x86/depthwise_f32_pixels.inl"
inline const DepthwiseF32Kernel& depthwise_f32_kernel(Isa isa) noexcept {
  static const DepthwiseF32Kernel vnni = {Isa::avxvnni, &depthwise_f32_rows};
  static const DepthwiseF32Kernel plain = {Isa::avx2, &depthwise_f32_rows};
  return isa == Isa::avxvnni ? vnni : plain;
}
}  // namespace avx2f32
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
