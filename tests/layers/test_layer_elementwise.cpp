// Add, Mul, Maximum, Minimum (qk/layers/elementwise.hpp) against plain definitions written here
// from TFLite's sources: gemmlowp's SRDHM and RDPOT, QuantizeMultiplier, add.cc's and mul.cc's
// Prepare, and BroadcastAdd4DSlow's indexing (a size-1 dimension reads index 0), element by
// element with no reduction of the shapes. Random shapes (batch up to 3), every combination of
// size-1 dimensions, s8 and u8, prepared and float-built parameters, extremes, argument errors.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <limits>
#include <random>
#include <vector>

#include "qk/layers/elementwise.hpp"

namespace {

using qk::ElementType;
using qk::Status;
using qk::StatusCode;
using qk::layers::AddParams;
using qk::layers::MulParams;
using qk::layers::QuantInfo;
using qk::layers::Shape4;

// ---- The plain definitions ------------------------------------------------------------------

// gemmlowp SaturatingRoundingDoublingHighMul.
std::int32_t srdhm(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = std::int64_t{a} * std::int64_t{b};
  const std::int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
}
// gemmlowp RoundingDivideByPOT, exponent in [0, 31].
std::int32_t rdpot(std::int32_t x, int e) {
  const std::int32_t mask = static_cast<std::int32_t>((std::int64_t{1} << e) - 1);
  const std::int32_t remainder = x & mask;
  const std::int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> e) + (remainder > threshold ? 1 : 0);
}
// TFLite MultiplyByQuantizedMultiplier (double rounding); the left shift wraps (TFLite: UB).
std::int32_t mbqm(std::int32_t x, std::int32_t m, std::int32_t shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const std::int32_t shifted = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left);
  return rdpot(srdhm(shifted, m), right);
}
// TFLite QuantizeMultiplier (real > 0, result shift <= 30 in every use here).
void quantize_multiplier(double real, std::int32_t* m, int* shift) {
  int e = 0;
  const double q = std::frexp(real, &e);
  std::int64_t qf = static_cast<std::int64_t>(std::round(q * (1ll << 31)));
  if (qf == (1ll << 31)) {
    qf /= 2;
    ++e;
  }
  if (e < -31) {
    e = 0;
    qf = 0;
  }
  *m = static_cast<std::int32_t>(qf);
  *shift = e;
}

std::int32_t tmin(ElementType t) { return t == ElementType::s8 ? -128 : 0; }
std::int32_t tmax(ElementType t) { return t == ElementType::s8 ? 127 : 255; }
std::int32_t clampi(std::int64_t v, std::int32_t lo, std::int32_t hi) {
  return static_cast<std::int32_t>(v < lo ? lo : (v > hi ? hi : v));
}

// reference_integer_ops::AddElementwise, one element.
std::int32_t ref_add(std::int32_t x1, std::int32_t x2, const AddParams& p) {
  const std::int32_t v1 = (p.input1_offset + x1) * (1 << p.left_shift);
  const std::int32_t v2 = (p.input2_offset + x2) * (1 << p.left_shift);
  const std::int32_t s1 = mbqm(v1, p.input1_multiplier, p.input1_shift);
  const std::int32_t s2 = mbqm(v2, p.input2_multiplier, p.input2_shift);
  const std::int64_t raw = std::int64_t{mbqm(s1 + s2, p.output_multiplier, p.output_shift)} + p.output_offset;
  return clampi(raw, p.act_min, p.act_max);
}
// reference_integer_ops::MulElementwise, one element.
std::int32_t ref_mul(std::int32_t x1, std::int32_t x2, const MulParams& p) {
  const std::int32_t prod = (p.input1_offset + x1) * (p.input2_offset + x2);
  return clampi(std::int64_t{p.output_offset} + mbqm(prod, p.output_multiplier, p.output_shift), p.act_min, p.act_max);
}

