// qk/core/output_stage.hpp - what happens to an int32 accumulator at the end of GEMM/conv.
//
// Shared by every integer operator. The accumulator reaching this stage already holds
//   sum_k (A - za)(B - zb) + bias           (wrapping int32 arithmetic, like vpdpbusd)
// and the stage turns it into the output element:
//   raw_int32:    C = acc                                        (ONNX MatMulInteger/ConvInteger)
//   fixed_point:  C = clamp(MBQM(acc, mult, shift) + zp, lo, hi) (TFLite)
//   float_scale:  C = clamp(round_half_even(acc * scale) + zp)   (ONNX QLinearMatMul/QLinearConv)
//   dequantize:   C = float(acc) * scale                          (float output)
// Parameters are per tensor (one value) or per output channel (one per column of C).
// output_element() below is the definition; every SIMD epilogue reproduces it bit for bit.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/core/status.hpp"
#include "qk/fixed_point.hpp"

namespace qk {

enum class OutputType : int { s8 = 0, u8, s32, f32 };

constexpr std::size_t output_type_size(OutputType t) noexcept {
  return t == OutputType::s8 || t == OutputType::u8 ? 1 : 4;
}

struct OutputStage {
  enum class Kind : int { raw_int32 = 0, fixed_point, float_scale, dequantize };

  Kind kind = Kind::raw_int32;
  OutputType type = OutputType::s32;
  bool per_channel = false;            // parameters indexed by output column, else [0]
  const std::int32_t* multiplier = nullptr;  // fixed_point: Q0.31 multipliers
  const std::int32_t* shift = nullptr;       // fixed_point: TFLite shifts (> 0 is left)
  RequantRounding rounding = RequantRounding::double_rounding;
  const float* scale = nullptr;        // float_scale / dequantize
  std::int32_t zero_point = 0;         // output zero point (quantized outputs)
  std::int32_t qmin = 0, qmax = 0;     // fused clamp, inside the output type's range

  static OutputStage int32() noexcept { return OutputStage(); }

  // TFLite-style requantization to s8/u8; clamp [qmin, qmax] (the fused activation).
  static OutputStage fixed_point_requant(OutputType type, const std::int32_t* multiplier, const std::int32_t* shift,
                                         bool per_channel, std::int32_t zero_point, std::int32_t qmin,
                                         std::int32_t qmax,
                                         RequantRounding rounding = RequantRounding::double_rounding) noexcept {
    OutputStage s;
    s.kind = Kind::fixed_point;
    s.type = type;
    s.multiplier = multiplier;
    s.shift = shift;
    s.per_channel = per_channel;
    s.zero_point = zero_point;
    s.qmin = qmin;
    s.qmax = qmax;
    s.rounding = rounding;
    return s;
  }

  // ONNX-style requantization to s8/u8: scale = a_scale * b_scale / y_scale (per column or not).
  static OutputStage float_requant(OutputType type, const float* scale, bool per_channel, std::int32_t zero_point,
                                   std::int32_t qmin, std::int32_t qmax) noexcept {
    OutputStage s;
    s.kind = Kind::float_scale;
    s.type = type;
    s.scale = scale;
    s.per_channel = per_channel;
    s.zero_point = zero_point;
    s.qmin = qmin;
    s.qmax = qmax;
    return s;
  }

