// qk/layers/softmax.hpp - int8/uint8 softmax over the innermost dimension, bit for bit as
// TFLite's integer reference kernel (reference_ops::Softmax<InputT, OutputT> for int8 -> int8
// and uint8 -> uint8, the kernel TFLite Micro runs; its Prepare is PreprocessSoftmaxScaling +
// CalculateInputRadius).
//
// Per row of `row_size` values x, with d = x - max(row) in [-255, 0]:
//   - d < diff_min: the output is the type's minimum (the probability rounds to 0);
//   - else e(d) = exp_on_negative_values<5>(SRDHM(d * 2^input_left_shift, input_multiplier)),
//     gemmlowp's fixed-point exp of the difference in Q5.26 (beta * input_scale applied), in Q0.31;
//   - sum = sum of RDPOT(e, 12) (Q12.19), (scale, bits) = GetReciprocal(sum, 12);
//   - output = clamp(RDPOT(SRDHM(scale, e), bits + 23) + type minimum): probability * 256 with
//     TFLite's fixed output quantization, scale 1/256 and zero point -128 (int8) or 0 (uint8).
//
// Why a table: e depends on d alone, and d takes at most 256 values, so init() evaluates e (and
// its Q12.19 term) once for every d, with e = 0 where d < diff_min (which then yields exactly the
// type's minimum: no branch is left in the row loops). A row is then a max, a sum of table
// entries and, per element, one SRDHM and one RDPOT; rows longer than 256 first tabulate their
// 256 possible outputs (cheaper than one multiply per element). Every path computes the same
// integers as the kernel's two loops.
//
// The row loops are the pooling kernel family's (kernels/pool_registry.hpp: scalar definition in
// kernels/scalar/pool.hpp; AVX-512BW gathers the table entries and does the output arithmetic in
// vector lanes; AVX2 uses the scalar loops), chosen when the layer is built.
//
// Two departures, both where TFLite has no defined result:
//   - a row whose exp sum reaches 4096 (int32 overflow of the Q12.19 sum in TFLite: possible
//     from 4096 equal values) saturates the sum; every output is then the zero point, which is
//     also the exact result (each probability is below 1/4096).
//   - from a sum of 512 on, TFLite's final RoundingDivideByPOT exponent (bits + 23) exceeds 31,
//     outside gemmlowp's domain (an undefined shift in C++); qk's rounding_divide_by_pot rounds
//     exactly there (fixed_point.hpp), which gives the correctly rounded probability.
//
// Built from the model's float quantization (input scale, beta, output quantization, which must
// be TFLite's fixed one: Prepare refuses any other) or from the prepared integers.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>

#include "qk/core/element_type.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/fixed_point.hpp"
#include "qk/kernels/pool_registry.hpp"
#include "qk/layers/detail/gemmlowp_fixed_point.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// TFLite's prepared softmax parameters (SoftmaxParams): the difference d = x - max is rescaled
// to Q5.26 as SRDHM(d * 2^input_left_shift, input_multiplier); differences below diff_min count
// as probability 0.
struct SoftmaxParams {
  std::int32_t input_multiplier = 0;
  std::int32_t input_left_shift = 0;
  std::int32_t diff_min = 0;
};

