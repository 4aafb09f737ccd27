// qk/conv.hpp - 2-D int8 convolution over NHWC activations, weights packed once per layer.
//
//   y[n][oy][ox][oc] = output_stage( sum_{ky,kx,c} (x[n][iy][ix][g*Cg + c] - zx) *
//                                                  (w[oc][ky][kx][c] - zw[oc]) + bias[oc] )
//   iy = oy * stride_h + ky * dilation_h - pad_top, ix likewise, g = oc / (Cout / groups);
//   taps outside the image read zx (contribute nothing).
//
// Activations int8 or uint8 (NHWC, batch given per call); weights int8, uint8 or int4
// (ElementType::s4: packed nibbles, element i of the layout in byte i / 2, low nibble first, as
// TFLite stores 4-bit filters) in OHWI (TFLite conv), OIHW (ONNX) or HWO (TFLite depthwise:
// [1][kh][kw][Cout]) with a weight zero point per tensor or per output channel; int32 bias; the
// output stage of qk/core/output_stage.hpp (TFLite fixed point, ONNX float, raw int32 for
// ConvInteger, dequantize) with a fused clamp. int4 layers run the GEMM paths on the ISA's int4
// family (nibbles expanded in registers, kernels/x86/gemm_s4_x86.hpp); the depthwise path
// expands int4 weights to its int8 / int16 layouts at packing (a few KB per layer).
//
//   qk::ConvS8Desc d;                       // shape, padding, weights, zero points, bias
//   d.in_h = 56, d.in_w = 56, d.in_c = 64, d.out_c = 64, d.kernel_h = d.kernel_w = 3;
//   d.set_same_padding();
//   d.weights = w; d.bias = b; d.input_zero_point = -3;
//   qk::ConvS8 layer;
//   QK_RETURN_IF_ERROR(layer.pack(d));      // allocates; done once per layer
//   std::size_t ws = 0;
//   QK_RETURN_IF_ERROR(qk::conv_s8_workspace_size(layer, batch, threads, &ws));
//   QK_RETURN_IF_ERROR(qk::conv_s8(layer, batch, x, out_stage, y, workspace, ws, executor));
//
// Three paths, chosen at packing (ConvS8::path()):
//  - pointwise: 1x1, stride 1, no padding, groups 1. The NHWC input *is* the GEMM's A
//    (M = N*H*W rows, K = Cin, lda = Cin): qk::gemm_s8 directly.
//  - gemm (everything else but depthwise): for each block of output pixels (a multiple of the
//    GEMM tile's rows, sized to stay in L1), the block's rows of the im2col matrix are gathered
//    into a per-thread workspace buffer (taps x Cg bytes each, padding taps filled with zx, K
//    padded with zx to the kernel's K group so the microkernel never takes its K-tail path), and
//    the layer's GemmS8Weights kernel runs over all panel groups of that block: row block outer,
//    panel groups inner, so the block stays in cache while the packed weights stream. Groups > 1
//    keep one GemmS8Weights per group. No full im2col matrix ever exists.
//  - depthwise: groups == Cin > 1 (Cout = Cin * multiplier): qk/kernels/depthwise_s8_contract.hpp,
//    one kernel per x86 family plus a portable one, one call per output row: the driver passes
//    kernel_h input-row pointers (a zero-point row in the padding; rows expanded to Cout channels
//    for a channel multiplier > 1), the kernel addresses interior taps from them.
// The kernel family is that of active_isa() when the layer is packed, as for GemmS8Weights.
//
// Running allocates nothing. Every entry point validates all of its inputs first and writes
// nothing on error. Results are identical for every Executor and thread count: the work is split
// into output-pixel blocks, each computed the same way wherever it runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "qk/core/checked.hpp"
#include "qk/core/isa.hpp"
#include "qk/core/output_stage.hpp"
#include "qk/core/status.hpp"
#include "qk/core/threading.hpp"
#include "qk/gemm.hpp"
#include "qk/kernels/depthwise_registry.hpp"

namespace qk {

enum class ConvWeightLayout : int {
  ohwi = 0,  // [Cout][kh][kw][Cin/groups]   TFLite Conv2D
  oihw,      // [Cout][Cin/groups][kh][kw]   ONNX Conv / QLinearConv / ConvInteger
  hwo,       // [kh][kw][Cout]               TFLite DepthwiseConv2D ([1][kh][kw][Cout]); groups == Cin
};

enum class ConvPath : int { pointwise = 0, gemm, depthwise };

constexpr const char* conv_path_name(ConvPath p) noexcept {
  return p == ConvPath::pointwise ? "pointwise" : p == ConvPath::gemm ? "gemm" : "depthwise";
}

// Padding of one spatial dimension.
struct ConvPad {
  std::size_t before = 0, after = 0;
};

// "same" padding as TFLite SAME and ONNX SAME_UPPER (extra_at_end = true) or SAME_LOWER:
// output = ceil(input / stride), total = max((out - 1) * stride + (k - 1) * dilation + 1 - input, 0).
// Returns false for a zero size, stride or dilation, or an input or dilated kernel of 2^62 or more.
inline bool conv_same_padding(std::size_t input, std::size_t kernel, std::size_t stride, std::size_t dilation,
                              bool extra_at_end, ConvPad* pad) noexcept {
  if (pad == nullptr || input == 0 || kernel == 0 || stride == 0 || dilation == 0) return false;
  // input and the dilated kernel below 2^62 each: needed (< input + extent) cannot wrap, and
  // out is ceil(input / stride) without the input + stride - 1 that wraps for huge strides.
  if (input > (std::numeric_limits<std::size_t>::max() >> 2)) return false;
  if (kernel - 1 > (std::numeric_limits<std::size_t>::max() >> 2) / dilation) return false;
  const std::size_t out = input / stride + (input % stride != 0 ? 1 : 0);
  const std::size_t needed = (out - 1) * stride + (kernel - 1) * dilation + 1;
  const std::size_t total = needed > input ? needed - input : 0;
  pad->before = extra_at_end ? total / 2 : total - total / 2;
  pad->after = total - pad->before;
  return true;
}

// What a convolution's shape is, independent of its element types: sizes, strides, dilations,
// padding, groups and the weights' layout. Shared by ConvS8Desc and ConvF32Desc (conv_f32.hpp).
struct ConvGeometry {
  std::size_t in_h = 0, in_w = 0, in_c = 0;  // one image; the batch is given per call
  std::size_t out_c = 0;
  std::size_t kernel_h = 0, kernel_w = 0;
  std::size_t stride_h = 1, stride_w = 1;
  std::size_t dilation_h = 1, dilation_w = 1;
  std::size_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::size_t groups = 1;  // Cin and Cout divisible by it; groups == Cin: depthwise
  ConvWeightLayout weight_layout = ConvWeightLayout::ohwi;

  // "same" (TFLite SAME / ONNX SAME_UPPER, or SAME_LOWER) from the shape, strides and dilations.
  Status set_same_padding(bool extra_at_end = true) noexcept {
    ConvPad h, w;
    if (!conv_same_padding(in_h, kernel_h, stride_h, dilation_h, extra_at_end, &h) ||
        !conv_same_padding(in_w, kernel_w, stride_w, dilation_w, extra_at_end, &w))
      return Status(StatusCode::bad_shape, "conv: same padding needs non-zero sizes, strides and dilations");
    pad_top = h.before, pad_bottom = h.after, pad_left = w.before, pad_right = w.after;
    return Status::success();
  }
  // "valid": no padding.
  void set_valid_padding() noexcept { pad_top = pad_bottom = pad_left = pad_right = 0; }

  // Output size along one dimension; 0 if the (dilated) kernel does not fit the padded input or
  // a parameter is 0 (validate() says which).
  static std::size_t output_size(std::size_t input, std::size_t pad_before, std::size_t pad_after, std::size_t kernel,
                                 std::size_t stride, std::size_t dilation) noexcept {
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max() >> 2;
    if (input == 0 || kernel == 0 || stride == 0 || dilation == 0) return 0;
    if (input > kMax || pad_before > kMax || pad_after > kMax || kernel - 1 > kMax / dilation) return 0;
    const std::size_t padded = input + pad_before + pad_after, extent = (kernel - 1) * dilation + 1;
    return extent > padded ? 0 : (padded - extent) / stride + 1;
  }
  std::size_t out_h() const noexcept { return output_size(in_h, pad_top, pad_bottom, kernel_h, stride_h, dilation_h); }
  std::size_t out_w() const noexcept { return output_size(in_w, pad_left, pad_right, kernel_w, stride_w, dilation_w); }
  // 1x1, stride 1, no padding, one group: the NHWC input is the GEMM's A as it is (both layers'
  // pointwise path).
  bool is_pointwise() const noexcept {
    return kernel_h == 1 && kernel_w == 1 && stride_h == 1 && stride_w == 1 && pad_top == 0 && pad_bottom == 0 &&
           pad_left == 0 && pad_right == 0 && groups == 1;
  }
};

struct ConvS8Desc : ConvGeometry {
  ElementType input_type = ElementType::s8;
  std::int32_t input_zero_point = 0;

