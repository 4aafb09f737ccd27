// qk/layers/activation.hpp - element-wise activations of 8-bit tensors: ReLU, ReLU6,
// ReLU_N1_to_1, Logistic, Tanh, HardSwish, LeakyReLU, and the 256-entry table (Lut) they run as.
//
// Why tables: an 8-bit input has 256 values, so every one-input activation is a function on 256
// points. Each layer evaluates its specification's arithmetic once per point when it is built
// and stores the 256 results; run() is a lookup per element. The table is then bit-exact with
// the specification by construction, and no per-element multiply, shift or float survives into
// run(). A table that is a clamp of the identity (ReLU with equal input and output
// quantization) is detected when it is set, and runs as a clamp loop, which vectorises.
//
// Specifications (TFLite, tensorflow/lite/kernels/activations.cc and the reference kernels):
//  - ReLU, ReLU6, ReLU_N1_to_1: TFLite's ReluPrepare + QuantizedReluX / reference_ops::ReluX.
//    (multiplier, shift) = QuantizeMultiplier(double(input_scale / output_scale)) (the quotient
//    in float, as ReluPrepare writes it); out = clamp(output_zero_point +
//    MultiplyByQuantizedMultiplier(x - input_zero_point, multiplier, shift)) to
//    [zp + round(lo / scale), zp + round(hi / scale)] of the output (activation_range with
//    relu, relu6, relu_n1_to_1), intersected with the type. With equal quantizations the
//    multiplier is exactly 1 (2^30, shift 1): a pure clamp.
//  - Logistic, Tanh: full TFLite's int8/uint8 kernels (kReference and kGenericOptimized) build a
//    table with LUTPopulate: for each q, f = input_scale * (q - input_zero_point) in float, the
//    function in float (1 / (1 + exp(-f)), tanh(f)), round(result * (1 / output_scale)) half away
//    from zero (TfLiteRound) + output_zero_point, clamped to the type. The output quantization is
//    fixed by TFLite: logistic scale 1/256 with zero point -128 (int8) or 0 (uint8), tanh 1/128
//    with 0 (int8) or 128 (uint8); any other is refused. (TFLite Micro computes these in gemmlowp
//    fixed point instead; its results differ on some inputs.)
//  - HardSwish: reference_ops::HardSwish with HardSwishParams derived as HardSwishPrepare does
//    (all in float: hires_input_scale = input_scale / 128, output multiplier
//    hires_input_scale / output_scale, which must be below 1, "reluish" multiplier
//    hires_input_scale / (3 / 32768); each QuantizeMultiplier'd then rounded to 16 bits by
//    DownScaleInt32ToInt16Multiplier). The int16 arithmetic (gemmlowp's int16
//    SaturatingRoundingDoublingHighMul and RoundingDivideByPOT, the truncating
//    SaturatingDoublingHighMul, the int16 wrap of the final zero-point addition) is reproduced
//    exactly, for each of the 256 inputs.
//  - LeakyReLU: reference_ops::QuantizeLeakyRelu with LeakyReluPrepare's two multipliers:
//    identity = QuantizeMultiplier(double(input_scale / output_scale)), alpha =
//    QuantizeMultiplier(double(input_scale * alpha / output_scale)) (float products), then for
//    v = x - input_zero_point: output_zero_point + MBQM(v, v >= 0 ? identity : alpha), clamped
//    to the type. qk refuses a negative alpha (TFLite's QuantizeMultiplier would produce a
//    negative multiplier; no qk requantization takes one).
//
// Every layer is built from float scales and zero points (QuantInfo) or from TFLite's prepared
// integers (ReluParams, HardSwishParams, LeakyReluParams; for Logistic and Tanh TFLite's
// prepared data is the table itself: build a Lut from it).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "qk/kernels/elementwise_registry.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// TFLite's prepared integers of ReLU / ReLU6 / ReLU_N1_to_1 (ReluParams, with the zero points
// named as what they are: TFLite's "input_offset" there is +input_zero_point).
struct ReluParams {
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  std::int32_t output_multiplier = 1 << 30;
  std::int32_t output_shift = 1;
  std::int32_t act_min = -128;
  std::int32_t act_max = 127;
};

