// The fp32 GEMM against a double-precision reference, every ISA: fp32 results depend on the
// summation order, so the check is a tolerance scaled by sum |a||b| (not bit-exactness).
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/gemm.hpp"
#include "qk/reference/gemm.hpp"

TEST_CASE("gemm_f32: every kernel matches the reference within rounding") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
    for (int i = 0; i < 40; ++i) {
      const std::size_t m = 1 + rng() % 70, n = 1 + rng() % 90, k = 1 + rng() % 200, lda = k + rng() % 3, ldc = n + rng() % 3;
      std::vector<float> a(m * lda), b(k * n), bias(n), c(m * ldc, -7.0f), ref(m * ldc, -7.0f);
      for (auto& v : a) v = dist(rng);
      for (auto& v : b) v = dist(rng);
      for (auto& v : bias) v = dist(rng);
      const float lo = i % 3 == 0 ? -3.0f : -INFINITY, hi = i % 3 == 0 ? 3.0f : INFINITY;
      qk::GemmF32Weights w;
      REQUIRE(w.pack(qk::GemmF32WeightsDesc::k_by_n(k, n, b.data(), bias.data())).ok());
      // The sweep really runs each family: the one the registry maps this ISA to (ARM has no fp32
      // family of its own yet: the portable one).
      REQUIRE(w.isa() == qk::kernels::gemm_f32_kernel_for(qk::active_isa())->isa);
      REQUIRE(qk::gemm_f32(w, m, a.data(), lda, c.data(), ldc, lo, hi).ok());
      qk::reference::gemm_f32(m, n, k, a.data(), lda, b.data(), n, 1, bias.data(), lo, hi, ref.data(), ldc);
      for (std::size_t r = 0; r < m; ++r)
        for (std::size_t j = 0; j < ldc; ++j) {
          if (j >= n) {  // padding columns untouched
            REQUIRE(c[r * ldc + j] == -7.0f);
            continue;
          }
          const double tol = 1e-5 * (4.0 * static_cast<double>(k) + 2.0);
          INFO("m=" << m << " n=" << n << " k=" << k << " r=" << r << " j=" << j);
          REQUIRE(std::fabs(c[r * ldc + j] - ref[r * ldc + j]) <= tol);
        }
    }
  }
}

TEST_CASE("gemm_f32: invalid input writes nothing") {
  std::vector<float> b(6, 1.0f), a(6, 1.0f), c(4, 5.0f);
  qk::GemmF32Weights w;
  CHECK(w.pack(qk::GemmF32WeightsDesc::k_by_n(0, 2, b.data())).code() == qk::StatusCode::bad_shape);
  CHECK(w.pack(qk::GemmF32WeightsDesc::k_by_n(3, 2, nullptr)).code() == qk::StatusCode::null_pointer);
  REQUIRE(w.pack(qk::GemmF32WeightsDesc::k_by_n(3, 2, b.data())).ok());
  CHECK(qk::gemm_f32(w, 2, a.data(), 2, c.data(), 2).code() == qk::StatusCode::bad_shape);
  CHECK(qk::gemm_f32(w, 2, nullptr, 3, c.data(), 2).code() == qk::StatusCode::null_pointer);
  CHECK(qk::gemm_f32(w, 2, a.data(), 3, c.data(), 2, 1.0f, 0.0f).code() == qk::StatusCode::invalid_argument);
  CHECK(c == std::vector<float>(4, 5.0f));
  REQUIRE(qk::gemm_f32(w, 2, a.data(), 3, c.data(), 2).ok());
  CHECK(c == std::vector<float>(4, 3.0f));
}
