// qk/layers/fully_connected.hpp - the FullyConnected layer (and the quantization parameters it
// shares with the convolution layers of conv.hpp).
//
// Spec: TFLite's reference kernel reference_integer_ops::FullyConnected (int8; uint8 as the
// legacy reference_ops::FullyConnected with a filter offset), with the parameters its Prepare
// step (fully_connected.cc, PopulateConvolutionQuantizationParams for per-channel) derives:
//
//   out[b][o] = clamp(MBQM(sum_d (x[b][d] + input_offset) * (w[o][d] + filter_offset) + bias[o],
//                          multiplier[o], shift[o]) + output_offset, act_min, act_max)
//
// with TFLite's double rounding (MultiplyByQuantizedMultiplier). Input [batch][depth] (any NHWC
// tensor of batch * depth elements read flat, as TFLite does), weights [out_c][depth] (TFLite's
// layout), output [batch][out_c]. It runs on qk::gemm_s8 with the weights packed once
// (GemmS8Weights), into memory the layer owns or into the caller's (packed_size() / the init
// overloads taking a buffer: static weight memory for embedded users).
//
// Two ways to build, as for every layer (layer.hpp): from the float scales and zero points a
// model stores (FloatQuantization: the integers derived exactly as TFLite's Prepare does), or
// from TFLite's prepared integers (PreparedQuantization, as the conformance vectors give them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>

#include "qk/core/output_stage.hpp"
#include "qk/gemm.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// A conv / FC layer's quantization as a model file stores it.
struct FloatQuantization {
  QuantInfo input, output;
  // Weight scales: out_c values (per_channel, TFLite's per-axis quantization) or one.
  const float* weight_scales = nullptr;
  bool per_channel = true;
  // Weight zero points, as many as the scales; null for symmetric weights (every TFLite int8
  // model: zero point 0). uint8 / ONNX-style asymmetric weights give them.
  const std::int32_t* weight_zero_points = nullptr;
  const float* bias = nullptr;  // out_c values, or null (no bias); quantized with quantize_bias()
  Activation activation = Activation::none;
  // How the accumulator is requantized: TFLite's default (double rounding: a rounding doubling
  // high multiply, then a rounding shift) or TFLITE_SINGLE_ROUNDING's one rounding of the exact
  // product. Single rounding is what a float simulation (PyTorch's fake quantization, QAT)
  // computes, up to the multiplier's 31 bits.
  RequantRounding rounding = RequantRounding::double_rounding;
};

// TFLite's prepared integers (the fields of the conformance vectors, TFLite's sign conventions).
struct PreparedQuantization {
  std::int32_t input_offset = 0;   // -input zero point
  std::int32_t output_offset = 0;  // +output zero point
  const std::int32_t* multiplier = nullptr;  // Q0.31, as QuantizeMultiplier returns it
  const std::int32_t* shift = nullptr;       // > 0 left, < 0 rounding right
  bool per_channel = true;                   // out_c multipliers and shifts, else one
  const std::int32_t* bias = nullptr;        // out_c values, or null
  // TFLite's filter_offset (-weight zero point), as many as the multipliers; null: 0.
  const std::int32_t* weight_offsets = nullptr;
  std::int32_t act_min = -128, act_max = 127;  // the clamp, inside the output type
  RequantRounding rounding = RequantRounding::double_rounding;  // as FloatQuantization's
};

}  // namespace layers

// Helpers of the conv / FC layers (qk::detail, not a nested qk::layers::detail, which would hide
// qk::detail from unqualified `detail::` uses in other layer headers).
namespace detail {

// The integers a conv / FC layer runs with, expanded to one value per output channel whatever
// the model gave (per-tensor values repeated): one output-stage shape for every layer.
struct LinearParams {
  std::unique_ptr<std::int32_t[]> data;  // [multiplier | shift | bias | weight zero point] x out_c
  std::size_t out_c = 0;
  bool has_weight_zero_point = false;
  std::int32_t input_zero_point = 0, output_zero_point = 0, qmin = 0, qmax = 0;
  RequantRounding rounding = RequantRounding::double_rounding;

