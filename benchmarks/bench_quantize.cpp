// Quantize / dequantize throughput next to memcpy of the same float buffer.
//
// bytes_per_second counts the FLOAT side (n * 4 bytes) for every row, memcpy included, so the
// rows compare directly: quantize reads n floats, dequantize writes n floats.
// Sizes: 4 KiB, 256 KiB and 16 MiB of floats (L1, L2, DRAM on this machine).
// The _scalar rows run the scalar definition (what QK_ISA=scalar selects); the others the xsimd
// path at this translation unit's architecture.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "qk/quantize.hpp"

namespace {

std::vector<float> random_floats(std::size_t n) {
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = d(rng);
  return x;
}

template <class T>
std::size_t storage_elems(std::size_t n) {
  return qk::storage_traits<T>::packed ? n / 2 + n % 2 : n;
}

void set_bytes(benchmark::State& state, std::size_t n) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * sizeof(float)));
}

std::size_t elems(const benchmark::State& state) { return static_cast<std::size_t>(state.range(0)) / sizeof(float); }

void BM_memcpy(benchmark::State& state) {
  const std::size_t n = elems(state);
  const std::vector<float> x = random_floats(n);
  std::vector<float> y(n);
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), n * sizeof(float));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, n);
}

template <class T, bool kSimd>
void BM_quantize(benchmark::State& state) {
  const std::size_t n = elems(state);
  const std::vector<float> x = random_floats(n);
  std::vector<qk::storage_t<T>> q(storage_elems<T>(n));
  qk::QuantParams p;
  if (!qk::choose_quant_params<T>(-3.0f, 3.0f, qk::QuantScheme::asymmetric, 0, &p).ok()) state.SkipWithError("params");
  const qk::QuantizeOptions opt;
  for (auto _ : state) {
    const qk::Status st = qk::detail::quantize_impl<T>(x.data(), n, p.scale, p.zero_point, q.data(), opt, kSimd);
    if (!st.ok()) state.SkipWithError(st.message());
    benchmark::DoNotOptimize(q.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, n);
}

template <class T, bool kSimd>
void BM_dequantize(benchmark::State& state) {
  const std::size_t n = elems(state);
  const std::vector<float> x = random_floats(n);
  std::vector<qk::storage_t<T>> q(storage_elems<T>(n));
  qk::QuantParams p;
  if (!qk::choose_quant_params<T>(-3.0f, 3.0f, qk::QuantScheme::asymmetric, 0, &p).ok()) state.SkipWithError("params");
  if (!qk::quantize<T>(x.data(), n, p, q.data()).ok()) state.SkipWithError("quantize");
  std::vector<float> y(n);
  for (auto _ : state) {
    const qk::Status st = qk::detail::dequantize_impl<T>(q.data(), n, p.scale, p.zero_point, y.data(), kSimd);
    if (!st.ok()) state.SkipWithError(st.message());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_bytes(state, n);
}

#define QK_SIZES ->Arg(4 << 10)->Arg(256 << 10)->Arg(16 << 20)

BENCHMARK(BM_memcpy) QK_SIZES;
BENCHMARK_TEMPLATE(BM_quantize, std::int8_t, true) QK_SIZES;
BENCHMARK_TEMPLATE(BM_quantize, std::int8_t, false) QK_SIZES;
BENCHMARK_TEMPLATE(BM_quantize, qk::int4, true) QK_SIZES;
BENCHMARK_TEMPLATE(BM_quantize, qk::int4, false) QK_SIZES;
BENCHMARK_TEMPLATE(BM_dequantize, std::int8_t, true) QK_SIZES;
BENCHMARK_TEMPLATE(BM_dequantize, std::int8_t, false) QK_SIZES;
BENCHMARK_TEMPLATE(BM_dequantize, qk::int4, true) QK_SIZES;
BENCHMARK_TEMPLATE(BM_dequantize, qk::int4, false) QK_SIZES;

}  // namespace

BENCHMARK_MAIN();
