// tests/fuzz/fuzz_common.hpp - what every qk libFuzzer target shares: a byte reader that
// decodes the fuzz input into adversarial values (sizes up to SIZE_MAX, special floats, raw enum
// values), canary buffers, and the check that stops the run.
//
// The rule every validation target follows: a buffer is only handed to qk at the size its
// contract says qk may touch. Shapes too large to allocate (over kCapBytes) are passed with
// small buffers only when the target's own model of the checks says the call must fail; the
// library must then return an error before touching anything.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "qk/core/isa.hpp"
#include "qk/core/status.hpp"

namespace qk_fuzz {

constexpr std::size_t kSizeMax = std::numeric_limits<std::size_t>::max();
// Largest buffer a target allocates for a real run.
constexpr std::size_t kCapBytes = std::size_t{1} << 20;

[[noreturn]] inline void fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "qk fuzz check failed: %s (%s:%d)\n", what, file, line);
  std::fflush(stderr);
  __builtin_trap();
}
#define QK_FUZZ_CHECK(cond) \
  do {                      \
    if (!(cond)) ::qk_fuzz::fail(#cond, __FILE__, __LINE__); \
  } while (0)

// Stops the run if `expr` (a qk::Status) is not ok, printing qk's message.
#define QK_FUZZ_OK(expr)                                                              \
  do {                                                                                \
    const ::qk::Status qk_fuzz_st_ = (expr);                                          \
    if (!qk_fuzz_st_.ok()) {                                                          \
      std::fprintf(stderr, "qk status: %s: %s\n", ::qk::status_code_name(qk_fuzz_st_.code()), \
                   qk_fuzz_st_.message());                                            \
      ::qk_fuzz::fail(#expr, __FILE__, __LINE__);                                     \
    }                                                                                 \
  } while (0)

// Reads values from the fuzz input; past its end every read is 0.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

  bool empty() const { return p_ == end_; }
  std::uint8_t u8() { return p_ < end_ ? *p_++ : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | (u8() << 8)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(u16()) | (static_cast<std::uint32_t>(u16()) << 16); }
  std::uint64_t u64() { return static_cast<std::uint64_t>(u32()) | (static_cast<std::uint64_t>(u32()) << 32); }
  bool flag() { return (u8() & 1u) != 0; }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  // [lo, hi], uniform enough for fuzzing.
  std::size_t range(std::size_t lo, std::size_t hi) {
    const std::size_t span = hi - lo + 1;
    return span == 0 ? static_cast<std::size_t>(u64()) : lo + static_cast<std::size_t>(u32()) % span;
  }
  std::int32_t irange(std::int32_t lo, std::int32_t hi) {
    const std::uint32_t span = static_cast<std::uint32_t>(hi) - static_cast<std::uint32_t>(lo) + 1u;
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(lo) + (span == 0 ? u32() : u32() % span));
  }

  // A size: mostly small (0..small_max), else a boundary value or any 64-bit value.
  std::size_t size(std::size_t small_max) {
    const std::uint8_t sel = u8();
    if (sel < 200) return range(0, small_max);
    static const std::size_t special[] = {
        0, 1, 2, 3, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255, 256, 4096,
        std::size_t{1} << 20, (std::size_t{1} << 31) - 1, std::size_t{1} << 31, (std::size_t{1} << 32) - 1,
        std::size_t{1} << 32, (std::size_t{1} << 32) + 1, std::size_t{1} << 40, std::size_t{1} << 58,
        (kSizeMax >> 4) - 1, kSizeMax >> 4, (kSizeMax >> 4) + 1, kSizeMax >> 3, kSizeMax >> 2,
        kSizeMax >> 1, (kSizeMax >> 1) + 1, kSizeMax - 64, kSizeMax - 1, kSizeMax};
    if (sel < 250) return special[u8() % (sizeof(special) / sizeof(special[0]))];
    return static_cast<std::size_t>(u64());
  }
  // An int32 with the boundary values likely.
  std::int32_t int32(std::int32_t lo_small, std::int32_t hi_small) {
    const std::uint8_t sel = u8();
    if (sel < 200) return irange(lo_small, hi_small);
    static const std::int32_t special[] = {0, 1, -1, 2, -2, 127, 128, -128, -129, 255, 256, 30, 31, 32, -31, -32, -33,
                                           std::numeric_limits<std::int32_t>::max(),
                                           std::numeric_limits<std::int32_t>::min(),
                                           std::numeric_limits<std::int32_t>::min() + 1, 1 << 30, (1 << 30) + 1};
    if (sel < 250) return special[u8() % (sizeof(special) / sizeof(special[0]))];
    return i32();
  }
  // A float: ordinary values, or NaN, infinities, zeros, denormals, extremes, or raw bits.
  float real() {
    const std::uint8_t sel = u8();
    if (sel < 160) return static_cast<float>(irange(-100000, 100000)) / static_cast<float>(1 + u8());
    static const float special[] = {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN(),
                                    std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                    0.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                                    -std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                                    std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                                    std::numeric_limits<float>::epsilon(), 1.0f, -1.0f, 0.5f, 1e-30f, 1e30f,
                                    2147483648.0f, -2147483648.0f, 2147483520.0f, 127.5f, -128.5f, 255.5f};
    if (sel < 230) return special[u8() % (sizeof(special) / sizeof(special[0]))];
    const std::uint32_t bits = u32();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
  // A scale: mostly valid positive values, often adversarial.
  float scale() {
    const std::uint8_t sel = u8();
    if (sel < 128) return std::ldexp(1.0f + static_cast<float>(u16()) / 65536.0f, irange(-20, 4));
    return real();
  }
  // Any int value as an enum (enum classes with int underlying type hold every int).
  template <class E>
  E any_enum(int count) {
    const std::uint8_t sel = u8();
    if (sel < 240) return static_cast<E>(sel % count);
    return static_cast<E>(static_cast<int>(i32()));
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

// a * b (* c) without wrapping: false when the product does not fit in size_t.
inline bool mul(std::size_t a, std::size_t b, std::size_t* r) {
  return !__builtin_mul_overflow(a, b, r);
}
inline bool mul3(std::size_t a, std::size_t b, std::size_t c, std::size_t* r) {
  std::size_t t = 0;
  return mul(a, b, &t) && mul(t, c, r);
}
inline bool add(std::size_t a, std::size_t b, std::size_t* r) { return !__builtin_add_overflow(a, b, r); }

// Bytes filled with a canary; unchanged() says whether anything in [from, to) was written.
struct Canary {
  static constexpr std::uint8_t kByte = 0xA5;
  std::vector<std::uint8_t> bytes;
  explicit Canary(std::size_t n) : bytes(n == 0 ? 1 : n, kByte) {}
  void* data() { return bytes.data(); }
  bool unchanged(std::size_t from = 0, std::size_t to = kSizeMax) const {
    if (to > bytes.size()) to = bytes.size();
    for (std::size_t i = from; i < to; ++i)
      if (bytes[i] != kByte) return false;
    return true;
  }
};

inline std::vector<qk::Isa> supported_isas() {
  std::vector<qk::Isa> out;
  for (int i = 0; i < qk::kIsaCount; ++i)
    if (qk::isa_supported(static_cast<qk::Isa>(i))) out.push_back(static_cast<qk::Isa>(i));
  return out;
}

// Restores the automatic ISA choice when it goes out of scope.
struct ForcedIsa {
  explicit ForcedIsa(qk::Isa isa) { QK_FUZZ_CHECK(qk::force_isa(isa).ok()); }
  ~ForcedIsa() { qk::reset_isa(); }
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;
};

}  // namespace qk_fuzz