  const void* weights = nullptr;                    // in weight_layout (s4: element i is nibble i)
  ElementType weight_type = ElementType::s8;        // s8, u8 or s4
  const std::int32_t* weight_zero_point = nullptr;  // null: 0
  bool weight_zero_point_per_channel = false;       // Cout values, else one
  const std::int32_t* bias = nullptr;               // Cout values, or null
};

namespace detail {

// Everything about the shape (conv_s8 and conv_f32 alike); not the weights pointer.
inline Status validate_conv_geometry(const ConvGeometry& d) noexcept {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max() >> 4;
  if (d.in_h == 0) return Status(StatusCode::bad_shape, "conv: in_h is 0", "in_h", d.in_h);
  if (d.in_w == 0) return Status(StatusCode::bad_shape, "conv: in_w is 0", "in_w", d.in_w);
  if (d.in_c == 0) return Status(StatusCode::bad_shape, "conv: in_c is 0", "in_c", d.in_c);
  if (d.out_c == 0) return Status(StatusCode::bad_shape, "conv: out_c is 0", "out_c", d.out_c);
  if (d.kernel_h == 0) return Status(StatusCode::bad_shape, "conv: kernel_h is 0", "kernel_h", d.kernel_h);
  if (d.kernel_w == 0) return Status(StatusCode::bad_shape, "conv: kernel_w is 0", "kernel_w", d.kernel_w);
  if (d.stride_h == 0) return Status(StatusCode::bad_shape, "conv: stride_h is 0", "stride_h", d.stride_h);
  if (d.stride_w == 0) return Status(StatusCode::bad_shape, "conv: stride_w is 0", "stride_w", d.stride_w);
  if (d.dilation_h == 0) return Status(StatusCode::bad_shape, "conv: dilation_h is 0", "dilation_h", d.dilation_h);
  if (d.dilation_w == 0) return Status(StatusCode::bad_shape, "conv: dilation_w is 0", "dilation_w", d.dilation_w);
  if (d.groups == 0) return Status(StatusCode::bad_shape, "conv: groups is 0", "groups", d.groups);
  if (d.weight_layout != ConvWeightLayout::ohwi && d.weight_layout != ConvWeightLayout::oihw &&
      d.weight_layout != ConvWeightLayout::hwo)
    return Status(StatusCode::invalid_argument, "conv: unknown weight_layout", "weight_layout", static_cast<int>(d.weight_layout));
  if (d.in_c % d.groups != 0 || d.out_c % d.groups != 0)
    return Status(StatusCode::bad_shape, "conv: groups does not divide the input and output channels", "groups", d.groups);
  const std::size_t params[] = {d.in_h,    d.in_w,       d.in_c,     d.out_c,     d.kernel_h,  d.kernel_w,   d.pad_top,
                                d.pad_bottom, d.pad_left, d.pad_right, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w};
  const char* const names[] = {"in_h",     "in_w",       "in_c",     "out_c",     "kernel_h",  "kernel_w",   "pad_top",
                               "pad_bottom", "pad_left", "pad_right", "stride_h", "stride_w", "dilation_h", "dilation_w"};
  for (std::size_t i = 0; i < sizeof params / sizeof params[0]; ++i)
    if (params[i] > kMax) return Status(StatusCode::size_overflow, "conv: a size or parameter is above SIZE_MAX / 16", names[i], params[i]);
  std::size_t t = 0;
  if (!checked_mul(d.kernel_h - 1, d.dilation_h, &t))
    return Status(StatusCode::size_overflow, "conv: dilated kernel extent (kernel_h - 1) * dilation_h overflows", "kernel_h", d.kernel_h);
  if (!checked_mul(d.kernel_w - 1, d.dilation_w, &t))
    return Status(StatusCode::size_overflow, "conv: dilated kernel extent (kernel_w - 1) * dilation_w overflows", "kernel_w", d.kernel_w);
  if (d.out_h() == 0)
    return Status(StatusCode::bad_shape, "conv: the (dilated) kernel is taller than the padded input", "kernel_h", d.kernel_h);
  if (d.out_w() == 0)
    return Status(StatusCode::bad_shape, "conv: the (dilated) kernel is wider than the padded input", "kernel_w", d.kernel_w);
  std::size_t taps = 0, k = 0, wcount = 0, pixel = 0, opixels = 0;
  if (!checked_mul(d.kernel_h, d.kernel_w, &taps) || !checked_mul(taps, d.in_c / d.groups, &k) || k > kMax || taps > kMax ||
      !checked_mul(k, d.out_c, &wcount))
    return Status(StatusCode::size_overflow, "conv: weight count kernel_h * kernel_w * in_c / groups * out_c overflows", "out_c",
                  d.out_c);
  if (!checked_mul3(d.in_h, d.in_w, d.in_c, &pixel))
    return Status(StatusCode::size_overflow, "conv: image size in_h * in_w * in_c overflows size_t", "in_w", d.in_w);
  if (!checked_mul3(d.out_h(), d.out_w(), d.out_c, &opixels))
    return Status(StatusCode::size_overflow, "conv: output size out_h * out_w * out_c overflows size_t", "out_c", d.out_c);
  if (d.weight_layout == ConvWeightLayout::hwo && d.groups != d.in_c)
    return Status(StatusCode::bad_shape, "conv: HWO (depthwise) weights need groups == input channels", "groups", d.groups);
  return Status::success();
}

inline Status validate_conv_desc(const ConvS8Desc& d) noexcept {
  if (d.weights == nullptr) return Status(StatusCode::null_pointer, "conv: null weights");
  QK_RETURN_IF_ERROR(validate_conv_geometry(d));
  if (!valid_element_type(d.input_type))
    return Status(StatusCode::invalid_argument, "conv: unknown input_type", "input_type", static_cast<int>(d.input_type));
  if (!valid_weight_type(d.weight_type))
    return Status(StatusCode::invalid_argument, "conv: unknown weight_type", "weight_type", static_cast<int>(d.weight_type));
  // The GEMM's K (and the depthwise taps) carry int32 row and column sums: see kMaxGemmK.
  const std::size_t k = d.kernel_h * d.kernel_w * (d.in_c / d.groups);  // validated above
  if (k > kMaxGemmK)
    return Status(StatusCode::size_overflow,
                  "conv: K = kernel_h * kernel_w * in_c / groups above 8421504 (INT32_MAX / 255): int32 sums would overflow", "K",
                  k);
  if (d.input_zero_point < type_lo(d.input_type) || d.input_zero_point > type_hi(d.input_type))
    return Status(StatusCode::invalid_argument, "conv: input zero point outside the input type", "input_zero_point",
                  d.input_zero_point);
  if (d.weight_zero_point != nullptr) {
    const std::size_t count = d.weight_zero_point_per_channel ? d.out_c : 1;
    for (std::size_t i = 0; i < count; ++i)
      if (d.weight_zero_point[i] < type_lo(d.weight_type) || d.weight_zero_point[i] > type_hi(d.weight_type))
        return Status(StatusCode::invalid_argument, "conv: weight zero point outside the weight type", "weight_zero_point",
                      d.weight_zero_point[i]);
  }
  return Status::success();
}

// Index of weight (oc, ky, kx, c) in the user's layout; c is the channel within the group.
inline std::size_t conv_weight_index(const ConvGeometry& d, std::size_t oc, std::size_t ky, std::size_t kx,
                                     std::size_t c) noexcept {
  const std::size_t cg = d.in_c / d.groups;
  switch (d.weight_layout) {
    case ConvWeightLayout::oihw: return ((oc * cg + c) * d.kernel_h + ky) * d.kernel_w + kx;
    case ConvWeightLayout::hwo: return (ky * d.kernel_w + kx) * d.out_c + oc;  // cg == 1
    default: return ((oc * d.kernel_h + ky) * d.kernel_w + kx) * cg + c;
  }
}

// Copies element si of src (type src_type) to element di of dst (type dst_type): bytes as they
// are, int4 to int4 as nibbles (dst's other nibble kept), int4 to int8 sign-extended.
inline void copy_weight_element(void* dst, std::size_t di, ElementType dst_type, const void* src, std::size_t si,
                                ElementType src_type) noexcept {
  auto* out = static_cast<std::uint8_t*>(dst);
  if (dst_type != ElementType::s4) {
    out[di] = src_type == ElementType::s4 ? static_cast<std::uint8_t>(element_value(src, si, src_type))
                                          : static_cast<const std::uint8_t*>(src)[si];
    return;
  }
  const auto nibble = static_cast<std::uint32_t>(element_value(src, si, src_type)) & 0x0Fu;
  const unsigned shift = (di & 1u) != 0 ? 4u : 0u;
  out[di / 2] = static_cast<std::uint8_t>((out[di / 2] & ~(0x0Fu << shift)) | (nibble << shift));
}

inline std::int32_t conv_weight_zero_point(const ConvS8Desc& d, std::size_t oc) noexcept {
  return d.weight_zero_point == nullptr ? 0 : d.weight_zero_point[d.weight_zero_point_per_channel ? oc : 0];
}

constexpr std::size_t kConvAlign = 64;
inline std::uint8_t* align_up(void* p) noexcept {
  const auto v = reinterpret_cast<std::uintptr_t>(p);
  return reinterpret_cast<std::uint8_t*>((v + kConvAlign - 1) / kConvAlign * kConvAlign);
}

// Slack after a gather buffer: the small-copy helper writes up to 32 bytes at a time.
constexpr std::size_t kGatherSlack = 32;

// A fixed-size array allocated with new (std::nothrow): what ConvS8 keeps instead of
// std::vector, whose allocator throws std::bad_alloc, which inside the noexcept pack() would be
// std::terminate (an abort under -fno-exceptions). reset() / assign() return false when the
// allocation fails; the caller turns that into StatusCode::out_of_memory.
template <class T>
class NothrowArray {
 public:
  NothrowArray() = default;
  NothrowArray(NothrowArray&& o) noexcept : data_(std::move(o.data_)), size_(o.size_) { o.size_ = 0; }
  NothrowArray& operator=(NothrowArray&& o) noexcept {
    data_ = std::move(o.data_);
    size_ = o.size_;
    o.size_ = 0;
    return *this;
  }
  // n value-initialized elements (none for n = 0); false, and empty, if the allocation failed.
  bool reset(std::size_t n) noexcept {
    data_.reset();
    size_ = 0;
    if (n == 0) return true;
    // Sizes whose byte count (with an array cookie) would wrap: refused here, so that the new[]
    // below has no overflow path (GCC then no longer warns, on 32-bit targets, that the path's
    // SIZE_MAX request exceeds the largest object).
    if (n > (std::numeric_limits<std::size_t>::max() - 2 * sizeof(std::size_t)) / sizeof(T)) return false;
    data_.reset(new (std::nothrow) T[n]());
    if (data_ == nullptr) return false;
    size_ = n;
    return true;
  }
  bool assign(std::size_t n, const T& value) noexcept {
    if (!reset(n)) return false;
    for (std::size_t i = 0; i < n; ++i) data_[i] = value;
    return true;
  }
  void clear() noexcept { (void)reset(0); }
  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_.get(); }
  T* end() noexcept { return data_.get() + size_; }
  const T* begin() const noexcept { return data_.get(); }
  const T* end() const noexcept { return data_.get() + size_; }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t size_ = 0;
};

inline Status conv_out_of_memory(std::size_t count, std::size_t element_bytes) noexcept {
  std::size_t bytes = 0;
  if (!checked_mul(count, element_bytes, &bytes)) bytes = std::numeric_limits<std::size_t>::max();
  return Status(StatusCode::out_of_memory, "conv: allocation of packed weights or tables failed", "bytes", bytes);
}

}  // namespace detail

// A packed convolution layer. Movable, not copyable.
class ConvS8 {
 public:
  ConvS8() = default;
  ConvS8(ConvS8&&) = default;
  ConvS8& operator=(ConvS8&&) = default;