// TFLite's HardSwishParams.
struct HardSwishParams {
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  std::int16_t reluish_multiplier_fixedpoint_int16 = 0;
  std::int32_t reluish_multiplier_exponent = 0;
  std::int16_t output_multiplier_fixedpoint_int16 = 0;
  std::int32_t output_multiplier_exponent = 0;
};

// TFLite's LeakyReluParams (quantized part).
struct LeakyReluParams {
  std::int32_t input_zero_point = 0;
  std::int32_t output_zero_point = 0;
  std::int32_t output_multiplier_alpha = 0;
  std::int32_t output_shift_alpha = 0;
  std::int32_t output_multiplier_identity = 1 << 30;
  std::int32_t output_shift_identity = 1;
};

namespace activation_detail {

inline Status check_quant(const QuantInfo& q, ElementType type, const char* scale_message,
                          const char* zero_point_message) noexcept {
  if (!(std::isfinite(q.scale) && q.scale > 0.0f)) return Status(StatusCode::invalid_argument, scale_message, "scale", q.scale);
  if (q.zero_point < ::qk::detail::element_type_min(type) || q.zero_point > ::qk::detail::element_type_max(type))
    return Status(StatusCode::invalid_argument, zero_point_message, "zero_point", q.zero_point);
  return Status::success();
}

inline Status check_in_out(ElementType type, const QuantInfo& in, const QuantInfo& out) noexcept {
  if (!::qk::detail::valid_element_type(type))
    return Status(StatusCode::invalid_argument, "activation: unknown element type", "type", static_cast<int>(type));
  Status st = check_quant(in, type, "activation: input scale is not a positive finite number",
                          "activation: input zero point outside the element type");
  if (!st.ok()) return st;
  return check_quant(out, type, "activation: output scale is not a positive finite number",
                     "activation: output zero point outside the element type");
}

inline Status check_zero_point(std::int32_t zp, ElementType type, const char* message) noexcept {
  if (zp < ::qk::detail::element_type_min(type) || zp > ::qk::detail::element_type_max(type))
    return Status(StatusCode::invalid_argument, message, "zero_point", zp);
  return Status::success();
}

// The table's byte for an output value v (already within the type): its bit pattern.
inline std::uint8_t to_byte(std::int32_t v) noexcept { return static_cast<std::uint8_t>(v & 0xFF); }
// The input value whose bit pattern is byte i.
inline std::int32_t from_byte(std::size_t i, ElementType type) noexcept {
  const std::int32_t v = static_cast<std::int32_t>(i);
  return type == ElementType::s8 && v >= 128 ? v - 256 : v;
}
inline std::int32_t clamp_to_type(std::int64_t v, ElementType type) noexcept {
  const std::int64_t lo = ::qk::detail::element_type_min(type), hi = ::qk::detail::element_type_max(type);
  return static_cast<std::int32_t>(v < lo ? lo : v > hi ? hi : v);
}

// gemmlowp's int16 SaturatingRoundingDoublingHighMul: round(a * b / 2^15), ties toward +inf
// (the nudge is 2^14 for a non-negative product, 1 - 2^14 otherwise, then a truncating
// division); -32768 * -32768 saturates.
inline std::int16_t srdhm16(std::int16_t a, std::int16_t b) noexcept {
  if (a == b && a == std::numeric_limits<std::int16_t>::min()) return std::numeric_limits<std::int16_t>::max();
  const std::int32_t ab = static_cast<std::int32_t>(a) * static_cast<std::int32_t>(b);
  const std::int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return static_cast<std::int16_t>((ab + nudge) / (1 << 15));
}
// TFLite's SaturatingDoublingHighMul (int16, truncating: SQDMULH).
inline std::int16_t sdhm16(std::int16_t a, std::int16_t b) noexcept {
  if (a == b && a == std::numeric_limits<std::int16_t>::min()) return std::numeric_limits<std::int16_t>::max();
  const std::int32_t ab = static_cast<std::int32_t>(a) * static_cast<std::int32_t>(b);
  return static_cast<std::int16_t>(ab / (1 << 15));
}
// gemmlowp's RoundingDivideByPOT on a scalar int16, exponent in [0, 31]. gemmlowp builds its mask
// as int16(2^exponent - 1): for exponents of 16 and more that truncation makes the mask -1, and
// the result (x >> exponent) + (x >= 0): reproduced, since HardSwish can reach such exponents.
inline std::int16_t rdpot16(std::int16_t x, int exponent) noexcept {
  const std::int64_t wide_mask = ((std::int64_t{1} << exponent) - 1) & 0xFFFF;
  const std::int32_t mask = static_cast<std::int32_t>(wide_mask >= 0x8000 ? wide_mask - 0x10000 : wide_mask);
  const std::int32_t xi = x;
  const std::int32_t remainder = xi & mask;
  const std::int32_t threshold = (mask >> 1) + (xi < 0 ? 1 : 0);
  return static_cast<std::int16_t>((xi >> exponent) + (remainder > threshold ? 1 : 0));
}
// TFLite's SaturatingLeftShift (int16): value * 2^amount saturated to int16.
inline std::int16_t saturating_left_shift16(std::int16_t value, int amount) noexcept {
  std::int64_t r = static_cast<std::int64_t>(value) * (std::int64_t{1} << amount);
  r = r > 32767 ? 32767 : r < -32768 ? -32768 : r;
  return static_cast<std::int16_t>(r);
}
// The int16 result of an int addition assigned back to int16_t (two's complement wrap, as every
// compiler TFLite builds with does).
inline std::int16_t wrap16(std::int32_t v) noexcept {
  const std::int32_t low = v & 0xFFFF;
  return static_cast<std::int16_t>(low >= 0x8000 ? low - 0x10000 : low);
}

// TFLite DownScaleInt32ToInt16Multiplier: round to 16 bits, saturating near 2^31.
inline std::int16_t downscale_multiplier16(std::int32_t m) noexcept {
  constexpr std::int32_t kRoundingOffset = 1 << 15;
  if (m >= std::numeric_limits<std::int32_t>::max() - kRoundingOffset) return std::numeric_limits<std::int16_t>::max();
  return static_cast<std::int16_t>((m + kRoundingOffset) >> 16);
}

// reference_ops::HardSwish for one input value x (already an int of the element type).
inline std::int32_t hard_swish_value(const HardSwishParams& p, std::int32_t x, ElementType type) noexcept {
  const std::int16_t input_value = static_cast<std::int16_t>(x - p.input_zero_point);
  const std::int16_t hires = static_cast<std::int16_t>(input_value * (1 << 7));
  const std::int16_t preshift_output = srdhm16(hires, p.output_multiplier_fixedpoint_int16);
  std::int16_t reluish = hires;
  if (p.reluish_multiplier_exponent > 0) reluish = saturating_left_shift16(reluish, p.reluish_multiplier_exponent - 1);
  reluish = srdhm16(reluish, p.reluish_multiplier_fixedpoint_int16);
  if (p.reluish_multiplier_exponent > 0) reluish = saturating_left_shift16(reluish, 1);
  if (p.reluish_multiplier_exponent < 0) reluish = rdpot16(reluish, -p.reluish_multiplier_exponent);
  reluish = static_cast<std::int16_t>((static_cast<std::int32_t>(reluish) + (1 << 15)) >> 1);
  const std::int16_t preshift = sdhm16(reluish, preshift_output);
  std::int16_t out = rdpot16(preshift, -p.output_multiplier_exponent);
  out = wrap16(static_cast<std::int32_t>(out) + p.output_zero_point);
  return clamp_to_type(out, type);
}

inline std::int32_t leaky_relu_value(const LeakyReluParams& p, std::int32_t x, ElementType type) noexcept {
  const std::int32_t v = x - p.input_zero_point;
  const std::int32_t scaled =
      v >= 0 ? multiply_by_quantized_multiplier_double_rounding(v, p.output_multiplier_identity, p.output_shift_identity)
             : multiply_by_quantized_multiplier_double_rounding(v, p.output_multiplier_alpha, p.output_shift_alpha);
  return clamp_to_type(static_cast<std::int64_t>(p.output_zero_point) + scaled, type);
}

inline std::int32_t relu_value(const ReluParams& p, std::int32_t x) noexcept {
  const std::int32_t scaled =
      multiply_by_quantized_multiplier_double_rounding(x - p.input_zero_point, p.output_multiplier, p.output_shift);
  std::int64_t v = static_cast<std::int64_t>(p.output_zero_point) + scaled;
  v = v < p.act_min ? p.act_min : v;
  v = v > p.act_max ? p.act_max : v;
  return static_cast<std::int32_t>(v);
}

}  // namespace activation_detail

