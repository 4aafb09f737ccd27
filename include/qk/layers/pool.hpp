// qk/layers/pool.hpp - 2-D average and max pooling, and the global average (TFLite MEAN over H, W).
//
// Specifications, bit for bit:
//  - AveragePool2D: TFLite reference_integer_ops::AveragePool (int8) / reference_ops::AveragePool
//    (uint8). Input and output share one quantization (TFLite's Prepare requires it), so the
//    arithmetic is on the raw stored values, no zero points: for each output, s = the sum of the
//    taps that lie inside the image and n = their count (padding taps do not count), then
//    s > 0 ? (s + n/2) / n : (s - n/2) / n in C's truncating division (to nearest, ties away from
//    zero), then the clamp [act_min, act_max].
//  - MaxPool2D: TFLite reference_integer_ops::MaxPool / reference_ops::MaxPool: the largest tap
//    inside the image, then the clamp.
//  - GlobalAveragePool: TFLite MEAN over axes {1, 2} with keep_dims (reduce.cc's 4-D special
//    case). Input and output quantizations may differ, and TFLite's reference arithmetic differs
//    by type, so qk follows each:
//      int8 (reference_integer_ops::Mean): multiplier/shift = QuantizeMultiplier(input_scale /
//        output_scale) in double (reduce.cc's Prepare); acc = sum (x - input_zero_point);
//        acc = MultiplyByQuantizedMultiplier(acc) (double rounding); acc divided by n = H * W
//        rounding half away from zero as above; + output_zero_point; clamp to the type.
//      uint8 (reference_ops::Mean, uint8 overload): the division is folded into the multiplier:
//        QuantizeMultiplier(double(input_scale / (float(H * W) * output_scale))) with the
//        quotient in float, bias = output_zero_point - int(float(input_zero_point) * input_scale
//        / output_scale) (float, truncated toward zero), acc = sum of the raw x,
//        MultiplyByQuantizedMultiplier(acc) + bias, clamp to the type.
//    With equal input and output quantization and zero point 0, the int8 form equals
//    AveragePool2D over the whole image (the multiplier is exactly 1). With a non-zero zero point
//    the two round ties differently (TFLite rounds x - zp, AveragePool rounds x), and the uint8
//    form rounds twice: that is TFLite's arithmetic, kept as it is.
//
// Geometry (TFLite's ComputePaddingHeightWidth): SAME gives out = ceil(in / stride) and top/left
// padding max((out - 1) * stride + filter - in, 0) / 2; VALID gives out = ceil((in - filter + 1) /
// stride) and no padding; explicit pads (ONNX `pads`, or TFLite's prepared top/left padding with
// the bottom/right that gives its output size) give out = (in + top + bottom - filter) / stride + 1.
// Every pad must be below the filter size, so that every window holds at least one image tap
// (a window of padding alone would divide by zero in TFLite).
//
// Performance: the rows run through the pooling kernel family chosen when the layer is built
// (kernels/pool_registry.hpp: AVX-512BW, AVX2, or the portable scalar family, which is the
// definition every SIMD family reproduces bit for bit; kernels/pool_contract.hpp). Max pooling
// keeps the taps as bytes in registers; the average sums int16 lanes in registers and divides by
// an integer multiply-shift per tap count, verified at init for every possible sum
// (make_pool_divisors), the scalar division elsewhere; the global average sums int16 lanes.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "qk/kernels/pool_registry.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// How a pooling window's padding is given. `explicit_pads` uses Pool2DOptions' four pads.
enum class PoolPadding : int { valid = 0, same, explicit_pads };

struct Pool2DOptions {
  std::size_t filter_h = 1, filter_w = 1;
  std::size_t stride_h = 1, stride_w = 1;
  PoolPadding padding = PoolPadding::valid;
  // PoolPadding::explicit_pads only: padding before (top, left) and after (bottom, right).
  std::size_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
};

// The count of image taps of one window is at most this, so that a window's sum (at most
// 255 * n in magnitude, plus n/2 for the rounding) stays below 2^31.
constexpr std::size_t kMaxPoolTaps = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max()) / 256;
// Channels accumulated at once, on the stack (1 KiB of int32 sums).
constexpr std::size_t kPoolChannelBlock = 256;

