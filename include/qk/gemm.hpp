// qk/gemm.hpp - int8 GEMM (and its fp32 twin) with weights packed once per runtime-chosen kernel.
//
//   C[m][n] = output_stage( sum_k (A[m][k] - za) * (B[k][n] - zb[n]) + bias[n] )
//
// A: activations, int8 or uint8, row-major with any row stride. B: weights, int8, uint8 or int4
// (ElementType::s4: two's complement nibbles, two a byte, low nibble first; TFLite's int4), any
// (k, n) strides, packed once into the layout of the kernel family active_isa() names at pack
// time (the packed object keeps that kernel; later force_isa() calls do not affect it). int4
// weights get the ISA's int4 family (kernels/x86/gemm_s4_x86.hpp), which expands the nibbles
// in registers; the arithmetic and the output stage are the int8 ones.
// Running takes no allocation and no workspace: the only scratch (row sums of A for the row
// term, at most 2 KiB) lives on the stack.
//
//   qk::GemmS8Weights w;
//   QK_RETURN_IF_ERROR(w.pack(qk::GemmS8WeightsDesc::n_by_k(N, K, weights, bias)));
//   QK_RETURN_IF_ERROR(qk::gemm_s8(w, M, a, lda, qk::OutputStage::fixed_point_requant(...), c, ldc));
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "qk/core/checked.hpp"
#include "qk/core/element_type.hpp"
#include "qk/core/isa.hpp"
#include "qk/core/output_stage.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/kernels/gemm_registry.hpp"

namespace qk {

// Largest K (reduction length) the int8 GEMM and convolution accept. The zero-point algebra
// needs two int32 sums over K whose overflow would be undefined behaviour where they are
// plain int32 additions (row_sums_scalar, the packer's column sums, the kernels' row sums):
//   rowsum(A) = sum of K activations, each in [-128, 255] (s8, or u8 as the kernels see it);
//   colsum(B) = sum of K stored weights, each in [-128, 127].
// Both lie in [-255 K, 255 K] (|-128| <= 255), so K <= INT32_MAX / 255 = 8421504 keeps every
// partial sum inside int32. (The accumulator sum (A - za)(B - zb) itself is defined to wrap,
// like vpdpbusd, and is computed in unsigned arithmetic, so it imposes no bound.)
constexpr std::size_t kMaxGemmK = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() / 255);

// Unpacked weights and the constants packing folds in.
struct GemmS8WeightsDesc {
  std::size_t k = 0, n = 0;
  // B[k][n] is element k * stride_k + n * stride_n of data. For s8 / u8 an element is a byte.
  // For s4 an element is a nibble: element i is the low nibble of byte i / 2 when i is even, its
  // high nibble when i is odd, as TFLite and ONNX pack a whole int4 tensor (rows are not padded
  // to bytes: with n_by_k and odd K a row starts in the middle of a byte). Strides count nibbles.
  const void* data = nullptr;
  std::size_t stride_k = 0, stride_n = 0;
  ElementType b_type = ElementType::s8;      // s8, u8 or s4
  const std::int32_t* bias = nullptr;        // n values, or null for none
  const std::int32_t* zero_point = nullptr;  // weight zero point(s) in b_type's range, or null for 0
  bool zero_point_per_column = false;
  ElementType a_type = ElementType::s8;      // activation type the weights will meet
  std::int32_t a_zero_point = 0;

  // B stored K x N row-major (ONNX MatMul).
  static GemmS8WeightsDesc k_by_n(std::size_t k, std::size_t n, const std::int8_t* b, const std::int32_t* bias = nullptr) {
    GemmS8WeightsDesc d;
    d.k = k, d.n = n, d.data = b, d.stride_k = n, d.stride_n = 1, d.bias = bias;
    return d;
  }
  // B stored N x K row-major, i.e. one row per output channel (TFLite FullyConnected, OHWI conv).
  static GemmS8WeightsDesc n_by_k(std::size_t n, std::size_t k, const std::int8_t* b, const std::int32_t* bias = nullptr) {
    GemmS8WeightsDesc d;
    d.k = k, d.n = n, d.data = b, d.stride_k = 1, d.stride_n = k, d.bias = bias;
    return d;
  }
  // int4 B stored N x K row-major as packed nibbles (TFLite FullyConnected with 4-bit weights:
  // N * K nibbles, (N * K + 1) / 2 bytes).
  static GemmS8WeightsDesc n_by_k_s4(std::size_t n, std::size_t k, const std::uint8_t* packed, const std::int32_t* bias = nullptr) {
    GemmS8WeightsDesc d;
    d.k = k, d.n = n, d.data = packed, d.stride_k = 1, d.stride_n = k, d.bias = bias, d.b_type = ElementType::s4;
    return d;
  }
};

