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

}  // namespace detail
}  // namespace qk
