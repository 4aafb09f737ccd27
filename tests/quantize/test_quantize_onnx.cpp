// ONNX's own node tests for QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear
// (Debian libonnx-testdata), bit exact, on every ISA this machine runs.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "common/isa_sweep.hpp"
#include "common/onnx_tensor.hpp"
#include "common/test_data.hpp"

#include <onnx/onnx_pb.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include "qk/quantize.hpp"
#include "quantize/test_common.hpp"

namespace ox = qk_test::onnx;  // ::onnx is the protobuf namespace

namespace {

const std::string kRoot = QK_ONNX_TESTDATA;

// Loads model + test_data_set_0 of one node test. false (after a WARN) if the ONNX data folder
// is absent (a user's machine; a failure under CI); a node test missing from a folder that
// exists is a failure, never a skip.
struct NodeTest {
  std::vector<ox::Tensor> inputs, outputs;
  std::string model;
};

bool load(const std::string& name, NodeTest* t) {
  if (qk_test::skip_missing_data(kRoot, "the ONNX node tests (install libonnx-testdata or set QK_ONNX_TESTDATA)"))
    return false;
  const std::string dir = kRoot + "/" + name;
  INFO("node test " << dir);
  REQUIRE(ox::directory_exists(dir));
  t->model = dir + "/model.onnx";
  const std::string data = dir + "/test_data_set_0";
  const std::size_t ni = ox::count_files(data, "input_"), no = ox::count_files(data, "output_");
  REQUIRE(ni > 0);
  REQUIRE(no > 0);
  for (std::size_t i = 0; i < ni + no; ++i) {
    const bool is_in = i < ni;
    const std::string path = data + (is_in ? "/input_" + std::to_string(i) : "/output_" + std::to_string(i - ni)) + ".pb";
    ox::Tensor tensor;
    std::string err;
    if (!ox::read_tensor(path, &tensor, &err)) FAIL(err);
    (is_in ? t->inputs : t->outputs).push_back(std::move(tensor));
  }
  return true;
}

template <class T>
std::vector<T> get(const ox::Tensor& t) {
  bool ok = false;
  std::vector<T> v = t.template as<T>(&ok);
  INFO("tensor " << t.name << " has data_type " << static_cast<int>(t.type));
  REQUIRE(ok);
  return v;
}

std::int64_t axis_attribute(const std::string& model) {
  std::int64_t axis = 1;  // ONNX default for QuantizeLinear / DequantizeLinear
  bool found = false;
  std::string err;
  if (!ox::read_int_attribute(model, "", "axis", &axis, &found, &err)) FAIL(err);
  return found ? axis : 1;
}

template <class Z>
std::vector<std::int32_t> widen(const std::vector<Z>& z) {
  return std::vector<std::int32_t>(z.begin(), z.end());
}

void run_quantizelinear(const std::string& name, bool per_axis) {
  NodeTest t;
  if (!load(name, &t)) return;
  REQUIRE(t.inputs.size() == 3);
  const auto x = get<float>(t.inputs[0]);
  const auto scales = get<float>(t.inputs[1]);
  const auto zps = widen(get<std::uint8_t>(t.inputs[2]));
  const auto want = get<std::uint8_t>(t.outputs[0]);
  const auto dims = t.inputs[0].shape();
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    std::vector<std::uint8_t> y(x.size(), 0xEE);
    if (per_axis) {
      const int axis = static_cast<int>(axis_attribute(t.model));
      REQUIRE(qk::quantize_per_axis<std::uint8_t>(x.data(), dims.data(), dims.size(), axis, scales.data(), zps.data(),
                                                  scales.size(), y.data())
                  .ok());
    } else {
      REQUIRE(scales.size() == 1);
      REQUIRE(qk::quantize<std::uint8_t>(x.data(), x.size(), scales[0], zps[0], y.data()).ok());
    }
    CHECK(y == want);
  }
}

