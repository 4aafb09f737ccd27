// Bad shapes and parameters: a clear Status, and nothing written.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "common/sanitizers.hpp"
#include "qk/conv.hpp"
#include "qk/conv_f32.hpp"
#include "qk/reference/conv.hpp"

namespace {

struct Layer {
  std::vector<std::int8_t> w = std::vector<std::int8_t>(8 * 3 * 3 * 4, 1);
  std::vector<std::int32_t> mult = std::vector<std::int32_t>(8, 1 << 30), shift = std::vector<std::int32_t>(8, -4);
  qk::ConvS8Desc d;
  Layer() {
    d.in_h = d.in_w = 6, d.in_c = 4, d.out_c = 8, d.kernel_h = d.kernel_w = 3;
    d.weights = w.data();
    REQUIRE(d.set_same_padding().ok());
  }
  qk::OutputStage out() const {
    return qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, 0, -128, 127);
  }
};

qk::StatusCode pack_code(const qk::ConvS8Desc& d) {
  qk::ConvS8 layer;
  const qk::Status st = layer.pack(d);
  CHECK(layer.packed() == st.ok());
  return st.code();
}

}  // namespace

TEST_CASE("conv_s8: invalid layer descriptions are refused at packing") {
  using qk::StatusCode;
  Layer L;
  REQUIRE(pack_code(L.d) == StatusCode::ok);
  auto with = [&](auto edit) {
    qk::ConvS8Desc d = L.d;
    edit(d);
    return pack_code(d);
  };
  CHECK(with([](qk::ConvS8Desc& d) { d.weights = nullptr; }) == StatusCode::null_pointer);
  CHECK(with([](qk::ConvS8Desc& d) { d.in_h = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.in_c = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.out_c = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.kernel_w = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.stride_h = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.dilation_w = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.groups = 0; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.groups = 3; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.kernel_h = 9; }) == StatusCode::bad_shape);  // larger than 6 + 2
  CHECK(with([](qk::ConvS8Desc& d) { d.dilation_h = 4; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.weight_layout = qk::ConvWeightLayout::hwo; }) == StatusCode::bad_shape);
  CHECK(with([](qk::ConvS8Desc& d) { d.input_zero_point = 128; }) == StatusCode::invalid_argument);
  CHECK(with([](qk::ConvS8Desc& d) { d.input_type = qk::ElementType::u8, d.input_zero_point = -1; }) ==
        StatusCode::invalid_argument);
  static const std::int32_t bad_zw = 300;
  CHECK(with([](qk::ConvS8Desc& d) { d.weight_zero_point = &bad_zw; }) == StatusCode::invalid_argument);
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  CHECK(with([&](qk::ConvS8Desc& d) { d.in_h = huge; }) == StatusCode::size_overflow);
  CHECK(with([&](qk::ConvS8Desc& d) { d.in_h = d.in_w = std::size_t{1} << 30, d.in_c = d.out_c = std::size_t{1} << 20; }) ==
        StatusCode::size_overflow);
  qk::ConvS8Desc same = L.d;
  same.stride_h = 0;
  CHECK(same.set_same_padding().code() == StatusCode::bad_shape);
}

