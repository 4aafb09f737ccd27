// Every error path of qk/quantize.hpp: the status code, and the output left untouched.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qk/quantize.hpp"
#include "quantize/test_common.hpp"

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr std::size_t kHuge = std::numeric_limits<std::size_t>::max() / 2;

using qk::StatusCode;

}  // namespace

TEST_CASE("per-tensor quantize errors write nothing") {
  const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  qk_test::for_each_quant_type([&](auto tag) {
    using T = typename decltype(tag)::type;
    using S = qk::storage_t<T>;
    INFO(qk_test::type_name<T>());
    const S sentinel = static_cast<S>(0x5a);
    std::vector<S> y(4, sentinel);
    const auto expect = [&](qk::Status st, StatusCode code) {
      CHECK(st.code() == code);
      CHECK_FALSE(st.ok());
      for (S v : y) CHECK(v == sentinel);
    };
    qk::QuantizeOptions opt;
    expect(qk::quantize<T>(x, 4, 0.0f, 0, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, -0.0f, 0, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, -1.0f, 0, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, kNaN, 0, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, kInf, 0, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, 1.0f, qk::storage_traits<T>::highest + 1, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(x, 4, 1.0f, qk::storage_traits<T>::lowest - 1, y.data()), StatusCode::invalid_argument);
    expect(qk::quantize<T>(nullptr, 4, 1.0f, 0, y.data()), StatusCode::null_pointer);
    expect(qk::quantize<T>(x, 4, 1.0f, 0, nullptr), StatusCode::null_pointer);
    expect(qk::quantize<T>(x, kHuge, 1.0f, 0, y.data()), StatusCode::size_overflow);
    opt.bits = 1;
    expect(qk::quantize<T>(x, 4, 1.0f, 0, y.data(), opt), StatusCode::invalid_argument);
    opt.bits = qk::storage_traits<T>::bits + 1;
    expect(qk::quantize<T>(x, 4, 1.0f, 0, y.data(), opt), StatusCode::invalid_argument);
    opt.bits = 17;
    expect(qk::quantize<T>(x, 4, 1.0f, 0, y.data(), opt), StatusCode::invalid_argument);
    opt.bits = 3;  // zero point valid for the type but outside [qmin, qmax] of 3 bits
    expect(qk::quantize<T>(x, 4, 1.0f, qk::storage_traits<T>::is_signed ? -5 : 8, y.data(), opt),
           StatusCode::invalid_argument);
    opt = {};
    opt.rounding = static_cast<qk::Rounding>(7);
    expect(qk::quantize<T>(x, 4, 1.0f, 0, y.data(), opt), StatusCode::invalid_argument);
    opt = {};
    opt.narrow_range = true;
    if (qk::storage_traits<T>::is_signed)  // zero point -2^(b-1) is outside the narrow range
      expect(qk::quantize<T>(x, 4, 1.0f, qk::storage_traits<T>::lowest, y.data(), opt), StatusCode::invalid_argument);
    else  // narrow range needs a signed type
      expect(qk::quantize<T>(x, 4, 1.0f, 0, y.data(), opt), StatusCode::invalid_argument);
    // QuantParams overload
    qk::QuantParams p;
    p.scale = 1.0f;
    p.qmin = 5;
    p.qmax = 4;
    expect(qk::quantize<T>(x, 4, p, y.data()), StatusCode::invalid_argument);
    p.qmin = qk::storage_traits<T>::lowest - 1;
    p.qmax = 0;
    expect(qk::quantize<T>(x, 4, p, y.data()), StatusCode::invalid_argument);
    p.qmin = 0;
    p.qmax = 3;
    p.zero_point = 4;
    expect(qk::quantize<T>(x, 4, p, y.data()), StatusCode::invalid_argument);
    p.zero_point = 0;
    p.scale = kNaN;
    expect(qk::quantize<T>(x, 4, p, y.data()), StatusCode::invalid_argument);
    // n = 0 with null pointers is fine
    CHECK(qk::quantize<T>(nullptr, 0, 1.0f, 0, nullptr).ok());
  });
}

TEST_CASE("per-tensor dequantize errors write nothing") {
  std::vector<float> y(4, -123.0f);
  const auto expect = [&](qk::Status st, StatusCode code) {
    CHECK(st.code() == code);
    for (float v : y) CHECK(v == -123.0f);
  };
  const std::int8_t q8[4] = {1, 2, 3, 4};
  expect(qk::dequantize<std::int8_t>(q8, 4, 0.0f, 0, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<std::int8_t>(q8, 4, -2.0f, 0, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<std::int8_t>(q8, 4, kNaN, 0, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<std::int8_t>(q8, 4, -kInf, 0, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<std::int8_t>(q8, 4, 1.0f, 128, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<std::int8_t>(nullptr, 4, 1.0f, 0, y.data()), StatusCode::null_pointer);
  expect(qk::dequantize<std::int8_t>(q8, 4, 1.0f, 0, nullptr), StatusCode::null_pointer);
  expect(qk::dequantize<std::int8_t>(q8, kHuge, 1.0f, 0, y.data()), StatusCode::size_overflow);
  const std::uint8_t u8[2] = {1, 2};
  expect(qk::dequantize<std::uint8_t>(u8, 4, 1.0f, -1, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<qk::uint4>(u8, 4, 1.0f, 16, y.data()), StatusCode::invalid_argument);
  expect(qk::dequantize<qk::int4>(u8, 4, 1.0f, -9, y.data()), StatusCode::invalid_argument);
  const std::int32_t q32[4] = {1, 2, 3, 4};
  expect(qk::dequantize<std::int32_t>(q32, 4, 1.0f, 1, y.data()), StatusCode::invalid_argument);  // int32: zp must be 0
  const std::uint16_t q16[4] = {1, 2, 3, 4};
  expect(qk::dequantize<std::uint16_t>(q16, 4, 1.0f, 65536, y.data()), StatusCode::invalid_argument);
}

TEST_CASE("per-axis and blocked errors write nothing") {
  const std::size_t dims[3] = {2, 3, 4};
  std::vector<float> x(24, 1.0f);
  const float s3[3] = {1.0f, 2.0f, 3.0f};
  const std::int32_t z3[3] = {0, 1, 2};
  std::vector<std::int8_t> q(24, 0x5a);
  std::vector<float> y(24, -9.0f);
  const auto untouched = [&] {
    for (auto v : q) CHECK(v == 0x5a);
    for (auto v : y) CHECK(v == -9.0f);
  };
  const auto pa = [&](const float* xp, const std::size_t* d, std::size_t nd, int axis, const float* s,
                      const std::int32_t* z, std::size_t count, std::int8_t* out) {
    return qk::quantize_per_axis<std::int8_t>(xp, d, nd, axis, s, z, count, out);
  };
  const auto dpa = [&](const std::int8_t* qp, const std::size_t* d, std::size_t nd, int axis, const float* s,
                       const std::int32_t* z, std::size_t count, float* out) {
    return qk::dequantize_per_axis<std::int8_t>(qp, d, nd, axis, s, z, count, out);
  };
  SECTION("axis out of range") {
    CHECK(pa(x.data(), dims, 3, 3, s3, z3, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(pa(x.data(), dims, 3, -4, s3, z3, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(pa(x.data(), dims, 0, 0, s3, z3, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(dpa(q.data(), dims, 3, 5, s3, z3, 3, y.data()).code() == StatusCode::invalid_argument);
  }
  SECTION("scale count differs from dims[axis]") {
    CHECK(pa(x.data(), dims, 3, 1, s3, z3, 2, q.data()).code() == StatusCode::bad_shape);
    CHECK(pa(x.data(), dims, 3, 0, s3, z3, 3, q.data()).code() == StatusCode::bad_shape);
    CHECK(dpa(q.data(), dims, 3, 2, s3, z3, 3, y.data()).code() == StatusCode::bad_shape);
  }
  SECTION("one bad scale or zero point among many") {
    const float bad_s[3] = {1.0f, kNaN, 1.0f};
    const float zero_s[3] = {1.0f, 1.0f, 0.0f};
    const std::int32_t bad_z[3] = {0, 0, 200};
    CHECK(pa(x.data(), dims, 3, 1, bad_s, z3, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(pa(x.data(), dims, 3, 1, zero_s, z3, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(pa(x.data(), dims, 3, 1, s3, bad_z, 3, q.data()).code() == StatusCode::invalid_argument);
    CHECK(dpa(q.data(), dims, 3, 1, bad_s, z3, 3, y.data()).code() == StatusCode::invalid_argument);
    CHECK(dpa(q.data(), dims, 3, 1, s3, bad_z, 3, y.data()).code() == StatusCode::invalid_argument);
  }
  SECTION("null pointers") {
    CHECK(pa(nullptr, dims, 3, 1, s3, z3, 3, q.data()).code() == StatusCode::null_pointer);
    CHECK(pa(x.data(), dims, 3, 1, nullptr, z3, 3, q.data()).code() == StatusCode::null_pointer);
    CHECK(pa(x.data(), nullptr, 3, 1, s3, z3, 3, q.data()).code() == StatusCode::null_pointer);
    CHECK(pa(x.data(), dims, 3, 1, s3, z3, 3, nullptr).code() == StatusCode::null_pointer);
    CHECK(dpa(nullptr, dims, 3, 1, s3, z3, 3, y.data()).code() == StatusCode::null_pointer);
    CHECK(dpa(q.data(), dims, 3, 1, s3, z3, 3, nullptr).code() == StatusCode::null_pointer);
  }
  SECTION("element count overflows size_t") {
    const std::size_t huge[3] = {std::numeric_limits<std::size_t>::max() / 2, 3, 4};
    CHECK(pa(x.data(), huge, 3, 1, s3, z3, 3, q.data()).code() == StatusCode::size_overflow);
    const std::size_t huge2[2] = {3, std::numeric_limits<std::size_t>::max() / 3 + 1};
    CHECK(pa(x.data(), huge2, 2, 0, s3, z3, 3, q.data()).code() == StatusCode::size_overflow);
    const std::size_t bytes_overflow[2] = {3, std::numeric_limits<std::size_t>::max() / 6};  // fits, *4 does not
    CHECK(pa(x.data(), bytes_overflow, 2, 0, s3, z3, 3, q.data()).code() == StatusCode::size_overflow);
  }
  SECTION("blocked: block size 0, inconsistent scale count") {
    const std::size_t d2[2] = {3, 10};  // blocks of 4 along axis 1: 3 blocks per row, 9 scales
    std::vector<float> s9(9, 1.0f);
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 1, 0, s9.data(), nullptr, 9, q.data()).code() ==
          StatusCode::bad_shape);
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 1, 4, s9.data(), nullptr, 8, q.data()).code() ==
          StatusCode::bad_shape);
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 1, 5, s9.data(), nullptr, 9, q.data()).code() ==
          StatusCode::bad_shape);
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 2, 4, s9.data(), nullptr, 9, q.data()).code() ==
          StatusCode::invalid_argument);
    CHECK(qk::dequantize_blocked<std::int8_t>(q.data(), d2, 2, 1, 0, s9.data(), nullptr, 9, y.data()).code() ==
          StatusCode::bad_shape);
    CHECK(qk::dequantize_blocked<std::int8_t>(q.data(), d2, 2, 1, 4, s9.data(), nullptr, 10, y.data()).code() ==
          StatusCode::bad_shape);
    s9[8] = -1.0f;  // the last scale is the bad one: still nothing written
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 1, 4, s9.data(), nullptr, 9, q.data()).code() ==
          StatusCode::invalid_argument);
    CHECK(qk::dequantize_blocked<std::int8_t>(q.data(), d2, 2, 1, 4, s9.data(), nullptr, 9, y.data()).code() ==
          StatusCode::invalid_argument);
    s9[8] = 1.0f;
    std::vector<std::int32_t> z9(9, 0);
    z9[8] = -129;
    CHECK(qk::quantize_blocked<std::int8_t>(x.data(), d2, 2, 1, 4, s9.data(), z9.data(), 9, q.data()).code() ==
          StatusCode::invalid_argument);
  }
  untouched();
}

TEST_CASE("parameter and packing errors leave outputs untouched") {
  qk::QuantParams p;
  p.scale = 42.0f;
  p.zero_point = 7;
  const auto untouched = [&] { CHECK((p.scale == 42.0f && p.zero_point == 7)); };
  CHECK(qk::choose_quant_params<std::int8_t>(kNaN, 1.0f, qk::QuantScheme::asymmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(0.0f, kNaN, qk::QuantScheme::asymmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(-kInf, 1.0f, qk::QuantScheme::asymmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(0.0f, kInf, qk::QuantScheme::symmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(2.0f, 1.0f, qk::QuantScheme::asymmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 1, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 9, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<qk::int4>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 5, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::uint16_t>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 17, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::uint8_t>(-1.0f, 1.0f, qk::QuantScheme::symmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::uint8_t>(0.0f, 1e-44f, qk::QuantScheme::asymmetric, 0, &p).code() == StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 0, nullptr).code() == StatusCode::null_pointer);
  untouched();

  std::int32_t lo = 99, hi = 99;
  CHECK(qk::quant_range<std::uint8_t>(8, true, &lo, &hi).code() == StatusCode::invalid_argument);
  CHECK(qk::quant_range<std::int16_t>(1, false, &lo, &hi).code() == StatusCode::invalid_argument);
  CHECK((lo == 99 && hi == 99));

  std::uint8_t packed[2] = {0x33, 0x33};
  const std::int8_t bad4[3] = {1, 8, 0};
  CHECK(qk::pack_int4(bad4, 3, packed).code() == StatusCode::invalid_argument);
  const std::int8_t bad4b[3] = {1, 2, -9};
  CHECK(qk::pack_int4(bad4b, 3, packed).code() == StatusCode::invalid_argument);
  const std::uint8_t badu[2] = {3, 16};
  CHECK(qk::pack_uint4(badu, 2, packed).code() == StatusCode::invalid_argument);
  CHECK(qk::pack_int4(nullptr, 2, packed).code() == StatusCode::null_pointer);
  CHECK((packed[0] == 0x33 && packed[1] == 0x33));
  std::int8_t unpacked[2] = {5, 5};
  CHECK(qk::unpack_int4(nullptr, 2, unpacked).code() == StatusCode::null_pointer);
  CHECK(qk::unpack_uint4(packed, 2, nullptr).code() == StatusCode::null_pointer);
  CHECK((unpacked[0] == 5 && unpacked[1] == 5));
  std::size_t bytes = 17;
  CHECK(qk::storage_bytes<std::int16_t>(std::numeric_limits<std::size_t>::max() / 2 + 1, &bytes).code() ==
        StatusCode::size_overflow);
  CHECK(bytes == 17);

  // dynamic quantization: infinite input
  const float x[3] = {1.0f, kInf, 0.0f};
  std::uint8_t y[3] = {0x11, 0x11, 0x11};
  float s = 5.0f;
  std::uint8_t z = 9;
  CHECK(qk::dynamic_quantize_linear(x, 3, y, &s, &z).code() == StatusCode::invalid_argument);
  CHECK(qk::dynamic_quantize_linear(nullptr, 3, y, &s, &z).code() == StatusCode::null_pointer);
  const float ok[3] = {1.0f, 2.0f, 0.0f};
  CHECK(qk::dynamic_quantize_linear(ok, 3, nullptr, &s, &z).code() == StatusCode::null_pointer);
  CHECK(qk::dynamic_quantize_linear(ok, 3, y, nullptr, &z).code() == StatusCode::null_pointer);
  const float far[2] = {-3e38f, 3e38f};  // max - min overflows float
  CHECK(qk::dynamic_quantize_linear(far, 2, y, &s, &z).code() == StatusCode::invalid_argument);
  CHECK((y[0] == 0x11 && y[1] == 0x11 && y[2] == 0x11 && s == 5.0f && z == 9));
}

// ---- Issue 18: validation gaps (each of these failed before its fix) ----------------------------

TEST_CASE("choose_quant_params: a scheme outside the enum is refused (issue 18)") {
  qk::QuantParams p;
  p.scale = 42.0f;
  CHECK(qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, static_cast<qk::QuantScheme>(7), 0, &p).code() ==
        StatusCode::invalid_argument);
  CHECK(qk::choose_quant_params<std::uint8_t>(-1.0f, 1.0f, static_cast<qk::QuantScheme>(-1), 0, &p).code() ==
        StatusCode::invalid_argument);
  CHECK(p.scale == 42.0f);
}

// ---- Uses API added with the issue 18 fixes ----------------------------------------------------

TEST_CASE("quantize: error statuses name the argument and its value (issue 18)") {
  const float x[2] = {1.0f, 2.0f};
  std::int8_t y[2] = {0, 0};
  qk::Status st = qk::quantize<std::int8_t>(x, 2, -2.5f, 0, y);
  CHECK(std::string(qk::StatusText(st).c_str()).find("scale = -2.5") != std::string::npos);
  st = qk::quantize<std::int8_t>(x, 2, 1.0f, 200, y);
  CHECK(std::string(qk::StatusText(st).c_str()).find("zero_point = 200") != std::string::npos);
  qk::QuantParams p;
  st = qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, static_cast<qk::QuantScheme>(7), 0, &p);
  CHECK(std::string(qk::StatusText(st).c_str()).find("scheme = 7") != std::string::npos);
  st = qk::choose_quant_params<std::int8_t>(-1.0f, 1.0f, qk::QuantScheme::asymmetric, 1, &p);
  CHECK(std::string(qk::StatusText(st).c_str()).find("bits = 1") != std::string::npos);
}
