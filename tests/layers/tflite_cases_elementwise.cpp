// TFLite conformance runners for the element-wise layers and pad (see tflite_cases.hpp): each
// builds the qk layer from the case's prepared integers, runs it on the case's int8 inputs and
// requires every output equal to expected_output.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "layers/tflite_cases.hpp"
#include "qk/core/status.hpp"
#include "qk/layers/elementwise.hpp"
#include "qk/layers/shape.hpp"

namespace qk_test {
namespace {

qk::layers::Shape4 json_shape(const nlohmann::json& c, const char* key) {
  const std::vector<std::size_t> d = json_vector<std::size_t>(c, key);
  REQUIRE(d.size() == 4);
  return qk::layers::Shape4{d[0], d[1], d[2], d[3]};
}

std::vector<std::int8_t> json_i8(const nlohmann::json& c, const char* key) {
  const std::vector<int> v = json_vector<int>(c, key);
  std::vector<std::int8_t> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    REQUIRE(v[i] >= -128);
    REQUIRE(v[i] <= 127);
    out[i] = static_cast<std::int8_t>(v[i]);
  }
  return out;
}

void require_ok(const qk::Status& st) {
  INFO(qk::StatusText(st).c_str());
  REQUIRE(st.ok());
}

// Runs a built layer on the case's inputs and compares with expected_output.
void run_and_compare(const qk::layers::Layer& layer, const std::vector<const void*>& inputs, const nlohmann::json& c) {
  const std::vector<std::int8_t> expected = json_i8(c, "expected_output");
  REQUIRE(layer.output_shape().count_unchecked() == expected.size());
  std::vector<std::int8_t> out(expected.size(), 0);
  require_ok(layer.run(inputs.data(), out.data(), nullptr, 0));
  std::size_t mismatches = 0, first = expected.size();
  for (std::size_t i = 0; i < expected.size(); ++i)
    if (out[i] != expected[i]) {
      if (mismatches++ == 0) first = i;
    }
  INFO("first mismatch at " << first << " of " << expected.size());
  if (first < expected.size()) INFO("got " << int{out[first]} << ", expected " << int{expected[first]});
  REQUIRE(mismatches == 0);
}

// Flat cases (add, mul: "size", no shapes) run as [1, 1, 1, size].
qk::layers::Shape4 flat_shape(const nlohmann::json& c) { return qk::layers::Shape4{1, 1, 1, json_size(c, "size")}; }

template <class L>
void run_min_max_case(const nlohmann::json& c) {
  const qk::layers::Shape4 s1 = json_shape(c, "input1_shape"), s2 = json_shape(c, "input2_shape");
  L layer;
  require_ok(layer.init(qk::ElementType::s8, s1, s2, json_i32(c, "act_min"), json_i32(c, "act_max")));
  REQUIRE(layer.output_shape() == json_shape(c, "output_shape"));
  const std::vector<std::int8_t> a = json_i8(c, "input1"), b = json_i8(c, "input2");
  REQUIRE(a.size() == s1.count_unchecked());
  REQUIRE(b.size() == s2.count_unchecked());
  run_and_compare(layer, {a.data(), b.data()}, c);
}

}  // namespace

void run_add_case(const nlohmann::json& c) {
  qk::layers::AddParams p;
  p.input1_offset = json_i32(c, "input1_offset");
  p.input2_offset = json_i32(c, "input2_offset");
  p.left_shift = json_i32(c, "left_shift");
  p.input1_multiplier = json_i32(c, "input1_multiplier");
  p.input1_shift = json_i32(c, "input1_shift");
  p.input2_multiplier = json_i32(c, "input2_multiplier");
  p.input2_shift = json_i32(c, "input2_shift");
  p.output_multiplier = json_i32(c, "output_multiplier");
  p.output_shift = json_i32(c, "output_shift");
  p.output_offset = json_i32(c, "output_offset");
  p.act_min = json_i32(c, "act_min");
  p.act_max = json_i32(c, "act_max");
  const qk::layers::Shape4 s = flat_shape(c);
  qk::layers::Add layer;
  require_ok(layer.init(qk::ElementType::s8, s, s, p));
  const std::vector<std::int8_t> a = json_i8(c, "input1"), b = json_i8(c, "input2");
  REQUIRE(a.size() == s.c);
  REQUIRE(b.size() == s.c);
  run_and_compare(layer, {a.data(), b.data()}, c);
}

void run_mul_case(const nlohmann::json& c) {
  qk::layers::MulParams p;
  p.input1_offset = json_i32(c, "input1_offset");
  p.input2_offset = json_i32(c, "input2_offset");
  p.output_multiplier = json_i32(c, "output_multiplier");
  p.output_shift = json_i32(c, "output_shift");
  p.output_offset = json_i32(c, "output_offset");
  p.act_min = json_i32(c, "act_min");
  p.act_max = json_i32(c, "act_max");
  const qk::layers::Shape4 s = flat_shape(c);
  qk::layers::Mul layer;
  require_ok(layer.init(qk::ElementType::s8, s, s, p));
  const std::vector<std::int8_t> a = json_i8(c, "input1"), b = json_i8(c, "input2");
  REQUIRE(a.size() == s.c);
  REQUIRE(b.size() == s.c);
  run_and_compare(layer, {a.data(), b.data()}, c);
}

void run_maximum_case(const nlohmann::json& c) { run_min_max_case<qk::layers::Maximum>(c); }
void run_minimum_case(const nlohmann::json& c) { run_min_max_case<qk::layers::Minimum>(c); }

void run_pad_case(const nlohmann::json& c) {
  const qk::layers::Shape4 in = json_shape(c, "input_shape");
  const std::vector<std::size_t> b = json_vector<std::size_t>(c, "pad_before"), a = json_vector<std::size_t>(c, "pad_after");
  REQUIRE(b.size() == 4);
  REQUIRE(a.size() == 4);
  qk::layers::Pad layer;
  require_ok(layer.init(qk::ElementType::s8, in, qk::layers::PadAmounts{b[0], b[1], b[2], b[3]},
                        qk::layers::PadAmounts{a[0], a[1], a[2], a[3]}, json_i32(c, "pad_value")));
  REQUIRE(layer.output_shape() == json_shape(c, "output_shape"));
  const std::vector<std::int8_t> x = json_i8(c, "input");
  REQUIRE(x.size() == in.count_unchecked());
  run_and_compare(layer, {x.data()}, c);
}

}  // namespace qk_test