// add.cc's Prepare (8-bit path) written out as TFLite has it.
AddParams ref_add_prepare(const QuantInfo& q1, const QuantInfo& q2, const QuantInfo& qo, ElementType t) {
  AddParams p;
  p.input1_offset = -q1.zero_point;
  p.input2_offset = -q2.zero_point;
  p.output_offset = qo.zero_point;
  p.left_shift = 20;
  const double twice_max_input_scale = 2 * std::max(q1.scale, q2.scale);
  const double real_input1_multiplier = q1.scale / twice_max_input_scale;
  const double real_input2_multiplier = q2.scale / twice_max_input_scale;
  const double real_output_multiplier = twice_max_input_scale / (static_cast<float>(1 << p.left_shift) * qo.scale);
  int s = 0;
  quantize_multiplier(real_input1_multiplier, &p.input1_multiplier, &s);
  p.input1_shift = s;
  quantize_multiplier(real_input2_multiplier, &p.input2_multiplier, &s);
  p.input2_shift = s;
  quantize_multiplier(real_output_multiplier, &p.output_multiplier, &s);
  p.output_shift = s;
  p.act_min = tmin(t);
  p.act_max = tmax(t);
  return p;
}

// BroadcastAdd4DSlow's walk: output (b, y, x, c), each input read at index 0 of its size-1 dims.
template <class F>
std::vector<std::int32_t> ref_broadcast(const Shape4& s1, const std::vector<std::int32_t>& a, const Shape4& s2,
                                        const std::vector<std::int32_t>& b, const Shape4& so, F f) {
  std::vector<std::int32_t> out;
  auto at = [](const Shape4& s, std::size_t n, std::size_t h, std::size_t w, std::size_t c) {
    n = s.n == 1 ? 0 : n;
    h = s.h == 1 ? 0 : h;
    w = s.w == 1 ? 0 : w;
    c = s.c == 1 ? 0 : c;
    return ((n * s.h + h) * s.w + w) * s.c + c;
  };
  for (std::size_t n = 0; n < so.n; ++n)
    for (std::size_t h = 0; h < so.h; ++h)
      for (std::size_t w = 0; w < so.w; ++w)
        for (std::size_t c = 0; c < so.c; ++c) out.push_back(f(a[at(s1, n, h, w, c)], b[at(s2, n, h, w, c)]));
  return out;
}

// ---- Helpers ---------------------------------------------------------------------------------

std::vector<std::int32_t> random_values(std::mt19937& rng, std::size_t n, ElementType t) {
  std::uniform_int_distribution<int> d(tmin(t), tmax(t));
  std::vector<std::int32_t> v(n);
  for (auto& x : v) {
    const int r = d(rng) & 15;
    x = r == 0 ? tmin(t) : r == 1 ? tmax(t) : d(rng);  // extremes often
  }
  return v;
}

// Runs a built layer on int32-held values, returns its outputs as int32.
std::vector<std::int32_t> run_layer(const qk::layers::Layer& layer, ElementType t, const std::vector<std::int32_t>& a,
                                    const std::vector<std::int32_t>& b) {
  const std::size_t n = layer.output_shape().count_unchecked();
  std::vector<std::int32_t> out(n);
  if (t == ElementType::s8) {
    std::vector<std::int8_t> a8(a.begin(), a.end()), b8(b.begin(), b.end()), o8(n, 0);
    // (values are in range: the narrowing copies are exact)
    const void* in[2] = {a8.data(), b8.data()};
    REQUIRE(layer.run(in, o8.data(), nullptr, 0).ok());
    for (std::size_t i = 0; i < n; ++i) out[i] = o8[i];
  } else {
    std::vector<std::uint8_t> a8(a.begin(), a.end()), b8(b.begin(), b.end()), o8(n, 0);
    const void* in[2] = {a8.data(), b8.data()};
    REQUIRE(layer.run(in, o8.data(), nullptr, 0).ok());
    for (std::size_t i = 0; i < n; ++i) out[i] = o8[i];
  }
  return out;
}

std::int32_t random_offset(std::mt19937& rng, ElementType t) {
  std::uniform_int_distribution<int> d(tmin(t), tmax(t));
  return -d(rng);
}

