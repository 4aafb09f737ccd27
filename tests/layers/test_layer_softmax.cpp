// Softmax layer (qk/layers/softmax.hpp): its gemmlowp fixed-point functions against gemmlowp's
// own fixedpoint.h (where Debian's libgemmlowp-dev is installed), the layer against a plain
// per-element transcription of TFLite's reference_ops::Softmax written here (no tables), and
// against a float softmax within one unit; Prepare's integers; argument errors (nothing
// written); rows of 1 to 5000 values, int8 and uint8, batch > 1, extreme inputs and shifts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qk/core/threading.hpp"
#include "qk/layers/softmax.hpp"

#if __has_include(<gemmlowp/fixedpoint/fixedpoint.h>)
#include <gemmlowp/fixedpoint/fixedpoint.h>
#define QK_TEST_HAVE_GEMMLOWP 1
#endif

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::QuantInfo;
using qk::layers::Shape4;
using qk::layers::Softmax;
using qk::layers::SoftmaxParams;
namespace fp = qk::detail::gemmlowp_fp;

// ---- The test's own transcription of the fixed-point steps, straight from their definitions
// (64-bit intermediates, no saturation tricks beyond what the definitions state). ----
std::int32_t ref_srdhm(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = static_cast<std::int64_t>(a) * b;
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : 1 - (std::int64_t{1} << 30);
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
}
// round(x / 2^e), ties away from zero, exact for any e in [0, 62].
std::int32_t ref_rdpot(std::int32_t x, int e) {
  if (e == 0) return x;
  const std::int64_t d = std::int64_t{1} << e;
  const std::int64_t mag = x < 0 ? -static_cast<std::int64_t>(x) : x;
  const std::int64_t q = (mag + d / 2) / d;
  return static_cast<std::int32_t>(x < 0 ? -q : q);
}
std::int32_t ref_sat_shl(std::int32_t x, int e) {  // gemmlowp's saturating left shift
  const std::int64_t v = static_cast<std::int64_t>(x) * (std::int64_t{1} << e);
  const std::int64_t threshold = (std::int64_t{1} << (31 - e)) - 1;
  if (x > threshold) return std::numeric_limits<std::int32_t>::max();
  if (x < -threshold) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(v);
}
std::int32_t ref_exp_quarter(std::int32_t a) {
  const std::int32_t x = a + (1 << 28);
  const std::int32_t x2 = ref_srdhm(x, x), x3 = ref_srdhm(x2, x), x4 = ref_srdhm(x2, x2);
  const std::int32_t p = ref_rdpot(ref_srdhm(ref_rdpot(x4, 2) + x3, 715827883) + x2, 1);
  return 1895147668 + ref_srdhm(1895147668, x + p);
}
std::int32_t ref_exp_q5(std::int32_t a) {  // a <= 0 in Q5.26
  if (a == 0) return std::numeric_limits<std::int32_t>::max();
  const std::int32_t quarter = 1 << 24;
  const std::int32_t r = (a & (quarter - 1)) - quarter;
  std::int32_t result = ref_exp_quarter(ref_sat_shl(r, 5));
  const std::int32_t rest = r - a;
  const std::int32_t mult[7] = {1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242};
  for (int k = 0; k < 7; ++k)
    if (rest & (1 << (24 + k))) result = ref_srdhm(result, mult[k]);
  return result;
}
std::int32_t ref_one_over_one_plus_x(std::int32_t a) {
  const std::int32_t half = static_cast<std::int32_t>((static_cast<std::int64_t>(a) + 2147483647 + 1) / 2);
  std::int32_t x = 1515870810 + ref_srdhm(half, -1010580540);
  for (int i = 0; i < 3; ++i) x = x + ref_sat_shl(ref_srdhm(x, (1 << 29) - ref_srdhm(half, x)), 2);
  return ref_sat_shl(x, 1);
}

