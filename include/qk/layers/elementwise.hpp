// qk/layers/elementwise.hpp - two-input element-wise layers: Add, Mul, Maximum, Minimum, int8
// and uint8, with NumPy/TFLite broadcasting of 4-D NHWC shapes.
//
// Specifications reproduced bit for bit:
//  - Add: TFLite's add.cc (Prepare, 8-bit general path) and reference_integer_ops::Add /
//    BroadcastAdd4DSlow (reference_ops::Add for uint8: the same arithmetic). Each input is
//    brought to a common scale, a_i = MBQM((x_i + off_i) * 2^left_shift, m_i, s_i), then
//    out = MBQM(a_1 + a_2, m_out, s_out) + out_offset, clamped. TFLite applies these with
//    MultiplyByQuantizedMultiplierSmallerThanOneExp: gemmlowp's double rounding with shifts
//    <= 0, i.e. exactly qk::multiply_by_quantized_multiplier (double rounding) on those shifts.
//    From float scales: left_shift 20, m = 2 max(s_1, s_2) (2 * float in float, as TFLite),
//    input multipliers s_i / m and output multiplier m / (2^20 s_out), in double, through
//    QuantizeMultiplierSmallerThanOneExp (which TFLite CHECKs to be in (0, 1) with shift <= 0;
//    qk refuses what TFLite would abort on).
//  - Mul: TFLite's mul.cc and reference_integer_ops::Mul / BroadcastMul4DSlow:
//    out = MBQM((x_1 + off_1) * (x_2 + off_2), m, s) + out_offset, clamped, with (m, s) =
//    QuantizeMultiplier(s_1 * s_2 / s_out) in double.
//  - Maximum, Minimum: TFLite's maximum_minimum.cc: the larger (smaller) raw value, then the
//    clamp. No requantization: TFLite compares the stored integers whatever the quantization
//    (a converted model gives both inputs and the output one quantization).
//
// Broadcasting (BroadcastAdd4DSlow's semantics): each of the four dimensions of the two input
// shapes is equal, or one of them is 1 and broadcasts. At init the dimensions are reduced to
// the fewest runs: dimensions of extent 1 vanish, neighbours broadcast the same way merge. The
// innermost run is then either contiguous in both inputs (equal shapes: one run of the whole
// tensor; a per-channel operand [1,1,1,C]: runs of C) or contiguous in one input with the other
// input's element fixed (a scalar operand, a [N,H,W,1] operand). Each run is one call of the
// element-wise kernel family chosen when the layer is built (kernels/elementwise_registry.hpp:
// AVX2 / AVX-512 on x86, the portable scalar family elsewhere, ARM included), a run whose first
// input is the fixed one with the operands and their parameters swapped. The arithmetic (TFLite's
// double-rounding MultiplyByQuantizedMultiplier written branch-free for validated parameters)
// is the scalar family's, kernels/scalar/elementwise.hpp, which every SIMD family reproduces bit
// for bit (tests/layers/test_layer_kernels.cpp).
//
// The output may be the same buffer as an input whose shape is the output's shape (each output
// element reads only the input elements at its own index); any other overlap is undefined.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qk/kernels/elementwise_registry.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// TFLite's prepared Add parameters (ArithmeticParams of the 8-bit path). Offsets follow
// TFLite: input offsets are -zero_point, output_offset is +zero_point. Shifts are TFLite's
// exponents: <= 0 (right shifts) for Add.
struct AddParams {
  std::int32_t input1_offset = 0, input2_offset = 0;
  std::int32_t left_shift = 20;
  std::int32_t input1_multiplier = 0, input1_shift = 0;
  std::int32_t input2_multiplier = 0, input2_shift = 0;
  std::int32_t output_multiplier = 0, output_shift = 0;
  std::int32_t output_offset = 0;
  std::int32_t act_min = -128, act_max = 127;
};