  Status pack(const ConvS8Desc& desc) noexcept { return pack(desc, active_isa()); }
  Status pack(const ConvS8Desc& desc, Isa isa) noexcept {
    QK_RETURN_IF_ERROR(detail::validate_conv_desc(desc));
    if (!isa_supported(isa) || kernels::gemm_s8_kernel_for(isa) == nullptr)
      return Status(StatusCode::unsupported, "conv: ISA not supported by this CPU/build", "isa", static_cast<int>(isa));
    ConvS8 fresh;
    fresh.desc_ = desc;
    fresh.isa_ = isa;
    fresh.out_h_ = desc.out_h();
    fresh.out_w_ = desc.out_w();
    fresh.taps_ = desc.kernel_h * desc.kernel_w;
    fresh.cg_ = desc.in_c / desc.groups;
    fresh.cout_g_ = desc.out_c / desc.groups;
    fresh.k_ = fresh.taps_ * fresh.cg_;
    if (desc.groups == desc.in_c && desc.groups > 1) {
      fresh.path_ = ConvPath::depthwise;
      QK_RETURN_IF_ERROR(fresh.pack_depthwise());
    } else {
      fresh.path_ = desc.is_pointwise() ? ConvPath::pointwise : ConvPath::gemm;
      QK_RETURN_IF_ERROR(fresh.pack_gemm());
    }
    fresh.desc_.weights = nullptr;  // not kept: the caller may free them
    fresh.desc_.weight_zero_point = nullptr;
    fresh.desc_.bias = nullptr;
    fresh.packed_ = true;
    *this = std::move(fresh);
    return Status::success();
  }

  bool packed() const noexcept { return packed_; }
  Isa isa() const noexcept { return isa_; }
  ConvPath path() const noexcept { return path_; }
  // The descriptor it was packed from (weights, zero point and bias pointers cleared).
  const ConvS8Desc& desc() const noexcept { return desc_; }
  std::size_t out_h() const noexcept { return out_h_; }
  std::size_t out_w() const noexcept { return out_w_; }
  std::size_t out_c() const noexcept { return desc_.out_c; }
  // Output pixels gathered per GEMM block (gemm path).
  std::size_t block_rows() const noexcept { return block_rows_; }

 private:
  friend Status conv_s8_workspace_size(const ConvS8& layer, std::size_t batch, std::size_t threads,
                                       std::size_t* bytes) noexcept;
  friend Status conv_s8(const ConvS8& layer, std::size_t batch, const void* input, const OutputStage& out,
                        void* output, void* workspace, std::size_t workspace_bytes, Executor* executor) noexcept;
  friend struct ConvS8Runner;

  // --- pointwise and gemm paths: one GemmS8Weights per group, K = taps * Cg (padded) --------
  Status pack_gemm(bool allow_row_runs = true) noexcept {
    const ConvS8Desc& d = desc_;
    // int4 weights: the ISA's int4 family, whose tiles step K two groups at a time (b_nibbles),
    // except first layers (the row-runs shape below), whose int4 weights are expanded to int8
    // here, as depthwise weights are: int4 families take no A by K group (fewer tiles to
    // compile), and gathering such a layer's rows cost first_224 0.8-0.9x its int8 twin, while
    // its weights are tiny (first_224: 864), so 4-bit storage would save nothing a run reads.
    packed_type_ = d.weight_type;
    if (d.weight_type == ElementType::s4 && allow_row_runs && row_runs_shape(kernels::gemm_s8_kernel_for(isa_)))
      packed_type_ = ElementType::s8;
    const kernels::GemmS8Kernel* kernel = detail::gemm_kernel_for(isa_, packed_type_);
    const bool nibbles = kernel->layout.b_nibbles != 0;
    // (flip_s8_ explained below; a flipped pointwise layer is gathered too, as a plain xor copy.)
    // For int4 the flip also removes the row term the s8 side costs (gemm_s4_x86.hpp).
    // (And a pointwise layer for a family that xors s8 A in its loop: the Zen 4 form, below.)
    flip_s8_ = d.input_type == ElementType::s8 &&
               (kernel->layout.s8_weight_offset != 0 ||
                (path_ == ConvPath::pointwise && kernel->layout.s8_activation_offset != 0));
    // Gathered K padded to the kernels' K step, so that the tiles never take their tail path.
    const std::size_t k_step = nibbles ? 2 * std::size_t{kernel->layout.k_group} : kernel->layout.k_group;
    k_pad_ = path_ == ConvPath::pointwise && !flip_s8_ ? k_ : detail::round_up(k_, k_step);
    // Row runs (first layers: a kernel row's run of kernel_w * Cin bytes is short, 9 for RGB 3x3):
    // the gather's small copies cost ~5 cycles a pixel (a fifth of first_224). Instead each output
    // row copies its kernel_h input rows once, flipped and padded, into the workspace, and the
    // GEMM reads A from them K group by K group (GemmS8Args::a_group_offset), pixels stride_w *
    // Cin apart: each kernel row's whole K groups in place, and the bytes left over at the ends of
    // the kernel rows (first_224: one of 9 per row) composed into K groups of their own, one byte
    // per row, in extra rows the family's compose_a builds. So K is not padded: 7 K groups per
    // pixel for first_224, not the 9 of runs padded to whole groups (which read the next pixel's
    // bytes against zero weights): its GEMM tiles took 15% less time, the layer 105.9 -> 103.3 us
    // (the epilogue, unchanged, is over half of it). Families without compose_a, and layers whose
    // pixels are closer than a K group (stride_w * Cin < k_group), still pad the runs. Neither
    // form suits row sums (pad bytes would enter them), so no weight zero point.
    row_runs_ = false;
    composed_ = 0;
    a_group_offset_.clear();
    compose_src_.clear();
    if (allow_row_runs && row_runs_shape(kernel)) {
      const std::size_t kg = kernel->layout.k_group, run = d.kernel_w * cg_, step = d.stride_w * d.in_c;
      const bool compose = kernel->compose_a != nullptr && step >= kg && kg <= 4;
      run_in_place_ = compose ? run / kg * kg : detail::round_up(run, kg);
      run_left_ = run - (run < run_in_place_ ? run : run_in_place_);
      const std::size_t composed = detail::div_up(d.kernel_h * run_left_, kg);
      // A padded row: pixel -pad_left first; long enough for the input and every read: a pixel's
      // in-place groups (run_in_place_, at least one K group) and its left-over bytes, which the
      // composed groups read up to the end of its run (else the last pixel's read the next row).
      std::size_t last_read = run_in_place_ > kg ? run_in_place_ : kg;
      if (last_read < run) last_read = run;
      // All checked: pad_left and in_w are only bounded by SIZE_MAX / 16 (absurd widths: gather).
      std::size_t input_end = 0, read_end = 0, bytes = 0;
      row_runs_ = detail::checked_add(d.pad_left, d.in_w, &input_end) && detail::checked_mul(input_end, d.in_c, &input_end) &&
                  detail::checked_mul(out_w_ - 1, step, &read_end) && detail::checked_add(read_end, last_read, &read_end) &&
                  detail::checked_round_up(input_end > read_end ? input_end : read_end, 64, &run_pitch_) &&
                  detail::checked_mul(d.kernel_h + composed, run_pitch_, &bytes) &&
                  detail::checked_add(bytes, kRunMargin, &bytes);
      if (row_runs_) {
        // Row runs always hand the GEMM u8 A (the row copy flips s8 input for free): the tiles
        // that read A by K group are instantiated for unsigned A only, half the by-group code
        // that every program compiles (docs/build.md).
        flip_s8_ = d.input_type == ElementType::s8;
        composed_ = composed;
        k_pad_ = d.kernel_h * run_in_place_ + composed * kg;
        const std::size_t groups_per_row = detail::div_up(run_in_place_, kg);
        if (!a_group_offset_.reset(d.kernel_h * groups_per_row + composed))
          return detail::conv_out_of_memory(d.kernel_h * groups_per_row + composed, sizeof(std::size_t));
        if (!compose_src_.reset(composed * kg)) return detail::conv_out_of_memory(composed * kg, sizeof(std::ptrdiff_t));
        std::size_t at = 0;
        for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
          for (std::size_t b = 0; b < run_in_place_; b += kg) a_group_offset_[at++] = kRunMargin + ky * run_pitch_ + b;
        for (std::size_t c = 0; c < composed; ++c) a_group_offset_[at++] = kRunMargin + (d.kernel_h + c) * run_pitch_;
        // Byte l of the composed groups: the l-th left-over byte (kernel row l / run_left_), or none.
        for (std::size_t l = 0; l < composed * kg; ++l)
          compose_src_[l] = l < d.kernel_h * run_left_
                                ? static_cast<std::ptrdiff_t>(kRunMargin + (l / run_left_) * run_pitch_ + run_in_place_ +
                                                              l % run_left_)
                                : -1;
      }
    }
    // A VNNI family takes s8 activations as vpdpbusd's signed operand, which costs a row term
    // (row sums of every block: 20% of a small-K layer). The gather copies A anyway, so it
    // flips s8 to u8 (x + 128, zero point + 128) on the way and the GEMM runs unsigned with no
    // row term. That holds for the pointwise path as well: an xor copy of each block costs less
    // than the row sums plus the row term's multiply in every output vector (mbv2_1x1_56:
    // 291 us against 327 us, measured). Families whose s8 form has no weight offset need no flip
    // for the row term: widening families never flip; the Zen 4 form of AVX-512 VNNI (xors A in
    // its loop) is given flipped input on the pointwise path, where the copy costs less than the
    // loop's xors (mbv2_1x1_56, interleaved pairs, min of 5: 106-121 -> 105-119 us, better or
    // equal in 6 of 6), and unflipped input on the gather path, whose copy is there anyway but
    // where flipping measured slower (resnet3x3_14: 501-509 -> 512-532 us, 6 of 6; not found
    // why). Row runs always flip: their by-group tiles are u8 only.
    // Block rows: a multiple of 24 (whole tiles of both the 6- and 8-row kernels), the gathered
    // block about 32 KiB (L1 on every x86 core this targets), between 24 and 240 rows.
    // Output columns whose window is inside the image horizontally (the gather's fast path).
    detail::interior_columns(out_w_, d.in_w, d.pad_left, d.stride_w, d.kernel_w, d.dilation_w, &gather_ox_begin_,
                             &gather_ox_end_);
    std::size_t rows = 32768 / k_pad_;
    rows = rows / 24 * 24;
    block_rows_ = rows < 24 ? 24 : (rows > 240 ? 240 : rows);
    std::unique_ptr<std::uint8_t[]> canon;  // nothrow: pack() is noexcept (see GemmS8Weights::pack)
    detail::NothrowArray<std::int32_t> zp;
    std::size_t bytes = 0;  // (int4: cout_g_ * k_pad_ nibbles, k_pad_ even)
    if (!detail::checked_mul(cout_g_, k_pad_, &bytes))
      return Status(StatusCode::size_overflow, "conv: per-group weights out_c / groups * padded K overflow", "k_pad", k_pad_);
    if (packed_type_ == ElementType::s4) bytes = bytes / 2 + 1;
    canon.reset(new (std::nothrow) std::uint8_t[bytes]);
    if (canon == nullptr)
      return Status(StatusCode::out_of_memory, "conv: allocation of the weight staging buffer failed", "bytes", bytes);
    if (!zp.reset(cout_g_)) return detail::conv_out_of_memory(cout_g_, sizeof(std::int32_t));
    if (!weights_.reset(d.groups)) return detail::conv_out_of_memory(d.groups, sizeof(GemmS8Weights));
    for (std::size_t g = 0; g < d.groups; ++g) {
      // This group's weights as an N x K_pad matrix, K in (ky, kx, c) order: the gather order
      // (int4: N x K_pad nibbles, n_by_k as GemmS8WeightsDesc numbers them).
      // K padding holds the weight whose stored value is 0 (u8: 128, which the packing turns
      // into s8 0), so that it contributes nothing whatever the padded A bytes hold: the gather
      // writes them only when a row term reads them, and a u8 weight zero point of 128 has none.
      // (Padding with u8 0 stored -128 times unwritten A bytes: the fuzz pass found it.)
      std::memset(canon.get(), packed_type_ == ElementType::u8 ? 0x80 : 0, bytes);
      bool any_zp = false;
      for (std::size_t j = 0; j < cout_g_; ++j) {
        const std::size_t oc = g * cout_g_ + j;
        for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
          for (std::size_t kx = 0; kx < d.kernel_w; ++kx)
            for (std::size_t c = 0; c < cg_; ++c)
              detail::copy_weight_element(canon.get(),
                                          j * k_pad_ + (row_runs_ ? row_run_k(ky, kx * cg_ + c) : (ky * d.kernel_w + kx) * cg_ + c),
                                          packed_type_, d.weights, detail::conv_weight_index(d, oc, ky, kx, c), d.weight_type);
        zp[j] = detail::conv_weight_zero_point(d, oc);
        any_zp = any_zp || zp[j] != 0;
      }
      GemmS8WeightsDesc wd;
      wd.k = k_pad_;
      wd.n = cout_g_;
      wd.data = canon.get();
      wd.stride_k = 1;
      wd.stride_n = k_pad_;
      wd.b_type = packed_type_;
      wd.bias = d.bias != nullptr ? d.bias + g * cout_g_ : nullptr;
      wd.zero_point = any_zp ? zp.data() : nullptr;
      wd.zero_point_per_column = true;
      wd.a_type = flip_s8_ ? ElementType::u8 : d.input_type;
      wd.a_zero_point = flip_s8_ ? d.input_zero_point + 128 : d.input_zero_point;
      QK_RETURN_IF_ERROR(weights_[g].pack(wd, isa_));
    }
    // Row sums of each gathered block are needed when the packing has a row term (a weight zero
    // point, or s8 activations on a VNNI family: see gemm_s8_contract.hpp); they are computed
    // once per block into the workspace rather than once per panel group by the tiles.
    has_zb_ = false;
    for (const GemmS8Weights& w : weights_) has_zb_ = has_zb_ || w.needs_row_sums();
    if (row_runs_ && has_zb_) return pack_gemm(false);  // (not expected: no weight zero point)
    return plan_windows(kernel);
  }