TEST_CASE("conv_s8: invalid calls are refused and write nothing") {
  using qk::StatusCode;
  Layer L;
  qk::ConvS8 layer;
  REQUIRE(layer.pack(L.d).ok());
  REQUIRE(layer.path() == qk::ConvPath::gemm);
  std::vector<std::int8_t> x(2 * 6 * 6 * 4, 3), y(2 * 6 * 6 * 8 + 16, 0x55);
  std::size_t ws_bytes = 0;
  REQUIRE(qk::conv_s8_workspace_size(layer, 2, 1, &ws_bytes).ok());
  REQUIRE(ws_bytes > 0);
  std::vector<std::uint8_t> ws(ws_bytes);
  const auto untouched = [&] {
    for (std::int8_t v : y)
      if (v != 0x55) return false;
    return true;
  };
  CHECK(qk::conv_s8(qk::ConvS8(), 2, x.data(), L.out(), y.data(), ws.data(), ws_bytes).code() == StatusCode::invalid_argument);
  CHECK(qk::conv_s8(layer, 2, nullptr, L.out(), y.data(), ws.data(), ws_bytes).code() == StatusCode::null_pointer);
  CHECK(qk::conv_s8(layer, 2, x.data(), L.out(), nullptr, ws.data(), ws_bytes).code() == StatusCode::null_pointer);
  CHECK(qk::conv_s8(layer, 2, x.data(), L.out(), y.data(), nullptr, ws_bytes).code() == StatusCode::null_pointer);
  CHECK(qk::conv_s8(layer, 2, x.data(), L.out(), y.data(), ws.data(), ws_bytes - 1).code() == StatusCode::buffer_too_small);
  CHECK(qk::conv_s8(layer, std::numeric_limits<std::size_t>::max() / 4, x.data(), L.out(), y.data(), ws.data(), ws_bytes)
            .code() == StatusCode::size_overflow);
  qk::OutputStage bad = L.out();
  bad.qmin = 100, bad.qmax = 50;
  CHECK(qk::conv_s8(layer, 2, x.data(), bad, y.data(), ws.data(), ws_bytes).code() == StatusCode::invalid_argument);
  bad = L.out();
  bad.multiplier = nullptr;
  CHECK(qk::conv_s8(layer, 2, x.data(), bad, y.data(), ws.data(), ws_bytes).code() == StatusCode::null_pointer);
  bad = qk::OutputStage::int32();
  bad.type = qk::OutputType::s8;
  CHECK(qk::conv_s8(layer, 2, x.data(), bad, y.data(), ws.data(), ws_bytes).code() == StatusCode::invalid_argument);
  CHECK(untouched());
  std::size_t dummy = 0;
  CHECK(qk::conv_s8_workspace_size(layer, 1, 1, nullptr).code() == StatusCode::null_pointer);
  CHECK(qk::conv_s8_workspace_size(qk::ConvS8(), 1, 1, &dummy).code() == StatusCode::invalid_argument);
  // Batch 0: nothing to do, nothing written.
  CHECK(qk::conv_s8(layer, 0, x.data(), L.out(), y.data(), nullptr, 0).ok());
  CHECK(untouched());
  // And the valid call writes exactly the output.
  REQUIRE(qk::conv_s8(layer, 2, x.data(), L.out(), y.data(), ws.data(), ws_bytes).ok());
  for (std::size_t i = 2 * 6 * 6 * 8; i < y.size(); ++i) CHECK(y[i] == 0x55);
}

TEST_CASE("conv_s8: path selection") {
  Layer L;
  auto path_of = [](const qk::ConvS8Desc& d) {
    qk::ConvS8 layer;
    REQUIRE(layer.pack(d).ok());
    return layer.path();
  };
  CHECK(path_of(L.d) == qk::ConvPath::gemm);
  qk::ConvS8Desc p = L.d;
  p.kernel_h = p.kernel_w = 1;
  p.set_valid_padding();
  CHECK(path_of(p) == qk::ConvPath::pointwise);
  p.stride_w = 2;
  CHECK(path_of(p) == qk::ConvPath::gemm);
  qk::ConvS8Desc dw = L.d;
  dw.groups = 4;
  CHECK(path_of(dw) == qk::ConvPath::depthwise);
  qk::ConvS8Desc grouped = L.d;
  grouped.groups = 2;
  CHECK(path_of(grouped) == qk::ConvPath::gemm);
}

// ---- Issue 18: validation gaps (each of these failed before its fix) ----------------------------

TEST_CASE("conv_s8: enum values outside their enums are refused (issue 18)") {
  using qk::StatusCode;
  Layer L;
  auto with = [&](auto edit) {
    qk::ConvS8Desc d = L.d;
    edit(d);
    return pack_code(d);
  };
  CHECK(with([](qk::ConvS8Desc& d) { d.weight_layout = static_cast<qk::ConvWeightLayout>(9); }) == StatusCode::invalid_argument);
  CHECK(with([](qk::ConvS8Desc& d) { d.input_type = static_cast<qk::ElementType>(5); }) == StatusCode::invalid_argument);
  CHECK(with([](qk::ConvS8Desc& d) { d.weight_type = static_cast<qk::ElementType>(-3); }) == StatusCode::invalid_argument);
  qk::ConvF32Desc f;
  static_cast<qk::ConvGeometry&>(f) = L.d;
  std::vector<float> wf(L.w.size(), 1.0f);
  f.weights = wf.data();
  f.weight_layout = static_cast<qk::ConvWeightLayout>(3);
  qk::ConvF32 lf;
  CHECK(lf.pack(f).code() == StatusCode::invalid_argument);
  CHECK_FALSE(lf.packed());
}

