// The loader's contract: what it refuses, with a message naming the culprit, and that a damaged
// file is an error and never a crash (the fuzz target tests/fuzz/fuzz_onnx_load.cpp goes further).
#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include <string>

#include "qk/onnx/interpreter.hpp"
#include "qk/onnx/model.hpp"

namespace {

// A valid model: y = Relu(Conv(x, w) + b), x [1,1,4,4], w [2,1,3,3] of ones, b [2].
::onnx::ModelProto conv_relu_model() {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  ::onnx::GraphProto* g = m.mutable_graph();
  auto* x = g->add_input();
  x->set_name("x");
  auto* tt = x->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(::onnx::TensorProto::FLOAT);
  for (int d : {1, 1, 4, 4}) tt->mutable_shape()->add_dim()->set_dim_value(d);
  auto* w = g->add_initializer();
  w->set_name("w");
  w->set_data_type(::onnx::TensorProto::FLOAT);
  for (int d : {2, 1, 3, 3}) w->add_dims(d);
  for (int i = 0; i < 18; ++i) w->add_float_data(i < 9 ? 1.0f : -1.0f);
  auto* b = g->add_initializer();
  b->set_name("b");
  b->set_data_type(::onnx::TensorProto::FLOAT);
  b->add_dims(2);
  b->add_float_data(0.5f);
  b->add_float_data(0.25f);
  auto* conv = g->add_node();
  conv->set_op_type("Conv");
  conv->set_name("conv0");
  conv->add_input("x");
  conv->add_input("w");
  conv->add_input("b");
  conv->add_output("c");
  auto* pads = conv->add_attribute();
  pads->set_name("pads");
  pads->set_type(::onnx::AttributeProto::INTS);
  for (int p : {1, 1, 1, 1}) pads->add_ints(p);
  auto* relu = g->add_node();
  relu->set_op_type("Relu");
  relu->add_input("c");
  relu->add_output("y");
  g->add_output()->set_name("y");
  return m;
}

qk::Status load(const ::onnx::ModelProto& m, std::string* error, qk::onnx::Model* out = nullptr) {
  const std::string bytes = m.SerializeAsString();
  qk::onnx::Model model;
  return qk::onnx::load(bytes.data(), bytes.size(), out != nullptr ? out : &model, error);
}

}  // namespace

TEST_CASE("onnx load: a valid model loads and runs", "[onnx]") {
  qk::onnx::Model model;
  std::string error;
  REQUIRE(load(conv_relu_model(), &error, &model).ok());
  REQUIRE(model.nodes.size() == 2);
  CHECK(model.nodes[1].name == "Relu_1");  // unnamed nodes are named op_index
  qk::onnx::Tensor x;
  x.type = qk::onnx::DataType::float32;
  x.dims = {1, 1, 4, 4};
  x.bytes.resize(16 * 4);
  for (int i = 0; i < 16; ++i) x.data<float>()[i] = static_cast<float>(i);
  std::vector<qk::onnx::Tensor> out;
  std::size_t observed = 0;
  REQUIRE(qk::onnx::run_reference(model, {x}, &out, &error,
                                  [&](const qk::onnx::Node&, const std::vector<const qk::onnx::Tensor*>&) { ++observed; })
              .ok());
  CHECK(observed == 2);
  REQUIRE(out.size() == 1);
  REQUIRE(out[0].dims == std::vector<std::int64_t>{1, 2, 4, 4});
  // Channel 0, centre (1,1): sum of the 3x3 window 0,1,2,4,5,6,8,9,10 = 45, + 0.5.
  CHECK(out[0].data<float>()[5] == 45.5f);
  // Channel 1 is the negated sum + 0.25: relu makes it 0.
  CHECK(out[0].data<float>()[16 + 5] == 0.0f);
  // Corner (0,0) with padding: 0+1+4+5 = 10.
  CHECK(out[0].data<float>()[0] == 10.5f);
}

