// TFLite conformance runners for the model layers (see tflite_cases.hpp): conv2d,
// depthwise_conv2d and fully_connected through qk::layers (built from TFLite's prepared
// integers, as the vectors give them), and whole models (op "model") built layer by layer from
// their JSON into a qk::layers::Sequence. The JSON loader lives here, never in the library.
//
// The field mapping is that of tests/conv/test_conv_tflite.cpp (which runs the same top-level
// vectors through the operators): TFLite gives the top/left padding, the bottom/right is what
// the output size needs; 4-bit weights (`weights_packed`) go to the layers packed, as ElementType::s4.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "layers/tflite_cases.hpp"
#include "qk/layers/conv.hpp"
#include "qk/layers/fully_connected.hpp"
#include "qk/layers/layer.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/sequence.hpp"
#include "qk/layers/softmax.hpp"
#include "qk/quantize.hpp"

namespace qk_test {
namespace {

using qk::layers::Layer;

// The weights the op reads: int8, or for weights_bits 4 the packed bytes as TFLite stores them
// (two values a byte, the first in the low nibble), which the layers take as ElementType::s4.
struct CaseWeights {
  std::vector<std::uint8_t> bytes;
  qk::ElementType type = qk::ElementType::s8;
};
CaseWeights case_weights(const nlohmann::json& j, std::size_t n) {
  const int bits = j.contains("weights_bits") ? j.at("weights_bits").get<int>() : 8;
  REQUIRE((bits == 8 || bits == 4));
  CaseWeights w;
  if (bits == 8) {
    for (std::int8_t v : json_vector<std::int8_t>(j, "weights")) w.bytes.push_back(static_cast<std::uint8_t>(v));
    REQUIRE(w.bytes.size() == n);
    return w;
  }
  // 4-bit: the packed bytes, checked against the file's own unpacked list (qk::unpack_int4; n + 1
  // values with an odd n: the last byte's unused high nibble).
  const auto unpacked = json_vector<int>(j, "weights");
  for (int v : json_vector<int>(j, "weights_packed")) {
    REQUIRE(v >= 0);
    REQUIRE(v <= 255);
    w.bytes.push_back(static_cast<std::uint8_t>(v));
  }
  REQUIRE(w.bytes.size() == n / 2 + n % 2);
  std::vector<std::int8_t> out(n);
  REQUIRE(qk::unpack_int4(w.bytes.data(), n, out.data()).ok());
  REQUIRE(unpacked.size() >= n);
  for (std::size_t i = 0; i < n; ++i) REQUIRE(static_cast<int>(out[i]) == unpacked[i]);
  w.type = qk::ElementType::s4;
  return w;
}

// The prepared integers every conv / FC case gives (the arrays stay in `keep`).
struct PreparedArrays {
  std::vector<std::int32_t> bias, mult, shift, weight_offset;
};
qk::layers::PreparedQuantization prepared(const nlohmann::json& j, std::size_t out_c, PreparedArrays* keep) {
  keep->bias = json_vector<std::int32_t>(j, "bias");
  keep->mult = json_vector<std::int32_t>(j, "output_multiplier");
  keep->shift = json_vector<std::int32_t>(j, "output_shift");
  REQUIRE(keep->bias.size() == out_c);
  REQUIRE(keep->mult.size() == out_c);
  REQUIRE(keep->shift.size() == out_c);
  qk::layers::PreparedQuantization q;
  q.input_offset = json_i32(j, "input_offset");
  q.output_offset = json_i32(j, "output_offset");
  q.multiplier = keep->mult.data();
  q.shift = keep->shift.data();
  q.per_channel = true;
  q.bias = keep->bias.data();
  q.act_min = json_i32(j, "act_min");
  q.act_max = json_i32(j, "act_max");
  if (j.contains("filter_offset")) {
    keep->weight_offset.assign(out_c, json_i32(j, "filter_offset"));
    q.weight_offsets = keep->weight_offset.data();
  }
  return q;
}

// TFLite's pad_h/pad_w are the top/left padding; the bottom/right is what output_h/w needs.
void explicit_window(const nlohmann::json& j, qk::layers::ConvWindow* w) {
  w->kernel_h = json_size(j, "filter_h"), w->kernel_w = json_size(j, "filter_w");
  w->stride_h = json_size(j, "stride_h"), w->stride_w = json_size(j, "stride_w");
  w->dilation_h = json_size(j, "dilation_h"), w->dilation_w = json_size(j, "dilation_w");
  w->padding = qk::layers::Padding::explicit_pads;
  w->pad_top = json_size(j, "pad_h"), w->pad_left = json_size(j, "pad_w");
  const std::size_t in_h = json_size(j, "input_h"), in_w = json_size(j, "input_w");
  const std::size_t oh = json_size(j, "output_h"), ow = json_size(j, "output_w");
  REQUIRE(oh > 0);
  REQUIRE(ow > 0);
  const std::size_t need_h = (oh - 1) * w->stride_h + (w->kernel_h - 1) * w->dilation_h + 1;
  const std::size_t need_w = (ow - 1) * w->stride_w + (w->kernel_w - 1) * w->dilation_w + 1;
  w->pad_bottom = need_h > in_h + w->pad_top ? need_h - in_h - w->pad_top : 0;
  w->pad_right = need_w > in_w + w->pad_left ? need_w - in_w - w->pad_left : 0;
}

qk::layers::Shape4 case_input_shape(const nlohmann::json& j) {
  return qk::layers::Shape4{json_size(j, "batches"), json_size(j, "input_h"), json_size(j, "input_w"), json_size(j, "in_ch")};
}

// Builds the layer a conv2d / depthwise_conv2d / fully_connected case (or model layer) describes.
// An output zero point outside int8 (one generated top-level FC case has 128) is outside what
// the layer accepts (TFLite's int8 spec): init must reject it naming output_offset, and *out
// stays null.
std::unique_ptr<Layer> build_tflite_layer(const nlohmann::json& j, const std::string& op) {
  PreparedArrays keep;
  INFO("op " << op);
  const std::size_t out_c = json_size(j, "out_ch");
  const qk::layers::PreparedQuantization q = prepared(j, out_c, &keep);
  const bool out_of_spec = q.output_offset < -128 || q.output_offset > 127;
  qk::Status st;
  std::unique_ptr<Layer> layer;
  if (op == "conv2d") {
    qk::layers::Conv2DOptions o;
    explicit_window(j, &o);
    o.input = case_input_shape(j);
    o.out_c = out_c;
    const std::size_t filter_in = json_size(j, "filter_in_ch");
    REQUIRE(filter_in > 0);
    REQUIRE(o.input.c % filter_in == 0);
    o.groups = o.input.c / filter_in;
    const auto w = case_weights(j, out_c * o.kernel_h * o.kernel_w * filter_in);
    o.weight_type = w.type;
    auto* l = new qk::layers::Conv2D;
    layer.reset(l);
    st = l->init(o, w.bytes.data(), q);
    if (st.ok()) {
      REQUIRE(l->output_shape().h == json_size(j, "output_h"));
      REQUIRE(l->output_shape().w == json_size(j, "output_w"));
    }
  } else if (op == "depthwise_conv2d") {
    qk::layers::DepthwiseConv2DOptions o;
    explicit_window(j, &o);
    o.input = case_input_shape(j);
    o.depth_multiplier = j.contains("ch_mult") ? json_size(j, "ch_mult") : out_c / o.input.c;
    REQUIRE(o.input.c * o.depth_multiplier == out_c);
    const auto w = case_weights(j, out_c * o.kernel_h * o.kernel_w);
    o.weight_type = w.type;
    auto* l = new qk::layers::DepthwiseConv2D;
    layer.reset(l);
    st = l->init(o, w.bytes.data(), q);
    if (st.ok()) {
      REQUIRE(l->output_shape().h == json_size(j, "output_h"));
      REQUIRE(l->output_shape().w == json_size(j, "output_w"));
    }
  } else if (op == "fully_connected") {
    qk::layers::FullyConnectedOptions o;
    o.batch = json_size(j, "batches");
    o.depth = json_size(j, "accumulation_depth");
    o.out_c = out_c;
    const auto w = case_weights(j, out_c * o.depth);
    o.weight_type = w.type;
    auto* l = new qk::layers::FullyConnected;
    layer.reset(l);
    st = l->init(o, w.bytes.data(), q);
  } else {
    FAIL("build_tflite_layer: not a conv / FC op: " << op);
  }
  if (out_of_spec) {
    INFO("output_offset " << q.output_offset << ": the layer must reject it");
    REQUIRE(st.code() == qk::StatusCode::invalid_argument);
    REQUIRE(std::string(st.value_name()) == "output_offset");
    return nullptr;
  }
  INFO(st.message());
  REQUIRE(st.ok());
  REQUIRE(layer->built());
  return layer;
}

void run_single(const nlohmann::json& c, const char* op) {
  const std::unique_ptr<Layer> layer = build_tflite_layer(c, op);
  if (layer == nullptr) {
    WARN("case " << c.value("name", std::string("?")) << ": output zero point outside int8, rejected by the layer (checked)");
    return;
  }
  const auto input = json_vector<std::int8_t>(c, "input");
  const auto expected = json_vector<std::int8_t>(c, "expected_output");
  std::size_t in_count = 0, out_count = 0;
  REQUIRE(layer->input_shape(0).count(&in_count));
  REQUIRE(layer->output_shape().count(&out_count));
  REQUIRE(input.size() == in_count);
  REQUIRE(expected.size() == out_count);
  std::size_t ws_bytes = 0;
  REQUIRE(layer->workspace_size(1, &ws_bytes).ok());
  std::vector<std::uint8_t> ws(ws_bytes + 1, 0xA5);  // poisoned: nothing may read what it did not write
  std::vector<std::int8_t> got(expected.size() + 16, 0x5A);
  const void* in = input.data();
  const qk::Status st = layer->run(&in, got.data(), ws.data(), ws_bytes);
  INFO(st.message());
  REQUIRE(st.ok());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("output " << i);
    REQUIRE(static_cast<int>(got[i]) == static_cast<int>(expected[i]));
  }
  for (std::size_t i = expected.size(); i < got.size(); ++i) REQUIRE(got[i] == 0x5A);
}

// A model's layer: the conv / FC ops above, average_pool2d (TFLite's prepared clamp; pad_h/pad_w
// top/left, the rest from the output size) and softmax (TFLite's prepared integers). Any other
// op fails, naming it.
std::unique_ptr<Layer> build_model_layer(const nlohmann::json& l) {
  const std::string op = l.at("op").get<std::string>();
  if (op == "conv2d" || op == "depthwise_conv2d" || op == "fully_connected") {
    std::unique_ptr<Layer> layer = build_tflite_layer(l, op);
    REQUIRE(layer != nullptr);
    return layer;
  }
  if (op == "average_pool2d") {
    qk::layers::Pool2DOptions o;
    o.filter_h = json_size(l, "filter_h"), o.filter_w = json_size(l, "filter_w");
    o.stride_h = json_size(l, "stride_h"), o.stride_w = json_size(l, "stride_w");
    o.padding = qk::layers::PoolPadding::explicit_pads;
    o.pad_top = json_size(l, "pad_h"), o.pad_left = json_size(l, "pad_w");
    const qk::layers::Shape4 in{json_size(l, "batches"), json_size(l, "input_h"), json_size(l, "input_w"),
                                json_size(l, "channels")};
    const std::size_t oh = json_size(l, "output_h"), ow = json_size(l, "output_w");
    REQUIRE(oh > 0);
    REQUIRE(ow > 0);
    const std::size_t need_h = (oh - 1) * o.stride_h + o.filter_h, need_w = (ow - 1) * o.stride_w + o.filter_w;
    o.pad_bottom = need_h > in.h + o.pad_top ? need_h - in.h - o.pad_top : 0;
    o.pad_right = need_w > in.w + o.pad_left ? need_w - in.w - o.pad_left : 0;
    auto* pool = new qk::layers::AveragePool2D;
    std::unique_ptr<Layer> layer(pool);
    const qk::Status st = pool->init(qk::ElementType::s8, in, o, json_i32(l, "act_min"), json_i32(l, "act_max"));
    INFO(st.message());
    REQUIRE(st.ok());
    REQUIRE(pool->output_shape() == (qk::layers::Shape4{in.n, oh, ow, in.c}));
    return layer;
  }
  if (op == "softmax") {
    qk::layers::SoftmaxParams p;
    p.input_multiplier = json_i32(l, "input_multiplier");
    p.input_left_shift = json_i32(l, "input_left_shift");
    p.diff_min = json_i32(l, "diff_min");
    auto* softmax = new qk::layers::Softmax;
    std::unique_ptr<Layer> layer(softmax);
    const qk::Status st = softmax->init(qk::layers::Shape4{json_size(l, "rows"), 1, 1, json_size(l, "row_size")},
                                        qk::ElementType::s8, p);
    INFO(st.message());
    REQUIRE(st.ok());
    return layer;
  }
  FAIL("model layer op '" << op << "' is not known to the model loader (tflite_cases_model.cpp)");
  return nullptr;
}

}  // namespace

