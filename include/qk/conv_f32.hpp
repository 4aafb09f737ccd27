// qk/conv_f32.hpp - 2-D fp32 convolution over NHWC activations: the float baseline qk's int8
// convolution is measured against (benchmarks/bench_conv.cpp, conv/qk_f32/<layer>), with the
// same geometry, weight layouts and error handling as qk/conv.hpp.
//
//   y[n][oy][ox][oc] = clamp(bias[oc] + sum_{ky,kx,c} x[n][iy][ix][g*Cg + c] * w[oc][ky][kx][c], lo, hi)
//   iy = oy * stride_h + ky * dilation_h - pad_top, ix likewise; taps outside the image read 0.
//
//   qk::ConvF32Desc d;                      // qk::ConvGeometry, float weights and bias
//   d.in_h = 56, d.in_w = 56, d.in_c = 64, d.out_c = 64, d.kernel_h = d.kernel_w = 3;
//   d.set_same_padding();
//   d.weights = w; d.bias = b;
//   qk::ConvF32 layer;
//   QK_RETURN_IF_ERROR(layer.pack(d));      // allocates; done once per layer
//   std::size_t ws = 0;
//   QK_RETURN_IF_ERROR(qk::conv_f32_workspace_size(layer, &ws));
//   QK_RETURN_IF_ERROR(qk::conv_f32(layer, batch, x, y, workspace, ws));
//
// Paths, chosen at packing (ConvF32::path(), the same names as the int8 layer's):
//  - pointwise: 1x1, stride 1, no padding, groups 1: qk::gemm_f32 on the input in place.
//  - gemm: without groups or horizontal dilation, and with weights small enough to stay in L2
//    (<= 256 KiB), "direct": no gather and no workspace. Each output row is GEMMs that read A
//    from the input itself, a kernel row's taps as one segment of A (GemmF32Args::a_segment),
//    over that row's valid kernel rows only: the columns whose taps are all inside as one GEMM,
//    each edge column as a one-row GEMM on the valid part of each kernel row, B read in the same
//    segments (GemmF32Args::b_segment_stride). Copying im2col rows took half of first_224's time.
//    Otherwise blocks of output pixels are gathered into im2col rows in the workspace, then the
//    fp32 GEMM per group (one GemmF32Weights per group), each pixel's rows holding only its valid
//    taps as far as a GEMM's rows allow: an output row with kernel rows in the vertical padding
//    on the others (its horizontal padding gathered as zeros); in the other rows the interior
//    columns as blocks of whole rows of them (C in row groups, GemmF32Args::c_rows) and each edge
//    column down the rows on its valid taps (B in segments).
//    Skipping the padding taps is what oneDNN does too: 9% of a 14x14 3x3 layer's MACs.
//  - depthwise: groups == Cin == Cout: the depthwise fp32 kernel of active_isa()
//    (kernels/depthwise_registry.hpp): per output pixel, blocks of channels accumulated in
//    registers over the taps, on [tap][channel] weights; a channel multiplier > 1 takes the gemm
//    path.
// Single-threaded; running allocates nothing; every entry point validates its inputs first and
// writes nothing on error. Results are not bit-identical across ISAs (float summation order
// differs between GEMM kernels); they match a double-precision reference to float rounding.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>

#include "qk/conv.hpp"
#include "qk/gemm.hpp"
#include "qk/kernels/depthwise_registry.hpp"

namespace qk {

// The geometry (sizes, strides, dilations, padding, groups, weight layout and the padding
// helpers) is qk::ConvGeometry, as for the int8 layer.
struct ConvF32Desc : ConvGeometry {
  const float* weights = nullptr;  // in weight_layout
  const float* bias = nullptr;     // out_c values, or null for none
};

class ConvF32;
inline Status conv_f32_workspace_size(const ConvF32& layer, std::size_t* bytes) noexcept;
inline Status conv_f32(const ConvF32& layer, std::size_t batch, const float* input, float* output, void* workspace,
                       std::size_t workspace_bytes, float lo, float hi) noexcept;

class ConvF32 {
 public:
  ConvF32() = default;
  ConvF32(ConvF32&&) = default;
  ConvF32& operator=(ConvF32&&) = default;

