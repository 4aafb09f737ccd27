// ONNX conformance (Debian libonnx-testdata): QLinearConv and ConvInteger through qk::conv_s8,
// QLinearMatMul and MatMulInteger through qk::gemm_s8, bit-exact. NCHW tensors are converted
// to and from NHWC here; pads / strides / dilations / group come from model.onnx.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/isa_sweep.hpp"
#include "common/onnx_tensor.hpp"
#include "common/test_data.hpp"
#include "qk/conv.hpp"
#include "qk/gemm.hpp"

namespace {

namespace ox = qk_test::onnx;

std::string node_dir(const std::string& test) { return std::string(QK_ONNX_TESTDATA) + "/" + test; }

std::vector<ox::Tensor> load_all(const std::string& dir, const std::string& prefix) {
  std::vector<ox::Tensor> out;
  const std::size_t n = ox::count_files(dir, prefix);
  for (std::size_t i = 0; i < n; ++i) {
    ox::Tensor t;
    std::string error;
    INFO(error);
    REQUIRE(ox::read_tensor(dir + "/" + prefix + std::to_string(i) + ".pb", &t, &error));
    out.push_back(std::move(t));
  }
  return out;
}

qk::ElementType element_type(const ox::Tensor& t) {
  REQUIRE((t.type == ox::DataType::uint8 || t.type == ox::DataType::int8));
  return t.type == ox::DataType::int8 ? qk::ElementType::s8 : qk::ElementType::u8;
}

// Zero point tensor as int32 values (u8 or s8 elements).
std::vector<std::int32_t> zero_points(const ox::Tensor& t) {
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < t.element_count(); ++i)
    out.push_back(t.type == ox::DataType::int8 ? static_cast<std::int8_t>(t.bytes[i]) : static_cast<std::int32_t>(t.bytes[i]));
  return out;
}

float scalar_float(const ox::Tensor& t) {
  const auto v = t.as<float>();
  REQUIRE(v.size() == 1);
  return v[0];
}

std::vector<std::int64_t> ints_attr(const std::string& test, const char* op, const char* name, std::vector<std::int64_t> def) {
  std::vector<std::int64_t> v;
  bool found = false;
  std::string error;
  INFO(error);
  REQUIRE(ox::read_ints_attribute(node_dir(test) + "/model.onnx", op, name, &v, &found, &error));
  return found ? v : def;
}
std::int64_t int_attr(const std::string& test, const char* op, const char* name, std::int64_t def) {
  std::int64_t v = 0;
  bool found = false;
  std::string error;
  INFO(error);
  REQUIRE(ox::read_int_attribute(node_dir(test) + "/model.onnx", op, name, &v, &found, &error));
  return found ? v : def;
}