  // Output rows whose window reaches into the vertical padding. Their A holds zero-point bytes
  // for those kernel rows, which add nothing; oneDNN does not multiply them, and at 14x14 with a
  // 3x3 kernel they are 4.8% of the MACs (the top and bottom rows' third). So each distinct
  // non-empty range of valid kernel rows other than all of them is a K window with its own
  // column offsets, and a window's GEMM starts A and B at its first valid kernel row (a K group:
  // each kernel row is whole groups). The gather path plans the blocks of an image so that none
  // mixes windows; row runs (one GEMM per output row) start the row's K group offsets there.
  // The results are the same bits: the skipped terms were zeros. The left and right columns'
  // padding (another 4.8% at 14x14) is still multiplied: a GEMM's rows are consecutive pixels.
  // Only where it needs no more state than column offsets: no row term (no weight zero point;
  // u8 or flipped s8 A), int8 or uint8 weights (not int4 nibbles), K not padded, row runs whole
  // K groups with nothing composed.
  Status plan_windows(const kernels::GemmS8Kernel* kernel) noexcept {
    const ConvS8Desc& d = desc_;
    gather_plan_.clear();
    row_window_.clear();
    window_rows_.clear();
    window_col_offset_.clear();
    const kernels::GemmS8Layout& l = kernel->layout;
    const std::size_t row_k = d.kernel_w * cg_;
    if (path_ != ConvPath::gemm || has_zb_ || l.b_nibbles != 0 || k_pad_ != k_ || row_k % l.k_group != 0 ||
        (packed_type_ != ElementType::s8 && packed_type_ != ElementType::u8) ||
        (row_runs_ && (composed_ != 0 || run_in_place_ != row_k)))
      return Status::success();
    // Bounded tables: the row table and the gather plan grow with the image, the column offsets
    // with the windows. So at most kMaxWindows windows (a k-tall kernel's top and bottom bands
    // make 2(k - 1)), and images of at most kMaxWindowRows rows and kMaxWindowPixels pixels;
    // beyond, the padding rows are multiplied as before. (A fuzzer's image of 2^31 rows asked
    // for 17 GB of tables here.)
    std::size_t image_pixels = 0;
    if (out_h_ > kMaxWindowRows || !detail::checked_mul(out_h_, out_w_, &image_pixels) || image_pixels > kMaxWindowPixels)
      return Status::success();
    // Window 0: all kernel rows (and rows with none: multiplying their zero-point rows is simpler
    // than a K of 0 in every tile); w >= 1: kernel rows [window_rows_[2w], window_rows_[2w + 1]).
    if (!row_window_.reset(out_h_)) return detail::conv_out_of_memory(out_h_, sizeof(std::size_t));
    if (!window_rows_.reset(2 * kMaxWindows)) return detail::conv_out_of_memory(2 * kMaxWindows, sizeof(std::size_t));
    std::size_t windows = 1;
    for (std::size_t oy = 0; oy < out_h_; ++oy) {
      std::size_t ky0 = 0, ky1 = 0, w = 0;
      detail::valid_taps(oy, d.stride_h, d.dilation_h, d.pad_top, d.in_h, d.kernel_h, &ky0, &ky1);
      if (ky0 != ky1 && ky1 - ky0 != d.kernel_h) {
        for (w = 1; w < windows && (window_rows_[2 * w] != ky0 || window_rows_[2 * w + 1] != ky1);) ++w;
        if (w == windows) {
          if (windows == kMaxWindows) {  // more than a real layer has: no windows
            row_window_.clear();
            window_rows_.clear();
            return Status::success();
          }
          window_rows_[2 * w] = ky0, window_rows_[2 * w + 1] = ky1, ++windows;
        }
      }
      row_window_[oy] = w;
    }
    if (windows == 1) {  // no row reaches into the padding
      row_window_.clear();
      window_rows_.clear();
      return Status::success();
    }
    if (!row_runs_) {
      // Gather blocks: runs of rows in one window, each in balanced blocks of at most block_rows_
      // pixels. Counted, then written.
      const auto plan = [&](bool write) {
        std::size_t b = 0;
        for (std::size_t oy = 0; oy < out_h_;) {
          std::size_t end = oy + 1;
          while (end < out_h_ && row_window_[end] == row_window_[oy]) ++end;
          const std::size_t pixels = (end - oy) * out_w_, per = detail::div_up(pixels, detail::div_up(pixels, block_rows_));
          for (std::size_t p = 0; p < pixels; p += per, ++b)
            if (write) gather_plan_[b] = GatherBlock{oy * out_w_ + p, pixels - p < per ? pixels - p : per, row_window_[oy]};
          oy = end;
        }
        return b;
      };
      const std::size_t blocks = plan(false);
      if (!gather_plan_.reset(blocks)) return detail::conv_out_of_memory(blocks, sizeof(GatherBlock));
      plan(true);
      row_window_.clear();  // the blocks carry their windows: the row table is for row runs only
    }
    // Column offsets per window and group: the packed col_offset (bias - a_off * column sum over
    // all K) plus a_off times the sum over the kernel rows outside the window, from each kernel
    // row's column sums (computed once: O(N K) however many windows). Wrapping, as the packer's.
    const std::size_t padded_n = detail::div_up(cout_g_, l.panel_width) * l.panel_width;
    if (!window_col_offset_.reset(windows * d.groups * padded_n))
      return detail::conv_out_of_memory(windows * d.groups * padded_n, sizeof(std::int32_t));
    detail::NothrowArray<std::uint32_t> row_sums;  // [ky][column] of one group
    if (!row_sums.reset(d.kernel_h * cout_g_)) return detail::conv_out_of_memory(d.kernel_h * cout_g_, sizeof(std::uint32_t));
    for (std::size_t g = 0; g < d.groups; ++g) {
      for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
        for (std::size_t j = 0; j < cout_g_; ++j) {
          std::uint32_t sum = 0;
          for (std::size_t kx = 0; kx < d.kernel_w; ++kx)
            for (std::size_t c = 0; c < cg_; ++c) {
              const std::int32_t v =
                  detail::element_value(d.weights, detail::conv_weight_index(d, g * cout_g_ + j, ky, kx, c), d.weight_type);
              sum += static_cast<std::uint32_t>(packed_type_ == ElementType::u8 ? v - 128 : v);  // the stored weight
            }
          row_sums[ky * cout_g_ + j] = sum;
        }
      const GemmS8Weights& w = weights_[g];
      const std::uint32_t a_off = static_cast<std::uint32_t>(w.activation_zero_point()) +
                                  static_cast<std::uint32_t>(w.activation_type() == ElementType::s8 ? l.s8_activation_offset
                                                                                                    : l.u8_activation_offset);
      for (std::size_t win = 1; win < windows; ++win) {
        std::int32_t* off = window_col_offset_.data() + (win * d.groups + g) * padded_n;
        for (std::size_t j = 0; j < padded_n; ++j) {
          std::uint32_t outside = 0;
          for (std::size_t ky = 0; j < cout_g_ && ky < d.kernel_h; ++ky)
            if (ky < window_rows_[2 * win] || ky >= window_rows_[2 * win + 1]) outside += row_sums[ky * cout_g_ + j];
          off[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(w.col_offset()[j]) + a_off * outside);
        }
      }
    }
    return Status::success();
  }

  // The shape whose GEMM reads its input rows in place (row runs, pack_gemm) with `kernel`: a
  // first layer (a kernel row's run of kernel_w * Cin <= 16 bytes) with no weight zero point.
  bool row_runs_shape(const kernels::GemmS8Kernel* kernel) const noexcept {
    const ConvS8Desc& d = desc_;
    const std::size_t run = d.kernel_w * cg_;
    if (path_ != ConvPath::gemm || kernel->layout.a_group_offsets == 0 || d.groups != 1 || d.dilation_w != 1 ||
        out_w_ < 8)
      return false;
    // Long runs (resnet3x3_56: 3 x 64 = 192 bytes): the gather copies each pixel's kernel_h runs
    // in calls of their own, 9% of that layer (580 -> 531 us with the gather skipped), where row
    // runs copy each input row once per output row it serves. Only whole K groups (nothing to
    // compose), int8 weights (int4 ones would be widened to int8 for the by-group tiles), and
    // weights of at most kRowRunsMaxWeights bytes: every output row is a GEMM of its own that
    // streams all of them (resnet3x3_14's 590 KB would be read 14 times a call).
    std::size_t weight_bytes = 0;
    if (run > 16 && (run % kernel->layout.k_group != 0 || d.weight_type == ElementType::s4 ||
                     !detail::checked_mul(k_, d.out_c, &weight_bytes) || weight_bytes > kRowRunsMaxWeights))
      return false;
    for (std::size_t oc = 0; oc < d.out_c; ++oc)
      if (detail::conv_weight_zero_point(d, oc) != 0) return false;
    return true;
  }
  static constexpr std::size_t kRowRunsMaxWeights = std::size_t{256} << 10;