namespace detail {
constexpr std::size_t kPackAlign = 64;
// Element `index` of a weight or activation array of type t (s4: nibble `index`, see
// GemmS8WeightsDesc::data).
inline std::int32_t element_value(const void* p, std::size_t index, ElementType t) noexcept {
  if (t == ElementType::s4) {
    const std::uint8_t byte = static_cast<const std::uint8_t*>(p)[index / 2];
    const std::uint32_t nibble = (index & 1u) != 0 ? byte >> 4 : byte & 0x0Fu;
    return static_cast<std::int32_t>(nibble ^ 8u) - 8;  // sign-extends the nibble
  }
  const std::uint8_t raw = static_cast<const std::uint8_t*>(p)[index];
  return t == ElementType::s8 ? static_cast<std::int32_t>(static_cast<std::int8_t>(raw)) : static_cast<std::int32_t>(raw);
}
inline std::int32_t type_lo(ElementType t) noexcept { return element_type_min(t); }
inline std::int32_t type_hi(ElementType t) noexcept { return element_type_max(t); }
// The kernel family that packs weights of type b_type for isa (null: none in this build).
inline const kernels::GemmS8Kernel* gemm_kernel_for(Isa isa, ElementType b_type) noexcept {
  return b_type == ElementType::s4 ? kernels::gemm_s4_kernel_for(isa) : kernels::gemm_s8_kernel_for(isa);
}
}  // namespace detail

// Packed int8 (or int4) weights. Movable, not copyable; owns its memory unless packed into a
// caller buffer.
class GemmS8Weights {
 public:
  GemmS8Weights() = default;
  GemmS8Weights(GemmS8Weights&&) = default;
  GemmS8Weights& operator=(GemmS8Weights&&) = default;

  // Bytes pack_into() needs for `desc` with the kernel of `isa`.
  static Status packed_size(const GemmS8WeightsDesc& desc, Isa isa, std::size_t* bytes) noexcept {
    if (bytes == nullptr) return Status(StatusCode::null_pointer, "packed_size: null output");
    const kernels::GemmS8Kernel* kernel = detail::gemm_kernel_for(isa, desc.b_type);
    if (kernel == nullptr || !isa_supported(isa))
      return Status(StatusCode::unsupported, "gemm weights: ISA not supported by this CPU/build", "isa", static_cast<int>(isa));
    Sizes s;
    QK_RETURN_IF_ERROR(compute_sizes(desc.k, desc.n, kernel->layout, &s));
    *bytes = s.total;
    return Status::success();
  }

  // Packs with the kernel of active_isa(), into memory this object owns.
  Status pack(const GemmS8WeightsDesc& desc) noexcept { return pack(desc, active_isa()); }
  Status pack(const GemmS8WeightsDesc& desc, Isa isa) noexcept {
    std::size_t bytes = 0;
    QK_RETURN_IF_ERROR(packed_size(desc, isa, &bytes));
    QK_RETURN_IF_ERROR(validate(desc));
    std::size_t with_align = 0;
    if (!detail::checked_add(bytes, detail::kPackAlign, &with_align))
      return Status(StatusCode::size_overflow, "gemm weights: packed size plus alignment overflows size_t", "bytes", bytes);
    // new (std::nothrow): this function is noexcept, so a throwing new would terminate the
    // program on out-of-memory (and abort under -fno-exceptions); this returns a status.
    std::unique_ptr<std::uint8_t[]> storage(new (std::nothrow) std::uint8_t[with_align]);
    if (storage == nullptr)
      return Status(StatusCode::out_of_memory, "gemm weights: allocation of the packed weights failed", "bytes", with_align);
    void* aligned = align(storage.get());
    QK_RETURN_IF_ERROR(pack_into(desc, isa, aligned, bytes));
    owned_ = std::move(storage);
    return Status::success();
  }
  // Packs into caller memory (at least packed_size() bytes, 4-byte aligned at least: the column
  // constants in it are int32; 64-byte alignment recommended),
  // which must outlive this object. Embedded users keep weights in static buffers this way.
  Status pack_into(const GemmS8WeightsDesc& desc, Isa isa, void* buffer, std::size_t buffer_bytes) noexcept {
    std::size_t bytes = 0;
    QK_RETURN_IF_ERROR(packed_size(desc, isa, &bytes));
    QK_RETURN_IF_ERROR(validate(desc));
    if (buffer == nullptr) return Status(StatusCode::null_pointer, "pack_into: null buffer");
    if (buffer_bytes < bytes)
      return Status(StatusCode::buffer_too_small, "gemm weights: pack_into buffer smaller than packed_size()", "buffer_bytes",
                    buffer_bytes);
    kernel_ = detail::gemm_kernel_for(isa, desc.b_type);
    owned_.reset();
    (void)compute_sizes(desc.k, desc.n, kernel_->layout, &sizes_);  // succeeded in packed_size()
    k_ = desc.k;
    n_ = desc.n;
    a_type_ = desc.a_type;
    b_type_ = desc.b_type;
    base_ = static_cast<std::uint8_t*>(buffer);
    write_panels(desc);
    write_column_constants(desc);
    return Status::success();
  }

  // Re-folds the activation zero point (dynamic quantization) without repacking B: O(N).
  Status set_activation_zero_point(std::int32_t za) noexcept {
    if (!packed()) return Status(StatusCode::invalid_argument, "set_activation_zero_point: weights not packed");
    if (za < detail::type_lo(a_type_) || za > detail::type_hi(a_type_))
      return Status(StatusCode::invalid_argument, "set_activation_zero_point: zero point outside the activation type", "za", za);
    fold_column_offsets(za);
    return Status::success();
  }

