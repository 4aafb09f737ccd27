#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

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

#if defined(QK_HAVE_X86_KERNELS)
TEST_CASE("this x86 build carries every x86 kernel family, with the documented layouts") {
  using qk::kernels::gemm_s8_kernel_for;
  // AVX2 / AVX-512BW widen int8 to int16 (pairs of K for vpmaddwd); the VNNI families keep int8
  // in groups of 4 for vpdpbusd. 8 int32 lanes on ymm, 16 on zmm.
  const qk::Isa isas[] = {qk::Isa::avx2, qk::Isa::avx512bw, qk::Isa::avxvnni, qk::Isa::avx512vnni};
  const std::uint32_t panel_width[] = {8, 16, 8, 16}, k_group[] = {2, 2, 4, 4}, elem_bytes[] = {2, 2, 1, 1};
  for (int i = 0; i < 4; ++i) {
    INFO(qk::isa_name(isas[i]));
    const qk::kernels::GemmS8Kernel* k = gemm_s8_kernel_for(isas[i]);
    REQUIRE(k != nullptr);
    CHECK(k->isa == isas[i]);
    CHECK(k->layout.panel_width == panel_width[i]);
    CHECK(k->layout.k_group == k_group[i]);
    CHECK(k->layout.elem_bytes == elem_bytes[i]);
  }
  const qk::detail::CpuFeatures& f = qk::detail::cpu_features();
  // A binary built without -m flags carries every x86 family; the dispatcher must pick the best
  // the CPU has, AVX-512 VNNI before AVX-VNNI before AVX-512BW before AVX2.
  const qk::Isa want = f.avx512vnni ? qk::Isa::avx512vnni
                       : f.avxvnni  ? qk::Isa::avxvnni
                       : f.avx512bw ? qk::Isa::avx512bw
                       : f.avx2     ? qk::Isa::avx2
                                    : qk::Isa::scalar;
  INFO("best isa: " << qk::isa_name(qk::best_isa()) << ", from the features: " << qk::isa_name(want));
  CHECK(qk::best_isa() == want);
}
#endif

namespace {
// ISAs the expected best one implies (everything below it in the same family line).
std::vector<qk::Isa> implied_by(qk::Isa best) {
  switch (best) {
    case qk::Isa::avx2: return {qk::Isa::avx2};
    case qk::Isa::avx512bw: return {qk::Isa::avx2, qk::Isa::avx512bw};
    case qk::Isa::avxvnni: return {qk::Isa::avx2, qk::Isa::avxvnni};
    case qk::Isa::avx512vnni: return {qk::Isa::avx2, qk::Isa::avx512bw, qk::Isa::avx512vnni};
    case qk::Isa::neon: return {qk::Isa::neon};
    case qk::Isa::neon_dot: return {qk::Isa::neon, qk::Isa::neon_dot};
    case qk::Isa::neon_i8mm: return {qk::Isa::neon, qk::Isa::neon_dot, qk::Isa::neon_i8mm};
    default: return {};
  }
}
// best_isa()'s order: an ISA listed before the expected best must not be supported.
const qk::Isa kBestFirst[] = {qk::Isa::avx512vnni, qk::Isa::avxvnni,  qk::Isa::avx512bw, qk::Isa::avx2,
                              qk::Isa::neon_i8mm,  qk::Isa::neon_dot, qk::Isa::neon};
}  // namespace

// The dispatcher against a known CPU. CI sets QK_EXPECT_BEST_ISA to what the machine must select:
// scripts/test-arm.sh per qemu-aarch64 -cpu model (cortex-a53: neon, never dot product or i8mm;
// neoverse-n1: neon_dot; max: neon_i8mm), scripts/test.sh on x86 from /proc/cpuinfo's flags
// (avx2, avx512bw, avxvnni or avx512vnni). Unset under CI (environment variable CI set): a
// failure, since nothing would check the dispatcher; unset elsewhere: skipped with a warning.
TEST_CASE("best isa equals QK_EXPECT_BEST_ISA when the environment names one") {
  const char* expected = std::getenv("QK_EXPECT_BEST_ISA");
  if (expected == nullptr || *expected == '\0') {
    const char* ci = std::getenv("CI");
    if (ci != nullptr && *ci != '\0')
      FAIL("CI is set but QK_EXPECT_BEST_ISA is not: CI must name the ISA this machine must select (best_isa() = "
           << qk::isa_name(qk::best_isa()) << ")");
    WARN("SKIPPED: QK_EXPECT_BEST_ISA not set (best_isa() = " << qk::isa_name(qk::best_isa()) << ")");
    return;
  }
  qk::Isa want = qk::Isa::scalar;
  INFO("QK_EXPECT_BEST_ISA=" << expected << ", best_isa()=" << qk::isa_name(qk::best_isa()));
  REQUIRE(qk::parse_isa(expected, &want));
  CHECK(qk::best_isa() == want);
  // Everything the expected ISA implies is supported; nothing the dispatcher ranks above it is.
  for (qk::Isa isa : implied_by(want)) {
    INFO("implied: " << qk::isa_name(isa));
    CHECK(qk::isa_supported(isa));
  }
  for (qk::Isa isa : kBestFirst) {
    if (isa == want) break;
    INFO("ranked above: " << qk::isa_name(isa));
    CHECK_FALSE(qk::isa_supported(isa));
  }
  if (want == qk::Isa::scalar)
    for (int i = 1; i < qk::kIsaCount; ++i) CHECK_FALSE(qk::isa_supported(static_cast<qk::Isa>(i)));
}

#if defined(QK_HAVE_ARM_KERNELS) && !defined(__AARCH64EB__)

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
  // The dispatcher picks the best family the CPU has (HWCAP/HWCAP2): i8mm before dot product
  // before plain NEON.
  const qk::detail::CpuFeatures& f = qk::detail::cpu_features();
  const qk::Isa want = f.neon_i8mm ? qk::Isa::neon_i8mm : f.neon_dot ? qk::Isa::neon_dot : qk::Isa::neon;
  INFO("best isa: " << qk::isa_name(qk::best_isa()) << ", from the features: " << qk::isa_name(want));
  CHECK(qk::best_isa() == want);
}
#endif