AddParams random_add_params(std::mt19937& rng, ElementType t) {
  // Through Prepare from random scales (what models give), sometimes with a clamp.
  std::uniform_real_distribution<float> ls(-12.0f, 2.0f);
  std::uniform_int_distribution<int> zp(tmin(t), tmax(t));
  QuantInfo q1{std::exp2(ls(rng)), zp(rng)}, q2{std::exp2(ls(rng)), zp(rng)}, qo{std::exp2(ls(rng)), zp(rng)};
  if (2 * std::max(q1.scale, q2.scale) >= static_cast<float>(1 << 20) * qo.scale) qo.scale = q1.scale + q2.scale;
  AddParams p = ref_add_prepare(q1, q2, qo, t);
  if ((rng() & 3) == 0) {
    p.act_min = std::min(p.output_offset, tmax(t) - 1);
    p.act_max = p.act_min + 1 + static_cast<std::int32_t>(rng() % static_cast<unsigned>(tmax(t) - p.act_min));
  }
  return p;
}

MulParams random_mul_params(std::mt19937& rng, ElementType t) {
  MulParams p;
  p.input1_offset = random_offset(rng, t);
  p.input2_offset = random_offset(rng, t);
  p.output_offset = -random_offset(rng, t);
  p.output_multiplier = static_cast<std::int32_t>((1u << 30) + (rng() & ((1u << 30) - 1)));
  p.output_shift = -static_cast<std::int32_t>(rng() % 20);  // real models: s1 s2 / s_out well below 1
  p.act_min = tmin(t);
  p.act_max = tmax(t);
  return p;
}

Shape4 random_output(std::mt19937& rng) {
  auto d = [&](unsigned m) { return std::size_t{1} + rng() % m; };
  Shape4 s{d(3), d(5), d(6), d(40)};
  if ((rng() & 7) == 0) s.c = 64 + rng() % 80;  // a long contiguous run with a tail
  return s;
}
Shape4 broadcast_from(std::mt19937& rng, const Shape4& o, unsigned mask) {
  (void)rng;
  return Shape4{mask & 1 ? 1 : o.n, mask & 2 ? 1 : o.h, mask & 4 ? 1 : o.w, mask & 8 ? 1 : o.c};
}

const ElementType kTypes[] = {ElementType::s8, ElementType::u8};

// Builds each layer for (s1, s2), runs it on random data, compares with the definition.
void check_all_ops(std::mt19937& rng, ElementType t, const Shape4& s1, const Shape4& s2, std::size_t* compared) {
  const std::vector<std::int32_t> a = random_values(rng, s1.count_unchecked(), t);
  const std::vector<std::int32_t> b = random_values(rng, s2.count_unchecked(), t);
  INFO("type " << static_cast<int>(t) << " in1 " << s1.n << "x" << s1.h << "x" << s1.w << "x" << s1.c << " in2 " << s2.n
               << "x" << s2.h << "x" << s2.w << "x" << s2.c);
  {
    const AddParams p = random_add_params(rng, t);
    qk::layers::Add layer;
    REQUIRE(layer.init(t, s1, s2, p).ok());
    REQUIRE(layer.input_count() == 2);
    const Shape4 so = layer.output_shape();
    const auto want = ref_broadcast(s1, a, s2, b, so, [&](std::int32_t x, std::int32_t y) { return ref_add(x, y, p); });
    REQUIRE(run_layer(layer, t, a, b) == want);
    *compared += want.size();
  }
  {
    const MulParams p = random_mul_params(rng, t);
    qk::layers::Mul layer;
    REQUIRE(layer.init(t, s1, s2, p).ok());
    const Shape4 so = layer.output_shape();
    const auto want = ref_broadcast(s1, a, s2, b, so, [&](std::int32_t x, std::int32_t y) { return ref_mul(x, y, p); });
    REQUIRE(run_layer(layer, t, a, b) == want);
    *compared += want.size();
  }
  {
    const std::int32_t lo = (rng() & 1) ? tmin(t) : tmin(t) + 20, hi = (rng() & 1) ? tmax(t) : tmax(t) - 30;
    qk::layers::Maximum mx;
    qk::layers::Minimum mn;
    REQUIRE(mx.init(t, s1, s2, lo, hi).ok());
    REQUIRE(mn.init(t, s1, s2, lo, hi).ok());
    const Shape4 so = mx.output_shape();
    const auto want_max =
        ref_broadcast(s1, a, s2, b, so, [&](std::int32_t x, std::int32_t y) { return clampi(std::max(x, y), lo, hi); });
    const auto want_min =
        ref_broadcast(s1, a, s2, b, so, [&](std::int32_t x, std::int32_t y) { return clampi(std::min(x, y), lo, hi); });
    REQUIRE(run_layer(mx, t, a, b) == want_max);
    REQUIRE(run_layer(mn, t, a, b) == want_min);
    *compared += 2 * want_max.size();
  }
}

}  // namespace