// TFLite's prepared Mul parameters.
struct MulParams {
  std::int32_t input1_offset = 0, input2_offset = 0;
  std::int32_t output_multiplier = 0, output_shift = 0;
  std::int32_t output_offset = 0;
  std::int32_t act_min = -128, act_max = 127;
};

namespace elementwise_detail {

using qk::detail::element_type_max;
using qk::detail::element_type_min;
using qk::detail::valid_element_type;

inline Status check_quant_info(const QuantInfo& q, ElementType type, const char* bad_scale, const char* bad_zp) noexcept {
  if (!(std::isfinite(q.scale) && q.scale > 0.0f)) return Status(StatusCode::invalid_argument, bad_scale, "scale", q.scale);
  if (q.zero_point < element_type_min(type) || q.zero_point > element_type_max(type))
    return Status(StatusCode::invalid_argument, bad_zp, "zero_point", q.zero_point);
  return Status::success();
}

// An input offset (-zero_point) whose zero point lies in the type.
inline bool valid_input_offset(std::int32_t offset, ElementType type) noexcept {
  return offset >= -element_type_max(type) && offset <= -element_type_min(type);
}

inline Status check_clamp(std::int32_t lo, std::int32_t hi, ElementType type, const char* what) noexcept {
  if (lo < element_type_min(type) || hi > element_type_max(type) || lo > hi)
    return Status(StatusCode::invalid_argument, what, "act_min", lo);
  return Status::success();
}

// TFLite's QuantizeMultiplierSmallerThanOneExp: real in (0, 1), QuantizeMultiplier, shift <= 0.
inline Status quantize_multiplier_smaller_than_one(double real, std::int32_t* m, std::int32_t* s,
                                                   const char* what) noexcept {
  if (!(real > 0.0 && real < 1.0)) return Status(StatusCode::invalid_argument, what, "real_multiplier", real);
  std::int32_t qm = 0, qs = 0;
  QK_RETURN_IF_ERROR(quantize_multiplier(real, &qm, &qs));
  if (qs > 0) return Status(StatusCode::invalid_argument, what, "real_multiplier", real);  // rounded up to 1
  *m = qm;
  *s = qs;
  return Status::success();
}

// The shapes of a broadcast, reduced (see the header comment) to at most four runs, outermost
// first; extent[3] is the innermost run. Strides are in elements; 0 means "broadcast".
struct BroadcastPlan {
  std::size_t extent[4] = {1, 1, 1, 1};
  std::size_t stride1[4] = {0, 0, 0, 0};
  std::size_t stride2[4] = {0, 0, 0, 0};
  enum Inner : int { both = 0, first_fixed, second_fixed } inner = both;
};

// Output shape of broadcasting a with b, and the plan; false when some dimension differs and
// neither is 1.
inline bool make_broadcast_plan(const Shape4& a, const Shape4& b, Shape4* out, BroadcastPlan* plan) noexcept {
  const std::size_t da[4] = {a.n, a.h, a.w, a.c}, db[4] = {b.n, b.h, b.w, b.c};
  std::size_t dout[4] = {};
  for (int d = 0; d < 4; ++d) {
    if (da[d] != db[d] && da[d] != 1 && db[d] != 1) return false;
    dout[d] = da[d] == 1 ? db[d] : da[d];
  }
  // Runs: (extent, input 1 broadcasts, input 2 broadcasts), extent-1 dimensions dropped.
  std::size_t ext[4] = {};
  bool bc1[4] = {}, bc2[4] = {};
  int runs = 0;
  for (int d = 0; d < 4; ++d) {
    if (dout[d] == 1) continue;
    const bool b1 = da[d] == 1, b2 = db[d] == 1;
    if (runs > 0 && bc1[runs - 1] == b1 && bc2[runs - 1] == b2) {
      ext[runs - 1] *= dout[d];  // fits: the output's count was checked by the caller
    } else {
      ext[runs] = dout[d];
      bc1[runs] = b1;
      bc2[runs] = b2;
      ++runs;
    }
  }
  BroadcastPlan p;
  std::size_t s1 = 1, s2 = 1;
  for (int r = runs - 1, slot = 3; r >= 0; --r, --slot) {
    p.extent[slot] = ext[r];
    p.stride1[slot] = bc1[r] ? 0 : s1;
    p.stride2[slot] = bc2[r] ? 0 : s2;
    if (!bc1[r]) s1 *= ext[r];
    if (!bc2[r]) s2 *= ext[r];
  }
  if (runs > 0) p.inner = bc1[runs - 1] ? BroadcastPlan::first_fixed : bc2[runs - 1] ? BroadcastPlan::second_fixed
                                                                                    : BroadcastPlan::both;
  *out = Shape4{dout[0], dout[1], dout[2], dout[3]};
  *plan = p;
  return true;
}

// Calls f(a, b, b_broadcast, swapped, out, n) once per innermost run of n outputs (bytes).
// swapped: the first input is the fixed one, passed as b (the kernel then needs the parameters
// with the operands' roles exchanged).
template <class F>
inline void run_broadcast(const BroadcastPlan& p, const std::uint8_t* a, const std::uint8_t* b, std::uint8_t* out,
                          F f) noexcept {
  const std::size_t n = p.extent[3];
  for (std::size_t i0 = 0; i0 < p.extent[0]; ++i0)
    for (std::size_t i1 = 0; i1 < p.extent[1]; ++i1)
      for (std::size_t i2 = 0; i2 < p.extent[2]; ++i2) {
        const std::uint8_t* ra = a + i0 * p.stride1[0] + i1 * p.stride1[1] + i2 * p.stride1[2];
        const std::uint8_t* rb = b + i0 * p.stride2[0] + i1 * p.stride2[1] + i2 * p.stride2[2];
        switch (p.inner) {
          case BroadcastPlan::first_fixed: f(rb, ra, true, true, out, n); break;
          case BroadcastPlan::second_fixed: f(ra, rb, true, false, out, n); break;
          default: f(ra, rb, false, false, out, n); break;
        }
        out += n;
      }
}

// What the four layers share: types, shapes, the broadcast plan and the run-time checks.
class BinaryElementwiseBase : public Layer {
 public:
  bool built() const noexcept override { return built_; }
  std::size_t input_count() const noexcept override { return 2; }
  Shape4 input_shape(std::size_t i) const noexcept override { return i == 0 ? in1_ : in2_; }
  Shape4 output_shape() const noexcept override { return out_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }

