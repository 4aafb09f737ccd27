// qk demo: what the library computes today, on concrete numbers.
//
// Each part of the library gets one section function below and one row in kSections (at the
// bottom); GEMM and convolution will be added the same way as they land. Run with QK_ISA=<name>
// (scalar, avx2, avx512bw, avxvnni, avx512vnni, neon, neon_dot, neon_i8mm) to force a kernel
// family.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "qk/qk.hpp"

namespace {

void print_status_failure(const char* what, const qk::Status& st) {
  std::printf("  %s failed: %s (%s)\n", what, qk::status_code_name(st.code()), st.message());
}

// Which kernel family runs, and why.
bool section_isa() {
  const char* env = std::getenv("QK_ISA");
  std::printf("  best ISA for this CPU and build : %s\n", qk::isa_name(qk::best_isa()));
  std::printf("  QK_ISA environment variable     : %s\n", env != nullptr ? env : "(unset)");
  std::printf("  active ISA (used for packing)   : %s\n", qk::isa_name(qk::active_isa()));
  std::printf("  supported here                  :");
  for (int i = 0; i < qk::kIsaCount; ++i) {
    const auto isa = static_cast<qk::Isa>(i);
    if (qk::isa_supported(isa)) std::printf(" %s", qk::isa_name(isa));
  }
  std::printf("\n");
  return true;
}

// A convolution layer's output scale as TFLite stores it: a Q0.31 integer and a shift.
bool section_multiplier() {
  const double input_scale = 0.0235, weight_scale = 0.0041, output_scale = 0.1173;
  const double real = input_scale * weight_scale / output_scale;
  std::int32_t multiplier = 0;
  int shift = 0;
  const qk::Status st = qk::quantize_multiplier(real, &multiplier, &shift);
  if (!st) {
    print_status_failure("quantize_multiplier", st);
    return false;
  }
  std::printf("  input scale %.4f * weight scale %.4f / output scale %.4f = %.9g\n", input_scale, weight_scale,
              output_scale, real);
  std::printf("  quantize_multiplier -> multiplier %d, shift %d  (multiplier * 2^(shift-31) = %.9g)\n",
              static_cast<int>(multiplier), shift, std::ldexp(static_cast<double>(multiplier), shift - 31));
  for (std::int32_t acc : {12345, -9876, 150000}) {
    std::printf("  accumulator %7d -> %.4f -> int8 %4d (TFLite double rounding, zero point 0)\n",
                static_cast<int>(acc), static_cast<double>(acc) * real,
                static_cast<int>(qk::requantize_fixed_point(acc, multiplier, shift, 0, -128, 127)));
  }
  const qk::Status refused = qk::quantize_multiplier(std::ldexp(1.0, 30), &multiplier, &shift);
  std::printf("  quantize_multiplier(2^30) is refused: %s (%s)\n", qk::status_code_name(refused.code()),
              refused.message());
  return true;
}

// int32 accumulators -> int8 outputs in the three conventions qk implements.
bool section_requantize() {
  // A multiplier of exactly 0.25 puts several accumulators on rounding ties, where the
  // conventions differ; zero point -3, int8 output range.
  const double real = 0.25;
  const std::int32_t zero_point = -3, qmin = -128, qmax = 127;
  std::int32_t multiplier = 0;
  int shift = 0;
  const qk::Status st = qk::quantize_multiplier(real, &multiplier, &shift);
  if (!st) {
    print_status_failure("quantize_multiplier", st);
    return false;
  }
  std::printf("  multiplier %.2f (Q0.31 %d, shift %d), zero point %d, int8 output\n", real,
              static_cast<int>(multiplier), shift, static_cast<int>(zero_point));
  std::printf("  %11s %12s | %14s %14s %12s\n", "accumulator", "acc*scale+zp", "TFLite double", "TFLite single",
              "ONNX float");
  const std::int32_t accumulators[] = {2, -2, 6, -6, 10, -10, 600, -600, 2147483647};
  for (std::int32_t acc : accumulators) {
    const auto tfl_double = qk::requantize_fixed_point(acc, multiplier, shift, zero_point, qmin, qmax,
                                                       qk::RequantRounding::double_rounding);
    const auto tfl_single = qk::requantize_fixed_point(acc, multiplier, shift, zero_point, qmin, qmax,
                                                       qk::RequantRounding::single_rounding);
    const auto onnx = qk::requantize_float(acc, static_cast<float>(real), zero_point, qmin, qmax);
    std::printf("  %11d %12.2f | %14d %14d %12d\n", static_cast<int>(acc),
                static_cast<double>(acc) * real + zero_point, static_cast<int>(tfl_double),
                static_cast<int>(tfl_single), static_cast<int>(onnx));
  }
  std::printf("  (TFLite double rounding: ties toward +inf then away from zero; single: toward +inf;\n"
              "   ONNX: half to even; all saturate to [qmin, qmax])\n");
  return true;
}

struct Section {
  const char* title;
  bool (*run)();
};

// Add new sections here (quantize / dequantize, GEMM, convolution ...).
constexpr Section kSections[] = {
    {"Instruction set", section_isa},
    {"Requantization multiplier (TFLite QuantizeMultiplier)", section_multiplier},
    {"Requantizing int32 accumulators to int8", section_requantize},
};

}  // namespace

int main() {
  std::printf("qk %s demo\n", qk::kVersionString);
  bool ok = true;
  for (const Section& s : kSections) {
    std::printf("\n== %s ==\n", s.title);
    ok = s.run() && ok;
  }
  return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