// d * 2^shift; the layer refuses parameters for which this leaves int32.
std::int32_t shifted(std::int32_t d, std::int32_t shift) {
  return static_cast<std::int32_t>(static_cast<std::int64_t>(d) * (std::int64_t{1} << shift));
}

// TFLite's reference_ops::Softmax for one tensor, both loops as written there, one element at a
// time. The Q12.19 sum is kept in 64 bits and saturated (qk's documented choice where TFLite's
// int32 sum would overflow, from 4096 equal values).
template <class T>
void reference_softmax(const T* in, T* out, std::size_t rows, std::size_t n, const SoftmaxParams& p) {
  const std::int32_t tmin = std::numeric_limits<T>::min(), tmax = std::numeric_limits<T>::max();
  for (std::size_t r = 0; r < rows; ++r) {
    const T* x = in + r * n;
    std::int32_t max = tmin;
    for (std::size_t c = 0; c < n; ++c) max = std::max<std::int32_t>(max, x[c]);
    std::int64_t sum = 0;
    for (std::size_t c = 0; c < n; ++c) {
      const std::int32_t d = x[c] - max;
      if (d >= p.diff_min) sum += ref_rdpot(ref_exp_q5(ref_srdhm(shifted(d, p.input_left_shift), p.input_multiplier)), 12);
    }
    const std::int32_t s = static_cast<std::int32_t>(std::min<std::int64_t>(sum, 2147483647));
    int clz = 0;
    while (clz < 32 && !(static_cast<std::uint32_t>(s) & (0x80000000u >> clz))) ++clz;
    const int bits = 12 - clz;
    const std::int32_t scale = ref_one_over_one_plus_x(
        static_cast<std::int32_t>((static_cast<std::uint32_t>(s) << clz) - 0x80000000u));
    for (std::size_t c = 0; c < n; ++c) {
      const std::int32_t d = x[c] - max;
      std::int32_t v = tmin;
      if (d >= p.diff_min) {
        const std::int32_t e = ref_exp_q5(ref_srdhm(shifted(d, p.input_left_shift), p.input_multiplier));
        v = std::min(ref_rdpot(ref_srdhm(scale, e), bits + 23) + tmin, tmax);
      }
      out[r * n + c] = static_cast<T>(v);
    }
  }
}

std::int32_t random_raw(std::mt19937& rng, std::int32_t lo, std::int32_t hi) {
  // Half uniform, half near the ends and near powers of two, where the rounding decides.
  std::uniform_int_distribution<std::int64_t> u(lo, hi);
  if (rng() % 2 == 0) return static_cast<std::int32_t>(u(rng));
  const int e = static_cast<int>(rng() % 31);
  const std::int64_t v = (rng() % 2 ? 1 : -1) * (std::int64_t{1} << e) + static_cast<std::int64_t>(rng() % 5) - 2;
  return static_cast<std::int32_t>(std::min<std::int64_t>(std::max<std::int64_t>(v, lo), hi));
}

template <class T>
std::vector<T> random_tensor(std::mt19937& rng, std::size_t count, int mode) {
  std::vector<T> v(count);
  const int lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  std::uniform_int_distribution<int> u(lo, hi), small(-6, 6);
  for (std::size_t i = 0; i < count; ++i) {
    int x = u(rng);
    if (mode == 1) x = rng() % 2 ? lo : hi;                      // only the extremes
    if (mode == 2) x = std::min(hi, std::max(lo, hi - 3 + small(rng)));  // clustered near the top
    v[i] = static_cast<T>(x);
  }
  return v;
}

}  // namespace