 protected:
  // Validates the type and shapes and records them (not built_: the caller sets it once its
  // own parameters are valid too). Writes nothing on error.
  Status set_shapes(ElementType type, const Shape4& in1, const Shape4& in2, const char* op) noexcept {
    (void)op;
    if (!valid_element_type(type))
      return Status(StatusCode::invalid_argument, "elementwise layer: unknown element type", "type", static_cast<int>(type));
    std::size_t c1 = 0, c2 = 0, co = 0;
    if (!in1.count(&c1)) return Status(StatusCode::size_overflow, "elementwise layer: input 1 element count overflows");
    if (!in2.count(&c2)) return Status(StatusCode::size_overflow, "elementwise layer: input 2 element count overflows");
    if (c1 == 0) return Status(StatusCode::bad_shape, "elementwise layer: input 1 has a zero dimension");
    if (c2 == 0) return Status(StatusCode::bad_shape, "elementwise layer: input 2 has a zero dimension");
    Shape4 out;
    BroadcastPlan plan;
    if (!make_broadcast_plan(in1, in2, &out, &plan)) {
      const std::size_t d1[4] = {in1.n, in1.h, in1.w, in1.c}, d2[4] = {in2.n, in2.h, in2.w, in2.c};
      int bad = 0;
      while (bad < 3 && (d1[bad] == d2[bad] || d1[bad] == 1 || d2[bad] == 1)) ++bad;
      return Status(StatusCode::bad_shape,
                    "elementwise layer: input shapes do not broadcast (a dimension differs and neither is 1)",
                    "dimension", bad);
    }
    if (!out.count(&co)) return Status(StatusCode::size_overflow, "elementwise layer: output element count overflows");
    type_ = type;
    in1_ = in1;
    in2_ = in2;
    out_ = out;
    plan_ = plan;
    kernels_ = kernels::active_elementwise_kernels();  // chosen once, like packed weights
    return Status::success();
  }