// TFLite's Prepare for int8/uint8 softmax: PreprocessSoftmaxScaling(beta, input_scale, 5)
// (QuantizeMultiplierGreaterThanOne of min(beta * input_scale * 2^26, 2^31 - 1), in double) and
// diff_min = -CalculateInputRadius(5, left_shift) = -floor(31 * 2^26 / 2^left_shift).
// Refuses what TFLite's CHECKs refuse: a real multiplier not above 1 (input_scale * beta below
// about 2^-26), non-positive or non-finite scale or beta.
inline Status softmax_prepare(float input_scale, float beta, SoftmaxParams* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "softmax_prepare: null output");
  if (!(std::isfinite(input_scale) && input_scale > 0.0f))
    return Status(StatusCode::invalid_argument, "softmax: input scale is not a positive finite number", "input_scale",
                  input_scale);
  if (!(std::isfinite(beta) && beta > 0.0f))
    return Status(StatusCode::invalid_argument, "softmax: beta is not a positive finite number", "beta", beta);
  constexpr double kMaxReal = 2147483647.0;  // (1 << 31) - 1: TFLite's cap (double rounding build)
  double real = static_cast<double>(beta) * static_cast<double>(input_scale) * static_cast<double>(1 << 26);
  if (real > kMaxReal) real = kMaxReal;
  if (!(real > 1.0))
    return Status(StatusCode::invalid_argument,
                  "softmax: beta * input_scale * 2^26 must exceed 1 (TFLite's QuantizeMultiplierGreaterThanOne)",
                  "input_scale", input_scale);
  // TFLite's QuantizeMultiplier, whose shift may reach 31 here (qk::quantize_multiplier stops at
  // 30, the limit of a right-shifting requantization; this one is a left shift of d <= 0 by at
  // most 31, bounded by diff_min).
  int exponent = 0;
  const double mantissa = std::frexp(real, &exponent);  // real in (1, 2^31): exponent in [1, 31]
  std::int64_t q = static_cast<std::int64_t>(std::round(mantissa * 2147483648.0));
  if (q == (std::int64_t{1} << 31)) {
    q /= 2;
    ++exponent;
  }
  const double radius = std::floor(31.0 * static_cast<double>(std::int64_t{1} << 26) /
                                   static_cast<double>(std::int64_t{1} << exponent));
  out->input_multiplier = static_cast<std::int32_t>(q);
  out->input_left_shift = exponent;
  out->diff_min = -static_cast<std::int32_t>(radius);
  return Status::success();
}

// The output quantization TFLite fixes for an int8/uint8 softmax: scale 1/256 (within TFLite's
// TF_LITE_ENSURE_NEAR tolerance of 0.001/256), zero point -128 for int8, 0 for uint8.
inline Status softmax_check_output_quantization(const QuantInfo& output, ElementType type) noexcept {
  if (!detail::valid_element_type(type))
    return Status(StatusCode::invalid_argument, "softmax: unknown element type", "type", static_cast<int>(type));
  const std::int32_t zp = type == ElementType::s8 ? -128 : 0;
  if (output.zero_point != zp)
    return Status(StatusCode::invalid_argument,
                  "softmax: output zero point must be TFLite's fixed one (-128 for int8, 0 for uint8)", "zero_point",
                  output.zero_point);
  if (!(std::fabs(output.scale - 1.0f / 256.0f) <= 0.001f / 256.0f))
    return Status(StatusCode::invalid_argument, "softmax: output scale must be TFLite's fixed 1/256", "scale",
                  output.scale);
  return Status::success();
}

class Softmax final : public Layer {
 public:
  // From the model's quantization: softmax(beta * real input) over the innermost dimension
  // (shape.c) of an NHWC tensor; `output` must be TFLite's fixed output quantization.
  Status init(const Shape4& shape, ElementType type, const QuantInfo& input, float beta, const QuantInfo& output) noexcept {
    QK_RETURN_IF_ERROR(softmax_check_output_quantization(output, type));
    SoftmaxParams p;
    QK_RETURN_IF_ERROR(softmax_prepare(input.scale, beta, &p));
    // The input zero point cancels in x - max, but it must still be a value of the type.
    if (input.zero_point < detail::element_type_min(type) || input.zero_point > detail::element_type_max(type))
      return Status(StatusCode::invalid_argument, "softmax: input zero point outside the element type", "zero_point",
                    input.zero_point);
    return init(shape, type, p);
  }