TEST_CASE("softmax fixed point: the test's transcription agrees with qk's", "[layers][softmax]") {
  std::mt19937 rng(11);
  for (int i = 0; i < 200000; ++i) {
    const std::int32_t a = random_raw(rng, std::numeric_limits<std::int32_t>::min(), 0);
    REQUIRE(fp::exp_on_negative_values<5>(a) == ref_exp_q5(a));
    const std::int32_t q = random_raw(rng, -(1 << 29), -1);
    REQUIRE(fp::exp_on_interval_between_negative_one_quarter_and_0_excl(q) == ref_exp_quarter(q));
    const std::int32_t x = random_raw(rng, 0, std::numeric_limits<std::int32_t>::max());
    REQUIRE(fp::one_over_one_plus_x_for_x_in_0_1(x) == ref_one_over_one_plus_x(x));
  }
}

#if defined(QK_TEST_HAVE_GEMMLOWP)
namespace {
template <int I>
std::int32_t gl_exp(std::int32_t a) {
  return gemmlowp::exp_on_negative_values(gemmlowp::FixedPoint<std::int32_t, I>::FromRaw(a)).raw();
}
template <int I>
void check_exp_against_gemmlowp(std::mt19937& rng, int count) {
  for (int i = 0; i < count; ++i) {
    const std::int32_t a = random_raw(rng, std::numeric_limits<std::int32_t>::min(), 0);
    INFO("integer bits " << I << ", a = " << a);
    REQUIRE(fp::exp_on_negative_values<I>(a) == gl_exp<I>(a));
  }
  for (std::int32_t a : {std::numeric_limits<std::int32_t>::min(), -1, 0, -(1 << 24), -(1 << 26), -(1 << 30)})
    REQUIRE(fp::exp_on_negative_values<I>(a) == gl_exp<I>(a));
}
}  // namespace

TEST_CASE("softmax fixed point: qk's gemmlowp functions agree with gemmlowp's fixedpoint.h", "[layers][softmax]") {
  std::mt19937 rng(12);
  check_exp_against_gemmlowp<5>(rng, 1000000);  // the one softmax uses: a million inputs
  check_exp_against_gemmlowp<0>(rng, 100000);
  check_exp_against_gemmlowp<1>(rng, 100000);
  check_exp_against_gemmlowp<3>(rng, 100000);
  check_exp_against_gemmlowp<6>(rng, 100000);
  check_exp_against_gemmlowp<12>(rng, 100000);
  using F0 = gemmlowp::FixedPoint<std::int32_t, 0>;
  for (int i = 0; i < 1000000; ++i) {
    const std::int32_t q = random_raw(rng, -(1 << 29), -1);
    REQUIRE(fp::exp_on_interval_between_negative_one_quarter_and_0_excl(q) ==
            gemmlowp::exp_on_interval_between_negative_one_quarter_and_0_excl(F0::FromRaw(q)).raw());
    const std::int32_t x = random_raw(rng, 0, std::numeric_limits<std::int32_t>::max());
    REQUIRE(fp::one_over_one_plus_x_for_x_in_0_1(x) == gemmlowp::one_over_one_plus_x_for_x_in_0_1(F0::FromRaw(x)).raw());
    REQUIRE(fp::rounding_half_sum(x, q) == gemmlowp::RoundingHalfSum(x, q));
    REQUIRE(fp::saturating_rounding_multiply_by_pot<5>(q) == gemmlowp::SaturatingRoundingMultiplyByPOT<5>(q));
    REQUIRE(fp::saturating_rounding_multiply_by_pot<2>(x) == gemmlowp::SaturatingRoundingMultiplyByPOT<2>(x));
    REQUIRE(fp::saturating_rounding_multiply_by_pot<-3>(x) == gemmlowp::SaturatingRoundingMultiplyByPOT<-3>(x));
  }
  for (std::int32_t x : {0, 1, std::numeric_limits<std::int32_t>::max(), 1 << 30})
    REQUIRE(fp::one_over_one_plus_x_for_x_in_0_1(x) == gemmlowp::one_over_one_plus_x_for_x_in_0_1(F0::FromRaw(x)).raw());
}
#endif