// A 256-entry table applied element-wise. table[i] holds the output's bit pattern for the input
// whose bit pattern is i (an int8 input x reads table[uint8_t(x)]: -128 reads entry 128). The
// input and output types are the same. The activation layers below are tables built from their
// specifications; a Lut built from TFLite's prepared table (Logistic, Tanh) runs it as is.
class Lut : public Layer {
 public:
  const char* op_name() const noexcept override { return "lut"; }
  bool built() const noexcept override { return built_; }
  Shape4 input_shape(std::size_t) const noexcept override { return shape_; }
  Shape4 output_shape() const noexcept override { return shape_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }

  Status init(ElementType type, const Shape4& shape, const std::uint8_t* table) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    if (table == nullptr) return Status(StatusCode::null_pointer, "lut: null table");
    set(type, shape, table);
    return Status::success();
  }

  // The table over `count` elements of this layer's type (any count; in and out may be the same
  // buffer). Validates the pointers first.
  Status apply(const void* input, void* output, std::size_t count) const noexcept {
    if (!built_) return Status(StatusCode::invalid_argument, "lut apply: init() has not succeeded");
    if (count == 0) return Status::success();
    if (input == nullptr) return Status(StatusCode::null_pointer, "lut apply: null input");
    if (output == nullptr) return Status(StatusCode::null_pointer, "lut apply: null output");
    apply_range(input, output, 0, count);
    return Status::success();
  }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    if (!built_) return Status(StatusCode::invalid_argument, "layer run: init() has not succeeded");
    if (inputs == nullptr || inputs[0] == nullptr) return Status(StatusCode::null_pointer, "layer run: null input");
    if (output == nullptr) return Status(StatusCode::null_pointer, "layer run: null output");
    const std::size_t count = shape_.count_unchecked();
    constexpr std::size_t kChunk = std::size_t{1} << 16;  // worth a thread only in 64 KiB pieces
    if (executor != nullptr && executor->concurrency() > 1 && count > kChunk) {
      RunContext ctx{this, inputs[0], output, count, kChunk};
      executor->parallel_for((count + kChunk - 1) / kChunk, 1, &run_chunks, &ctx);
    } else {
      apply_range(inputs[0], output, 0, count);
    }
    return Status::success();
  }
  Status run(const void* input, void* output, Executor* executor = nullptr) const noexcept {
    const void* inputs[1] = {input};
    return run(inputs, output, nullptr, 0, executor);
  }

  const std::uint8_t* table() const noexcept { return table_; }
  // True when the table is clamp(x, clamp_min(), clamp_max()), run as a clamp.
  bool is_clamp() const noexcept { return clamp_only_; }
  std::int32_t clamp_min() const noexcept { return lo_; }
  std::int32_t clamp_max() const noexcept { return hi_; }

 protected:
  static Status check_shape(ElementType type, const Shape4& shape) noexcept {
    if (!::qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "activation: unknown element type", "type", static_cast<int>(type));
    if (shape.n == 0 || shape.h == 0 || shape.w == 0 || shape.c == 0)
      return Status(StatusCode::bad_shape, "activation: shape has a zero dimension");
    std::size_t count = 0;
    if (!shape.count(&count)) return Status(StatusCode::size_overflow, "activation: element count overflows");
    return Status::success();
  }

  void set(ElementType type, const Shape4& shape, const std::uint8_t* table) noexcept {
    type_ = type;
    shape_ = shape;
    std::memcpy(table_, table, sizeof table_);
    // A clamp of the identity? Then lo = f(type min), hi = f(type max), and f(x) = clamp(x).
    using activation_detail::from_byte;
    using activation_detail::to_byte;
    const std::int32_t tmin = ::qk::detail::element_type_min(type), tmax = ::qk::detail::element_type_max(type);
    const std::int32_t lo = from_byte(table_[to_byte(tmin)], type), hi = from_byte(table_[to_byte(tmax)], type);
    bool clamp = lo <= hi;
    for (std::size_t i = 0; i < 256 && clamp; ++i) {
      const std::int32_t x = from_byte(i, type);
      const std::int32_t want = x < lo ? lo : x > hi ? hi : x;
      clamp = from_byte(table_[i], type) == want;
    }
    clamp_only_ = clamp;
    lo_ = lo;
    hi_ = hi;
    kernels_ = kernels::active_elementwise_kernels();  // chosen once, like packed weights
    built_ = true;
  }

  // Builds the table from f(x) for every x of the type, then set().
  template <class F>
  void set_from(ElementType type, const Shape4& shape, F f) noexcept {
    std::uint8_t t[256];
    for (std::size_t i = 0; i < 256; ++i) t[i] = activation_detail::to_byte(f(activation_detail::from_byte(i, type)));
    set(type, shape, t);
  }

 private:
  struct RunContext {
    const Lut* self;
    const void* input;
    void* output;
    std::size_t count, chunk;
  };
  static void run_chunks(void* context, std::size_t begin, std::size_t end) {
    const auto* ctx = static_cast<const RunContext*>(context);
    const std::size_t first = begin * ctx->chunk;
    const std::size_t last = end * ctx->chunk < ctx->count ? end * ctx->chunk : ctx->count;
    ctx->self->apply_range(ctx->input, ctx->output, first, last - first);
  }
  // Through the element-wise kernel family chosen in set() (kernels/elementwise_registry.hpp):
  // a clamp runs as maximum(x, lo) clamped to [lo, hi], a table as the family's lookup.
  void apply_range(const void* input, void* output, std::size_t offset, std::size_t count) const noexcept {
    const std::uint8_t* in = static_cast<const std::uint8_t*>(input) + offset;
    std::uint8_t* out = static_cast<std::uint8_t*>(output) + offset;
    if (clamp_only_) {
      const std::uint8_t lo_byte = activation_detail::to_byte(lo_);
      kernels::EwClampParams p;
      p.act_min = lo_;
      p.act_max = hi_;
      kernels_->maximum(p, type_ == ElementType::s8, in, &lo_byte, true, out, count);
    } else {
      kernels_->lut(table_, in, out, count);
    }
  }

  Shape4 shape_{};
  ElementType type_ = ElementType::s8;
  std::uint8_t table_[256] = {};
  bool clamp_only_ = false;
  std::int32_t lo_ = 0, hi_ = 0;
  const kernels::ElementwiseKernels* kernels_ = nullptr;
  bool built_ = false;
};

