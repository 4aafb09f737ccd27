// Activation layers (qk/layers/activation.hpp): every table checked over all 256 inputs against
// definitions written here (ReLU family: TFLite's ReluX; logistic/tanh: the float formula;
// hard-swish and leaky-relu: TFLite's integer reference written out again, plainly), for random
// quantizations in int8 and uint8; argument errors write nothing; Lut over any count, in place,
// with an executor.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "qk/core/threading.hpp"
#include "qk/layers/activation.hpp"

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::QuantInfo;
using qk::layers::Shape4;

int tmin_of(ElementType t) { return t == ElementType::s8 ? -128 : 0; }
int tmax_of(ElementType t) { return t == ElementType::s8 ? 127 : 255; }
std::uint8_t byte_of(long v) { return static_cast<std::uint8_t>(v & 0xFF); }
long value_of(std::uint8_t b, ElementType t) { return t == ElementType::s8 ? static_cast<std::int8_t>(b) : b; }

// All 256 inputs of the type through the layer, as values.
template <class L>
std::vector<long> run_all(const L& layer, ElementType t) {
  std::vector<std::uint8_t> in(256), out(256, 0);
  for (int i = 0; i < 256; ++i) in[static_cast<std::size_t>(i)] = byte_of(tmin_of(t) + i);
  REQUIRE(layer.run(in.data(), out.data()).ok());
  std::vector<long> r(256);
  for (std::size_t i = 0; i < 256; ++i) r[i] = value_of(out[i], t);
  return r;
}

// TFLite's QuantizeMultiplier and MultiplyByQuantizedMultiplier (double rounding), plainly in
// 64 bits for in-range arguments.
void plain_qm(double real, std::int64_t* m, int* shift) {
  if (real == 0) {
    *m = 0;
    *shift = 0;
    return;
  }
  int e = 0;
  const double f = std::frexp(real, &e);
  std::int64_t q = std::llround(f * 2147483648.0);
  if (q == (std::int64_t{1} << 31)) {
    q /= 2;
    ++e;
  }
  if (e < -31) {
    q = 0;
    e = 0;
  }
  *m = q;
  *shift = e;
}
std::int64_t plain_mbqm(std::int64_t x, std::int64_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const std::int64_t a = x * (std::int64_t{1} << left);
  REQUIRE(a >= INT32_MIN);
  REQUIRE(a <= INT32_MAX);
  const std::int64_t ab = a * m;
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : 1 - (std::int64_t{1} << 30);
  const std::int64_t high = (ab + nudge) / (std::int64_t{1} << 31);
  if (right == 0) return high;
  const std::int64_t d = std::int64_t{1} << right;
  const std::int64_t mag = ((high < 0 ? -high : high) + d / 2) / d;
  return high < 0 ? -mag : mag;
}
long clampl(long v, long lo, long hi) { return v < lo ? lo : v > hi ? hi : v; }

QuantInfo random_quant(std::mt19937& rng, ElementType t) {
  std::uniform_real_distribution<float> sc(0.002f, 0.3f);
  return QuantInfo{sc(rng), static_cast<std::int32_t>(tmin_of(t) + static_cast<int>(rng() % 256))};
}