namespace pool_detail {

inline Status pool_check_quant(const QuantInfo& q, ElementType type, const char* what_scale,
                               const char* what_zero_point) noexcept {
  if (!(std::isfinite(q.scale) && q.scale > 0.0f))
    return Status(StatusCode::invalid_argument, what_scale, "scale", q.scale);
  if (q.zero_point < ::qk::detail::element_type_min(type) || q.zero_point > ::qk::detail::element_type_max(type))
    return Status(StatusCode::invalid_argument, what_zero_point, "zero_point", q.zero_point);
  return Status::success();
}

// Resolved geometry of one spatial dimension.
struct PoolAxis {
  std::size_t in = 0, filter = 1, stride = 1, pad_before = 0, out = 0;
};

inline Status pool_resolve_axis(std::size_t in, std::size_t filter, std::size_t stride, PoolPadding padding,
                                std::size_t pad_before, std::size_t pad_after, PoolAxis* axis) noexcept {
  if (filter == 0) return Status(StatusCode::bad_shape, "pool: filter size is zero", "filter", filter);
  if (stride == 0) return Status(StatusCode::bad_shape, "pool: stride is zero", "stride", stride);
  // Bounds that keep every index computation below in ptrdiff_t and int32 far from overflow.
  constexpr std::size_t kMaxDim = std::size_t{1} << 30;
  if (filter > kMaxDim) return Status(StatusCode::bad_shape, "pool: filter size too large", "filter", filter);
  if (stride > kMaxDim) return Status(StatusCode::bad_shape, "pool: stride too large", "stride", stride);
  if (in > kMaxDim) return Status(StatusCode::bad_shape, "pool: input dimension too large", "in", in);
  PoolAxis a;
  a.in = in;
  a.filter = filter;
  a.stride = stride;
  switch (padding) {
    case PoolPadding::valid:
      if (in < filter) return Status(StatusCode::bad_shape, "pool: VALID filter larger than the input", "filter", filter);
      a.out = (in - filter) / stride + 1;
      a.pad_before = 0;
      break;
    case PoolPadding::same: {
      a.out = (in + stride - 1) / stride;
      const std::size_t covered = (a.out - 1) * stride + filter;
      a.pad_before = covered > in ? (covered - in) / 2 : 0;
      break;
    }
    case PoolPadding::explicit_pads:
      if (pad_before >= filter)
        return Status(StatusCode::bad_shape, "pool: padding before is not below the filter size", "pad", pad_before);
      if (pad_after >= filter)
        return Status(StatusCode::bad_shape, "pool: padding after is not below the filter size", "pad", pad_after);
      if (in + pad_before + pad_after < filter)
        return Status(StatusCode::bad_shape, "pool: padded input smaller than the filter", "filter", filter);
      a.out = (in + pad_before + pad_after - filter) / stride + 1;
      a.pad_before = pad_before;
      break;
    default:
      return Status(StatusCode::invalid_argument, "pool: unknown padding", "padding", static_cast<int>(padding));
  }
  *axis = a;
  return Status::success();
}

// First and one-past-last input index of output position o's window, clipped to the image.
inline void pool_window(const PoolAxis& a, std::size_t o, std::size_t* begin, std::size_t* end) noexcept {
  const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(o * a.stride) - static_cast<std::ptrdiff_t>(a.pad_before);
  const std::ptrdiff_t stop = start + static_cast<std::ptrdiff_t>(a.filter);
  const std::ptrdiff_t in = static_cast<std::ptrdiff_t>(a.in);
  *begin = static_cast<std::size_t>(start < 0 ? 0 : start);
  *end = static_cast<std::size_t>(stop > in ? in : stop);
}

// Round-half-away-from-zero quotient s / n (TFLite's pooling rounding) through the reciprocal
// r = 1/n: exact for |s| + n/2 < 2^31, n < 2^23 (see the header comment).
inline std::int32_t pool_divide_round(std::int32_t s, std::int32_t half, double r) noexcept {
  const std::int32_t a = s < 0 ? -s : s;
  const std::int32_t q = static_cast<std::int32_t>((static_cast<double>(a + half) + 0.5) * r);
  return s < 0 ? -q : q;
}

enum class PoolKind : int { average, max };

struct PoolGeometry {
  Shape4 in, out;
  PoolAxis y, x;
};

inline Status pool_build_geometry(ElementType type, const Shape4& input, const Pool2DOptions& opt, PoolKind kind,
                                  PoolGeometry* g) noexcept {
  if (!::qk::detail::valid_element_type(type))
    return Status(StatusCode::invalid_argument, "pool: unknown element type", "type", static_cast<int>(type));
  if (input.n == 0 || input.h == 0 || input.w == 0 || input.c == 0)
    return Status(StatusCode::bad_shape, "pool: input has a zero dimension");
  std::size_t count = 0;
  if (!input.count(&count)) return Status(StatusCode::size_overflow, "pool: input element count overflows");
  PoolGeometry r;
  r.in = input;
  Status st = pool_resolve_axis(input.h, opt.filter_h, opt.stride_h, opt.padding, opt.pad_top, opt.pad_bottom, &r.y);
  if (!st.ok()) return st;
  st = pool_resolve_axis(input.w, opt.filter_w, opt.stride_w, opt.padding, opt.pad_left, opt.pad_right, &r.x);
  if (!st.ok()) return st;
  if (kind == PoolKind::average) {
    const std::size_t th = opt.filter_h < input.h ? opt.filter_h : input.h;
    const std::size_t tw = opt.filter_w < input.w ? opt.filter_w : input.w;
    std::size_t taps = 0;
    if (!::qk::detail::checked_mul(th, tw, &taps) || taps > kMaxPoolTaps)
      return Status(StatusCode::bad_shape, "pool: a window holds more image taps than an int32 sum allows", "taps",
                    taps);
  }
  r.out = Shape4{input.n, r.y.out, r.x.out, input.c};
  if (!r.out.count(&count)) return Status(StatusCode::size_overflow, "pool: output element count overflows");
  *g = r;
  return Status::success();
}

inline Status pool_check_clamp(ElementType type, std::int32_t act_min, std::int32_t act_max) noexcept {
  if (act_min < ::qk::detail::element_type_min(type) || act_min > ::qk::detail::element_type_max(type))
    return Status(StatusCode::invalid_argument, "pool: act_min outside the element type", "act_min", act_min);
  if (act_max < ::qk::detail::element_type_min(type) || act_max > ::qk::detail::element_type_max(type))
    return Status(StatusCode::invalid_argument, "pool: act_max outside the element type", "act_max", act_max);
  if (act_min > act_max) return Status(StatusCode::invalid_argument, "pool: act_min > act_max", "act_min", act_min);
  return Status::success();
}

template <PoolKind Kind>
struct PoolRunContext {
  const PoolGeometry* g;
  const kernels::PoolKernels* k;
  const kernels::PoolDivisors* div;
  const void* input;
  void* output;
  ElementType type;
  std::int32_t lo, hi;
};

template <PoolKind Kind>
void pool_rows_task(void* context, std::size_t begin, std::size_t end) {
  const auto* ctx = static_cast<const PoolRunContext<Kind>*>(context);
  const PoolGeometry& g = *ctx->g;
  const std::size_t oh = g.out.h, C = g.in.c;
  kernels::PoolRowParams p;
  p.in_w = g.in.w;
  p.channels = C;
  p.out_w = g.out.w;
  p.filter_x = g.x.filter;
  p.stride_x = g.x.stride;
  p.pad_left = g.x.pad_before;
  p.act_min = ctx->lo;
  p.act_max = ctx->hi;
  p.is_signed = ctx->type == ElementType::s8;
  p.divisors = ctx->div;
  const kernels::PoolRowFn fn = Kind == PoolKind::max ? ctx->k->max_row : ctx->k->average_row;
  for (std::size_t i = begin; i < end; ++i) {
    const std::size_t b = i / oh, oy = i % oh;
    pool_window(g.y, oy, &p.y0, &p.y1);
    p.image = static_cast<const std::uint8_t*>(ctx->input) + b * g.in.h * g.in.w * C;
    p.out = static_cast<std::uint8_t*>(ctx->output) + (b * oh + oy) * g.out.w * C;
    fn(p);
  }
}

inline Status layer_check_run_args(bool built, const void* const* inputs, const void* output, const char* op) noexcept {
  (void)op;
  if (!built) return Status(StatusCode::invalid_argument, "layer run: init() has not succeeded");
  if (inputs == nullptr || inputs[0] == nullptr) return Status(StatusCode::null_pointer, "layer run: null input");
  if (output == nullptr) return Status(StatusCode::null_pointer, "layer run: null output");
  return Status::success();
}

// The pooling layers' shared state and run(); AveragePool2D and MaxPool2D add their init().
template <PoolKind Kind>
class Pool2DBase : public Layer {
 public:
  bool built() const noexcept override { return built_; }
  Shape4 input_shape(std::size_t) const noexcept override { return g_.in; }
  Shape4 output_shape() const noexcept override { return g_.out; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  std::int32_t act_min() const noexcept { return lo_; }
  std::int32_t act_max() const noexcept { return hi_; }
  // The resolved top/left padding (TFLite's padding_values).
  std::size_t pad_top() const noexcept { return g_.y.pad_before; }
  std::size_t pad_left() const noexcept { return g_.x.pad_before; }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    const Status st = layer_check_run_args(built_, inputs, output, op_name());
    if (!st.ok()) return st;
    PoolRunContext<Kind> ctx{&g_, kernels_, &div_, inputs[0], output, type_, lo_, hi_};
    const std::size_t rows = g_.out.n * g_.out.h;
    if (executor != nullptr && executor->concurrency() > 1)
      executor->parallel_for(rows, 1, &pool_rows_task<Kind>, &ctx);
    else
      pool_rows_task<Kind>(&ctx, 0, rows);
    return Status::success();
  }
  // run() for a single input.
  Status run(const void* input, void* output, Executor* executor = nullptr) const noexcept {
    const void* inputs[1] = {input};
    return run(inputs, output, nullptr, 0, executor);
  }

