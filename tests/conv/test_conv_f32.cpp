// The fp32 convolution (the int8 layers' float baseline): every path on every ISA against a
// double-precision reference, and its argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/conv_f32.hpp"

namespace {

// Double-precision reference; *scale gets each output's sum of |terms| (the rounding bound).
void reference(const qk::ConvF32Desc& d, std::size_t batch, const float* x, double lo, double hi, std::vector<double>* y,
               std::vector<double>* scale) {
  const std::size_t oh = d.out_h(), ow = d.out_w(), cg = d.in_c / d.groups, og = d.out_c / d.groups;
  y->assign(batch * oh * ow * d.out_c, 0.0);
  scale->assign(y->size(), 0.0);
  for (std::size_t n = 0; n < batch; ++n)
    for (std::size_t oy = 0; oy < oh; ++oy)
      for (std::size_t ox = 0; ox < ow; ++ox)
        for (std::size_t oc = 0; oc < d.out_c; ++oc) {
          double s = d.bias != nullptr ? d.bias[oc] : 0.0, a = std::fabs(s);
          for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
            for (std::size_t kx = 0; kx < d.kernel_w; ++kx) {
              const long iy = static_cast<long>(oy * d.stride_h + ky * d.dilation_h) - static_cast<long>(d.pad_top);
              const long ix = static_cast<long>(ox * d.stride_w + kx * d.dilation_w) - static_cast<long>(d.pad_left);
              if (iy < 0 || ix < 0 || iy >= static_cast<long>(d.in_h) || ix >= static_cast<long>(d.in_w)) continue;
              for (std::size_t c = 0; c < cg; ++c) {
                const double xv = x[((n * d.in_h + static_cast<std::size_t>(iy)) * d.in_w + static_cast<std::size_t>(ix)) * d.in_c +
                                    (oc / og) * cg + c];
                const double t = xv * d.weights[qk::detail::conv_weight_index(d, oc, ky, kx, c)];
                s += t;
                a += std::fabs(t);
              }
            }
          const std::size_t i = ((n * oh + oy) * ow + ox) * d.out_c + oc;
          (*y)[i] = s < lo ? lo : s > hi ? hi : s;
          (*scale)[i] = a;
        }
}

void run(const qk::ConvF32Desc& d0, std::size_t batch, std::mt19937& rng, qk::ConvPath want_path, float lo, float hi) {
  qk::ConvF32Desc d = d0;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  const std::size_t wcount = d.out_c * d.kernel_h * d.kernel_w * (d.in_c / d.groups);
  std::vector<float> x(batch * d.in_h * d.in_w * d.in_c), w(wcount), bias(d.out_c);
  for (auto& v : x) v = u(rng);
  for (auto& v : w) v = u(rng);
  for (auto& v : bias) v = u(rng);
  d.weights = w.data();
  d.bias = rng() % 4 != 0 ? bias.data() : nullptr;
  qk::ConvF32 layer;
  REQUIRE(layer.pack(d).ok());
  REQUIRE(layer.path() == want_path);
  // The sweep must really run each family.
  if (want_path == qk::ConvPath::depthwise)
    REQUIRE(layer.isa() == qk::kernels::depthwise_f32_kernel_for(qk::active_isa())->isa);
  else
    REQUIRE(layer.isa() == qk::kernels::gemm_f32_kernel_for(qk::active_isa())->isa);
  std::size_t ws_bytes = 0;
  REQUIRE(qk::conv_f32_workspace_size(layer, &ws_bytes).ok());
  std::vector<unsigned char> ws(ws_bytes + 1, 0x7F);  // garbage: unwritten padding taps would show
  std::vector<float> y(batch * d.out_h() * d.out_w() * d.out_c + 16, 12345.0f);
  REQUIRE(qk::conv_f32(layer, batch, x.data(), y.data(), ws_bytes ? ws.data() + 1 : nullptr, ws_bytes, lo, hi).ok());
  std::vector<double> want, scale;
  reference(d, batch, x.data(), lo, hi, &want, &scale);
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("output " << i << " path " << static_cast<int>(layer.path()) << " got " << y[i] << " want " << want[i]);
    REQUIRE(std::fabs(y[i] - want[i]) <= 1e-5 * scale[i] + 1e-6);
  }
  for (std::size_t i = want.size(); i < y.size(); ++i) REQUIRE(y[i] == 12345.0f);  // nothing past the output
}

qk::ConvF32Desc shape(std::size_t h, std::size_t w, std::size_t cin, std::size_t cout, std::size_t k, std::size_t stride,
                      std::size_t dilation, std::size_t groups) {
  qk::ConvF32Desc d;
  d.in_h = h, d.in_w = w, d.in_c = cin, d.out_c = cout, d.kernel_h = d.kernel_w = k;
  d.stride_h = d.stride_w = stride;
  d.dilation_h = d.dilation_w = dilation;
  d.groups = groups;
  return d;
}

}  // namespace

