// The fp16-weights, int16-activation and dynamic-int8 schemes: their building blocks (float16
// conversion and decoding, Cast, DynamicQuantizeLinear, int16 Q/DQ) against hand-computed values,
// and each scheme's file round-tripped through save() -> load() and run on the committed CNN.
#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"
#include "qk/onnx/network.hpp"
#include "qk/onnx/quantize.hpp"

namespace {

using qk::onnx::DataType;
using qk::onnx::Model;
using qk::onnx::Node;
using qk::onnx::Op;
using qk::onnx::Tensor;

float bits_float(std::uint32_t u) {
  float f = 0.0f;
  std::memcpy(&f, &u, 4);
  return f;
}

Tensor f32(std::vector<std::int64_t> dims, const std::vector<float>& v) {
  Tensor t;
  t.type = DataType::float32;
  t.dims = std::move(dims);
  t.bytes.resize(v.size() * 4);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

template <class T>
Tensor typed(DataType type, std::vector<std::int64_t> dims, const std::vector<T>& v) {
  Tensor t;
  t.type = type;
  t.dims = std::move(dims);
  t.bytes.resize(v.size() * sizeof(T));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

// A graph of one node reading graph input "x" (and initializers), all outputs graph outputs.
Model one_node(Op op, std::vector<std::string> inputs, std::vector<std::string> outputs, DataType in_type,
               std::vector<qk::onnx::NamedTensor> inits = {}, std::vector<qk::onnx::Attribute> attrs = {}, std::int64_t opset = 21) {
  Model m;
  m.opset = opset;
  m.inputs.push_back({"x", in_type, {}});
  Node n;
  n.op = op;
  n.name = "node0";
  n.inputs = std::move(inputs);
  n.outputs = outputs;
  n.attributes = std::move(attrs);
  m.nodes.push_back(n);
  for (const std::string& o : outputs) m.outputs.push_back({o, DataType::undefined, {}});
  m.initializers = std::move(inits);
  return m;
}

qk::onnx::Attribute to_float() {
  qk::onnx::Attribute a;
  a.name = "to";
  a.i = 1;
  return a;
}

// A ModelProto: y = Cast(w, to) with w a FLOAT16 initializer [n]; x an unused graph input.
::onnx::ModelProto cast_model(const std::vector<std::uint16_t>& halves, bool raw, std::int64_t to = 1) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  ::onnx::GraphProto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(::onnx::TensorProto::FLOAT16);
  w->add_dims(static_cast<std::int64_t>(halves.size()));
  if (raw) w->set_raw_data(std::string(reinterpret_cast<const char*>(halves.data()), halves.size() * 2));
  else
    for (std::uint16_t h : halves) w->add_int32_data(h);
  auto* n = g->add_node();
  n->set_op_type("Cast");
  n->set_name("cast0");
  n->add_input("w");
  n->add_output("y");
  auto* a = n->add_attribute();
  a->set_name("to");
  a->set_type(::onnx::AttributeProto::INT);
  a->set_i(to);
  g->add_output()->set_name("y");
  return m;
}

}  // namespace

TEST_CASE("float16: float -> half rounds to nearest even, edge values", "[onnx]") {
  using qk::onnx::float_to_half;
  CHECK(float_to_half(0.0f) == 0x0000);
  CHECK(float_to_half(-0.0f) == 0x8000);
  CHECK(float_to_half(1.0f) == 0x3c00);
  CHECK(float_to_half(-2.0f) == 0xc000);
  CHECK(float_to_half(65504.0f) == 0x7bff);  // the largest half
  CHECK(float_to_half(65519.0f) == 0x7bff);  // below the midpoint to 65536
  CHECK(float_to_half(65520.0f) == 0x7c00);  // the midpoint: ties to even = 2^16 = inf
  CHECK(float_to_half(1e10f) == 0x7c00);
  CHECK(float_to_half(-1e10f) == 0xfc00);
  CHECK(float_to_half(std::numeric_limits<float>::infinity()) == 0x7c00);
  CHECK(float_to_half(-std::numeric_limits<float>::infinity()) == 0xfc00);
  const std::uint16_t nan = float_to_half(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7c00) == 0x7c00);
  CHECK((nan & 0x03ff) != 0);
  CHECK((float_to_half(bits_float(0x7f800001u)) & 0x03ff) != 0);  // a NaN with only low payload bits stays NaN
  // Normal ties: 1 + 2^-11 is halfway between 1 (even) and 1 + 2^-10; 1 + 3 * 2^-11 between
  // 1 + 2^-10 (odd) and 1 + 2^-9 (even).
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
  CHECK(float_to_half(1.0f + 3.0f * std::ldexp(1.0f, -11)) == 0x3c02);
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11) + std::ldexp(1.0f, -20)) == 0x3c01);
  // Subnormals: 2^-24 is the smallest; 2^-25 a tie to 0; 3 * 2^-25 a tie to 2 * 2^-24.
  CHECK(float_to_half(std::ldexp(1.0f, -24)) == 0x0001);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);
  CHECK(float_to_half(-std::ldexp(1.0f, -25)) == 0x8000);
  CHECK(float_to_half(1.5f * std::ldexp(1.0f, -25)) == 0x0001);
  CHECK(float_to_half(3.0f * std::ldexp(1.0f, -25)) == 0x0002);
  CHECK(float_to_half(1023.0f * std::ldexp(1.0f, -24)) == 0x03ff);  // the largest subnormal
  CHECK(float_to_half(1023.5f * std::ldexp(1.0f, -24)) == 0x0400);  // a tie, up into the smallest normal
  CHECK(float_to_half(std::ldexp(1.0f, -14)) == 0x0400);
  CHECK(float_to_half(std::ldexp(1.0f, -30)) == 0x0000);
  CHECK(float_to_half(bits_float(1u)) == 0x0000);  // the smallest float subnormal
}