// QLinearConv (quantized output) or ConvInteger (int32 output). Returns outputs compared.
std::size_t run_conv(const std::string& test, bool qlinear) {
  const std::string dir = node_dir(test) + "/test_data_set_0";
  const auto in = load_all(dir, "input_");
  const auto outs = load_all(dir, "output_");
  REQUIRE(outs.size() == 1);
  REQUIRE(in.size() >= (qlinear ? 8u : 2u));  // x, w (and their scales and zero points)
  const char* op = qlinear ? "QLinearConv" : "ConvInteger";
  const ox::Tensor& x = in[0];
  const ox::Tensor& w = qlinear ? in[3] : in[1];
  REQUIRE(x.dims.size() == 4);
  REQUIRE(w.dims.size() == 4);
  const auto xs = x.shape(), ws = w.shape(), ys = outs[0].shape();
  const std::size_t n = xs[0], c = xs[1], h = xs[2], wd = xs[3], m = ws[0];
  qk::ConvS8Desc d;
  d.in_h = h, d.in_w = wd, d.in_c = c, d.out_c = m, d.kernel_h = ws[2], d.kernel_w = ws[3];
  const auto pads = ints_attr(test, op, "pads", {0, 0, 0, 0});
  const auto strides = ints_attr(test, op, "strides", {1, 1});
  const auto dil = ints_attr(test, op, "dilations", {1, 1});
  d.pad_top = static_cast<std::size_t>(pads[0]), d.pad_left = static_cast<std::size_t>(pads[1]);
  d.pad_bottom = static_cast<std::size_t>(pads[2]), d.pad_right = static_cast<std::size_t>(pads[3]);
  d.stride_h = static_cast<std::size_t>(strides[0]), d.stride_w = static_cast<std::size_t>(strides[1]);
  d.dilation_h = static_cast<std::size_t>(dil[0]), d.dilation_w = static_cast<std::size_t>(dil[1]);
  d.groups = static_cast<std::size_t>(int_attr(test, op, "group", 1));
  d.input_type = element_type(x);
  d.weight_type = element_type(w);
  d.weight_layout = qk::ConvWeightLayout::oihw;
  d.weights = w.bytes.data();
  std::vector<std::int32_t> zx, zw, bias;
  if (qlinear) {
    zx = zero_points(in[2]);
    zw = zero_points(in[5]);
    if (in.size() > 8) bias = in[8].as<std::int32_t>();
  } else {
    if (in.size() > 2) zx = zero_points(in[2]);
    if (in.size() > 3) zw = zero_points(in[3]);
  }
  d.input_zero_point = zx.empty() ? 0 : zx[0];
  if (!zw.empty()) {
    d.weight_zero_point = zw.data();
    d.weight_zero_point_per_channel = zw.size() > 1;
  }
  if (!bias.empty()) d.bias = bias.data();
  REQUIRE(d.out_h() == ys[2]);
  REQUIRE(d.out_w() == ys[3]);

  // NCHW -> NHWC.
  std::vector<std::uint8_t> xn(x.bytes.size());
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t ch = 0; ch < c; ++ch)
      for (std::size_t i = 0; i < h * wd; ++i) xn[(b * h * wd + i) * c + ch] = x.bytes[(b * c + ch) * h * wd + i];

  std::vector<float> scale(1);
  qk::OutputStage stage = qk::OutputStage::int32();
  if (qlinear) {
    const ox::Tensor& y = outs[0];
    const auto yzp = zero_points(in[7]);
    const auto wscale = in[4].as<float>();
    scale.resize(wscale.size());
    for (std::size_t i = 0; i < wscale.size(); ++i) scale[i] = scalar_float(in[1]) * wscale[i] / scalar_float(in[6]);
    const qk::OutputType t = y.type == ox::DataType::int8 ? qk::OutputType::s8 : qk::OutputType::u8;
    stage = qk::OutputStage::float_requant(t, scale.data(), scale.size() > 1, yzp[0], qk::detail::type_min(t),
                                           qk::detail::type_max(t));
  }
  qk::ConvS8 layer;
  REQUIRE(layer.pack(d).ok());
  std::size_t ws_bytes = 0;
  REQUIRE(qk::conv_s8_workspace_size(layer, n, 1, &ws_bytes).ok());
  std::vector<std::uint8_t> wsp(ws_bytes);
  const std::size_t es = qk::output_type_size(stage.type), oh = ys[2], ow = ys[3];
  std::vector<std::uint8_t> got(n * oh * ow * m * es);
  REQUIRE(qk::conv_s8(layer, n, xn.data(), stage, got.data(), wsp.data(), ws_bytes).ok());
  // NHWC -> NCHW, compared bytewise with the expected tensor.
  std::vector<std::uint8_t> nchw(got.size());
  for (std::size_t b = 0; b < n; ++b)
    for (std::size_t ch = 0; ch < m; ++ch)
      for (std::size_t i = 0; i < oh * ow; ++i)
        std::memcpy(&nchw[((b * m + ch) * oh * ow + i) * es], &got[((b * oh * ow + i) * m + ch) * es], es);
  REQUIRE(nchw.size() == outs[0].bytes.size());
  CHECK(nchw == outs[0].bytes);
  return outs[0].element_count();
}

