// Runs a test body once per ISA this machine supports, with that ISA forced, so that every
// kernel variant is compared against the reference in the same run (as ruy and Highway do).
#pragma once

#include <catch2/catch.hpp>
#include <vector>

#include "qk/core/isa.hpp"

namespace qk_test {

inline std::vector<qk::Isa> supported_isas() {
  std::vector<qk::Isa> out;
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    if (qk::isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

// Restores the automatic choice when a sweep step ends, even if a REQUIRE fails.
struct ForcedIsa {
  explicit ForcedIsa(qk::Isa isa) { REQUIRE(qk::force_isa(isa).ok()); }
  ~ForcedIsa() { qk::reset_isa(); }
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;
};

}  // namespace qk_test

// for each supported ISA: forces it and opens a SECTION named after it.
#define QK_FOR_EACH_ISA(isa_var)                                  \
  for (qk::Isa isa_var : ::qk_test::supported_isas())             \
    if (::qk_test::ForcedIsa qk_forced_##isa_var{isa_var}; true)  \
      DYNAMIC_SECTION("isa=" << qk::isa_name(isa_var))