  // From TFLite's prepared integers.
  Status init(const Shape4& shape, ElementType type, const SoftmaxParams& params) noexcept {
    if (!detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "softmax: unknown element type", "type", static_cast<int>(type));
    if (shape.n == 0 || shape.h == 0 || shape.w == 0 || shape.c == 0)
      return Status(StatusCode::bad_shape, "softmax: every dimension must be >= 1", "c", shape.c);
    std::size_t count = 0;
    if (!shape.count(&count)) return Status(StatusCode::size_overflow, "softmax: element count overflows size_t", "c", shape.c);
    if (params.input_multiplier <= 0)
      return Status(StatusCode::invalid_argument, "softmax: input_multiplier must be positive", "input_multiplier",
                    params.input_multiplier);
    if (params.input_left_shift < 0 || params.input_left_shift > 31)
      return Status(StatusCode::invalid_argument, "softmax: input_left_shift outside [0, 31]", "input_left_shift",
                    params.input_left_shift);
    if (params.diff_min > 0)
      return Status(StatusCode::invalid_argument, "softmax: diff_min must be <= 0 (the row maximum always counts)",
                    "diff_min", params.diff_min);
    // The smallest difference that is rescaled: d * 2^left_shift must fit int32 (TFLite's
    // multiplication would overflow otherwise; its own diff_min always keeps it inside).
    const std::int64_t lowest = params.diff_min > -255 ? params.diff_min : -255;
    if (lowest * (std::int64_t{1} << params.input_left_shift) < std::numeric_limits<std::int32_t>::min())
      return Status(StatusCode::invalid_argument,
                    "softmax: diff_min too low for input_left_shift (diff * 2^left_shift overflows int32)", "diff_min",
                    params.diff_min);
    shape_ = shape;
    type_ = type;
    kernels_ = kernels::active_pool_kernels();  // chosen once, like packed weights
    params_ = params;
    rows_ = count / shape.c;
    for (std::int32_t i = 0; i < 256; ++i) {
      const std::int32_t d = -i;
      std::int32_t e = 0;
      if (d >= params.diff_min) {
        const std::int32_t scaled =
            saturating_rounding_doubling_high_mul(wrapping_shift_left(d, params.input_left_shift), params.input_multiplier);
        e = detail::gemmlowp_fp::exp_on_negative_values<5>(scaled);
      }
      exp_[i] = e;
      term_[i] = rounding_divide_by_pot(e, 12);
    }
    built_ = true;
    return Status::success();
  }

  const char* op_name() const noexcept override { return "softmax"; }
  bool built() const noexcept override { return built_; }
  Shape4 input_shape(std::size_t) const noexcept override { return shape_; }
  Shape4 output_shape() const noexcept override { return shape_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  const SoftmaxParams& params() const noexcept { return params_; }

  // The Layer interface: inputs[0] in, output out; no workspace.
  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    (void)workspace;
    (void)workspace_bytes;
    if (inputs == nullptr) return Status(StatusCode::null_pointer, "softmax: null input array");
    return run(inputs[0], output, executor);
  }

  // input and output hold input_shape() elements (they may be the same buffer: each row is
  // read completely before it is written).
  Status run(const void* input, void* output, Executor* executor = nullptr) const noexcept {
    if (!built_) return Status(StatusCode::invalid_argument, "softmax: run before a successful init");
    if (input == nullptr) return Status(StatusCode::null_pointer, "softmax: null input");
    if (output == nullptr) return Status(StatusCode::null_pointer, "softmax: null output");
    Job job{this, input, output};
    // Rows are independent: a range of rows per task, each row computed the same way.
    const std::size_t grain = shape_.c >= 4096 ? 1 : 4096 / shape_.c;
    if (executor != nullptr && rows_ > grain)
      executor->parallel_for(rows_, grain, &Softmax::rows_task, &job);
    else
      rows_task(&job, 0, rows_);
    return Status::success();
  }

 private:
  struct Job {
    const Softmax* self;
    const void* in;
    void* out;
  };

  // Rows [begin, end) through the kernel family chosen at init (kernels/pool_registry.hpp).
  static void rows_task(void* context, std::size_t begin, std::size_t end) noexcept {
    const Job& j = *static_cast<const Job*>(context);
    const Softmax& s = *j.self;
    const std::size_t n = s.shape_.c;
    s.kernels_->softmax_rows(s.exp_, s.term_, static_cast<const std::uint8_t*>(j.in) + begin * n,
                             static_cast<std::uint8_t*>(j.out) + begin * n, end - begin, n, s.type_ == ElementType::s8);
  }

  Shape4 shape_;
  ElementType type_ = ElementType::s8;
  SoftmaxParams params_;
  std::size_t rows_ = 0;
  bool built_ = false;
  const kernels::PoolKernels* kernels_ = nullptr;
  std::int32_t exp_[256] = {};   // e(d) in Q0.31 for d = -index (0 where d < diff_min)
  std::int32_t term_[256] = {};  // RDPOT(e, 12): its Q12.19 term of the row sum
};

}  // namespace layers
}  // namespace qk
