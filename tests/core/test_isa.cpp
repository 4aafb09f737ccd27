#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/isa_sweep.hpp"
#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_registry.hpp"

TEST_CASE("isa names round-trip through parse_isa") {
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    qk::Isa parsed = qk::Isa::scalar;
    REQUIRE(qk::parse_isa(qk::isa_name(isa), &parsed));
    CHECK(parsed == isa);
  }
  qk::Isa unused = qk::Isa::scalar;
  CHECK_FALSE(qk::parse_isa("avx1024", &unused));
  CHECK_FALSE(qk::parse_isa(nullptr, &unused));
}

TEST_CASE("best isa is supported and forcing follows support") {
  CHECK(qk::isa_supported(qk::Isa::scalar));
  CHECK(qk::isa_supported(qk::best_isa()));
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    const qk::Status st = qk::force_isa(isa);
    CHECK(st.ok() == qk::isa_supported(isa));
    if (st.ok()) CHECK(qk::active_isa() == isa);
    qk::reset_isa();
  }
}

#if defined(__x86_64__)
TEST_CASE("this x86 build carries every x86 kernel family") {
  // On the CI machine (Zen 5) all four x86 families must be detected; elsewhere this only checks
  // the ordering invariants (VNNI implies BW implies AVX2).
  if (qk::isa_supported(qk::Isa::avx512vnni)) CHECK(qk::isa_supported(qk::Isa::avx512bw));
  if (qk::isa_supported(qk::Isa::avx512bw)) CHECK(qk::isa_supported(qk::Isa::avx2));
  if (qk::isa_supported(qk::Isa::avxvnni)) CHECK(qk::isa_supported(qk::Isa::avx2));
  // A binary built without -m flags still carries every x86 family: on a CPU with AVX-512 VNNI
  // (the CI machine) the dispatcher must pick it.
  if (qk::detail::cpu_features().avx512vnni) CHECK(qk::best_isa() == qk::Isa::avx512vnni);
  INFO("best isa: " << qk::isa_name(qk::best_isa()));
  CHECK(std::strlen(qk::isa_name(qk::best_isa())) > 0);
}
#endif

// The dispatcher against a known CPU: scripts/test-arm.sh runs the suite under qemu-aarch64 with
// several -cpu models and sets QK_EXPECT_BEST_ISA to what each model must select (cortex-a53:
// neon, never dot product or i8mm; neoverse-n1: neon_dot; max: neon_i8mm). Unset: nothing to check.
TEST_CASE("best isa equals QK_EXPECT_BEST_ISA when the environment names one") {
  const char* expected = std::getenv("QK_EXPECT_BEST_ISA");
  if (expected == nullptr || *expected == '\0') {
    SUCCEED("QK_EXPECT_BEST_ISA not set");
    return;
  }
  qk::Isa want = qk::Isa::scalar;
  INFO("QK_EXPECT_BEST_ISA=" << expected << ", best_isa()=" << qk::isa_name(qk::best_isa()));
  REQUIRE(qk::parse_isa(expected, &want));
  CHECK(qk::best_isa() == want);
  // Everything below the best ISA of the same architecture is supported too, nothing above it.
  if (want == qk::Isa::neon || want == qk::Isa::neon_dot || want == qk::Isa::neon_i8mm) {
    CHECK(qk::isa_supported(qk::Isa::neon));
    CHECK(qk::isa_supported(qk::Isa::neon_dot) == (want != qk::Isa::neon));
    CHECK(qk::isa_supported(qk::Isa::neon_i8mm) == (want == qk::Isa::neon_i8mm));
  }
}

#if defined(__aarch64__) && !defined(__AARCH64EB__) && !defined(QK_DISABLE_SIMD)

TEST_CASE("this aarch64 build carries every ARM kernel family, with the documented layouts") {
  using qk::kernels::gemm_s8_kernel_for;
  const qk::Isa isas[] = {qk::Isa::neon, qk::Isa::neon_dot, qk::Isa::neon_i8mm};
  const std::uint32_t k_group[] = {1, 4, 8}, elem_bytes[] = {2, 1, 1};
  const std::int32_t u8_offset[] = {0, -128, 0};
  for (int i = 0; i < 3; ++i) {
    INFO(qk::isa_name(isas[i]));
    const qk::kernels::GemmS8Kernel* k = gemm_s8_kernel_for(isas[i]);
    REQUIRE(k != nullptr);
    CHECK(k->isa == isas[i]);
    CHECK(k->layout.panel_width == 8);
    CHECK(k->layout.k_group == k_group[i]);
    CHECK(k->layout.elem_bytes == elem_bytes[i]);
    CHECK(k->layout.s8_activation_offset == 0);
    CHECK(k->layout.u8_activation_offset == u8_offset[i]);
  }
  // A binary built without -m flags still carries every x86 family: on a CPU with AVX-512 VNNI
  // (the CI machine) the dispatcher must pick it.
  if (qk::detail::cpu_features().avx512vnni) CHECK(qk::best_isa() == qk::Isa::avx512vnni);
  INFO("best isa: " << qk::isa_name(qk::best_isa()));
  CHECK(qk::isa_supported(qk::Isa::neon));
}
#endif