namespace activation_detail {

// ReLU, ReLU6 and ReLU_N1_to_1 differ only in their clamp (the Activation) and name.
template <Activation Act>
class ReluBase : public Lut {
 public:
  // TFLite's ReluPrepare from the float quantizations.
  static Status params(ElementType type, const QuantInfo& input, const QuantInfo& output, ReluParams* p) noexcept {
    if (p == nullptr) return Status(StatusCode::null_pointer, "relu params: null output");
    Status st = check_in_out(type, input, output);
    if (!st.ok()) return st;
    ReluParams r;
    const float real = input.scale / output.scale;  // float, as ReluPrepare divides
    st = quantize_multiplier(static_cast<double>(real), &r.output_multiplier, &r.output_shift);
    if (!st.ok()) return st;
    st = activation_range(Act, output, type, &r.act_min, &r.act_max);
    if (!st.ok()) return st;
    r.input_zero_point = input.zero_point;
    r.output_zero_point = output.zero_point;
    *p = r;
    return Status::success();
  }
  Status init(ElementType type, const Shape4& shape, const QuantInfo& input, const QuantInfo& output) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    ReluParams p;
    st = params(type, input, output, &p);
    if (!st.ok()) return st;
    return init(type, shape, p);
  }
  Status init(ElementType type, const Shape4& shape, const ReluParams& p) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    st = check_zero_point(p.input_zero_point, type, "relu: input zero point outside the element type");
    if (!st.ok()) return st;
    st = check_zero_point(p.output_zero_point, type, "relu: output zero point outside the element type");
    if (!st.ok()) return st;
    st = validate_quantized_multiplier(p.output_multiplier, p.output_shift, RequantRounding::double_rounding);
    if (!st.ok()) return st;
    if (p.act_min < ::qk::detail::element_type_min(type) || p.act_max > ::qk::detail::element_type_max(type) ||
        p.act_min > p.act_max)
      return Status(StatusCode::invalid_argument, "relu: act_min/act_max outside the type or crossed", "act_min",
                    p.act_min);
    set_from(type, shape, [&p](std::int32_t x) { return relu_value(p, x); });
    return Status::success();
  }
};

}  // namespace activation_detail