TEST_CASE("elementwise: random shapes and broadcasts match the plain definitions", "[layers][elementwise]") {
  std::mt19937 rng(1234);
  std::size_t compared = 0;
  int cases = 0;
  for (int trial = 0; trial < 400; ++trial)
    for (ElementType t : kTypes) {
      const Shape4 o = random_output(rng);
      const unsigned m1 = (trial % 3 == 0) ? 0u : static_cast<unsigned>(rng() & 15);
      const unsigned m2 = (trial % 3 == 0) ? 0u : static_cast<unsigned>(rng() & 15) & ~m1;
      check_all_ops(rng, t, broadcast_from(rng, o, m1), broadcast_from(rng, o, m2), &compared);
      ++cases;
    }
  WARN("elementwise random: " << cases << " shape pairs x 4 layers, " << compared << " outputs compared");
}

TEST_CASE("elementwise: every combination of size-1 dimensions broadcasts as TFLite", "[layers][elementwise]") {
  std::mt19937 rng(99);
  const Shape4 base{2, 3, 5, 7};
  std::size_t compared = 0;
  for (ElementType t : kTypes)
    for (unsigned m1 = 0; m1 < 16; ++m1)
      for (unsigned m2 = 0; m2 < 16; ++m2) check_all_ops(rng, t, broadcast_from(rng, base, m1), broadcast_from(rng, base, m2), &compared);
  WARN("elementwise broadcast combinations: 2 types x 256 shape pairs x 4 layers, " << compared << " outputs compared");
}

TEST_CASE("elementwise: Add and Mul from float scales follow TFLite's Prepare", "[layers][elementwise]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> ls(-14.0f, 3.0f);
  std::size_t compared = 0;
  int built = 0;
  for (int trial = 0; trial < 500; ++trial)
    for (ElementType t : kTypes) {
      std::uniform_int_distribution<int> zp(tmin(t), tmax(t));
      const QuantInfo q1{std::exp2(ls(rng)) * 1.37f, zp(rng)}, q2{std::exp2(ls(rng)), zp(rng)}, qo{std::exp2(ls(rng)), zp(rng)};
      const Shape4 s1 = random_output(rng);
      const Shape4 s2 = broadcast_from(rng, s1, static_cast<unsigned>(rng() & 15));
      const auto a = random_values(rng, s1.count_unchecked(), t), b = random_values(rng, s2.count_unchecked(), t);
      const auto act = static_cast<qk::layers::Activation>(rng() % 4);
      std::int32_t lo = 0, hi = 0;
      REQUIRE(qk::layers::activation_range(act, qo, t, &lo, &hi).ok());

      qk::layers::Add add;
      const Status st = add.init(t, s1, s2, q1, q2, qo, act);
      const bool tflite_accepts = 2.0 * std::max(q1.scale, q2.scale) < static_cast<double>(static_cast<float>(1 << 20) * qo.scale);
      REQUIRE(st.ok() == tflite_accepts);
      if (st.ok()) {
        AddParams p = ref_add_prepare(q1, q2, qo, t);
        p.act_min = lo;
        p.act_max = hi;
        const AddParams& g = add.params();
        REQUIRE(g.input1_multiplier == p.input1_multiplier);
        REQUIRE(g.input1_shift == p.input1_shift);
        REQUIRE(g.input2_multiplier == p.input2_multiplier);
        REQUIRE(g.input2_shift == p.input2_shift);
        REQUIRE(g.output_multiplier == p.output_multiplier);
        REQUIRE(g.output_shift == p.output_shift);
        REQUIRE(g.input1_offset == p.input1_offset);
        REQUIRE(g.output_offset == p.output_offset);
        REQUIRE(g.act_min == lo);
        REQUIRE(g.act_max == hi);
        const auto want =
            ref_broadcast(s1, a, s2, b, add.output_shape(), [&](std::int32_t x, std::int32_t y) { return ref_add(x, y, p); });
        REQUIRE(run_layer(add, t, a, b) == want);
        compared += want.size();
        ++built;
      }

      qk::layers::Mul mul;
      const double real = double{q1.scale} * double{q2.scale} / double{qo.scale};
      const Status sm = mul.init(t, s1, s2, q1, q2, qo, act);
      if (real < 0.5) {  // far from QuantizeMultiplier's 2^30 limit
        REQUIRE(sm.ok());
        MulParams p;
        int shift = 0;
        quantize_multiplier(real, &p.output_multiplier, &shift);
        p.output_shift = shift;
        p.input1_offset = -q1.zero_point;
        p.input2_offset = -q2.zero_point;
        p.output_offset = qo.zero_point;
        p.act_min = lo;
        p.act_max = hi;
        REQUIRE(mul.params().output_multiplier == p.output_multiplier);
        REQUIRE(mul.params().output_shift == p.output_shift);
        const auto want =
            ref_broadcast(s1, a, s2, b, mul.output_shape(), [&](std::int32_t x, std::int32_t y) { return ref_mul(x, y, p); });
        REQUIRE(run_layer(mul, t, a, b) == want);
        compared += want.size();
      }
    }
  REQUIRE(built > 300);
  WARN("elementwise float-built: " << built << " Add layers and the Mul layers, " << compared << " outputs compared");
}

