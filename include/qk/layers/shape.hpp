// qk/layers/shape.hpp - layers that move bytes: Pad and Concatenation, int8 and uint8, NHWC.
//
// Specifications reproduced bit for bit:
//  - Pad: TFLite's pad.cc (PAD and PADV2) for int8/uint8: output[i] = input[i - pad_before]
//    where that lies inside the input, else the pad value. PAD pads with the output zero point;
//    PADV2 with its constant, which TFLite requires to be quantized like the output, so it is
//    given here as a quantized integer. No requantization: TFLite's pad keeps the input's
//    quantization, and qk refuses an input and output quantization that differ (copying bytes
//    between them would silently change the real values).
//  - Concatenation: TFLite's concatenation.cc along any of the four axes (negative axes count
//    from the end, as TFLite's). int8: TFLite's Prepare requires every input to have the
//    output's scale and zero point (the int8 kernel never rescales), and so does qk, with an
//    error naming the input. uint8: reference_ops::ConcatenationWithScaling's float path: an
//    input whose zero point or scale differs from the output's becomes
//    clamp(int(TfLiteRound(x * scale + bias)) + zp_out, 0, 255) with scale = s_in * (1 / s_out)
//    and bias = -zp_in * scale, in float; since x has 256 values this is a table built at init
//    with exactly that float arithmetic (the product rounded on its own, never fused into an
//    FMA), so running costs one table read per byte and no float.
//
// Both build once (Concatenation stores its input shapes and tables with new (std::nothrow))
// and run with memcpy / memset of whole runs, allocating nothing.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// Elements added before or after each NHWC dimension.
struct PadAmounts {
  std::size_t n = 0, h = 0, w = 0, c = 0;
};

// TFLite PAD / PADV2, see the header comment.
class Pad final : public Layer {
 public:
  const char* op_name() const noexcept override { return "pad"; }
  bool built() const noexcept override { return built_; }
  Shape4 input_shape(std::size_t) const noexcept override { return in_; }
  Shape4 output_shape() const noexcept override { return out_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  std::int32_t pad_value() const noexcept { return value_; }

  // Pads with `pad_value`, a quantized value of the type (TFLite: the output zero point, or
  // PADV2's constant).
  Status init(ElementType type, const Shape4& input, const PadAmounts& before, const PadAmounts& after,
              std::int32_t pad_value) noexcept {
    built_ = false;
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "pad: unknown element type", "type", static_cast<int>(type));
    if (pad_value < qk::detail::element_type_min(type) || pad_value > qk::detail::element_type_max(type))
      return Status(StatusCode::invalid_argument, "pad: pad value outside the element type", "pad_value", pad_value);
    std::size_t count = 0;
    if (!input.count(&count)) return Status(StatusCode::size_overflow, "pad: input element count overflows");
    if (count == 0) return Status(StatusCode::bad_shape, "pad: input has a zero dimension");
    const std::size_t in[4] = {input.n, input.h, input.w, input.c};
    const std::size_t b[4] = {before.n, before.h, before.w, before.c}, a[4] = {after.n, after.h, after.w, after.c};
    std::size_t o[4] = {};
    for (int d = 0; d < 4; ++d) {
      std::size_t t = 0;
      if (!qk::detail::checked_add(in[d], b[d], &t) || !qk::detail::checked_add(t, a[d], &o[d]))
        return Status(StatusCode::size_overflow, "pad: padded dimension overflows", "dimension", d);
    }
    const Shape4 out{o[0], o[1], o[2], o[3]};
    if (!out.count(&count)) return Status(StatusCode::size_overflow, "pad: output element count overflows");
    type_ = type;
    in_ = input;
    out_ = out;
    before_ = before;
    after_ = after;
    value_ = pad_value;
    built_ = true;
    return Status::success();
  }