// TFLite RELU (int8/uint8): clamp at the output's 0, requantizing when the quantizations differ.
class ReLU final : public activation_detail::ReluBase<Activation::relu> {
 public:
  const char* op_name() const noexcept override { return "relu"; }
};
// TFLite RELU6.
class ReLU6 final : public activation_detail::ReluBase<Activation::relu6> {
 public:
  const char* op_name() const noexcept override { return "relu6"; }
};
// TFLite RELU_N1_TO_1.
class ReLU_N1_to_1 final : public activation_detail::ReluBase<Activation::relu_n1_to_1> {
 public:
  const char* op_name() const noexcept override { return "relu_n1_to_1"; }
};

namespace activation_detail {

// TFLite's LUTPopulate for 8-bit types, with the function `fn` evaluated in float.
template <class Fn>
void populate_float_table(ElementType type, const QuantInfo& in, const QuantInfo& out, Fn fn, std::uint8_t* table) noexcept {
  const float inverse_scale = 1.0f / out.scale;
  for (std::size_t i = 0; i < 256; ++i) {
    const std::int32_t q = from_byte(i, type);
    const float dequantized = in.scale * static_cast<float>(q - in.zero_point);
    const float transformed = fn(dequantized);
    const float rescaled = std::round(transformed * inverse_scale);
    // |rescaled| <= 256 for the fixed output scales accepted (the functions are within [-1, 1]).
    const std::int32_t quantized = static_cast<std::int32_t>(rescaled + static_cast<float>(out.zero_point));
    table[i] = to_byte(clamp_to_type(quantized, type));
  }
}

inline float logistic_float(float v) noexcept { return 1.0f / (1.0f + std::exp(-v)); }
inline float tanh_float(float v) noexcept { return std::tanh(v); }

}  // namespace activation_detail

