// The shared pieces of qk/layers/layer.hpp against TFLite's definitions written out plainly here:
// activation ranges, conv/FC output multipliers, bias quantization, per-channel weight quantization.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "qk/fixed_point.hpp"
#include "qk/layers/layer.hpp"

namespace L = qk::layers;

TEST_CASE("activation_range: TFLite CalculateActivationRangeQuantized", "[layers][common]") {
  std::mt19937 rng(7);
  for (int it = 0; it < 2000; ++it) {
    const qk::ElementType type = it % 2 ? qk::ElementType::s8 : qk::ElementType::u8;
    const int tmin = type == qk::ElementType::s8 ? -128 : 0, tmax = tmin + 255;
    L::QuantInfo q;
    q.scale = std::ldexp(1.0f + float(rng() % 1000) / 1000.0f, int(rng() % 16) - 12);
    q.zero_point = tmin + int(rng() % 256);
    for (int a = 0; a < 4; ++a) {
      const auto act = static_cast<L::Activation>(a);
      std::int32_t lo = 0, hi = 0;
      REQUIRE(L::activation_range(act, q, type, &lo, &hi).ok());
      // TFLite: quantize(f) = zp + round(f / scale) in float; clamp to the type.
      auto quant = [&](float f) { return double(q.zero_point) + double(std::round(f / q.scale)); };
      double elo = tmin, ehi = tmax;
      if (act == L::Activation::relu) elo = std::max(elo, quant(0.0f));
      if (act == L::Activation::relu6) elo = std::max(elo, quant(0.0f)), ehi = std::min(ehi, quant(6.0f));
      if (act == L::Activation::relu_n1_to_1) elo = std::max(elo, quant(-1.0f)), ehi = std::min(ehi, quant(1.0f));
      CHECK(lo == std::int32_t(std::min(std::max(elo, double(tmin)), double(tmax))));
      CHECK(hi == std::int32_t(std::min(std::max(ehi, double(tmin)), double(tmax))));
    }
  }
  std::int32_t lo = 7, hi = 9;
  CHECK(L::activation_range(L::Activation::relu, {0.0f, 0}, qk::ElementType::s8, &lo, &hi).code() == qk::StatusCode::invalid_argument);
  CHECK(L::activation_range(L::Activation::relu, {std::nanf(""), 0}, qk::ElementType::s8, &lo, &hi).code() == qk::StatusCode::invalid_argument);
  CHECK(L::activation_range(L::Activation::relu, {1.0f, 200}, qk::ElementType::s8, &lo, &hi).code() == qk::StatusCode::invalid_argument);
  CHECK(L::activation_range(static_cast<L::Activation>(9), {1.0f, 0}, qk::ElementType::s8, &lo, &hi).code() == qk::StatusCode::invalid_argument);
  CHECK(L::activation_range(L::Activation::relu, {1.0f, 0}, qk::ElementType::s8, nullptr, &hi).code() == qk::StatusCode::null_pointer);
  CHECK((lo == 7 && hi == 9));  // nothing written on error
  // A tiny scale: bounds saturate, no float-to-int overflow.
  REQUIRE(L::activation_range(L::Activation::relu6, {1e-30f, 3}, qk::ElementType::s8, &lo, &hi).ok());
  CHECK((lo == 3 && hi == 127));
}

TEST_CASE("output_multipliers and quantize_bias: TFLite's Prepare and converter", "[layers][common]") {
  const float s_in = 0.0235f, s_out = 0.0711f;
  const float s_w[3] = {0.0031f, 0.0007f, 0.11f};
  std::int32_t m[3] = {}, sh[3] = {};
  REQUIRE(L::output_multipliers(s_in, s_w, 3, true, s_out, m, sh).ok());
  for (int c = 0; c < 3; ++c) {
    std::int32_t em = 0, es = 0;
    REQUIRE(qk::quantize_multiplier(double(s_in) * double(s_w[c]) / double(s_out), &em, &es).ok());
    CHECK(m[c] == em);
    CHECK(sh[c] == es);
  }
  const float bias[3] = {0.5f, -1.25f, 1e12f};
  std::int32_t qb[3] = {};
  REQUIRE(L::quantize_bias(bias, 3, s_in, s_w, true, qb).ok());
  CHECK(qb[0] == std::int32_t(std::round(0.5f / (s_in * s_w[0]))));
  CHECK(qb[1] == std::int32_t(std::round(-1.25f / (s_in * s_w[1]))));
  CHECK(qb[2] == std::numeric_limits<std::int32_t>::max());  // saturated
  REQUIRE(L::quantize_bias(nullptr, 3, s_in, s_w, true, qb).ok());
  CHECK((qb[0] == 0 && qb[1] == 0 && qb[2] == 0));
  const float bad[1] = {0.0f};
  std::int32_t keep[1] = {42};
  CHECK(L::quantize_bias(bias, 1, s_in, bad, true, keep).code() == qk::StatusCode::invalid_argument);
  CHECK(L::output_multipliers(s_in, bad, 1, true, s_out, keep, keep).code() == qk::StatusCode::invalid_argument);
  CHECK(keep[0] == 42);
}

TEST_CASE("quantize_weights_per_channel: TFLite's symmetric per-channel int8 weights", "[layers][common]") {
  std::mt19937 rng(3);
  for (int it = 0; it < 200; ++it) {
    const std::size_t channels = 1 + rng() % 17, per = 1 + rng() % 40;
    const bool last = it % 2 == 1;
    std::vector<float> w(channels * per);
    for (float& x : w) x = std::uniform_real_distribution<float>(-3.0f, 3.0f)(rng);
    if (it % 7 == 0)  // a channel of zeros
      for (std::size_t i = 0; i < w.size(); ++i)
        if ((last ? i % channels : i / per) == 0) w[i] = 0.0f;
    std::vector<std::int8_t> q(w.size());
    std::vector<float> s(channels);
    REQUIRE(L::quantize_weights_per_channel(w.data(), w.size(), channels, last ? L::ChannelAxis::last : L::ChannelAxis::first,
                                            q.data(), s.data())
                .ok());
    for (std::size_t c = 0; c < channels; ++c) {
      float amax = 0.0f;
      for (std::size_t i = 0; i < w.size(); ++i)
        if ((last ? i % channels : i / per) == c) amax = std::max(amax, std::fabs(w[i]));
      CHECK(s[c] == (amax > 0.0f ? amax / 127.0f : 1.0f));
    }
    for (std::size_t i = 0; i < w.size(); ++i) {
      const float sc = s[last ? i % channels : i / per];
      CHECK(int(q[i]) == int(std::max(-127.0f, std::min(127.0f, std::round(w[i] / sc)))));
    }
  }
  float w[4] = {1, 2, std::nanf(""), 4};
  std::int8_t q[4] = {5, 5, 5, 5};
  float s[2] = {9, 9};
  CHECK(L::quantize_weights_per_channel(w, 4, 2, L::ChannelAxis::first, q, s).code() == qk::StatusCode::invalid_argument);
  CHECK(L::quantize_weights_per_channel(w, 3, 2, L::ChannelAxis::first, q, s).code() == qk::StatusCode::bad_shape);
  CHECK(L::quantize_weights_per_channel(nullptr, 4, 2, L::ChannelAxis::first, q, s).code() == qk::StatusCode::null_pointer);
  CHECK((q[0] == 5 && s[0] == 9.0f));
}