TEST_CASE("softmax_prepare: TFLite's Prepare integers", "[layers][softmax]") {
  SoftmaxParams p;
  // The conformance case's input scale (1/255): its prepared integers.
  REQUIRE(qk::layers::softmax_prepare(1.0f / 255.0f, 1.0f, &p).ok());
  CHECK(p.input_multiplier == 1077952640);
  CHECK(p.input_left_shift == 19);
  CHECK(p.diff_min == -3968);
  // 1/16: 2^22 exactly, mantissa 1/2.
  REQUIRE(qk::layers::softmax_prepare(1.0f / 16.0f, 1.0f, &p).ok());
  CHECK(p.input_multiplier == (1 << 30));
  CHECK(p.input_left_shift == 23);
  CHECK(p.diff_min == -248);
  // Above 2^31 - 1 the real multiplier is capped: shift 31, and only the maximum counts.
  REQUIRE(qk::layers::softmax_prepare(64.0f, 1.0f, &p).ok());
  CHECK(p.input_multiplier == std::numeric_limits<std::int32_t>::max());
  CHECK(p.input_left_shift == 31);
  CHECK(p.diff_min == 0);
  // beta scales like the input scale.
  SoftmaxParams q;
  REQUIRE(qk::layers::softmax_prepare(1.0f / 8.0f, 0.5f, &q).ok());
  REQUIRE(qk::layers::softmax_prepare(1.0f / 16.0f, 1.0f, &p).ok());
  CHECK((q.input_multiplier == p.input_multiplier && q.input_left_shift == p.input_left_shift && q.diff_min == p.diff_min));
}

