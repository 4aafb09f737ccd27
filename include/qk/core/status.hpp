// qk/core/status.hpp - the error type every qk entry point returns.
//
// Why a status value and not exceptions: qk must build with -fno-exceptions (embedded users,
// inference engines that ban them), and a caller of a kernel wants to branch on the reason
// cheaply. Every function that can fail validates *all* of its inputs before writing any output,
// so a non-ok Status always means "nothing was written".
#pragma once

#include <cstddef>
#include <cstdio>

namespace qk {

enum class StatusCode : int {
  ok = 0,
  invalid_argument,  // a parameter value is outside its domain (scale <= 0, NaN, rmin > rmax ...)
  null_pointer,      // required data pointer is null while its size is non-zero
  bad_shape,         // shapes that cannot describe a valid problem (block size, stride, padding)
  size_overflow,     // an element or byte count does not fit in size_t
  buffer_too_small,  // caller-provided buffer or workspace is smaller than the size query said
  unsupported,       // valid request that this build or CPU cannot perform (e.g. forcing AVX-512)
  out_of_memory,     // an allocation qk makes (packing) failed
};

// A status is a code plus a static, human-readable message naming the offending parameter, and,
// when the error is about one value, that value (value_kind() != none). The message always
// points to a string literal: no allocation, safe to keep. format() writes message and value
// into a caller's buffer ("gemm weights: K exceeds 8421504 (k = 9000000)") without allocating.
class [[nodiscard]] Status {
 public:
  enum class ValueKind : unsigned char { none = 0, signed_int, unsigned_int, floating };

  constexpr Status() noexcept = default;
  constexpr Status(StatusCode code, const char* message) noexcept : code_(code), message_(message) {}
  // With the offending value (any integer type or floating point; `name` is the argument's name
  // as format() prints it, a string literal, e.g. "k").
  constexpr Status(StatusCode code, const char* message, const char* name, long long value) noexcept
      : code_(code), kind_(ValueKind::signed_int), message_(message), name_(name), i_(value) {}
  constexpr Status(StatusCode code, const char* message, const char* name, long value) noexcept
      : Status(code, message, name, static_cast<long long>(value)) {}
  constexpr Status(StatusCode code, const char* message, const char* name, int value) noexcept
      : Status(code, message, name, static_cast<long long>(value)) {}
  constexpr Status(StatusCode code, const char* message, const char* name, unsigned long long value) noexcept
      : code_(code), kind_(ValueKind::unsigned_int), message_(message), name_(name), u_(value) {}
  constexpr Status(StatusCode code, const char* message, const char* name, unsigned long value) noexcept
      : Status(code, message, name, static_cast<unsigned long long>(value)) {}
  constexpr Status(StatusCode code, const char* message, const char* name, unsigned value) noexcept
      : Status(code, message, name, static_cast<unsigned long long>(value)) {}
  constexpr Status(StatusCode code, const char* message, const char* name, double value) noexcept
      : code_(code), kind_(ValueKind::floating), message_(message), name_(name), d_(value) {}
  constexpr Status(StatusCode code, const char* message, const char* name, float value) noexcept
      : Status(code, message, name, static_cast<double>(value)) {}

  static constexpr Status success() noexcept { return Status(); }

  constexpr bool ok() const noexcept { return code_ == StatusCode::ok; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr StatusCode code() const noexcept { return code_; }
  constexpr const char* message() const noexcept { return message_; }
  // The offending argument's name and value, when the error is about one value.
  constexpr ValueKind value_kind() const noexcept { return kind_; }
  constexpr const char* value_name() const noexcept { return name_; }
  constexpr long long int_value() const noexcept {
    return kind_ == ValueKind::signed_int ? i_ : kind_ == ValueKind::unsigned_int ? static_cast<long long>(u_) : 0;
  }
  constexpr unsigned long long uint_value() const noexcept {
    return kind_ == ValueKind::unsigned_int ? u_ : kind_ == ValueKind::signed_int ? static_cast<unsigned long long>(i_) : 0;
  }
  constexpr double float_value() const noexcept { return kind_ == ValueKind::floating ? d_ : 0.0; }

  // Writes "message (name = value)" (or the message alone) into buf, always NUL-terminated and
  // truncated to size; returns buf. A 160-byte buffer holds every qk message with its value.
  // Integers are formatted here, not with %lld (newlib-nano's printf has no %lld); floating
  // values use snprintf's %g (on newlib-nano only when linked with -u _printf_float).
  const char* format(char* buf, std::size_t size) const noexcept {
    if (buf == nullptr || size == 0) return buf;
    char value[48] = {};
    switch (kind_) {
      case ValueKind::signed_int:
        format_integer(i_ < 0, i_ < 0 ? 0ull - static_cast<unsigned long long>(i_) : static_cast<unsigned long long>(i_),
                       value);
        break;
      case ValueKind::unsigned_int: format_integer(false, u_, value); break;
      case ValueKind::floating:
        if (std::snprintf(value, sizeof value, "%.9g", d_) < 0) value[0] = '\0';
        break;
      default: break;
    }
    std::size_t at = 0;
    const auto put = [&](const char* text) noexcept {
      for (; text != nullptr && *text != '\0' && at + 1 < size; ++text) buf[at++] = *text;
    };
    put(message_);
    if (kind_ != ValueKind::none) {
      put(" (");
      put(name_);
      put(" = ");
      put(value);
      put(")");
    }
    buf[at] = '\0';
    return buf;
  }

 private:
  // Decimal digits of a magnitude with an optional minus sign into out (at least 22 bytes).
  static void format_integer(bool negative, unsigned long long magnitude, char* out) noexcept {
    char digits[24];
    int n = 0;
    do {
      digits[n++] = static_cast<char>('0' + static_cast<int>(magnitude % 10));
      magnitude /= 10;
    } while (magnitude != 0);
    int at = 0;
    if (negative) out[at++] = '-';
    while (n > 0) out[at++] = digits[--n];
    out[at] = '\0';
  }

  StatusCode code_ = StatusCode::ok;
  ValueKind kind_ = ValueKind::none;
  const char* message_ = "ok";
  const char* name_ = "";
  union {
    long long i_ = 0;
    unsigned long long u_;
    double d_;
  };
};

// Formats a status into a fixed buffer held by value: for messages in logs and test output,
//   std::printf("%s\n", qk::StatusText(st).c_str());
struct StatusText {
  char text[192];
  explicit StatusText(const Status& s) noexcept { s.format(text, sizeof text); }
  const char* c_str() const noexcept { return text; }
};

constexpr const char* status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::ok: return "ok";
    case StatusCode::invalid_argument: return "invalid_argument";
    case StatusCode::null_pointer: return "null_pointer";
    case StatusCode::bad_shape: return "bad_shape";
    case StatusCode::size_overflow: return "size_overflow";
    case StatusCode::buffer_too_small: return "buffer_too_small";
    case StatusCode::unsupported: return "unsupported";
    case StatusCode::out_of_memory: return "out_of_memory";
  }
  return "unknown";
}

}  // namespace qk

// Early return on failure; used by every validating entry point.
#define QK_RETURN_IF_ERROR(expr)            \
  do {                                      \
    ::qk::Status qk_status_tmp_ = (expr);   \
    if (!qk_status_tmp_.ok()) return qk_status_tmp_; \
  } while (0)