  // Validates `d` and packs its weights for the kernel family of active_isa(). On error the
  // layer is left as it was.
  Status pack(const ConvF32Desc& d) noexcept {
    if (d.weights == nullptr) return Status(StatusCode::null_pointer, "conv_f32: null weights");
    QK_RETURN_IF_ERROR(detail::validate_conv_geometry(d));
    for (std::size_t i = 0; d.bias != nullptr && i < d.out_c; ++i)
      if (std::isnan(d.bias[i])) return Status(StatusCode::invalid_argument, "conv_f32: NaN bias", "bias index", i);
    const std::size_t cg = d.in_c / d.groups, og = d.out_c / d.groups, taps = d.kernel_h * d.kernel_w, k = taps * cg;
    ConvF32 L;
    L.desc_ = d;
    L.out_h_ = d.out_h();
    L.out_w_ = d.out_w();
    L.k_ = k;
    if (d.groups > 1 && d.groups == d.in_c && d.out_c == d.in_c) {
      L.path_ = ConvPath::depthwise;
      L.dw_kernel_ = kernels::depthwise_f32_kernel_for(active_isa());
      // new (std::nothrow): pack() is noexcept (see GemmS8Weights::pack). taps * out_c is the
      // weight count (cg = 1), checked by validate_conv_geometry; * sizeof(float) is checked here.
      if (taps * d.out_c > std::numeric_limits<std::size_t>::max() / sizeof(float))
        return Status(StatusCode::size_overflow, "conv_f32: depthwise weight bytes overflow size_t", "out_c", d.out_c);
      L.dw_weights_.reset(new (std::nothrow) float[taps * d.out_c]);  // [tap][channel]
      L.dw_bias_.reset(new (std::nothrow) float[d.out_c]);
      if (L.dw_weights_ == nullptr || L.dw_bias_ == nullptr)
        return Status(StatusCode::out_of_memory, "conv_f32: allocation of the depthwise weights failed", "floats", taps * d.out_c);
      for (std::size_t oc = 0; oc < d.out_c; ++oc) {
        L.dw_bias_[oc] = d.bias != nullptr ? d.bias[oc] : 0.0f;
        for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
          for (std::size_t kx = 0; kx < d.kernel_w; ++kx)
            L.dw_weights_[(ky * d.kernel_w + kx) * d.out_c + oc] = d.weights[detail::conv_weight_index(d, oc, ky, kx, 0)];
      }
    } else {
      L.path_ = d.is_pointwise() ? ConvPath::pointwise : ConvPath::gemm;
      // Weights of group gi as K x og, row k = (ky, kx, c): the im2col row's order.
      // Workspace: block_rows_ (at least 128) im2col rows of k floats, checked here once.
      std::size_t rows = (std::size_t{512} << 10) / (4 * k);  // (k <= SIZE_MAX / 16: validated)
      if (rows < 128) rows = 128;
      // Never more rows than one image has: a small layer's workspace is its own im2col, not
      // 512 KiB (which a microcontroller does not have).
      std::size_t pixels = 0;
      if (detail::checked_mul(L.out_h_, L.out_w_, &pixels) && rows > pixels) rows = pixels;
      std::size_t ws = 0;
      if ((L.path_ == ConvPath::gemm &&
           (!detail::checked_mul3(rows, k, sizeof(float), &ws) || !detail::checked_add(ws, detail::kConvAlign, &ws))) ||
          k * og > std::numeric_limits<std::size_t>::max() / sizeof(float))
        return Status(StatusCode::size_overflow, "conv_f32: K = kernel_h * kernel_w * in_c / groups too large for the workspace",
                      "K", k);
      std::unique_ptr<float[]> b(new (std::nothrow) float[k * og]);
      L.group_weights_.reset(new (std::nothrow) GemmF32Weights[d.groups]);
      if (b == nullptr || L.group_weights_ == nullptr)
        return Status(StatusCode::out_of_memory, "conv_f32: allocation of the weight staging buffer failed", "floats", k * og);
      for (std::size_t gi = 0; gi < d.groups; ++gi) {
        for (std::size_t o = 0; o < og; ++o)
          for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
            for (std::size_t kx = 0; kx < d.kernel_w; ++kx)
              for (std::size_t c = 0; c < cg; ++c)
                b[((ky * d.kernel_w + kx) * cg + c) * og + o] = d.weights[detail::conv_weight_index(d, gi * og + o, ky, kx, c)];
        QK_RETURN_IF_ERROR(L.group_weights_[gi].pack(
            GemmF32WeightsDesc::k_by_n(k, og, b.get(), d.bias != nullptr ? d.bias + gi * og : nullptr)));
      }
      // The direct (gather-free) path: one segment per kernel row needs the row's taps to be
      // one run (groups 1, dilation_w 1). It runs an output row at a time, so each row streams
      // all of B: only when B stays in L2 (a quarter of a 1 MiB L2; resnet3x3_14's 2.4 MB of
      // weights would be read once per 14-pixel row).
      L.direct_ = d.groups == 1 && d.dilation_w == 1 && L.path_ == ConvPath::gemm && k * d.out_c <= (std::size_t{256} << 10) / sizeof(float);
      // Rows per gathered block: about 512 KiB of im2col floats (L2), at least 128 rows: each
      // block streams all of B once, and with 64 KiB blocks a K = 2304 layer ran 7 rows per pass
      // over its 2.4 MB of weights (resnet3x3_14: 4.7 ms).
      L.block_rows_ = rows;
      detail::interior_columns(L.out_w_, d.in_w, d.pad_left, d.stride_w, d.kernel_w, d.dilation_w, &L.ox_lo_, &L.ox_hi_);
    }
    *this = std::move(L);
    return Status::success();
  }