  bool packed() const noexcept { return kernel_ != nullptr; }
  Isa isa() const noexcept { return kernel_ != nullptr ? kernel_->isa : Isa::scalar; }
  std::size_t k() const noexcept { return k_; }
  std::size_t n() const noexcept { return n_; }
  ElementType activation_type() const noexcept { return a_type_; }
  ElementType weight_type() const noexcept { return b_type_; }
  std::int32_t activation_zero_point() const noexcept { return za_; }
  bool has_weight_zero_point() const noexcept { return has_zb_; }
  // True when the result has a row term -(zb + weight offset) * rowsum(A): a weight zero point,
  // or s8 activations on a family with a weight offset (int8 VNNI's B + 128, x86 int4's + 8).
  bool needs_row_sums() const noexcept { return row_term_; }
  // True when every column's row-term coefficient is the same (see GemmS8Args::row_term_uniform).
  bool row_term_uniform() const noexcept { return row_term_uniform_; }
  std::size_t packed_bytes() const noexcept { return packed() ? sizes_.total : 0; }
  const kernels::GemmS8Kernel& kernel() const noexcept { return *kernel_; }

  // Internal views for the driver.
  const std::uint8_t* panels() const noexcept { return base_; }
  std::size_t panel_bytes() const noexcept { return sizes_.panel; }
  const std::int32_t* col_offset() const noexcept { return int32_at(sizes_.col_offset_at); }
  // Row-term coefficients (zb + weight offset), or null when there is no row term.
  const std::int32_t* col_zero_point() const noexcept { return row_term_ ? int32_at(sizes_.zb_at) : nullptr; }

 private:
  struct Sizes {
    std::size_t panels = 0, panel = 0, padded_n = 0;
    // Column blocks after the panels: folded offsets, column sums, zero points, bias.
    std::size_t col_offset_at = 0, colsum_at = 0, zb_at = 0, bias_at = 0, total = 0;
  };

  static void* align(void* p) noexcept {
    const auto v = reinterpret_cast<std::uintptr_t>(p);
    return reinterpret_cast<void*>((v + detail::kPackAlign - 1) / detail::kPackAlign * detail::kPackAlign);
  }

  static Status compute_sizes(std::size_t k, std::size_t n, const kernels::GemmS8Layout& l, Sizes* s) noexcept {
    if (k == 0) return Status(StatusCode::bad_shape, "gemm weights: K must be > 0", "k", k);
    if (n == 0) return Status(StatusCode::bad_shape, "gemm weights: N must be > 0", "n", n);
    if (k > kMaxGemmK)
      return Status(StatusCode::size_overflow, "gemm weights: K above 8421504 (INT32_MAX / 255): int32 row and column sums would overflow",
                    "k", k);
    // Every step checked: a wrapped size would be a short allocation (or pack_into buffer).
    std::size_t panels = 0, padded_n = 0, k_pad = 0, bytes = 0, panel = 0, total = 0, col_bytes = 0, end = 0;
    panels = detail::div_up(n, l.panel_width);
    if (!detail::checked_mul(panels, l.panel_width, &padded_n))
      return Status(StatusCode::size_overflow, "gemm weights: N rounded up to whole panels overflows size_t", "n", n);
    // int4 layouts (b_nibbles): K in pairs of groups, two elements a byte.
    const std::size_t k_step = l.b_nibbles != 0 ? 2 * std::size_t{l.k_group} : l.k_group;
    if (!detail::checked_round_up(k, k_step, &k_pad) || !detail::checked_mul3(k_pad, l.panel_width, l.elem_bytes, &bytes) ||
        !detail::checked_round_up(l.b_nibbles != 0 ? bytes / 2 : bytes, detail::kPackAlign, &panel))
      return Status(StatusCode::size_overflow, "gemm weights: packed panel size overflows size_t", "k", k);
    if (!detail::checked_mul(panel, panels, &total) || !detail::checked_mul(padded_n, sizeof(std::int32_t), &col_bytes) ||
        !detail::checked_round_up(col_bytes, detail::kPackAlign, &col_bytes) || !detail::checked_mul(col_bytes, 4, &end) ||
        !detail::checked_add(total, end, &end) || end > std::numeric_limits<std::size_t>::max() - detail::kPackAlign)
      return Status(StatusCode::size_overflow, "gemm weights: packed size overflows size_t", "n", n);
    s->panels = panels;
    s->padded_n = padded_n;
    s->panel = panel;
    // Column blocks after the panels: folded offsets, column sums, zero points, bias.
    s->col_offset_at = total;
    s->colsum_at = total + col_bytes;
    s->zb_at = total + 2 * col_bytes;
    s->bias_at = total + 3 * col_bytes;
    s->total = end;  // (pack() adds kPackAlign: checked to fit above)
    return Status::success();
  }