  std::int32_t* multiplier() const noexcept { return data.get(); }
  std::int32_t* shift() const noexcept { return data.get() + out_c; }
  std::int32_t* bias() const noexcept { return data.get() + 2 * out_c; }
  std::int32_t* weight_zero_point() const noexcept { return data.get() + 3 * out_c; }

  Status allocate(std::size_t channels) noexcept {
    std::size_t n = 0;
    if (channels == 0) return Status(StatusCode::bad_shape, "layer: zero output channels");
    if (!checked_mul(channels, std::size_t{4}, &n) || n > (static_cast<std::size_t>(-1) >> 3))
      return Status(StatusCode::size_overflow, "layer: output channel count overflows", "out_c", channels);
    data.reset(new (std::nothrow) std::int32_t[n]);
    if (data == nullptr) return Status(StatusCode::out_of_memory, "layer: allocation of the requantization parameters failed", "out_c", channels);
    out_c = channels;
    return Status::success();
  }
  OutputStage stage(ElementType type) const noexcept {
    return OutputStage::fixed_point_requant(type == ElementType::s8 ? OutputType::s8 : OutputType::u8, multiplier(), shift(),
                                            true, output_zero_point, qmin, qmax, rounding);
  }
};

inline Status check_linear_types(ElementType type, ElementType weight_type) noexcept {
  if (!valid_element_type(type))
    return Status(StatusCode::invalid_argument, "layer: unknown activation type", "type", static_cast<int>(type));
  // Weights may be s4 too (packed nibbles, element i of the layout in nibble i: TFLite's 4-bit
  // filters), which the GEMM and conv families take as they are (docs/int4.md).
  if (!valid_weight_type(weight_type))
    return Status(StatusCode::invalid_argument, "layer: unknown weight type", "weight_type", static_cast<int>(weight_type));
  return Status::success();
}

inline bool linear_in_type(std::int64_t v, ElementType t) noexcept {
  return v >= element_type_min(t) && v <= element_type_max(t);
}

// Weight zero points (count values) inside the weight type, copied expanded to out_c values.
inline Status linear_take_weight_zero_points(const std::int32_t* zp, bool negate, std::size_t count, ElementType weight_type,
                                      LinearParams* p) noexcept {
  for (std::size_t c = 0; c < count; ++c) {
    const std::int64_t v = negate ? -static_cast<std::int64_t>(zp[c]) : static_cast<std::int64_t>(zp[c]);
    if (!linear_in_type(v, weight_type))
      return Status(StatusCode::invalid_argument, "layer: weight zero point outside the weight type", "weight_zero_point", zp[c]);
  }
  bool any = false;
  for (std::size_t c = 0; c < p->out_c; ++c) {
    const std::int32_t v = zp[count == 1 ? 0 : c];
    p->weight_zero_point()[c] = negate ? -v : v;
    any = any || v != 0;
  }
  p->has_weight_zero_point = any;
  return Status::success();
}

inline Status linear_take_rounding(RequantRounding r, LinearParams* p) noexcept {
  if (r != RequantRounding::double_rounding && r != RequantRounding::single_rounding)
    return Status(StatusCode::invalid_argument, "layer: unknown requantization rounding", "rounding", static_cast<int>(r));
  p->rounding = r;
  return Status::success();
}

// TFLite's Prepare: multipliers from the scales (output_multipliers), bias quantized with
// input_scale * weight_scale (quantize_bias), the clamp from the fused activation.
inline Status linear_params(const layers::FloatQuantization& q, std::size_t out_c, ElementType type, ElementType weight_type,
                            LinearParams* out) noexcept {
  QK_RETURN_IF_ERROR(check_linear_types(type, weight_type));
  if (q.weight_scales == nullptr) return Status(StatusCode::null_pointer, "layer: null weight scales");
  if (!linear_in_type(q.input.zero_point, type))
    return Status(StatusCode::invalid_argument, "layer: input zero point outside the activation type", "input_zero_point",
                  q.input.zero_point);
  if (!linear_in_type(q.output.zero_point, type))
    return Status(StatusCode::invalid_argument, "layer: output zero point outside the activation type", "output_zero_point",
                  q.output.zero_point);
  LinearParams p;
  QK_RETURN_IF_ERROR(p.allocate(out_c));
  const std::size_t count = q.per_channel ? out_c : 1;
  QK_RETURN_IF_ERROR(layers::activation_range(q.activation, q.output, type, &p.qmin, &p.qmax));
  QK_RETURN_IF_ERROR(layers::output_multipliers(q.input.scale, q.weight_scales, out_c, q.per_channel, q.output.scale, p.multiplier(),
                                        p.shift()));
  for (std::size_t c = count; c < out_c; ++c) p.multiplier()[c] = p.multiplier()[0], p.shift()[c] = p.shift()[0];
  QK_RETURN_IF_ERROR(layers::quantize_bias(q.bias, out_c, q.input.scale, q.weight_scales, q.per_channel, p.bias()));
  if (q.weight_zero_points != nullptr) {
    QK_RETURN_IF_ERROR(linear_take_weight_zero_points(q.weight_zero_points, false, count, weight_type, &p));
  } else {
    for (std::size_t c = 0; c < out_c; ++c) p.weight_zero_point()[c] = 0;
  }
  p.input_zero_point = q.input.zero_point;
  p.output_zero_point = q.output.zero_point;
  QK_RETURN_IF_ERROR(linear_take_rounding(q.rounding, &p));
  *out = std::move(p);
  return Status::success();
}

// TFLite's prepared integers, checked (offsets and clamp inside the types, multipliers and
// shifts in qk's range) and used as they are.
inline Status linear_params(const layers::PreparedQuantization& q, std::size_t out_c, ElementType type, ElementType weight_type,
                            LinearParams* out) noexcept {
  QK_RETURN_IF_ERROR(check_linear_types(type, weight_type));
  if (q.multiplier == nullptr || q.shift == nullptr) return Status(StatusCode::null_pointer, "layer: null multiplier or shift");
  if (!linear_in_type(-static_cast<std::int64_t>(q.input_offset), type))
    return Status(StatusCode::invalid_argument, "layer: -input_offset (the input zero point) outside the activation type",
                  "input_offset", q.input_offset);
  if (!linear_in_type(q.output_offset, type))
    return Status(StatusCode::invalid_argument, "layer: output_offset (the output zero point) outside the activation type",
                  "output_offset", q.output_offset);
  if (!linear_in_type(q.act_min, type) || q.act_min > q.act_max)
    return Status(StatusCode::invalid_argument, "layer: act_min outside the activation type or above act_max", "act_min",
                  q.act_min);
  if (!linear_in_type(q.act_max, type))
    return Status(StatusCode::invalid_argument, "layer: act_max outside the activation type", "act_max", q.act_max);
  if (out_c == 0) return Status(StatusCode::bad_shape, "layer: zero output channels");
  const std::size_t count = q.per_channel ? out_c : 1;
  for (std::size_t c = 0; c < count; ++c)
    QK_RETURN_IF_ERROR(validate_quantized_multiplier(q.multiplier[c], q.shift[c], q.rounding));
  LinearParams p;
  QK_RETURN_IF_ERROR(p.allocate(out_c));
  for (std::size_t c = 0; c < out_c; ++c) {
    p.multiplier()[c] = q.multiplier[q.per_channel ? c : 0];
    p.shift()[c] = q.shift[q.per_channel ? c : 0];
    p.bias()[c] = q.bias != nullptr ? q.bias[c] : 0;
    p.weight_zero_point()[c] = 0;
  }
  if (q.weight_offsets != nullptr) QK_RETURN_IF_ERROR(linear_take_weight_zero_points(q.weight_offsets, true, count, weight_type, &p));
  p.input_zero_point = -q.input_offset;
  p.output_zero_point = q.output_offset;
  p.qmin = q.act_min;
  p.qmax = q.act_max;
  p.rounding = q.rounding;
  *out = std::move(p);
  return Status::success();
}

// The checks every single-input layer's run() starts with.
inline Status linear_run_pointers(const void* const* inputs, void* output) noexcept {
  if (inputs == nullptr || inputs[0] == nullptr) return Status(StatusCode::null_pointer, "layer run: null input");
  if (output == nullptr) return Status(StatusCode::null_pointer, "layer run: null output");
  return Status::success();
}

}  // namespace detail