  bool packed() const noexcept { return out_h_ != 0; }
  ConvPath path() const noexcept { return path_; }
  // The kernel family: the GEMM's on the pointwise and gemm paths, the depthwise kernel's on that one.
  Isa isa() const noexcept {
    if (path_ == ConvPath::depthwise) return dw_kernel_ != nullptr ? dw_kernel_->isa : Isa::scalar;
    return group_weights_ ? group_weights_[0].isa() : Isa::scalar;
  }
  const ConvF32Desc& desc() const noexcept { return desc_; }
  std::size_t out_h() const noexcept { return out_h_; }
  std::size_t out_w() const noexcept { return out_w_; }

 private:
  friend Status conv_f32_workspace_size(const ConvF32& layer, std::size_t* bytes) noexcept;
  friend Status conv_f32(const ConvF32& layer, std::size_t batch, const float* input, float* output, void* workspace,
                         std::size_t workspace_bytes, float lo, float hi) noexcept;

  // One output pixel (image n, row oy, column ox) of group gi as an im2col row of kernel rows
  // [ky0, ky1) and, of each, taps [kx0, kx1): (ky1 - ky0) * (kx1 - kx0) * cg floats, zeros for
  // taps in the padding. Without groups and dilation a kernel row's taps are one contiguous run
  // of the input row, copied at once: per tap, a first layer's 3 channels were a 12-byte memcpy
  // call each, and the gather took most of first_224's time.
  void gather_pixel(float* dst, const float* input, std::size_t n, std::size_t oy, std::size_t ox, std::size_t gi,
                    std::size_t ky0, std::size_t ky1, std::size_t kx0, std::size_t kx1) const noexcept {
    const ConvF32Desc& d = desc_;
    const std::size_t cg = d.in_c / d.groups, width = (kx1 - kx0) * cg;
    const bool runs = cg == d.in_c && d.dilation_w == 1;
    const float* image = input + n * d.in_h * d.in_w * d.in_c + gi * cg;
    // Input column of tap kx0 (signed: may lie in the padding).
    const std::ptrdiff_t ix0 = static_cast<std::ptrdiff_t>(ox * d.stride_w + kx0 * d.dilation_w) -
                               static_cast<std::ptrdiff_t>(d.pad_left);
    for (std::size_t ky = ky0; ky < ky1; ++ky, dst += width) {
      const std::ptrdiff_t iy = static_cast<std::ptrdiff_t>(oy * d.stride_h + ky * d.dilation_h) -
                                static_cast<std::ptrdiff_t>(d.pad_top);
      if (iy < 0 || iy >= static_cast<std::ptrdiff_t>(d.in_h)) {
        std::memset(dst, 0, width * sizeof(float));
        continue;
      }
      const float* row = image + static_cast<std::size_t>(iy) * d.in_w * d.in_c;
      if (runs) {
        // Taps [t0, t1) of the window are inside the image: ix0 + t in [0, in_w).
        const std::ptrdiff_t w = static_cast<std::ptrdiff_t>(d.in_w), k = static_cast<std::ptrdiff_t>(kx1 - kx0);
        const std::ptrdiff_t t0 = ix0 < 0 ? (-ix0 < k ? -ix0 : k) : 0;
        std::ptrdiff_t t1 = w - ix0 < k ? w - ix0 : k;
        if (t1 < t0) t1 = t0;
        const std::size_t b = static_cast<std::size_t>(t0) * cg, e = static_cast<std::size_t>(t1) * cg;
        if (b > 0) std::memset(dst, 0, b * sizeof(float));
        if (e > b) std::memcpy(dst + b, row + static_cast<std::size_t>(ix0 + t0) * d.in_c, (e - b) * sizeof(float));
        if (width > e) std::memset(dst + e, 0, (width - e) * sizeof(float));
        continue;
      }
      for (std::size_t t = 0; t < kx1 - kx0; ++t) {
        const std::ptrdiff_t ix = ix0 + static_cast<std::ptrdiff_t>(t * d.dilation_w);
        if (ix < 0 || ix >= static_cast<std::ptrdiff_t>(d.in_w))
          std::memset(dst + t * cg, 0, cg * sizeof(float));
        else
          std::memcpy(dst + t * cg, row + static_cast<std::size_t>(ix) * d.in_c, cg * sizeof(float));
      }
    }
  }