  // --- depthwise path -----------------------------------------------------------------------
  // int4 weights are expanded here, at packing, to the same int8 (column kernel) or int16 pair
  // layouts as int8 weights (detail::element_value reads the nibbles): depthwise weights are a
  // few KB per layer and the kernels are bound by the activations, so 4-bit storage would save
  // nothing a run reads much of.
  Status pack_depthwise() noexcept {
    const ConvS8Desc& d = desc_;
    dw_kernel_ = kernels::depthwise_s8_kernel_for(isa_);
    mult_ = d.out_c / d.in_c;
    dw_taps_ = detail::round_up(taps_, 2);
    const std::size_t c = d.out_c, cpad = detail::round_up(c, kernels::kDepthwiseChannelPad);
    // w'[t][oc] = w - zw, int32, then re-laid out for the kernel.
    detail::NothrowArray<std::int32_t> wp;
    if (!wp.reset(dw_taps_ * c)) return detail::conv_out_of_memory(dw_taps_ * c, sizeof(std::int32_t));
    for (std::size_t oc = 0; oc < c; ++oc) {
      const std::int32_t zw = detail::conv_weight_zero_point(d, oc);
      for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
        for (std::size_t kx = 0; kx < d.kernel_w; ++kx)
          wp[(ky * d.kernel_w + kx) * c + oc] =
              detail::element_value(d.weights, detail::conv_weight_index(d, oc, ky, kx, 0), d.weight_type) - zw;
    }
    if (!col_offset_.reset(cpad)) return detail::conv_out_of_memory(cpad, sizeof(std::int32_t));
    for (std::size_t oc = 0; oc < c; ++oc) {
      std::uint32_t sum = 0;
      for (std::size_t t = 0; t < dw_taps_; ++t) sum += static_cast<std::uint32_t>(wp[t * c + oc]);
      const std::uint32_t b = d.bias != nullptr ? static_cast<std::uint32_t>(d.bias[oc]) : 0u;
      col_offset_[oc] = static_cast<std::int32_t>(b - static_cast<std::uint32_t>(d.input_zero_point) * sum);
    }
    // Row geometry, fixed per layer. Interior output columns: every tap inside [0, in_w).
    const std::size_t reach = (d.kernel_w - 1) * d.dilation_w;
    dw_ox_begin_ = dw_ox_end_ = 0;
    if (d.in_w > reach) {
      const std::size_t first = detail::div_up(d.pad_left, d.stride_w);
      const std::size_t last_ix0 = d.in_w - 1 - reach + d.pad_left;  // ox * stride <= this
      const std::size_t end = last_ix0 / d.stride_w + 1;
      dw_ox_end_ = end < out_w_ ? end : out_w_;
      dw_ox_begin_ = first < dw_ox_end_ ? first : dw_ox_end_;
    }
    // The zero-point row stands for a whole padding row (in_w pixels of Cout bytes); a channel
    // multiplier > 1 expands kernel_h input rows per output row into the thread's workspace.
    std::size_t row = 0, rows = 0;
    if (!detail::checked_mul(d.in_w, c, &row) || !detail::checked_mul(row, d.kernel_h, &rows) ||
        rows > (std::numeric_limits<std::size_t>::max() >> 4))
      return Status(StatusCode::size_overflow, "conv: depthwise row buffers in_w * out_c * kernel_h overflow", "in_w", d.in_w);
    bool columns = false;
    QK_RETURN_IF_ERROR(pack_depthwise_columns(wp, &columns));
    if (columns) return Status::success();
    const std::size_t block = dw_kernel_->block;
    if (block == 0) {
      dw_weights_ = std::move(wp);
      return Status::success();
    }
    const std::size_t blocks = detail::div_up(c, block), pairs = dw_taps_ / 2;
    if (!dw_weights_.reset(blocks * pairs * block)) return detail::conv_out_of_memory(blocks * pairs * block, sizeof(std::int32_t));
    if (!dw_bias_.reset(blocks * block)) return detail::conv_out_of_memory(blocks * block, sizeof(std::int32_t));
    for (std::size_t b = 0; b < blocks; ++b)
      for (std::size_t i = 0; i < block; ++i) {
        const std::size_t half = i / (block / 2), j = i % (block / 2);
        const std::size_t ch = b * block + (j / 4) * 8 + half * 4 + j % 4;
        if (ch >= c) continue;
        dw_bias_[b * block + i] = col_offset_[ch];
        for (std::size_t p = 0; p < pairs; ++p) {
          const std::uint32_t w0 = static_cast<std::uint16_t>(static_cast<std::int16_t>(wp[(2 * p) * c + ch]));
          const std::uint32_t w1 = static_cast<std::uint16_t>(static_cast<std::int16_t>(wp[(2 * p + 1) * c + ch]));
          dw_weights_[(b * pairs + p) * block + i] = static_cast<std::int32_t>(w0 | (w1 << 16));
        }
      }
    return Status::success();
  }

  // The family's column kernel (depthwise_s8_contract.hpp) when it has one and the layer fits
  // it: every w' = w - zw in int8 (TFLite weights always) and at most 4 kernel rows (the four
  // bytes of a vpdpbusd lane). Others keep the int16 pair layout. wp: w'[tap][channel].
  // *taken: whether the layer uses the column kernel; an error only if an allocation failed.
  Status pack_depthwise_columns(const detail::NothrowArray<std::int32_t>& wp, bool* taken) noexcept {
    const ConvS8Desc& d = desc_;
    dw_columns_ = false;
    *taken = false;
    if (dw_kernel_->quad_run == nullptr || d.kernel_h > 4) return Status::success();
    for (const std::int32_t v : wp)
      if (v < -128 || v > 127) return Status::success();
    const std::size_t c = d.out_c, kw = d.kernel_w;
    // The column kernel forms input offsets as ptrdiff_t products of the channels and pad_left,
    // stride_w, dilation_w or a position in the padded row. Rows for which those could overflow
    // (a fuzzer's dilation of 2^60 - 1 under a 1-wide kernel: UBSan in the kernel) keep the row
    // kernel, which addresses in size_t.
    std::size_t span = 0;
    const bool small_row = detail::checked_add(d.pad_left, d.in_w, &span) && detail::checked_add(span, d.pad_right, &span) &&
                           detail::checked_add(span, d.stride_w, &span) && detail::checked_add(span, d.dilation_w, &span) &&
                           detail::checked_mul(span, c, &span) &&
                           span <= static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max()) / 4;
    if (!small_row) return Status::success();
    dw_columns_ = true;
    dw_pair_ = c == 32 && d.stride_w == 1;
    const std::size_t segs = dw_pair_ ? 1 : detail::div_up(c, 64);
    // s8 inputs reach the kernel flipped to u8 (x + 128): the zero point moves with them.
    const std::uint32_t zx = static_cast<std::uint32_t>(d.input_zero_point + (d.input_type == ElementType::s8 ? 128 : 0));
    for (std::size_t oc = 0; oc < c; ++oc) {
      std::uint32_t sum = 0;
      for (std::size_t t = 0; t < taps_; ++t) sum += static_cast<std::uint32_t>(wp[t * c + oc]);
      const std::uint32_t b = d.bias != nullptr ? static_cast<std::uint32_t>(d.bias[oc]) : 0u;
      col_offset_[oc] = static_cast<std::int32_t>(b - zx * sum);
    }
    if (!dw_qweights_.reset(segs * kw * 256)) return detail::conv_out_of_memory(segs * kw * 256, 1);
    if (!dw_bias_.reset(segs * 64)) return detail::conv_out_of_memory(segs * 64, sizeof(std::int32_t));
    // Lane j of a segment: vector k = (j % 16) / 4, dword 4 * (j / 16) + j % 4; byte r = row r.
    for (std::size_t sg = 0; sg < segs; ++sg)
      for (std::size_t j = 0; j < 64; ++j) {
        const std::size_t ch = dw_pair_ ? j % 32 : 64 * sg + j;
        if (ch >= c) continue;
        const std::size_t k = (j % 16) / 4, dword = 4 * (j / 16) + j % 4;
        dw_bias_[sg * 64 + 16 * k + dword] = col_offset_[ch];
        for (std::size_t kx = 0; kx < kw; ++kx)
          for (std::size_t r = 0; r < d.kernel_h; ++r)
            dw_qweights_[((sg * kw + kx) * 4 + k) * 64 + 4 * dword + r] =
                static_cast<std::int8_t>(wp[(r * kw + kx) * c + ch]);
      }
    *taken = true;
    return Status::success();
  }

  // Per-thread workspace bytes (gemm and depthwise paths), 64-byte multiples.
  std::size_t gather_bytes() const noexcept { return detail::round_up(block_rows_ * k_pad_ + detail::kGatherSlack, 64); }
  std::size_t rowsum_bytes() const noexcept { return has_zb_ ? detail::round_up(block_rows_ * 4, 64) : 0; }
  // Row runs: a margin (compose_a may form addresses before its sources), then kernel_h padded
  // input rows and the composed rows, run_pitch_ apart.
  static constexpr std::size_t kRunMargin = 64;
  std::size_t row_runs_bytes() const noexcept { return kRunMargin + (desc_.kernel_h + composed_) * run_pitch_; }
  // Row runs: where byte b of kernel row ky's run sits in K (the weights' K order): the rows'
  // in-place bytes first, row after row, then the left-over bytes in the composed groups.
  std::size_t row_run_k(std::size_t ky, std::size_t b) const noexcept {
    return b < run_in_place_ ? ky * run_in_place_ + b
                             : desc_.kernel_h * run_in_place_ + ky * run_left_ + (b - run_in_place_);
  }
  // Depthwise: the zero-point row (shared), then per thread kernel_h row pointers, two arrays of
  // taps pointers, the accumulator scratch and (multiplier > 1) kernel_h expanded rows.
  std::size_t dw_row_bytes() const noexcept { return detail::round_up(desc_.in_w * desc_.out_c, 64); }
  std::size_t dw_ptr_bytes() const noexcept {
    return detail::round_up((desc_.kernel_h + 2 * taps_) * sizeof(void*), 64);
  }
  std::size_t dw_acc_bytes() const noexcept {
    return detail::round_up(desc_.out_c, kernels::kDepthwiseChannelPad) * sizeof(std::int32_t);
  }
  std::size_t dw_expand_bytes() const noexcept {
    return mult_ > 1 ? desc_.kernel_h * dw_row_bytes() : 0;
  }
  std::size_t per_thread_bytes() const noexcept {
    if (path_ == ConvPath::gemm) return row_runs_ ? row_runs_bytes() : gather_bytes() + rowsum_bytes();
    if (path_ == ConvPath::pointwise) return (flip_s8_ ? gather_bytes() : 0) + (rowsum_bytes() == 0 ? 64 : rowsum_bytes());
    return dw_ptr_bytes() + dw_acc_bytes() + dw_expand_bytes();
  }
  std::size_t shared_bytes() const noexcept { return path_ == ConvPath::depthwise ? dw_row_bytes() : 0; }

  ConvS8Desc desc_;
  Isa isa_ = Isa::scalar;
  ConvPath path_ = ConvPath::gemm;
  bool packed_ = false;
  std::size_t out_h_ = 0, out_w_ = 0, taps_ = 0, cg_ = 0, cout_g_ = 0, k_ = 0, k_pad_ = 0, block_rows_ = 0;
  bool has_zb_ = false, flip_s8_ = false;
  ElementType packed_type_ = ElementType::s8;     // gemm paths: the weights' type in the GEMM (int4 or int8)
  bool row_runs_ = false;                         // gemm path reading padded input rows in place
  // Row runs: bytes of each kernel row's run read in place (whole K groups, padded up when
  // nothing is composed), bytes left over per kernel row for the composed groups, row pitch.
  std::size_t run_in_place_ = 0, run_left_ = 0, run_pitch_ = 0, composed_ = 0;  // composed_: K groups (rows)
  // (NothrowArray, not std::vector: pack() is noexcept and reports a failed allocation.)
  detail::NothrowArray<std::size_t> a_group_offset_;  // row runs: each K group's offset in the workspace
  detail::NothrowArray<std::ptrdiff_t> compose_src_;  // row runs: workspace offset of each composed byte, or -1
  detail::NothrowArray<GemmS8Weights> weights_;       // one per group
  const kernels::DepthwiseS8Kernel* dw_kernel_ = nullptr;
  std::size_t mult_ = 1, dw_taps_ = 0, dw_ox_begin_ = 0, dw_ox_end_ = 0;
  std::size_t gather_ox_begin_ = 0, gather_ox_end_ = 0;  // gemm path: interior output columns
  // K windows (plan_windows): the gather path's blocks of one image, pixels [begin, begin + rows)
  // in K window `window` (empty: blocks of block_rows_ across the batch, all of K); row runs'
  // window of each output row; each window's kernel rows (entries 2w, 2w + 1) and column offsets
  // ([window][group][padded columns], window 0's unused).
  struct GatherBlock {
    std::size_t begin = 0, rows = 0, window = 0;
  };
  static constexpr std::size_t kMaxWindows = 32, kMaxWindowRows = std::size_t{1} << 14,
                               kMaxWindowPixels = std::size_t{1} << 22;
  detail::NothrowArray<GatherBlock> gather_plan_;
  detail::NothrowArray<std::size_t> row_window_;  // row runs: K window of each output row (empty: none has one)
  detail::NothrowArray<std::size_t> window_rows_;
  detail::NothrowArray<std::int32_t> window_col_offset_;
  detail::NothrowArray<std::int32_t> dw_weights_, col_offset_, dw_bias_;  // dw_bias_: col_offset in packed order
  // Column kernel (dw_columns_): int8 weights, pair mode.
  bool dw_columns_ = false, dw_pair_ = false;
  detail::NothrowArray<std::int8_t> dw_qweights_;
};

