// qk/layers/batch_matmul.hpp - int8/uint8 batched matrix product of two run-time tensors, bit for
// bit as TFLite's BATCH_MATMUL (reference_ops::BatchMatMul, int8 path; its Prepare:
// GetQuantizedConvolutionMultipler + QuantizeMultiplier, no fused activation).
//
//   out[b][h][i][j] = clamp(MBQM(sum_k (L[i][k] + lhs_offset) * (R[k][j] + rhs_offset),
//                                multiplier, shift) + output_offset, act_min, act_max)
//
// Tensors are [batch][height][rows][cols] (Shape4 n, h, w, c). L is the lhs slice, transposed
// first when adj_x (stored [K][M]); R the rhs slice, transposed first when adj_y (stored [N][K]).
// A batch or height of size 1 broadcasts against the other operand's. MBQM is TFLite's default
// double-rounding MultiplyByQuantizedMultiplier; offsets are -zero_point (output: +zero_point).
//
// How: each (batch, height) slice is one qk GEMM (gemm.hpp), lhs as the activations and rhs as
// the weights, packed at run time into the caller's workspace (run() never allocates) with the
// zero points folded in at packing (GemmS8WeightsDesc::a_zero_point = -lhs_offset, weight zero
// point -rhs_offset). The GEMM's accumulator is sum (L - zl)(R - zr) in wrapping int32, the same
// integer as TFLite's int32 sum, and its fixed_point_requant stage is MBQM + zero point + clamp,
// so the result is TFLite's exactly, on every ISA. Consecutive slices that share one rhs slice
// and read consecutive lhs slices (rhs broadcast, no adj_x) run as one taller GEMM, packed once;
// an rhs slice is repacked only when it changes. adj_x gathers the transposed lhs slice into the
// workspace, once per distinct lhs slice. The kernel family is the active ISA at init(): the
// workspace size depends on its packed layout.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "qk/core/checked.hpp"
#include "qk/core/element_type.hpp"
#include "qk/core/isa.hpp"
#include "qk/core/output_stage.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/fixed_point.hpp"
#include "qk/gemm.hpp"
#include "qk/layers/layer.hpp"

namespace qk {
namespace layers {

// TFLite's prepared batch matmul parameters (offsets as TFLite stores them: input offsets are
// -zero_point, output_offset is +zero_point).
struct BatchMatMulParams {
  std::int32_t lhs_offset = 0, rhs_offset = 0;
  std::int32_t output_multiplier = 0, output_shift = 0;
  std::int32_t output_offset = 0;
  std::int32_t act_min = -128, act_max = 127;
};

class BatchMatMul final : public Layer {
 public:
  // From the model's quantization: multiplier for double(float(lhs_scale * rhs_scale)) /
  // double(output_scale) (TFLite multiplies the two scales in float here), clamp = the full type.
  Status init(const Shape4& lhs_shape, const Shape4& rhs_shape, bool adj_x, bool adj_y, ElementType type,
              const QuantInfo& lhs, const QuantInfo& rhs, const QuantInfo& output) noexcept {
    if (!detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "batch_matmul: unknown element type", "type", static_cast<int>(type));
    const float scales[3] = {lhs.scale, rhs.scale, output.scale};
    const char* names[3] = {"lhs_scale", "rhs_scale", "output_scale"};
    for (int i = 0; i < 3; ++i)
      if (!(std::isfinite(scales[i]) && scales[i] > 0.0f))
        return Status(StatusCode::invalid_argument, "batch_matmul: scale is not a positive finite number", names[i], scales[i]);
    const float product = lhs.scale * rhs.scale;
    if (!(product > 0.0f && std::isfinite(product)))
      return Status(StatusCode::invalid_argument, "batch_matmul: lhs_scale * rhs_scale underflows or overflows float",
                    "rhs_scale", rhs.scale);
    const std::int32_t zps[3] = {lhs.zero_point, rhs.zero_point, output.zero_point};
    const char* zp_names[3] = {"lhs_zero_point", "rhs_zero_point", "output_zero_point"};
    for (int i = 0; i < 3; ++i)
      if (zps[i] < detail::element_type_min(type) || zps[i] > detail::element_type_max(type))
        return Status(StatusCode::invalid_argument, "batch_matmul: zero point outside the element type", zp_names[i], zps[i]);
    BatchMatMulParams p;
    QK_RETURN_IF_ERROR(quantize_multiplier(static_cast<double>(product) / static_cast<double>(output.scale),
                                           &p.output_multiplier, &p.output_shift));
    p.lhs_offset = -lhs.zero_point;
    p.rhs_offset = -rhs.zero_point;
    p.output_offset = output.zero_point;
    p.act_min = detail::element_type_min(type);
    p.act_max = detail::element_type_max(type);
    return init(lhs_shape, rhs_shape, adj_x, adj_y, type, p);
  }