TEST_CASE("elementwise: extreme values, multipliers and shifts", "[layers][elementwise]") {
  std::mt19937 rng(5);
  std::size_t compared = 0;
  for (ElementType t : kTypes) {
    // Every pair of input values, as a 256 x 256 broadcast ([256,1,1,1] with [1,1,1,256]).
    const Shape4 s1{256, 1, 1, 1}, s2{1, 1, 1, 256};
    std::vector<std::int32_t> a(256), b(256);
    for (int i = 0; i < 256; ++i) a[static_cast<std::size_t>(i)] = b[static_cast<std::size_t>(i)] = tmin(t) + i;
    const std::int32_t offs[] = {-tmax(t), -tmin(t), 0 - (tmin(t) + tmax(t)) / 2};
    const std::int32_t mults[] = {0, 1, 1 << 30, std::numeric_limits<std::int32_t>::max()};
    for (std::int32_t o1 : offs)
      for (std::int32_t o2 : offs)
        for (std::int32_t m : mults) {
          for (std::int32_t shift : {-31, -20, -1, 0}) {
            AddParams p;
            p.input1_offset = o1;
            p.input2_offset = o2;
            p.input1_multiplier = m;
            p.input2_multiplier = std::numeric_limits<std::int32_t>::max() - m;
            p.input1_shift = shift;
            p.input2_shift = -1;
            p.output_multiplier = m;
            p.output_shift = shift;
            p.output_offset = tmin(t);
            p.act_min = tmin(t);
            p.act_max = tmax(t);
            for (std::int32_t left : {0, 7, 20}) {
              p.left_shift = left;
              qk::layers::Add add;
              REQUIRE(add.init(t, s1, s2, p).ok());
              const auto want =
                  ref_broadcast(s1, a, s2, b, add.output_shape(), [&](std::int32_t x, std::int32_t y) { return ref_add(x, y, p); });
              REQUIRE(run_layer(add, t, a, b) == want);
              compared += want.size();
            }
          }
          for (std::int32_t shift : {-31, -7, 0, 1, 15, 30}) {
            MulParams p;
            p.input1_offset = o1;
            p.input2_offset = o2;
            p.output_multiplier = m;
            p.output_shift = shift;
            p.output_offset = tmax(t);
            p.act_min = tmin(t);
            p.act_max = tmax(t);
            qk::layers::Mul mul;
            REQUIRE(mul.init(t, s1, s2, p).ok());
            const auto want =
                ref_broadcast(s1, a, s2, b, mul.output_shape(), [&](std::int32_t x, std::int32_t y) { return ref_mul(x, y, p); });
            REQUIRE(run_layer(mul, t, a, b) == want);
            compared += want.size();
          }
        }
  }
  WARN("elementwise extremes: " << compared << " outputs compared");
}

