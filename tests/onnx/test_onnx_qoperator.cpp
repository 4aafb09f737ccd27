// QOperator models (QLinearConv, QLinearMatMul) lowered onto qk's layers. The test quantizes the
// committed Fashion-MNIST CNN to QDQ, writes the same model in QOperator form (every
// DQ -> Conv -> Relu -> Q chain as one QLinearConv; the Relu disappears because its output range
// starts at 0, so the output zero point is -128 and the int8 clamp is the ReLU, as ONNX Runtime's
// QOperator conversion does it), and checks that:
//   * qk's network on the QOperator file equals qk's network on the QDQ file bit for bit;
//   * the reference interpreter running the QLinearConv nodes as the ONNX spec defines them
//     (float requantization) agrees with qk's fixed-point network on almost every image;
//   * QOperator nodes qk cannot lower are refused with the node named.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "idx.hpp"
#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"
#include "qk/onnx/network.hpp"
#include "qk/onnx/quantize.hpp"

namespace {

using qk::onnx::Model;
using qk::onnx::Node;
using qk::onnx::Op;
using qk::onnx::Tensor;

Tensor images_tensor(const qk_tools::IdxImages& im, std::size_t first, std::size_t n) {
  Tensor t;
  t.type = qk::onnx::DataType::float32;
  t.dims = {static_cast<std::int64_t>(n), 1, 28, 28};
  t.bytes.resize(n * 784 * 4);
  for (std::size_t i = 0; i < n * 784; ++i) t.data<float>()[i] = static_cast<float>(im.pixels[first * 784 + i]) / 255.0f;
  return t;
}

// QDQ (as quantize_qdq writes it) -> QOperator for every Conv whose output goes through Relu to
// one QuantizeLinear.
Model to_qoperator(const Model& qdq, std::size_t* rewritten) {
  std::map<std::string, const Node*> producer;
  std::map<std::string, std::vector<const Node*>> consumers;
  for (const Node& n : qdq.nodes) {
    for (const std::string& o : n.outputs) producer[o] = &n;
    for (const std::string& i : n.inputs) consumers[i].push_back(&n);
  }
  std::set<const Node*> drop;
  std::map<const Node*, Node> replace;
  Model r = qdq;
  for (const Node& n : qdq.nodes) {
    if (n.op != Op::conv) continue;
    const Node* dx = producer.at(n.input(0));
    const Node* dw = producer.at(n.input(1));
    const Node* db = producer.at(n.input(2));
    const auto& relu_c = consumers.at(n.outputs[0]);
    REQUIRE(relu_c.size() == 1);
    REQUIRE(relu_c[0]->op == Op::relu);
    const auto& q_c = consumers.at(relu_c[0]->outputs[0]);
    REQUIRE(q_c.size() == 1);
    const Node* q = q_c[0];
    REQUIRE(q->op == Op::quantize_linear);
    // The zero point must be the int8 minimum for the Relu to vanish into the clamp.
    REQUIRE(qdq.initializer(q->input(2))->data<std::int8_t>()[0] == -128);
    const Tensor* ws = qdq.initializer(dw->input(1));
    Tensor wz;
    wz.type = qk::onnx::DataType::int8;
    wz.dims = ws->dims;
    wz.bytes.assign(ws->count(), 0);
    const std::string wz_name = n.name + "/w_zero_point";
    r.initializers.push_back({wz_name, wz});
    Node ql;
    ql.op = Op::qlinear_conv;
    ql.name = n.name + "/QLinearConv";
    ql.inputs = {dx->input(0), dx->input(1), dx->input(2), dw->input(0), dw->input(1), wz_name, q->input(1), q->input(2),
                 db->input(0)};
    ql.outputs = {q->outputs[0]};
    ql.attributes = n.attributes;
    replace[&n] = ql;
    drop.insert(dw), drop.insert(db), drop.insert(relu_c[0]), drop.insert(q);
    ++*rewritten;
  }
  r.nodes.clear();
  for (const Node& n : qdq.nodes) {
    if (drop.count(&n) != 0) continue;
    const auto it = replace.find(&n);
    r.nodes.push_back(it != replace.end() ? it->second : n);
  }
  return r;
}

}  // namespace