  Status check_run(const void* const* inputs, const void* output) const noexcept {
    if (!built_) return Status(StatusCode::invalid_argument, "elementwise layer: run before a successful init");
    if (inputs == nullptr) return Status(StatusCode::null_pointer, "elementwise layer: null inputs array");
    if (inputs[0] == nullptr) return Status(StatusCode::null_pointer, "elementwise layer: null input 1");
    if (inputs[1] == nullptr) return Status(StatusCode::null_pointer, "elementwise layer: null input 2");
    if (output == nullptr) return Status(StatusCode::null_pointer, "elementwise layer: null output");
    return Status::success();
  }

  // One kernel call per run of the plan (`fn` from kernels_, parameters p, or `swapped` for a
  // run whose first input is the fixed one).
  template <class Fn, class Params>
  void dispatch(const void* const* inputs, void* output, Fn fn, const Params& p, const Params& swapped) const noexcept {
    const bool is_signed = type_ == ElementType::s8;
    run_broadcast(plan_, static_cast<const std::uint8_t*>(inputs[0]), static_cast<const std::uint8_t*>(inputs[1]),
                  static_cast<std::uint8_t*>(output),
                  [&](const std::uint8_t* a, const std::uint8_t* b, bool bc, bool sw, std::uint8_t* out, std::size_t n) {
                    fn(sw ? swapped : p, is_signed, a, b, bc, out, n);
                  });
  }

  ElementType type_ = ElementType::s8;
  Shape4 in1_, in2_, out_;
  BroadcastPlan plan_;
  const kernels::ElementwiseKernels* kernels_ = nullptr;
  bool built_ = false;
};

}  // namespace elementwise_detail

// TFLite ADD (8-bit path), see the header comment.
class Add final : public elementwise_detail::BinaryElementwiseBase {
 public:
  const char* op_name() const noexcept override { return "add"; }

  // From TFLite's prepared integers. left_shift in [0, 20] (TFLite uses 20: (x + off) * 2^20
  // and the sum of two rescaled inputs then stay below 2^30), shifts in [-31, 0],
  // multipliers >= 0, offsets of zero points inside the type, act_min <= act_max in the type.
  Status init(ElementType type, const Shape4& input1, const Shape4& input2, const AddParams& p) noexcept {
    built_ = false;
    QK_RETURN_IF_ERROR(check_params(type, p));
    QK_RETURN_IF_ERROR(set_shapes(type, input1, input2, "add"));
    params_ = p;
    kernels::EwAddParams k;
    k.offset1 = p.input1_offset, k.offset2 = p.input2_offset, k.left_shift = p.left_shift;
    k.multiplier1 = p.input1_multiplier, k.shift1 = p.input1_shift;
    k.multiplier2 = p.input2_multiplier, k.shift2 = p.input2_shift;
    k.output_multiplier = p.output_multiplier, k.output_shift = p.output_shift, k.output_offset = p.output_offset;
    k.act_min = p.act_min, k.act_max = p.act_max;
    kparams_ = k;
    kswapped_ = k.swapped();
    built_ = true;
    return Status::success();
  }

  // From float scales and zero points, as TFLite's Prepare derives the integers.
  Status init(ElementType type, const Shape4& input1, const Shape4& input2, const QuantInfo& q1, const QuantInfo& q2,
              const QuantInfo& out, Activation act = Activation::none) noexcept {
    built_ = false;
    AddParams p;
    QK_RETURN_IF_ERROR(params_from_quant(type, q1, q2, out, act, &p));
    return init(type, input1, input2, p);
  }