// TFLite's reference HardSwish, written out from the kernel's text with gemmlowp's int16
// scalar functions (including the int16 mask of RoundingDivideByPOT).
std::int16_t g_srdhm(std::int16_t a, std::int16_t b) {
  const bool overflow = a == b && a == -32768;
  const std::int32_t ab = std::int32_t{a} * std::int32_t{b};
  const std::int16_t nudge = static_cast<std::int16_t>(ab >= 0 ? (1 << 14) : (1 - (1 << 14)));
  const std::int16_t r = static_cast<std::int16_t>((ab + nudge) / (1 << 15));
  return overflow ? std::int16_t{32767} : r;
}
std::int16_t g_rdpot(std::int16_t x, int exponent) {
  const std::int16_t mask = static_cast<std::int16_t>((1ll << exponent) - 1);
  const std::int16_t zero = 0, one = 1;
  const std::int16_t remainder = static_cast<std::int16_t>(x & mask);
  const std::int16_t threshold = static_cast<std::int16_t>((mask >> 1) + ((x < zero ? -1 : 0) & one));
  return static_cast<std::int16_t>((x >> exponent) + ((remainder > threshold ? -1 : 0) & one));
}
std::int16_t t_sat_left(std::int16_t v, int amount) {
  std::int64_t r = static_cast<std::int64_t>(v) * (1 << amount);
  r = std::min<std::int64_t>(r, 32767);
  r = std::max<std::int64_t>(r, -32768);
  return static_cast<std::int16_t>(r);
}
std::int16_t t_sdhm(std::int16_t a, std::int16_t b) {
  const bool overflow = a == b && a == -32768;
  const std::int32_t ab = std::int32_t{a} * std::int32_t{b};
  const std::int16_t r = static_cast<std::int16_t>(ab / (1 << 15));
  return overflow ? std::int16_t{32767} : r;
}
long plain_hard_swish(const qk::layers::HardSwishParams& p, long x, ElementType t) {
  const std::int16_t input_value = static_cast<std::int16_t>(x - p.input_zero_point);
  const std::int16_t hires = static_cast<std::int16_t>(input_value * (1 << 7));
  const std::int16_t pre_out = g_srdhm(hires, p.output_multiplier_fixedpoint_int16);
  std::int16_t reluish = hires;
  if (p.reluish_multiplier_exponent > 0) reluish = t_sat_left(reluish, p.reluish_multiplier_exponent - 1);
  reluish = g_srdhm(reluish, p.reluish_multiplier_fixedpoint_int16);
  if (p.reluish_multiplier_exponent > 0) reluish = t_sat_left(reluish, 1);
  if (p.reluish_multiplier_exponent < 0) reluish = g_rdpot(reluish, -p.reluish_multiplier_exponent);
  reluish = static_cast<std::int16_t>((reluish + (1 << 15)) >> 1);
  const std::int16_t preshift = t_sdhm(reluish, pre_out);
  std::int16_t out = g_rdpot(preshift, -p.output_multiplier_exponent);
  out = static_cast<std::int16_t>(out + p.output_zero_point);
  return clampl(out, tmin_of(t), tmax_of(t));
}

}  // namespace

TEST_CASE("relu family: TFLite's ReluX over all 256 inputs, random quantizations", "[layers][activation]") {
  std::mt19937 rng(31337);
  std::size_t outputs = 0;
  for (int it = 0; it < 400; ++it) {
    const ElementType t = it % 2 ? ElementType::u8 : ElementType::s8;
    const QuantInfo in = random_quant(rng, t);
    const QuantInfo out = it % 8 < 2 ? in : random_quant(rng, t);
    const int which = (it / 2) % 3;
    const float lo_f = which == 2 ? -1.0f : 0.0f;
    const float hi_f = which == 0 ? INFINITY : which == 1 ? 6.0f : 1.0f;
    // ReluPrepare and QuantizedReluX, plainly.
    std::int64_t m = 0;
    int sh = 0;
    plain_qm(static_cast<double>(in.scale / out.scale), &m, &sh);
    const long act_min = std::max<long>(tmin_of(t), out.zero_point + std::lround(lo_f / out.scale));
    const long act_max = std::isinf(hi_f) ? tmax_of(t) : std::min<long>(tmax_of(t), out.zero_point + std::lround(hi_f / out.scale));
    const Shape4 s{1, 1, 1, 256};
    std::vector<long> got;
    bool clamp = false;
    if (which == 0) {
      qk::layers::ReLU l;
      REQUIRE(l.init(t, s, in, out).ok());
      got = run_all(l, t);
      clamp = l.is_clamp();
    } else if (which == 1) {
      qk::layers::ReLU6 l;
      REQUIRE(l.init(t, s, in, out).ok());
      got = run_all(l, t);
      clamp = l.is_clamp();
    } else {
      qk::layers::ReLU_N1_to_1 l;
      REQUIRE(l.init(t, s, in, out).ok());
      got = run_all(l, t);
      clamp = l.is_clamp();
    }
    if (in.scale == out.scale && in.zero_point == out.zero_point) REQUIRE(clamp);
    for (int i = 0; i < 256; ++i) {
      const long x = tmin_of(t) + i;
      const long want = clampl(out.zero_point + plain_mbqm(x - in.zero_point, m, sh), act_min, act_max);
      INFO("it " << it << " x " << x);
      REQUIRE(got[static_cast<std::size_t>(i)] == want);
      ++outputs;
    }
  }
  WARN("relu family: 400 quantizations, " << outputs << " outputs equal to ReluX");
}