TEST_CASE("softmax: argument errors are reported and write nothing", "[layers][softmax]") {
  const Shape4 shape{2, 1, 1, 5};
  const QuantInfo in{0.1f, 3}, out_s8{1.0f / 256.0f, -128};
  struct Bad {
    const char* what;
    StatusCode code;
    Shape4 shape;
    ElementType type;
    QuantInfo in;
    float beta;
    QuantInfo out;
  };
  const Bad bad[] = {
      {"unknown type", StatusCode::invalid_argument, shape, static_cast<ElementType>(7), in, 1.0f, out_s8},
      {"zero rows", StatusCode::bad_shape, Shape4{0, 1, 1, 5}, ElementType::s8, in, 1.0f, out_s8},
      {"zero row size", StatusCode::bad_shape, Shape4{2, 1, 1, 0}, ElementType::s8, in, 1.0f, out_s8},
      {"overflowing shape", StatusCode::size_overflow, Shape4{std::size_t{1} << 40, std::size_t{1} << 30, 1, 5},
       ElementType::s8, in, 1.0f, out_s8},
      {"output zero point", StatusCode::invalid_argument, shape, ElementType::s8, in, 1.0f, QuantInfo{1.0f / 256.0f, 0}},
      {"u8 output zero point", StatusCode::invalid_argument, shape, ElementType::u8, in, 1.0f, out_s8},
      {"output scale", StatusCode::invalid_argument, shape, ElementType::s8, in, 1.0f, QuantInfo{1.0f / 128.0f, -128}},
      {"output scale NaN", StatusCode::invalid_argument, shape, ElementType::s8, in, 1.0f, QuantInfo{NAN, -128}},
      {"input scale 0", StatusCode::invalid_argument, shape, ElementType::s8, QuantInfo{0.0f, 0}, 1.0f, out_s8},
      {"input scale NaN", StatusCode::invalid_argument, shape, ElementType::s8, QuantInfo{NAN, 0}, 1.0f, out_s8},
      {"input scale inf", StatusCode::invalid_argument, shape, ElementType::s8, QuantInfo{INFINITY, 0}, 1.0f, out_s8},
      {"input scale too small", StatusCode::invalid_argument, shape, ElementType::s8, QuantInfo{1e-9f, 0}, 1.0f, out_s8},
      {"input zero point", StatusCode::invalid_argument, shape, ElementType::s8, QuantInfo{0.1f, 128}, 1.0f, out_s8},
      {"beta 0", StatusCode::invalid_argument, shape, ElementType::s8, in, 0.0f, out_s8},
      {"beta NaN", StatusCode::invalid_argument, shape, ElementType::s8, in, NAN, out_s8},
      {"beta negative", StatusCode::invalid_argument, shape, ElementType::s8, in, -1.0f, out_s8},
  };
  for (const Bad& b : bad) {
    INFO(b.what);
    Softmax layer;
    const qk::Status st = layer.init(b.shape, b.type, b.in, b.beta, b.out);
    CHECK(st.code() == b.code);
    CHECK(!layer.built());
  }
  struct BadParams {
    const char* what;
    SoftmaxParams p;
  };
  const BadParams bad_params[] = {
      {"multiplier 0", SoftmaxParams{0, 10, -100}},
      {"negative multiplier", SoftmaxParams{-5, 10, -100}},
      {"negative shift", SoftmaxParams{1 << 30, -1, -100}},
      {"shift 32", SoftmaxParams{1 << 30, 32, 0}},
      {"positive diff_min", SoftmaxParams{1 << 30, 10, 1}},
      {"diff_min too low for the shift", SoftmaxParams{1 << 30, 24, -200}},
  };
  for (const BadParams& b : bad_params) {
    INFO(b.what);
    Softmax layer;
    CHECK(layer.init(shape, ElementType::s8, b.p).code() == StatusCode::invalid_argument);
    CHECK(!layer.built());
  }
  // run(): nothing written on any error; a failed re-init keeps the built layer as it was.
  Softmax layer;
  std::vector<std::int8_t> x = {1, 2, 3, 4, 5, -1, -2, -3, -4, -5};
  std::vector<std::int8_t> y(10, 0x5a);
  CHECK(layer.run(x.data(), y.data()).code() == StatusCode::invalid_argument);  // not built
  REQUIRE(layer.init(shape, ElementType::s8, in, 1.0f, out_s8).ok());
  CHECK(layer.run(nullptr, y.data()).code() == StatusCode::null_pointer);
  CHECK(layer.run(x.data(), nullptr).code() == StatusCode::null_pointer);
  CHECK(layer.run(static_cast<const void* const*>(nullptr), y.data(), nullptr, 0).code() == StatusCode::null_pointer);
  for (std::int8_t v : y) CHECK(v == 0x5a);
  REQUIRE(layer.run(x.data(), y.data()).ok());
  const std::vector<std::int8_t> before = y;
  CHECK(!layer.init(shape, ElementType::s8, SoftmaxParams{0, 0, 0}).ok());
  REQUIRE(layer.built());
  std::vector<std::int8_t> again(10, 0);
  REQUIRE(layer.run(x.data(), again.data()).ok());
  CHECK(again == before);
}

