// qk/quantize.hpp: parameters, rounding, round trips, per-axis, blocked, int4 packing, and the
// xsimd path against the scalar definition, bit for bit.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/quantize.hpp"
#include "quantize/test_common.hpp"

using qk_test::element;
using qk_test::storage_elems;
using qk_test::Tag;

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Random floats mixing: ordinary values around the range, exact ties (k + 0.5) * scale,
// values beyond saturation, and specials (inf, NaN, max, denormals, -0).
std::vector<float> tricky_data(std::size_t n, float scale, std::int32_t zp, std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_real_distribution<float> u(-300.0f, 300.0f);
  std::uniform_int_distribution<int> k(-70000, 70000);
  const float specials[] = {kInf, -kInf, kNaN, std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::denorm_min(), -0.0f, 0.0f, 2147483648.0f, -2147483904.0f,
                            8388608.5f, 16777217.0f, 0.49999997f, -0.49999997f};
  std::vector<float> x(n);
  for (auto& v : x) {
    switch (kind(rng)) {
      case 0: case 1: case 2: v = u(rng) * scale; break;
      case 3: case 4: case 5: v = (static_cast<float>(k(rng) % 300 - zp) + 0.5f) * scale; break;  // ties
      case 6: v = static_cast<float>(k(rng)) * scale; break;
      case 7: v = (static_cast<float>(k(rng)) + 0.5f) * scale; break;  // far ties, saturation
      case 8: v = specials[static_cast<std::size_t>(k(rng) & 0x7fff) % (sizeof(specials) / sizeof(float))]; break;
      default: v = u(rng) * 1e6f; break;
    }
  }
  return x;
}

template <class T>
std::int32_t random_zp(std::int32_t qmin, std::int32_t qmax, std::mt19937& rng) {
  return std::uniform_int_distribution<std::int32_t>(qmin, qmax)(rng);
}

}  // namespace

TEST_CASE("quant_range derives qmin/qmax from bits, sign and narrow range") {
  std::int32_t lo = 0, hi = 0;
  REQUIRE(qk::quant_range<std::int8_t>(0, false, &lo, &hi).ok());
  CHECK((lo == -128 && hi == 127));
  REQUIRE(qk::quant_range<std::int8_t>(8, true, &lo, &hi).ok());
  CHECK((lo == -127 && hi == 127));
  REQUIRE(qk::quant_range<std::uint8_t>(0, false, &lo, &hi).ok());
  CHECK((lo == 0 && hi == 255));
  REQUIRE(qk::quant_range<std::int16_t>(0, false, &lo, &hi).ok());
  CHECK((lo == -32768 && hi == 32767));
  REQUIRE(qk::quant_range<std::uint16_t>(0, false, &lo, &hi).ok());
  CHECK((lo == 0 && hi == 65535));
  REQUIRE(qk::quant_range<qk::int4>(0, false, &lo, &hi).ok());
  CHECK((lo == -8 && hi == 7));
  REQUIRE(qk::quant_range<qk::uint4>(0, false, &lo, &hi).ok());
  CHECK((lo == 0 && hi == 15));
  REQUIRE(qk::quant_range<std::int8_t>(2, false, &lo, &hi).ok());
  CHECK((lo == -2 && hi == 1));
  REQUIRE(qk::quant_range<std::int8_t>(2, true, &lo, &hi).ok());
  CHECK((lo == -1 && hi == 1));
  REQUIRE(qk::quant_range<std::uint16_t>(12, false, &lo, &hi).ok());
  CHECK((lo == 0 && hi == 4095));
  for (int b = 2; b <= 16; ++b) {
    REQUIRE(qk::quant_range<std::int16_t>(b, false, &lo, &hi).ok());
    CHECK(lo == -(1 << (b - 1)));
    CHECK(hi == (1 << (b - 1)) - 1);
  }
}

