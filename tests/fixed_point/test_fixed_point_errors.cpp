// Issue 18: the fixed-point primitives stay defined outside TFLite's ranges, and validation
// refuses what TFLite never produces (each of these failed before its fix).
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>

#include "qk/core/output_stage.hpp"
#include "qk/fixed_point.hpp"

namespace {
constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();
}  // namespace

TEST_CASE("rounding_divide_by_pot: exponents above 31 give the exactly rounded quotient (issue 18)") {
  // round(x / 2^e), ties away from zero; for e >= 32 |x / 2^e| <= 1/2.
  CHECK(qk::rounding_divide_by_pot(kMin, 31) == -1);
  CHECK(qk::rounding_divide_by_pot(kMin, 32) == -1);  // -0.5: a tie, away from zero
  CHECK(qk::rounding_divide_by_pot(kMin, 33) == 0);   // -0.25
  CHECK(qk::rounding_divide_by_pot(kMax, 32) == 0);   // just below 0.5
  CHECK(qk::rounding_divide_by_pot(12345, 32) == 0);
  CHECK(qk::rounding_divide_by_pot(-12345, 40) == 0);
  CHECK(qk::rounding_divide_by_pot(kMin, 63) == 0);
  CHECK(qk::rounding_divide_by_pot(kMin, 64) == 0);
  CHECK(qk::rounding_divide_by_pot(kMax, 1000) == 0);
  CHECK(qk::rounding_divide_by_pot(-1, std::numeric_limits<int>::max()) == 0);
  // Negative exponents count as 0.
  CHECK(qk::rounding_divide_by_pot(777, -1) == 777);
  CHECK(qk::rounding_divide_by_pot(-777, std::numeric_limits<int>::min()) == -777);
  // Unchanged in range.
  CHECK(qk::rounding_divide_by_pot(5, 1) == 3);
  CHECK(qk::rounding_divide_by_pot(-5, 1) == -3);
  CHECK(qk::rounding_divide_by_pot(kMin, 0) == kMin);
}

TEST_CASE("wrapping_shift_left and double rounding stay defined for any shift (issue 18)") {
  CHECK(qk::wrapping_shift_left(1, 31) == kMin);
  CHECK(qk::wrapping_shift_left(1, 32) == 0);
  CHECK(qk::wrapping_shift_left(-1, 100) == 0);
  CHECK(qk::wrapping_shift_left(9, -3) == 9);
  // x * m * 2^(shift - 31) with a huge right shift: 0; with the most negative shift too.
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(kMax, 1 << 30, -40) == 0);
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(kMax, 1 << 30, std::numeric_limits<int>::min()) == 0);
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(3, 1 << 30, 32) == 0);  // 3 << 32 wraps to 0
}

TEST_CASE("single rounding: shifts outside [-31, 30] give the exact, saturated value (issue 18)") {
  using qk::multiply_by_quantized_multiplier_single_rounding;
  // shift >= 31: x * m * 2^(shift - 31), saturated.
  CHECK(multiply_by_quantized_multiplier_single_rounding(3, 5, 31) == 15);
  CHECK(multiply_by_quantized_multiplier_single_rounding(3, 5, 33) == 60);
  CHECK(multiply_by_quantized_multiplier_single_rounding(-3, 5, 33) == -60);
  CHECK(multiply_by_quantized_multiplier_single_rounding(1, 1, 61) == 1 << 30);
  CHECK(multiply_by_quantized_multiplier_single_rounding(1, 1, 62) == kMax);  // 2^31
  CHECK(multiply_by_quantized_multiplier_single_rounding(1, 2, 62) == kMax);
  CHECK(multiply_by_quantized_multiplier_single_rounding(-1, 2, 62) == kMin);
  CHECK(multiply_by_quantized_multiplier_single_rounding(-1, 1, 63) == kMin);
  CHECK(multiply_by_quantized_multiplier_single_rounding(1, 1, 1000) == kMax);
  CHECK(multiply_by_quantized_multiplier_single_rounding(0, kMax, 1000) == 0);
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMax, kMax, 31) == kMax);
  // shift < -31: round(x * m / 2^(31 - shift)), ties up; 0 for every int32 pair beyond 2^63.
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, kMin, -32) == 1);  // 2^62 / 2^63 = 0.5
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, kMax, -32) == 0);  // just above -0.5
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMax, kMax, -33) == 0);
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, kMin, std::numeric_limits<int>::min()) == 0);
  // In range, unchanged: 2^30 is one half.
  CHECK(multiply_by_quantized_multiplier_single_rounding(5, 1 << 30, 0) == 3);
  CHECK(multiply_by_quantized_multiplier_single_rounding(100, 1 << 30, -31) == 0);
}