TEST_CASE("logistic and tanh: the float formula over all 256 inputs", "[layers][activation]") {
  std::mt19937 rng(5);
  for (int it = 0; it < 200; ++it) {
    const ElementType t = it % 2 ? ElementType::u8 : ElementType::s8;
    const QuantInfo in{std::uniform_real_distribution<float>(0.005f, 0.2f)(rng),
                       static_cast<std::int32_t>(tmin_of(t) + static_cast<int>(rng() % 256))};
    const bool logistic = (it / 2) % 2 == 0;
    const QuantInfo out = logistic ? QuantInfo{1.0f / 256, t == ElementType::s8 ? -128 : 0}
                                   : QuantInfo{1.0f / 128, t == ElementType::s8 ? 0 : 128};
    const Shape4 s{2, 2, 2, 32};
    std::vector<long> got;
    if (logistic) {
      qk::layers::Logistic l;
      REQUIRE(l.init(t, s, in, out).ok());
      got = run_all(l, t);
    } else {
      qk::layers::Tanh l;
      REQUIRE(l.init(t, s, in, out).ok());
      got = run_all(l, t);
    }
    for (int i = 0; i < 256; ++i) {
      const long x = tmin_of(t) + i;
      // TFLite's LUTPopulate steps in float.
      const float f = in.scale * static_cast<float>(x - in.zero_point);
      const float y = logistic ? 1.0f / (1.0f + std::exp(-f)) : std::tanh(f);
      const long want = clampl(static_cast<long>(std::round(y * (1.0f / out.scale)) + static_cast<float>(out.zero_point)),
                               tmin_of(t), tmax_of(t));
      // And the exact function in double: within one step.
      const double yd = logistic ? 1.0 / (1.0 + std::exp(-static_cast<double>(f))) : std::tanh(static_cast<double>(f));
      const double exact = yd / static_cast<double>(out.scale) + out.zero_point;
      INFO("it " << it << " x " << x);
      REQUIRE(got[static_cast<std::size_t>(i)] == want);
      REQUIRE(std::fabs(static_cast<double>(got[static_cast<std::size_t>(i)]) -
                        std::min<double>(exact, tmax_of(t))) <= 1.0);
    }
  }
  WARN("logistic/tanh: 200 quantizations x 256 inputs equal to TFLite's float table");
}