  static Status validate(const GemmS8WeightsDesc& d) noexcept {
    if (d.data == nullptr) return Status(StatusCode::null_pointer, "gemm weights: null B");
    if (!detail::valid_weight_type(d.b_type))
      return Status(StatusCode::invalid_argument, "gemm weights: unknown b_type", "b_type", static_cast<int>(d.b_type));
    if (!detail::valid_element_type(d.a_type))
      return Status(StatusCode::invalid_argument, "gemm weights: unknown a_type", "a_type", static_cast<int>(d.a_type));
    if (d.stride_k == 0 && d.k > 1) return Status(StatusCode::bad_shape, "gemm weights: stride_k is 0 with K > 1", "k", d.k);
    if (d.stride_n == 0 && d.n > 1) return Status(StatusCode::bad_shape, "gemm weights: stride_n is 0 with N > 1", "n", d.n);
    std::size_t last = 0, t = 0;  // index of B[k-1][n-1] must be representable
    if (!detail::checked_mul(d.k - 1, d.stride_k, &last) || !detail::checked_mul(d.n - 1, d.stride_n, &t) ||
        !detail::checked_add(last, t, &last))
      return Status(StatusCode::size_overflow, "gemm weights: B extent (K - 1) * stride_k + (N - 1) * stride_n overflows",
                    "stride_k", d.stride_k);
    if (d.a_zero_point < detail::type_lo(d.a_type) || d.a_zero_point > detail::type_hi(d.a_type))
      return Status(StatusCode::invalid_argument, "gemm weights: activation zero point outside the activation type",
                    "a_zero_point", d.a_zero_point);
    if (d.zero_point != nullptr) {
      const std::size_t count = d.zero_point_per_column ? d.n : 1;
      for (std::size_t i = 0; i < count; ++i)
        if (d.zero_point[i] < detail::type_lo(d.b_type) || d.zero_point[i] > detail::type_hi(d.b_type))
          return Status(StatusCode::invalid_argument, "gemm weights: weight zero point outside the weight type",
                        "zero_point", d.zero_point[i]);
    }
    return Status::success();
  }

  // Packed B holds int8 values; uint8 weights are stored as B - 128 with the zero point moved by
  // -128 too, which leaves every (B - zb) unchanged. int4 weights are stored as they are.
  std::int32_t stored_weight(const GemmS8WeightsDesc& d, std::size_t kk, std::size_t nn) const noexcept {
    const std::int32_t v = detail::element_value(d.data, kk * d.stride_k + nn * d.stride_n, d.b_type);
    return d.b_type == ElementType::u8 ? v - 128 : v;
  }
  std::int32_t stored_zero_point(const GemmS8WeightsDesc& d, std::size_t nn) const noexcept {
    const std::int32_t z = d.zero_point == nullptr ? 0 : d.zero_point[d.zero_point_per_column ? nn : 0];
    return d.b_type == ElementType::u8 ? z - 128 : z;
  }

  // Added to every packed weight (and to the row-term coefficient) when the kernel takes s8
  // activations as its signed operand (see gemm_s8_contract.hpp).
  std::int32_t weight_offset() const noexcept {
    return a_type_ == ElementType::s8 ? kernel_->layout.s8_weight_offset : 0;
  }

  void write_panels(const GemmS8WeightsDesc& d) noexcept {
    const kernels::GemmS8Layout& l = kernel_->layout;
    if (l.b_nibbles != 0) {
      write_nibble_panels(d);
      return;
    }
    const std::int32_t offset = weight_offset();
    const std::size_t kgroups = detail::div_up(k_, l.k_group);
    for (std::size_t p = 0; p < sizes_.panels; ++p) {
      std::uint8_t* panel = base_ + p * sizes_.panel;
      std::memset(panel, 0, sizes_.panel);
      for (std::size_t g = 0; g < kgroups; ++g)
        for (std::size_t j = 0; j < l.panel_width; ++j) {
          const std::size_t nn = p * l.panel_width + j;
          if (nn >= n_) continue;
          for (std::size_t r = 0; r < l.k_group; ++r) {
            const std::size_t kk = g * l.k_group + r;
            if (kk >= k_) break;
            const std::int32_t v = stored_weight(d, kk, nn) + offset;
            const std::size_t idx = (g * l.panel_width + j) * l.k_group + r;
            if (l.elem_bytes == 1) {
              panel[idx] = static_cast<std::uint8_t>(v);  // int8, or uint8 with the weight offset
            } else {
              const auto w16 = static_cast<std::int16_t>(v);
              std::memcpy(panel + 2 * idx, &w16, 2);
            }
          }
        }
    }
  }