TEST_CASE("conv_f32: every path against a double reference, every ISA") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(77);
    const float inf = std::numeric_limits<float>::infinity();
    // pointwise: odd channel counts around the GEMM panel widths, batch 2
    for (std::size_t cout : {1u, 7u, 16u, 33u, 144u}) {
      run(shape(5, 7, 13, cout, 1, 1, 1, 1), 2, rng, qk::ConvPath::pointwise, -inf, inf);
      run(shape(5, 7, 13, cout, 1, 1, 1, 1), 1, rng, qk::ConvPath::pointwise, -0.25f, 0.5f);
    }
    // gemm: strides 1-3, dilation 1-2, same and valid padding, asymmetric kernels, groups
    for (std::size_t stride : {1u, 2u, 3u})
      for (std::size_t dilation : {1u, 2u})
        for (std::size_t groups : {1u, 3u}) {
          qk::ConvF32Desc d = shape(11, 9, 6, 9, 3, stride, dilation, groups);
          d.kernel_w = 2;
          REQUIRE(d.set_same_padding().ok());
          run(d, 1, rng, qk::ConvPath::gemm, -inf, inf);
          d.set_valid_padding();
          run(d, 2, rng, qk::ConvPath::gemm, -0.5f, 0.75f);  // fused clamp
        }
    {  // the direct interior (A read from the input in kernel-row segments) with dilation_h only,
       // asymmetric padding and a 5x3 window; the edges gathered
      qk::ConvF32Desc d = shape(12, 13, 5, 20, 3, 1, 1, 1);
      d.kernel_h = 5, d.dilation_h = 2, d.pad_top = 3, d.pad_bottom = 2, d.pad_left = 2, d.pad_right = 1;
      run(d, 2, rng, qk::ConvPath::gemm, -inf, inf);
      d.stride_w = 2;
      run(d, 1, rng, qk::ConvPath::gemm, -inf, inf);
    }
    {  // padding wider than the kernel: whole rows and columns of outputs whose taps are all in the
       // padding (the bias alone), edge columns with 1 and 2 valid taps; direct, then gathered
       // (dilation_w 2), then direct with stride 2
      qk::ConvF32Desc d = shape(5, 4, 3, 10, 3, 1, 1, 1);
      d.pad_top = 4, d.pad_bottom = 3, d.pad_left = 3, d.pad_right = 4;
      run(d, 2, rng, qk::ConvPath::gemm, -inf, inf);
      d.dilation_w = 2;
      run(d, 1, rng, qk::ConvPath::gemm, -inf, inf);
      d.dilation_w = 1, d.stride_h = d.stride_w = 2;
      run(d, 1, rng, qk::ConvPath::gemm, -1.0f, 1.0f);
    }
    {  // weights over 256 KiB (gathered, groups 1): top and bottom rows on their valid kernel rows,
       // the middle rows in blocks; K = 576 is not a multiple of any panel width's K unroll
      qk::ConvF32Desc d = shape(7, 6, 64, 130, 3, 1, 1, 1);
      REQUIRE(d.set_same_padding().ok());
      run(d, 1, rng, qk::ConvPath::gemm, -inf, inf);
    }
    {  // 1x1 with padding or stride is a gather, not the in-place GEMM; OIHW weights
      qk::ConvF32Desc d = shape(6, 6, 5, 4, 1, 2, 1, 1);
      d.weight_layout = qk::ConvWeightLayout::oihw;
      run(d, 1, rng, qk::ConvPath::gemm, -inf, inf);
    }
    // depthwise (channels around the vector widths, HWO and OHWI weights), and a channel multiplier
    for (std::size_t c : {2u, 17u, 32u, 71u, 144u})
      for (std::size_t stride : {1u, 2u}) {
        qk::ConvF32Desc d = shape(9, 10, c, c, 3, stride, 1, c);
        REQUIRE(d.set_same_padding().ok());
        d.weight_layout = c % 2 == 0 ? qk::ConvWeightLayout::hwo : qk::ConvWeightLayout::ohwi;
        run(d, 1, rng, qk::ConvPath::depthwise, 0.0f, 6.0f);  // ReLU6
        d.dilation_h = d.dilation_w = 2;
        run(d, 2, rng, qk::ConvPath::depthwise, -inf, inf);
      }
    qk::ConvF32Desc mult = shape(7, 7, 4, 8, 3, 1, 1, 4);
    REQUIRE(mult.set_same_padding().ok());
    run(mult, 1, rng, qk::ConvPath::gemm, -inf, inf);
  }
}