TEST_CASE("onnx load: refusals name the culprit", "[onnx]") {
  std::string error;
  SECTION("unsupported operator") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_node(1)->set_op_type("Gelu");
    CHECK(load(m, &error).code() == qk::StatusCode::unsupported);
    CHECK(error.find("Gelu") != std::string::npos);
  }
  SECTION("operator of another domain") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_node(1)->set_domain("com.example");
    CHECK(load(m, &error).code() == qk::StatusCode::unsupported);
    CHECK(error.find("com.example.Relu") != std::string::npos);
  }
  SECTION("unsupported attribute") {
    auto m = conv_relu_model();
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("output_padding");
    a->set_type(::onnx::AttributeProto::INTS);
    CHECK(load(m, &error).code() == qk::StatusCode::unsupported);
    CHECK(error.find("output_padding") != std::string::npos);
    CHECK(error.find("conv0") != std::string::npos);
  }
  SECTION("attribute of the wrong type") {
    auto m = conv_relu_model();
    auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("group");
    a->set_type(::onnx::AttributeProto::FLOAT);
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
    CHECK(error.find("group") != std::string::npos);
  }
  SECTION("input defined by nothing") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_node(1)->set_input(0, "nowhere");
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
    CHECK(error.find("nowhere") != std::string::npos);
  }
  SECTION("nodes out of order") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_node()->SwapElements(0, 1);
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("two producers of one value") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_node(1)->set_output(0, "c");
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("initializer data that does not match its dims") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_initializer(0)->add_float_data(1.0f);
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
    CHECK(error.find("'w'") != std::string::npos);
  }
  SECTION("raw data of the wrong size") {
    auto m = conv_relu_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->clear_float_data();
    w->set_raw_data(std::string(71, '\0'));
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("huge dims") {
    auto m = conv_relu_model();
    auto* w = m.mutable_graph()->mutable_initializer(0);
    w->set_dims(0, std::int64_t{1} << 40);
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("external data") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_initializer(0)->set_data_location(::onnx::TensorProto::EXTERNAL);
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
    CHECK(error.find("external") != std::string::npos);
  }
  SECTION("an output nothing computes") {
    auto m = conv_relu_model();
    m.mutable_graph()->mutable_output(0)->set_name("z");
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("no opset of the default domain") {
    auto m = conv_relu_model();
    m.mutable_opset_import(0)->set_domain("com.example");
    CHECK(load(m, &error).code() == qk::StatusCode::invalid_argument);
  }
  SECTION("an old opset's attribute") {
    auto m = conv_relu_model();
    m.mutable_opset_import(0)->set_version(6);
    auto* a = m.mutable_graph()->mutable_node(1)->add_attribute();
    a->set_name("consumed_inputs");
    a->set_type(::onnx::AttributeProto::INTS);
    CHECK(load(m, &error).code() == qk::StatusCode::unsupported);
    CHECK(error.find("consumed_inputs") != std::string::npos);
  }
  SECTION("not a model at all") {
    const char junk[] = "\xff\xff\xff\xff not protobuf";
    qk::onnx::Model model;
    CHECK(!qk::onnx::load(junk, sizeof junk, &model, &error).ok());
    CHECK(qk::onnx::load(nullptr, 10, &model, &error).code() == qk::StatusCode::null_pointer);
    CHECK(qk::onnx::load(junk, sizeof junk, nullptr, &error).code() == qk::StatusCode::null_pointer);
    CHECK(qk::onnx::load_file("/nonexistent/model.onnx", &model, &error).code() == qk::StatusCode::invalid_argument);
  }
}

TEST_CASE("onnx load: every truncation of a valid file is an error or a valid model", "[onnx]") {
  const std::string bytes = conv_relu_model().SerializeAsString();
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    qk::onnx::Model model;
    model.producer = "untouched";
    std::string error;
    const qk::Status st = qk::onnx::load(bytes.data(), n, &model, &error);
    if (!st.ok()) {
      CHECK(model.producer == "untouched");  // nothing written on error
      CHECK(!error.empty());
    }
  }
}

TEST_CASE("onnx run: shape errors are reported, not run", "[onnx]") {
  qk::onnx::Model model;
  std::string error;
  REQUIRE(load(conv_relu_model(), &error, &model).ok());
  qk::onnx::Tensor x;
  x.type = qk::onnx::DataType::float32;
  x.dims = {1, 2, 4, 4};  // the model declares one channel
  x.bytes.resize(32 * 4);
  std::vector<qk::onnx::Tensor> out;
  CHECK(qk::onnx::run_reference(model, {x}, &out, &error).code() == qk::StatusCode::bad_shape);
  CHECK(out.empty());
  CHECK(qk::onnx::run_reference(model, {}, &out, &error).code() == qk::StatusCode::invalid_argument);
  x.dims = {1, 1, 4, 4};
  CHECK(qk::onnx::run_reference(model, {x}, &out, &error).code() == qk::StatusCode::bad_shape);  // 128 bytes for 16 floats
}

TEST_CASE("onnx run: the work limit refuses a node before it loops", "[onnx]") {
  qk::onnx::Model model;
  std::string error;
  REQUIRE(load(conv_relu_model(), &error, &model).ok());
  qk::onnx::Tensor x;
  x.type = qk::onnx::DataType::float32;
  x.dims = {1, 1, 4, 4};
  x.bytes.assign(16 * 4, 0);
  std::vector<qk::onnx::Tensor> out;
  // The conv: 1 x 2 x 4 x 4 outputs x 9 taps = 288 multiply-adds.
  qk::onnx::RunLimits limits;
  limits.max_work_per_node = 287;
  CHECK(qk::onnx::run_reference(model, {x}, &out, &error, qk::onnx::Observer(), limits).code() == qk::StatusCode::unsupported);
  CHECK(error.find("conv0") != std::string::npos);
  CHECK(out.empty());
  limits.max_work_per_node = 288;
  CHECK(qk::onnx::run_reference(model, {x}, &out, &error, qk::onnx::Observer(), limits).ok());
}

#include <dirent.h>

// The fuzz target's seeds (tests/fuzz/make_onnx_seeds.py) are only useful if they get past the
// loader and through the interpreter: each must load and run on inputs of its declared shape.
TEST_CASE("onnx load: every fuzz seed loads and runs", "[onnx]") {
  const std::string dir = QK_ONNX_SEEDS;
  std::size_t seeds = 0;
  DIR* d = opendir(dir.c_str());
  REQUIRE(d != nullptr);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string path = dir + "/" + e->d_name;
    qk::onnx::Model model;
    std::string error;
    INFO(path << ": " << error);
    REQUIRE(qk::onnx::load_file(path.c_str(), &model, &error).ok());
    std::vector<qk::onnx::Tensor> inputs;
    for (const auto& vi : model.inputs) {
      qk::onnx::Tensor t;
      t.type = vi.type;
      t.dims = vi.dims;
      t.bytes.assign(t.count() * qk::onnx::data_type_size(t.type), 1);
      inputs.push_back(std::move(t));
    }
    std::vector<qk::onnx::Tensor> out;
    const qk::Status st = qk::onnx::run_reference(model, inputs, &out, &error);
    INFO(error);
    CHECK(st.ok());
    ++seeds;
  }
  closedir(d);
  CHECK(seeds >= 14);
}
