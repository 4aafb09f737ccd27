// qk/kernels/x86/gemm_f32_x86.hpp - fp32 GEMM kernels: AVX-512 (8 x 48 or 6 x 64 tiles, zmm FMA) and
// AVX2 (6 x 16 tile, ymm FMA). Used by every x86 ISA: avx512bw and avx512vnni run the AVX-512
// family, avx2 and avxvnni the AVX2 one. Target regions as in gemm_s8_x86.hpp.
#pragma once

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <limits>

#include "qk/kernels/gemm_f32_contract.hpp"
#include "qk/kernels/target_region.hpp"
#include "qk/kernels/x86/gemm_s8_x86.hpp"  // QK_KERNEL_INLINE, the GCC 12 warning note

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC bug 105593, see gemm_s8_x86.hpp
#pragma GCC diagnostic ignored "-Wuninitialized"  // the same report, when the use is not inlined into a caller
#endif

QK_TARGET_PUSH("avx2,fma,avx512f,avx512bw,avx512dq,avx512vl")
namespace qk {
namespace kernels {
namespace avx512f32 {
struct F32Traits {
  using Vec = __m512;
  static constexpr std::size_t kLanes = 16, kMaxPanels = 4, kMaxRows = 8, kRowsTwoPanels = 12;
  static QK_KERNEL_INLINE Vec set1(float v) noexcept { return _mm512_set1_ps(v); }
  static QK_KERNEL_INLINE Vec load(const float* p) noexcept { return _mm512_loadu_ps(p); }
  static QK_KERNEL_INLINE Vec bcast(const float* p) noexcept { return _mm512_set1_ps(*p); }
  static QK_KERNEL_INLINE Vec fma(Vec a, Vec b, Vec c) noexcept { return _mm512_fmadd_ps(a, b, c); }
  // c + broadcast(*p) * b as one instruction, the broadcast folded into the FMA ({1to16}). The
  // tiles of up to two panels call it once per panel for A, where one vbroadcastss fed both
  // FMAs (gemm_f32_tile.inl says why). Inline assembly because the compilers never fold a
  // broadcast that feeds two FMAs, even read twice: they merge the two reads (and with the
  // second read's pointer hidden from them, first_224 was no faster); written in both dialects,
  // for programs built with -masm=intel.
  static QK_KERNEL_INLINE Vec fma_bcast(const float* p, Vec b, Vec c) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    __asm__("vfmadd231ps {%2%{1to16%}, %1, %0|%0, %1, %2%{1to16%}}" : "+v"(c) : "v"(b), "m"(*p));
    return c;
#else
    return _mm512_fmadd_ps(_mm512_set1_ps(*p), b, c);
#endif
  }
  template <bool CLAMP>
  static QK_KERNEL_INLINE void store_out(float* p, Vec v, Vec lo, Vec hi, std::size_t count) noexcept {
    if constexpr (CLAMP) v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
    const __mmask16 mask = count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
    _mm512_mask_storeu_ps(p, mask, v);
  }
};
#include "qk/kernels/x86/gemm_f32_tile.inl"
}  // namespace avx512f32
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma")
namespace qk {
namespace kernels {
namespace avx2f32 {
struct F32Traits {
  using Vec = __m256;
  static constexpr std::size_t kLanes = 8, kMaxPanels = 2, kMaxRows = 6, kRowsTwoPanels = 6;
  static QK_KERNEL_INLINE Vec set1(float v) noexcept { return _mm256_set1_ps(v); }
  static QK_KERNEL_INLINE Vec load(const float* p) noexcept { return _mm256_loadu_ps(p); }
  static QK_KERNEL_INLINE Vec bcast(const float* p) noexcept { return _mm256_broadcast_ss(p); }
  static QK_KERNEL_INLINE Vec fma(Vec a, Vec b, Vec c) noexcept { return _mm256_fmadd_ps(a, b, c); }
  // AVX2 has no broadcast operand: the compiler merges the panels' two broadcasts of *p into
  // one vbroadcastss, the code the tiles had before AVX-512 folded them.
  static QK_KERNEL_INLINE Vec fma_bcast(const float* p, Vec b, Vec c) noexcept { return fma(bcast(p), b, c); }
  template <bool CLAMP>
  static QK_KERNEL_INLINE void store_out(float* p, Vec v, Vec lo, Vec hi, std::size_t count) noexcept {
    if constexpr (CLAMP) v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
    if (count >= 8) {
      _mm256_storeu_ps(p, v);
      return;
    }
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    _mm256_maskstore_ps(p, mask, v);
  }
};
#include "qk/kernels/x86/gemm_f32_tile.inl"
}  // namespace avx2f32
}  // namespace kernels
}  // namespace qk
QK_TARGET_POP

namespace qk {
namespace kernels {
namespace avx512f32 {
inline const GemmF32Kernel& gemm_f32_kernel(Isa isa) noexcept {
  static const GemmF32Kernel vnni = {Isa::avx512vnni, 16, 4, &gemm_f32_run};
  static const GemmF32Kernel bw = {Isa::avx512bw, 16, 4, &gemm_f32_run};
  return isa == Isa::avx512vnni ? vnni : bw;
}
}  // namespace avx512f32
namespace avx2f32 {
inline const GemmF32Kernel& gemm_f32_kernel(Isa isa) noexcept {
  static const GemmF32Kernel vnni = {Isa::avxvnni, 8, 2, &gemm_f32_run};
  static const GemmF32Kernel plain = {Isa::avx2, 8, 2, &gemm_f32_run};
  return isa == Isa::avxvnni ? vnni : plain;
}
}  // namespace avx2f32
}  // namespace kernels
}  // namespace qk

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
