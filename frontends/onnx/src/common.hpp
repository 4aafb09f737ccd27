// Helpers the front end's .cpp files share (not installed, not part of the API).
#pragma once

#include <cstdint>
#include <string>

#include "qk/onnx/model.hpp"

namespace qk {
namespace onnx {
namespace detail {

// A Status whose message is a string literal (what the caller branches on) and whose detail,
// naming the node or tensor, goes to *error for the user.
inline Status fail(std::string* error, StatusCode code, const char* message, const std::string& detail) {
  if (error != nullptr) *error = detail;
  return Status(code, message);
}

// Element i of an integer tensor as int32 (int8, uint8, int4, uint4, int16, int32; 0 for any other type).
inline std::int32_t int_at(const Tensor& t, std::size_t i) {
  switch (t.type) {
    case DataType::int16: return t.data<std::int16_t>()[i];
    case DataType::int8: return t.data<std::int8_t>()[i];
    case DataType::uint8: return t.data<std::uint8_t>()[i];
    case DataType::int4: return t.data<std::int8_t>()[i];    // one element a byte in memory
    case DataType::uint4: return t.data<std::uint8_t>()[i];
    case DataType::int32: return t.data<std::int32_t>()[i];
    default: return 0;
  }
}

}  // namespace detail
}  // namespace onnx
}  // namespace qk