TEST_CASE("elementwise: in place on an input of the output's shape", "[layers][elementwise]") {
  std::mt19937 rng(11);
  const Shape4 s{2, 3, 4, 37}, c{1, 1, 1, 37};
  const auto a = random_values(rng, s.count_unchecked(), ElementType::s8);
  const auto b = random_values(rng, c.count_unchecked(), ElementType::s8);
  const AddParams p = random_add_params(rng, ElementType::s8);
  qk::layers::Add add;
  REQUIRE(add.init(ElementType::s8, s, c, p).ok());
  const auto want = ref_broadcast(s, a, c, b, s, [&](std::int32_t x, std::int32_t y) { return ref_add(x, y, p); });
  std::vector<std::int8_t> x(a.begin(), a.end()), y(b.begin(), b.end());
  const void* in[2] = {x.data(), y.data()};
  REQUIRE(add.run(in, x.data(), nullptr, 0).ok());
  REQUIRE(std::vector<std::int32_t>(x.begin(), x.end()) == want);
}

TEST_CASE("elementwise: argument errors return a status naming the problem and write nothing", "[layers][elementwise]") {
  const Shape4 s{1, 2, 2, 3};
  AddParams good;
  {
    qk::layers::Add probe;
    REQUIRE(qk::layers::Add::params_from_quant(ElementType::s8, {0.1f, 0}, {0.2f, 1}, {0.3f, -2},
                                               qk::layers::Activation::none, &good)
                .ok());
    REQUIRE(probe.init(ElementType::s8, s, s, good).ok());
  }
  qk::layers::Add add;
  auto bad_add = [&](AddParams p, StatusCode code) {
    const Status st = add.init(ElementType::s8, s, s, p);
    INFO(qk::StatusText(st).c_str());
    REQUIRE(st.code() == code);
    REQUIRE(!add.built());
  };
  AddParams p = good;
  p.input1_offset = -128;  // zero point 128 is outside int8
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.input2_offset = 129;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.output_offset = 128;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.left_shift = 21;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.left_shift = -1;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.input1_shift = 1;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.output_shift = -32;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.input2_multiplier = -1;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.act_min = 10;
  p.act_max = 9;
  bad_add(p, StatusCode::invalid_argument);
  p = good;
  p.act_max = 128;
  bad_add(p, StatusCode::invalid_argument);
  REQUIRE(add.init(static_cast<ElementType>(7), s, s, good).code() == StatusCode::invalid_argument);
  REQUIRE(add.init(ElementType::s8, s, Shape4{1, 2, 3, 3}, good).code() == StatusCode::bad_shape);
  REQUIRE(add.init(ElementType::s8, s, Shape4{1, 2, 2, 0}, good).code() == StatusCode::bad_shape);
  const std::size_t huge = std::numeric_limits<std::size_t>::max() / 2;
  REQUIRE(add.init(ElementType::s8, Shape4{huge, 1, 1, 3}, Shape4{1, 1, 1, 3}, good).code() == StatusCode::size_overflow);
  REQUIRE(add.init(ElementType::s8, Shape4{huge, 1, 1, 1}, Shape4{1, 1, 1, 4}, good).code() == StatusCode::size_overflow);
  // Float scales: zero, NaN, infinite, zero point outside the type, an output scale so small
  // that TFLite's Prepare would abort (output multiplier >= 1).
  AddParams out_params = good;
  const AddParams untouched = out_params;
  auto bad_quant = [&](QuantInfo a, QuantInfo b, QuantInfo o, ElementType t) {
    const Status st = qk::layers::Add::params_from_quant(t, a, b, o, qk::layers::Activation::none, &out_params);
    INFO(qk::StatusText(st).c_str());
    REQUIRE(st.code() == StatusCode::invalid_argument);
    REQUIRE(std::memcmp(&out_params, &untouched, sizeof out_params) == 0);
    REQUIRE(!add.init(t, s, s, a, b, o).ok());
    REQUIRE(!add.built());
  };
  bad_quant({0.0f, 0}, {0.1f, 0}, {0.1f, 0}, ElementType::s8);
  bad_quant({0.1f, 0}, {std::nanf(""), 0}, {0.1f, 0}, ElementType::s8);
  bad_quant({0.1f, 0}, {0.1f, 0}, {std::numeric_limits<float>::infinity(), 0}, ElementType::s8);
  bad_quant({0.1f, 0}, {0.1f, 0}, {-0.1f, 0}, ElementType::s8);
  bad_quant({0.1f, 128}, {0.1f, 0}, {0.1f, 0}, ElementType::s8);
  bad_quant({0.1f, 0}, {0.1f, -1}, {0.1f, 0}, ElementType::u8);
  bad_quant({0.1f, 0}, {0.1f, 0}, {0.1f, 256}, ElementType::u8);
  bad_quant({1.0f, 0}, {0.5f, 0}, {1.0f / (1 << 20), 0}, ElementType::s8);  // 2 / (2^20 * 2^-20) = 2
  bad_quant({3e38f, 0}, {0.5f, 0}, {1.0f, 0}, ElementType::s8);            // 2 * max overflows float
  REQUIRE(qk::layers::Add::params_from_quant(ElementType::s8, {0.1f, 0}, {0.1f, 0}, {0.1f, 0},
                                             qk::layers::Activation::none, nullptr)
              .code() == StatusCode::null_pointer);

  qk::layers::Mul mul;
  MulParams mp;
  mp.output_multiplier = 1 << 30;
  mp.output_shift = -3;
  mp.act_min = 0;
  mp.act_max = 255;
  REQUIRE(mul.init(ElementType::u8, s, s, mp).ok());
  mp.output_shift = 31;
  REQUIRE(mul.init(ElementType::u8, s, s, mp).code() == StatusCode::invalid_argument);
  REQUIRE(!mul.built());
  mp.output_shift = 0;
  mp.input1_offset = 1;  // uint8 zero point -1
  REQUIRE(mul.init(ElementType::u8, s, s, mp).code() == StatusCode::invalid_argument);
  mp.input1_offset = 0;
  mp.act_max = 256;
  REQUIRE(mul.init(ElementType::u8, s, s, mp).code() == StatusCode::invalid_argument);
  // s1 s2 / s_out >= 2^30: QuantizeMultiplier cannot give a shift <= 30.
  REQUIRE(mul.init(ElementType::s8, s, s, QuantInfo{1e6f, 0}, QuantInfo{1e6f, 0}, QuantInfo{1e-6f, 0}).code() ==
          StatusCode::invalid_argument);
  qk::layers::Maximum mx;
  REQUIRE(mx.init(ElementType::s8, s, s, -128, 128).code() == StatusCode::invalid_argument);
  REQUIRE(mx.init(ElementType::u8, s, s, -1, 255).code() == StatusCode::invalid_argument);
  REQUIRE(mx.init(ElementType::s8, s, s, QuantInfo{0.1f, 0}, QuantInfo{0.0f, 0}, QuantInfo{0.1f, 0}).code() ==
          StatusCode::invalid_argument);
  REQUIRE(!mx.built());

  // Run errors: nothing written. Unbuilt layers refuse too.
  std::vector<std::int8_t> a(12, 1), b(12, 2), out(12, 0x5a);
  const std::vector<std::int8_t> sentinel = out;
  const void* in[2] = {a.data(), b.data()};
  const void* in_null1[2] = {nullptr, b.data()};
  const void* in_null2[2] = {a.data(), nullptr};
  REQUIRE(add.run(in, out.data(), nullptr, 0).code() == StatusCode::invalid_argument);  // last init failed
  REQUIRE(add.init(ElementType::s8, s, s, good).ok());
  qk::layers::Minimum mn;
  REQUIRE(mn.init(ElementType::s8, s, s).ok());
  for (const qk::layers::Layer* layer : {static_cast<const qk::layers::Layer*>(&add), static_cast<const qk::layers::Layer*>(&mn)}) {
    REQUIRE(layer->run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
    REQUIRE(layer->run(in_null1, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
    REQUIRE(layer->run(in_null2, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
    REQUIRE(layer->run(in, nullptr, nullptr, 0).code() == StatusCode::null_pointer);
    REQUIRE(out == sentinel);
  }
  REQUIRE(mx.run(in, out.data(), nullptr, 0).code() == StatusCode::invalid_argument);  // never built
  REQUIRE(out == sentinel);
  std::size_t ws = 1;
  REQUIRE(add.workspace_size(4, &ws).ok());
  REQUIRE(ws == 0);
  REQUIRE(std::string(add.op_name()) == "add");
  REQUIRE(std::string(mn.op_name()) == "minimum");
}
