// TFLite conformance runners for softmax and batch matmul (see tflite_cases.hpp): each layer is
// built from the case's prepared integers, as TFLite's Prepare left them, and every output must
// equal TFLite's.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "layers/tflite_cases.hpp"
#include "qk/layers/batch_matmul.hpp"
#include "qk/layers/softmax.hpp"

namespace qk_test {

namespace {

qk::layers::Shape4 shape4(const std::vector<std::size_t>& d) {
  REQUIRE(d.size() == 4);
  qk::layers::Shape4 s;
  s.n = d[0], s.h = d[1], s.w = d[2], s.c = d[3];
  return s;
}

void require_equal(const std::vector<std::int8_t>& got, const std::vector<std::int32_t>& expected) {
  REQUIRE(got.size() == expected.size());
  std::size_t mismatches = 0, first = got.size();
  for (std::size_t i = 0; i < got.size(); ++i)
    if (got[i] != expected[i]) {
      if (mismatches++ == 0) first = i;
    }
  INFO("first mismatch at " << first << " of " << got.size());
  REQUIRE(mismatches == 0);
}

}  // namespace

void run_softmax_case(const nlohmann::json& c) {
  qk::layers::SoftmaxParams p;
  p.input_multiplier = json_i32(c, "input_multiplier");
  p.input_left_shift = json_i32(c, "input_left_shift");
  p.diff_min = json_i32(c, "diff_min");
  qk::layers::Shape4 shape;
  shape.n = json_size(c, "rows");
  shape.c = json_size(c, "row_size");
  qk::layers::Softmax layer;
  const qk::Status st = layer.init(shape, qk::ElementType::s8, p);
  INFO(qk::StatusText(st).c_str());
  REQUIRE(st.ok());
  const std::vector<std::int8_t> input = json_vector<std::int8_t>(c, "input");
  REQUIRE(input.size() == shape.n * shape.c);
  std::vector<std::int8_t> output(input.size(), 0);
  const void* inputs[1] = {input.data()};
  REQUIRE(layer.run(inputs, output.data(), nullptr, 0).ok());
  require_equal(output, json_vector<std::int32_t>(c, "expected_output"));
}

void run_batch_matmul_case(const nlohmann::json& c) {
  qk::layers::BatchMatMulParams p;
  p.lhs_offset = json_i32(c, "lhs_offset");
  p.rhs_offset = json_i32(c, "rhs_offset");
  p.output_offset = json_i32(c, "output_offset");
  p.output_multiplier = json_i32(c, "output_multiplier");
  p.output_shift = json_i32(c, "output_shift");
  p.act_min = json_i32(c, "act_min");
  p.act_max = json_i32(c, "act_max");
  qk::layers::BatchMatMul layer;
  const qk::Status st = layer.init(shape4(json_vector<std::size_t>(c, "lhs_shape")),
                                   shape4(json_vector<std::size_t>(c, "rhs_shape")), c.at("adj_x").get<bool>(),
                                   c.at("adj_y").get<bool>(), qk::ElementType::s8, p);
  INFO(qk::StatusText(st).c_str());
  REQUIRE(st.ok());
  REQUIRE(layer.output_shape() == shape4(json_vector<std::size_t>(c, "output_shape")));
  const std::vector<std::int8_t> lhs = json_vector<std::int8_t>(c, "lhs"), rhs = json_vector<std::int8_t>(c, "rhs");
  REQUIRE(lhs.size() == layer.input_shape(0).count_unchecked());
  REQUIRE(rhs.size() == layer.input_shape(1).count_unchecked());
  std::size_t ws_bytes = 0;
  REQUIRE(layer.workspace_size(1, &ws_bytes).ok());
  std::vector<std::uint8_t> workspace(ws_bytes);
  std::vector<std::int8_t> output(layer.output_shape().count_unchecked(), 0);
  const void* inputs[2] = {lhs.data(), rhs.data()};
  REQUIRE(layer.run(inputs, output.data(), workspace.data(), workspace.size()).ok());
  require_equal(output, json_vector<std::int32_t>(c, "expected_output"));
}

}  // namespace qk_test