  // Float output: acc * scale (scale = a_scale * b_scale, per column or not).
  static OutputStage dequantize(const float* scale, bool per_channel) noexcept {
    OutputStage s;
    s.kind = Kind::dequantize;
    s.type = OutputType::f32;
    s.scale = scale;
    s.per_channel = per_channel;
    return s;
  }
};

namespace detail {

constexpr std::int32_t type_min(OutputType t) noexcept { return t == OutputType::s8 ? -128 : 0; }
constexpr std::int32_t type_max(OutputType t) noexcept { return t == OutputType::s8 ? 127 : 255; }

// Checks an output stage for `channels` output columns before anything is computed.
inline Status validate_output_stage(const OutputStage& s, std::size_t channels) noexcept {
  const std::size_t count = s.per_channel ? channels : 1;
  switch (s.kind) {
    case OutputStage::Kind::raw_int32:
      if (s.type != OutputType::s32)
        return Status(StatusCode::invalid_argument, "output stage: raw_int32 output must be s32", "type", static_cast<int>(s.type));
      return Status::success();
    case OutputStage::Kind::dequantize:
      if (s.type != OutputType::f32)
        return Status(StatusCode::invalid_argument, "output stage: dequantize output must be f32", "type", static_cast<int>(s.type));
      if (s.scale == nullptr && count > 0) return Status(StatusCode::null_pointer, "output stage: dequantize: null scale");
      for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(s.scale[i]))
          return Status(StatusCode::invalid_argument, "output stage: dequantize: scale is NaN or infinite", "scale", s.scale[i]);
      return Status::success();
    case OutputStage::Kind::fixed_point:
    case OutputStage::Kind::float_scale:
      break;
    default:
      return Status(StatusCode::invalid_argument, "output stage: unknown kind", "kind", static_cast<int>(s.kind));
  }
  if (s.type != OutputType::s8 && s.type != OutputType::u8)
    return Status(StatusCode::invalid_argument, "output stage: requantized output must be s8 or u8", "type",
                  static_cast<int>(s.type));
  if (s.zero_point < type_min(s.type) || s.zero_point > type_max(s.type))
    return Status(StatusCode::invalid_argument, "output stage: zero point outside the output type", "zero_point", s.zero_point);
  if (s.qmin < type_min(s.type) || s.qmin > s.qmax)
    return Status(StatusCode::invalid_argument, "output stage: qmin outside the output type or above qmax", "qmin", s.qmin);
  if (s.qmax > type_max(s.type))
    return Status(StatusCode::invalid_argument, "output stage: qmax outside the output type", "qmax", s.qmax);
  if (s.kind == OutputStage::Kind::fixed_point) {
    if ((s.multiplier == nullptr || s.shift == nullptr) && count > 0)
      return Status(StatusCode::null_pointer, "output stage: fixed-point requantization: null multiplier or shift");
    for (std::size_t i = 0; i < count; ++i)
      QK_RETURN_IF_ERROR(validate_quantized_multiplier(s.multiplier[i], s.shift[i], s.rounding));
  } else {
    if (s.scale == nullptr && count > 0) return Status(StatusCode::null_pointer, "output stage: float requantization: null scale");
    for (std::size_t i = 0; i < count; ++i) QK_RETURN_IF_ERROR(validate_requant_scale(s.scale[i]));
  }
  return Status::success();
}

// The definition of one output element: `acc` is the complete accumulator of column `n`;
// writes element `col` of a row of type s.type starting at `row`.
inline void output_element(std::int32_t acc, std::size_t n, const OutputStage& s, void* row, std::size_t col) noexcept {
  const std::size_t p = s.per_channel ? n : 0;
  switch (s.kind) {
    case OutputStage::Kind::raw_int32:
      static_cast<std::int32_t*>(row)[col] = acc;
      return;
    case OutputStage::Kind::dequantize:
      static_cast<float*>(row)[col] = static_cast<float>(acc) * s.scale[p];
      return;
    case OutputStage::Kind::fixed_point:
    case OutputStage::Kind::float_scale: {
      const std::int32_t q =
          s.kind == OutputStage::Kind::fixed_point
              ? requantize_fixed_point(acc, s.multiplier[p], s.shift[p], s.zero_point, s.qmin, s.qmax, s.rounding)
              : requantize_float(acc, s.scale[p], s.zero_point, s.qmin, s.qmax);
      if (s.type == OutputType::s8)
        static_cast<std::int8_t*>(row)[col] = static_cast<std::int8_t>(q);
      else
        static_cast<std::uint8_t*>(row)[col] = static_cast<std::uint8_t>(q);
      return;
    }
  }
}

}  // namespace detail
}  // namespace qk