TEST_CASE("conv_s8: K whose int32 sums could overflow is refused (issue 18)") {
  // K = kernel_h * kernel_w * in_c / groups must stay <= INT32_MAX / 255 (see qk::kMaxGemmK).
  const std::size_t k_max = static_cast<std::size_t>(std::numeric_limits<std::int32_t>::max() / 255);
  std::vector<std::int8_t> w(k_max + 1, -128);
  qk::ConvS8Desc d;
  d.in_h = d.in_w = 1, d.in_c = k_max + 1, d.out_c = 1, d.kernel_h = d.kernel_w = 1;
  d.weights = w.data();
  CHECK(pack_code(d) == qk::StatusCode::size_overflow);
  // Depthwise: K is the number of taps.
  qk::ConvS8Desc dw;
  dw.in_h = 1, dw.in_w = k_max + 1, dw.in_c = dw.out_c = dw.groups = 2, dw.kernel_h = 1, dw.kernel_w = k_max + 1;
  dw.weight_layout = qk::ConvWeightLayout::hwo;
  std::vector<std::int8_t> wd(2 * (k_max + 1), 1);
  dw.weights = wd.data();
  CHECK(pack_code(dw) == qk::StatusCode::size_overflow);
}

TEST_CASE("conv_f32: a workspace size that overflows is refused at packing (issue 18)") {
  // A 2^29 x 2^29 kernel over a padded 1x1 image, 32 x 32 outputs: K = 2^58 and a workspace of
  // 128 im2col rows of K floats, 2^67 bytes. Before the fix, packing tried to allocate the 2^60-byte
  // weight staging buffer with a throwing new inside noexcept (std::terminate), and
  // conv_f32_workspace_size would then have wrapped.
  qk::ConvF32Desc d;
  d.in_h = d.in_w = 1, d.in_c = 1, d.out_c = 1, d.kernel_h = d.kernel_w = std::size_t{1} << 29;
  d.pad_top = d.pad_left = std::size_t{1} << 28;
  d.pad_bottom = d.pad_right = (std::size_t{1} << 28) + 30;
  REQUIRE(d.out_h() == 32);
  float w[1] = {1.0f};
  d.weights = w;  // never read: refused first
  qk::ConvF32 layer;
  CHECK(layer.pack(d).code() == qk::StatusCode::size_overflow);
  CHECK_FALSE(layer.packed());
}


TEST_CASE("conv_s8: an allocation that cannot succeed at packing returns a status instead of terminating (issue 18)") {
#if defined(QK_TEST_ASAN)
  // ASan's allocator aborts on a request above its maximum even for new (std::nothrow), unless
  // ASAN_OPTIONS=allocator_may_return_null=1.
  WARN("skipped under AddressSanitizer");
#else
  // Shapes that pass every overflow check but whose packing buffers exceed any address space.
  // Before the fix they were std::vectors: std::bad_alloc inside the noexcept pack(), i.e.
  // std::terminate. The weights are never read: the allocation fails first.
  static const std::int8_t w[1] = {1};
  qk::ConvS8Desc d;  // gemm path (stride 2): the weight staging buffer is 2^50 x 4 bytes
  d.in_h = d.in_w = 1, d.in_c = 1, d.out_c = std::size_t{1} << 50, d.kernel_h = d.kernel_w = 1, d.stride_h = d.stride_w = 2;
  d.weights = w;
  qk::ConvS8 layer;
  qk::Status st = layer.pack(d);
  CHECK(st.code() == qk::StatusCode::out_of_memory);
  CHECK_FALSE(layer.packed());
  qk::ConvS8Desc dw;  // depthwise, channel multiplier 2^54: 2 taps x 2^55 channels of int32
  dw.in_h = dw.in_w = 1, dw.in_c = dw.groups = 2, dw.out_c = std::size_t{1} << 55, dw.kernel_h = dw.kernel_w = 1;
  dw.weights = w;
  st = layer.pack(dw);
  CHECK(st.code() == qk::StatusCode::out_of_memory);
  CHECK_FALSE(layer.packed());
#endif
}

// ---- Uses API added with the issue 18 fixes ----------------------------------------------------