// A small layer's workspace is its own im2col (one image's pixels), not a fixed 512 KiB block:
// what a microcontroller can give (docs/embedded.md). Its results are checked above (batch 2 of
// 99-pixel images runs in blocks of one image).
TEST_CASE("conv_f32: the workspace of a small layer is at most one image's im2col") {
  std::vector<float> w(9, 0.125f);
  qk::ConvF32Desc d = shape(4, 4, 1, 1, 3, 1, 1, 1);
  d.weights = w.data();
  REQUIRE(d.set_same_padding().ok());
  qk::ConvF32 layer;
  REQUIRE(layer.pack(d).ok());
  REQUIRE(layer.path() == qk::ConvPath::gemm);
  std::size_t bytes = 0;
  REQUIRE(qk::conv_f32_workspace_size(layer, &bytes).ok());
  CHECK(bytes == 0);  // the direct path reads the input in place
  d.dilation_w = 2;   // a gathered layer: horizontal dilation
  REQUIRE(d.set_same_padding().ok());
  REQUIRE(layer.pack(d).ok());
  REQUIRE(qk::conv_f32_workspace_size(layer, &bytes).ok());
  CHECK(bytes <= 16 * 9 * sizeof(float) + 64);
  CHECK(bytes >= 16 * 9 * sizeof(float));
}

TEST_CASE("conv_f32: bad shapes and arguments give a clear error and write nothing") {
  std::vector<float> w(8 * 3 * 3 * 4, 0.5f), x(6 * 6 * 4, 1.0f), y(6 * 6 * 8, 7.0f), ws(4096);
  qk::ConvF32Desc d = shape(6, 6, 4, 8, 3, 1, 1, 1);
  REQUIRE(d.set_same_padding().ok());
  qk::ConvF32 layer;
  qk::ConvF32Desc bad = d;
  CHECK(layer.pack(bad).code() == qk::StatusCode::null_pointer);  // no weights
  d.weights = w.data();
  bad = d, bad.groups = 3;
  CHECK(layer.pack(bad).code() == qk::StatusCode::bad_shape);
  bad = d, bad.kernel_h = 9, bad.set_valid_padding();
  CHECK(layer.pack(bad).code() == qk::StatusCode::bad_shape);
  bad = d, bad.stride_w = 0;
  CHECK(layer.pack(bad).code() == qk::StatusCode::bad_shape);
  bad = d, bad.in_w = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(layer.pack(bad).code() == qk::StatusCode::size_overflow);
  std::vector<float> nan_bias(8, 0.0f);
  nan_bias[5] = std::nanf("");
  bad = d, bad.bias = nan_bias.data();
  CHECK(layer.pack(bad).code() == qk::StatusCode::invalid_argument);
  CHECK_FALSE(layer.packed());
  std::size_t ws_bytes = 0;
  CHECK(qk::conv_f32_workspace_size(layer, &ws_bytes).code() == qk::StatusCode::invalid_argument);
  CHECK(qk::conv_f32(layer, 1, x.data(), y.data(), ws.data(), 4096).code() == qk::StatusCode::invalid_argument);

  d.dilation_w = 2;  // gathered, so that it has a workspace to get wrong (the direct path has none)
  REQUIRE(d.set_same_padding().ok());
  REQUIRE(layer.pack(d).ok());
  REQUIRE(qk::conv_f32_workspace_size(layer, &ws_bytes).ok());
  REQUIRE(ws_bytes > 0);
  CHECK(qk::conv_f32_workspace_size(layer, nullptr).code() == qk::StatusCode::null_pointer);
  CHECK(qk::conv_f32(layer, 1, nullptr, y.data(), ws.data(), ws_bytes).code() == qk::StatusCode::null_pointer);
  CHECK(qk::conv_f32(layer, 1, x.data(), nullptr, ws.data(), ws_bytes).code() == qk::StatusCode::null_pointer);
  CHECK(qk::conv_f32(layer, 1, x.data(), y.data(), nullptr, ws_bytes).code() == qk::StatusCode::null_pointer);
  CHECK(qk::conv_f32(layer, 1, x.data(), y.data(), ws.data(), ws_bytes - 1).code() == qk::StatusCode::buffer_too_small);
  CHECK(qk::conv_f32(layer, 1, x.data(), y.data(), ws.data(), ws_bytes, 1.0f, 0.0f).code() == qk::StatusCode::invalid_argument);
  CHECK(qk::conv_f32(layer, 1, x.data(), y.data(), ws.data(), ws_bytes, std::nanf(""), 1.0f).code() ==
        qk::StatusCode::invalid_argument);
  CHECK(qk::conv_f32(layer, std::numeric_limits<std::size_t>::max() / 4, x.data(), y.data(), ws.data(), ws_bytes).code() ==
        qk::StatusCode::size_overflow);
  for (float v : y) REQUIRE(v == 7.0f);
  CHECK(qk::conv_f32(layer, 0, nullptr, nullptr, nullptr, 0).ok());  // empty batch: nothing to do
}