  // TFLite add.cc's Prepare (8-bit path), on its own.
  static Status params_from_quant(ElementType type, const QuantInfo& q1, const QuantInfo& q2, const QuantInfo& out,
                                  Activation act, AddParams* p) noexcept {
    if (p == nullptr) return Status(StatusCode::null_pointer, "add: null parameters output");
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "add: unknown element type", "type", static_cast<int>(type));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(q1, type, "add: input 1 scale is not a positive finite number",
                                                "add: input 1 zero point outside the element type"));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(q2, type, "add: input 2 scale is not a positive finite number",
                                                "add: input 2 zero point outside the element type"));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(out, type, "add: output scale is not a positive finite number",
                                                "add: output zero point outside the element type"));
    AddParams r;
    r.input1_offset = -q1.zero_point;
    r.input2_offset = -q2.zero_point;
    r.output_offset = out.zero_point;
    r.left_shift = 20;
    // As TFLite: 2 * max(float, float) is a float product, then widened.
    const double twice_max = static_cast<double>(2 * (q1.scale > q2.scale ? q1.scale : q2.scale));
    const double real1 = static_cast<double>(q1.scale) / twice_max;
    const double real2 = static_cast<double>(q2.scale) / twice_max;
    const double real_out = twice_max / static_cast<double>(static_cast<float>(1 << 20) * out.scale);
    if (!std::isfinite(twice_max))
      return Status(StatusCode::invalid_argument, "add: twice the larger input scale overflows float", "scale",
                    q1.scale > q2.scale ? q1.scale : q2.scale);
    QK_RETURN_IF_ERROR(elementwise_detail::quantize_multiplier_smaller_than_one(
        real1, &r.input1_multiplier, &r.input1_shift, "add: input 1 multiplier not in (0, 1)"));
    QK_RETURN_IF_ERROR(elementwise_detail::quantize_multiplier_smaller_than_one(
        real2, &r.input2_multiplier, &r.input2_shift, "add: input 2 multiplier not in (0, 1)"));
    QK_RETURN_IF_ERROR(elementwise_detail::quantize_multiplier_smaller_than_one(
        real_out, &r.output_multiplier, &r.output_shift,
        "add: output multiplier 2 max(input scales) / (2^20 output scale) not in (0, 1): output scale too small"));
    QK_RETURN_IF_ERROR(activation_range(act, out, type, &r.act_min, &r.act_max));
    *p = r;
    return Status::success();
  }

  const AddParams& params() const noexcept { return params_; }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;
    QK_RETURN_IF_ERROR(check_run(inputs, output));
    dispatch(inputs, output, kernels_->add, kparams_, kswapped_);
    return Status::success();
  }

 private:
  static Status check_params(ElementType type, const AddParams& p) noexcept {
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "add: unknown element type", "type", static_cast<int>(type));
    if (!elementwise_detail::valid_input_offset(p.input1_offset, type))
      return Status(StatusCode::invalid_argument, "add: input1_offset is not minus a zero point of the type",
                    "input1_offset", p.input1_offset);
    if (!elementwise_detail::valid_input_offset(p.input2_offset, type))
      return Status(StatusCode::invalid_argument, "add: input2_offset is not minus a zero point of the type",
                    "input2_offset", p.input2_offset);
    if (p.output_offset < qk::detail::element_type_min(type) || p.output_offset > qk::detail::element_type_max(type))
      return Status(StatusCode::invalid_argument, "add: output_offset is not a zero point of the type", "output_offset",
                    p.output_offset);
    if (p.left_shift < 0 || p.left_shift > 20)
      return Status(StatusCode::invalid_argument, "add: left_shift outside [0, 20]", "left_shift", p.left_shift);
    const std::int32_t m[3] = {p.input1_multiplier, p.input2_multiplier, p.output_multiplier};
    const std::int32_t s[3] = {p.input1_shift, p.input2_shift, p.output_shift};
    for (int i = 0; i < 3; ++i) {
      QK_RETURN_IF_ERROR(validate_quantized_multiplier(m[i], s[i], RequantRounding::double_rounding));
      if (s[i] > 0)
        return Status(StatusCode::invalid_argument,
                      "add: shifts must be <= 0 (TFLite's MultiplyByQuantizedMultiplierSmallerThanOneExp)", "shift", s[i]);
    }
    return elementwise_detail::check_clamp(p.act_min, p.act_max, type, "add: act_min/act_max not an ordered range inside the type");
  }

  AddParams params_;
  kernels::EwAddParams kparams_, kswapped_;
};