// Workspace bytes conv_s8() needs for `batch` images with up to `threads` threads (the
// executor's concurrency(); 1 when running without one). A workspace sized for fewer threads
// than the executor has is still accepted: conv_s8() then uses only as many threads as it fits.
inline Status conv_s8_workspace_size(const ConvS8& layer, std::size_t batch, std::size_t threads,
                                     std::size_t* bytes) noexcept {
  if (bytes == nullptr) return Status(StatusCode::null_pointer, "conv_s8_workspace_size: null output");
  if (!layer.packed()) return Status(StatusCode::invalid_argument, "conv_s8_workspace_size: layer not packed");
  if (threads == 0) threads = 1;
  (void)batch;  // every path works in fixed-size blocks; kept in the API for paths that may not
  std::size_t total = 0;
  if (!detail::checked_mul(layer.per_thread_bytes(), threads, &total) ||
      !detail::checked_add(total, layer.shared_bytes() + detail::kConvAlign, &total))
    return Status(StatusCode::size_overflow, "conv_s8_workspace_size: per-thread workspace * threads overflows", "threads", threads);
  *bytes = total;
  return Status::success();
}

namespace detail {

#if defined(__GNUC__) || defined(__clang__)
// 16 bytes as one vector register (GCC/Clang vector extension: SSE2 on x86-64, NEON on AArch64).
typedef std::uint8_t Bytes16 __attribute__((vector_size(16)));
#endif

// Copies exactly n bytes, xor-ing each with `flip` (0, or 0x80 per byte to turn s8 into
// u8 = s8 + 128).
inline void xor_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint64_t flip) noexcept {
  std::size_t i = 0;
#if defined(__GNUC__) || defined(__clang__)
  // 64 bytes a step in 16-byte vectors (the copy of families without a copy_a of their own):
  // as 8-byte words first_224's row copies were 11% of the layer. Four named vectors: an array
  // of them was kept on the stack.
  const auto f = static_cast<std::uint8_t>(flip);
  for (; i + 64 <= n; i += 64) {
    Bytes16 v0, v1, v2, v3;
    std::memcpy(&v0, src + i, 16);
    std::memcpy(&v1, src + i + 16, 16);
    std::memcpy(&v2, src + i + 32, 16);
    std::memcpy(&v3, src + i + 48, 16);
    v0 ^= f, v1 ^= f, v2 ^= f, v3 ^= f;
    std::memcpy(dst + i, &v0, 16);
    std::memcpy(dst + i + 16, &v1, 16);
    std::memcpy(dst + i + 32, &v2, 16);
    std::memcpy(dst + i + 48, &v3, 16);
  }
#endif
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    std::memcpy(&v, src + i, 8);
    v ^= flip;
    std::memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ static_cast<std::uint8_t>(flip));
}

// Copies n bytes, xor-ing each with `flip` (0, or 0x80 to turn s8 into u8 = s8 + 128). Short
// runs are done as one or two fixed-size moves that may write up to 32 bytes past dst + n (the
// gather buffer has that slack, and later writes overwrite the excess) and read up to 32 bytes
// past src + n when that stays below src_end.
inline void gather_copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, const std::uint8_t* src_end,
                        std::uint64_t flip) noexcept {
  const std::size_t avail = static_cast<std::size_t>(src_end - src);
  std::size_t words = (n + 7) / 8;
  if (n <= 16 && avail >= 16) {
    words = 2;
  } else if (n <= 32 && avail >= 32) {
    words = 4;
  } else {
    xor_copy(dst, src, n, flip);
    return;
  }
  for (std::size_t i = 0; i < words; ++i) {
    std::uint64_t v;
    std::memcpy(&v, src + 8 * i, 8);
    v ^= flip;
    std::memcpy(dst + 8 * i, &v, 8);
  }
}

inline void fill_bytes(std::uint8_t* dst, std::uint8_t value, std::size_t n) noexcept {
  if (n < 16) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = value;
  } else {
    std::memset(dst, value, n);
  }
}

}  // namespace detail

// The running state of one conv_s8 call, shared by all threads (read only).
struct ConvS8Runner {
  const ConvS8* layer = nullptr;
  std::size_t batch = 0;
  const std::uint8_t* input = nullptr;
  const std::uint8_t* input_end = nullptr;
  OutputStage out;
  std::uint8_t* output = nullptr;
  std::size_t out_esize = 1;
  std::uint8_t* shared = nullptr;  // depthwise zero-point row
  std::uint8_t* slots = nullptr;   // per-thread workspace, per_thread_bytes() each
  std::size_t threads = 1;
  std::size_t units = 0;           // gemm: blocks x groups; depthwise: output rows (batch x out_h)

  static void task(void* context, std::size_t begin, std::size_t end) {
    const auto& r = *static_cast<const ConvS8Runner*>(context);
    for (std::size_t t = begin; t < end; ++t) {
      std::uint8_t* slot = r.slots + t * r.layer->per_thread_bytes();
      const std::size_t u0 = t * r.units / r.threads, u1 = (t + 1) * r.units / r.threads;
      if (r.layer->path() != ConvPath::depthwise)
        r.run_gemm(slot, u0, u1);
      else
        r.run_depthwise(slot, u0, u1);
    }
  }