// TFLite LOGISTIC (int8/uint8), full TFLite's float-built table.
class Logistic final : public Lut {
 public:
  const char* op_name() const noexcept override { return "logistic"; }
  Status init(ElementType type, const Shape4& shape, const QuantInfo& input, const QuantInfo& output) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    st = activation_detail::check_in_out(type, input, output);
    if (!st.ok()) return st;
    const std::int32_t zp = type == ElementType::s8 ? -128 : 0;
    if (output.scale != 1.0f / 256.0f)
      return Status(StatusCode::invalid_argument, "logistic: TFLite's output scale is 1/256", "output_scale",
                    output.scale);
    if (output.zero_point != zp)
      return Status(StatusCode::invalid_argument, "logistic: TFLite's output zero point is -128 (int8) or 0 (uint8)",
                    "output_zero_point", output.zero_point);
    std::uint8_t t[256];
    activation_detail::populate_float_table(type, input, output, activation_detail::logistic_float, t);
    set(type, shape, t);
    return Status::success();
  }
};

// TFLite TANH (int8/uint8), full TFLite's float-built table.
class Tanh final : public Lut {
 public:
  const char* op_name() const noexcept override { return "tanh"; }
  Status init(ElementType type, const Shape4& shape, const QuantInfo& input, const QuantInfo& output) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    st = activation_detail::check_in_out(type, input, output);
    if (!st.ok()) return st;
    const std::int32_t zp = type == ElementType::s8 ? 0 : 128;
    if (output.scale != 1.0f / 128.0f)
      return Status(StatusCode::invalid_argument, "tanh: TFLite's output scale is 1/128", "output_scale", output.scale);
    if (output.zero_point != zp)
      return Status(StatusCode::invalid_argument, "tanh: TFLite's output zero point is 0 (int8) or 128 (uint8)",
                    "output_zero_point", output.zero_point);
    std::uint8_t t[256];
    activation_detail::populate_float_table(type, input, output, activation_detail::tanh_float, t);
    set(type, shape, t);
    return Status::success();
  }
};

