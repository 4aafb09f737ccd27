// Pad and Concatenation (qk/layers/shape.hpp) against plain definitions written here: pad as
// "output[i] = input[i - before] inside the input, else the value", concatenation by output
// index (which input holds coordinate `axis`), uint8 rescaling as TFLite's
// ConcatenationWithScaling computes each element (float, rounded half away from zero).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qk/layers/shape.hpp"

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::PadAmounts;
using qk::layers::QuantInfo;
using qk::layers::Shape4;

std::size_t dim(const Shape4& s, int d) { return d == 0 ? s.n : d == 1 ? s.h : d == 2 ? s.w : s.c; }
std::size_t index_of(const Shape4& s, const std::size_t i[4]) { return ((i[0] * s.h + i[1]) * s.w + i[2]) * s.c + i[3]; }

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) {
    const unsigned r = rng() & 15;
    x = static_cast<std::uint8_t>(r == 0 ? 0 : r == 1 ? 255 : r == 2 ? 127 : r == 3 ? 128 : rng() & 255);
  }
  return v;
}

}  // namespace

TEST_CASE("pad: random shapes and amounts match the plain definition", "[layers][shape]") {
  std::mt19937 rng(3);
  std::size_t compared = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const ElementType t = trial % 2 ? ElementType::u8 : ElementType::s8;
    auto r = [&](unsigned m) { return static_cast<std::size_t>(rng() % m); };
    const Shape4 in{1 + r(3), 1 + r(5), 1 + r(6), 1 + r(20)};
    const PadAmounts before{r(2), r(3), r(3), trial % 3 ? 0 : r(4)}, after{r(2), r(3), r(3), trial % 3 ? 0 : r(4)};
    const std::int32_t value = t == ElementType::s8 ? static_cast<std::int32_t>(r(256)) - 128 : static_cast<std::int32_t>(r(256));
    qk::layers::Pad pad;
    REQUIRE(pad.init(t, in, before, after, value).ok());
    const Shape4 o = pad.output_shape();
    REQUIRE(o == Shape4{in.n + before.n + after.n, in.h + before.h + after.h, in.w + before.w + after.w, in.c + before.c + after.c});
    const auto x = random_bytes(rng, in.count_unchecked());
    std::vector<std::uint8_t> out(o.count_unchecked(), 0x5a);
    const void* ins[1] = {x.data()};
    REQUIRE(pad.run(ins, out.data(), nullptr, 0).ok());
    const std::size_t b[4] = {before.n, before.h, before.w, before.c};
    std::size_t i[4];
    for (i[0] = 0; i[0] < o.n; ++i[0])
      for (i[1] = 0; i[1] < o.h; ++i[1])
        for (i[2] = 0; i[2] < o.w; ++i[2])
          for (i[3] = 0; i[3] < o.c; ++i[3]) {
            bool inside = true;
            std::size_t j[4];
            for (int d = 0; d < 4; ++d) {
              inside = inside && i[d] >= b[d] && i[d] - b[d] < dim(in, d);
              j[d] = i[d] - b[d];
            }
            const std::uint8_t want = inside ? x[index_of(in, j)] : static_cast<std::uint8_t>(value);
            REQUIRE(out[index_of(o, i)] == want);
            ++compared;
          }
  }
  WARN("pad: 600 random layers, " << compared << " outputs compared");
}