  // From the model's quantization: TFLite PAD pads with the output zero point. The input's
  // quantization must equal the output's (pad copies bytes).
  Status init(ElementType type, const Shape4& input, const PadAmounts& before, const PadAmounts& after,
              const QuantInfo& input_quant, const QuantInfo& output_quant) noexcept {
    built_ = false;
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "pad: unknown element type", "type", static_cast<int>(type));
    if (!(std::isfinite(input_quant.scale) && input_quant.scale > 0.0f))
      return Status(StatusCode::invalid_argument, "pad: input scale is not a positive finite number", "scale",
                    input_quant.scale);
    if (!(std::isfinite(output_quant.scale) && output_quant.scale > 0.0f))
      return Status(StatusCode::invalid_argument, "pad: output scale is not a positive finite number", "scale",
                    output_quant.scale);
    if (output_quant.zero_point < qk::detail::element_type_min(type) || output_quant.zero_point > qk::detail::element_type_max(type))
      return Status(StatusCode::invalid_argument, "pad: output zero point outside the element type", "zero_point",
                    output_quant.zero_point);
    if (input_quant.scale != output_quant.scale || input_quant.zero_point != output_quant.zero_point)
      return Status(StatusCode::invalid_argument,
                    "pad: input and output quantization differ (pad does not requantize)", "zero_point",
                    input_quant.zero_point);
    return init(type, input, before, after, output_quant.zero_point);
  }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;
    if (!built_) return Status(StatusCode::invalid_argument, "pad: run before a successful init");
    if (inputs == nullptr || inputs[0] == nullptr) return Status(StatusCode::null_pointer, "pad: null input");
    if (output == nullptr) return Status(StatusCode::null_pointer, "pad: null output");
    // Bytes: both types are one byte, and the pad value's byte is its two's complement.
    const unsigned char* src = static_cast<const unsigned char*>(inputs[0]);
    unsigned char* dst = static_cast<unsigned char*>(output);
    const int fill = static_cast<unsigned char>(value_ & 0xff);
    const std::size_t row = out_.w * out_.c;              // one output (n, h) row
    const std::size_t in_row = in_.w * in_.c;
    const std::size_t left = before_.w * out_.c, right = after_.w * out_.c;
    const bool whole_rows = before_.c == 0 && after_.c == 0;
    for (std::size_t n = 0; n < out_.n; ++n) {
      const bool n_inside = n >= before_.n && n - before_.n < in_.n;
      for (std::size_t h = 0; h < out_.h; ++h, dst += row) {
        if (!n_inside || h < before_.h || h - before_.h >= in_.h) {
          std::memset(dst, fill, row);
          continue;
        }
        const unsigned char* s = src + ((n - before_.n) * in_.h + (h - before_.h)) * in_row;
        unsigned char* d = dst;
        std::memset(d, fill, left);
        d += left;
        if (whole_rows) {
          std::memcpy(d, s, in_row);
          d += in_row;
        } else {
          for (std::size_t w = 0; w < in_.w; ++w, s += in_.c) {
            std::memset(d, fill, before_.c);
            std::memcpy(d + before_.c, s, in_.c);
            std::memset(d + before_.c + in_.c, fill, after_.c);
            d += out_.c;
          }
        }
        std::memset(d, fill, right);
      }
    }
    return Status::success();
  }

 private:
  ElementType type_ = ElementType::s8;
  Shape4 in_, out_;
  PadAmounts before_, after_;
  std::int32_t value_ = 0;
  bool built_ = false;
};