  // int4 layouts (gemm_s8_contract.hpp, b_nibbles): nibble = stored weight + 8 (0..15), K group
  // 2q in the low nibbles of block q and group 2q + 1 in its high nibbles; padding nibbles 0.
  // The kernel applies the weight offset itself (it multiplies by nibble - 8 + offset).
  void write_nibble_panels(const GemmS8WeightsDesc& d) noexcept {
    const kernels::GemmS8Layout& l = kernel_->layout;
    const std::size_t kg = l.k_group, pw = l.panel_width, kgroups = detail::div_up(k_, kg);
    for (std::size_t p = 0; p < sizes_.panels; ++p) {
      std::uint8_t* panel = base_ + p * sizes_.panel;
      std::memset(panel, 0, sizes_.panel);
      for (std::size_t g = 0; g < kgroups; ++g) {
        std::uint8_t* block = panel + (g / 2) * pw * kg;
        const unsigned shift = (g & 1u) != 0 ? 4u : 0u;
        for (std::size_t j = 0; j < pw; ++j) {
          const std::size_t nn = p * pw + j;
          if (nn >= n_) continue;
          for (std::size_t r = 0; r < kg && g * kg + r < k_; ++r) {
            const auto u = static_cast<std::uint32_t>(stored_weight(d, g * kg + r, nn) + 8);
            block[j * kg + r] = static_cast<std::uint8_t>(block[j * kg + r] | (u << shift));
          }
        }
      }
    }
  }

  void write_column_constants(const GemmS8WeightsDesc& d) noexcept {
    std::int32_t* colsum = int32_at(sizes_.colsum_at);
    std::int32_t* zb = int32_at(sizes_.zb_at);
    std::int32_t* bias = int32_at(sizes_.bias_at);  // kept so that offsets can be re-folded for a new za
    has_zb_ = false;
    row_term_ = false;
    for (std::size_t nn = 0; nn < sizes_.padded_n; ++nn) {
      std::int32_t s = 0, z = 0, b = 0;
      if (nn < n_) {
        for (std::size_t kk = 0; kk < k_; ++kk) s += stored_weight(d, kk, nn);
        z = stored_zero_point(d, nn);
        b = d.bias != nullptr ? d.bias[nn] : 0;
      }
      colsum[nn] = s;
      has_zb_ = has_zb_ || z != 0;
      if (nn < n_) z += weight_offset();
      zb[nn] = z;
      row_term_ = row_term_ || z != 0;
      bias[nn] = b;
    }
    row_term_uniform_ = true;
    for (std::size_t nn = 1; nn < n_; ++nn) row_term_uniform_ = row_term_uniform_ && zb[nn] == zb[0];
    fold_column_offsets(d.a_zero_point);
  }

  // col_offset = bias - (za + activation offset) * colsum + K * za * zb, wrapping. The stored
  // row-term coefficient holds zb + weight offset on real columns; K * za * zb needs zb alone.
  void fold_column_offsets(std::int32_t za) noexcept {
    za_ = za;
    const std::int32_t* colsum = int32_at(sizes_.colsum_at);
    const std::int32_t* zb = int32_at(sizes_.zb_at);
    const std::int32_t* bias = int32_at(sizes_.bias_at);
    std::int32_t* off = int32_at(sizes_.col_offset_at);
    const kernels::GemmS8Layout& l = kernel_->layout;
    const std::uint32_t a_off = static_cast<std::uint32_t>(za) +
                                static_cast<std::uint32_t>(a_type_ == ElementType::s8 ? l.s8_activation_offset
                                                                                      : l.u8_activation_offset);
    for (std::size_t nn = 0; nn < sizes_.padded_n; ++nn) {
      const std::int32_t zb_only = nn < n_ ? zb[nn] - weight_offset() : zb[nn];
      const std::uint32_t v = static_cast<std::uint32_t>(bias[nn]) - a_off * static_cast<std::uint32_t>(colsum[nn]) +
                              static_cast<std::uint32_t>(k_) * static_cast<std::uint32_t>(za) * static_cast<std::uint32_t>(zb_only);
      off[nn] = static_cast<std::int32_t>(v);
    }
  }

  std::int32_t* int32_at(std::size_t offset) const noexcept {
    return reinterpret_cast<std::int32_t*>(base_ + offset);
  }

  const kernels::GemmS8Kernel* kernel_ = nullptr;
  std::unique_ptr<std::uint8_t[]> owned_;
  std::uint8_t* base_ = nullptr;
  Sizes sizes_;
  std::size_t k_ = 0, n_ = 0;
  ElementType a_type_ = ElementType::s8;
  ElementType b_type_ = ElementType::s8;
  std::int32_t za_ = 0;
  bool has_zb_ = false;     // some weight zero point is non-zero
  bool row_term_ = false;   // some row-term coefficient is non-zero
  bool row_term_uniform_ = false;
};


