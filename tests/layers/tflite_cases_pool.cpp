// TFLite conformance runners for the pool layers (qk/layers/pool.hpp; see tflite_cases.hpp).
// Each case is built twice: from its padding (SAME/VALID, which must reproduce the case's
// pad_h/pad_w and output size) and from its prepared top/left padding as explicit pads (with the
// bottom/right that give its output size, as the model file's pooling layer is given), both with
// the case's prepared clamp; both must give every expected output.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "layers/tflite_cases.hpp"
#include "qk/layers/pool.hpp"

namespace qk_test {
namespace {

template <class Layer>
void run_pool_case(const nlohmann::json& c) {
  const qk::layers::Shape4 in{json_size(c, "batches"), json_size(c, "input_h"), json_size(c, "input_w"),
                              json_size(c, "channels")};
  qk::layers::Pool2DOptions opt;
  opt.filter_h = json_size(c, "filter_h");
  opt.filter_w = json_size(c, "filter_w");
  opt.stride_h = json_size(c, "stride_h");
  opt.stride_w = json_size(c, "stride_w");
  const std::string padding = c.at("padding").get<std::string>();
  REQUIRE((padding == "SAME" || padding == "VALID"));
  opt.padding = padding == "SAME" ? qk::layers::PoolPadding::same : qk::layers::PoolPadding::valid;
  const std::size_t out_h = json_size(c, "output_h"), out_w = json_size(c, "output_w");
  const std::size_t pad_h = json_size(c, "pad_h"), pad_w = json_size(c, "pad_w");
  const std::int32_t act_min = json_i32(c, "act_min"), act_max = json_i32(c, "act_max");
  const std::vector<std::int8_t> input = json_vector<std::int8_t>(c, "input");
  const std::vector<std::int8_t> expected = json_vector<std::int8_t>(c, "expected_output");
  REQUIRE(input.size() == in.count_unchecked());
  REQUIRE(expected.size() == in.n * out_h * out_w * in.c);

  qk::layers::Pool2DOptions explicit_opt = opt;
  explicit_opt.padding = qk::layers::PoolPadding::explicit_pads;
  explicit_opt.pad_top = pad_h;
  explicit_opt.pad_left = pad_w;
  const std::size_t cover_h = (out_h - 1) * opt.stride_h + opt.filter_h;
  const std::size_t cover_w = (out_w - 1) * opt.stride_w + opt.filter_w;
  explicit_opt.pad_bottom = cover_h > in.h + pad_h ? cover_h - in.h - pad_h : 0;
  explicit_opt.pad_right = cover_w > in.w + pad_w ? cover_w - in.w - pad_w : 0;

  for (const qk::layers::Pool2DOptions& o : {opt, explicit_opt}) {
    INFO("padding " << static_cast<int>(o.padding));
    Layer layer;
    const qk::Status st = layer.init(qk::ElementType::s8, in, o, act_min, act_max);
    INFO(qk::StatusText(st).c_str());
    REQUIRE(st.ok());
    REQUIRE(layer.output_shape() == (qk::layers::Shape4{in.n, out_h, out_w, in.c}));
    CHECK(layer.pad_top() == pad_h);
    CHECK(layer.pad_left() == pad_w);
    std::vector<std::int8_t> out(expected.size(), 0x55);
    REQUIRE(layer.run(input.data(), out.data()).ok());
    std::size_t mismatches = 0;
    for (std::size_t i = 0; i < out.size(); ++i)
      if (out[i] != expected[i]) {
        if (mismatches < 5) UNSCOPED_INFO("output " << i << ": " << int(out[i]) << " expected " << int(expected[i]));
        ++mismatches;
      }
    REQUIRE(mismatches == 0);
  }
}

}  // namespace

void run_average_pool2d_case(const nlohmann::json& c) { run_pool_case<qk::layers::AveragePool2D>(c); }
void run_max_pool2d_case(const nlohmann::json& c) { run_pool_case<qk::layers::MaxPool2D>(c); }

}  // namespace qk_test
