// Shared pieces of qk's benchmark programs: deterministic random operands and the GOPS counter.
#pragma once

#include <benchmark/benchmark.h>

#include <cstddef>
#include <new>
#include <random>
#include <vector>

namespace qk_bench {

// Every operand buffer of every row, qk's and the peers', starts on a 64-byte boundary: oneDNN's
// memory objects do (it allocates them), a plain std::vector of a large size does not (glibc's
// mmap'd chunks start 16 bytes into a page). With 16-byte-aligned NHWC rows every zmm load of a
// 32-channel pixel straddles two cache lines, which cost qk's fp32 depthwise 38% against
// oneDNN's aligned buffers on Zen 5 (164 against 119 us): a difference of the harness, not of the
// kernels.
template <typename T>
struct Aligned64 {
  using value_type = T;
  Aligned64() = default;
  template <typename U>
  Aligned64(const Aligned64<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{64}); }
  template <typename U>
  bool operator==(const Aligned64<U>&) const noexcept { return true; }
  template <typename U>
  bool operator!=(const Aligned64<U>&) const noexcept { return false; }
};
template <typename T>
using Buffer = std::vector<T, Aligned64<T>>;

// count values uniform in [lo, hi], the same for a given seed in every run and program.
template <typename T>
Buffer<T> random_vector(std::size_t count, int lo, int hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> dist(lo, hi);
  Buffer<T> v(count);
  for (auto& x : v) x = static_cast<T>(dist(rng));
  return v;
}

inline Buffer<float> random_floats(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  Buffer<float> v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

// The user counter every GEMM/conv row reports: 2 x multiply-accumulates per second, in 1e9.
inline void set_gops(benchmark::State& state, double macs) {
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * macs * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

}  // namespace qk_bench