// TFLite MUL (8-bit path), see the header comment.
class Mul final : public elementwise_detail::BinaryElementwiseBase {
 public:
  const char* op_name() const noexcept override { return "mul"; }

  // From TFLite's prepared integers: shift in [-31, 30], multiplier >= 0, offsets of zero
  // points inside the type, act_min <= act_max in the type.
  Status init(ElementType type, const Shape4& input1, const Shape4& input2, const MulParams& p) noexcept {
    built_ = false;
    QK_RETURN_IF_ERROR(check_params(type, p));
    QK_RETURN_IF_ERROR(set_shapes(type, input1, input2, "mul"));
    params_ = p;
    kernels::EwMulParams k;
    k.offset1 = p.input1_offset, k.offset2 = p.input2_offset;
    k.output_multiplier = p.output_multiplier, k.output_shift = p.output_shift, k.output_offset = p.output_offset;
    k.act_min = p.act_min, k.act_max = p.act_max;
    kparams_ = k;
    kswapped_ = k.swapped();
    built_ = true;
    return Status::success();
  }

  Status init(ElementType type, const Shape4& input1, const Shape4& input2, const QuantInfo& q1, const QuantInfo& q2,
              const QuantInfo& out, Activation act = Activation::none) noexcept {
    built_ = false;
    MulParams p;
    QK_RETURN_IF_ERROR(params_from_quant(type, q1, q2, out, act, &p));
    return init(type, input1, input2, p);
  }

  // TFLite mul.cc's Prepare (8-bit path): QuantizeMultiplier(s1 * s2 / s_out) in double.
  static Status params_from_quant(ElementType type, const QuantInfo& q1, const QuantInfo& q2, const QuantInfo& out,
                                  Activation act, MulParams* p) noexcept {
    if (p == nullptr) return Status(StatusCode::null_pointer, "mul: null parameters output");
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "mul: unknown element type", "type", static_cast<int>(type));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(q1, type, "mul: input 1 scale is not a positive finite number",
                                                "mul: input 1 zero point outside the element type"));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(q2, type, "mul: input 2 scale is not a positive finite number",
                                                "mul: input 2 zero point outside the element type"));
    QK_RETURN_IF_ERROR(elementwise_detail::check_quant_info(out, type, "mul: output scale is not a positive finite number",
                                                "mul: output zero point outside the element type"));
    MulParams r;
    r.input1_offset = -q1.zero_point;
    r.input2_offset = -q2.zero_point;
    r.output_offset = out.zero_point;
    const double real = static_cast<double>(q1.scale) * static_cast<double>(q2.scale) / static_cast<double>(out.scale);
    QK_RETURN_IF_ERROR(quantize_multiplier(real, &r.output_multiplier, &r.output_shift));
    QK_RETURN_IF_ERROR(activation_range(act, out, type, &r.act_min, &r.act_max));
    *p = r;
    return Status::success();
  }

  const MulParams& params() const noexcept { return params_; }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;
    QK_RETURN_IF_ERROR(check_run(inputs, output));
    dispatch(inputs, output, kernels_->mul, kparams_, kswapped_);
    return Status::success();
  }

 private:
  static Status check_params(ElementType type, const MulParams& p) noexcept {
    if (!qk::detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "mul: unknown element type", "type", static_cast<int>(type));
    if (!elementwise_detail::valid_input_offset(p.input1_offset, type))
      return Status(StatusCode::invalid_argument, "mul: input1_offset is not minus a zero point of the type",
                    "input1_offset", p.input1_offset);
    if (!elementwise_detail::valid_input_offset(p.input2_offset, type))
      return Status(StatusCode::invalid_argument, "mul: input2_offset is not minus a zero point of the type",
                    "input2_offset", p.input2_offset);
    if (p.output_offset < qk::detail::element_type_min(type) || p.output_offset > qk::detail::element_type_max(type))
      return Status(StatusCode::invalid_argument, "mul: output_offset is not a zero point of the type", "output_offset",
                    p.output_offset);
    QK_RETURN_IF_ERROR(validate_quantized_multiplier(p.output_multiplier, p.output_shift, RequantRounding::double_rounding));
    return elementwise_detail::check_clamp(p.act_min, p.act_max, type, "mul: act_min/act_max not an ordered range inside the type");
  }

  MulParams params_;
  kernels::EwMulParams kparams_, kswapped_;
};