  // Output row u (image n, row oy) of the direct path: A read from the input itself, every pixel
  // over its valid taps only (no gather, no multiplications by padding zeros). The columns whose
  // kernel_w taps are all inside run as one GEMM on the row's valid kernel rows (A in segments of
  // kernel_w * in_c, B's K rows from the first valid kernel row on); each edge column is a one-row
  // GEMM on the valid part of each of those kernel rows, B in segments of the same taps.
  void direct_row(std::size_t u, const float* input, float* output, float lo, float hi) const noexcept {
    const ConvF32Desc& d = desc_;
    const std::size_t n = u / out_h_, oy = u % out_h_, kw = d.kernel_w, c = d.in_c;
    const float* image = input + n * d.in_h * d.in_w * c;
    float* out = output + u * out_w_ * d.out_c;
    std::size_t ky0 = 0, ky1 = 0;
    detail::valid_taps(oy, d.stride_h, d.dilation_h, d.pad_top, d.in_h, d.kernel_h, &ky0, &ky1);
    const std::size_t kernel_rows = ky1 - ky0, segment_stride = d.dilation_h * d.in_w * c;
    if (kernel_rows == 0) {  // every tap in the padding (padding wider than the kernel): the bias alone
      run_gemm(0, gemm_args(0, out_w_, 0, image, out, lo, hi));
      return;
    }
    const float* in_row = image + (oy * d.stride_h + ky0 * d.dilation_h - d.pad_top) * d.in_w * c;
    const auto edge = [&](std::size_t ox) {
      std::size_t kx0 = 0, kx1 = 0;
      detail::valid_taps(ox, d.stride_w, 1, d.pad_left, d.in_w, kw, &kx0, &kx1);
      const std::size_t segment = (kx1 - kx0) * c;
      if (segment == 0) {
        run_gemm(0, gemm_args(0, 1, 0, image, out + ox * d.out_c, lo, hi));
        return;
      }
      // ox * stride_w + kx0 >= pad_left: kx0 is the first tap inside the image.
      kernels::GemmF32Args a = gemm_args(0, 1, kernel_rows * segment, in_row + (ox * d.stride_w + kx0 - d.pad_left) * c,
                                         out + ox * d.out_c, lo, hi);
      a.a_segment = segment, a.a_segment_stride = segment_stride;
      run_gemm(0, a, (ky0 * kw + kx0) * c, kw * c);
    };
    for (std::size_t ox = 0; ox < ox_lo_; ++ox) edge(ox);
    if (ox_hi_ > ox_lo_) {
      kernels::GemmF32Args a = gemm_args(0, ox_hi_ - ox_lo_, kernel_rows * kw * c,
                                         in_row + (ox_lo_ * d.stride_w - d.pad_left) * c, out + ox_lo_ * d.out_c, lo, hi);
      a.lda = d.stride_w * c, a.a_segment = kw * c, a.a_segment_stride = segment_stride;
      run_gemm(0, a, ky0 * kw * c);
    }
    for (std::size_t ox = ox_hi_; ox < out_w_; ++ox) edge(ox);
  }

