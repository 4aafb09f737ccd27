// The core's own limit, measured: independent chains of one multiply-accumulate instruction,
// 4 to 30 accumulators, so that the GEMM and convolution rows can be read as a share of what
// this core can do at all (issue 17, item 4). x86 only.
//
//   peak/vpdpbusd_zmm/<acc>   AVX-512 VNNI, 64 u8 x s8 products per instruction
//   peak/vpdpbusd_ymm/<acc>   AVX-VNNI (VEX), 32 per instruction
//   peak/fma_f32_zmm/<acc>    AVX-512F vfmadd231ps, 16 per instruction
//   peak/fma_f32_ymm/<acc>    AVX2 FMA, 8 per instruction
//
// GOPS counts 2 ops per multiply-accumulate, as every GEMM/conv row does (bench_common.hpp).
// With too few accumulators a chain waits for its own latency; the plateau is the throughput
// (instructions per cycle x lanes x clock). A row is skipped where the CPU lacks the instruction.
//
// Which instructions take vpdpbusd's pipe (the resource small-K int8 layers run out of):
//   peak/vpdpbusd_zmm_beside/<op>   24 independent vpdpbusd and 4 independent <op> per step
// reports the vpdpbusd GOPS. Beside an instruction that uses other pipes it stays at the
// plateau of peak/vpdpbusd_zmm/24; beside one that shares the pipe it drops to 24/28 of it (one
// issue slot each). The ops are those of the output stages: qk's exact requantization
// (vpmuldq, vpsravd, vpaddd, vpshufd, vpackssdw) and a float scale's (vcvtdq2ps, vmulps,
// vmaxps, vcvtps2dq), and vfmadd231ps for reference.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "bench_common.hpp"
#include "qk/core/cpu_features.hpp"
#include "qk/kernels/target_region.hpp"

#if defined(__clang__)
#define QK_PEAK_UNROLL _Pragma("clang loop unroll(full)")
#else
#define QK_PEAK_UNROLL _Pragma("GCC unroll 32")
#endif

namespace {

constexpr std::size_t kSteps = 1024;  // instructions per chain per call

// Each function runs kSteps rounds of N independent instructions and folds the accumulators into
// *out, so that nothing is dead. The operands come from memory, so that nothing is constant.
// The instruction itself is inline assembly: from the intrinsic GCC 12 put two register moves
// around every vpdpbusd (its accumulator is also its destination) and measured the moves.
QK_TARGET_PUSH("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")
template <std::size_t N>
__attribute__((noinline)) void chains_vpdpbusd_zmm(const std::int32_t* src, std::int32_t* out) {
  const __m512i a = _mm512_set1_epi32(src[0]), b = _mm512_set1_epi32(src[1]);
  __m512i acc[N];
  QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) acc[i] = _mm512_set1_epi32(src[2] + static_cast<int>(i));
  for (std::size_t s = 0; s < kSteps; ++s) {
    QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc[i]) : "v"(a), "v"(b));
  }
  __m512i sum = acc[0];
  QK_PEAK_UNROLL for (std::size_t i = 1; i < N; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  alignas(64) std::int32_t lanes[16];  // (not _mm512_reduce_*: GCC bug 105593 warns in them)
  _mm512_store_si512(lanes, sum);
  *out = lanes[0] + lanes[15];
}
template <std::size_t N>
__attribute__((noinline)) void chains_fma_zmm(const std::int32_t* src, std::int32_t* out) {
  const __m512 a = _mm512_set1_ps(static_cast<float>(src[0]) * 1e-9f), b = _mm512_set1_ps(static_cast<float>(src[1]) * 1e-9f);
  __m512 acc[N];
  QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i));
  for (std::size_t s = 0; s < kSteps; ++s) {
    QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) __asm__("vfmadd231ps %2, %1, %0" : "+v"(acc[i]) : "v"(a), "v"(b));
  }
  __m512 sum = acc[0];
  QK_PEAK_UNROLL for (std::size_t i = 1; i < N; ++i) sum = _mm512_add_ps(sum, acc[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  *out = static_cast<std::int32_t>(lanes[0] + lanes[15]);
}
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma,avxvnni")
template <std::size_t N>
__attribute__((noinline)) void chains_vpdpbusd_ymm(const std::int32_t* src, std::int32_t* out) {
  const __m256i a = _mm256_set1_epi32(src[0]), b = _mm256_set1_epi32(src[1]);
  __m256i acc[N];
  QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) acc[i] = _mm256_set1_epi32(src[2] + static_cast<int>(i));
  for (std::size_t s = 0; s < kSteps; ++s) {
    QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc[i]) : "x"(a), "x"(b));
  }
  __m256i sum = acc[0];
  QK_PEAK_UNROLL for (std::size_t i = 1; i < N; ++i) sum = _mm256_add_epi32(sum, acc[i]);
  alignas(32) std::int32_t lanes[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), sum);
  *out = lanes[0] + lanes[7];
}
QK_TARGET_POP

