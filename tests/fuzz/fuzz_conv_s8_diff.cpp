// fuzz_conv_s8_diff: every int8 convolution path (pointwise, gathered GEMM incl. first-layer row
// runs, grouped, depthwise with channel multiplier) of every kernel family this machine runs
// (force_isa for each supported Isa) against qk::reference::conv2d_int8, bit for bit, on small
// fuzzed shapes: kernel sizes, strides, dilations, asymmetric padding, the three weight layouts,
// s8/u8 input and weights, input and weight zero points, bias, every output stage, batch > 1 and
// a thread pool.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_stage.hpp"
#include "qk/conv.hpp"
#include "qk/core/threading.hpp"
#include "qk/reference/conv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace qk_fuzz;
  Reader in(data, size);
  qk::ConvS8Desc d;
  const std::uint8_t shape = in.u8() % 4;  // 0 pointwise, 1 general, 2 depthwise, 3 grouped
  d.in_h = in.range(1, 12);
  d.in_w = in.range(1, 12);
  const std::size_t cg = in.range(1, shape == 2 ? 1 : 24);
  d.groups = shape == 2 ? in.range(2, 40) : (shape == 3 ? in.range(2, 4) : 1);
  d.in_c = cg * d.groups;
  d.out_c = d.groups * in.range(1, shape == 2 ? 4 : (shape == 3 ? 12 : 70));
  if (shape == 0) {
    d.kernel_h = d.kernel_w = 1;
  } else {
    d.kernel_h = in.range(1, 5);
    d.kernel_w = in.range(1, 5);
    d.stride_h = in.range(1, 3);
    d.stride_w = in.range(1, 3);
    d.dilation_h = in.u8() < 200 ? 1 : in.range(1, 3);
    d.dilation_w = in.u8() < 200 ? 1 : in.range(1, 3);
    if (in.flag()) {
      if (!d.set_same_padding(in.flag()).ok()) return 0;
    } else {
      d.pad_top = in.range(0, 3), d.pad_bottom = in.range(0, 3), d.pad_left = in.range(0, 3), d.pad_right = in.range(0, 3);
    }
  }
  const std::uint8_t layout = in.u8() % 3;
  d.weight_layout = layout == 2 && shape == 2 ? qk::ConvWeightLayout::hwo
                                              : (layout == 1 ? qk::ConvWeightLayout::oihw : qk::ConvWeightLayout::ohwi);
  if (d.out_h() == 0 || d.out_w() == 0) return 0;
  d.input_type = in.flag() ? qk::ElementType::u8 : qk::ElementType::s8;
  d.weight_type = in.flag() ? qk::ElementType::u8 : qk::ElementType::s8;
  const std::int32_t x_lo = qk::detail::type_lo(d.input_type), x_hi = qk::detail::type_hi(d.input_type);
  const std::int32_t w_lo = qk::detail::type_lo(d.weight_type), w_hi = qk::detail::type_hi(d.weight_type);
  d.input_zero_point = in.u8() < 100 ? 0 : in.irange(x_lo, x_hi);
  const std::uint8_t zw_mode = in.u8() % 3;
  std::vector<std::int32_t> zw(d.out_c, 0), bias(d.out_c, 0);
  for (auto& z : zw) z = in.u8() < 80 ? in.irange(w_lo, w_hi) : 0;
  d.weight_zero_point = zw_mode == 0 ? nullptr : zw.data();
  d.weight_zero_point_per_channel = zw_mode == 2;
  for (auto& b : bias) b = in.irange(-100000, 100000);
  if (in.flag()) d.bias = bias.data();
  StageData stage;
  valid_stage(in, d.out_c, &stage);
  const std::size_t batch = in.range(1, 2);
  const bool threads = in.u8() < 20;
  const bool extremes = in.u8() < 40;

  const std::size_t wcount = d.kernel_h * d.kernel_w * cg * d.out_c;
  std::vector<std::uint8_t> w(wcount), x(batch * d.in_h * d.in_w * d.in_c);
  for (auto& v : w) v = extremes ? (in.flag() ? 0x80 : 0x7F) : in.u8();
  for (auto& v : x) v = extremes ? (in.flag() ? 0x00 : 0xFF) : in.u8();
  d.weights = w.data();

  const std::size_t esize = qk::output_type_size(stage.stage.type);
  const std::size_t out_bytes = batch * d.out_h() * d.out_w() * d.out_c * esize;
  std::vector<std::uint8_t> expected(out_bytes);
  qk::reference::conv2d_int8(d, batch, x.data(), stage.stage, expected.data());

  static qk::ThreadPool pool(2);
  for (qk::Isa isa : supported_isas()) {
    ForcedIsa forced(isa);
    qk::ConvS8 layer;
    QK_FUZZ_OK(layer.pack(d));
    QK_FUZZ_CHECK(shape != 0 || layer.path() == qk::ConvPath::pointwise);
    QK_FUZZ_CHECK(shape != 2 || layer.path() == qk::ConvPath::depthwise);
    const std::size_t nthreads = threads ? 2 : 1;
    std::size_t ws = 0;
    QK_FUZZ_OK(qk::conv_s8_workspace_size(layer, batch, nthreads, &ws));
    std::vector<std::uint8_t> workspace(ws);
    Canary y(out_bytes + 64);
    QK_FUZZ_OK(qk::conv_s8(layer, batch, x.data(), stage.stage, y.data(), workspace.data(), workspace.size(),
                              threads ? &pool : nullptr)
                      );
    QK_FUZZ_CHECK(y.unchanged(out_bytes));
    if (std::memcmp(y.bytes.data(), expected.data(), out_bytes) != 0) {
      std::fprintf(stderr,
                   "isa=%s path=%s in=%zux%zux%zu out_c=%zu groups=%zu k=%zux%zu s=%zux%zu dil=%zux%zu pad=%zu,%zu,%zu,%zu "
                   "batch=%zu kind=%d\n",
                   qk::isa_name(isa), qk::conv_path_name(layer.path()), d.in_h, d.in_w, d.in_c, d.out_c, d.groups,
                   d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.dilation_h, d.dilation_w, d.pad_top, d.pad_bottom,
                   d.pad_left, d.pad_right, batch, static_cast<int>(stage.stage.kind));
      std::size_t i = 0;
      while (y.bytes[i] == expected[i]) ++i;
      const std::size_t elem = i / esize;
      std::fprintf(stderr, "first difference: output element %zu (pixel %zu, channel %zu), byte %zu: %d, reference %d; "
                   "input zp %d, weight zp %s, bias %s, types %d/%d, layout %d\n", elem, elem / d.out_c, elem % d.out_c,
                   i, y.bytes[i], expected[i], d.input_zero_point, zw_mode == 0 ? "none" : (zw_mode == 1 ? "tensor" : "channel"),
                   d.bias != nullptr ? "yes" : "no", static_cast<int>(d.input_type), static_cast<int>(d.weight_type),
                   static_cast<int>(d.weight_layout));
      std::size_t shown = 0;
      for (std::size_t e = 0; e < out_bytes / esize && shown < 12; ++e)
        if (std::memcmp(y.bytes.data() + e * esize, expected.data() + e * esize, esize) != 0)
          std::fprintf(stderr, "  differs: pixel %zu channel %zu\n", e / d.out_c, e % d.out_c), ++shown;
      fail("conv_s8 differs from reference::conv2d_int8", __FILE__, __LINE__);
    }
  }
  return 0;
}