namespace detail {

struct GemmS8Job {
  kernels::GemmS8Args args;
  const kernels::GemmS8Kernel* kernel = nullptr;
  std::size_t panels = 0;
  std::size_t groups = 0;      // panel groups, balanced sizes <= layout.max_panels
  std::size_t row_block = 0;   // rows per block (a multiple of every family's row tile)
};

// Most rows a block may have: its row sums live in a stack array of this size.
constexpr std::size_t kGemmMaxRowBlock = 512;

// Rows per block for a GEMM whose A rows are row_bytes apart: about 256 KiB of A (half of a
// Zen 5 / Skylake-SP L2), 8 to 512 rows, a multiple of 8 (every family's row tile divides 8 or
// runs its remainder tiles at the end); with threads and few panel groups, smaller, so that
// every thread gets at least four units, and blocks of equal size (to a multiple of 8): threads
// take contiguous runs of units, so with 196 rows in blocks of 112 + 84 one thread had 57% of
// the work (196x256x2304: 1.75x at most; 104 + 92 instead).
inline std::size_t gemm_row_block(std::size_t m, std::size_t row_bytes, std::size_t groups, std::size_t threads) noexcept {
  std::size_t rows = (std::size_t{256} << 10) / (row_bytes == 0 ? 1 : row_bytes);
  rows = rows < 8 ? 8 : (rows > kGemmMaxRowBlock ? kGemmMaxRowBlock : rows / 8 * 8);
  while (threads > 1 && rows > 16 && div_up(m, rows) * groups < 4 * threads) rows = rows / 2 / 8 * 8;
  if (threads > 1 && m > rows) {
    const std::size_t balanced = div_up(div_up(m, div_up(m, rows)), 8) * 8;  // <= rows: same block count
    if (balanced < rows) rows = balanced;
  }
  return rows;
}

// Runs units [0, count) serially or on the executor.
inline void run_units(Executor* executor, std::size_t count, Executor::Task task, void* job) {
  if (executor == nullptr || executor->concurrency() <= 1)
    task(job, 0, count);
  else
    executor->parallel_for(count, 1, task, job);
}

// Work unit u is (row block u / groups, panel group u % groups): row blocks outer, so a block of
// A (sized for L2) is reused by every panel group while B streams through, and its row sums are
// computed once per block. Panel group g covers panels [g * P / G, (g + 1) * P / G): sizes
// differ by at most one, so a 4-panel N with 3-panel tiles runs as 2 + 2 rather than 3 + 1.
inline void gemm_s8_units(void* context, std::size_t begin, std::size_t end) {
  const auto& job = *static_cast<const GemmS8Job*>(context);
  kernels::GemmS8Args args = job.args;
  std::int32_t sums[kGemmMaxRowBlock] = {};
  const bool own_sums = args.col_zero_point != nullptr;
  std::size_t summed_block = static_cast<std::size_t>(-1);
  for (std::size_t u = begin; u < end; ++u) {
    const std::size_t block = u / job.groups, g = u % job.groups;
    const std::size_t m0 = block * job.row_block;
    const std::size_t m1 = m0 + job.row_block < job.args.m ? m0 + job.row_block : job.args.m;
    const std::size_t p0 = g * job.panels / job.groups, p1 = (g + 1) * job.panels / job.groups;
    // The block's first panel group in this range computes the row sums inside its tiles
    // (row_sum_out); the following groups read them back.
    const bool first_of_block = own_sums && block != summed_block;
    summed_block = own_sums ? block : summed_block;
    // The tile function sees the block as rows [0, m1 - m0): A, C and the row sums rebased.
    args.a = job.args.a + m0 * args.lda;
    args.c = job.args.c + m0 * args.ldc_bytes;
    args.m = m1 - m0;
    args.row_sum = own_sums ? sums : nullptr;
    args.row_sum_out = first_of_block ? sums : nullptr;
    if (m0 < m1 && p0 < p1) job.kernel->run(args, 0, m1 - m0, p0, p1);
  }
}

}  // namespace detail

// C = output_stage(A * B): m rows of A (lda elements apart), C rows ldc elements apart.
// Validates everything first; on error nothing is written.
inline Status gemm_s8(const GemmS8Weights& w, std::size_t m, const void* a, std::size_t lda, const OutputStage& out,
                      void* c, std::size_t ldc, Executor* executor = nullptr) noexcept {
  if (!w.packed()) return Status(StatusCode::invalid_argument, "gemm_s8: weights not packed");
  if (!isa_supported(w.isa()))
    return Status(StatusCode::unsupported, "gemm_s8: weights packed for an ISA this CPU lacks", "isa", static_cast<int>(w.isa()));
  QK_RETURN_IF_ERROR(detail::validate_output_stage(out, w.n()));
  if (m == 0) return Status::success();
  if (a == nullptr) return Status(StatusCode::null_pointer, "gemm_s8: null A");
  if (c == nullptr) return Status(StatusCode::null_pointer, "gemm_s8: null C");
  if (lda < w.k()) return Status(StatusCode::bad_shape, "gemm_s8: lda < K", "lda", lda);
  if (ldc < w.n()) return Status(StatusCode::bad_shape, "gemm_s8: ldc < N", "ldc", ldc);
  const std::size_t esize = output_type_size(out.type);
  std::size_t extent = 0, c_row_bytes = 0;
  if (!detail::checked_mul(m, lda, &extent) || !detail::checked_mul(ldc, esize, &c_row_bytes) ||
      !detail::checked_mul(m, c_row_bytes, &extent))
    return Status(StatusCode::size_overflow, "gemm_s8: A or C extent (m * lda, m * ldc * element size) overflows", "m", m);

  const kernels::GemmS8Kernel& kernel = w.kernel();
  detail::GemmS8Job job;
  job.args.m = m;
  job.args.n = w.n();
  job.args.k = w.k();
  job.args.a = static_cast<const std::uint8_t*>(a);
  job.args.lda = lda;
  job.args.a_signed = w.activation_type() == ElementType::s8;
  job.args.packed_b = w.panels();
  job.args.panel_bytes = w.panel_bytes();
  job.args.col_offset = w.col_offset();
  job.args.col_zero_point = w.col_zero_point();
  job.args.row_term_uniform = w.row_term_uniform();
  job.args.out = out;
  job.args.c = static_cast<std::uint8_t*>(c);
  job.args.ldc_bytes = c_row_bytes;
  job.kernel = &kernel;
  job.panels = detail::div_up(w.n(), kernel.layout.panel_width);
  job.groups = detail::div_up(job.panels, kernel.layout.max_panels);
  const std::size_t threads = executor != nullptr ? executor->concurrency() : 1;
  job.row_block = detail::gemm_row_block(m, lda, job.groups, threads);
  detail::run_units(executor, detail::div_up(m, job.row_block) * job.groups, &detail::gemm_s8_units, &job);
  return Status::success();
}


