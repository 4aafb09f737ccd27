// Runs a test body once per ISA this machine supports, with that ISA forced, so that every
// kernel variant is compared against the reference in the same run (as ruy and Highway do).
#pragma once

#include <catch2/catch.hpp>
#include <vector>

#include "qk/core/isa.hpp"
#include "qk/kernels/gemm_s8_contract.hpp"

namespace qk_test {

inline std::vector<qk::Isa> supported_isas() {
  std::vector<qk::Isa> out;
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    if (qk::isa_supported(isa)) out.push_back(isa);
  }
  return out;
}

// One step of a sweep: an ISA, and for AVX-512 VNNI which form of s8 activations its int8 GEMM
// family takes (kernels::SignedActivationForm: the machine picks one, the sweep runs both, so
// that both are compared against the reference on any machine with VNNI).
struct IsaVariant {
  qk::Isa isa;
  qk::kernels::SignedActivationForm form;
};

inline std::vector<IsaVariant> isa_variants() {
  using Form = qk::kernels::SignedActivationForm;
  std::vector<IsaVariant> out;
  for (qk::Isa isa : supported_isas()) {
    if (isa == qk::Isa::avx512vnni) {
      out.push_back({isa, Form::weight_offset});
      out.push_back({isa, Form::activation_xor});
    } else {
      out.push_back({isa, Form::automatic});
    }
  }
  return out;
}

inline const char* form_name(qk::kernels::SignedActivationForm f) {
  return f == qk::kernels::SignedActivationForm::weight_offset    ? "/s8-as-signed-operand"
         : f == qk::kernels::SignedActivationForm::activation_xor ? "/s8-xor"
                                                                  : "";
}

// Restores the automatic choices when a sweep step ends, even if a REQUIRE fails.
struct ForcedIsa {
  explicit ForcedIsa(qk::Isa isa) { REQUIRE(qk::force_isa(isa).ok()); }
  explicit ForcedIsa(const IsaVariant& v) : ForcedIsa(v.isa) {
    qk::kernels::vnni_signed_activation_form().store(v.form);
  }
  ~ForcedIsa() {
    qk::reset_isa();
    qk::kernels::vnni_signed_activation_form().store(qk::kernels::SignedActivationForm::automatic);
  }
  ForcedIsa(const ForcedIsa&) = delete;
  ForcedIsa& operator=(const ForcedIsa&) = delete;
};

}  // namespace qk_test

// for each supported ISA (AVX-512 VNNI twice, see IsaVariant): forces it and opens a SECTION
// named after it.
#define QK_FOR_EACH_ISA(isa_var)                                                              \
  for (const ::qk_test::IsaVariant& qk_variant_##isa_var : ::qk_test::isa_variants())          \
    if ([[maybe_unused]] const qk::Isa isa_var = qk_variant_##isa_var.isa; true)               \
      if (::qk_test::ForcedIsa qk_forced_##isa_var{qk_variant_##isa_var}; true)                \
        DYNAMIC_SECTION("isa=" << qk::isa_name(isa_var) << ::qk_test::form_name(qk_variant_##isa_var.form))