 protected:
  Status build(ElementType type, const Shape4& input, const Pool2DOptions& opt, std::int32_t act_min,
               std::int32_t act_max) noexcept {
    PoolGeometry g;
    Status st = pool_build_geometry(type, input, opt, Kind, &g);
    if (!st.ok()) return st;
    st = pool_check_clamp(type, act_min, act_max);
    if (!st.ok()) return st;
    g_ = g;
    type_ = type;
    lo_ = act_min;
    hi_ = act_max;
    kernels_ = kernels::active_pool_kernels();  // chosen once, like packed weights
    if (Kind == PoolKind::average) {
      const std::size_t th = opt.filter_h < input.h ? opt.filter_h : input.h;
      const std::size_t tw = opt.filter_w < input.w ? opt.filter_w : input.w;
      kernels::make_pool_divisors(th * tw, &div_);
    }
    built_ = true;
    return Status::success();
  }
  Status build_quantized(ElementType type, const Shape4& input, const Pool2DOptions& opt, const QuantInfo& in_q,
                         const QuantInfo& out_q, Activation act) noexcept {
    if (!::qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "pool: unknown element type", "type", static_cast<int>(type));
    Status st = pool_check_quant(in_q, type, "pool: input scale is not a positive finite number",
                                 "pool: input zero point outside the element type");
    if (!st.ok()) return st;
    st = pool_check_quant(out_q, type, "pool: output scale is not a positive finite number",
                          "pool: output zero point outside the element type");
    if (!st.ok()) return st;
    // TFLite's pooling Prepare: one quantization for input and output (scales within 1e-6).
    if (std::fabs(in_q.scale - out_q.scale) > 1.0e-6f)
      return Status(StatusCode::invalid_argument, "pool: input and output scales differ (pooling does not requantize)",
                    "output_scale", out_q.scale);
    if (in_q.zero_point != out_q.zero_point)
      return Status(StatusCode::invalid_argument,
                    "pool: input and output zero points differ (pooling does not requantize)", "output_zero_point",
                    out_q.zero_point);
    std::int32_t lo = 0, hi = 0;
    st = activation_range(act, out_q, type, &lo, &hi);
    if (!st.ok()) return st;
    return build(type, input, opt, lo, hi);
  }