namespace elementwise_detail {
// TFLite MAXIMUM / MINIMUM: raw values, then the clamp (full type range unless given).
template <bool IsMax>
class MinMaxLayer final : public BinaryElementwiseBase {
 public:
  const char* op_name() const noexcept override { return IsMax ? "maximum" : "minimum"; }

  Status init(ElementType type, const Shape4& input1, const Shape4& input2, std::int32_t act_min,
              std::int32_t act_max) noexcept {
    built_ = false;
    if (!valid_element_type(type))
      return Status(StatusCode::invalid_argument, "maximum/minimum: unknown element type", "type", static_cast<int>(type));
    QK_RETURN_IF_ERROR(check_clamp(act_min, act_max, type, "maximum/minimum: act_min/act_max not an ordered range inside the type"));
    QK_RETURN_IF_ERROR(set_shapes(type, input1, input2, op_name()));
    clamp_.act_min = act_min;
    clamp_.act_max = act_max;
    built_ = true;
    return Status::success();
  }
  Status init(ElementType type, const Shape4& input1, const Shape4& input2) noexcept {
    if (!valid_element_type(type)) {
      built_ = false;
      return Status(StatusCode::invalid_argument, "maximum/minimum: unknown element type", "type", static_cast<int>(type));
    }
    return init(type, input1, input2, element_type_min(type), element_type_max(type));
  }
  // From a model's quantization: validated, otherwise unused, as in TFLite (which compares the
  // stored integers; a converter gives the inputs and the output one quantization).
  Status init(ElementType type, const Shape4& input1, const Shape4& input2, const QuantInfo& q1, const QuantInfo& q2,
              const QuantInfo& out) noexcept {
    built_ = false;
    if (!valid_element_type(type))
      return Status(StatusCode::invalid_argument, "maximum/minimum: unknown element type", "type", static_cast<int>(type));
    QK_RETURN_IF_ERROR(check_quant_info(q1, type, "maximum/minimum: input 1 scale is not a positive finite number",
                                        "maximum/minimum: input 1 zero point outside the element type"));
    QK_RETURN_IF_ERROR(check_quant_info(q2, type, "maximum/minimum: input 2 scale is not a positive finite number",
                                        "maximum/minimum: input 2 zero point outside the element type"));
    QK_RETURN_IF_ERROR(check_quant_info(out, type, "maximum/minimum: output scale is not a positive finite number",
                                        "maximum/minimum: output zero point outside the element type"));
    return init(type, input1, input2);
  }

  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    (void)executor;
    QK_RETURN_IF_ERROR(check_run(inputs, output));
    dispatch(inputs, output, IsMax ? kernels_->maximum : kernels_->minimum, clamp_, clamp_);
    return Status::success();
  }

 private:
  kernels::EwClampParams clamp_{};
};
}  // namespace elementwise_detail

using Maximum = elementwise_detail::MinMaxLayer<true>;
using Minimum = elementwise_detail::MinMaxLayer<false>;

}  // namespace layers
}  // namespace qk
