// qk/layers/layer.hpp - what every layer shares: tensor shapes and quantization, the fused
// activation clamp, the TFLite/ONNX parameter derivations (output multipliers, bias), and the
// Layer interface the sequence runner chains.
//
// A layer is the level above the operators (conv.hpp, gemm.hpp): it is *built once* from what a
// model file stores, either
//   - float scales and zero points (a TFLite flatbuffer's or an ONNX model's quantization), from
//     which it derives the integer parameters exactly as TFLite's Prepare step does, or
//   - TFLite's prepared integers (multiplier, shift, offsets), used as they are,
// and then *run* any number of times with no allocation. Tensors are NHWC, int8 or uint8, batch
// >= 1. Building may allocate (std::nothrow: out_of_memory is a Status); running never does:
// scratch comes from the caller (workspace_size()), as for the operators.
//
// Every layer says in its header comment which specification it reproduces bit for bit; the
// tests hold it to TFLite's generated vectors (../shared/testdata/tflite-int/layers, models).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qk/core/checked.hpp"
#include "qk/core/element_type.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/fixed_point.hpp"

namespace qk {
namespace layers {

// NHWC shape; a rank-2 tensor [rows][cols] is {rows, 1, 1, cols}.
struct Shape4 {
  std::size_t n = 1, h = 1, w = 1, c = 1;