namespace {

template <class T>
void check_against_reference(std::mt19937& rng, ElementType type, int trials) {
  const std::size_t sizes[] = {1, 2, 3, 5, 7, 16, 31, 64, 100, 255, 256, 257, 300, 1000};
  std::size_t outputs = 0;
  for (int t = 0; t < trials; ++t) {
    Shape4 shape;
    shape.n = 1 + rng() % 3;
    shape.h = 1 + rng() % 2;
    shape.w = 1 + rng() % 2;
    shape.c = sizes[rng() % (sizeof sizes / sizeof sizes[0])];
    const int mode = static_cast<int>(rng() % 4);  // 3: uniform
    Softmax layer;
    SoftmaxParams p;
    if (rng() % 3 == 0) {
      // Prepared integers directly: any multiplier, any shift up to 31, any diff_min they allow.
      p.input_multiplier = static_cast<std::int32_t>((1u << 30) + rng() % (1u << 30));
      p.input_left_shift = static_cast<std::int32_t>(rng() % 32);
      const std::int64_t lowest = -(std::int64_t{1} << 31) >> p.input_left_shift;  // d * 2^shift >= INT32_MIN
      const std::int64_t floor_d = std::max<std::int64_t>(lowest, -300);
      p.diff_min = static_cast<std::int32_t>(floor_d + static_cast<std::int64_t>(rng() % static_cast<std::uint32_t>(1 - floor_d)));
      if (p.diff_min > 0) p.diff_min = 0;
      REQUIRE(layer.init(shape, type, p).ok());
    } else {
      // From float scales 2^-20 .. 2^6: small scales keep every entry, large ones cut most.
      const float scale = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -20 + static_cast<int>(rng() % 27));
      const float beta = rng() % 4 == 0 ? 0.5f + static_cast<float>(rng() % 100) / 50.0f : 1.0f;
      const QuantInfo out{1.0f / 256.0f, type == ElementType::s8 ? -128 : 0};
      INFO("scale " << scale << " beta " << beta);
      REQUIRE(layer.init(shape, type, QuantInfo{scale, 0}, beta, out).ok());
      p = layer.params();
    }
    INFO("rows " << shape.n * shape.h * shape.w << " x " << shape.c << " mode " << mode << " multiplier "
                 << p.input_multiplier << " shift " << p.input_left_shift << " diff_min " << p.diff_min);
    const std::size_t count = shape.count_unchecked();
    const std::vector<T> x = random_tensor<T>(rng, count, mode == 3 ? 0 : mode);
    std::vector<T> got(count, 0), want(count, 0);
    REQUIRE(layer.run(x.data(), got.data()).ok());
    reference_softmax(x.data(), want.data(), count / shape.c, shape.c, p);
    REQUIRE(got == want);
    outputs += count;
  }
  WARN("softmax " << (type == ElementType::s8 ? "s8" : "u8") << ": " << trials << " random layers, " << outputs
                  << " outputs equal to the reference");
}

}  // namespace

TEST_CASE("softmax: random shapes and parameters, int8 and uint8, equal the reference", "[layers][softmax]") {
  std::mt19937 rng(13);
  check_against_reference<std::int8_t>(rng, ElementType::s8, 600);
  check_against_reference<std::uint8_t>(rng, ElementType::u8, 600);
}

TEST_CASE("softmax: close to a float softmax (within one output unit)", "[layers][softmax]") {
  std::mt19937 rng(14);
  for (int t = 0; t < 200; ++t) {
    const std::size_t n = 1 + rng() % 40;
    const float scale = std::ldexp(1.0f, -8 + static_cast<int>(rng() % 8));
    Softmax layer;
    REQUIRE(layer.init(Shape4{1, 1, 1, n}, ElementType::s8, QuantInfo{scale, 5}, 1.0f, QuantInfo{1.0f / 256.0f, -128}).ok());
    const std::vector<std::int8_t> x = random_tensor<std::int8_t>(rng, n, 0);
    std::vector<std::int8_t> y(n);
    REQUIRE(layer.run(x.data(), y.data()).ok());
    double max = -1e9, sum = 0;
    for (std::int8_t v : x) max = std::max(max, static_cast<double>(v));
    for (std::int8_t v : x) sum += std::exp(scale * (v - max));
    for (std::size_t i = 0; i < n; ++i) {
      const double want = std::round(256.0 * std::exp(scale * (x[i] - max)) / sum) - 128.0;
      INFO("n " << n << " scale " << scale << " i " << i);
      CHECK(std::fabs(std::min(want, 127.0) - y[i]) <= 1.0);
    }
  }
}

