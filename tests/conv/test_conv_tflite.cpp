// TFLite conformance: every case at the top of ../shared/testdata/tflite-int (conv2d, grouped,
// depthwise through qk::conv_s8; fully_connected through qk::gemm_s8), with 8-bit and 4-bit
// weights, bit-exact, on every ISA this machine runs. 4-bit cases run on qk's int4 path
// (ElementType::s4) straight from the file's packed nibbles.
//
// The folder is QK_TFLITE_TESTDATA (CMake), or the environment variable QK_TFLITE_DIR when set.
// A folder that does not exist is skipped with a warning (a user's machine), except under CI
// (environment variable CI set), where it fails. A folder that exists must hold at least the
// cases it holds today (kMinimumCases below) and every *.json file in it must run: a file that
// cannot be read, or whose op this test does not know, fails the test.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/isa_sweep.hpp"
#include "common/test_data.hpp"
#include "qk/conv.hpp"
#include "qk/fixed_point.hpp"
#include "qk/gemm.hpp"
#include "qk/quantize.hpp"

namespace {

// What ../shared/testdata/tflite-int held when this test was written (90 files): a folder with
// fewer cases of any kind is an incomplete copy, and fails. Raise these when cases are added.
struct MinimumCases {
  const char* op;
  int weights_bits;
  int count;
};
constexpr MinimumCases kMinimumCases[] = {
    {"conv2d", 8, 32},          {"conv2d", 4, 24},          {"depthwise_conv2d", 8, 11},
    {"depthwise_conv2d", 4, 10}, {"fully_connected", 8, 7}, {"fully_connected", 4, 6},
};

bool known_op(const std::string& op) {
  return op == "conv2d" || op == "depthwise_conv2d" || op == "fully_connected";
}

// Every *.json entry at the top of dir (the layers/ and models/ subfolders are other tests').
std::vector<std::string> case_files(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
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

// One case, its weights as int8 whatever its weights_bits, and for 4-bit cases as the file packs
// them (two a byte, the first in the low nibble).
struct TfliteCase {
  std::string file;
  nlohmann::json j;
  std::string op;
  int weights_bits = 8;
  std::vector<std::int8_t> weights;
  std::vector<std::uint8_t> weights_packed;
};

// Weights the op reads: OHWI conv, [1][h][w][out_ch] depthwise, [out_ch][depth] FC.
std::size_t weight_count(const nlohmann::json& j, const std::string& op) {
  if (op == "fully_connected") return sz(j, "out_ch") * sz(j, "accumulation_depth");
  const std::size_t taps = sz(j, "out_ch") * sz(j, "filter_h") * sz(j, "filter_w");
  return op == "depthwise_conv2d" ? taps : taps * sz(j, "filter_in_ch");
}

// 4-bit weights: the cases run on qk's int4 kernels from `weights_packed` as it is (the op's n
// weights are its first n nibbles). The packing is checked here first: unpacked by
// qk::unpack_int4 it must give the file's own unpacked `weights` (with an odd count n, `weights`
// also lists the last byte's unused high nibble, a 0: n + 1 values).
std::vector<std::int8_t> unpack_weights(const nlohmann::json& j, std::size_t n) {
  const auto unpacked = vec<int>(j, "weights");
  const auto packed_values = vec<int>(j, "weights_packed");
  REQUIRE(n > 0);
  REQUIRE(packed_values.size() == n / 2 + n % 2);
  REQUIRE((unpacked.size() == n || (n % 2 == 1 && unpacked.size() == n + 1 && unpacked[n] == 0)));
  std::vector<std::uint8_t> packed;
  for (int v : packed_values) {
    REQUIRE(v >= 0);
    REQUIRE(v <= 255);
    packed.push_back(static_cast<std::uint8_t>(v));
  }
  // Every nibble of the file, pad included, then exactly the n the op reads (an odd n leaves the
  // last high nibble to unpack_int4 to ignore; the guard byte after them must stay).
  std::vector<std::int8_t> all(packed.size() * 2, 0x55), out(n + 1, 0x55);
  REQUIRE(qk::unpack_int4(packed.data(), all.size(), all.data()).ok());
  REQUIRE(qk::unpack_int4(packed.data(), n, out.data()).ok());
  for (std::size_t i = 0; i < unpacked.size(); ++i) {
    INFO("weight " << i);
    REQUIRE(static_cast<int>(all[i]) == unpacked[i]);
    if (i < n) REQUIRE(out[i] == all[i]);
  }
  REQUIRE(out[n] == 0x55);
  out.resize(n);
  return out;
}

TfliteCase load_case(const std::string& file) {
  INFO("file " << file);
  TfliteCase c;
  c.file = file;
  std::ifstream in(file);
  REQUIRE(in.good());
  c.j = nlohmann::json::parse(in, nullptr, false);
  REQUIRE(!c.j.is_discarded());
  REQUIRE(c.j.is_object());
  REQUIRE(c.j.contains("op"));
  c.op = c.j.at("op").get<std::string>();
  INFO("op " << c.op);
  // Never skipped: a case this test cannot run is a failure until the test learns to run it.
  REQUIRE(known_op(c.op));
  c.weights_bits = c.j.at("weights_bits").get<int>();
  REQUIRE((c.weights_bits == 8 || c.weights_bits == 4));
  const std::size_t n = weight_count(c.j, c.op);
  if (c.weights_bits == 4) {
    c.weights = unpack_weights(c.j, n);
    for (int v : vec<int>(c.j, "weights_packed")) c.weights_packed.push_back(static_cast<std::uint8_t>(v));
  } else {
    c.weights = vec<std::int8_t>(c.j, "weights");
    REQUIRE(c.weights.size() == n);
  }
  return c;
}

// Runs one case on the active ISA; returns the number of outputs compared.
std::size_t run_tflite_case(const TfliteCase& c) {
  const nlohmann::json& j = c.j;
  const std::string& op = c.op;
  const auto input = vec<std::int8_t>(j, "input");
  const std::vector<std::int8_t>& weights = c.weights;
  const auto bias = vec<std::int32_t>(j, "bias");
  const auto mult = vec<std::int32_t>(j, "output_multiplier");
  const auto shift = vec<std::int32_t>(j, "output_shift");
  const auto expected = vec<std::int8_t>(j, "expected_output");
  const std::size_t batches = sz(j, "batches"), out_c = sz(j, "out_ch");
  REQUIRE(bias.size() == out_c);
  REQUIRE(mult.size() == out_c);
  REQUIRE(shift.size() == out_c);
  REQUIRE(!expected.empty());
  const std::int32_t input_offset = j.at("input_offset").get<std::int32_t>();
  const std::int32_t output_offset = j.at("output_offset").get<std::int32_t>();
  const std::int32_t act_min = j.at("act_min").get<std::int32_t>(), act_max = j.at("act_max").get<std::int32_t>();
  REQUIRE(act_min >= -128);
  REQUIRE(act_min <= act_max);
  REQUIRE(act_max <= 127);
  // qk's output stage (like TFLite's int8 quantization spec) takes output zero points in
  // [-128, 127]; the TFLite reference kernels just add the offset, and one generated case
  // (fully_connected_int4_6) has 128. Such a case runs with the raw int32 output stage and is
  // requantized by qk::requantize_fixed_point, the primitive the fused stage is checked against.
  const bool fused = output_offset >= -128 && output_offset <= 127;
  const auto out = fused ? qk::OutputStage::fixed_point_requant(qk::OutputType::s8, mult.data(), shift.data(), true,
                                                                output_offset, act_min, act_max)
                         : qk::OutputStage::int32();
  std::vector<std::int8_t> got(expected.size() + 16, 0x5A);
  std::vector<std::int32_t> raw(fused ? 0 : expected.size() + 16, 0x5A5A5A5A);
  void* const dst = fused ? static_cast<void*>(got.data()) : static_cast<void*>(raw.data());
  if (op == "fully_connected") {
    const std::size_t k = sz(j, "accumulation_depth");
    REQUIRE(weights.size() == out_c * k);
    REQUIRE(input.size() == batches * k);
    REQUIRE(expected.size() == batches * out_c);
    qk::GemmS8WeightsDesc d = c.weights_bits == 4 ? qk::GemmS8WeightsDesc::n_by_k_s4(out_c, k, c.weights_packed.data(), bias.data())
                                                  : qk::GemmS8WeightsDesc::n_by_k(out_c, k, weights.data(), bias.data());
    const std::int32_t zw = -j.at("filter_offset").get<std::int32_t>();
    d.zero_point = &zw;
    d.a_zero_point = -input_offset;
    qk::GemmS8Weights w;
    const qk::Status ps = w.pack(d);
    INFO(ps.message());
    REQUIRE(ps.ok());
    REQUIRE(w.isa() == qk::active_isa());
    REQUIRE(w.weight_type() == (c.weights_bits == 4 ? qk::ElementType::s4 : qk::ElementType::s8));
    const qk::Status st = qk::gemm_s8(w, batches, input.data(), k, out, dst, out_c);
    INFO(st.message());
    REQUIRE(st.ok());
  } else {
    qk::ConvS8Desc d;
    d.in_h = sz(j, "input_h"), d.in_w = sz(j, "input_w"), d.in_c = sz(j, "in_ch"), d.out_c = out_c;
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
    std::size_t filter_in_c = 1;
    if (op == "depthwise_conv2d") {
      d.groups = d.in_c;
      d.weight_layout = qk::ConvWeightLayout::hwo;
    } else {
      filter_in_c = sz(j, "filter_in_ch");
      REQUIRE(filter_in_c > 0);
      REQUIRE(d.in_c % filter_in_c == 0);
      d.groups = d.in_c / filter_in_c;
    }
    REQUIRE(weights.size() == out_c * d.kernel_h * d.kernel_w * filter_in_c);
    REQUIRE(input.size() == batches * d.in_h * d.in_w * d.in_c);
    REQUIRE(expected.size() == batches * oh * ow * out_c);
    d.input_zero_point = -input_offset;
    d.weights = weights.data();
    if (c.weights_bits == 4) d.weights = c.weights_packed.data(), d.weight_type = qk::ElementType::s4;
    d.bias = bias.data();
    REQUIRE(d.out_h() == oh);
    REQUIRE(d.out_w() == ow);
    qk::ConvS8 layer;
    const qk::Status st = layer.pack(d);
    INFO(st.message());
    REQUIRE(st.ok());
    REQUIRE(layer.isa() == qk::active_isa());
    std::size_t ws_bytes = 0;
    REQUIRE(qk::conv_s8_workspace_size(layer, batches, 1, &ws_bytes).ok());
    std::vector<std::uint8_t> ws(ws_bytes);
    REQUIRE(qk::conv_s8(layer, batches, input.data(), out, dst, ws.data(), ws_bytes).ok());
  }
  if (!fused) {
    for (std::size_t i = expected.size(); i < raw.size(); ++i) REQUIRE(raw[i] == 0x5A5A5A5A);
    for (std::size_t i = 0; i < expected.size(); ++i)
      got[i] = static_cast<std::int8_t>(
          qk::requantize_fixed_point(raw[i], mult[i % out_c], shift[i % out_c], output_offset, act_min, act_max));
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    REQUIRE(static_cast<int>(got[i]) == static_cast<int>(expected[i]));
  }
  for (std::size_t i = expected.size(); i < got.size(); ++i) REQUIRE(got[i] == 0x5A);
  return expected.size();
}

}  // namespace

TEST_CASE("conv_s8 / gemm_s8: TFLite conformance vectors (8-bit and 4-bit weights), bit-exact on every ISA") {
  const char* env_dir = std::getenv("QK_TFLITE_DIR");
  const std::string dir = env_dir != nullptr && *env_dir != '\0' ? env_dir : QK_TFLITE_TESTDATA;
  if (qk_test::skip_missing_data(dir, "the TFLite test data folder (set QK_TFLITE_DIR to run these cases)")) return;
  INFO("TFLite test data: " << dir);
  std::vector<TfliteCase> cases;
  for (const std::string& f : case_files(dir)) cases.push_back(load_case(f));

  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    std::map<std::pair<std::string, int>, int> ran;
    for (const TfliteCase& c : cases) {
      INFO("case " << c.j.at("name").get<std::string>() << " (" << c.op << ", " << c.weights_bits << "-bit weights, "
                   << c.file << ")");
      outputs += run_tflite_case(c);
      ++ran[{c.op, c.weights_bits}];
    }
    std::size_t total = 0;
    for (const auto& r : ran) total += static_cast<std::size_t>(r.second);
    CHECK(total == cases.size());
    for (const MinimumCases& m : kMinimumCases) {
      const int n = ran[{m.op, m.weights_bits}];
      INFO(m.op << " with " << m.weights_bits << "-bit weights: " << n << " cases ran, at least " << m.count
                << " expected");
      CHECK(n >= m.count);
    }
    const int four_bit = ran[{"conv2d", 4}] + ran[{"depthwise_conv2d", 4}] + ran[{"fully_connected", 4}];
    WARN("TFLite (" << qk::isa_name(isa) << "): " << total << " cases (" << four_bit << " with 4-bit weights), " << outputs
                    << " outputs bit-exact");
  }
}