void run_dequantizelinear(const std::string& name, bool per_axis) {
  NodeTest t;
  if (!load(name, &t)) return;
  REQUIRE(t.inputs.size() == 3);
  const auto q = get<std::uint8_t>(t.inputs[0]);
  const auto scales = get<float>(t.inputs[1]);
  const auto zps = widen(get<std::uint8_t>(t.inputs[2]));
  const auto want = get<float>(t.outputs[0]);
  const auto dims = t.inputs[0].shape();
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    std::vector<float> y(q.size(), -1.0f);
    if (per_axis) {
      const int axis = static_cast<int>(axis_attribute(t.model));
      REQUIRE(qk::dequantize_per_axis<std::uint8_t>(q.data(), dims.data(), dims.size(), axis, scales.data(),
                                                    zps.data(), scales.size(), y.data())
                  .ok());
    } else {
      REQUIRE(scales.size() == 1);
      REQUIRE(qk::dequantize<std::uint8_t>(q.data(), q.size(), scales[0], zps[0], y.data()).ok());
    }
    REQUIRE(y.size() == want.size());
    for (std::size_t i = 0; i < y.size(); ++i) CHECK(qk_test::same_bits(y[i], want[i]));
  }
}

void run_dynamic(const std::string& name) {
  NodeTest t;
  if (!load(name, &t)) return;
  REQUIRE(t.inputs.size() == 1);
  REQUIRE(t.outputs.size() == 3);
  const auto x = get<float>(t.inputs[0]);
  const auto want_y = get<std::uint8_t>(t.outputs[0]);
  const auto want_scale = get<float>(t.outputs[1]);
  const auto want_zp = get<std::uint8_t>(t.outputs[2]);
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    std::vector<std::uint8_t> y(x.size(), 0xEE);
    float scale = 0.0f;
    std::uint8_t zp = 0;
    REQUIRE(qk::dynamic_quantize_linear(x.data(), x.size(), y.data(), &scale, &zp).ok());
    CHECK(qk_test::same_bits(scale, want_scale.at(0)));
    CHECK(zp == want_zp.at(0));
    CHECK(y == want_y);
  }
}

}  // namespace

TEST_CASE("onnx test_quantizelinear") { run_quantizelinear("test_quantizelinear", false); }
TEST_CASE("onnx test_quantizelinear_axis") { run_quantizelinear("test_quantizelinear_axis", true); }
TEST_CASE("onnx test_dequantizelinear") { run_dequantizelinear("test_dequantizelinear", false); }
TEST_CASE("onnx test_dequantizelinear_axis") { run_dequantizelinear("test_dequantizelinear_axis", true); }
TEST_CASE("onnx test_dynamicquantizelinear") { run_dynamic("test_dynamicquantizelinear"); }
TEST_CASE("onnx test_dynamicquantizelinear_max_adjusted") { run_dynamic("test_dynamicquantizelinear_max_adjusted"); }
TEST_CASE("onnx test_dynamicquantizelinear_min_adjusted") { run_dynamic("test_dynamicquantizelinear_min_adjusted"); }

TEST_CASE("onnx tensor reader: typed fields and errors") {
  ox::Tensor t;
  std::string err;
  CHECK_FALSE(ox::read_tensor("/nonexistent/file.pb", &t, &err));
  CHECK_FALSE(err.empty());

  // int8 values in int32_data (the typed field), dims {2, 2}
  ::onnx::TensorProto proto;
  proto.set_name("w");
  proto.set_data_type(::onnx::TensorProto::INT8);
  proto.add_dims(2);
  proto.add_dims(2);
  for (int v : {-128, -1, 0, 127}) proto.add_int32_data(v);
  char path_buf[] = "/tmp/qk_onnx_tensor_XXXXXX";
  const int fd = ::mkstemp(path_buf);
  REQUIRE(fd >= 0);
  ::close(fd);
  const std::string path = path_buf;
  {
    std::ofstream out(path, std::ios::binary);
    REQUIRE(proto.SerializeToOstream(&out));
  }
  REQUIRE(ox::read_tensor(path, &t, &err));
  std::remove(path.c_str());
  CHECK(t.name == "w");
  CHECK(t.shape() == std::vector<std::size_t>{2, 2});
  CHECK(t.as<std::int8_t>() == std::vector<std::int8_t>{-128, -1, 0, 127});
  bool ok = true;
  CHECK(t.as<std::uint8_t>(&ok).empty());
  CHECK_FALSE(ok);
}
