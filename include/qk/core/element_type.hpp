// qk/core/element_type.hpp - the 8-bit integer element types of activations and weights.
//
// Its own header so that the layers that never touch a GEMM (pooling, element-wise, softmax)
// can name a tensor's type without including the GEMM operator and its kernel tables.
#pragma once

#include <cstdint>

namespace qk {

enum class ElementType : int { s8 = 0, u8 };

namespace detail {
constexpr std::int32_t element_type_min(ElementType t) noexcept { return t == ElementType::s8 ? -128 : 0; }
constexpr std::int32_t element_type_max(ElementType t) noexcept { return t == ElementType::s8 ? 127 : 255; }
constexpr bool valid_element_type(ElementType t) noexcept { return t == ElementType::s8 || t == ElementType::u8; }
}  // namespace detail

}  // namespace qk
