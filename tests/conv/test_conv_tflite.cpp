// TFLite conformance: every 8-bit-weight case of ../shared/testdata/tflite-int (conv2d, grouped,
// depthwise through qk::conv_s8; fully_connected through qk::gemm_s8), bit-exact, on every ISA.
// Skipped with a warning when the folder is absent (a user's machine).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/isa_sweep.hpp"
#include "qk/conv.hpp"
#include "qk/gemm.hpp"

namespace {

std::vector<std::string> case_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) out.push_back(dir + "/" + name);
  }
  closedir(d);
  return out;
}

template <class T>
std::vector<T> vec(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::vector<T>>();
}
std::size_t sz(const nlohmann::json& j, const char* key) { return j.at(key).get<std::size_t>(); }

// Runs one case on the active ISA; returns the number of outputs compared.
std::size_t run_tflite_case(const nlohmann::json& j) {
  const std::string op = j.at("op").get<std::string>();
  const auto input = vec<std::int8_t>(j, "input");
  const auto weights = vec<std::int8_t>(j, "weights");
  const auto bias = vec<std::int32_t>(j, "bias");
  const auto mult = vec<std::int32_t>(j, "output_multiplier");
  const auto shift = vec<std::int32_t>(j, "output_shift");
  const auto expected = vec<std::int8_t>(j, "expected_output");
  const std::int32_t input_offset = j.at("input_offset").get<std::int32_t>();
  const std::int32_t output_offset = j.at("output_offset").get<std::int32_t>();
  const auto out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true, output_offset,
                                                        j.at("act_min").get<std::int32_t>(), j.at("act_max").get<std::int32_t>());
  std::vector<std::int8_t> got(expected.size() + 16, 0x5A);
  const std::size_t batches = sz(j, "batches");
  if (op == "fully_connected") {
    const std::size_t k = sz(j, "accumulation_depth"), n = sz(j, "out_ch");
    qk::GemmS8WeightsDesc d = qk::GemmS8WeightsDesc::n_by_k(n, k, weights.data(), bias.data());
    const std::int32_t zw = -j.at("filter_offset").get<std::int32_t>();
    d.zero_point = &zw;
    d.a_zero_point = -input_offset;
    qk::GemmS8Weights w;
    REQUIRE(w.pack(d).ok());
    REQUIRE(qk::gemm_s8(w, batches, input.data(), k, out, got.data(), n).ok());
  } else {
    qk::ConvS8Desc d;
    d.in_h = sz(j, "input_h"), d.in_w = sz(j, "input_w"), d.in_c = sz(j, "in_ch"), d.out_c = sz(j, "out_ch");
    d.kernel_h = sz(j, "filter_h"), d.kernel_w = sz(j, "filter_w");
    d.stride_h = sz(j, "stride_h"), d.stride_w = sz(j, "stride_w");
    d.dilation_h = sz(j, "dilation_h"), d.dilation_w = sz(j, "dilation_w");
    d.pad_top = sz(j, "pad_h"), d.pad_left = sz(j, "pad_w");
    const std::size_t oh = sz(j, "output_h"), ow = sz(j, "output_w");
    // TFLite gives the top/left padding; the bottom/right is whatever the output size needs.
    const std::size_t need_h = (oh - 1) * d.stride_h + (d.kernel_h - 1) * d.dilation_h + 1;
    const std::size_t need_w = (ow - 1) * d.stride_w + (d.kernel_w - 1) * d.dilation_w + 1;
    d.pad_bottom = need_h > d.in_h + d.pad_top ? need_h - d.in_h - d.pad_top : 0;
    d.pad_right = need_w > d.in_w + d.pad_left ? need_w - d.in_w - d.pad_left : 0;
    if (op == "depthwise_conv2d") {
      d.groups = d.in_c;
      d.weight_layout = qk::ConvWeightLayout::hwo;
    } else {
      d.groups = d.in_c / sz(j, "filter_in_ch");
    }
    d.input_zero_point = -input_offset;
    d.weights = weights.data();
    d.bias = bias.data();
    REQUIRE(d.out_h() == oh);
    REQUIRE(d.out_w() == ow);
    qk::ConvS8 layer;
    const qk::Status st = layer.pack(d);
    INFO(st.message());
    REQUIRE(st.ok());
    std::size_t ws_bytes = 0;
    REQUIRE(qk::conv_s8_workspace_size(layer, batches, 1, &ws_bytes).ok());
    std::vector<std::uint8_t> ws(ws_bytes);
    REQUIRE(qk::conv_s8(layer, batches, input.data(), out, got.data(), ws.data(), ws_bytes).ok());
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    REQUIRE(static_cast<int>(got[i]) == static_cast<int>(expected[i]));
  }
  for (std::size_t i = expected.size(); i < got.size(); ++i) REQUIRE(got[i] == 0x5A);
  return expected.size();
}

}  // namespace

TEST_CASE("conv_s8 / gemm_s8: TFLite int8 conformance vectors, bit-exact on every ISA") {
  const std::string dir = QK_TFLITE_TESTDATA;
  const auto files = case_files(dir);
  if (files.empty()) {
    WARN("TFLite test data not found in " << dir << ": conformance cases skipped");
    return;
  }
  std::vector<nlohmann::json> cases;
  for (const std::string& f : files) {
    std::ifstream in(f);
    nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    REQUIRE(!j.is_discarded());
    if (j.at("weights_bits").get<int>() == 8) cases.push_back(std::move(j));
  }
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0, count = 0;
    for (const auto& j : cases) {
      INFO("case " << j.at("name").get<std::string>() << " (" << j.at("op").get<std::string>() << ")");
      outputs += run_tflite_case(j);
      ++count;
    }
    WARN("TFLite int8 (" << qk::isa_name(isa) << "): " << count << " cases, " << outputs << " outputs bit-exact");
    CHECK(count == cases.size());
  }
}
