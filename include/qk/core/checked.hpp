// qk/core/checked.hpp - overflow-checked size arithmetic for validating user-supplied shapes.
//
// Every byte count qk derives from user sizes goes through these, so that a shape whose
// element or byte count does not fit in size_t is reported (StatusCode::size_overflow)
// instead of wrapping into a small allocation and a buffer overrun.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace qk {
namespace detail {

// r = a * b; returns false (r untouched) on overflow.
inline bool checked_mul(std::size_t a, std::size_t b, std::size_t* r) noexcept {
  if (a != 0 && b > std::numeric_limits<std::size_t>::max() / a) return false;
  *r = a * b;
  return true;
}

inline bool checked_add(std::size_t a, std::size_t b, std::size_t* r) noexcept {
  if (b > std::numeric_limits<std::size_t>::max() - a) return false;
  *r = a + b;
  return true;
}

// Product of several factors, false if any step overflows.
inline bool checked_mul3(std::size_t a, std::size_t b, std::size_t c, std::size_t* r) noexcept {
  std::size_t t = 0;
  return checked_mul(a, b, &t) && checked_mul(t, c, r);
}

// *r = x rounded up to a multiple of m (m > 0); false (r untouched) when that does not fit in
// size_t. Every rounding of a user-derived size goes through this one.
inline bool checked_round_up(std::size_t x, std::size_t m, std::size_t* r) noexcept {
  const std::size_t rem = x % m;
  if (rem == 0) {
    *r = x;
    return true;
  }
  return checked_add(x, m - rem, r);
}

// x rounded up to a multiple of m (m > 0), for sizes already known to be small (constants,
// or sizes a validation has bounded): it wraps to a small value when x + m - 1 overflows, so
// anything derived from user sizes must use checked_round_up instead.
constexpr std::size_t round_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m * m; }
// ceil(x / m) (m > 0); exact for every x (no x + m - 1 that could wrap).
constexpr std::size_t div_up(std::size_t x, std::size_t m) noexcept { return x / m + (x % m != 0 ? 1 : 0); }

// The output columns [*lo, *hi) of a convolution row whose taps all lie inside the input, in
// closed form (loops over out_w are as slow as the widths a fuzzer hands them): ox with
// ox * stride >= pad and ox * stride + (kernel - 1) * dilation < size + pad; *hi >= *lo, and
// both <= out. stride > 0 and kernel > 0 (validated shapes); the sums are checked, so any sizes.
inline void interior_columns(std::size_t out, std::size_t size, std::size_t pad, std::size_t stride, std::size_t kernel,
                             std::size_t dilation, std::size_t* lo, std::size_t* hi) noexcept {
  const std::size_t first = div_up(pad, stride);
  *lo = first < out ? first : out;
  *hi = *lo;
  std::size_t reach = 0, lim = 0;
  if (checked_mul(kernel - 1, dilation, &reach) && checked_add(size, pad, &lim) && lim > reach) {
    const std::size_t end = div_up(lim - reach, stride);
    if (end > *hi) *hi = end < out ? end : out;
  }
}

// The first and one-past-last kernel tap k whose input coordinate o * stride + k * dilation - pad
// lies in [0, size): a contiguous range (*k1 == *k0 when none does). A loop of at most `kernel`
// steps, run once per output row or edge pixel; the coordinates fit size_t (validated shapes).
inline void valid_taps(std::size_t o, std::size_t stride, std::size_t dilation, std::size_t pad, std::size_t size,
                       std::size_t kernel, std::size_t* k0, std::size_t* k1) noexcept {
  std::size_t k = 0;
  while (k < kernel && o * stride + k * dilation < pad) ++k;
  *k0 = k;
  while (k < kernel && o * stride + k * dilation - pad < size) ++k;
  *k1 = k;
}

}  // namespace detail
}  // namespace qk
