#include <catch2/catch.hpp>
#include <cstring>

#include "common/isa_sweep.hpp"
#include "qk/core/isa.hpp"

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
  INFO("best isa: " << qk::isa_name(qk::best_isa()));
  CHECK(std::strlen(qk::isa_name(qk::best_isa())) > 0);
}
#endif