TEST_CASE("choose_quant_params: asymmetric, symmetric, narrow, degenerate") {
  qk::QuantParams p;
  SECTION("asymmetric uint8 [-1, 3]") {
    REQUIRE(qk::choose_quant_params<std::uint8_t>(-1.0f, 3.0f, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(4.0 / 255.0));
    CHECK(p.zero_point == 64);  // round(255 - 3 / (4/255)) = round(63.75)
    CHECK((p.qmin == 0 && p.qmax == 255));
  }
  SECTION("asymmetric int8 [-1, 3]: same scale, zero point shifted by -128") {
    REQUIRE(qk::choose_quant_params<std::int8_t>(-1.0f, 3.0f, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(4.0 / 255.0));
    CHECK(p.zero_point == -64);
  }
  SECTION("range widened to include zero") {
    REQUIRE(qk::choose_quant_params<std::uint8_t>(2.0f, 6.0f, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(6.0 / 255.0));
    CHECK(p.zero_point == 0);
    REQUIRE(qk::choose_quant_params<std::int8_t>(-6.0f, -2.0f, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(6.0 / 255.0));
    CHECK(p.zero_point == 127);
    // real 0 is exactly representable: dequantize(zero_point) == 0 and quantize(0) == zero_point
    std::int8_t q = 0;
    const float zero = 0.0f;
    REQUIRE(qk::quantize<std::int8_t>(&zero, 1, p.scale, p.zero_point, &q).ok());
    CHECK(q == 127);
  }
  SECTION("asymmetric 4 bits in int8 storage") {
    REQUIRE(qk::choose_quant_params<std::int8_t>(-1.0f, 2.0f, qk::QuantScheme::asymmetric, 4, &p).ok());
    CHECK(p.scale == static_cast<float>(3.0 / 15.0));
    CHECK((p.qmin == -8 && p.qmax == 7));
    CHECK(p.zero_point == -3);  // round(7 - 2 / 0.2)
  }
  SECTION("symmetric and narrow symmetric int8") {
    REQUIRE(qk::choose_quant_params<std::int8_t>(-3.0f, 1.27f, qk::QuantScheme::symmetric, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(3.0 / 127.0));
    CHECK((p.zero_point == 0 && p.qmin == -128 && p.qmax == 127));
    REQUIRE(qk::choose_quant_params<std::int8_t>(-0.5f, 2.54f, qk::QuantScheme::symmetric_narrow, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(static_cast<double>(2.54f) / 127.0));
    CHECK((p.zero_point == 0 && p.qmin == -127 && p.qmax == 127));
    REQUIRE(qk::choose_quant_params<qk::int4>(-0.7f, 0.1f, qk::QuantScheme::symmetric_narrow, 0, &p).ok());
    CHECK(p.scale == static_cast<float>(static_cast<double>(0.7f) / 7.0));
    CHECK((p.qmin == -7 && p.qmax == 7));
  }
  SECTION("degenerate ranges give scale 1, zero point 0") {
    REQUIRE(qk::choose_quant_params<std::uint8_t>(0.0f, 0.0f, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK((p.scale == 1.0f && p.zero_point == 0));
    REQUIRE(qk::choose_quant_params<std::int8_t>(0.0f, 0.0f, qk::QuantScheme::symmetric, 0, &p).ok());
    CHECK((p.scale == 1.0f && p.zero_point == 0));
  }
  SECTION("huge ranges do not overflow") {
    const float m = std::numeric_limits<float>::max();
    REQUIRE(qk::choose_quant_params<std::uint8_t>(-m, m, qk::QuantScheme::asymmetric, 0, &p).ok());
    CHECK(std::isfinite(p.scale));
    CHECK(p.zero_point == 128);
  }
}

TEST_CASE("rounding modes differ exactly on ties") {
  std::vector<float> x;
  for (int k = -10; k <= 10; ++k) x.push_back(static_cast<float>(k) + 0.5f);
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    std::vector<std::int8_t> even(x.size()), away(x.size());
    qk::QuantizeOptions opt;
    REQUIRE(qk::quantize<std::int8_t>(x.data(), x.size(), 1.0f, 3, even.data(), opt).ok());
    opt.rounding = qk::Rounding::half_away_from_zero;
    REQUIRE(qk::quantize<std::int8_t>(x.data(), x.size(), 1.0f, 3, away.data(), opt).ok());
    for (std::size_t i = 0; i < x.size(); ++i) {
      const int k = static_cast<int>(i) - 10;  // x = k + 0.5
      const int e = (k % 2 == 0) ? k : k + 1;  // the even neighbour of k + 0.5
      const int a = k >= 0 ? k + 1 : k;        // away from zero
      CHECK(even[i] == e + 3);
      CHECK(away[i] == a + 3);
    }
  }
  // The tie is decided on r / scale, not on r: 0.75 / 0.5 = 1.5 -> 2 (even), 0.25 / 0.5 = 0.5 -> 0.
  const float y[2] = {0.75f, 0.25f};
  std::uint8_t q[2] = {};
  REQUIRE(qk::quantize<std::uint8_t>(y, 2, 0.5f, 0, q).ok());
  CHECK((q[0] == 2 && q[1] == 0));
}

TEST_CASE("saturation, infinities and NaN") {
  const float x[6] = {1e30f, -1e30f, kInf, -kInf, kNaN, -kNaN};
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    std::int8_t q[6] = {};
    REQUIRE(qk::quantize<std::int8_t>(x, 6, 0.1f, -5, q).ok());
    CHECK(q[0] == 127);
    CHECK(q[1] == -128);
    CHECK(q[2] == 127);
    CHECK(q[3] == -128);
    CHECK(q[4] == -5);  // NaN -> zero point
    CHECK(q[5] == -5);
    std::uint8_t u[6] = {};
    qk::QuantizeOptions opt;
    opt.bits = 3;
    REQUIRE(qk::quantize<std::uint8_t>(x, 6, 0.1f, 2, u, opt).ok());
    CHECK((u[0] == 7 && u[1] == 0 && u[2] == 7 && u[3] == 0 && u[4] == 2));
    std::int8_t n[2] = {};
    opt = {};
    opt.narrow_range = true;
    REQUIRE(qk::quantize<std::int8_t>(x, 2, 0.1f, 0, n, opt).ok());
    CHECK((n[0] == 127 && n[1] == -127));
  }
}

TEST_CASE("quantize / dequantize round trip within half a step, every storage type") {
  std::mt19937 rng(42);
  qk_test::for_each_quant_type([&](auto tag) {
    using T = typename decltype(tag)::type;
    INFO(qk_test::type_name<T>());
    std::uniform_real_distribution<float> u(-2.0f, 5.0f);
    std::vector<float> x(301);
    for (auto& v : x) v = u(rng);
    qk::QuantParams p;
    const auto scheme = qk::storage_traits<T>::is_signed ? qk::QuantScheme::symmetric : qk::QuantScheme::asymmetric;
    REQUIRE(qk::choose_quant_params<T>(-2.0f, 5.0f, scheme, 0, &p).ok());
    std::vector<qk::storage_t<T>> q(storage_elems<T>(x.size()));
    std::vector<float> y(x.size());
    REQUIRE(qk::quantize<T>(x.data(), x.size(), p, q.data()).ok());
    REQUIRE(qk::dequantize<T>(q.data(), x.size(), p.scale, p.zero_point, y.data()).ok());
    for (std::size_t i = 0; i < x.size(); ++i) {
      // half a step, plus float rounding of x / S and S * (q - Z) (matters for 16 bits)
      CHECK(std::fabs(y[i] - x[i]) <= 0.5f * p.scale * 1.0001f + 1e-6f * std::fabs(x[i]));
    }
    // every integer round-trips exactly through dequantize then quantize
    std::vector<float> r(static_cast<std::size_t>(p.qmax - p.qmin + 1));
    for (std::int32_t v = p.qmin; v <= p.qmax; ++v) r[static_cast<std::size_t>(v - p.qmin)] = p.scale * static_cast<float>(v - p.zero_point);
    std::vector<qk::storage_t<T>> q2(storage_elems<T>(r.size()));
    REQUIRE(qk::quantize<T>(r.data(), r.size(), p, q2.data()).ok());
    for (std::size_t i = 0; i < r.size(); ++i) CHECK(element<T>(q2, i) == p.qmin + static_cast<std::int32_t>(i));
  });
}

TEST_CASE("dequantize: int32 and extremes") {
  const std::int32_t q[5] = {std::numeric_limits<std::int32_t>::min(), -1, 0, 16777217,
                             std::numeric_limits<std::int32_t>::max()};
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    float y[5];
    REQUIRE(qk::dequantize<std::int32_t>(q, 5, 0.5f, 0, y).ok());
    for (int i = 0; i < 5; ++i) CHECK(qk_test::same_bits(y[i], static_cast<float>(q[i]) * 0.5f));
    const std::uint16_t u[3] = {0, 65535, 32768};
    REQUIRE(qk::dequantize<std::uint16_t>(u, 3, 2.0f, 65535, y).ok());
    CHECK((y[0] == -131070.0f && y[1] == 0.0f && y[2] == -65534.0f));
  }
}

namespace {

// xsimd always has an architecture on x86-64 (SSE2 at least) and AArch64 (NEON), the platforms
// CI runs: there a build without the vector path is a broken build, not a reason to skip the
// tests that compare it with the scalar definition. Elsewhere (e.g. Cortex-M, where config.hpp
// turns xsimd off) the comparisons are skipped with a warning.
#if (defined(__x86_64__) || defined(__aarch64__)) && !defined(QK_QUANTIZE_NO_XSIMD)
constexpr bool kSimdExpected = true;
#else
constexpr bool kSimdExpected = false;
#endif

// True (after a WARN) if this build has no vector path and is not expected to; fails if it is.
bool skip_without_simd() {
  if (qk::detail::kQuantizeHasSimd) return false;
  if (kSimdExpected) FAIL("x86-64 / AArch64 build without xsimd's vector path: QK_QUANTIZE_HAVE_XSIMD not defined");
  WARN("SKIPPED: this build has no xsimd architecture: only the scalar path exists");
  return true;
}

}  // namespace

// The vector path against the scalar definition, bit for bit.
TEST_CASE("simd equals the scalar definition on every size, type, rounding and layout") {
  if (skip_without_simd()) return;
  std::mt19937 rng(7);
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 70; ++n) sizes.push_back(n);
  sizes.push_back(1000);
  sizes.push_back(100003);
  qk_test::for_each_quant_type([&](auto tag) {
    using T = typename decltype(tag)::type;
    INFO(qk_test::type_name<T>());
    for (int bits_choice = 0; bits_choice < 2; ++bits_choice) {
      for (int rnd = 0; rnd < 2; ++rnd) {
        qk::QuantizeOptions opt;
        opt.rounding = rnd == 0 ? qk::Rounding::half_to_even : qk::Rounding::half_away_from_zero;
        opt.bits = bits_choice == 0 ? 0 : 3;
        std::int32_t qmin = 0, qmax = 0;
        REQUIRE(qk::quant_range<T>(opt.bits, false, &qmin, &qmax).ok());
        for (std::size_t n : sizes) {
          INFO("n=" << n << " bits=" << opt.bits << " rounding=" << rnd);
          const float scale = std::uniform_real_distribution<float>(0.01f, 3.0f)(rng);
          const std::int32_t zp = random_zp<T>(qmin, qmax, rng);
          const std::vector<float> x = tricky_data(n, scale, zp, rng);
          std::vector<qk::storage_t<T>> a(storage_elems<T>(n) + 1, qk::storage_t<T>{0x5a}), b(storage_elems<T>(n) + 1, qk::storage_t<T>{0x5a});
          REQUIRE(qk::detail::quantize_impl<T>(x.data(), n, scale, zp, a.data(), opt, false).ok());
          REQUIRE(qk::detail::quantize_impl<T>(x.data(), n, scale, zp, b.data(), opt, true).ok());
          REQUIRE(a == b);
          // dequantize the result back, both ways
          std::vector<float> ya(n + 1, -7.0f), yb(n + 1, -7.0f);
          REQUIRE(qk::detail::dequantize_impl<T>(a.data(), n, scale, zp, ya.data(), false).ok());
          REQUIRE(qk::detail::dequantize_impl<T>(a.data(), n, scale, zp, yb.data(), true).ok());
          for (std::size_t i = 0; i <= n; ++i) REQUIRE(qk_test::same_bits(ya[i], yb[i]));
          // per element parameters: per-axis on the last axis (one run, a scale per element)
          if (n > 0 && n <= 70) {
            std::vector<float> scales(n);
            std::vector<std::int32_t> zps(n);
            for (std::size_t i = 0; i < n; ++i) {
              scales[i] = std::uniform_real_distribution<float>(0.01f, 3.0f)(rng);
              zps[i] = random_zp<T>(qmin, qmax, rng);
            }
            const std::size_t dims[2] = {3, n};
            std::vector<float> x3 = tricky_data(3 * n, scale, zp, rng);
            std::vector<qk::storage_t<T>> pa(storage_elems<T>(3 * n)), pb(storage_elems<T>(3 * n));
            REQUIRE(qk::detail::quantize_per_axis_impl<T>(x3.data(), dims, 2, 1, scales.data(), zps.data(), n,
                                                          pa.data(), opt, false).ok());
            REQUIRE(qk::detail::quantize_per_axis_impl<T>(x3.data(), dims, 2, 1, scales.data(), zps.data(), n,
                                                          pb.data(), opt, true).ok());
            REQUIRE(pa == pb);
            std::vector<float> da(3 * n), db(3 * n);
            REQUIRE(qk::detail::dequantize_per_axis_impl<T>(pa.data(), dims, 2, -1, scales.data(), zps.data(), n,
                                                            da.data(), false).ok());
            REQUIRE(qk::detail::dequantize_per_axis_impl<T>(pa.data(), dims, 2, -1, scales.data(), zps.data(), n,
                                                            db.data(), true).ok());
            for (std::size_t i = 0; i < 3 * n; ++i) REQUIRE(qk_test::same_bits(da[i], db[i]));
          }
        }
      }
    }
  });
}

TEST_CASE("simd equals scalar on int32 dequantization, all tails") {
  if (skip_without_simd()) return;
  std::mt19937 rng(3);
  for (std::size_t n = 0; n <= 70; ++n) {
    std::vector<std::int32_t> q(n);
    for (auto& v : q) v = static_cast<std::int32_t>(rng());
    std::vector<float> a(n), b(n);
    REQUIRE(qk::detail::dequantize_impl<std::int32_t>(q.data(), n, 0.37f, 0, a.data(), false).ok());
    REQUIRE(qk::detail::dequantize_impl<std::int32_t>(q.data(), n, 0.37f, 0, b.data(), true).ok());
    for (std::size_t i = 0; i < n; ++i) REQUIRE(qk_test::same_bits(a[i], b[i]));
  }
}

namespace {

// Naive per-axis / blocked reference straight from the definition, element by element.
template <class T>
std::vector<std::int32_t> naive_quantize(const std::vector<float>& x, const std::vector<std::size_t>& dims,
                                         std::size_t axis, std::size_t block, const std::vector<float>& s,
                                         const std::vector<std::int32_t>& z, qk::Rounding r) {
  std::size_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < axis; ++d) outer *= dims[d];
  for (std::size_t d = axis + 1; d < dims.size(); ++d) inner *= dims[d];
  const std::size_t c_count = dims[axis];
  const std::size_t nb = block == 0 ? 0 : (c_count + block - 1) / block;
  std::vector<std::int32_t> out(x.size());
  for (std::size_t o = 0; o < outer; ++o)
    for (std::size_t c = 0; c < c_count; ++c)
      for (std::size_t i = 0; i < inner; ++i) {
        const std::size_t e = (o * c_count + c) * inner + i;
        const std::size_t k = block == 0 ? c : (o * nb + c / block) * inner + i;
        const std::int32_t lo = qk::storage_traits<T>::lowest, hi = qk::storage_traits<T>::highest;
        out[e] = r == qk::Rounding::half_to_even ? qk::detail::quantize_value<qk::Rounding::half_to_even>(x[e], s[k], z[k], lo, hi)
                                                 : qk::detail::quantize_value<qk::Rounding::half_away_from_zero>(x[e], s[k], z[k], lo, hi);
      }
  return out;
}

template <class T>
void check_layout(const std::vector<std::size_t>& dims, int axis, std::size_t block, std::mt19937& rng) {
  INFO(qk_test::type_name<T>() << " axis=" << axis << " block=" << block << " rank=" << dims.size());
  const std::size_t ax = axis < 0 ? static_cast<std::size_t>(axis + static_cast<int>(dims.size())) : static_cast<std::size_t>(axis);
  std::size_t total = 1;
  for (auto d : dims) total *= d;
  std::size_t count = dims[ax];
  if (block != 0) {
    count = 1;
    for (std::size_t d = 0; d < dims.size(); ++d) count *= d == ax ? (dims[d] + block - 1) / block : dims[d];
  }
  std::vector<float> s(count);
  std::vector<std::int32_t> z(count);
  for (std::size_t i = 0; i < count; ++i) {
    s[i] = std::uniform_real_distribution<float>(0.05f, 2.0f)(rng);
    z[i] = std::uniform_int_distribution<std::int32_t>(qk::storage_traits<T>::lowest, qk::storage_traits<T>::highest)(rng);
  }
  std::vector<float> x(total);
  for (auto& v : x) v = std::round(std::uniform_real_distribution<float>(-40.0f, 40.0f)(rng) * 2.0f) / 2.0f;  // many ties
  for (int rnd = 0; rnd < 2; ++rnd) {
    const auto r = rnd == 0 ? qk::Rounding::half_to_even : qk::Rounding::half_away_from_zero;
    qk::QuantizeOptions opt;
    opt.rounding = r;
    const std::vector<std::int32_t> want = naive_quantize<T>(x, dims, ax, block, s, z, r);
    std::vector<qk::storage_t<T>> q(storage_elems<T>(total), static_cast<qk::storage_t<T>>(0x25));
    if (block == 0)
      REQUIRE(qk::quantize_per_axis<T>(x.data(), dims.data(), dims.size(), axis, s.data(), z.data(), count, q.data(), opt).ok());
    else
      REQUIRE(qk::quantize_blocked<T>(x.data(), dims.data(), dims.size(), axis, block, s.data(), z.data(), count, q.data(), opt).ok());
    for (std::size_t e = 0; e < total; ++e) REQUIRE(element<T>(q, e) == want[e]);
    if (qk::storage_traits<T>::packed && total % 2 == 1) CHECK((q.back() >> 4) == 0);  // odd count: high nibble zero
    std::vector<float> y(total);
    if (block == 0)
      REQUIRE(qk::dequantize_per_axis<T>(q.data(), dims.data(), dims.size(), axis, s.data(), z.data(), count, y.data()).ok());
    else
      REQUIRE(qk::dequantize_blocked<T>(q.data(), dims.data(), dims.size(), axis, block, s.data(), z.data(), count, y.data()).ok());
    // expected dequantization with the same indexing
    std::size_t outer = 1, inner = 1;
    for (std::size_t d = 0; d < ax; ++d) outer *= dims[d];
    for (std::size_t d = ax + 1; d < dims.size(); ++d) inner *= dims[d];
    const std::size_t nb = block == 0 ? 0 : (dims[ax] + block - 1) / block;
    for (std::size_t o = 0; o < outer; ++o)
      for (std::size_t c = 0; c < dims[ax]; ++c)
        for (std::size_t i = 0; i < inner; ++i) {
          const std::size_t e = (o * dims[ax] + c) * inner + i;
          const std::size_t k = block == 0 ? c : (o * nb + c / block) * inner + i;
          REQUIRE(qk_test::same_bits(y[e], static_cast<float>(want[e] - z[k]) * s[k]));
        }
  }
}

}  // namespace

TEST_CASE("per-axis quantization matches the element-wise definition") {
  std::mt19937 rng(11);
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    qk_test::for_each_quant_type([&](auto tag) {
      using T = typename decltype(tag)::type;
      check_layout<T>({2, 3, 5}, 0, 0, rng);
      check_layout<T>({2, 3, 5}, 1, 0, rng);
      check_layout<T>({2, 3, 5}, 2, 0, rng);
      check_layout<T>({2, 3, 5}, -1, 0, rng);
      check_layout<T>({3, 67, 1}, 1, 0, rng);
      check_layout<T>({7, 70}, 1, 0, rng);  // channels last: one run, a scale per element
      check_layout<T>({1, 3, 3, 2}, 1, 0, rng);
      check_layout<T>({5}, 0, 0, rng);
      check_layout<T>({2, 0, 3}, 2, 0, rng);  // empty tensor
    });
  }
}

TEST_CASE("blocked quantization: blocks along the axis, short last block") {
  std::mt19937 rng(12);
  QK_FOR_EACH_ISA(isa) {
    (void)isa;
    qk_test::for_each_quant_type([&](auto tag) {
      using T = typename decltype(tag)::type;
      check_layout<T>({3, 10}, 1, 4, rng);    // last axis, blocks 4,4,2
      check_layout<T>({3, 10}, -1, 3, rng);   // 3,3,3,1
      check_layout<T>({10, 3}, 0, 4, rng);    // first axis, rows of scales
      check_layout<T>({2, 9, 5}, 1, 2, rng);  // middle axis, odd total
      check_layout<T>({4, 65}, 1, 32, rng);   // 32, 32, 1
      check_layout<T>({4, 64}, 1, 64, rng);   // one block
      check_layout<T>({4, 5}, 1, 100, rng);   // block larger than the axis
      check_layout<T>({3, 7}, 1, 1, rng);     // block 1: a scale per element
    });
  }
}

TEST_CASE("int4 / uint4 packing: first element in the low nibble") {
  const std::int8_t v[5] = {1, -2, 7, -8, -1};
  std::uint8_t p[3] = {0xff, 0xff, 0xff};
  REQUIRE(qk::pack_int4(v, 5, p).ok());
  CHECK(p[0] == 0xE1);
  CHECK(p[1] == 0x87);
  CHECK(p[2] == 0x0F);  // odd count: high nibble zero
  std::int8_t back[5] = {};
  REQUIRE(qk::unpack_int4(p, 5, back).ok());
  for (int i = 0; i < 5; ++i) CHECK(back[i] == v[i]);

  const std::uint8_t u[3] = {15, 0, 9};
  std::uint8_t pu[2] = {0xff, 0xff};
  REQUIRE(qk::pack_uint4(u, 3, pu).ok());
  CHECK((pu[0] == 0x0F && pu[1] == 0x09));
  std::uint8_t ub[3] = {};
  REQUIRE(qk::unpack_uint4(pu, 3, ub).ok());
  CHECK((ub[0] == 15 && ub[1] == 0 && ub[2] == 9));

  // every int4 value and every pair
  for (int a = -8; a < 8; ++a)
    for (int b = -8; b < 8; ++b) {
      const std::int8_t two[2] = {static_cast<std::int8_t>(a), static_cast<std::int8_t>(b)};
      std::uint8_t byte = 0;
      REQUIRE(qk::pack_int4(two, 2, &byte).ok());
      CHECK(byte == static_cast<std::uint8_t>((a & 15) | ((b & 15) << 4)));
      std::int8_t out[2] = {};
      REQUIRE(qk::unpack_int4(&byte, 2, out).ok());
      CHECK((out[0] == a && out[1] == b));
    }

  // quantize<int4> packs the same way
  const float x[3] = {1.0f, -2.0f, 7.0f};
  std::uint8_t q[2] = {0xff, 0xff};
  REQUIRE(qk::quantize<qk::int4>(x, 3, 1.0f, 0, q).ok());
  CHECK((q[0] == 0xE1 && q[1] == 0x07));
  std::size_t bytes = 0;
  REQUIRE(qk::storage_bytes<qk::int4>(7, &bytes).ok());
  CHECK(bytes == 4);
  REQUIRE(qk::storage_bytes<std::int16_t>(7, &bytes).ok());
  CHECK(bytes == 14);
}

TEST_CASE("dynamic_quantize_linear: ONNX formula, degenerate input, NaN") {
  const float x[6] = {0.0f, 2.0f, -3.0f, -2.5f, 1.34f, 0.5f};
  std::uint8_t y[6] = {};
  float s = 0.0f;
  std::uint8_t z = 0;
  REQUIRE(qk::dynamic_quantize_linear(x, 6, y, &s, &z).ok());
  CHECK(s == 5.0f / 255.0f);
  CHECK(z == 153);
  CHECK(y[1] == 255);
  CHECK(y[2] == 0);

  const float zeros[3] = {0.0f, -0.0f, 0.0f};
  REQUIRE(qk::dynamic_quantize_linear(zeros, 3, y, &s, &z).ok());
  CHECK((s == 1.0f && z == 0 && y[0] == 0 && y[1] == 0 && y[2] == 0));
  REQUIRE(qk::dynamic_quantize_linear(nullptr, 0, nullptr, &s, &z).ok());
  CHECK((s == 1.0f && z == 0));

  const float with_nan[3] = {kNaN, 1.0f, -1.0f};
  REQUIRE(qk::dynamic_quantize_linear(with_nan, 3, y, &s, &z).ok());
  CHECK(s == 2.0f / 255.0f);
  CHECK(y[0] == z);  // NaN -> zero point
}

// Which instruction set the xsimd path really uses in this build: xsimd picks the translation
// unit's own architecture, which must be NEON (xsimd's neon64) on AArch64, where the SIMD
// equality test above then compares NEON code with the scalar definition.
TEST_CASE("the xsimd path uses the expected architecture") {
#if defined(QK_QUANTIZE_HAVE_XSIMD)
  INFO("xsimd::default_arch = " << xsimd::default_arch::name() << ", " << qk::detail::kLanes << " float lanes");
#if defined(__aarch64__)
  static_assert(std::is_same<xsimd::default_arch, xsimd::neon64>::value, "AArch64 builds must use xsimd's NEON");
  CHECK(std::string(xsimd::default_arch::name()) == "arm64+neon");  // xsimd 8.1's name for neon64
  CHECK(qk::detail::kLanes == 4);
#endif
  CHECK(qk::detail::kQuantizeHasSimd);
#else
  CHECK_FALSE(kSimdExpected);  // x86-64 and AArch64 builds must have the vector path
  WARN("this build has no xsimd architecture");
#endif
}
