// Shared pieces of qk's benchmark programs: deterministic random operands and the GOPS counter.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <random>
#include <vector>

namespace qk_bench {

// count values uniform in [lo, hi], the same for a given seed in every run and program.
template <typename T>
std::vector<T> random_vector(std::size_t count, int lo, int hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  std::vector<T> v(count);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

inline std::vector<float> random_floats(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The user counter every GEMM/conv row reports: 2 x multiply-accumulates per second, in 1e9.
inline void set_gops(benchmark::State& state, double macs) {
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * macs * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace qk_bench