TEST_CASE("softmax: extremes, equal rows, long rows, batch > 1, in place, threads", "[layers][softmax]") {
  const QuantInfo out_s8{1.0f / 256.0f, -128}, out_u8{1.0f / 256.0f, 0};
  SECTION("row of 1: probability 1 is 127 (int8), 255 (uint8)") {
    Softmax s, u;
    REQUIRE(s.init(Shape4{3, 1, 1, 1}, ElementType::s8, QuantInfo{0.5f, 0}, 1.0f, out_s8).ok());
    REQUIRE(u.init(Shape4{3, 1, 1, 1}, ElementType::u8, QuantInfo{0.5f, 0}, 1.0f, out_u8).ok());
    const std::int8_t xs[3] = {-128, 0, 127};
    const std::uint8_t xu[3] = {0, 128, 255};
    std::int8_t ys[3];
    std::uint8_t yu[3];
    REQUIRE(s.run(xs, ys).ok());
    REQUIRE(u.run(xu, yu).ok());
    for (int i = 0; i < 3; ++i) {
      CHECK(ys[i] == 127);
      CHECK(yu[i] == 255);
    }
  }
  SECTION("equal rows of n values: round(256 / n), the exp sum saturated from 4096 on") {
    const std::size_t sizes[] = {2, 3, 4, 10, 100, 255, 256, 257, 300, 511, 512, 513, 600, 1000, 4095, 4096, 5000};
    for (std::size_t n : sizes) {
      Softmax layer;
      REQUIRE(layer.init(Shape4{2, 1, 1, n}, ElementType::s8, QuantInfo{0.05f, 0}, 1.0f, out_s8).ok());
      std::vector<std::int8_t> x(2 * n), y(2 * n);
      for (std::size_t i = 0; i < n; ++i) {
        x[i] = -128;
        x[n + i] = 127;
      }
      REQUIRE(layer.run(x.data(), y.data()).ok());
      // Fixed point can miss the float result by one unit (512 values: 0.5 rounds to 0 here).
      const double want = std::min(127.0, std::round(256.0 / static_cast<double>(n)) - 128.0);
      INFO("n " << n);
      for (std::int8_t v : y) REQUIRE(std::fabs(static_cast<double>(v) - want) <= 1.0);
      if (n >= 4096) {
        for (std::int8_t v : y) REQUIRE(v == -128);  // the saturated sum: every probability below 1/4096
      } else {  // the reference is TFLite's (defined) arithmetic
        std::vector<std::int8_t> ref(2 * n);
        reference_softmax(x.data(), ref.data(), 2, n, layer.params());
        CHECK(ref == y);
      }
    }
  }
  SECTION("-128 against 127: cut by diff_min or not, by the input scale") {
    for (float scale : {1.0f / 512.0f, 1.0f / 16.0f, 1.0f, 64.0f}) {
      Softmax layer;
      REQUIRE(layer.init(Shape4{1, 1, 1, 4}, ElementType::s8, QuantInfo{scale, 0}, 1.0f, out_s8).ok());
      const std::int8_t x[4] = {-128, 127, -128, 126};
      std::int8_t y[4], ref[4];
      REQUIRE(layer.run(x, y).ok());
      reference_softmax(x, ref, 1, 4, layer.params());
      INFO("scale " << scale);
      CHECK(std::memcmp(y, ref, 4) == 0);
      if (scale >= 1.0f) CHECK(y[0] == -128);
    }
  }
  SECTION("in place and on a thread pool: the same outputs") {
    std::mt19937 rng(15);
    Softmax layer;
    const Shape4 shape{4, 3, 5, 300};
    REQUIRE(layer.init(shape, ElementType::u8, QuantInfo{0.02f, 7}, 1.0f, out_u8).ok());
    const std::vector<std::uint8_t> x = random_tensor<std::uint8_t>(rng, shape.count_unchecked(), 0);
    std::vector<std::uint8_t> serial(x.size()), pooled(x.size()), inplace = x;
    REQUIRE(layer.run(x.data(), serial.data()).ok());
    REQUIRE(layer.run(inplace.data(), inplace.data()).ok());
    CHECK(inplace == serial);
#if !defined(QK_NO_THREADS)
    qk::ThreadPool pool(3);
    const void* inputs[1] = {x.data()};
    REQUIRE(layer.run(inputs, pooled.data(), nullptr, 0, &pool).ok());
    CHECK(pooled == serial);
#endif
  }
}