TEST_CASE("hard swish: TFLite's integer reference over all 256 inputs", "[layers][activation]") {
  std::mt19937 rng(77);
  int checked = 0;
  for (int it = 0; it < 400; ++it) {
    const ElementType t = it % 2 ? ElementType::u8 : ElementType::s8;
    QuantInfo in = random_quant(rng, t);
    QuantInfo out = random_quant(rng, t);
    if (it % 5 == 0) in.scale = out.scale * std::uniform_real_distribution<float>(0.0001f, 0.01f)(rng);  // big exponents
    qk::layers::HardSwishParams p;
    const qk::Status st = qk::layers::HardSwish::params(t, in, out, &p);
    if (!st.ok()) {
      // Only TFLite's own refusal: input_scale / (128 output_scale) >= 1.
      REQUIRE(static_cast<double>(in.scale) / (128.0 * out.scale) >= 0.999);
      continue;
    }
    // The derivation, plainly: float scales, QuantizeMultiplier, 16-bit rounding.
    const float hires = (1.0f / 128.0f) * in.scale;
    std::int64_t m = 0;
    int e = 0;
    plain_qm(static_cast<double>(hires / out.scale), &m, &e);
    REQUIRE(p.output_multiplier_exponent == e);
    REQUIRE(p.output_multiplier_fixedpoint_int16 == std::min<std::int64_t>((m + 32768) >> 16, 32767));
    plain_qm(static_cast<double>(hires / (3.0f / 32768.0f)), &m, &e);
    REQUIRE(p.reluish_multiplier_exponent == e);
    REQUIRE(p.reluish_multiplier_fixedpoint_int16 == std::min<std::int64_t>((m + 32768) >> 16, 32767));
    qk::layers::HardSwish l;
    REQUIRE(l.init(t, Shape4{1, 4, 4, 16}, in, out).ok());
    const std::vector<long> got = run_all(l, t);
    for (int i = 0; i < 256; ++i) {
      const long x = tmin_of(t) + i;
      INFO("it " << it << " x " << x);
      REQUIRE(got[static_cast<std::size_t>(i)] == plain_hard_swish(p, x, t));
      // Sanity against the real function where the output does not saturate.
      const double real = in.scale * static_cast<double>(x - in.zero_point);
      const double hs = real * std::min(6.0, std::max(0.0, real + 3.0)) / 6.0;
      const double q = hs / out.scale + out.zero_point;
      if (q > tmin_of(t) + 1 && q < tmax_of(t) - 1 && in.scale / out.scale < 4 && it % 5 != 0)
        REQUIRE(std::fabs(q - static_cast<double>(got[static_cast<std::size_t>(i)])) <= 2.5 + 0.01 * std::fabs(q));
    }
    ++checked;
  }
  REQUIRE(checked > 300);
  // The prepared form with exponents at the ends of their ranges stays defined and matches.
  for (int oe : {0, -1, -15, -16, -31})
    for (int re : {30, 5, 0, -5, -16, -31}) {
      qk::layers::HardSwishParams p;
      p.input_zero_point = 3;
      p.output_zero_point = -7;
      p.output_multiplier_fixedpoint_int16 = 23456;
      p.output_multiplier_exponent = oe;
      p.reluish_multiplier_fixedpoint_int16 = 32767;
      p.reluish_multiplier_exponent = re;
      qk::layers::HardSwish l;
      REQUIRE(l.init(ElementType::s8, Shape4{1, 1, 1, 256}, p).ok());
      const std::vector<long> got = run_all(l, ElementType::s8);
      for (int i = 0; i < 256; ++i) REQUIRE(got[static_cast<std::size_t>(i)] == plain_hard_swish(p, i - 128, ElementType::s8));
    }
}

TEST_CASE("leaky relu: TFLite's integer reference over all 256 inputs", "[layers][activation]") {
  std::mt19937 rng(8);
  for (int it = 0; it < 400; ++it) {
    const ElementType t = it % 2 ? ElementType::u8 : ElementType::s8;
    const QuantInfo in = random_quant(rng, t);
    const QuantInfo out = random_quant(rng, t);
    const float alpha = it % 7 == 0 ? 0.0f : std::uniform_real_distribution<float>(0.0f, 2.0f)(rng);
    qk::layers::LeakyReLU l;
    const qk::Status st = l.init(t, Shape4{1, 1, 16, 16}, in, out, alpha);
    INFO(qk::StatusText(st).c_str());
    REQUIRE(st.ok());
    std::int64_t ma = 0, mi = 0;
    int sa = 0, si = 0;
    plain_qm(static_cast<double>(in.scale * alpha / out.scale), &ma, &sa);
    plain_qm(static_cast<double>(in.scale / out.scale), &mi, &si);
    const std::vector<long> got = run_all(l, t);
    for (int i = 0; i < 256; ++i) {
      const long x = tmin_of(t) + i;
      const long v = x - in.zero_point;
      const long want = clampl(out.zero_point + (v >= 0 ? plain_mbqm(v, mi, si) : plain_mbqm(v, ma, sa)), tmin_of(t),
                               tmax_of(t));
      INFO("it " << it << " x " << x);
      REQUIRE(got[static_cast<std::size_t>(i)] == want);
      const double real = in.scale * static_cast<double>(v);
      const double q = (real >= 0 ? real : real * alpha) / out.scale + out.zero_point;
      REQUIRE(std::fabs(clampl(std::lround(q), tmin_of(t), tmax_of(t)) - want) <= 1);
    }
  }
}