  // Image n, group gi of the gathered path, every pixel on its valid taps as far as a GEMM's rows
  // allow (`buf` holds block_rows_ im2col rows of k_ floats):
  //  - output rows with the same valid kernel rows run together: each top or bottom row on its
  //    own, its im2col rows holding only those kernel rows, B from the first one's K row on;
  //  - rows with all kernel rows: the columns whose taps are all inside as blocks of whole
  //    output rows of them (C in row groups: GemmF32Args::c_rows), then each edge column down
  //    those rows (C rows out_w pixels apart), on its valid taps of each kernel row (B in
  //    segments). Its im2col rows hold only those.
  // So at 14x14 with a 3x3 kernel none of the middle rows' padding taps is multiplied (9.3% of
  // the MACs are padding; the top and bottom rows' left and right taps, 0.7%, still are).
  void gathered_image(std::size_t n, std::size_t gi, const float* input, float* output, float* buf, float lo,
                      float hi) const noexcept {
    const ConvF32Desc& d = desc_;
    const std::size_t cg = d.in_c / d.groups, row_k = d.kernel_w * cg, og = d.out_c / d.groups;
    const std::size_t kh = d.kernel_h, kw = d.kernel_w, row_pixels = out_w_ * d.out_c;
    float* const out_image = output + n * out_h_ * row_pixels + gi * og;
    for (std::size_t oy = 0; oy < out_h_;) {
      std::size_t ky0 = 0, ky1 = 0, oy_end = oy + 1;
      detail::valid_taps(oy, d.stride_h, d.dilation_h, d.pad_top, d.in_h, kh, &ky0, &ky1);
      for (std::size_t a = 0, b = 0; oy_end < out_h_; ++oy_end) {
        detail::valid_taps(oy_end, d.stride_h, d.dilation_h, d.pad_top, d.in_h, kh, &a, &b);
        if (a != ky0 || b != ky1) break;
      }
      const std::size_t rows = oy_end - oy, inner = ox_hi_ - ox_lo_;
      if (ky1 - ky0 == kh && inner != 0 && inner <= block_rows_ && inner != out_w_) {
        // Interior columns: blocks of whole rows of them, balanced.
        const std::size_t per_block = detail::div_up(rows, detail::div_up(rows, block_rows_ / inner));
        for (std::size_t y = oy; y < oy_end; y += per_block) {
          const std::size_t r = oy_end - y < per_block ? oy_end - y : per_block;
          for (std::size_t i = 0; i < r * inner; ++i)
            gather_pixel(buf + i * k_, input, n, y + i / inner, ox_lo_ + i % inner, gi, 0, kh, 0, kw);
          kernels::GemmF32Args a = gemm_args(gi, r * inner, k_, buf, out_image + y * row_pixels + ox_lo_ * d.out_c, lo, hi);
          a.lda = k_, a.c_rows = inner, a.c_rows_stride = row_pixels;
          run_gemm(gi, a);
        }
        // Edge columns: each down the rows, on its valid taps.
        const auto edge = [&](std::size_t ox) {
          std::size_t kx0 = 0, kx1 = 0;
          detail::valid_taps(ox, d.stride_w, d.dilation_w, d.pad_left, d.in_w, kw, &kx0, &kx1);
          const std::size_t segment = (kx1 - kx0) * cg, k = kh * segment;
          for (std::size_t y = oy; y < oy_end; y += block_rows_) {
            const std::size_t r = oy_end - y < block_rows_ ? oy_end - y : block_rows_;
            for (std::size_t i = 0; i < r; ++i) gather_pixel(buf + i * k, input, n, y + i, ox, gi, 0, kh, kx0, kx1);
            kernels::GemmF32Args a = gemm_args(gi, r, k, buf, out_image + y * row_pixels + ox * d.out_c, lo, hi);
            a.lda = k, a.ldc = row_pixels, a.a_segment = segment, a.a_segment_stride = segment;
            run_gemm(gi, a, kx0 * cg, row_k);
          }
        };
        for (std::size_t ox = 0; ox < ox_lo_; ++ox) edge(ox);
        for (std::size_t ox = ox_hi_; ox < out_w_; ++ox) edge(ox);
      } else {
        // Whole rows (their padding columns gathered as zeros), on the valid kernel rows.
        const std::size_t pixels = rows * out_w_, per_block = detail::div_up(pixels, detail::div_up(pixels, block_rows_));
        const std::size_t k = (ky1 - ky0) * row_k;
        for (std::size_t p0 = 0; p0 < pixels; p0 += per_block) {
          const std::size_t r = pixels - p0 < per_block ? pixels - p0 : per_block;
          for (std::size_t i = 0; i < r; ++i) {
            const std::size_t p = p0 + i;
            gather_pixel(buf + i * k, input, n, oy + p / out_w_, p % out_w_, gi, ky0, ky1, 0, kw);
          }
          kernels::GemmF32Args a = gemm_args(gi, r, k, buf, out_image + (oy + p0 / out_w_) * row_pixels + p0 % out_w_ * d.out_c, lo, hi);
          a.lda = k;
          run_gemm(gi, a, ky0 * row_k);
        }
      }
      oy = oy_end;
    }
  }