// ---------------------------------------------------------------------------------------------
// fp32 GEMM, same shape of interface: C = clamp(A * B + bias, lo, hi). For fp32 baselines and
// float layers. Results may differ from a naive loop in the last bits (summation order), and
// differ between ISAs, as for any BLAS.

struct GemmF32WeightsDesc {
  std::size_t k = 0, n = 0;
  const float* data = nullptr;  // B[k][n] at data[k * stride_k + n * stride_n]
  std::size_t stride_k = 0, stride_n = 0;
  const float* bias = nullptr;  // n values or null

  static GemmF32WeightsDesc k_by_n(std::size_t k, std::size_t n, const float* b, const float* bias = nullptr) {
    GemmF32WeightsDesc d;
    d.k = k, d.n = n, d.data = b, d.stride_k = n, d.stride_n = 1, d.bias = bias;
    return d;
  }
  static GemmF32WeightsDesc n_by_k(std::size_t n, std::size_t k, const float* b, const float* bias = nullptr) {
    GemmF32WeightsDesc d;
    d.k = k, d.n = n, d.data = b, d.stride_k = 1, d.stride_n = k, d.bias = bias;
    return d;
  }
};

class GemmF32Weights {
 public:
  Status pack(const GemmF32WeightsDesc& d) noexcept { return pack(d, active_isa()); }
  Status pack(const GemmF32WeightsDesc& d, Isa isa) noexcept {
    const kernels::GemmF32Kernel* kernel = kernels::gemm_f32_kernel_for(isa);
    if (!isa_supported(isa) || kernel == nullptr)
      return Status(StatusCode::unsupported, "gemm_f32 pack: ISA not supported by this CPU/build", "isa", static_cast<int>(isa));
    if (d.data == nullptr) return Status(StatusCode::null_pointer, "gemm_f32 pack: null B");
    if (d.k == 0) return Status(StatusCode::bad_shape, "gemm_f32 pack: K must be > 0", "k", d.k);
    if (d.n == 0) return Status(StatusCode::bad_shape, "gemm_f32 pack: N must be > 0", "n", d.n);
    const std::size_t panels = detail::div_up(d.n, kernel->panel_width);
    std::size_t panel_floats = 0, total = 0, padded_n = 0, last = 0, t = 0;
    if (!detail::checked_mul(d.k, kernel->panel_width, &panel_floats) || !detail::checked_mul(panel_floats, panels, &total) ||
        !detail::checked_mul(panels, kernel->panel_width, &padded_n) || !detail::checked_add(total, padded_n, &total) ||
        total > std::numeric_limits<std::size_t>::max() / sizeof(float))
      return Status(StatusCode::size_overflow, "gemm_f32 pack: packed size overflows size_t", "k", d.k);
    if (!detail::checked_mul(d.k - 1, d.stride_k, &last) || !detail::checked_mul(d.n - 1, d.stride_n, &t) ||
        !detail::checked_add(last, t, &last))
      return Status(StatusCode::size_overflow, "gemm_f32 pack: B extent (K - 1) * stride_k + (N - 1) * stride_n overflows",
                    "stride_k", d.stride_k);
    for (std::size_t i = 0; d.bias != nullptr && i < d.n; ++i)
      if (std::isnan(d.bias[i])) return Status(StatusCode::invalid_argument, "gemm_f32 pack: NaN bias", "bias index", i);
    // new (std::nothrow): see GemmS8Weights::pack.
    std::unique_ptr<float[]> storage(new (std::nothrow) float[total]);
    if (storage == nullptr)
      return Status(StatusCode::out_of_memory, "gemm_f32 pack: allocation of the packed weights failed", "floats", total);
    float* panel = storage.get();
    for (std::size_t p = 0; p < panels; ++p)
      for (std::size_t kk = 0; kk < d.k; ++kk)
        for (std::size_t j = 0; j < kernel->panel_width; ++j) {
          const std::size_t nn = p * kernel->panel_width + j;
          *panel++ = nn < d.n ? d.data[kk * d.stride_k + nn * d.stride_n] : 0.0f;
        }
    for (std::size_t nn = 0; nn < panels * kernel->panel_width; ++nn)
      *panel++ = nn < d.n && d.bias != nullptr ? d.bias[nn] : 0.0f;
    storage_ = std::move(storage);
    kernel_ = kernel;
    k_ = d.k;
    n_ = d.n;
    panel_stride_ = panel_floats;
    bias_ = storage_.get() + panel_floats * panels;
    return Status::success();
  }
  bool packed() const noexcept { return kernel_ != nullptr; }
  Isa isa() const noexcept { return kernel_ != nullptr ? kernel_->isa : Isa::scalar; }
  std::size_t k() const noexcept { return k_; }
  std::size_t n() const noexcept { return n_; }
  const kernels::GemmF32Kernel& kernel() const noexcept { return *kernel_; }
  const float* panels() const noexcept { return storage_.get(); }
  std::size_t panel_stride() const noexcept { return panel_stride_; }
  const float* bias() const noexcept { return bias_; }