// TFLite CONCATENATION, see the header comment.
class Concatenation final : public Layer {
 public:
  const char* op_name() const noexcept override { return "concatenation"; }
  bool built() const noexcept override { return built_; }
  std::size_t input_count() const noexcept override { return built_ ? count_ : 0; }
  Shape4 input_shape(std::size_t i) const noexcept override { return built_ && i < count_ ? inputs_[i].shape : Shape4{}; }
  Shape4 output_shape() const noexcept override { return out_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  int axis() const noexcept { return axis_; }

  // Plain concatenation: every input has the output's quantization (TFLite's int8 kernel, or
  // a uint8 model whose inputs all match). axis in [-4, 3]; the inputs' other dimensions equal.
  Status init(ElementType type, const Shape4* input_shapes, std::size_t count, int axis) noexcept {
    return build(type, input_shapes, nullptr, count, axis, QuantInfo{});
  }

  // From the model's quantization: int8 inputs must all have the output's scale and zero
  // point; uint8 inputs that differ are rescaled as ConcatenationWithScaling does.
  Status init(ElementType type, const Shape4* input_shapes, const QuantInfo* input_quant, std::size_t count, int axis,
              const QuantInfo& output_quant) noexcept {
    if (input_quant == nullptr) {
      built_ = false;
      return Status(StatusCode::null_pointer, "concatenation: null input quantization array");
    }
    return build(type, input_shapes, input_quant, count, axis, output_quant);
  }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;
    if (!built_) return Status(StatusCode::invalid_argument, "concatenation: run before a successful init");
    if (inputs == nullptr) return Status(StatusCode::null_pointer, "concatenation: null inputs array");
    for (std::size_t i = 0; i < count_; ++i)
      if (inputs[i] == nullptr) return Status(StatusCode::null_pointer, "concatenation: null input", "input", i);
    if (output == nullptr) return Status(StatusCode::null_pointer, "concatenation: null output");
    unsigned char* dst = static_cast<unsigned char*>(output);
    for (std::size_t k = 0; k < outer_; ++k)
      for (std::size_t i = 0; i < count_; ++i) {
        const InputInfo& in = inputs_[i];
        const unsigned char* src = static_cast<const unsigned char*>(inputs[i]) + k * in.block;
        if (in.table == nullptr) {
          std::memcpy(dst, src, in.block);
        } else {
          const unsigned char* table = in.table;
          for (std::size_t j = 0; j < in.block; ++j) dst[j] = table[src[j]];
        }
        dst += in.block;
      }
    return Status::success();
  }

 private:
  struct InputInfo {
    Shape4 shape;
    std::size_t block = 0;                   // elements from the axis inwards: one outer step's copy
    const unsigned char* table = nullptr;    // uint8 rescaling table (256 entries), or null: copy
  };

  static std::size_t dim(const Shape4& s, int d) noexcept { return d == 0 ? s.n : d == 1 ? s.h : d == 2 ? s.w : s.c; }

  // TFLite ConcatenationWithScaling's float rescaling of one uint8 value.
  static unsigned char rescale(int x, float scale, float bias, std::int32_t zp_out) noexcept {
    // The product rounded to float on its own: a fused multiply-add would round once and can
    // differ from TFLite's (non-fused) build.
    volatile float product = static_cast<float>(x) * scale;
    const float r = std::round(product + bias);  // TfLiteRound: half away from zero
    if (!(r < 512.0f)) return 255;               // also NaN-free: scale and bias are finite
    if (!(r > -512.0f)) return 0;
    const std::int32_t v = static_cast<std::int32_t>(r) + zp_out;
    return static_cast<unsigned char>(v < 0 ? 0 : (v > 255 ? 255 : v));
  }