TEST_CASE("lut: any count, in place, int8 indexing, executor, clamp detection", "[layers][activation]") {
  std::uint8_t table[256];
  for (int i = 0; i < 256; ++i) table[i] = static_cast<std::uint8_t>(255 - i);
  qk::layers::Lut l;
  const Shape4 s{3, 37, 41, 67};  // 305,001 elements: several 64 KiB chunks and a tail
  REQUIRE(l.init(ElementType::s8, s, table).ok());
  CHECK(!l.is_clamp());
  const std::size_t n = s.count_unchecked();
  std::vector<std::uint8_t> in(n), out(n), out2(n);
  std::mt19937 rng(1);
  for (auto& v : in) v = static_cast<std::uint8_t>(rng());
  REQUIRE(l.run(in.data(), out.data()).ok());
  for (std::size_t i = 0; i < n; ++i) REQUIRE(out[i] == 255 - in[i]);
#if !defined(QK_NO_THREADS)
  qk::ThreadPool pool(3);
  REQUIRE(l.run(in.data(), out2.data(), &pool).ok());
  REQUIRE(out == out2);
#endif
  for (std::size_t count : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{16}, std::size_t{17},
                            std::size_t{1000}}) {
    std::vector<std::uint8_t> buf(in.begin(), in.begin() + static_cast<long>(count + 1));
    const std::uint8_t guard = buf[count];
    REQUIRE(l.apply(buf.data(), buf.data(), count).ok());  // in place
    for (std::size_t i = 0; i < count; ++i) REQUIRE(buf[i] == 255 - in[i]);
    REQUIRE(buf[count] == guard);
  }
  // int8 -128 reads entry 128.
  std::uint8_t t2[256] = {};
  t2[128] = 42;
  REQUIRE(l.init(ElementType::s8, Shape4{1, 1, 1, 1}, t2).ok());
  const std::int8_t x = -128;
  std::int8_t y = 0;
  REQUIRE(l.run(&x, &y).ok());
  REQUIRE(y == 42);
  // A clamp table of the identity runs as a clamp, for both types and at the extremes.
  for (ElementType t : {ElementType::s8, ElementType::u8})
    for (int lo : {tmin_of(t), tmin_of(t) + 1, 0, 3})
      for (int hi : {tmax_of(t), tmax_of(t) - 1, 100}) {
        std::uint8_t c[256];
        for (int i = 0; i < 256; ++i) {
          const long v = value_of(static_cast<std::uint8_t>(i), t);
          c[i] = byte_of(clampl(v, lo, hi));
        }
        qk::layers::Lut k;
        REQUIRE(k.init(t, Shape4{1, 1, 1, 256}, c).ok());
        REQUIRE(k.is_clamp());
        const std::vector<long> got = run_all(k, t);
        for (int i = 0; i < 256; ++i) REQUIRE(got[static_cast<std::size_t>(i)] == clampl(tmin_of(t) + i, lo, hi));
      }
}

