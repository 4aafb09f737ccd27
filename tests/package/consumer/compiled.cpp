// The compiled mode from the installed package: this file links qk::qk_compiled, which
// qkConfig.cmake builds from the installed src/qk_compiled.cpp with this project's compiler. It
// sees the kernel tables' declarations only (QK_COMPILED), so it must link against that library
// to run a GEMM at all.
#include <qk/gemm.hpp>

#include <cstdio>

#if !defined(QK_COMPILED)
#error "qk::qk_compiled must define QK_COMPILED for its users"
#endif

int main() {
  const std::int8_t a[2 * 3] = {1, 2, 3, -4, 5, -6};
  const std::int8_t b[3 * 2] = {1, -1, 2, 0, -128, 127};  // K x N
  qk::GemmS8Weights w;
  std::int32_t c[4] = {};
  qk::Status st = w.pack(qk::GemmS8WeightsDesc::k_by_n(3, 2, b));
  if (st) st = qk::gemm_s8(w, 2, a, 3, qk::OutputStage::int32(), c, 2);
  // Row 0: 1*1 + 2*2 + 3*(-128) = -379, 1*(-1) + 2*0 + 3*127 = 380; row 1: -4 + 10 + 768 = 774,
  // 4 + 0 - 762 = -758.
  const bool ok = st.ok() && c[0] == -379 && c[1] == 380 && c[2] == 774 && c[3] == -758;
  std::printf("qk compiled-mode consumer: C = [%d %d; %d %d], isa %s: %s\n", static_cast<int>(c[0]),
              static_cast<int>(c[1]), static_cast<int>(c[2]), static_cast<int>(c[3]), qk::isa_name(w.isa()),
              ok ? "ok" : "WRONG");
  return ok ? 0 : 1;
}