TEST_CASE("requantize_float: a NaN scale or product gives the clamped zero point (issue 18)") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  CHECK(qk::requantize_float(5, nan, 15, 10, 20) == 15);
  CHECK(qk::requantize_float(5, nan, 0, 10, 20) == 10);
  CHECK(qk::requantize_float(0, inf, 3, -128, 127) == 3);  // 0 * inf is NaN
  CHECK(qk::requantize_float(1, inf, 3, -128, 127) == 127);
  CHECK(qk::requantize_float(-1, inf, 3, -128, 127) == -128);
}

TEST_CASE("validation: negative multipliers and unknown rounding modes are refused (issue 18)") {
  using qk::RequantRounding;
  for (const auto r : {RequantRounding::double_rounding, RequantRounding::single_rounding}) {
    CHECK(qk::validate_quantized_multiplier(-1, 0, r).code() == qk::StatusCode::invalid_argument);
    CHECK(qk::validate_quantized_multiplier(kMin, 0, r).code() == qk::StatusCode::invalid_argument);
    CHECK(qk::validate_quantized_multiplier(0, 0, r).ok());
    CHECK(qk::validate_quantized_multiplier(1 << 30, -31, r).ok());
    CHECK(qk::validate_quantized_multiplier(kMax, 30, r).ok());
    CHECK(qk::validate_quantized_multiplier(1 << 30, 31, r).code() == qk::StatusCode::invalid_argument);
    CHECK(qk::validate_quantized_multiplier(1 << 30, -32, r).code() == qk::StatusCode::invalid_argument);
  }
  CHECK(qk::validate_quantized_multiplier(1 << 30, 0, static_cast<RequantRounding>(2)).code() ==
        qk::StatusCode::invalid_argument);
  CHECK(qk::validate_quantized_multiplier(1 << 30, 0, static_cast<RequantRounding>(-1)).code() ==
        qk::StatusCode::invalid_argument);
}

// ---- Uses API added with the issue 18 fixes ----------------------------------------------------

TEST_CASE("validate_requant_scale: NaN, infinite, zero, negative and subnormal scales are refused (issue 18)") {
  CHECK(qk::validate_requant_scale(0.5f).ok());
  CHECK(qk::validate_requant_scale(std::numeric_limits<float>::min()).ok());
  CHECK(qk::validate_requant_scale(std::numeric_limits<float>::max()).ok());
  for (float s : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                  -std::numeric_limits<float>::infinity(), 0.0f, -0.0f, -1.0f, std::numeric_limits<float>::denorm_min(),
                  std::numeric_limits<float>::min() / 4}) {
    INFO(s);
    const qk::Status st = qk::validate_requant_scale(s);
    CHECK(st.code() == qk::StatusCode::invalid_argument);
    CHECK(std::string(st.value_name()) == "scale");
    CHECK(st.value_kind() == qk::Status::ValueKind::floating);
  }
}

TEST_CASE("Status: the value of the offending argument is kept and formatted without allocating (issue 18)") {
  const qk::Status st = qk::validate_quantized_multiplier(-5, 0, qk::RequantRounding::double_rounding);
  CHECK(std::string(st.value_name()) == "multiplier");
  CHECK(st.int_value() == -5);
  CHECK(std::string(qk::StatusText(st).c_str()) ==
        std::string(st.message()) + " (multiplier = -5)");
  CHECK(std::string(qk::StatusText(qk::validate_quantized_multiplier(1, 99, qk::RequantRounding::single_rounding)).c_str())
            .find("shift = 99") != std::string::npos);
  char small[8];
  CHECK(std::string(st.format(small, sizeof small)).size() == 7);  // truncated, terminated
  const qk::Status plain(qk::StatusCode::null_pointer, "null thing");
  CHECK(plain.value_kind() == qk::Status::ValueKind::none);
  CHECK(std::string(qk::StatusText(plain).c_str()) == "null thing");
  CHECK(std::string(qk::StatusText(qk::Status::success()).c_str()) == "ok");
  const qk::Status u(qk::StatusCode::size_overflow, "too big", "k", std::numeric_limits<std::size_t>::max());
  CHECK(std::string(qk::StatusText(u).c_str()) == "too big (k = 18446744073709551615)");
}