  PoolGeometry g_{};
  ElementType type_ = ElementType::s8;
  std::int32_t lo_ = -128, hi_ = 127;
  bool built_ = false;
  const kernels::PoolKernels* kernels_ = nullptr;
  kernels::PoolDivisors div_{};  // average only: the multiply-shift of each tap count
};

}  // namespace pool_detail

// TFLite AVERAGE_POOL_2D (int8/uint8).
class AveragePool2D final : public pool_detail::Pool2DBase<pool_detail::PoolKind::average> {
 public:
  const char* op_name() const noexcept override { return "average_pool2d"; }
  // From a model's quantization: input and output must share it (TFLite's Prepare); the clamp is
  // activation_range(act, output).
  Status init(ElementType type, const Shape4& input, const Pool2DOptions& options, const QuantInfo& input_quant,
              const QuantInfo& output_quant, Activation act = Activation::none) noexcept {
    return build_quantized(type, input, options, input_quant, output_quant, act);
  }
  // From TFLite's prepared clamp (act_min, act_max within the type).
  Status init(ElementType type, const Shape4& input, const Pool2DOptions& options, std::int32_t act_min,
              std::int32_t act_max) noexcept {
    return build(type, input, options, act_min, act_max);
  }
};

// TFLite MAX_POOL_2D (int8/uint8).
class MaxPool2D final : public pool_detail::Pool2DBase<pool_detail::PoolKind::max> {
 public:
  const char* op_name() const noexcept override { return "max_pool2d"; }
  Status init(ElementType type, const Shape4& input, const Pool2DOptions& options, const QuantInfo& input_quant,
              const QuantInfo& output_quant, Activation act = Activation::none) noexcept {
    return build_quantized(type, input, options, input_quant, output_quant, act);
  }
  Status init(ElementType type, const Shape4& input, const Pool2DOptions& options, std::int32_t act_min,
              std::int32_t act_max) noexcept {
    return build(type, input, options, act_min, act_max);
  }
};

