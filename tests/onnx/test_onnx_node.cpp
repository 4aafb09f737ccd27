// The reference interpreter against ONNX's own node tests (Debian libonnx-testdata): every test
// whose model the loader accepts must reproduce the expected outputs, or be refused with
// StatusCode::unsupported, and the refused ones are listed here so that a new refusal fails.
#include <catch2/catch.hpp>

#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"

namespace {

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  if (DIR* d = opendir(path.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') names.push_back(e->d_name);
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool exists(const std::string& p) {
  FILE* f = std::fopen(p.c_str(), "rb");
  if (f != nullptr) std::fclose(f);
  return f != nullptr;
}

// ONNX's backend tests compare floats with rtol 1e-3, atol 1e-7; integers exactly.
bool same(const qk::onnx::Tensor& got, const qk::onnx::Tensor& want, std::string* why) {
  if (got.type != want.type || got.dims != want.dims) {
    *why = "type or shape differs";
    return false;
  }
  if (got.type != qk::onnx::DataType::float32) {
    if (got.bytes != want.bytes) *why = "integer values differ";
    return got.bytes == want.bytes;
  }
  for (std::size_t i = 0; i < got.count(); ++i) {
    const float g = got.data<float>()[i], w = want.data<float>()[i];
    if (!(std::fabs(g - w) <= 1e-7f + 1e-3f * std::fabs(w))) {
      *why = "element " + std::to_string(i) + ": " + std::to_string(g) + " vs " + std::to_string(w);
      return false;
    }
  }
  return true;
}

// Tests of supported ops that use what the interpreter refuses on purpose: 1-D / 3-D windows,
// integer Add/Mul/Clip/MaxPool. (MaxPool's second output and BatchNormalization's training
// outputs are refused earlier, by the loader: more outputs than qk supports.)
const std::set<std::string> kRefused = {
    "test_averagepool_1d_default", "test_averagepool_3d_default", "test_maxpool_1d_default", "test_maxpool_3d_default",
    "test_add_uint8", "test_mul_uint8", "test_maxpool_2d_uint8", "test_clip_default_int8_inbounds",
    "test_clip_default_int8_max", "test_clip_default_int8_min",
};

}  // namespace

TEST_CASE("onnx reference interpreter: ONNX node tests", "[onnx]") {
  const std::string root = QK_ONNX_TESTDATA;
  if (list_dir(root).empty()) {
    WARN("ONNX node tests not found at " << root << " (Debian libonnx-testdata): skipped");
    return;
  }
  std::size_t passed = 0;
  std::set<std::string> refused;
  std::set<std::string> ops_seen;
  for (const std::string& test : list_dir(root)) {
    const std::string dir = root + "/" + test;
    qk::onnx::Model model;
    std::string error;
    if (!qk::onnx::load_file((dir + "/model.onnx").c_str(), &model, &error).ok()) continue;  // an op qk does not map
    if (!exists(dir + "/test_data_set_0/input_0.pb")) continue;
    for (const std::string& set : list_dir(dir)) {
      if (set.rfind("test_data_set_", 0) != 0) continue;
      std::vector<qk::onnx::Tensor> inputs, expected;
      for (std::size_t i = 0;; ++i) {
        const std::string p = dir + "/" + set + "/input_" + std::to_string(i) + ".pb";
        if (!exists(p)) break;
        qk::onnx::Tensor t;
        INFO(test << ": " << p << ": " << error);
        REQUIRE(qk::onnx::load_tensor_file(p.c_str(), &t, nullptr, &error).ok());
        inputs.push_back(std::move(t));
      }
      for (std::size_t i = 0;; ++i) {
        const std::string p = dir + "/" + set + "/output_" + std::to_string(i) + ".pb";
        if (!exists(p)) break;
        qk::onnx::Tensor t;
        REQUIRE(qk::onnx::load_tensor_file(p.c_str(), &t, nullptr, &error).ok());
        expected.push_back(std::move(t));
      }
      // Some node tests feed constant operands (Reshape's shape, Clip's bounds) as graph inputs.
      std::vector<qk::onnx::Tensor> got;
      const qk::Status st = qk::onnx::run_reference(model, inputs, &got, &error);
      INFO(test << "/" << set << ": " << error);
      if (!st.ok()) {
        CHECK(st.code() == qk::StatusCode::unsupported);
        CHECK(kRefused.count(test) == 1);
        refused.insert(test);
        continue;
      }
      CHECK(kRefused.count(test) == 0);
      REQUIRE(got.size() == expected.size());
      for (std::size_t i = 0; i < got.size(); ++i) {
        std::string why;
        INFO("output " << i);
        CHECK(same(got[i], expected[i], &why));
        if (!why.empty()) WARN(why);
      }
      ++passed;
      for (const auto& n : model.nodes) ops_seen.insert(qk::onnx::op_name(n.op));
    }
  }
  // Every supported op is exercised, and the refusals are exactly the listed ones.
  CHECK(refused == kRefused);
  for (const char* op : {"Conv", "Relu", "Clip", "Add", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm",
                         "MatMul", "Flatten", "Reshape", "Concat", "BatchNormalization", "Softmax", "QuantizeLinear",
                         "DequantizeLinear", "QLinearConv", "QLinearMatMul", "MatMulInteger", "ConvInteger", "Cast",
                         "DynamicQuantizeLinear"}) {
    INFO(op);
    CHECK(ops_seen.count(op) == 1);
  }
  CHECK(passed >= 100);
  WARN("ONNX node tests passed: " << passed);
}