  Status build(ElementType type, const Shape4* shapes, const QuantInfo* quant, std::size_t count, int axis,
               const QuantInfo& out_q) noexcept {
    built_ = false;
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "concatenation: unknown element type", "type", static_cast<int>(type));
    if (shapes == nullptr) return Status(StatusCode::null_pointer, "concatenation: null input shapes array");
    if (count == 0) return Status(StatusCode::bad_shape, "concatenation: no inputs", "count", count);
    if (axis < -4 || axis > 3) return Status(StatusCode::invalid_argument, "concatenation: axis outside [-4, 3]", "axis", axis);
    const int ax = axis < 0 ? axis + 4 : axis;
    std::size_t along = 0, tmp = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!shapes[i].count(&tmp)) return Status(StatusCode::size_overflow, "concatenation: input element count overflows", "input", i);
      if (tmp == 0) return Status(StatusCode::bad_shape, "concatenation: input has a zero dimension", "input", i);
      for (int d = 0; d < 4; ++d)
        if (d != ax && dim(shapes[i], d) != dim(shapes[0], d))
          return Status(StatusCode::bad_shape, "concatenation: input differs from input 0 outside the axis", "input", i);
      if (!qk::detail::checked_add(along, dim(shapes[i], ax), &along))
        return Status(StatusCode::size_overflow, "concatenation: output extent along the axis overflows");
    }
    Shape4 out = shapes[0];
    (ax == 0 ? out.n : ax == 1 ? out.h : ax == 2 ? out.w : out.c) = along;
    if (!out.count(&tmp)) return Status(StatusCode::size_overflow, "concatenation: output element count overflows");
    std::size_t tables = 0;
    if (quant != nullptr) {
      if (!(std::isfinite(out_q.scale) && out_q.scale > 0.0f))
        return Status(StatusCode::invalid_argument, "concatenation: output scale is not a positive finite number", "scale",
                      out_q.scale);
      if (out_q.zero_point < qk::detail::element_type_min(type) || out_q.zero_point > qk::detail::element_type_max(type))
        return Status(StatusCode::invalid_argument, "concatenation: output zero point outside the element type",
                      "zero_point", out_q.zero_point);
      const float inverse_output_scale = 1.0f / out_q.scale;
      for (std::size_t i = 0; i < count; ++i) {
        if (!(std::isfinite(quant[i].scale) && quant[i].scale > 0.0f))
          return Status(StatusCode::invalid_argument, "concatenation: input scale is not a positive finite number", "input", i);
        if (quant[i].zero_point < qk::detail::element_type_min(type) || quant[i].zero_point > qk::detail::element_type_max(type))
          return Status(StatusCode::invalid_argument, "concatenation: input zero point outside the element type", "input", i);
        if (quant[i].scale == out_q.scale && quant[i].zero_point == out_q.zero_point) continue;
        if (type == ElementType::s8)
          return Status(StatusCode::invalid_argument,
                        "concatenation: int8 inputs must have the output's scale and zero point (TFLite does not rescale int8)",
                        "input", i);
        const float scale = quant[i].scale * inverse_output_scale;
        const float bias = static_cast<float>(-quant[i].zero_point) * scale;
        if (!(std::isfinite(scale) && std::isfinite(bias)))
          return Status(StatusCode::invalid_argument, "concatenation: input scale / output scale overflows float", "input", i);
        ++tables;
      }
    }
    // Everything is valid; allocate (nothing of the object changes if this fails).
    std::size_t bytes = 0;
    if (!qk::detail::checked_mul(tables, 256, &bytes))
      return Status(StatusCode::size_overflow, "concatenation: rescaling tables overflow");
    std::unique_ptr<InputInfo[]> infos(new (std::nothrow) InputInfo[count]);
    if (!infos) return Status(StatusCode::out_of_memory, "concatenation: input table allocation failed");
    std::unique_ptr<unsigned char[]> table_mem;
    if (tables > 0) {
      table_mem.reset(new (std::nothrow) unsigned char[bytes]);
      if (!table_mem) return Status(StatusCode::out_of_memory, "concatenation: rescaling table allocation failed");
    }
    std::size_t outer = 1;
    for (int d = 0; d < ax; ++d) outer *= dim(out, d);  // divides the checked output count
    unsigned char* next_table = table_mem.get();
    for (std::size_t i = 0; i < count; ++i) {
      InputInfo& in = infos[i];
      in.shape = shapes[i];
      in.block = 1;
      for (int d = ax; d < 4; ++d) in.block *= dim(shapes[i], d);
      if (quant != nullptr && !(quant[i].scale == out_q.scale && quant[i].zero_point == out_q.zero_point)) {
        const float scale = quant[i].scale * (1.0f / out_q.scale);
        const float bias = static_cast<float>(-quant[i].zero_point) * scale;
        for (int x = 0; x < 256; ++x) next_table[x] = rescale(x, scale, bias, out_q.zero_point);
        in.table = next_table;
        next_table += 256;
      }
    }
    type_ = type;
    count_ = count;
    axis_ = ax;
    out_ = out;
    outer_ = outer;
    inputs_ = std::move(infos);
    tables_ = std::move(table_mem);
    built_ = true;
    return Status::success();
  }

  ElementType type_ = ElementType::s8;
  std::size_t count_ = 0;
  int axis_ = 0;
  Shape4 out_;
  std::size_t outer_ = 0;
  std::unique_ptr<InputInfo[]> inputs_;
  std::unique_ptr<unsigned char[]> tables_;
  bool built_ = false;
};

}  // namespace layers
}  // namespace qk