void run_conv2d_case(const nlohmann::json& c) { run_single(c, "conv2d"); }
void run_depthwise_conv2d_case(const nlohmann::json& c) { run_single(c, "depthwise_conv2d"); }
void run_fully_connected_case(const nlohmann::json& c) { run_single(c, "fully_connected"); }

// A whole model: its layers built in order from the JSON into a Sequence, run once out of an
// arena poisoned with a pattern (results must not depend on it), only the final output checked.
void run_model_case(const nlohmann::json& c) {
  std::vector<std::unique_ptr<Layer>> owned;
  std::vector<Layer*> chain;
  for (const nlohmann::json& l : c.at("layers")) {
    INFO("model layer " << l.value("layer", -1) << " (" << l.at("op").get<std::string>() << ")");
    owned.push_back(build_model_layer(l));
    chain.push_back(owned.back().get());
  }
  qk::layers::Sequence seq;
  qk::Status st = seq.init(chain.data(), chain.size());
  INFO(st.message());
  REQUIRE(st.ok());
  const auto input = json_vector<std::int8_t>(c, "input");
  const auto expected = json_vector<std::int8_t>(c, "expected_output");
  std::size_t in_count = 1, out_count = 0;
  for (std::size_t d : json_vector<std::size_t>(c, "input_shape")) in_count *= d;
  REQUIRE(input.size() == in_count);
  std::size_t seq_in = 0;
  REQUIRE(seq.input_shape(0).count(&seq_in));
  REQUIRE(seq_in == in_count);
  REQUIRE(seq.output_shape().count(&out_count));
  REQUIRE(out_count == expected.size());
  std::size_t arena_bytes = 0;
  REQUIRE(seq.arena_size(1, &arena_bytes).ok());
  for (const std::uint8_t poison : {std::uint8_t{0x00}, std::uint8_t{0xA5}, std::uint8_t{0x7F}}) {
    std::vector<std::uint8_t> arena(arena_bytes, poison);
    std::vector<std::int8_t> got(expected.size() + 16, 0x5A);
    st = seq.run(input.data(), got.data(), arena.data(), arena.size());
    INFO(st.message());
    REQUIRE(st.ok());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      INFO("poison " << int{poison} << " output " << i);
      REQUIRE(static_cast<int>(got[i]) == static_cast<int>(expected[i]));
    }
    for (std::size_t i = expected.size(); i < got.size(); ++i) REQUIRE(got[i] == 0x5A);
  }
}

}  // namespace qk_test