TEST_CASE("pad: from quantization pads with the output zero point, errors write nothing", "[layers][shape]") {
  const Shape4 in{1, 2, 2, 2};
  qk::layers::Pad pad;
  REQUIRE(pad.init(ElementType::s8, in, PadAmounts{0, 0, 1, 1}, PadAmounts{0, 0, 2, 2}, QuantInfo{0.5f, -128},
                   QuantInfo{0.5f, -128})
              .ok());
  REQUIRE(pad.pad_value() == -128);
  REQUIRE(pad.output_shape() == Shape4{1, 2, 5, 5});
  REQUIRE(pad.init(ElementType::u8, in, {}, {}, QuantInfo{0.5f, 3}, QuantInfo{0.25f, 3}).code() == StatusCode::invalid_argument);
  REQUIRE(!pad.built());
  REQUIRE(pad.init(ElementType::u8, in, {}, {}, QuantInfo{0.5f, 3}, QuantInfo{0.5f, 4}).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(ElementType::u8, in, {}, {}, QuantInfo{0.0f, 3}, QuantInfo{0.0f, 3}).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(ElementType::u8, in, {}, {}, QuantInfo{0.5f, 256}, QuantInfo{0.5f, 256}).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(ElementType::s8, in, {}, {}, 128).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(ElementType::u8, in, {}, {}, -1).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(static_cast<ElementType>(3), in, {}, {}, 0).code() == StatusCode::invalid_argument);
  REQUIRE(pad.init(ElementType::s8, Shape4{1, 0, 2, 2}, {}, {}, 0).code() == StatusCode::bad_shape);
  const std::size_t big = std::numeric_limits<std::size_t>::max() - 1;
  REQUIRE(pad.init(ElementType::s8, in, PadAmounts{0, big, 0, 0}, {}, 0).code() == StatusCode::size_overflow);
  REQUIRE(pad.init(ElementType::s8, in, PadAmounts{0, 0, std::size_t{1} << 33, 0}, PadAmounts{0, 0, 0, std::size_t{1} << 33}, 0).code() ==
          StatusCode::size_overflow);
  std::vector<std::int8_t> x(8, 1), out(50, 0x5a);
  const std::vector<std::int8_t> sentinel = out;
  const void* ins[1] = {x.data()};
  const void* null_in[1] = {nullptr};
  REQUIRE(pad.run(ins, out.data(), nullptr, 0).code() == StatusCode::invalid_argument);  // last init failed
  REQUIRE(pad.init(ElementType::s8, in, PadAmounts{0, 0, 1, 1}, PadAmounts{0, 0, 2, 2}, 0).ok());
  REQUIRE(pad.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  REQUIRE(pad.run(null_in, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  REQUIRE(pad.run(ins, nullptr, nullptr, 0).code() == StatusCode::null_pointer);
  REQUIRE(out == sentinel);
  REQUIRE(pad.run(ins, out.data(), nullptr, 0).ok());
}

TEST_CASE("concatenation: random axes and inputs match the plain definition, uint8 rescales as TFLite",
          "[layers][shape]") {
  std::mt19937 rng(8);
  std::size_t compared = 0, rescaled = 0;
  for (int trial = 0; trial < 600; ++trial) {
    const ElementType t = trial % 2 ? ElementType::u8 : ElementType::s8;
    auto r = [&](unsigned m) { return static_cast<std::size_t>(rng() % m); };
    const int axis = static_cast<int>(r(4));
    const std::size_t count = 1 + r(5);
    const Shape4 base{1 + r(3), 1 + r(4), 1 + r(5), 1 + r(12)};
    std::vector<Shape4> shapes(count, base);
    std::vector<QuantInfo> quant(count);
    const QuantInfo out_q{0.05f + 0.01f * static_cast<float>(r(10)), t == ElementType::u8 ? static_cast<std::int32_t>(r(256)) : 0};
    std::vector<std::vector<std::uint8_t>> data(count);
    for (std::size_t i = 0; i < count; ++i) {
      Shape4& s = shapes[i];
      (axis == 0 ? s.n : axis == 1 ? s.h : axis == 2 ? s.w : s.c) = 1 + r(4);
      data[i] = random_bytes(rng, s.count_unchecked());
      quant[i] = out_q;
      if (t == ElementType::u8 && (rng() & 1)) {
        quant[i] = QuantInfo{std::exp2(static_cast<float>(r(8)) - 6.0f) * 0.731f, static_cast<std::int32_t>(r(256))};
        if (rng() & 1) quant[i].scale = out_q.scale;  // zero point alone differs
      }
    }
    qk::layers::Concatenation cat;
    const int given_axis = (rng() & 1) ? axis : axis - 4;
    if (t == ElementType::s8)
      REQUIRE(cat.init(t, shapes.data(), count, given_axis).ok());
    else
      REQUIRE(cat.init(t, shapes.data(), quant.data(), count, given_axis, out_q).ok());
    REQUIRE(cat.input_count() == count);
    REQUIRE(cat.axis() == axis);
    const Shape4 o = cat.output_shape();
    std::vector<const void*> ins(count);
    for (std::size_t i = 0; i < count; ++i) ins[i] = data[i].data();
    std::vector<std::uint8_t> out(o.count_unchecked(), 0x5a);
    REQUIRE(cat.run(ins.data(), out.data(), nullptr, 0).ok());
    std::size_t idx[4];
    for (idx[0] = 0; idx[0] < o.n; ++idx[0])
      for (idx[1] = 0; idx[1] < o.h; ++idx[1])
        for (idx[2] = 0; idx[2] < o.w; ++idx[2])
          for (idx[3] = 0; idx[3] < o.c; ++idx[3]) {
            std::size_t which = 0, j[4] = {idx[0], idx[1], idx[2], idx[3]};
            while (j[axis] >= dim(shapes[which], axis)) j[axis] -= dim(shapes[which++], axis);
            const std::uint8_t x = data[which][index_of(shapes[which], j)];
            std::uint8_t want = x;
            const QuantInfo& q = quant[which];
            if (t == ElementType::u8 && !(q.scale == out_q.scale && q.zero_point == out_q.zero_point)) {
              const float scale = q.scale * (1.0f / out_q.scale);
              const float bias = static_cast<float>(-q.zero_point) * scale;
              volatile float product = static_cast<float>(x) * scale;  // TFLite's non-fused product
              const std::int32_t v = static_cast<std::int32_t>(std::round(product + bias)) + out_q.zero_point;
              want = static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
              ++rescaled;
            }
            REQUIRE(out[index_of(o, idx)] == want);
            ++compared;
          }
  }
  REQUIRE(rescaled > 1000);
  WARN("concatenation: 600 random layers, " << compared << " outputs compared (" << rescaled << " rescaled)");
}

TEST_CASE("concatenation: argument errors name the problem and write nothing", "[layers][shape]") {
  const Shape4 s[3] = {{1, 2, 2, 3}, {1, 2, 2, 5}, {1, 2, 2, 1}};
  const QuantInfo q[3] = {{0.5f, 1}, {0.5f, 1}, {0.5f, 1}};
  qk::layers::Concatenation cat;
  REQUIRE(cat.init(ElementType::s8, s, 3, 3).ok());
  REQUIRE(cat.output_shape() == Shape4{1, 2, 2, 9});
  REQUIRE(cat.init(ElementType::s8, s, 3, 2).code() == StatusCode::bad_shape);  // channels differ off the axis
  REQUIRE(!cat.built());
  REQUIRE(cat.input_count() == 0);
  REQUIRE(cat.init(ElementType::s8, s, 3, 4).code() == StatusCode::invalid_argument);
  REQUIRE(cat.init(ElementType::s8, s, 3, -5).code() == StatusCode::invalid_argument);
  REQUIRE(cat.init(ElementType::s8, s, 0, 3).code() == StatusCode::bad_shape);
  REQUIRE(cat.init(ElementType::s8, nullptr, 3, 3).code() == StatusCode::null_pointer);
  REQUIRE(cat.init(ElementType::s8, s, nullptr, 3, 3, QuantInfo{0.5f, 1}).code() == StatusCode::null_pointer);
  REQUIRE(cat.init(static_cast<ElementType>(9), s, 3, 3).code() == StatusCode::invalid_argument);
  const Shape4 z[2] = {{1, 2, 2, 3}, {1, 2, 2, 0}};
  REQUIRE(cat.init(ElementType::s8, z, 2, 3).code() == StatusCode::bad_shape);
  const std::size_t big = std::numeric_limits<std::size_t>::max() / 2 + 1;
  const Shape4 h[2] = {{1, 1, 1, big}, {1, 1, 1, big}};
  REQUIRE(cat.init(ElementType::s8, h, 2, 3).code() == StatusCode::size_overflow);
  // int8 refuses any input whose quantization differs from the output's.
  const QuantInfo q_bad[3] = {{0.5f, 1}, {0.25f, 1}, {0.5f, 1}};
  const auto st = cat.init(ElementType::s8, s, q_bad, 3, 3, QuantInfo{0.5f, 1});
  REQUIRE(st.code() == StatusCode::invalid_argument);
  REQUIRE(st.int_value() == 1);  // names input 1
  REQUIRE(cat.init(ElementType::s8, s, q, 3, 3, QuantInfo{0.5f, 2}).code() == StatusCode::invalid_argument);
  REQUIRE(cat.init(ElementType::s8, s, q, 3, 3, QuantInfo{0.5f, 1}).ok());  // all equal: fine
  REQUIRE(cat.init(ElementType::u8, s, q, 3, 3, QuantInfo{0.0f, 1}).code() == StatusCode::invalid_argument);
  REQUIRE(cat.init(ElementType::u8, s, q, 3, 3, QuantInfo{0.5f, 256}).code() == StatusCode::invalid_argument);
  const QuantInfo q_neg[3] = {{0.5f, -1}, {0.5f, 1}, {0.5f, 1}};
  REQUIRE(cat.init(ElementType::u8, s, q_neg, 3, 3, QuantInfo{0.5f, 1}).code() == StatusCode::invalid_argument);
  const QuantInfo q_nan[3] = {{0.5f, 1}, {std::nanf(""), 1}, {0.5f, 1}};
  REQUIRE(cat.init(ElementType::u8, s, q_nan, 3, 3, QuantInfo{0.5f, 1}).code() == StatusCode::invalid_argument);
  const QuantInfo q_huge[3] = {{3e38f, 1}, {0.5f, 1}, {0.5f, 1}};
  REQUIRE(cat.init(ElementType::u8, s, q_huge, 3, 3, QuantInfo{1e-3f, 1}).code() == StatusCode::invalid_argument);
  REQUIRE(!cat.built());

  std::vector<std::uint8_t> a(12, 1), b(20, 2), c(4, 3), out(36, 0x5a);
  const std::vector<std::uint8_t> sentinel = out;
  const void* ins[3] = {a.data(), b.data(), c.data()};
  const void* ins_null[3] = {a.data(), b.data(), nullptr};
  REQUIRE(cat.run(ins, out.data(), nullptr, 0).code() == StatusCode::invalid_argument);  // last init failed
  REQUIRE(cat.init(ElementType::u8, s, q_bad, 3, 3, QuantInfo{0.5f, 1}).ok());               // uint8 rescales
  REQUIRE(cat.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  const auto st_null = cat.run(ins_null, out.data(), nullptr, 0);
  REQUIRE(st_null.code() == StatusCode::null_pointer);
  REQUIRE(st_null.uint_value() == 2);
  REQUIRE(cat.run(ins, nullptr, nullptr, 0).code() == StatusCode::null_pointer);
  REQUIRE(out == sentinel);
  REQUIRE(cat.run(ins, out.data(), nullptr, 0).ok());
  // Input 1 (scale 0.25, zero point 1) into scale 0.5: round(2 * 0.5 - 0.5) + 1 = round(0.5) + 1 = 2
  // (half away from zero, TfLiteRound).
  REQUIRE(out[0] == 1);
  REQUIRE(out[3] == 2);
}