TEST_CASE("onnx network: QOperator QLinearConv models lower onto the same layers as QDQ, bit for bit", "[onnx][qoperator]") {
  const std::string dir = std::string(QK_MODELS_DIR) + "/fashion_cnn";
  Model model;
  std::string error;
  INFO(error);
  REQUIRE(qk::onnx::load_file((dir + "/fashion_cnn.onnx").c_str(), &model, &error).ok());
  qk_tools::IdxImages train, test;
  REQUIRE(qk_tools::read_idx_images(std::string(QK_FASHION_MNIST) + "/train-images-idx3-ubyte.gz", &train, &error));
  REQUIRE(qk_tools::read_idx_images(std::string(QK_FASHION_MNIST) + "/t10k-images-idx3-ubyte.gz", &test, &error));
  qk::onnx::PtqOptions opt;
  qk::onnx::Calibrator cal;
  REQUIRE(cal.init(model, opt, &error).ok());
  for (std::size_t i = 0; i < 256; i += 64) REQUIRE(cal.observe({images_tensor(train, i, 64)}, &error).ok());
  Model qdq;
  REQUIRE(qk::onnx::quantize_qdq(model, cal, opt, &qdq, &error).ok());
  std::size_t rewritten = 0;
  const Model qop = to_qoperator(qdq, &rewritten);
  REQUIRE(rewritten == 5);
  std::size_t qlinear = 0, conv = 0;
  for (const Node& n : qop.nodes) qlinear += n.op == Op::qlinear_conv, conv += n.op == Op::conv;
  REQUIRE(qlinear == 5);
  REQUIRE(conv == 0);
  // The QOperator model survives the file format.
  std::string bytes;
  REQUIRE(qk::onnx::save(qop, &bytes, &error).ok());
  Model loaded;
  REQUIRE(qk::onnx::load(bytes.data(), bytes.size(), &loaded, &error).ok());

  const std::size_t batch = 100, images = 300;
  qk::onnx::Network a, b;
  REQUIRE(a.build(qdq, batch, &error).ok());
  REQUIRE(b.build(loaded, batch, &error).ok());
  REQUIRE(a.layer_count() == 7);
  REQUIRE(b.layer_count() == a.layer_count());
  std::vector<unsigned char> arena_a(a.arena_size()), arena_b(b.arena_size());
  std::vector<float> out_a(a.output_count()), out_b(b.output_count());
  std::size_t agree = 0;
  for (std::size_t i = 0; i < images; i += batch) {
    const Tensor x = images_tensor(test, i, batch);
    REQUIRE(a.run(x.data<float>(), out_a.data(), arena_a.data(), arena_a.size()).ok());
    REQUIRE(b.run(x.data<float>(), out_b.data(), arena_b.data(), arena_b.size()).ok());
    REQUIRE(std::memcmp(out_a.data(), out_b.data(), out_a.size() * sizeof(float)) == 0);
    // The spec's QLinearConv (float requantization) in the reference interpreter.
    std::vector<Tensor> ref;
    REQUIRE(qk::onnx::run_reference(loaded, {x}, &ref, &error).ok());
    REQUIRE(ref[0].count() == out_b.size());
    for (std::size_t k = 0; k < batch; ++k) {
      const float* p = out_b.data() + k * 10;
      const float* q = ref[0].data<float>() + k * 10;
      agree += std::max_element(p, p + 10) - p == std::max_element(q, q + 10) - q;
    }
  }
  WARN("QOperator model: qk network vs the reference interpreter (float requantization): " << agree << " / " << images
                                                                                         << " top-1 equal");
  CHECK(agree >= images * 98 / 100);
}

TEST_CASE("onnx network: QOperator nodes qk cannot lower are refused with the node named", "[onnx][qoperator]") {
  Model m;
  m.opset = 13;
  m.inputs.push_back({"x", qk::onnx::DataType::float32, {1, 1, 4, 4}});
  m.outputs.push_back({"y", qk::onnx::DataType::float32, {1, 1, 4, 4}});
  auto scalar = [](float v) {
    Tensor t;
    t.type = qk::onnx::DataType::float32;
    t.bytes.resize(4);
    std::memcpy(t.bytes.data(), &v, 4);
    return t;
  };
  Tensor zp;
  zp.type = qk::onnx::DataType::int8;
  zp.bytes.assign(1, 0);
  m.initializers.push_back({"s", scalar(0.1f)});
  m.initializers.push_back({"z", zp});
  Node q;
  q.op = Op::quantize_linear, q.name = "q", q.inputs = {"x", "s", "z"}, q.outputs = {"xq"};
  // Weights that are a graph tensor, not an initializer.
  Node c;
  c.op = Op::qlinear_conv, c.name = "the_conv", c.inputs = {"xq", "s", "z", "xq", "s", "z", "s", "z"}, c.outputs = {"yq"};
  Node d;
  d.op = Op::dequantize_linear, d.name = "d", d.inputs = {"yq", "s", "z"}, d.outputs = {"y"};
  m.nodes = {q, c, d};
  qk::onnx::Network net;
  std::string error;
  const qk::Status st = net.build(m, 1, &error);
  REQUIRE(st.code() == qk::StatusCode::unsupported);
  INFO(error);
  CHECK(error.find("the_conv") != std::string::npos);
  CHECK(error.find("initializers") != std::string::npos);
}
