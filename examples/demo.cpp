// qk demo: what the library computes today, on concrete numbers.
//
// Each part of the library gets one section function below and one row in kSections (at the
// bottom). It calls quantize, gemm_s8, conv_s8 and conv_f32: it is also the file whose compile
// time docs/build.md quotes for both modes (header-only and QK_COMPILED). Run with QK_ISA=<name>
// (scalar, avx2, avx512bw, avxvnni, avx512vnni, neon, neon_dot, neon_i8mm) to force a kernel
// family.
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <vector>

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

// Quantization parameters of a calibration range, then quantize / dequantize a few values,
// as int8 (ONNX rounding, half to even) and as packed int4 (two values a byte, low nibble first).
bool section_quantize() {
  const float rmin = -1.0f, rmax = 3.0f;
  const float x[] = {-1.0f, -0.25f, 0.0f, 0.1f, 1.0f, 2.5f, 3.0f, 7.0f};
  constexpr std::size_t n = sizeof(x) / sizeof(x[0]);

  qk::QuantParams p8;
  qk::Status st = qk::choose_quant_params<std::int8_t>(rmin, rmax, qk::QuantScheme::asymmetric, 0, &p8);
  if (!st) {
    print_status_failure("choose_quant_params<int8>", st);
    return false;
  }
  std::int8_t q8[n];
  float back8[n];
  st = qk::quantize<std::int8_t>(x, n, p8, q8);
  if (st) st = qk::dequantize<std::int8_t>(q8, n, p8.scale, p8.zero_point, back8);
  if (!st) {
    print_status_failure("int8 quantize/dequantize", st);
    return false;
  }
  std::printf("  range [%g, %g] as int8, asymmetric: scale %.6g, zero point %d, q in [%d, %d]\n",
              static_cast<double>(rmin), static_cast<double>(rmax), static_cast<double>(p8.scale),
              static_cast<int>(p8.zero_point), static_cast<int>(p8.qmin), static_cast<int>(p8.qmax));

  qk::QuantParams p4;
  st = qk::choose_quant_params<qk::int4>(rmin, rmax, qk::QuantScheme::asymmetric, 0, &p4);
  if (!st) {
    print_status_failure("choose_quant_params<int4>", st);
    return false;
  }
  std::uint8_t packed4[(n + 1) / 2];
  float back4[n];
  std::int8_t q4[n];
  st = qk::quantize<qk::int4>(x, n, p4, packed4);
  if (st) st = qk::dequantize<qk::int4>(packed4, n, p4.scale, p4.zero_point, back4);
  if (st) st = qk::unpack_int4(packed4, n, q4);
  if (!st) {
    print_status_failure("int4 quantize/dequantize", st);
    return false;
  }
  std::printf("  same range as int4:                scale %.6g, zero point %d, q in [%d, %d]\n",
              static_cast<double>(p4.scale), static_cast<int>(p4.zero_point), static_cast<int>(p4.qmin),
              static_cast<int>(p4.qmax));
  std::printf("  %8s | %5s %10s | %5s %10s\n", "x", "int8", "back", "int4", "back");
  for (std::size_t i = 0; i < n; ++i)
    std::printf("  %8g | %5d %10.6g | %5d %10.6g\n", static_cast<double>(x[i]), static_cast<int>(q8[i]),
                static_cast<double>(back8[i]), static_cast<int>(q4[i]), static_cast<double>(back4[i]));
  std::printf("  int4 bytes:");
  for (std::uint8_t b : packed4) std::printf(" %02x", static_cast<unsigned>(b));
  std::printf("  (7.0 is outside the range: it saturates)\n");
  return true;
}