  // One output pixel's im2col row, any position (padding taps filled with zx).
  void gather_pixel(std::uint8_t* dst, std::size_t n, std::size_t oy, std::size_t ox, std::size_t g, std::uint64_t flip,
                    std::uint8_t zx) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    const std::size_t cg = L.cg_, row_run = d.kernel_w * cg;
    const bool contiguous_w = d.dilation_w == 1 && d.groups == 1;
    std::uint8_t* const row_start = dst;
    const std::uint8_t* image = input + n * d.in_h * d.in_w * d.in_c + g * cg;
    // Signed positions of the window's first tap (may be negative inside the padding).
    const std::ptrdiff_t iy0 = static_cast<std::ptrdiff_t>(oy * d.stride_h) - static_cast<std::ptrdiff_t>(d.pad_top);
    const std::ptrdiff_t ix0 = static_cast<std::ptrdiff_t>(ox * d.stride_w) - static_cast<std::ptrdiff_t>(d.pad_left);
    const std::ptrdiff_t ix_last = ix0 + static_cast<std::ptrdiff_t>((d.kernel_w - 1) * d.dilation_w);
    const bool inside_w = ix0 >= 0 && ix_last < static_cast<std::ptrdiff_t>(d.in_w);
    for (std::size_t ky = 0; ky < d.kernel_h; ++ky, dst += row_run) {
      const std::ptrdiff_t iy = iy0 + static_cast<std::ptrdiff_t>(ky * d.dilation_h);
      if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(d.in_h)) {
        detail::fill_bytes(dst, zx, row_run);
        continue;
      }
      const std::uint8_t* src_row = image + static_cast<std::size_t>(iy) * d.in_w * d.in_c;
      if (inside_w && contiguous_w) {
        if (row_run > 32)  // long runs (resnet3x3_56: 192 bytes) in the family's widest vectors
          copy_a(dst, src_row + static_cast<std::size_t>(ix0) * d.in_c, row_run, flip);
        else
          detail::gather_copy(dst, src_row + static_cast<std::size_t>(ix0) * d.in_c, row_run, input_end, flip);
        continue;
      }
      for (std::size_t kx = 0; kx < d.kernel_w; ++kx) {
        const std::ptrdiff_t ix = ix0 + static_cast<std::ptrdiff_t>(kx * d.dilation_w);
        if (ix < 0 || ix >= static_cast<std::ptrdiff_t>(d.in_w))
          detail::fill_bytes(dst + kx * cg, zx, cg);
        else
          detail::gather_copy(dst + kx * cg, src_row + static_cast<std::size_t>(ix) * d.in_c, cg, input_end, flip);
      }
    }
    if (L.k_pad_ > L.k_) detail::fill_bytes(row_start + L.k_, zx, L.k_pad_ - L.k_);
  }

  // Interior pixels [ox, ox_end) of one output row (every tap inside the image, taps of a kernel
  // row contiguous): W 8-byte words per kernel row, no branches but one bounds check per pixel.
  // Each kernel row's words may run past its row_run bytes into the next kernel row, the K
  // padding or the next pixel's row, all written afterwards; the buffer has slack for the last.
  // Everything the loop needs is copied to locals first: the byte stores may alias the layer, and
  // read through it the fields were reloaded for every pixel (a third of a first layer's time).
  // The K padding is written only when a row term reads it (a weight zero point): otherwise it
  // meets zero weights and its value does not matter.
  template <std::size_t W, std::size_t KH>
  std::size_t gather_interior(std::uint8_t* dst, const std::uint8_t* src, std::size_t ox, std::size_t ox_end,
                              std::uint64_t flip, std::uint8_t zx) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    const std::size_t row_run = d.kernel_w * L.cg_, kh = KH != 0 ? KH : d.kernel_h;
    const std::size_t k = L.k_, k_pad = L.k_pad_, pad = L.has_zb_ ? k_pad - k : 0;
    const std::size_t src_step = d.stride_w * d.in_c, ky_step = d.dilation_h * d.in_w * d.in_c;
    const std::size_t last_row = (kh - 1) * ky_step;
    const std::uint8_t* const end = input_end;
    for (; ox < ox_end; ++ox, dst += k_pad, src += src_step) {
      if (static_cast<std::size_t>(end - (src + last_row)) < 8 * W) break;  // near the end: slow path
      for (std::size_t ky = 0; ky < kh; ++ky) {
        const std::uint8_t* s = src + ky * ky_step;
        std::uint8_t* o = dst + ky * row_run;
#if defined(__GNUC__) || defined(__clang__)
        // 16-byte moves (SSE or NEON registers): as 8-byte words through general registers a
        // first layer's 3 x 9-byte window took 6 loads, xors and stores per pixel, and the
        // stores alone bound the loop.
        if constexpr (W % 2 == 0) {
          for (std::size_t i = 0; i < W / 2; ++i) {
            detail::Bytes16 v;
            std::memcpy(&v, s + 16 * i, 16);
            v ^= static_cast<std::uint8_t>(flip);
            std::memcpy(o + 16 * i, &v, 16);
          }
          continue;
        }
#endif
        for (std::size_t i = 0; i < W; ++i) {
          std::uint64_t v;
          std::memcpy(&v, s + 8 * i, 8);
          v ^= flip;
          std::memcpy(o + 8 * i, &v, 8);
        }
      }
      for (std::size_t i = 0; i < pad; ++i) dst[k + i] = zx;
    }
    return ox;
  }

  template <std::size_t W>
  std::size_t gather_interior_w(std::uint8_t* dst, const std::uint8_t* src, std::size_t ox, std::size_t ox_end,
                                std::uint64_t flip, std::uint8_t zx) const noexcept {
    return layer->desc_.kernel_h == 3 ? gather_interior<W, 3>(dst, src, ox, ox_end, flip, zx)
                                      : gather_interior<W, 0>(dst, src, ox, ox_end, flip, zx);
  }

  // Gathers output pixels [m0, m0 + rows) of group g into buf (rows of k_pad bytes).
  void gather(std::uint8_t* buf, std::size_t m0, std::size_t rows, std::size_t g) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    // Gathered bytes are the GEMM's A: flipped to u8 when the layer packed for that (flip_s8_).
    const std::uint64_t flip = L.flip_s8_ ? 0x8080808080808080ull : 0;
    const std::uint8_t zx = static_cast<std::uint8_t>(static_cast<std::uint8_t>(d.input_zero_point) ^ (L.flip_s8_ ? 0x80u : 0u));
    if (L.path_ == ConvPath::pointwise && L.k_pad_ == L.k_) {  // rows are contiguous: one xor copy
      copy_a(buf, input + m0 * d.in_c, rows * d.in_c, flip);
      return;
    }
    const std::size_t row_run = d.kernel_w * L.cg_;
    const bool contiguous_w = d.dilation_w == 1 && d.groups == 1;
    const std::size_t words = row_run <= 32 && contiguous_w ? (row_run + 7) / 8 : 0;
    std::size_t ox = m0 % L.out_w_, oy = (m0 / L.out_w_) % L.out_h_, n = m0 / (L.out_w_ * L.out_h_);
    for (std::size_t r = 0; r < rows;) {
      // One segment: the rest of this output row inside the block.
      const std::size_t seg_end = ox + (rows - r < L.out_w_ - ox ? rows - r : L.out_w_ - ox);
      const std::ptrdiff_t iy0 = static_cast<std::ptrdiff_t>(oy * d.stride_h) - static_cast<std::ptrdiff_t>(d.pad_top);
      const bool inside_h =
          iy0 >= 0 && iy0 + static_cast<std::ptrdiff_t>((d.kernel_h - 1) * d.dilation_h) < static_cast<std::ptrdiff_t>(d.in_h);
      std::size_t lo = seg_end, hi = seg_end;  // interior columns of this segment
      if (inside_h && words != 0) {
        lo = ox > L.gather_ox_begin_ ? ox : L.gather_ox_begin_;
        hi = seg_end < L.gather_ox_end_ ? seg_end : L.gather_ox_end_;
        if (lo > hi) lo = hi = seg_end;
      }
      for (; ox < lo; ++ox, ++r) gather_pixel(buf + r * L.k_pad_, n, oy, ox, g, flip, zx);
      if (lo < hi) {
        const std::uint8_t* src = input + ((n * d.in_h + static_cast<std::size_t>(iy0)) * d.in_w +
                                           (lo * d.stride_w - d.pad_left)) * d.in_c + g * L.cg_;
        std::uint8_t* dst = buf + r * L.k_pad_;
        std::size_t done = lo;
        switch (words) {
          case 1: done = gather_interior_w<1>(dst, src, lo, hi, flip, zx); break;
          case 2: done = gather_interior_w<2>(dst, src, lo, hi, flip, zx); break;
          case 3: done = gather_interior_w<3>(dst, src, lo, hi, flip, zx); break;
          default: done = gather_interior_w<4>(dst, src, lo, hi, flip, zx); break;
        }
        r += done - ox;
        ox = done;
      }
      for (; ox < seg_end; ++ox, ++r) gather_pixel(buf + r * L.k_pad_, n, oy, ox, g, flip, zx);
      if (ox == L.out_w_) {
        ox = 0;
        if (++oy == L.out_h_) {
          oy = 0;
          ++n;
        }
      }
    }
  }

  // A contiguous copy of A bytes (flipped): the kernel family's, in its widest vectors, if it
  // has one (gemm and pointwise paths only: weights_[0] exists).
  void copy_a(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint64_t flip) const noexcept {
    const kernels::GemmS8CopyFn fn = layer->weights_[0].kernel().copy_a;
    if (fn != nullptr)
      fn(dst, src, n, static_cast<std::uint8_t>(flip));
    else
      detail::xor_copy(dst, src, n, flip);
  }

  // Row runs: output row u's kernel rows, flipped, into the padded rows at `area` (their padding
  // columns already written), then the composed groups' rows from them.
  void prepare_row_runs(std::uint8_t* area, std::size_t u, std::uint64_t flip, std::uint8_t zx) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    const std::size_t n = u / L.out_h_, oy = u % L.out_h_, in_row = d.in_w * d.in_c;
    std::uint8_t* const rows_base = area + ConvS8::kRunMargin;
    for (std::size_t ky = 0; ky < d.kernel_h; ++ky) {
      const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy * d.stride_h + ky * d.dilation_h) -
                                static_cast<std::ptrdiff_t>(d.pad_top);
      std::uint8_t* dst = rows_base + ky * L.run_pitch_ + d.pad_left * d.in_c;
      if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(d.in_h))
        std::memset(dst, zx, in_row);
      else
        copy_a(dst, input + (n * d.in_h + static_cast<std::size_t>(iy)) * in_row, in_row, flip);
    }
    const kernels::GemmS8Kernel& kernel = L.weights_[0].kernel();
    const std::size_t kg = kernel.layout.k_group;
    for (std::size_t c = 0; c < L.composed_; ++c) {
      const std::uint8_t* src[4] = {nullptr, nullptr, nullptr, nullptr};
      for (std::size_t j = 0; j < kg; ++j) {
        const std::ptrdiff_t at = L.compose_src_[c * kg + j];
        if (at >= 0) src[j] = area + at;
      }
      kernel.compose_a(rows_base + (d.kernel_h + c) * L.run_pitch_, src, d.stride_w * d.in_c, L.out_w_);
    }
  }

  void run_gemm(std::uint8_t* slot, std::size_t u0, std::size_t u1) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    const std::size_t m_total = batch * L.out_h_ * L.out_w_;
    // Pointwise layers read the input rows in place unless they flip s8 to u8 (a plain copy).
    const bool in_place = L.path_ == ConvPath::pointwise && !L.flip_s8_;
    std::uint8_t* buf = slot;
    auto* sums = reinterpret_cast<std::int32_t*>(in_place || L.row_runs_ ? slot : slot + L.gather_bytes());
    // Row runs (see pack_gemm): flipped input bytes and zero-point padding, as the gather writes.
    const std::uint64_t flip = L.flip_s8_ ? 0x8080808080808080ull : 0;
    const std::uint8_t zx = static_cast<std::uint8_t>(static_cast<std::uint8_t>(d.input_zero_point) ^ (L.flip_s8_ ? 0x80u : 0u));
    if (L.row_runs_) std::memset(slot, zx, L.row_runs_bytes());  // the padding columns, once
    // Panel groups: the same for every unit (every group's weights use the layer's one family).
    // Computed per unit, their divisions were 4% of first_224 (112 units of one output row).
    const kernels::GemmS8Layout& layout = L.weights_[0].kernel().layout;
    const std::size_t panels = detail::div_up(L.cout_g_, layout.panel_width);
    const std::size_t tile_panels =
        layout.conv_max_panels != 0 && layout.conv_max_panels < layout.max_panels ? layout.conv_max_panels : layout.max_panels;
    const std::size_t pgroups = detail::div_up(panels, tile_panels);
    for (std::size_t u = u0; u < u1; ++u) {
      std::size_t g = 0, m0 = 0, rows = 0, lda = L.k_pad_, window = 0;  // lda = Cin on the pointwise path
      const std::uint8_t* a_rows = buf;
      if (L.row_runs_) {  // unit u: output row u
        prepare_row_runs(slot, u, flip, zx);
        m0 = u * L.out_w_;
        rows = L.out_w_;
        lda = d.stride_w * d.in_c;
        a_rows = slot;
        if (L.row_window_.size() != 0) window = L.row_window_[u % L.out_h_];
      } else {
        const std::size_t block = u / d.groups;
        g = u % d.groups;
        if (L.gather_plan_.size() != 0) {  // K windows: the image's planned blocks
          const ConvS8::GatherBlock& b = L.gather_plan_[block % L.gather_plan_.size()];
          m0 = block / L.gather_plan_.size() * L.out_h_ * L.out_w_ + b.begin;
          rows = b.rows;
          window = b.window;
        } else {
          m0 = block * L.block_rows_;
          rows = m_total - m0 < L.block_rows_ ? m_total - m0 : L.block_rows_;
        }
        // Pointwise: the NHWC input rows are A as they are (lda = Cin), nothing is gathered.
        if (in_place)
          a_rows = input + m0 * d.in_c;
        else
          gather(buf, m0, rows, g);
      }
      const GemmS8Weights& w = L.weights_[g];
      const kernels::GemmS8Kernel& kernel = w.kernel();
      kernels::GemmS8Args a;
      a.m = rows;
      a.n = L.cout_g_;
      a.k = L.k_pad_;
      a.a = a_rows;
      a.lda = lda;
      if (L.row_runs_) {
        a.a_group_offset = L.a_group_offset_.data();
      }
      a.a_signed = w.activation_type() == ElementType::s8;
      a.packed_b = w.panels();
      a.panel_bytes = w.panel_bytes();
      a.col_offset = w.col_offset();
      if (window != 0) {  // kernel rows [ky0, ky1): whole K groups of A and B
        const std::size_t row_k = d.kernel_w * L.cg_, k0 = L.window_rows_[2 * window] * row_k;
        a.k = (L.window_rows_[2 * window + 1] - L.window_rows_[2 * window]) * row_k;
        if (L.row_runs_)
          a.a_group_offset += k0 / layout.k_group;  // kernel row ky's groups: entries ky * row_k / k_group on
        else
          a.a = a_rows + k0;
        a.packed_b += k0 * layout.panel_width * layout.elem_bytes;
        a.col_offset = L.window_col_offset_.data() + (window * d.groups + g) * (panels * layout.panel_width);
      }
      a.col_zero_point = w.col_zero_point();
      if (a.col_zero_point != nullptr) {
        const kernels::GemmS8RowSumsFn fn = kernel.row_sums != nullptr ? kernel.row_sums : &kernels::row_sums_scalar;
        fn(a_rows, L.k_pad_, a.a_signed, rows, L.k_pad_, sums);
        a.row_sum = sums;
      }
      a.out = out;
      if (out.per_channel && g > 0) {
        const std::size_t off = g * L.cout_g_;
        if (a.out.multiplier != nullptr) a.out.multiplier += off;
        if (a.out.shift != nullptr) a.out.shift += off;
        if (a.out.scale != nullptr) a.out.scale += off;
      }
      a.ldc_bytes = d.out_c * out_esize;
      a.c = output + m0 * a.ldc_bytes + g * L.cout_g_ * out_esize;
      for (std::size_t pg = 0; pg < pgroups; ++pg) {
        const std::size_t p0 = pg * panels / pgroups, p1 = (pg + 1) * panels / pgroups;
        kernel.run(a, 0, rows, p0, p1);
      }
    }
  }

  void run_depthwise(std::uint8_t* slot, std::size_t u0, std::size_t u1) const noexcept {
    const ConvS8& L = *layer;
    const ConvS8Desc& d = L.desc_;
    const std::size_t c_out = d.out_c, c_in = d.in_c, mult = L.mult_;
    auto** rows = reinterpret_cast<const std::uint8_t**>(slot);
    auto* acc = reinterpret_cast<std::int32_t*>(slot + L.dw_ptr_bytes());
    std::uint8_t* expand = slot + L.dw_ptr_bytes() + L.dw_acc_bytes();
    kernels::DepthwiseS8Args a;
    a.channels = c_out;
    a.taps = L.taps_;
    a.a_signed = d.input_type == ElementType::s8;
    a.packed_w = L.dw_weights_.data();
    a.packed_bias = L.dw_bias_.data();
    a.out_w = L.out_w_;
    a.in_w = d.in_w;
    a.kernel_w = d.kernel_w;
    a.stride_w = d.stride_w;
    a.dilation_w = d.dilation_w;
    a.pad_left = d.pad_left;
    a.ox_begin = L.dw_ox_begin_;
    a.ox_end = L.dw_ox_end_;
    a.zero_row = shared;
    a.out_pixel_bytes = c_out * out_esize;
    a.epilogue.m = 1;
    a.epilogue.n = c_out;
    a.epilogue.col_offset = L.col_offset_.data();
    a.epilogue.out = out;
    a.tap_ptrs = rows + d.kernel_h;
    a.border_ptrs = rows + d.kernel_h + L.taps_;
    a.acc = acc;
    a.kernel_h = d.kernel_h;
    a.zero_point_bits = static_cast<std::uint8_t>(d.input_zero_point);
    kernels::DepthwiseS8RowFn kernel = L.dw_kernel_->run;
    if (L.dw_columns_) {  // the column kernel reads the same rows (depthwise_s8_contract.hpp)
      kernel = L.dw_kernel_->quad_run;
      a.packed_w = L.dw_qweights_.data();
      a.pair = L.dw_pair_;
    }
    const std::size_t in_row = d.in_w * c_in;
    for (std::size_t u = u0; u < u1; ++u) {
      const std::size_t n = u / L.out_h_, oy = u % L.out_h_;
      const std::uint8_t* image = input + n * d.in_h * in_row;
      const std::ptrdiff_t iy0 = static_cast<std::ptrdiff_t>(oy * d.stride_h) - static_cast<std::ptrdiff_t>(d.pad_top);
      for (std::size_t ky = 0; ky < d.kernel_h; ++ky) {
        const std::ptrdiff_t iy = iy0 + static_cast<std::ptrdiff_t>(ky * d.dilation_h);
        if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(d.in_h)) {
          rows[ky] = shared;
          continue;
        }
        const std::uint8_t* src = image + static_cast<std::size_t>(iy) * in_row;
        if (mult > 1) {  // channel multiplier: x[c] repeated mult times, as Cout channels
          std::uint8_t* e = expand + ky * L.dw_row_bytes();
          for (std::size_t i = 0; i < d.in_w * c_in; ++i) std::memset(e + i * mult, src[i], mult);
          src = e;
        }
        rows[ky] = src;
      }
      kernel(a, rows, output + u * L.out_w_ * a.out_pixel_bytes);
    }
  }
};