TEST_CASE("conv: error statuses name the argument and its value (issue 18)") {
  Layer L;
  qk::ConvS8Desc d = L.d;
  d.stride_w = 0;
  qk::ConvS8 layer;
  qk::Status st = layer.pack(d);
  CHECK(std::string(qk::StatusText(st).c_str()).find("stride_w = 0") != std::string::npos);
  d = L.d;
  d.input_zero_point = 300;
  st = layer.pack(d);
  CHECK(std::string(qk::StatusText(st).c_str()).find("input_zero_point = 300") != std::string::npos);
  d = L.d;
  d.weight_layout = static_cast<qk::ConvWeightLayout>(9);
  st = layer.pack(d);
  CHECK(std::string(qk::StatusText(st).c_str()).find("weight_layout = 9") != std::string::npos);
  d = L.d;
  d.groups = 3;
  st = layer.pack(d);
  CHECK(std::string(qk::StatusText(st).c_str()).find("groups = 3") != std::string::npos);
  REQUIRE(layer.pack(L.d).ok());
  std::vector<std::int8_t> x(6 * 6 * 4, 3), y(6 * 6 * 8, 0);
  std::int32_t bad_shift = -32;
  qk::OutputStage out = L.out();
  out.shift = &bad_shift;
  out.per_channel = false;
  std::size_t ws_bytes = 0;
  REQUIRE(qk::conv_s8_workspace_size(layer, 1, 1, &ws_bytes).ok());
  std::vector<std::uint8_t> ws(ws_bytes);
  st = qk::conv_s8(layer, 1, x.data(), out, y.data(), ws.data(), ws_bytes);
  CHECK(std::string(qk::StatusText(st).c_str()).find("shift = -32") != std::string::npos);
}

TEST_CASE("conv_same_padding: huge strides and inputs do not wrap") {
  // Found by tests/fuzz/fuzz_conv: ceil(input / stride) was computed as (input + stride - 1) /
  // stride, which wraps for a stride near SIZE_MAX (here: a padding 65 too large), and the
  // padding total wrapped to 0 for an input near SIZE_MAX.
  qk::ConvPad pad;
  const std::size_t huge_stride = std::numeric_limits<std::size_t>::max() - 64;
  REQUIRE(qk::conv_same_padding(256, 4, huge_stride, 1000, true, &pad));
  CHECK(pad.before == 1372);  // one output: 3 * 1000 + 1 - 256 = 2745 padding
  CHECK(pad.after == 1373);
  CHECK_FALSE(qk::conv_same_padding(std::numeric_limits<std::size_t>::max(), 2, 1, 1, true, &pad));
  CHECK(pad.before == 1372);
}

TEST_CASE("conv_s8: row runs whose last pixel's left-over bytes reach the end of the padded row") {
  // Found by tests/fuzz/fuzz_conv_s8_diff: on the AVX-512 families (composed K groups), a 3x3
  // convolution over 11 x 5-channel rows (pad 1) read the last pixel's left-over bytes one past
  // its padded input row, i.e. from the next row of the workspace (the previous output row's
  // composed groups): the last pixel of every output row but the first was wrong.
  qk::ConvS8Desc d;
  d.in_h = 5, d.in_w = 11, d.in_c = 5, d.out_c = 8, d.kernel_h = d.kernel_w = 3;
  d.pad_top = d.pad_bottom = d.pad_left = d.pad_right = 1;
  std::vector<std::int8_t> w(9 * 5 * 8), x(5 * 11 * 5);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::int8_t>(i * 37 % 251);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::int8_t>(i * 91 % 253);
  d.weights = w.data();
  const qk::OutputStage out = qk::OutputStage::int32();
  std::vector<std::int32_t> expected(5 * 11 * 8);
  qk::reference::conv2d_int8(d, 1, x.data(), out, expected.data());
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    if (!qk::isa_supported(isa)) continue;
    qk::ConvS8 layer;
    REQUIRE(layer.pack(d, isa).ok());
    std::size_t ws = 0;
    REQUIRE(qk::conv_s8_workspace_size(layer, 1, 1, &ws).ok());
    std::vector<std::uint8_t> workspace(ws);
    std::vector<std::int32_t> y(expected.size(), 0);
    REQUIRE(qk::conv_s8(layer, 1, x.data(), out, y.data(), workspace.data(), ws).ok());
    CHECK(y == expected);
  }
}
