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

constexpr std::size_t round_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m * m; }
constexpr std::size_t div_up(std::size_t x, std::size_t m) noexcept { return (x + m - 1) / m; }

}  // namespace detail
}  // namespace qk