  // The GEMM arguments of group gi for `m` rows of A of `k` values (plain rows, lda 0: callers
  // set lda, segments and C row groups) into C rows out_c apart.
  kernels::GemmF32Args gemm_args(std::size_t gi, std::size_t m, std::size_t k, const float* a, float* c, float lo,
                                 float hi) const noexcept {
    const GemmF32Weights& w = group_weights_[gi];
    kernels::GemmF32Args args;
    args.m = m, args.n = w.n(), args.k = k, args.a = a, args.lda = 0;
    args.packed_b = w.panels(), args.panel_stride = w.panel_stride();
    args.bias = w.bias(), args.lo = lo, args.hi = hi, args.c = c, args.ldc = desc_.out_c;
    return args;
  }

  // Runs `args` (group gi) single-threaded, B from packed K row b_k0 in segments b_segment_stride
  // K rows apart (0: contiguous). The arguments were validated by conv_f32().
  void run_gemm(std::size_t gi, kernels::GemmF32Args args, std::size_t b_k0 = 0, std::size_t b_segment_stride = 0) const noexcept {
    const kernels::GemmF32Kernel& kernel = group_weights_[gi].kernel();
    args.packed_b += b_k0 * kernel.panel_width;
    args.b_segment_stride = b_segment_stride;
    detail::GemmF32Job job = detail::gemm_f32_job(kernel, args);
    detail::gemm_f32_units(&job, 0, job.groups);  // one row block: unit g is panel group g
  }