// TFLite HARD_SWISH (int8/uint8): reference_ops::HardSwish evaluated for the 256 inputs.
class HardSwish final : public Lut {
 public:
  const char* op_name() const noexcept override { return "hard_swish"; }
  // HardSwishPrepare's derivation from the float quantizations.
  static Status params(ElementType type, const QuantInfo& input, const QuantInfo& output, HardSwishParams* p) noexcept {
    if (p == nullptr) return Status(StatusCode::null_pointer, "hard_swish params: null output");
    Status st = activation_detail::check_in_out(type, input, output);
    if (!st.ok()) return st;
    HardSwishParams r;
    r.input_zero_point = input.zero_point;
    r.output_zero_point = output.zero_point;
    const float hires_input_scale = (1.0f / 128.0f) * input.scale;
    const float reluish_scale = 3.0f / 32768.0f;
    const float output_multiplier = hires_input_scale / output.scale;
    std::int32_t m = 0;
    st = quantize_multiplier(static_cast<double>(output_multiplier), &m, &r.output_multiplier_exponent);
    if (!st.ok()) return st;
    if (r.output_multiplier_exponent > 0)
      return Status(StatusCode::invalid_argument,
                    "hard_swish: input_scale / (128 * output_scale) must be below 1 (TFLite's Prepare)", "output_scale",
                    output.scale);
    r.output_multiplier_fixedpoint_int16 = activation_detail::downscale_multiplier16(m);
    const float reluish_multiplier = hires_input_scale / reluish_scale;
    st = quantize_multiplier(static_cast<double>(reluish_multiplier), &m, &r.reluish_multiplier_exponent);
    if (!st.ok()) return st;
    r.reluish_multiplier_fixedpoint_int16 = activation_detail::downscale_multiplier16(m);
    *p = r;
    return Status::success();
  }
  Status init(ElementType type, const Shape4& shape, const QuantInfo& input, const QuantInfo& output) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    HardSwishParams p;
    st = params(type, input, output, &p);
    if (!st.ok()) return st;
    return init(type, shape, p);
  }
  Status init(ElementType type, const Shape4& shape, const HardSwishParams& p) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    st = activation_detail::check_zero_point(p.input_zero_point, type, "hard_swish: input zero point outside the type");
    if (!st.ok()) return st;
    st = activation_detail::check_zero_point(p.output_zero_point, type, "hard_swish: output zero point outside the type");
    if (!st.ok()) return st;
    if (p.output_multiplier_exponent > 0 || p.output_multiplier_exponent < -31)
      return Status(StatusCode::invalid_argument, "hard_swish: output multiplier exponent outside [-31, 0]",
                    "output_multiplier_exponent", p.output_multiplier_exponent);
    if (p.reluish_multiplier_exponent > 30 || p.reluish_multiplier_exponent < -31)
      return Status(StatusCode::invalid_argument, "hard_swish: reluish multiplier exponent outside [-31, 30]",
                    "reluish_multiplier_exponent", p.reluish_multiplier_exponent);
    if (p.output_multiplier_fixedpoint_int16 < 0 || p.reluish_multiplier_fixedpoint_int16 < 0)
      return Status(StatusCode::invalid_argument, "hard_swish: negative fixed-point multiplier");
    set_from(type, shape, [&p, type](std::int32_t x) { return activation_detail::hard_swish_value(p, x, type); });
    return Status::success();
  }
};