TEST_CASE("float16: half -> float is exact, and every half round-trips", "[onnx]") {
  using qk::onnx::half_to_float;
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x03ff) == 1023.0f * std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x0400) == std::ldexp(1.0f, -14));
  CHECK(half_to_float(0x7bff) == 65504.0f);
  CHECK(half_to_float(0x3555) == 0.333251953125f);
  CHECK(half_to_float(0xc000) == -2.0f);
  CHECK(half_to_float(0x7c00) == std::numeric_limits<float>::infinity());
  CHECK(half_to_float(0xfc00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(half_to_float(0x7e00)));
  CHECK(std::isnan(half_to_float(0x7c01)));
  CHECK(half_to_float(0x8000) == 0.0f);
  CHECK(std::signbit(half_to_float(0x8000)));
  int mismatches = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const float f = half_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    mismatches += qk::onnx::float_to_half(f) != h;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("onnx load: FLOAT16 initializers (raw_data and int32_data) behind Cast", "[onnx]") {
  const std::vector<std::uint16_t> halves = {0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000};
  for (bool raw : {true, false}) {
    const std::string bytes = cast_model(halves, raw).SerializeAsString();
    Model m;
    std::string error;
    INFO(error);
    REQUIRE(qk::onnx::load(bytes.data(), bytes.size(), &m, &error).ok());
    const Tensor* w = m.initializer("w");
    REQUIRE(w != nullptr);
    CHECK(w->type == DataType::float16);
    REQUIRE(w->bytes.size() == 10);
    CHECK(w->data<std::uint16_t>()[3] == 0x7bff);
    std::vector<Tensor> out;
    REQUIRE(qk::onnx::run_reference(m, {f32({1}, {0.0f})}, &out, &error).ok());
    REQUIRE(out[0].type == DataType::float32);
    const float* y = out[0].data<float>();
    CHECK(y[0] == 1.0f);
    CHECK(y[1] == -2.0f);
    CHECK(y[2] == std::ldexp(1.0f, -24));
    CHECK(y[3] == 65504.0f);
    CHECK(std::signbit(y[4]));
  }
  // A raw_data of the wrong length, an int32_data value outside 16 bits, a Cast to int32.
  ::onnx::ModelProto bad = cast_model(halves, true);
  bad.mutable_graph()->mutable_initializer(0)->set_raw_data(std::string(9, '\0'));
  std::string bytes = bad.SerializeAsString(), error;
  Model m;
  CHECK_FALSE(qk::onnx::load(bytes.data(), bytes.size(), &m, &error).ok());
  CHECK(error.find("raw_data has 9 bytes, dims need 10") != std::string::npos);
  bad = cast_model(halves, false);
  bad.mutable_graph()->mutable_initializer(0)->set_int32_data(1, 70000);
  bytes = bad.SerializeAsString();
  CHECK_FALSE(qk::onnx::load(bytes.data(), bytes.size(), &m, &error).ok());
  bytes = cast_model(halves, true, 6).SerializeAsString();
  CHECK(qk::onnx::load(bytes.data(), bytes.size(), &m, &error).code() == qk::StatusCode::unsupported);
  CHECK(error.find("cast0") != std::string::npos);
  CHECK(error.find("only to = 1") != std::string::npos);
}

TEST_CASE("onnx run: Cast to float from int32, uint8, int8, float, others refused", "[onnx]") {
  std::string error;
  std::vector<Tensor> out;
  const Model m = one_node(Op::cast, {"x"}, {"y"}, DataType::undefined, {}, {to_float()});
  REQUIRE(qk::onnx::run_reference(m, {typed<std::int32_t>(DataType::int32, {3}, {-7, 0, 16777217})}, &out, &error).ok());
  CHECK(out[0].data<float>()[0] == -7.0f);
  CHECK(out[0].data<float>()[2] == 16777216.0f);  // nearest float
  REQUIRE(qk::onnx::run_reference(m, {typed<std::uint8_t>(DataType::uint8, {2}, {255, 1})}, &out, &error).ok());
  CHECK(out[0].data<float>()[0] == 255.0f);
  REQUIRE(qk::onnx::run_reference(m, {typed<std::int8_t>(DataType::int8, {2}, {-128, 1})}, &out, &error).ok());
  CHECK(out[0].data<float>()[0] == -128.0f);
  REQUIRE(qk::onnx::run_reference(m, {f32({2}, {1.5f, -0.0f})}, &out, &error).ok());
  CHECK(out[0].data<float>()[0] == 1.5f);
  CHECK(qk::onnx::run_reference(m, {typed<std::int64_t>(DataType::int64, {1}, {3})}, &out, &error).code() ==
        qk::StatusCode::unsupported);
  CHECK(error.find("node0") != std::string::npos);
  CHECK(error.find("Cast from int64") != std::string::npos);
}

TEST_CASE("onnx run: DynamicQuantizeLinear as the spec computes it", "[onnx]") {
  const Model m = one_node(Op::dynamic_quantize_linear, {"x"}, {"y", "s", "z"}, DataType::float32);
  struct Case {
    std::vector<float> x;
    float scale;
    int zp;
    std::vector<int> q;
  };
  // Ranges chosen so that scale = (max - min) / 255 is exact; .5 values are ties (to even).
  const std::vector<Case> cases = {
      // min -51, max 204: scale 1, zp 51; 2.5 -> 2, 3.5 -> 4, -0.5 -> -0.
      {{-51.0f, 0.0f, 204.0f, 2.5f, 3.5f, -0.5f}, 1.0f, 51, {0, 51, 255, 53, 55, 51}},
      // all positive: the range still starts at 0, so zp 0; 127.5 -> 128.
      {{2.0f, 255.0f, 127.5f, 0.5f}, 1.0f, 0, {2, 255, 128, 0}},
      // all negative: the range ends at 0, zp 255; -1.5 -> -2.
      {{-255.0f, -1.5f}, 1.0f, 255, {0, 253}},
      // zero point itself a tie: -min / scale = 2.5 -> 2; 252.5 -> 252 + 2.
      {{-2.5f, 252.5f, 1.0f}, 1.0f, 2, {0, 254, 3}},
      // scale 0.5 (range 127.5): min -10 -> zp 20; 0.25 / 0.5 = 0.5 -> 0; 0.75 / 0.5 = 1.5 -> 2.
      {{-10.0f, 117.5f, 0.25f, 0.75f}, 0.5f, 20, {0, 255, 20, 22}},
  };
  for (const Case& c : cases) {
    std::vector<Tensor> out;
    std::string error;
    INFO(error);
    REQUIRE(qk::onnx::run_reference(m, {f32({static_cast<std::int64_t>(c.x.size())}, c.x)}, &out, &error).ok());
    REQUIRE(out.size() == 3);
    REQUIRE(out[0].type == DataType::uint8);
    CHECK(out[1].data<float>()[0] == c.scale);
    CHECK(static_cast<int>(out[2].data<std::uint8_t>()[0]) == c.zp);
    for (std::size_t i = 0; i < c.q.size(); ++i) CHECK(static_cast<int>(out[0].data<std::uint8_t>()[i]) == c.q[i]);
  }
  // All zeros: scale 0, zero point 0, y 0 (the spec divides by 0; ORT writes this).
  std::vector<Tensor> out;
  std::string error;
  REQUIRE(qk::onnx::run_reference(m, {f32({2}, {0.0f, 0.0f})}, &out, &error).ok());
  CHECK(out[1].data<float>()[0] == 0.0f);
  CHECK(out[0].data<std::uint8_t>()[1] == 0);
}

TEST_CASE("onnx run: int16 QuantizeLinear / DequantizeLinear saturate and round half to even", "[onnx]") {
  std::string error;
  std::vector<Tensor> out;
  const Model q = one_node(Op::quantize_linear, {"x", "s", "z"}, {"y"}, DataType::float32,
                           {{"s", f32({}, {0.5f})}, {"z", typed<std::int16_t>(DataType::int16, {}, {0})}});
  REQUIRE(qk::onnx::run_reference(q, {f32({7}, {1.25f, 1.75f, -1.25f, 20000.0f, -20000.0f, 16383.25f, -16384.25f})}, &out, &error).ok());
  REQUIRE(out[0].type == DataType::int16);
  const std::vector<int> want = {2, 4, -2, 32767, -32768, 32766, -32768};
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(static_cast<int>(out[0].data<std::int16_t>()[i]) == want[i]);
  const Model qz = one_node(Op::quantize_linear, {"x", "s", "z"}, {"y"}, DataType::float32,
                            {{"s", f32({}, {1.0f})}, {"z", typed<std::int16_t>(DataType::int16, {}, {-100})}});
  REQUIRE(qk::onnx::run_reference(qz, {f32({3}, {0.5f, 32900.0f, -32700.0f})}, &out, &error).ok());
  CHECK(out[0].data<std::int16_t>()[0] == -100);
  CHECK(out[0].data<std::int16_t>()[1] == 32767);
  CHECK(out[0].data<std::int16_t>()[2] == -32768);
  const Model dq = one_node(Op::dequantize_linear, {"x", "s", "z"}, {"y"}, DataType::int16,
                            {{"s", f32({}, {0.5f})}, {"z", typed<std::int16_t>(DataType::int16, {}, {1})}});
  REQUIRE(qk::onnx::run_reference(dq, {typed<std::int16_t>(DataType::int16, {3}, {-32768, 32767, 6})}, &out, &error).ok());
  CHECK(out[0].data<float>()[0] == -16384.5f);
  CHECK(out[0].data<float>()[1] == 16383.0f);
  CHECK(out[0].data<float>()[2] == 2.5f);
}

namespace {

struct Data {
  qk_tools::IdxImages train, test;
  std::vector<std::uint8_t> labels;
};

Tensor images(const qk_tools::IdxImages& d, std::size_t first, std::size_t n) {
  Tensor x;
  x.type = DataType::float32;
  x.dims = {static_cast<std::int64_t>(n), 1, 28, 28};
  x.bytes.resize(n * 784 * 4);
  for (std::size_t i = 0; i < n * 784; ++i) x.data<float>()[i] = static_cast<float>(d.pixels[first * 784 + i]) / 255.0f;
  return x;
}

std::vector<std::size_t> predictions(const Model& m, const Tensor& x) {
  std::vector<Tensor> out;
  std::string error;
  INFO(error);
  REQUIRE(qk::onnx::run_reference(m, {x}, &out, &error).ok());
  const std::size_t n = static_cast<std::size_t>(x.dims[0]), classes = out[0].count() / n;
  std::vector<std::size_t> p(n);
  for (std::size_t i = 0; i < n; ++i) {
    const float* l = out[0].data<float>() + i * classes;
    std::size_t b = 0;
    for (std::size_t k = 1; k < classes; ++k)
      if (l[k] > l[b]) b = k;
    p[i] = b;
  }
  return p;
}

}  // namespace

// Each scheme's file on the committed CNN: saved, reloaded, run by the interpreter on the first
// 200 test images (batches of 100, as qk-quantize evaluates) next to the fp32 model.
// Tolerances, measured on these 200 images (agreeing with fp32 / right, fp32 right 179): fp16
// 200 / 179, int16 199 / 178, dynamic per channel 198 / 179, dynamic per tensor 197 / 180. Limits:
// at most 2 more disagreements than measured (a different libm or compiler may move a near-tie),
// fp16 at most 1, and accuracy within 2 points of fp32. A broken scheme (a wrong scale, transpose
// or zero point) lands far below these: it changes most predictions, not a few.
TEST_CASE("ptq schemes: fp16, int16 and dynamic files round-trip and stay near fp32", "[onnx]") {
  const std::string dir = std::string(QK_MODELS_DIR) + "/fashion_cnn";
  const std::string data = std::string(QK_FASHION_MNIST);
  Model model;
  std::string error;
  INFO(error);
  REQUIRE(qk::onnx::load_file((dir + "/fashion_cnn.onnx").c_str(), &model, &error).ok());
  Data d;
  REQUIRE(qk_tools::read_idx_images(data + "/train-images-idx3-ubyte.gz", &d.train, &error));
  REQUIRE(qk_tools::read_idx_images(data + "/t10k-images-idx3-ubyte.gz", &d.test, &error));
  REQUIRE(qk_tools::read_idx_labels(data + "/t10k-labels-idx1-ubyte.gz", &d.labels, &error));
  const std::size_t n = 200;
  const Tensor x0 = images(d.test, 0, 100), x1 = images(d.test, 100, 100);
  std::vector<std::size_t> fp32 = predictions(model, x0);
  for (std::size_t p : predictions(model, x1)) fp32.push_back(p);
  std::size_t fp32_right = 0;
  for (std::size_t i = 0; i < n; ++i) fp32_right += fp32[i] == d.labels[i];

  std::string fp32_bytes;
  REQUIRE(qk::onnx::save(model, &fp32_bytes, &error).ok());
  struct Scheme {
    qk::onnx::WeightScheme w;
    qk::onnx::ActivationScheme a;
    std::size_t min_agree;
  };
  using WS = qk::onnx::WeightScheme;
  using AS = qk::onnx::ActivationScheme;
  for (const Scheme& s : {Scheme{WS::fp16, AS::float32, 199}, Scheme{WS::int8_per_channel, AS::int16, 197},
                          Scheme{WS::int8_per_channel, AS::dynamic_int8, 196}, Scheme{WS::int8_per_tensor, AS::dynamic_int8, 195}}) {
    qk::onnx::PtqOptions o;
    o.weights = s.w;
    o.activations = s.a;
    {
      INFO(std::string(qk::onnx::weight_scheme_name(s.w)) + " / " + qk::onnx::activation_scheme_name(s.a));
      qk::onnx::Calibrator cal;
      if (s.a == AS::int16) {
        REQUIRE(cal.init(model, o, &error).ok());
        for (std::size_t i = 0; i < 500; i += 100) REQUIRE(cal.observe({images(d.train, i, 100)}, &error).ok());
      }
      Model q;
      REQUIRE(qk::onnx::quantize_qdq(model, cal, o, &q, &error).ok());
      std::string bytes;
      REQUIRE(qk::onnx::save(q, &bytes, &error).ok());
      Model back;
      REQUIRE(qk::onnx::load(bytes.data(), bytes.size(), &back, &error).ok());
      // What each file is made of.
      std::size_t casts = 0, dql = 0, int16_zp = 0, half_inits = 0;
      for (const Node& node : back.nodes) {
        casts += node.op == Op::cast;
        dql += node.op == Op::dynamic_quantize_linear;
      }
      for (const auto& t : back.initializers) {
        half_inits += t.tensor.type == DataType::float16;
        int16_zp += t.tensor.type == DataType::int16;
      }
      if (s.w == WS::fp16) {
        CHECK(half_inits == 12);  // 6 layers: weight and bias
        CHECK(casts == 12);
        CHECK(back.opset == model.opset);
        CHECK(bytes.size() * 100 < fp32_bytes.size() * 55);  // about 2x smaller
      } else if (s.a == AS::int16) {
        CHECK(back.opset == 21);
        CHECK(int16_zp > 0);
        CHECK(casts == 0);
      } else {
        CHECK(dql == 6);
        CHECK(casts == 6);
      }
      // Networks refuse every one of them as unsupported, naming the scheme.
      qk::onnx::Network net;
      CHECK(net.build(back, 1, &error).code() == qk::StatusCode::unsupported);
      CHECK(error.find("not lowered") != std::string::npos);
      std::vector<std::size_t> pred = predictions(back, x0);
      for (std::size_t p : predictions(back, x1)) pred.push_back(p);
      std::size_t agree = 0, right = 0;
      for (std::size_t i = 0; i < n; ++i) {
        agree += pred[i] == fp32[i];
        right += pred[i] == d.labels[i];
      }
      INFO("agree " << agree << " / 200, right " << right << " (fp32 " << fp32_right << ")");
      CHECK(agree >= s.min_agree);
      CHECK(right + 4 >= fp32_right);
    }
  }
}

// int16 activations: a bias int32 cannot hold at input_scale * weight_scale stays float. Conv
// 1x1 with weight 1e-6 and bias 1: input scale 1/32767, weight scale 1e-6/127, so bias / scale
// is about 4e12 > 2^31.
TEST_CASE("ptq int16: a bias that would saturate int32 stays float", "[onnx]") {
  Model m;
  m.opset = 13;
  m.inputs.push_back({"x", DataType::float32, {1, 1, 2, 2}});
  m.outputs.push_back({"y", DataType::float32, {1, 1, 2, 2}});
  m.initializers.push_back({"w", f32({1, 1, 1, 1}, {1e-6f})});
  m.initializers.push_back({"b", f32({1}, {1.0f})});
  Node conv;
  conv.op = Op::conv;
  conv.name = "conv";
  conv.inputs = {"x", "w", "b"};
  conv.outputs = {"y"};
  m.nodes.push_back(conv);
  qk::onnx::PtqOptions o;
  o.activations = qk::onnx::ActivationScheme::int16;
  qk::onnx::Calibrator cal;
  std::string error;
  INFO(error);
  REQUIRE(cal.init(m, o, &error).ok());
  const Tensor x = f32({1, 1, 2, 2}, {0.0f, 0.25f, 0.5f, 1.0f});
  REQUIRE(cal.observe({x}, &error).ok());
  Model q;
  REQUIRE(qk::onnx::quantize_qdq(m, cal, o, &q, &error).ok());
  const Tensor* b = q.initializer("b");
  REQUIRE(b != nullptr);
  CHECK(b->type == DataType::float32);
  CHECK(q.initializer("b/q") == nullptr);
  CHECK(q.initializer("w/q") != nullptr);
  std::vector<Tensor> out;
  REQUIRE(qk::onnx::run_reference(q, {x}, &out, &error).ok());
  for (std::size_t i = 0; i < 4; ++i) CHECK(std::fabs(out[0].data<float>()[i] - (1.0f + 1e-6f * x.data<float>()[i])) < 1e-4f);
}

// PtqOptions::method_for: the named tensor takes its own observer, every other tensor the main
// one; a name that is not a calibrated activation is an error that names it.
TEST_CASE("ptq: a per-tensor observer override changes that tensor's range only", "[onnx]") {
  const std::string dir = std::string(QK_MODELS_DIR) + "/fashion_cnn";
  Model model;
  std::string error;
  INFO(error);
  REQUIRE(qk::onnx::load_file((dir + "/fashion_cnn.onnx").c_str(), &model, &error).ok());
  qk_tools::IdxImages train;
  REQUIRE(qk_tools::read_idx_images(std::string(QK_FASHION_MNIST) + "/train-images-idx3-ubyte.gz", &train, &error));
  const std::string first = "/conv1/conv1.1/Relu_output_0", second = "/conv2/conv2.1/Relu_output_0";
  auto calibrate = [&](qk::onnx::RangeMethod method, bool override_first, qk::onnx::Calibrator* cal) {
    qk::onnx::PtqOptions o;
    o.method = method;
    if (override_first) o.method_for.emplace_back(first, qk::onnx::RangeMethod::minmax);
    REQUIRE(cal->init(model, o, &error).ok());
    for (std::size_t i = 0; i < 128; i += 64) REQUIRE(cal->observe({images(train, i, 64)}, &error).ok());
  };
  qk::onnx::Calibrator minmax, entropy, mixed;
  calibrate(qk::onnx::RangeMethod::minmax, false, &minmax);
  calibrate(qk::onnx::RangeMethod::entropy, false, &entropy);
  calibrate(qk::onnx::RangeMethod::entropy, true, &mixed);
  auto params = [&](const qk::onnx::Calibrator& c, const std::string& t) {
    float s = 0.0f;
    std::int32_t z = 0;
    REQUIRE(c.params(t, &s, &z, &error).ok());
    return std::make_pair(s, z);
  };
  CHECK(params(mixed, first) == params(minmax, first));
  CHECK(params(mixed, second) == params(entropy, second));
  // The methods differ on these tensors, or the checks above could not fail.
  CHECK(params(entropy, first) != params(minmax, first));
  CHECK(params(entropy, second) != params(minmax, second));

  qk::onnx::PtqOptions bad;
  bad.method_for.emplace_back("no_such_tensor", qk::onnx::RangeMethod::minmax);
  qk::onnx::Calibrator c;
  CHECK(c.init(model, bad, &error).code() == qk::StatusCode::invalid_argument);
  CHECK(error.find("no_such_tensor") != std::string::npos);
}