QK_TARGET_PUSH("avx2,fma")
template <std::size_t N>
__attribute__((noinline)) void chains_fma_ymm(const std::int32_t* src, std::int32_t* out) {
  const __m256 a = _mm256_set1_ps(static_cast<float>(src[0]) * 1e-9f), b = _mm256_set1_ps(static_cast<float>(src[1]) * 1e-9f);
  __m256 acc[N];
  QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) acc[i] = _mm256_set1_ps(static_cast<float>(i));
  for (std::size_t s = 0; s < kSteps; ++s) {
    QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) __asm__("vfmadd231ps %2, %1, %0" : "+x"(acc[i]) : "x"(a), "x"(b));
  }
  __m256 sum = acc[0];
  QK_PEAK_UNROLL for (std::size_t i = 1; i < N; ++i) sum = _mm256_add_ps(sum, acc[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  *out = static_cast<std::int32_t>(lanes[0] + lanes[7]);
}
QK_TARGET_POP

// 24 vpdpbusd chains and 4 chains of the instruction `Op` (its mnemonic, register form
// `op src, src, dst` or, for the one-source converts, `op src, dst`).
enum class BesideOp { vpmuldq, vpsravd, vpaddd, vpshufd, vpackssdw, vcvtdq2ps, vmulps, vmaxps, vcvtps2dq, vfmadd231ps };
QK_TARGET_PUSH("avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")
template <BesideOp Op>
__attribute__((noinline)) void beside_vpdpbusd_zmm(const std::int32_t* src, std::int32_t* out) {
  constexpr std::size_t N = 24, M = 4;
  const __m512i a = _mm512_set1_epi32(src[0]), b = _mm512_set1_epi32(src[1]);
  __m512i acc[N], other[M];
  QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) acc[i] = _mm512_set1_epi32(src[2] + static_cast<int>(i));
  // The other chains hold normal floats (1.5 to 4.5, times 1.0 in vmulps) so that no float
  // instruction meets a denormal and its slow path; the integer ones do not care.
  const __m512i f = _mm512_castps_si512(_mm512_set1_ps(static_cast<float>(src[2] - 2)));  // 1.0
  QK_PEAK_UNROLL for (std::size_t i = 0; i < M; ++i) other[i] = _mm512_castps_si512(_mm512_set1_ps(1.5f + static_cast<float>(i)));
  for (std::size_t s = 0; s < kSteps; ++s) {
    QK_PEAK_UNROLL for (std::size_t i = 0; i < N; ++i) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc[i]) : "v"(a), "v"(b));
    QK_PEAK_UNROLL for (std::size_t i = 0; i < M; ++i) {
      if constexpr (Op == BesideOp::vpmuldq) __asm__("vpmuldq %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vpsravd) __asm__("vpsravd %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vpaddd) __asm__("vpaddd %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vpshufd) __asm__("vpshufd $0xf5, %0, %0" : "+v"(other[i]));
      if constexpr (Op == BesideOp::vpackssdw) __asm__("vpackssdw %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vcvtdq2ps) __asm__("vcvtdq2ps %0, %0" : "+v"(other[i]));
      if constexpr (Op == BesideOp::vmulps) __asm__("vmulps %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vmaxps) __asm__("vmaxps %1, %0, %0" : "+v"(other[i]) : "v"(f));
      if constexpr (Op == BesideOp::vcvtps2dq) __asm__("vcvtps2dq %0, %0" : "+v"(other[i]));
      if constexpr (Op == BesideOp::vfmadd231ps) __asm__("vfmadd231ps %1, %1, %0" : "+v"(other[i]) : "v"(f));
    }
  }
  __m512i sum = acc[0];
  QK_PEAK_UNROLL for (std::size_t i = 1; i < N; ++i) sum = _mm512_add_epi32(sum, acc[i]);
  QK_PEAK_UNROLL for (std::size_t i = 0; i < M; ++i) sum = _mm512_xor_si512(sum, other[i]);
  alignas(64) std::int32_t lanes[16];
  _mm512_store_si512(lanes, sum);
  *out = lanes[0] + lanes[15];
}
QK_TARGET_POP

using ChainFn = void (*)(const std::int32_t*, std::int32_t*);

// macs_per_instruction: multiply-accumulates one instruction does (lanes x products per lane).
void run_chains(benchmark::State& state, bool supported, ChainFn fn, std::size_t accumulators, double macs_per_instruction) {
  if (!supported) {
    state.SkipWithError("this CPU lacks the instruction");
    return;
  }
  const std::int32_t src[3] = {0x01010101, 0x02020202, 3};
  std::int32_t out = 0;
  for (auto _ : state) {
    fn(src, &out);
    benchmark::DoNotOptimize(out);
  }
  qk_bench::set_gops(state, static_cast<double>(kSteps) * static_cast<double>(accumulators) * macs_per_instruction);
}

#define QK_PEAK_ROW(name, supported, fn, macs, n)                                                          \
  BENCHMARK_CAPTURE(run_chains, name##_##n, supported, &fn<n>, std::size_t{n}, macs)->Name("peak/" #name "/" #n)

const qk::detail::CpuFeatures& features() { return qk::detail::cpu_features(); }
const bool kZmmVnni = features().avx512vnni, kYmmVnni = features().avxvnni, kZmmFma = features().avx512bw,
           kYmmFma = features().avx2;

// zmm: 32 registers, so up to 30 accumulators beside the two operands; ymm (VEX): 16, up to 14.
#define QK_PEAK_ROWS(name, supported, fn, macs) \
  QK_PEAK_ROW(name, supported, fn, macs, 4);    \
  QK_PEAK_ROW(name, supported, fn, macs, 8);    \
  QK_PEAK_ROW(name, supported, fn, macs, 12)

QK_PEAK_ROWS(vpdpbusd_zmm, kZmmVnni, chains_vpdpbusd_zmm, 64.0);
QK_PEAK_ROW(vpdpbusd_zmm, kZmmVnni, chains_vpdpbusd_zmm, 64.0, 16);
QK_PEAK_ROW(vpdpbusd_zmm, kZmmVnni, chains_vpdpbusd_zmm, 64.0, 24);
QK_PEAK_ROW(vpdpbusd_zmm, kZmmVnni, chains_vpdpbusd_zmm, 64.0, 30);
QK_PEAK_ROWS(vpdpbusd_ymm, kYmmVnni, chains_vpdpbusd_ymm, 32.0);
QK_PEAK_ROW(vpdpbusd_ymm, kYmmVnni, chains_vpdpbusd_ymm, 32.0, 14);
QK_PEAK_ROWS(fma_f32_zmm, kZmmFma, chains_fma_zmm, 16.0);
QK_PEAK_ROW(fma_f32_zmm, kZmmFma, chains_fma_zmm, 16.0, 16);
QK_PEAK_ROW(fma_f32_zmm, kZmmFma, chains_fma_zmm, 16.0, 24);
QK_PEAK_ROW(fma_f32_zmm, kZmmFma, chains_fma_zmm, 16.0, 30);
QK_PEAK_ROWS(fma_f32_ymm, kYmmFma, chains_fma_ymm, 8.0);
QK_PEAK_ROW(fma_f32_ymm, kYmmFma, chains_fma_ymm, 8.0, 14);

// GOPS of the 24 vpdpbusd only (the 4 other instructions are not counted).
#define QK_BESIDE_ROW(op)                                                                                       \
  BENCHMARK_CAPTURE(run_chains, beside_##op, kZmmVnni, &beside_vpdpbusd_zmm<BesideOp::op>, std::size_t{24}, 64.0) \
      ->Name("peak/vpdpbusd_zmm_beside/" #op)
QK_BESIDE_ROW(vpmuldq);
QK_BESIDE_ROW(vpsravd);
QK_BESIDE_ROW(vpaddd);
QK_BESIDE_ROW(vpshufd);
QK_BESIDE_ROW(vpackssdw);
QK_BESIDE_ROW(vcvtdq2ps);
QK_BESIDE_ROW(vmulps);
QK_BESIDE_ROW(vmaxps);
QK_BESIDE_ROW(vcvtps2dq);
QK_BESIDE_ROW(vfmadd231ps);

}  // namespace

BENCHMARK_MAIN();