  ConvF32Desc desc_;
  ConvPath path_ = ConvPath::gemm;
  bool direct_ = false;
  std::size_t ox_lo_ = 0, ox_hi_ = 0;  // gemm path: output columns whose kernel_w taps are all inside
  std::size_t out_h_ = 0, out_w_ = 0, k_ = 0, block_rows_ = 0;
  std::unique_ptr<GemmF32Weights[]> group_weights_;
  std::unique_ptr<float[]> dw_weights_, dw_bias_;
  const kernels::DepthwiseF32Kernel* dw_kernel_ = nullptr;
};

// Workspace bytes conv_f32() needs for `layer` (any batch): the gather block, 64-byte aligned;
// none on the pointwise, depthwise and direct paths.
inline Status conv_f32_workspace_size(const ConvF32& layer, std::size_t* bytes) noexcept {
  if (bytes == nullptr) return Status(StatusCode::null_pointer, "conv_f32_workspace_size: null output");
  if (!layer.packed()) return Status(StatusCode::invalid_argument, "conv_f32_workspace_size: layer not packed");
  // Cannot overflow: pack() checked block_rows_ * k_ * sizeof(float) + kConvAlign.
  *bytes = layer.path_ == ConvPath::gemm && !layer.direct_ ? layer.block_rows_ * layer.k_ * sizeof(float) + detail::kConvAlign : 0;
  return Status::success();
}

// Runs the layer on `batch` NHWC images, clamping every output to [lo, hi] (a fused ReLU /
// ReLU6, or +-infinity for none).
inline Status conv_f32(const ConvF32& layer, std::size_t batch, const float* input, float* output, void* workspace,
                       std::size_t workspace_bytes, float lo = -std::numeric_limits<float>::infinity(),
                       float hi = std::numeric_limits<float>::infinity()) noexcept {
  if (!layer.packed()) return Status(StatusCode::invalid_argument, "conv_f32: layer not packed");
  if (std::isnan(lo) || lo > hi) return Status(StatusCode::invalid_argument, "conv_f32: clamp lo is NaN or above hi", "lo", lo);
  if (std::isnan(hi)) return Status(StatusCode::invalid_argument, "conv_f32: clamp hi is NaN", "hi", hi);
  if (batch == 0) return Status::success();
  if (input == nullptr || output == nullptr) return Status(StatusCode::null_pointer, "conv_f32: null input or output");
  const ConvF32Desc& d = layer.desc_;
  std::size_t in_count = 0, m = 0, out_count = 0;
  if (!detail::checked_mul3(batch, d.in_h * d.in_w, d.in_c, &in_count) ||
      !detail::checked_mul3(batch, layer.out_h_, layer.out_w_, &m) || !detail::checked_mul(m, d.out_c, &out_count) ||
      in_count > (std::numeric_limits<std::size_t>::max() >> 3) || out_count > (std::numeric_limits<std::size_t>::max() >> 3))
    return Status(StatusCode::size_overflow, "conv_f32: input or output size (batch * image) overflows size_t", "batch", batch);
  std::size_t need = 0;
  QK_RETURN_IF_ERROR(conv_f32_workspace_size(layer, &need));
  if (need > 0 && workspace == nullptr) return Status(StatusCode::null_pointer, "conv_f32: null workspace");
  if (workspace_bytes < need)
    return Status(StatusCode::buffer_too_small, "conv_f32: workspace smaller than conv_f32_workspace_size()", "workspace_bytes",
                  workspace_bytes);
  // Validated: the calls below cannot fail.
  switch (layer.path_) {
    case ConvPath::pointwise:
      return gemm_f32(layer.group_weights_[0], m, input, d.in_c, output, d.out_c, lo, hi);
    case ConvPath::depthwise: {
      kernels::DepthwiseF32Args a;
      a.input = input, a.weights = layer.dw_weights_.get(), a.bias = layer.dw_bias_.get(), a.output = output;
      a.channels = d.out_c, a.in_h = d.in_h, a.in_w = d.in_w, a.out_h = layer.out_h_, a.out_w = layer.out_w_;
      a.kernel_h = d.kernel_h, a.kernel_w = d.kernel_w, a.stride_h = d.stride_h, a.stride_w = d.stride_w;
      a.dilation_h = d.dilation_h, a.dilation_w = d.dilation_w, a.pad_top = d.pad_top, a.pad_left = d.pad_left;
      a.lo = lo, a.hi = hi;
      layer.dw_kernel_->run(a, 0, batch * layer.out_h_);
      return Status::success();
    }
    default: {
      if (layer.direct_) {
        for (std::size_t u = 0; u < batch * layer.out_h_; ++u) layer.direct_row(u, input, output, lo, hi);
        return Status::success();
      }
      auto* buf = reinterpret_cast<float*>(detail::align_up(workspace));
      for (std::size_t n = 0; n < batch; ++n)
        for (std::size_t gi = 0; gi < d.groups; ++gi) layer.gathered_image(n, gi, input, output, buf, lo, hi);
      return Status::success();
    }
  }
}

}  // namespace qk