// TFLite LEAKY_RELU (int8/uint8): reference_ops::QuantizeLeakyRelu evaluated for the 256 inputs.
class LeakyReLU final : public Lut {
 public:
  const char* op_name() const noexcept override { return "leaky_relu"; }
  // LeakyReluPrepare's derivation; alpha must be finite and >= 0.
  static Status params(ElementType type, const QuantInfo& input, const QuantInfo& output, float alpha,
                       LeakyReluParams* p) noexcept {
    if (p == nullptr) return Status(StatusCode::null_pointer, "leaky_relu params: null output");
    Status st = activation_detail::check_in_out(type, input, output);
    if (!st.ok()) return st;
    if (!(std::isfinite(alpha) && alpha >= 0.0f))
      return Status(StatusCode::invalid_argument, "leaky_relu: alpha must be finite and >= 0", "alpha", alpha);
    LeakyReluParams r;
    r.input_zero_point = input.zero_point;
    r.output_zero_point = output.zero_point;
    const float alpha_multiplier = input.scale * alpha / output.scale;
    st = quantize_multiplier(static_cast<double>(alpha_multiplier), &r.output_multiplier_alpha, &r.output_shift_alpha);
    if (!st.ok()) return st;
    const float identity_multiplier = input.scale / output.scale;
    st = quantize_multiplier(static_cast<double>(identity_multiplier), &r.output_multiplier_identity,
                             &r.output_shift_identity);
    if (!st.ok()) return st;
    *p = r;
    return Status::success();
  }
  Status init(ElementType type, const Shape4& shape, const QuantInfo& input, const QuantInfo& output,
              float alpha) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    LeakyReluParams p;
    st = params(type, input, output, alpha, &p);
    if (!st.ok()) return st;
    return init(type, shape, p);
  }
  Status init(ElementType type, const Shape4& shape, const LeakyReluParams& p) noexcept {
    Status st = check_shape(type, shape);
    if (!st.ok()) return st;
    st = activation_detail::check_zero_point(p.input_zero_point, type, "leaky_relu: input zero point outside the type");
    if (!st.ok()) return st;
    st = activation_detail::check_zero_point(p.output_zero_point, type, "leaky_relu: output zero point outside the type");
    if (!st.ok()) return st;
    st = validate_quantized_multiplier(p.output_multiplier_alpha, p.output_shift_alpha, RequantRounding::double_rounding);
    if (!st.ok()) return st;
    st = validate_quantized_multiplier(p.output_multiplier_identity, p.output_shift_identity,
                                       RequantRounding::double_rounding);
    if (!st.ok()) return st;
    set_from(type, shape, [&p, type](std::int32_t x) { return activation_detail::leaky_relu_value(p, x, type); });
    return Status::success();
  }
};

}  // namespace layers
}  // namespace qk