  // From TFLite's prepared integers.
  Status init(const Shape4& lhs_shape, const Shape4& rhs_shape, bool adj_x, bool adj_y, ElementType type,
              const BatchMatMulParams& p) noexcept {
    if (!detail::valid_element_type(type))
      return Status(StatusCode::invalid_argument, "batch_matmul: unknown element type", "type", static_cast<int>(type));
    const Shape4* shapes[2] = {&lhs_shape, &rhs_shape};
    for (const Shape4* s : shapes) {
      if (s->n == 0 || s->h == 0 || s->w == 0 || s->c == 0)
        return Status(StatusCode::bad_shape, "batch_matmul: every dimension must be >= 1", "cols", s->c);
      std::size_t count = 0;
      if (!s->count(&count))
        return Status(StatusCode::size_overflow, "batch_matmul: operand element count overflows size_t", "cols", s->c);
    }
    if (lhs_shape.n != rhs_shape.n && lhs_shape.n != 1 && rhs_shape.n != 1)
      return Status(StatusCode::bad_shape, "batch_matmul: batch sizes differ and neither is 1", "rhs_batch", rhs_shape.n);
    if (lhs_shape.h != rhs_shape.h && lhs_shape.h != 1 && rhs_shape.h != 1)
      return Status(StatusCode::bad_shape, "batch_matmul: heights differ and neither is 1", "rhs_height", rhs_shape.h);
    const std::size_t m = adj_x ? lhs_shape.c : lhs_shape.w, k = adj_x ? lhs_shape.w : lhs_shape.c;
    const std::size_t n = adj_y ? rhs_shape.w : rhs_shape.c, rhs_k = adj_y ? rhs_shape.c : rhs_shape.w;
    if (rhs_k != k)
      return Status(StatusCode::bad_shape, "batch_matmul: the operands' reduction lengths (K) differ", "rhs_k", rhs_k);
    const std::int32_t tmin = detail::element_type_min(type), tmax = detail::element_type_max(type);
    if (-p.lhs_offset < tmin || -p.lhs_offset > tmax)
      return Status(StatusCode::invalid_argument, "batch_matmul: lhs_offset (-zero point) outside the element type",
                    "lhs_offset", p.lhs_offset);
    if (-p.rhs_offset < tmin || -p.rhs_offset > tmax)
      return Status(StatusCode::invalid_argument, "batch_matmul: rhs_offset (-zero point) outside the element type",
                    "rhs_offset", p.rhs_offset);
    if (p.output_offset < tmin || p.output_offset > tmax)
      return Status(StatusCode::invalid_argument, "batch_matmul: output_offset outside the element type", "output_offset",
                    p.output_offset);
    if (p.act_min < tmin || p.act_min > p.act_max)
      return Status(StatusCode::invalid_argument, "batch_matmul: act_min outside the element type or above act_max",
                    "act_min", p.act_min);
    if (p.act_max > tmax)
      return Status(StatusCode::invalid_argument, "batch_matmul: act_max outside the element type", "act_max", p.act_max);
    QK_RETURN_IF_ERROR(validate_quantized_multiplier(p.output_multiplier, p.output_shift, RequantRounding::double_rounding));
    Shape4 out;
    out.n = lhs_shape.n > rhs_shape.n ? lhs_shape.n : rhs_shape.n;
    out.h = lhs_shape.h > rhs_shape.h ? lhs_shape.h : rhs_shape.h;
    out.w = m;
    out.c = n;
    std::size_t out_count = 0;
    if (!out.count(&out_count))
      return Status(StatusCode::size_overflow, "batch_matmul: output element count overflows size_t", "n", n);
    const Isa isa = active_isa();
    GemmS8WeightsDesc desc;
    desc.k = k;
    desc.n = n;
    std::size_t packed = 0, gather = 0, total = 0;
    QK_RETURN_IF_ERROR(GemmS8Weights::packed_size(desc, isa, &packed));  // also refuses K > kMaxGemmK
    if (adj_x && !detail::checked_mul(m, k, &gather))
      return Status(StatusCode::size_overflow, "batch_matmul: transposed lhs slice size overflows size_t", "k", k);
    if (!detail::checked_add(packed, gather, &total) || !detail::checked_add(total, detail::kPackAlign, &total))
      return Status(StatusCode::size_overflow, "batch_matmul: workspace size overflows size_t", "k", k);
    lhs_ = lhs_shape;
    rhs_ = rhs_shape;
    out_ = out;
    adj_x_ = adj_x;
    adj_y_ = adj_y;
    type_ = type;
    params_ = p;
    m_ = m;
    k_ = k;
    n_ = n;
    isa_ = isa;
    packed_bytes_ = packed;
    workspace_bytes_ = total;
    built_ = true;
    return Status::success();
  }

