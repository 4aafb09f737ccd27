// qk/core/element_type.hpp - the integer element types of activations (8-bit) and weights (8- and 4-bit).
//
// Its own header so that the layers that never touch a GEMM (pooling, element-wise, softmax)
// can name a tensor's type without including the GEMM operator and its kernel tables.
#pragma once

#include <cstdint>

namespace qk {

// s4: signed 4-bit weights in [-8, 7], two's complement nibbles, two a byte, element i in byte
// i / 2, the even element in the low nibble (TFLite's and ONNX's int4 packing). Weights only
// (GemmS8WeightsDesc::b_type, ConvS8Desc::weight_type), where strides and indices count
// elements, i.e. nibbles; never an activation type.
enum class ElementType : int { s8 = 0, u8, s4 };

namespace detail {
constexpr std::int32_t element_type_min(ElementType t) noexcept {
  return t == ElementType::s8 ? -128 : t == ElementType::s4 ? -8 : 0;
}
constexpr std::int32_t element_type_max(ElementType t) noexcept {
  return t == ElementType::s8 ? 127 : t == ElementType::s4 ? 7 : 255;
}
// The 8-bit types: what activations, outputs and most layers take (s4 is not one of them).
constexpr bool valid_element_type(ElementType t) noexcept { return t == ElementType::s8 || t == ElementType::u8; }
// What GEMM and convolution weights may be: the 8-bit types and s4.
constexpr bool valid_weight_type(ElementType t) noexcept { return valid_element_type(t) || t == ElementType::s4; }
}  // namespace detail

}  // namespace qk
