// qk/core/status.hpp - the error type every qk entry point returns.
//
// Why a status value and not exceptions: qk must build with -fno-exceptions (embedded users,
// inference engines that ban them), and a caller of a kernel wants to branch on the reason
// cheaply. Every function that can fail validates *all* of its inputs before writing any output,
// so a non-ok Status always means "nothing was written".
#pragma once

namespace qk {

enum class StatusCode : int {
  ok = 0,
  invalid_argument,  // a parameter value is outside its domain (scale <= 0, NaN, rmin > rmax ...)
  null_pointer,      // required data pointer is null while its size is non-zero
  bad_shape,         // shapes that cannot describe a valid problem (block size, stride, padding)
  size_overflow,     // an element or byte count does not fit in size_t
  buffer_too_small,  // caller-provided buffer or workspace is smaller than the size query said
  unsupported,       // valid request that this build or CPU cannot perform (e.g. forcing AVX-512)
};

// A status is a code plus a static, human-readable message naming the offending parameter.
// The message always points to a string literal: no allocation, safe to keep.
class [[nodiscard]] Status {
 public:
  constexpr Status() noexcept = default;
  constexpr Status(StatusCode code, const char* message) noexcept : code_(code), message_(message) {}

  static constexpr Status success() noexcept { return Status(); }

  constexpr bool ok() const noexcept { return code_ == StatusCode::ok; }
  constexpr explicit operator bool() const noexcept { return ok(); }
  constexpr StatusCode code() const noexcept { return code_; }
  constexpr const char* message() const noexcept { return message_; }

 private:
  StatusCode code_ = StatusCode::ok;
  const char* message_ = "ok";
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