// Runs the layer on `batch` NHWC images: input [batch][in_h][in_w][in_c] (input_type), output
// [batch][out_h][out_w][out_c] (out.type), the output stage with out_c channels. Validates
// everything first; on error nothing is written.
inline Status conv_s8(const ConvS8& layer, std::size_t batch, const void* input, const OutputStage& out, void* output,
                      void* workspace, std::size_t workspace_bytes, Executor* executor = nullptr) noexcept {
  if (!layer.packed()) return Status(StatusCode::invalid_argument, "conv_s8: layer not packed");
  if (!isa_supported(layer.isa()))
    return Status(StatusCode::unsupported, "conv_s8: layer packed for an ISA this CPU lacks", "isa", static_cast<int>(layer.isa()));
  const ConvS8Desc& d = layer.desc_;
  QK_RETURN_IF_ERROR(detail::validate_output_stage(out, d.out_c));
  if (batch == 0) return Status::success();
  if (input == nullptr) return Status(StatusCode::null_pointer, "conv_s8: null input");
  if (output == nullptr) return Status(StatusCode::null_pointer, "conv_s8: null output");
  std::size_t in_bytes = 0, out_bytes = 0, m = 0;
  const std::size_t esize = output_type_size(out.type);
  if (!detail::checked_mul3(batch, d.in_h * d.in_w, d.in_c, &in_bytes) ||
      !detail::checked_mul3(batch, layer.out_h_, layer.out_w_, &m) || !detail::checked_mul3(m, d.out_c, esize, &out_bytes) ||
      m > (std::numeric_limits<std::size_t>::max() >> 3))
    return Status(StatusCode::size_overflow, "conv_s8: input or output size (batch * image) overflows size_t", "batch", batch);
  std::size_t need = 0;
  QK_RETURN_IF_ERROR(conv_s8_workspace_size(layer, batch, 1, &need));
  if (need > 0 && workspace == nullptr) return Status(StatusCode::null_pointer, "conv_s8: null workspace");
  if (workspace_bytes < need)
    return Status(StatusCode::buffer_too_small, "conv_s8: workspace smaller than conv_s8_workspace_size()", "workspace_bytes",
                  workspace_bytes);

  ConvS8Runner r;
  r.layer = &layer;
  r.batch = batch;
  r.input = static_cast<const std::uint8_t*>(input);
  r.input_end = r.input + in_bytes;
  r.out = out;
  r.output = static_cast<std::uint8_t*>(output);
  r.out_esize = esize;
  std::uint8_t* base = detail::align_up(workspace);
  const std::size_t used_by_align = static_cast<std::size_t>(base - static_cast<std::uint8_t*>(workspace));
  r.shared = base;
  r.slots = base + layer.shared_bytes();
  const std::size_t per = layer.per_thread_bytes();
  const std::size_t fit = (workspace_bytes - used_by_align - layer.shared_bytes()) / per;
  std::size_t threads = executor != nullptr ? executor->concurrency() : 1;
  if (threads > fit) threads = fit;
  if (layer.path() != ConvPath::depthwise) {
    r.units = layer.row_runs_                     ? batch * layer.out_h_
              : layer.gather_plan_.size() != 0 ? batch * layer.gather_plan_.size() * d.groups
                                               : detail::div_up(m, layer.block_rows_) * d.groups;
  } else {
    r.units = batch * layer.out_h_;
    std::memset(r.shared, static_cast<std::uint8_t>(d.input_zero_point), layer.dw_row_bytes());
  }
  if (threads > r.units) threads = r.units;
  if (threads == 0) threads = 1;
  r.threads = threads;
  if (executor == nullptr || threads <= 1)
    ConvS8Runner::task(&r, 0, 1);
  else
    executor->parallel_for(threads, 1, &ConvS8Runner::task, &r);
  return Status::success();
}

}  // namespace qk
