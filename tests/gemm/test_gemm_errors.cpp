// Bad input to the int8 GEMM returns a clear status and writes nothing.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "qk/gemm.hpp"

TEST_CASE("gemm_s8: invalid weights are refused") {
  std::vector<std::int8_t> b(12, 1);
  qk::GemmS8Weights w;
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.data = nullptr;
  CHECK(w.pack(d).code() == qk::StatusCode::null_pointer);
  d = qk::GemmS8WeightsDesc::k_by_n(0, 4, b.data());
  CHECK(w.pack(d).code() == qk::StatusCode::bad_shape);
  d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.a_zero_point = 200;  // s8 activations
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.a_zero_point = 0;
  std::int32_t zb = 300;
  d.zero_point = &zb;
  CHECK(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.zero_point = nullptr;
  d.k = SIZE_MAX / 2;
  CHECK(w.pack(d).code() == qk::StatusCode::size_overflow);
  CHECK_FALSE(w.packed());
  std::size_t bytes = 0;
  d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  REQUIRE(qk::GemmS8Weights::packed_size(d, qk::Isa::scalar, &bytes).ok());
  std::vector<std::uint8_t> small(bytes - 1);
  CHECK(w.pack_into(d, qk::Isa::scalar, small.data(), small.size()).code() == qk::StatusCode::buffer_too_small);
}

TEST_CASE("gemm_s8: invalid run arguments write nothing") {
  std::vector<std::int8_t> b(12, 1), a(6, 2);
  std::int32_t zb = 3;
  auto d = qk::GemmS8WeightsDesc::k_by_n(3, 4, b.data());
  d.zero_point = &zb;
  qk::GemmS8Weights w;
  REQUIRE(w.pack(d).ok());
  std::vector<std::int8_t> c(8, 42);
  const std::vector<std::int8_t> untouched = c;
  std::int32_t mult = 1 << 30, shift = 0, bad_shift = 31;
  float nan_scale = std::numeric_limits<float>::quiet_NaN(), zero_scale = 0.0f;
  const auto good = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, nullptr, 3, good, c.data(), 4).code() == qk::StatusCode::null_pointer);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, good, nullptr, 4).code() == qk::StatusCode::null_pointer);
  CHECK(qk::gemm_s8(w, 2, a.data(), 2, good, c.data(), 4).code() == qk::StatusCode::bad_shape);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, good, c.data(), 3).code() == qk::StatusCode::bad_shape);
  CHECK(qk::gemm_s8(w, SIZE_MAX / 2, a.data(), 3, good, c.data(), 4).code() != qk::StatusCode::ok);
  auto bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &bad_shift, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 200, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, &mult, &shift, false, 0, 10, 5);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::float_requant(qk::OutputType::s8, &nan_scale, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::float_requant(qk::OutputType::s8, &zero_scale, false, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  bad = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, nullptr, &shift, true, 0, -128, 127);
  CHECK(qk::gemm_s8(w, 2, a.data(), 3, bad, c.data(), 4).code() == qk::StatusCode::null_pointer);
  qk::GemmS8Weights empty;
  CHECK(qk::gemm_s8(empty, 2, a.data(), 3, good, c.data(), 4).code() == qk::StatusCode::invalid_argument);
  CHECK(c == untouched);
  REQUIRE(qk::gemm_s8(w, 2, a.data(), 3, good, c.data(), 4).ok());
  CHECK(c != untouched);
}
