// Helpers shared by the quantize tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "qk/quantize.hpp"

namespace qk_test {

template <class T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) for every storage type that can be quantized.
template <class F>
void for_each_quant_type(F&& f) {
  f(Tag<std::int8_t>{});
  f(Tag<std::uint8_t>{});
  f(Tag<std::int16_t>{});
  f(Tag<std::uint16_t>{});
  f(Tag<qk::int4>{});
  f(Tag<qk::uint4>{});
}

template <class T>
const char* type_name() {
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  else if constexpr (std::is_same_v<T, std::int16_t>) return "int16";
  else if constexpr (std::is_same_v<T, std::uint16_t>) return "uint16";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else if constexpr (std::is_same_v<T, qk::int4>) return "int4";
  else return "uint4";
}

// Storage elements needed for n values of T.
template <class T>
std::size_t storage_elems(std::size_t n) {
  return qk::storage_traits<T>::packed ? n / 2 + n % 2 : n;
}

// Element i of a T buffer as an integer (unpacking nibbles).
template <class T>
std::int32_t element(const std::vector<qk::storage_t<T>>& buf, std::size_t i) {
  if constexpr (qk::storage_traits<T>::packed) {
    const std::uint32_t b = buf[i / 2];
    return qk::detail::nibble_value<T>((i & 1u) != 0 ? b >> 4 : b & 0x0Fu);
  } else {
    return static_cast<std::int32_t>(buf[i]);
  }
}

inline bool same_bits(float a, float b) {
  std::uint32_t x = 0, y = 0;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

}  // namespace qk_test