TEST_CASE("activations: argument errors write nothing", "[layers][activation]") {
  const Shape4 s{1, 2, 2, 2};
  const QuantInfo q{0.1f, 0};
  {
    qk::layers::Logistic l;
    CHECK(l.init(ElementType::s8, s, q, QuantInfo{1.0f / 256, 0}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, q, QuantInfo{1.0f / 128, -128}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::u8, s, q, QuantInfo{1.0f / 256, -128}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, QuantInfo{NAN, 0}, QuantInfo{1.0f / 256, -128}).code() == StatusCode::invalid_argument);
    CHECK(!l.built());
    REQUIRE(l.init(ElementType::u8, s, q, QuantInfo{1.0f / 256, 0}).ok());
  }
  {
    qk::layers::Tanh l;
    CHECK(l.init(ElementType::s8, s, q, QuantInfo{1.0f / 128, -128}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::u8, s, q, QuantInfo{1.0f / 128, 0}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::u8, s, QuantInfo{0.1f, 256}, QuantInfo{1.0f / 128, 128}).code() == StatusCode::invalid_argument);
    REQUIRE(l.init(ElementType::u8, s, q, QuantInfo{1.0f / 128, 128}).ok());
  }
  {
    qk::layers::ReLU l;
    CHECK(l.init(static_cast<ElementType>(2), s, q, q).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, Shape4{0, 1, 1, 1}, q, q).code() == StatusCode::bad_shape);
    CHECK(l.init(ElementType::s8, Shape4{SIZE_MAX, 2, 1, 1}, q, q).code() == StatusCode::size_overflow);
    CHECK(l.init(ElementType::s8, s, QuantInfo{0.0f, 0}, q).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, q, QuantInfo{-0.1f, 0}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, q, QuantInfo{0.1f, 200}).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, QuantInfo{1e10f, 0}, QuantInfo{1.0f, 0}).code() == StatusCode::invalid_argument);
    qk::layers::ReluParams p;
    p.output_shift = 31;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    p = qk::layers::ReluParams{};
    p.act_min = 10;
    p.act_max = 9;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    p = qk::layers::ReluParams{};
    p.input_zero_point = -1;
    CHECK(l.init(ElementType::u8, s, p).code() == StatusCode::invalid_argument);
    CHECK(!l.built());
  }
  {
    qk::layers::HardSwish l;
    // input_scale / (128 output_scale) >= 1: TFLite's Prepare refuses it.
    CHECK(l.init(ElementType::s8, s, QuantInfo{1.0f, 0}, QuantInfo{0.001f, 0}).code() == StatusCode::invalid_argument);
    qk::layers::HardSwishParams p;
    p.output_multiplier_exponent = 1;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    p.output_multiplier_exponent = -32;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    p.output_multiplier_exponent = 0;
    p.reluish_multiplier_exponent = 31;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    p.reluish_multiplier_exponent = 0;
    p.output_zero_point = 128;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    CHECK(qk::layers::HardSwish::params(ElementType::s8, q, q, nullptr).code() == StatusCode::null_pointer);
    CHECK(!l.built());
  }
  {
    qk::layers::LeakyReLU l;
    CHECK(l.init(ElementType::s8, s, q, q, -0.1f).code() == StatusCode::invalid_argument);
    CHECK(l.init(ElementType::s8, s, q, q, NAN).code() == StatusCode::invalid_argument);
    qk::layers::LeakyReluParams p;
    p.output_multiplier_alpha = -5;
    CHECK(l.init(ElementType::s8, s, p).code() == StatusCode::invalid_argument);
    CHECK(!l.built());
  }
  {
    qk::layers::Lut l;
    CHECK(l.init(ElementType::s8, s, nullptr).code() == StatusCode::null_pointer);
    std::vector<std::uint8_t> in(8, 1), out(8, 0x66);
    CHECK(l.run(in.data(), out.data()).code() == StatusCode::invalid_argument);
    CHECK(l.apply(in.data(), out.data(), 8).code() == StatusCode::invalid_argument);
    std::uint8_t t[256] = {};
    REQUIRE(l.init(ElementType::s8, s, t).ok());
    CHECK(l.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
    CHECK(l.run(in.data(), nullptr).code() == StatusCode::null_pointer);
    CHECK(l.apply(nullptr, out.data(), 8).code() == StatusCode::null_pointer);
    CHECK(l.apply(in.data(), nullptr, 8).code() == StatusCode::null_pointer);
    for (std::uint8_t v : out) REQUIRE(v == 0x66);
  }
}