// QLinearMatMul (quantized output) or MatMulInteger (int32). A [..., M, K], B [..., K, N] or [K, N].
std::size_t run_matmul(const std::string& test, bool qlinear) {
  const std::string dir = node_dir(test) + "/test_data_set_0";
  const auto in = load_all(dir, "input_");
  const auto outs = load_all(dir, "output_");
  REQUIRE(outs.size() == 1);
  REQUIRE(in.size() >= (qlinear ? 8u : 2u));
  const ox::Tensor& a = in[0];
  const ox::Tensor& b = qlinear ? in[3] : in[1];
  const auto as = a.shape(), bs = b.shape();
  const std::size_t m = as[as.size() - 2], k = as[as.size() - 1], nn = bs[bs.size() - 1];
  REQUIRE(bs[bs.size() - 2] == k);
  const std::size_t batches = a.element_count() / (m * k), b_batches = b.element_count() / (k * nn);
  std::vector<std::int32_t> za, zb;
  std::vector<float> scale(1);
  qk::OutputStage stage = qk::OutputStage::int32();
  if (qlinear) {
    za = zero_points(in[2]);
    zb = zero_points(in[5]);
    const auto bscale = in[4].as<float>();
    scale.resize(bscale.size());
    for (std::size_t i = 0; i < bscale.size(); ++i) scale[i] = scalar_float(in[1]) * bscale[i] / scalar_float(in[6]);
    const auto yzp = zero_points(in[7]);
    const qk::OutputType t = outs[0].type == ox::DataType::int8 ? qk::OutputType::s8 : qk::OutputType::u8;
    stage = qk::OutputStage::float_requant(t, scale.data(), scale.size() > 1, yzp[0], qk::detail::type_min(t),
                                           qk::detail::type_max(t));
  } else {
    if (in.size() > 2) za = zero_points(in[2]);
    if (in.size() > 3) zb = zero_points(in[3]);
  }
  const std::size_t es = qk::output_type_size(stage.type);
  std::vector<std::uint8_t> got(batches * m * nn * es);
  for (std::size_t bi = 0; bi < batches; ++bi) {
    qk::GemmS8WeightsDesc d;
    d.k = k, d.n = nn, d.stride_k = nn, d.stride_n = 1;
    d.data = b.bytes.data() + (b_batches == 1 ? 0 : bi) * k * nn;
    d.b_type = element_type(b);
    d.a_type = element_type(a);
    d.a_zero_point = za.empty() ? 0 : za[0];
    if (!zb.empty()) {
      d.zero_point = zb.data();
      d.zero_point_per_column = zb.size() > 1;
    }
    qk::GemmS8Weights w;
    REQUIRE(w.pack(d).ok());
    REQUIRE(qk::gemm_s8(w, m, a.bytes.data() + bi * m * k, k, stage, got.data() + bi * m * nn * es, nn).ok());
  }
  REQUIRE(got.size() == outs[0].bytes.size());
  CHECK(got == outs[0].bytes);
  return outs[0].element_count();
}

}  // namespace

TEST_CASE("conv_s8 / gemm_s8: ONNX QLinearConv, ConvInteger, QLinearMatMul, MatMulInteger node tests") {
  if (qk_test::skip_missing_data(QK_ONNX_TESTDATA, "the ONNX node tests (Debian libonnx-testdata)")) return;
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    const char* conv_tests[] = {"test_qlinearconv", "test_convinteger_with_padding", "test_convinteger_without_padding",
                                "test_basic_convinteger"};
    for (const char* t : conv_tests) {
      INFO(t);
      REQUIRE(ox::directory_exists(node_dir(t)));
      outputs += run_conv(t, std::string(t) == "test_qlinearconv");
    }
    const char* mm_tests[] = {"test_qlinearmatmul_2D", "test_qlinearmatmul_3D", "test_matmulinteger"};
    for (const char* t : mm_tests) {
      INFO(t);
      REQUIRE(ox::directory_exists(node_dir(t)));
      outputs += run_matmul(t, std::string(t) != "test_matmulinteger");
    }
    WARN("ONNX (" << qk::isa_name(isa) << "): 7 node tests, " << outputs << " outputs exact");
  }
}