  // Element count, or false if it overflows size_t.
  bool count(std::size_t* out) const noexcept {
    std::size_t hw = 0, hwc = 0;
    return detail::checked_mul(h, w, &hw) && detail::checked_mul(hw, c, &hwc) && detail::checked_mul(hwc, n, out);
  }
  std::size_t count_unchecked() const noexcept { return n * h * w * c; }
  bool operator==(const Shape4& o) const noexcept { return n == o.n && h == o.h && w == o.w && c == o.c; }
  bool operator!=(const Shape4& o) const noexcept { return !(*this == o); }
};

// A tensor's quantization as a model file stores it: real = scale * (q - zero_point).
struct QuantInfo {
  float scale = 1.0f;
  std::int32_t zero_point = 0;
};

// The activation a model fuses into a layer (TFLite's fused_activation_function); applied as a
// clamp of the quantized output.
enum class Activation : int { none = 0, relu, relu6, relu_n1_to_1 };

// TFLite's CalculateActivationRangeQuantized: the clamp [lo, hi] of the quantized output for a
// fused activation. Bounds are zero_point + round(bound / scale) in float, rounded half away
// from zero (TfLiteRound), intersected with the type's range.
inline Status activation_range(Activation act, const QuantInfo& out, ElementType type, std::int32_t* lo,
                               std::int32_t* hi) noexcept {
  if (lo == nullptr || hi == nullptr) return Status(StatusCode::null_pointer, "activation_range: null output");
  if (!detail::valid_element_type(type))
    return Status(StatusCode::invalid_argument, "activation_range: unknown element type", "type", static_cast<int>(type));
  if (!(std::isfinite(out.scale) && out.scale > 0.0f))
    return Status(StatusCode::invalid_argument, "activation_range: output scale is not a positive finite number", "scale",
                  out.scale);
  const std::int32_t tmin = detail::element_type_min(type), tmax = detail::element_type_max(type);
  if (out.zero_point < tmin || out.zero_point > tmax)
    return Status(StatusCode::invalid_argument, "activation_range: zero point outside the element type", "zero_point",
                  out.zero_point);
  // zero_point + round(f / scale), saturated to the type: a tiny scale makes f / scale huge, and
  // the float-to-int conversion of an out-of-range value would be undefined behaviour.
  auto quantize = [&](float f) -> std::int32_t {
    const float q = std::round(f / out.scale) + static_cast<float>(out.zero_point);
    if (!(q > static_cast<float>(tmin))) return tmin;
    if (!(q < static_cast<float>(tmax))) return tmax;
    return static_cast<std::int32_t>(q);
  };
  std::int32_t a = tmin, b = tmax;
  switch (act) {
    case Activation::none:
      break;
    case Activation::relu:
      a = quantize(0.0f);
      break;
    case Activation::relu6:
      a = quantize(0.0f);
      b = quantize(6.0f);
      break;
    case Activation::relu_n1_to_1:
      a = quantize(-1.0f);
      b = quantize(1.0f);
      break;
    default:
      return Status(StatusCode::invalid_argument, "activation_range: unknown activation", "act", static_cast<int>(act));
  }
  *lo = a < tmin ? tmin : a;
  *hi = b > tmax ? tmax : b;
  return Status::success();
}

// The requantization of a conv/FC output, TFLite's PopulateConvolutionQuantizationParams: per
// channel c (or once, per_channel false), real = input_scale * weight_scale[c] / output_scale in
// double, then QuantizeMultiplier (qk::quantize_multiplier). `count` is the number of output
// channels; multiplier/shift receive `per_channel ? count : 1` values.
inline Status output_multipliers(float input_scale, const float* weight_scales, std::size_t count, bool per_channel,
                                 float output_scale, std::int32_t* multiplier, std::int32_t* shift) noexcept {
  if (weight_scales == nullptr || multiplier == nullptr || shift == nullptr)
    return Status(StatusCode::null_pointer, "output_multipliers: null weight scales or outputs");
  if (count == 0) return Status(StatusCode::bad_shape, "output_multipliers: zero channels");
  if (!(std::isfinite(input_scale) && input_scale > 0.0f))
    return Status(StatusCode::invalid_argument, "output_multipliers: input scale is not a positive finite number",
                  "input_scale", input_scale);
  if (!(std::isfinite(output_scale) && output_scale > 0.0f))
    return Status(StatusCode::invalid_argument, "output_multipliers: output scale is not a positive finite number",
                  "output_scale", output_scale);
  const std::size_t n = per_channel ? count : 1;
  for (std::size_t c = 0; c < n; ++c)
    if (!(std::isfinite(weight_scales[c]) && weight_scales[c] > 0.0f))
      return Status(StatusCode::invalid_argument, "output_multipliers: weight scale is not a positive finite number",
                    "weight_scale", weight_scales[c]);
  // All checked first: on error nothing is written.
  for (std::size_t c = 0; c < n; ++c) {
    const double real = static_cast<double>(input_scale) * static_cast<double>(weight_scales[c]) /
                        static_cast<double>(output_scale);
    std::int32_t m = 0, s = 0;
    const Status st = quantize_multiplier(real, &m, &s);
    if (!st.ok()) return st;  // only "multiplier >= 2^30": nothing written for later channels
    multiplier[c] = m;
    shift[c] = s;
  }
  return Status::success();
}

// Bias quantization with scale input_scale * weight_scale[c] and zero point 0, as TFLite's
// converter does it (the product and the quotient in float, rounded half away from zero),
// saturated to [-(2^31 - 1), 2^31 - 1] (TFLite's symmetric int32 range). `bias` may be null
// (no bias): `out` receives zeros. ONNX's quantizer divides in float32 too but rounds half to
// even; the two differ only on exact ties.
inline Status quantize_bias(const float* bias, std::size_t count, float input_scale, const float* weight_scales,
                            bool per_channel, std::int32_t* out) noexcept {
  if (out == nullptr || weight_scales == nullptr)
    return Status(StatusCode::null_pointer, "quantize_bias: null weight scales or output");
  if (!(std::isfinite(input_scale) && input_scale > 0.0f))
    return Status(StatusCode::invalid_argument, "quantize_bias: input scale is not a positive finite number", "input_scale",
                  input_scale);
  for (std::size_t c = 0; c < (per_channel ? count : std::size_t{1}); ++c) {
    const float s = input_scale * weight_scales[c];
    if (!(std::isfinite(weight_scales[c]) && weight_scales[c] > 0.0f && s > 0.0f && std::isfinite(s)))
      return Status(StatusCode::invalid_argument, "quantize_bias: weight scale (or its product with the input scale) is not a positive finite number",
                    "weight_scale", weight_scales[c]);
  }
  if (bias != nullptr)
    for (std::size_t c = 0; c < count; ++c)
      if (!std::isfinite(bias[c]))
        return Status(StatusCode::invalid_argument, "quantize_bias: bias is NaN or infinite", "bias", bias[c]);
  constexpr float kMax = 2147483520.0f;  // the largest float below 2^31
  for (std::size_t c = 0; c < count; ++c) {
    if (bias == nullptr) {
      out[c] = 0;
      continue;
    }
    const float q = std::round(bias[c] / (input_scale * weight_scales[per_channel ? c : 0]));
    out[c] = q >= kMax ? std::numeric_limits<std::int32_t>::max()
             : q <= -kMax ? -std::numeric_limits<std::int32_t>::max()
                          : static_cast<std::int32_t>(q);
  }
  return Status::success();
}

// Where the output channel sits in a weight tensor: first (conv OHWI [out_c][...], FC
// [out_c][depth]) or last (depthwise [1][kh][kw][out_c]).
enum class ChannelAxis : int { first = 0, last };

// Symmetric per-channel int8 weights from float, as TFLite's converter makes them: per output
// channel, scale = max|w| / 127 and q = round(w / scale) (half away from zero) in [-127, 127];
// a channel of zeros gets scale 1 (any positive scale quantizes it to zeros). `count` weights in
// `channels` channels along `axis`; `q` receives count values, `scales` one per channel. On error
// nothing is written.
inline Status quantize_weights_per_channel(const float* w, std::size_t count, std::size_t channels, ChannelAxis axis,
                                           std::int8_t* q, float* scales) noexcept {
  if (w == nullptr || q == nullptr || scales == nullptr)
    return Status(StatusCode::null_pointer, "quantize_weights_per_channel: null weights, output or scales");
  if (channels == 0 || count == 0 || count % channels != 0)
    return Status(StatusCode::bad_shape, "quantize_weights_per_channel: count is not a positive multiple of channels",
                  "count", count);
  if (axis != ChannelAxis::first && axis != ChannelAxis::last)
    return Status(StatusCode::invalid_argument, "quantize_weights_per_channel: unknown channel axis", "axis",
                  static_cast<int>(axis));
  for (std::size_t i = 0; i < count; ++i)
    if (!std::isfinite(w[i]))
      return Status(StatusCode::invalid_argument, "quantize_weights_per_channel: weight is NaN or infinite", "index", i);
  const std::size_t per = count / channels;
  auto channel_of = [&](std::size_t i) { return axis == ChannelAxis::first ? i / per : i % channels; };
  for (std::size_t c = 0; c < channels; ++c) scales[c] = 0.0f;
  for (std::size_t i = 0; i < count; ++i) {
    float& m = scales[channel_of(i)];
    if (std::fabs(w[i]) > m) m = std::fabs(w[i]);
  }
  for (std::size_t c = 0; c < channels; ++c) {
    const float s = scales[c] / 127.0f;
    scales[c] = s > 0.0f && std::isfinite(s) ? s : 1.0f;  // zeros (or a max so tiny s underflows)
  }
  for (std::size_t i = 0; i < count; ++i) {
    const float v = std::round(w[i] / scales[channel_of(i)]);
    q[i] = static_cast<std::int8_t>(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
  }
  return Status::success();
}

// The interface the sequence runner (sequence.hpp) chains. A layer reads its inputs and writes
// one output; element sizes are one byte (int8/uint8), so a tensor's bytes are its element
// count. Virtual calls cost nothing next to a layer's work, and need neither RTTI nor exceptions.
class Layer {
 public:
  virtual ~Layer() = default;

  virtual const char* op_name() const noexcept = 0;     // "conv2d", "average_pool2d", ... (TFLite's names)
  virtual bool built() const noexcept = 0;              // init() succeeded
  virtual std::size_t input_count() const noexcept { return 1; }
  virtual Shape4 input_shape(std::size_t i) const noexcept = 0;
  virtual Shape4 output_shape() const noexcept = 0;
  virtual ElementType input_type(std::size_t i) const noexcept = 0;
  virtual ElementType output_type() const noexcept = 0;
  // Scratch run() needs for `threads` threads (the executor's concurrency(), 1 without one).
  virtual Status workspace_size(std::size_t threads, std::size_t* bytes) const noexcept {
    (void)threads;
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "workspace_size: null output");
    *bytes = 0;
    return Status::success();
  }
  // inputs[i] holds input_shape(i) elements; output receives output_shape(). Validates every
  // pointer and size first: on error nothing is written.
  virtual Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
                     Executor* executor = nullptr) const noexcept = 0;

 protected:
  Layer() = default;
  Layer(const Layer&) = default;
  Layer& operator=(const Layer&) = default;
  Layer(Layer&&) = default;
  Layer& operator=(Layer&&) = default;
};

}  // namespace layers
}  // namespace qk