// A convolution layer's output scale as TFLite stores it: a Q0.31 integer and a shift.
bool section_multiplier() {
  const double input_scale = 0.0235, weight_scale = 0.0041, output_scale = 0.1173;
  const double real = input_scale * weight_scale / output_scale;
  std::int32_t multiplier = 0;
  std::int32_t shift = 0;  // int32_t, as OutputStage takes shifts (long on arm-none-eabi)
  const qk::Status st = qk::quantize_multiplier(real, &multiplier, &shift);
  if (!st) {
    print_status_failure("quantize_multiplier", st);
    return false;
  }
  std::printf("  input scale %.4f * weight scale %.4f / output scale %.4f = %.9g\n", input_scale, weight_scale,
              output_scale, real);
  std::printf("  quantize_multiplier -> multiplier %d, shift %" PRId32 "  (multiplier * 2^(shift-31) = %.9g)\n",
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
  std::int32_t shift = 0;
  const qk::Status st = qk::quantize_multiplier(real, &multiplier, &shift);
  if (!st) {
    print_status_failure("quantize_multiplier", st);
    return false;
  }
  std::printf("  multiplier %.2f (Q0.31 %d, shift %" PRId32 "), zero point %d, int8 output\n", real,
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
// A 3x3 convolution (qk/conv.hpp): a 4x4 single-channel image, two filters, "same" padding.
bool section_conv() {
  const std::int8_t image[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const std::int8_t filters[2 * 9] = {0, 0, 0, 0, 1, 0, 0, 0, 0,   // identity
                                      1, 1, 1, 1, 1, 1, 1, 1, 1};  // box sum
  qk::ConvS8Desc d;
  d.in_h = d.in_w = 4, d.in_c = 1, d.out_c = 2, d.kernel_h = d.kernel_w = 3;
  d.weights = filters;
  qk::ConvS8 layer;
  qk::Status st = d.set_same_padding();
  if (st) st = layer.pack(d);
  std::size_t ws_bytes = 0;
  if (st) st = qk::conv_s8_workspace_size(layer, 1, 1, &ws_bytes);
  static unsigned char workspace[1 << 16];
  std::int32_t out[16 * 2] = {};
  if (st && ws_bytes > sizeof(workspace)) st = qk::Status(qk::StatusCode::buffer_too_small, "demo workspace");
  if (st) st = qk::conv_s8(layer, 1, image, qk::OutputStage::int32(), out, workspace, ws_bytes);
  if (!st) {
    print_status_failure("conv_s8", st);
    return false;
  }
  std::printf("  path %s, ISA %s; int32 outputs (identity | 3x3 box sum):\n", qk::conv_path_name(layer.path()),
              qk::isa_name(layer.isa()));
  for (int y = 0; y < 4; ++y) {
    std::printf("   ");
    for (int x = 0; x < 4; ++x) std::printf(" %3d", static_cast<int>(out[(y * 4 + x) * 2]));
    std::printf("   |");
    for (int x = 0; x < 4; ++x) std::printf(" %3d", static_cast<int>(out[(y * 4 + x) * 2 + 1]));
    std::printf("\n");
  }
  return true;
}

// An int8 matrix product (qk/gemm.hpp): A (2 x 3, int8) times B (3 x 2), int32 results.
bool section_gemm() {
  const std::int8_t a[2 * 3] = {1, 2, 3, -4, 5, -6};
  const std::int8_t b[3 * 2] = {1, -1, 2, 0, -128, 127};  // K x N, row-major
  qk::GemmS8Weights w;
  qk::Status st = w.pack(qk::GemmS8WeightsDesc::k_by_n(3, 2, b));
  std::int32_t c[2 * 2] = {};
  if (st) st = qk::gemm_s8(w, 2, a, 3, qk::OutputStage::int32(), c, 2);
  if (!st) {
    print_status_failure("gemm_s8", st);
    return false;
  }
  std::printf("  ISA %s; C = A B:\n", qk::isa_name(w.isa()));
  for (int i = 0; i < 2; ++i) std::printf("    %6d %6d\n", static_cast<int>(c[i * 2]), static_cast<int>(c[i * 2 + 1]));
  return true;
}

// The same 3x3 box filter in fp32 (qk/conv_f32.hpp), the float baseline int8 is compared with.
bool section_conv_f32() {
  float image[16], filter[9];
  for (int i = 0; i < 16; ++i) image[i] = 0.5f * static_cast<float>(i + 1);
  for (float& f : filter) f = 1.0f / 9.0f;
  qk::ConvF32Desc d;
  d.in_h = d.in_w = 4, d.in_c = 1, d.out_c = 1, d.kernel_h = d.kernel_w = 3;
  d.weights = filter;
  qk::ConvF32 layer;
  qk::Status st = d.set_same_padding();
  if (st) st = layer.pack(d);
  std::size_t ws_bytes = 0;
  if (st) st = qk::conv_f32_workspace_size(layer, &ws_bytes);
  std::vector<unsigned char> workspace(ws_bytes);  // the caller's memory: conv_f32 allocates none
  float out[16] = {};
  if (st) st = qk::conv_f32(layer, 1, image, out, workspace.data(), ws_bytes);
  if (!st) {
    print_status_failure("conv_f32", st);
    return false;
  }
  std::printf("  3x3 mean of 0.5 * (1..16), same padding:\n");
  for (int y = 0; y < 4; ++y) {
    std::printf("   ");
    for (int x = 0; x < 4; ++x) std::printf(" %6.3f", static_cast<double>(out[y * 4 + x]));
    std::printf("\n");
  }
  return true;
}

constexpr Section kSections[] = {
    {"Instruction set", section_isa},
    {"Quantization of a float range (qk/quantize.hpp)", section_quantize},
    {"Requantization multiplier (TFLite QuantizeMultiplier)", section_multiplier},
    {"Requantizing int32 accumulators to int8", section_requantize},
    {"Matrix product (qk/gemm.hpp)", section_gemm},
    {"Convolution (qk/conv.hpp)", section_conv},
    {"fp32 convolution (qk/conv_f32.hpp)", section_conv_f32},
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