 private:
  const kernels::GemmF32Kernel* kernel_ = nullptr;
  std::unique_ptr<float[]> storage_;
  const float* bias_ = nullptr;
  std::size_t k_ = 0, n_ = 0, panel_stride_ = 0;
};

namespace detail {
struct GemmF32Job {
  kernels::GemmF32Args args;
  kernels::GemmF32TileFn run = nullptr;
  std::size_t panels = 0, groups = 0, row_block = 0;
};
inline void gemm_f32_units(void* context, std::size_t begin, std::size_t end) {
  const auto& job = *static_cast<const GemmF32Job*>(context);
  for (std::size_t u = begin; u < end; ++u) {
    const std::size_t block = u / job.groups, g = u % job.groups;
    const std::size_t m0 = block * job.row_block;
    const std::size_t m1 = m0 + job.row_block < job.args.m ? m0 + job.row_block : job.args.m;
    const std::size_t p0 = g * job.panels / job.groups, p1 = (g + 1) * job.panels / job.groups;
    if (m0 < m1 && p0 < p1) job.run(job.args, m0, m1, p0, p1);
  }
}
// The job of one fp32 GEMM: panel groups of balanced sizes up to the kernel's widest tile, all
// of M in one row block (callers that thread it set row_block). ConvF32 runs its per-row GEMMs
// through it as well, so that the split is written once.
inline GemmF32Job gemm_f32_job(const kernels::GemmF32Kernel& kernel, const kernels::GemmF32Args& args) noexcept {
  GemmF32Job job;
  job.args = args;
  job.run = kernel.run;
  job.panels = div_up(args.n, kernel.panel_width);
  job.groups = div_up(job.panels, kernel.max_panels);
  job.row_block = args.m;
  return job;
}
}  // namespace detail

inline Status gemm_f32(const GemmF32Weights& w, std::size_t m, const float* a, std::size_t lda, float* c, std::size_t ldc,
                       float lo = -std::numeric_limits<float>::infinity(),
                       float hi = std::numeric_limits<float>::infinity(), Executor* executor = nullptr) noexcept {
  if (!w.packed()) return Status(StatusCode::invalid_argument, "gemm_f32: weights not packed");
  if (!isa_supported(w.isa()))
    return Status(StatusCode::unsupported, "gemm_f32: weights packed for an ISA this CPU lacks", "isa", static_cast<int>(w.isa()));
  if (std::isnan(lo) || lo > hi) return Status(StatusCode::invalid_argument, "gemm_f32: clamp lo is NaN or above hi", "lo", lo);
  if (std::isnan(hi)) return Status(StatusCode::invalid_argument, "gemm_f32: clamp hi is NaN", "hi", hi);
  if (m == 0) return Status::success();
  if (a == nullptr || c == nullptr) return Status(StatusCode::null_pointer, "gemm_f32: null A or C");
  if (lda < w.k()) return Status(StatusCode::bad_shape, "gemm_f32: lda < K", "lda", lda);
  if (ldc < w.n()) return Status(StatusCode::bad_shape, "gemm_f32: ldc < N", "ldc", ldc);
  std::size_t extent = 0;
  if (!detail::checked_mul(m, lda, &extent) || !detail::checked_mul(m, ldc, &extent) ||
      extent > (std::numeric_limits<std::size_t>::max() >> 2))
    return Status(StatusCode::size_overflow, "gemm_f32: A or C extent (m * lda, m * ldc floats) overflows", "m", m);
  const kernels::GemmF32Kernel& kernel = w.kernel();
  detail::GemmF32Job job = detail::gemm_f32_job(
      kernel, kernels::GemmF32Args{m, w.n(), w.k(), a, lda, w.panels(), w.panel_stride(), w.bias(), lo, hi, c, ldc, 0, 0, 0, 0, 0});
  const std::size_t threads = executor != nullptr ? executor->concurrency() : 1;
  job.row_block = detail::gemm_row_block(m, 4 * lda, job.groups, threads);
  detail::run_units(executor, detail::div_up(m, job.row_block) * job.groups, &detail::gemm_f32_units, &job);
  return Status::success();
}

}  // namespace qk