namespace layers {

struct FullyConnectedOptions {
  std::size_t batch = 1;  // rows of the input
  std::size_t depth = 0;  // accumulation depth: input [batch][depth], weights [out_c][depth]
  std::size_t out_c = 0;  // output [batch][out_c]
  ElementType type = ElementType::s8;         // input and output
  ElementType weight_type = ElementType::s8;  // int8 (TFLite), uint8 (legacy uint8 / ONNX) or s4
};

class FullyConnected final : public Layer {
 public:
  FullyConnected() = default;
  FullyConnected(FullyConnected&&) = default;
  FullyConnected& operator=(FullyConnected&&) = default;

  // Bytes the packing buffer of init(..., packed_buffer, packed_bytes) needs, for the kernel
  // family active_isa() names now (the one init() will pack for): GemmS8Weights::packed_size()
  // plus 64, because init aligns the packed weights to 64 bytes inside the buffer itself (the
  // x86 kernels load panels with aligned loads: a misaligned pack_into buffer faults on AVX2).
  static Status packed_size(const FullyConnectedOptions& o, std::size_t* bytes) noexcept {
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "fully_connected packed_size: null output");
    std::size_t packed = 0;
    QK_RETURN_IF_ERROR(GemmS8Weights::packed_size(gemm_desc(o), active_isa(), &packed));
    if (!qk::detail::checked_add(packed, qk::detail::kPackAlign, bytes))
      return Status(StatusCode::size_overflow, "fully_connected packed_size: packed size overflows", "bytes", packed);
    return Status::success();
  }