// TFLite MEAN over H and W with keep_dims (the global average pool of a model): output
// {n, 1, 1, c}. The arithmetic per type is in the header comment.
class GlobalAveragePool final : public Layer {
 public:
  const char* op_name() const noexcept override { return "mean"; }
  bool built() const noexcept override { return built_; }
  Shape4 input_shape(std::size_t) const noexcept override { return in_; }
  Shape4 output_shape() const noexcept override { return Shape4{in_.n, 1, 1, in_.c}; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }

  // From a model's quantization (TFLite's Prepare, and for uint8 its Eval's float derivation).
  Status init(ElementType type, const Shape4& input, const QuantInfo& input_quant,
              const QuantInfo& output_quant) noexcept {
    Status st = check_shape(type, input);
    if (!st.ok()) return st;
    st = pool_detail::pool_check_quant(input_quant, type, "mean: input scale is not a positive finite number",
                                  "mean: input zero point outside the element type");
    if (!st.ok()) return st;
    st = pool_detail::pool_check_quant(output_quant, type, "mean: output scale is not a positive finite number",
                                  "mean: output zero point outside the element type");
    if (!st.ok()) return st;
    std::int32_t m = 0, s = 0, bias = 0;
    if (type == ElementType::s8) {
      st = quantize_multiplier(static_cast<double>(input_quant.scale) / static_cast<double>(output_quant.scale), &m, &s);
      if (!st.ok()) return st;
    } else {
      // reference_ops::Mean (uint8): everything in float, as TFLite computes it at Eval.
      const float hw = static_cast<float>(input.h * input.w);
      const float real = input_quant.scale / (hw * output_quant.scale);
      st = quantize_multiplier(static_cast<double>(real), &m, &s);
      if (!st.ok()) return st;
      const float zp_term = static_cast<float>(input_quant.zero_point) * input_quant.scale / output_quant.scale;
      // TFLite converts with a plain cast: a value outside int32 would be undefined behaviour.
      if (!(std::fabs(zp_term) < 2147483520.0f))
        return Status(StatusCode::invalid_argument,
                      "mean: input zero point times input_scale / output_scale does not fit int32", "output_scale",
                      output_quant.scale);
      bias = output_quant.zero_point - static_cast<std::int32_t>(zp_term);
    }
    set(type, input, m, s, input_quant.zero_point, output_quant.zero_point, bias);
    return Status::success();
  }
  // int8 only, from TFLite's prepared OpData: multiplier/shift of input_scale / output_scale and
  // the two zero points (uint8's TFLite kernel derives its integers from the float scales at
  // Eval; build it from QuantInfo).
  Status init(ElementType type, const Shape4& input, std::int32_t multiplier, std::int32_t shift,
              std::int32_t input_zero_point, std::int32_t output_zero_point) noexcept {
    Status st = check_shape(type, input);
    if (!st.ok()) return st;
    if (type != ElementType::s8)
      return Status(StatusCode::unsupported, "mean: prepared integers are TFLite's int8 form; build uint8 from QuantInfo",
                    "type", static_cast<int>(type));
    st = validate_quantized_multiplier(multiplier, shift, RequantRounding::double_rounding);
    if (!st.ok()) return st;
    if (input_zero_point < -128 || input_zero_point > 127)
      return Status(StatusCode::invalid_argument, "mean: input zero point outside int8", "input_zero_point",
                    input_zero_point);
    if (output_zero_point < -128 || output_zero_point > 127)
      return Status(StatusCode::invalid_argument, "mean: output zero point outside int8", "output_zero_point",
                    output_zero_point);
    set(type, input, multiplier, shift, input_zero_point, output_zero_point, 0);
    return Status::success();
  }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;  // one pass over the input: memory-bound, serial
    const Status st = pool_detail::layer_check_run_args(built_, inputs, output, "mean");
    if (!st.ok()) return st;
    if (type_ == ElementType::s8)
      run_typed(static_cast<const std::int8_t*>(inputs[0]), static_cast<std::int8_t*>(output));
    else
      run_typed(static_cast<const std::uint8_t*>(inputs[0]), static_cast<std::uint8_t*>(output));
    return Status::success();
  }
  Status run(const void* input, void* output, Executor* executor = nullptr) const noexcept {
    const void* inputs[1] = {input};
    return run(inputs, output, nullptr, 0, executor);
  }

  std::int32_t multiplier() const noexcept { return multiplier_; }
  std::int32_t shift() const noexcept { return shift_; }

 private:
  static Status check_shape(ElementType type, const Shape4& input) noexcept {
    if (!::qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "mean: unknown element type", "type", static_cast<int>(type));
    if (input.n == 0 || input.h == 0 || input.w == 0 || input.c == 0)
      return Status(StatusCode::bad_shape, "mean: input has a zero dimension");
    std::size_t count = 0, hw = 0;
    if (!input.count(&count)) return Status(StatusCode::size_overflow, "mean: input element count overflows");
    if (!::qk::detail::checked_mul(input.h, input.w, &hw) || hw > kMaxPoolTaps)
      return Status(StatusCode::bad_shape, "mean: H * W exceeds what an int32 sum allows", "hw", hw);
    return Status::success();
  }
  void set(ElementType type, const Shape4& input, std::int32_t m, std::int32_t s, std::int32_t zin, std::int32_t zout,
           std::int32_t bias) noexcept {
    type_ = type;
    in_ = input;
    multiplier_ = m;
    shift_ = s;
    zp_in_ = zin;
    zp_out_ = zout;
    bias_ = bias;
    kernels_ = kernels::active_pool_kernels();
    built_ = true;
  }

  template <class T>
  void run_typed(const T* input, T* output) const noexcept {
    const std::size_t C = in_.c, HW = in_.h * in_.w;
    kernels::PoolMeanParams mp;
    mp.multiplier = multiplier_;
    mp.shift = shift_;
    mp.zp_in = zp_in_;
    mp.zp_out = zp_out_;
    mp.bias = bias_;
    mp.n = static_cast<std::int32_t>(HW);
    mp.reciprocal = 1.0 / static_cast<double>(HW);
    mp.is_signed = std::is_signed<T>::value;
    for (std::size_t b = 0; b < in_.n; ++b) {
      const T* image = input + b * HW * C;
      for (std::size_t c0 = 0; c0 < C; c0 += kPoolChannelBlock) {
        const std::size_t cb = C - c0 < kPoolChannelBlock ? C - c0 : kPoolChannelBlock;
        std::int32_t acc[kPoolChannelBlock];
        for (std::size_t c = 0; c < cb; ++c) acc[c] = 0;
        kernels_->channel_sums(reinterpret_cast<const std::uint8_t*>(image + c0), C, HW, cb, std::is_signed<T>::value, acc);
        kernels_->mean_output(mp, acc, cb, reinterpret_cast<std::uint8_t*>(output + b * C + c0));
      }
    }
  }

  Shape4 in_{};
  ElementType type_ = ElementType::s8;
  std::int32_t multiplier_ = 0, shift_ = 0, zp_in_ = 0, zp_out_ = 0, bias_ = 0;
  bool built_ = false;
  const kernels::PoolKernels* kernels_ = nullptr;
};

}  // namespace layers
}  // namespace qk