  const char* op_name() const noexcept override { return "batch_matmul"; }
  bool built() const noexcept override { return built_; }
  std::size_t input_count() const noexcept override { return 2; }
  Shape4 input_shape(std::size_t i) const noexcept override { return i == 0 ? lhs_ : rhs_; }
  Shape4 output_shape() const noexcept override { return out_; }
  ElementType input_type(std::size_t) const noexcept override { return type_; }
  ElementType output_type() const noexcept override { return type_; }
  const BatchMatMulParams& params() const noexcept { return params_; }
  Isa isa() const noexcept { return isa_; }

  // The packed rhs slice, the gathered lhs slice (adj_x) and 64 bytes of alignment slack; the
  // same for any thread count (the GEMM's own scratch is on its stack).
  Status workspace_size(std::size_t threads, std::size_t* bytes) const noexcept override {
    (void)threads;
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: workspace_size: null output");
    if (!built_) return Status(StatusCode::invalid_argument, "batch_matmul: workspace_size before a successful init");
    *bytes = workspace_bytes_;
    return Status::success();
  }

  // The Layer interface: inputs[0] = lhs, inputs[1] = rhs.
  Status run(const void* const* inputs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept override {
    if (inputs == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: null input array");
    return run(inputs[0], inputs[1], output, workspace, workspace_bytes, executor);
  }

  Status run(const void* lhs, const void* rhs, void* output, void* workspace, std::size_t workspace_bytes,
             Executor* executor = nullptr) const noexcept {
    if (!built_) return Status(StatusCode::invalid_argument, "batch_matmul: run before a successful init");
    if (lhs == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: null lhs");
    if (rhs == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: null rhs");
    if (output == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: null output");
    if (workspace == nullptr) return Status(StatusCode::null_pointer, "batch_matmul: null workspace");
    if (workspace_bytes < workspace_bytes_)
      return Status(StatusCode::buffer_too_small, "batch_matmul: workspace smaller than workspace_size()", "workspace_bytes",
                    workspace_bytes);
    if (!isa_supported(isa_))
      return Status(StatusCode::unsupported, "batch_matmul: built for an ISA this CPU lacks", "isa", static_cast<int>(isa_));

    const auto base = reinterpret_cast<std::uintptr_t>(workspace);
    auto* packed = reinterpret_cast<std::uint8_t*>((base + detail::kPackAlign - 1) / detail::kPackAlign * detail::kPackAlign);
    std::uint8_t* gathered = packed + packed_bytes_;
    const auto* l8 = static_cast<const std::uint8_t*>(lhs);
    const auto* r8 = static_cast<const std::uint8_t*>(rhs);
    auto* o8 = static_cast<std::uint8_t*>(output);

    const OutputType otype = type_ == ElementType::s8 ? OutputType::s8 : OutputType::u8;
    const OutputStage stage = OutputStage::fixed_point_requant(otype, &params_.output_multiplier, &params_.output_shift,
                                                               false, params_.output_offset, params_.act_min,
                                                               params_.act_max);
    const std::int32_t rhs_zero_point = -params_.rhs_offset;
    GemmS8WeightsDesc desc;
    desc.k = k_;
    desc.n = n_;
    desc.stride_k = adj_y_ ? 1 : n_;
    desc.stride_n = adj_y_ ? k_ : 1;
    desc.b_type = type_;
    desc.zero_point = &rhs_zero_point;
    desc.a_type = type_;
    desc.a_zero_point = -params_.lhs_offset;

    const std::size_t slices = out_.n * out_.h, lhs_slice = m_ * k_, rhs_slice = k_ * n_, out_slice = m_ * n_;
    std::size_t packed_rhs = slices, gathered_lhs = slices;  // none yet
    GemmS8Weights w;
    for (std::size_t s = 0; s < slices;) {
      const std::size_t li = lhs_index(s), ri = rhs_index(s);
      // Slices that share this rhs slice and read the lhs slices after li run as one GEMM.
      std::size_t count = 1;
      if (!adj_x_)
        while (s + count < slices && rhs_index(s + count) == ri && lhs_index(s + count) == li + count) ++count;
      if (ri != packed_rhs) {
        desc.data = r8 + ri * rhs_slice;
        QK_RETURN_IF_ERROR(w.pack_into(desc, isa_, packed, packed_bytes_));
        packed_rhs = ri;
      }
      const std::uint8_t* a = l8 + li * lhs_slice;
      if (adj_x_) {
        if (li != gathered_lhs) {
          // Stored [K][M]: row i of the GEMM's A is column i of the slice.
          for (std::size_t i = 0; i < m_; ++i)
            for (std::size_t kk = 0; kk < k_; ++kk) gathered[i * k_ + kk] = a[kk * m_ + i];
          gathered_lhs = li;
        }
        a = gathered;
      }
      QK_RETURN_IF_ERROR(gemm_s8(w, count * m_, a, k_, stage, o8 + s * out_slice, n_, executor));
      s += count;
    }
    return Status::success();
  }

 private:
  // Output slice s = b * H + h reads lhs slice (b or 0) * lhs.h + (h or 0), and likewise rhs.
  std::size_t lhs_index(std::size_t s) const noexcept {
    const std::size_t b = s / out_.h, h = s % out_.h;
    return (lhs_.n == 1 ? 0 : b) * lhs_.h + (lhs_.h == 1 ? 0 : h);
  }
  std::size_t rhs_index(std::size_t s) const noexcept {
    const std::size_t b = s / out_.h, h = s % out_.h;
    return (rhs_.n == 1 ? 0 : b) * rhs_.h + (rhs_.h == 1 ? 0 : h);
  }

  Shape4 lhs_, rhs_, out_;
  bool adj_x_ = false, adj_y_ = false;
  ElementType type_ = ElementType::s8;
  BatchMatMulParams params_;
  std::size_t m_ = 0, k_ = 0, n_ = 0;
  Isa isa_ = Isa::scalar;
  std::size_t packed_bytes_ = 0, workspace_bytes_ = 0;
  bool built_ = false;
};

}  // namespace layers
}  // namespace qk