  // weights: [out_c][depth] of o.weight_type (s4: nibble i is element i). packed_buffer: null to pack into memory the layer
  // allocates; else at least packed_size() bytes that outlive the layer.
  Status init(const FullyConnectedOptions& o, const void* weights, const FloatQuantization& q, void* packed_buffer = nullptr,
              std::size_t packed_bytes = 0) noexcept {
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(check_options(o, weights));
    QK_RETURN_IF_ERROR(detail::linear_params(q, o.out_c, o.type, o.weight_type, &p));
    return build(o, weights, std::move(p), packed_buffer, packed_bytes);
  }
  Status init(const FullyConnectedOptions& o, const void* weights, const PreparedQuantization& q,
              void* packed_buffer = nullptr, std::size_t packed_bytes = 0) noexcept {
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(check_options(o, weights));
    QK_RETURN_IF_ERROR(detail::linear_params(q, o.out_c, o.type, o.weight_type, &p));
    return build(o, weights, std::move(p), packed_buffer, packed_bytes);
  }

  const char* op_name() const noexcept override { return "fully_connected"; }
  bool built() const noexcept override { return weights_.packed(); }
  Shape4 input_shape(std::size_t) const noexcept override { return Shape4{opt_.batch, 1, 1, opt_.depth}; }
  Shape4 output_shape() const noexcept override { return Shape4{opt_.batch, 1, 1, opt_.out_c}; }
  ElementType input_type(std::size_t) const noexcept override { return opt_.type; }
  ElementType output_type() const noexcept override { return opt_.type; }
  // The GEMM needs no workspace (Layer's default: 0 bytes).

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace, (void)workspace_bytes;
    if (!built()) return Status(StatusCode::invalid_argument, "fully_connected: layer not built");
    QK_RETURN_IF_ERROR(detail::linear_run_pointers(inputs, output));
    return gemm_s8(weights_, opt_.batch, inputs[0], opt_.depth, params_.stage(opt_.type), output, opt_.out_c, executor);
  }

  // The derived integers (one per output channel), for inspection and tests.
  const std::int32_t* multipliers() const noexcept { return params_.multiplier(); }
  const std::int32_t* shifts() const noexcept { return params_.shift(); }
  const std::int32_t* bias() const noexcept { return params_.bias(); }
  std::int32_t act_min() const noexcept { return params_.qmin; }
  std::int32_t act_max() const noexcept { return params_.qmax; }
  const GemmS8Weights& packed_weights() const noexcept { return weights_; }

 private:
  static Status check_options(const FullyConnectedOptions& o, const void* weights) noexcept {
    if (weights == nullptr) return Status(StatusCode::null_pointer, "fully_connected: null weights");
    if (o.batch == 0) return Status(StatusCode::bad_shape, "fully_connected: batch is 0", "batch", o.batch);
    if (o.depth == 0) return Status(StatusCode::bad_shape, "fully_connected: depth is 0", "depth", o.depth);
    if (o.out_c == 0) return Status(StatusCode::bad_shape, "fully_connected: out_c is 0", "out_c", o.out_c);
    std::size_t t = 0;
    if (!qk::detail::checked_mul(o.batch, o.depth, &t) || !qk::detail::checked_mul(o.batch, o.out_c, &t))
      return Status(StatusCode::size_overflow, "fully_connected: batch * depth or batch * out_c overflows", "batch", o.batch);
    return detail::check_linear_types(o.type, o.weight_type);
  }

  static GemmS8WeightsDesc gemm_desc(const FullyConnectedOptions& o) noexcept {
    GemmS8WeightsDesc d;
    d.k = o.depth, d.n = o.out_c, d.stride_k = 1, d.stride_n = o.depth;
    d.b_type = o.weight_type;
    d.a_type = o.type;
    return d;
  }

  Status build(const FullyConnectedOptions& o, const void* weights, detail::LinearParams p, void* packed_buffer,
               std::size_t packed_bytes) noexcept {
    GemmS8WeightsDesc d = gemm_desc(o);
    d.data = weights;
    d.bias = p.bias();
    d.zero_point = p.has_weight_zero_point ? p.weight_zero_point() : nullptr;
    d.zero_point_per_column = true;
    d.a_zero_point = p.input_zero_point;
    GemmS8Weights w;
    if (packed_buffer != nullptr) {
      // Aligned inside the caller's buffer (packed_size() counts the 64 bytes this may skip).
      const auto addr = reinterpret_cast<std::uintptr_t>(packed_buffer);
      const std::size_t skip = static_cast<std::size_t>((qk::detail::kPackAlign - addr % qk::detail::kPackAlign) %
                                                        qk::detail::kPackAlign);
      std::size_t need = 0;
      QK_RETURN_IF_ERROR(packed_size(o, &need));
      if (packed_bytes < need)
        return Status(StatusCode::buffer_too_small, "fully_connected: packed_buffer smaller than packed_size()", "packed_bytes",
                      packed_bytes);
      QK_RETURN_IF_ERROR(w.pack_into(d, active_isa(), static_cast<std::uint8_t*>(packed_buffer) + skip, packed_bytes - skip));
    } else
      QK_RETURN_IF_ERROR(w.pack(d));
    weights_ = std::move(w);
    params_ = std::move(p);
    opt_ = o;
    return Status::success();
  }

  FullyConnectedOptions opt_;
  detail::LinearParams params_;
  GemmS8Weights weights_;
};

}  // namespace layers
}  // namespace qk
