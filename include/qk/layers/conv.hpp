// qk/layers/conv.hpp - the Conv2D (general and grouped) and DepthwiseConv2D layers.
//
// Spec: TFLite's reference kernels reference_integer_ops::ConvPerChannel and
// reference_integer_ops::DepthwiseConvPerChannel (int8; uint8 as the legacy reference_ops::Conv /
// DepthwiseConv with a filter offset), with the parameters their Prepare steps derive
// (PopulateConvolutionQuantizationParams):
//
//   out[n][oy][ox][oc] = clamp(MBQM(sum_taps (x + input_offset) * (w[oc][tap] + filter_offset)
//                                   + bias[oc], multiplier[oc], shift[oc]) + output_offset,
//                              act_min, act_max)
//
// taps outside the image contributing nothing, TFLite's double rounding. Conv2D weights are OHWI
// ([out_c][kh][kw][in_c / groups]; groups = in_c / the filter's input depth, TFLite's grouped
// convolution); DepthwiseConv2D weights are [1][kh][kw][in_c * depth_multiplier] and output
// channel oc reads input channel oc / depth_multiplier. Padding VALID, SAME (TFLite's: output
// ceil(in / stride), the odd padding pixel at the bottom/right) or explicit.
//
// Both run on qk's convolution operator (qk/conv.hpp): the weights are packed once at init into a
// qk::ConvS8 (its path - pointwise GEMM, gathered GEMM, depthwise kernels - chosen there), and
// run() is one qk::conv_s8 call with the per-channel fixed-point output stage, so the layer is
// bit-exact wherever the operator is. The packed weights live in memory the layer allocates:
// ConvS8 keeps several internal tables (per-group GEMM weights, depthwise layouts) and has no
// pack-into-caller-memory form yet (FullyConnected has one).
//
// Built from float (FloatQuantization: TFLite's Prepare reproduced) or from TFLite's prepared
// integers (PreparedQuantization), as every conv / FC layer (fully_connected.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "qk/conv.hpp"
#include "qk/layers/fully_connected.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// How the spatial padding is given. `explicit_pads` takes ConvWindow's four pad fields as they
// are (an ONNX model's pads, or TFLite's computed top/left padding with the rest).
enum class Padding : int { valid = 0, same, explicit_pads };

// The sliding window shared by Conv2D and DepthwiseConv2D.
struct ConvWindow {
  std::size_t kernel_h = 0, kernel_w = 0;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t dilation_h = 1, dilation_w = 1;
  Padding padding = Padding::valid;
  std::size_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;  // Padding::explicit_pads only
};

struct Conv2DOptions : ConvWindow {
  Shape4 input;            // NHWC, n = batch (>= 1)
  std::size_t out_c = 0;
  std::size_t groups = 1;  // in_c / the filter's input depth (TFLite grouped conv)
  ElementType type = ElementType::s8;         // input and output
  ElementType weight_type = ElementType::s8;  // int8 (TFLite), uint8 with a zero point, or s4
};

struct DepthwiseConv2DOptions : ConvWindow {
  Shape4 input;  // NHWC, n = batch (>= 1)
  std::size_t depth_multiplier = 1;  // out_c = in_c * depth_multiplier
  ElementType type = ElementType::s8;
  ElementType weight_type = ElementType::s8;  // as Conv2DOptions
};

}  // namespace layers

namespace detail {

// What Conv2D and DepthwiseConv2D share: everything but the descriptor's setup and the name.
class ConvLayerBase : public layers::Layer {
 public:
  bool built() const noexcept override { return conv_.packed(); }
  layers::Shape4 input_shape(std::size_t) const noexcept override { return input_; }
  layers::Shape4 output_shape() const noexcept override { return layers::Shape4{input_.n, conv_.out_h(), conv_.out_w(), conv_.out_c()}; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  Status workspace_size(std::size_t threads, std::size_t* bytes) const noexcept override {
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "conv layer workspace_size: null output");
    if (!built()) return Status(StatusCode::invalid_argument, "conv layer workspace_size: layer not built");
    return conv_s8_workspace_size(conv_, input_.n, threads, bytes);
  }
  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    if (!built()) return Status(StatusCode::invalid_argument, "conv layer: not built");
    QK_RETURN_IF_ERROR(linear_run_pointers(inputs, output));
    return conv_s8(conv_, input_.n, inputs[0], params_.stage(type_), output, workspace, workspace_bytes, executor);
  }

  // The derived integers (one per output channel), for inspection and tests.
  const std::int32_t* multipliers() const noexcept { return params_.multiplier(); }
  const std::int32_t* shifts() const noexcept { return params_.shift(); }
  const std::int32_t* bias() const noexcept { return params_.bias(); }
  std::int32_t act_min() const noexcept { return params_.qmin; }
  std::int32_t act_max() const noexcept { return params_.qmax; }
  const ConvS8& packed_conv() const noexcept { return conv_; }

 protected:
  ConvLayerBase() = default;
  ConvLayerBase(ConvLayerBase&&) = default;
  ConvLayerBase& operator=(ConvLayerBase&&) = default;

  // d: the geometry and weights (everything but zero points and bias, filled here from p).
  Status build(ConvS8Desc d, std::size_t batch, ElementType type, LinearParams p) noexcept {
    d.input_type = type;
    d.input_zero_point = p.input_zero_point;
    d.bias = p.bias();
    d.weight_zero_point = p.has_weight_zero_point ? p.weight_zero_point() : nullptr;
    d.weight_zero_point_per_channel = true;
    ConvS8 conv;
    QK_RETURN_IF_ERROR(conv.pack(d));
    std::size_t count = 0;
    const layers::Shape4 out{batch, conv.out_h(), conv.out_w(), conv.out_c()};
    if (!out.count(&count) || !(layers::Shape4{batch, d.in_h, d.in_w, d.in_c}.count(&count)))
      return Status(StatusCode::size_overflow, "conv layer: batch * image size overflows size_t", "batch", batch);
    conv_ = std::move(conv);
    params_ = std::move(p);
    input_ = layers::Shape4{batch, d.in_h, d.in_w, d.in_c};
    type_ = type;
    return Status::success();
  }

