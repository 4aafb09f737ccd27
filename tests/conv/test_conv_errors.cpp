// Bad shapes and parameters: a clear Status, and nothing written.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "qk/conv.hpp"

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