  // Shape, window and padding into d; checks what ConvS8's own validation cannot see.
  static Status set_window(const layers::ConvWindow& w, const layers::Shape4& input, ConvS8Desc* d) noexcept {
    if (input.n == 0) return Status(StatusCode::bad_shape, "conv layer: batch (input.n) is 0", "n", input.n);
    d->in_h = input.h, d->in_w = input.w, d->in_c = input.c;
    d->kernel_h = w.kernel_h, d->kernel_w = w.kernel_w;
    d->stride_h = w.stride_h, d->stride_w = w.stride_w;
    d->dilation_h = w.dilation_h, d->dilation_w = w.dilation_w;
    switch (w.padding) {
      case layers::Padding::valid:
        d->set_valid_padding();
        return Status::success();
      case layers::Padding::same:
        return d->set_same_padding(true);  // TFLite SAME: the odd pixel after
      case layers::Padding::explicit_pads:
        d->pad_top = w.pad_top, d->pad_bottom = w.pad_bottom, d->pad_left = w.pad_left, d->pad_right = w.pad_right;
        return Status::success();
    }
    return Status(StatusCode::invalid_argument, "conv layer: unknown padding", "padding", static_cast<int>(w.padding));
  }

  layers::Shape4 input_;
  ElementType type_ = ElementType::s8;
  LinearParams params_;
  ConvS8 conv_;
};

}  // namespace detail

namespace layers {

class Conv2D final : public detail::ConvLayerBase {
 public:
  Conv2D() = default;
  Conv2D(Conv2D&&) = default;
  Conv2D& operator=(Conv2D&&) = default;

  // weights: OHWI [out_c][kernel_h][kernel_w][in_c / groups] of o.weight_type (not kept; s4: nibble i is element i).
  Status init(const Conv2DOptions& o, const void* weights, const FloatQuantization& q) noexcept {
    ConvS8Desc d;
    QK_RETURN_IF_ERROR(describe(o, weights, &d));
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(detail::linear_params(q, o.out_c, o.type, o.weight_type, &p));
    return build(d, o.input.n, o.type, std::move(p));
  }
  Status init(const Conv2DOptions& o, const void* weights, const PreparedQuantization& q) noexcept {
    ConvS8Desc d;
    QK_RETURN_IF_ERROR(describe(o, weights, &d));
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(detail::linear_params(q, o.out_c, o.type, o.weight_type, &p));
    return build(d, o.input.n, o.type, std::move(p));
  }

  const char* op_name() const noexcept override { return "conv2d"; }

 private:
  static Status describe(const Conv2DOptions& o, const void* weights, ConvS8Desc* d) noexcept {
    if (weights == nullptr) return Status(StatusCode::null_pointer, "conv2d: null weights");
    QK_RETURN_IF_ERROR(set_window(o, o.input, d));
    d->out_c = o.out_c;
    d->groups = o.groups;
    d->weight_layout = ConvWeightLayout::ohwi;
    d->weights = weights;
    d->weight_type = o.weight_type;
    return qk::detail::validate_conv_geometry(*d);
  }
};

class DepthwiseConv2D final : public detail::ConvLayerBase {
 public:
  DepthwiseConv2D() = default;
  DepthwiseConv2D(DepthwiseConv2D&&) = default;
  DepthwiseConv2D& operator=(DepthwiseConv2D&&) = default;

  // weights: [1][kernel_h][kernel_w][in_c * depth_multiplier] of o.weight_type (not kept; s4 as Conv2D).
  Status init(const DepthwiseConv2DOptions& o, const void* weights, const FloatQuantization& q) noexcept {
    ConvS8Desc d;
    QK_RETURN_IF_ERROR(describe(o, weights, &d));
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(detail::linear_params(q, d.out_c, o.type, o.weight_type, &p));
    return build(d, o.input.n, o.type, std::move(p));
  }
  Status init(const DepthwiseConv2DOptions& o, const void* weights, const PreparedQuantization& q) noexcept {
    ConvS8Desc d;
    QK_RETURN_IF_ERROR(describe(o, weights, &d));
    detail::LinearParams p;
    QK_RETURN_IF_ERROR(detail::linear_params(q, d.out_c, o.type, o.weight_type, &p));
    return build(d, o.input.n, o.type, std::move(p));
  }

  const char* op_name() const noexcept override { return "depthwise_conv2d"; }

 private:
  static Status describe(const DepthwiseConv2DOptions& o, const void* weights, ConvS8Desc* d) noexcept {
    if (weights == nullptr) return Status(StatusCode::null_pointer, "depthwise_conv2d: null weights");
    if (o.depth_multiplier == 0)
      return Status(StatusCode::bad_shape, "depthwise_conv2d: depth_multiplier is 0", "depth_multiplier", o.depth_multiplier);
    QK_RETURN_IF_ERROR(set_window(o, o.input, d));
    if (!qk::detail::checked_mul(o.input.c, o.depth_multiplier, &d->out_c))
      return Status(StatusCode::size_overflow, "depthwise_conv2d: in_c * depth_multiplier overflows", "depth_multiplier",
                    o.depth_multiplier);
    d->groups = o.input.c;
    d->weight_layout = ConvWeightLayout::hwo;
    d->weights = weights;
    d->weight_type = o.weight_type;
    return qk::detail::validate_conv_geometry(*d);
  }
};

}  // namespace layers
}  // namespace qk
