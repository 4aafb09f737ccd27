// qk on a bare-metal Cortex-M: quantize a float tensor, run an int8 GEMM, a general convolution
// and a depthwise convolution with the portable (scalar) kernels, and check every output against
// a plain loop written here. Built and run under qemu by scripts/test-cortex-m.sh; see
// docs/embedded.md.
//
// Memory: every tensor, the packed GEMM weights (GemmS8Weights::pack_into) and the convolution
// workspace are static arrays. ConvS8::pack allocates its packed weights with new (newlib's
// malloc), once per layer; running allocates nothing. The global operator new below counts the
// allocations so that the program checks both statements, and, as it never throws, keeps
// libstdc++'s exception machinery out of the binary.
#include <cinttypes>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "qk/conv.hpp"
#include "qk/fixed_point.hpp"
#include "qk/gemm.hpp"
#include "qk/quantize.hpp"
#include "qk/version.hpp"

namespace {
std::size_t g_heap_calls = 0;

void* counted_malloc(std::size_t n) noexcept {
  ++g_heap_calls;
  return std::malloc(n == 0 ? 1 : n);
}
}  // namespace

void* operator new(std::size_t n) {
  void* p = counted_malloc(n);
  if (p == nullptr) std::abort();  // no exceptions: out of memory is fatal here
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_malloc(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

int g_failures = 0;

bool ok(const qk::Status& st, const char* what) {
  if (st) return true;
  std::printf("FAIL %s: %s (%s)\n", what, qk::status_code_name(st.code()), st.message());
  ++g_failures;
  return false;
}

// Compares n int8 outputs with the expected values; prints the first mismatch.
std::size_t check(const char* what, const std::int8_t* got, const std::int8_t* want, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      std::printf("FAIL %s: element %u is %d, expected %d\n", what, static_cast<unsigned>(i), got[i], want[i]);
      ++g_failures;
      return 0;
    }
  }
  return n;
}

// Deterministic int8 test data in [-128, 127].
std::int8_t pattern(std::size_t i, std::size_t salt) {
  return static_cast<std::int8_t>(static_cast<int>((i * 37u + salt * 11u + 5u) % 256u) - 128);
}

// ------------------------------------------------------------------------------------------------
// Quantize: 24 floats to int8 with parameters chosen for their range (ONNX rounding, half to even).
constexpr std::size_t kQuantN = 24;
float g_qx[kQuantN];
std::int8_t g_qy[kQuantN], g_qwant[kQuantN];

std::size_t run_quantize() {
  for (std::size_t i = 0; i < kQuantN; ++i) g_qx[i] = static_cast<float>(i) * 0.37f - 4.0f;
  qk::QuantParams p;
  if (!ok(qk::choose_quant_params<std::int8_t>(-4.0f, 5.0f, qk::QuantScheme::asymmetric, 0, &p), "choose_quant_params"))
    return 0;
  const std::size_t before = g_heap_calls;
  if (!ok(qk::quantize<std::int8_t>(g_qx, kQuantN, p, g_qy), "quantize")) return 0;
  if (g_heap_calls != before) {
    std::printf("FAIL quantize allocated\n");
    ++g_failures;
  }
  for (std::size_t i = 0; i < kQuantN; ++i) {
    const float r = std::nearbyint(g_qx[i] / p.scale);
    std::int32_t q = static_cast<std::int32_t>(r) + p.zero_point;
    q = q < p.qmin ? p.qmin : (q > p.qmax ? p.qmax : q);
    g_qwant[i] = static_cast<std::int8_t>(q);
  }
  return check("quantize", g_qy, g_qwant, kQuantN);
}

// Per-channel TFLite requantization parameters: multiplier and shift as int32_t, as
// OutputStage::fixed_point_requant takes them (on arm-none-eabi, int32_t is long, not int).
void make_requant(std::size_t n, double base, std::int32_t* multiplier, std::int32_t* shift) {
  for (std::size_t j = 0; j < n; ++j)
    (void)ok(qk::quantize_multiplier(base * (1.0 + 0.37 * static_cast<double>(j)), &multiplier[j], &shift[j]),
             "quantize_multiplier");
}

// ------------------------------------------------------------------------------------------------
// GEMM: C[5][7] = requant(A[5][19] (zero point -3) x B (7 rows of 19, TFLite FullyConnected) + bias).
constexpr std::size_t kM = 5, kN = 7, kK = 19;
constexpr std::int32_t kGemmZa = -3, kGemmZc = 5;
std::int8_t g_a[kM * kK], g_b[kN * kK], g_c[kM * kN], g_cwant[kM * kN];
std::int32_t g_gbias[kN], g_gmult[kN], g_gshift[kN];
alignas(64) std::uint8_t g_packed[2048];  // packed B: GemmS8Weights::packed_size() is checked below

std::size_t run_gemm() {
  for (std::size_t i = 0; i < kM * kK; ++i) g_a[i] = pattern(i, 1);
  for (std::size_t i = 0; i < kN * kK; ++i) g_b[i] = pattern(i, 2);
  for (std::size_t j = 0; j < kN; ++j) g_gbias[j] = static_cast<std::int32_t>(j * 1000) - 3000;
  make_requant(kN, 0.0009, g_gmult, g_gshift);

  qk::GemmS8WeightsDesc desc = qk::GemmS8WeightsDesc::n_by_k(kN, kK, g_b, g_gbias);
  desc.a_zero_point = kGemmZa;
  std::size_t bytes = 0;
  if (!ok(qk::GemmS8Weights::packed_size(desc, qk::active_isa(), &bytes), "gemm packed_size")) return 0;
  qk::GemmS8Weights w;
  const std::size_t before = g_heap_calls;
  if (!ok(w.pack_into(desc, qk::active_isa(), g_packed, sizeof g_packed), "gemm pack_into")) return 0;
  const qk::OutputStage out =
      qk::OutputStage::fixed_point_requant(qk::OutputType::s8, g_gmult, g_gshift, true, kGemmZc, -128, 127);
  if (!ok(qk::gemm_s8(w, kM, g_a, kK, out, g_c, kN), "gemm_s8")) return 0;
  if (g_heap_calls != before) {
    std::printf("FAIL gemm allocated\n");
    ++g_failures;
  }
  std::printf("gemm: packed weights %u bytes in a static buffer, kernel %s\n", static_cast<unsigned>(bytes),
              qk::isa_name(w.isa()));

  for (std::size_t i = 0; i < kM; ++i)
    for (std::size_t j = 0; j < kN; ++j) {
      std::int32_t acc = g_gbias[j];
      for (std::size_t k = 0; k < kK; ++k) acc += (g_a[i * kK + k] - kGemmZa) * g_b[j * kK + k];
      g_cwant[i * kN + j] =
          static_cast<std::int8_t>(qk::requantize_fixed_point(acc, g_gmult[j], g_gshift[j], kGemmZc, -128, 127));
    }
  return check("gemm_s8", g_c, g_cwant, kM * kN);
}

// ------------------------------------------------------------------------------------------------
// Convolutions, NHWC, batch 1. `expected` is the plain definition for OHWI (groups 1) or HWO
// (depthwise) weights, zero weight zero point, per-channel fixed-point requantization.
alignas(64) std::uint8_t g_workspace[8192];

void expected_conv(const qk::ConvS8Desc& d, const std::int8_t* x, const std::int8_t* w, const std::int32_t* bias,
                   const std::int32_t* mult, const std::int32_t* shift, std::int32_t zy, std::int8_t* y) {
  const std::size_t oh = d.out_h(), ow = d.out_w();
  const bool depthwise = d.groups > 1;
  const std::size_t mult_c = d.out_c / d.in_c;  // depthwise channel multiplier
  for (std::size_t oy = 0; oy < oh; ++oy)
    for (std::size_t ox = 0; ox < ow; ++ox)
      for (std::size_t oc = 0; oc < d.out_c; ++oc) {
        std::int32_t acc = bias[oc];
        for (std::size_t ky = 0; ky < d.kernel_h; ++ky)
          for (std::size_t kx = 0; kx < d.kernel_w; ++kx) {
            const std::size_t iy_p = oy * d.stride_h + ky, ix_p = ox * d.stride_w + kx;  // in the padded image
            if (iy_p < d.pad_top || ix_p < d.pad_left) continue;
            const std::size_t iy = iy_p - d.pad_top, ix = ix_p - d.pad_left;
            if (iy >= d.in_h || ix >= d.in_w) continue;
            const std::int8_t* px = x + (iy * d.in_w + ix) * d.in_c;
            if (depthwise) {
              acc += (px[oc / mult_c] - d.input_zero_point) * w[(ky * d.kernel_w + kx) * d.out_c + oc];
            } else {
              for (std::size_t c = 0; c < d.in_c; ++c)
                acc += (px[c] - d.input_zero_point) * w[((oc * d.kernel_h + ky) * d.kernel_w + kx) * d.in_c + c];
            }
          }
        y[(oy * ow + ox) * d.out_c + oc] =
            static_cast<std::int8_t>(qk::requantize_fixed_point(acc, mult[oc], shift[oc], zy, -128, 127));
      }
}

template <std::size_t In, std::size_t Weights, std::size_t Out, std::size_t Cout>
struct ConvCase {
  std::int8_t x[In], w[Weights], y[Out], want[Out];
  std::int32_t bias[Cout], mult[Cout], shift[Cout];
};

// General convolution (gemm path): 6x6x3 -> 6x6x4, 3x3, stride 1, SAME, input zero point -1.
ConvCase<6 * 6 * 3, 4 * 3 * 3 * 3, 6 * 6 * 4, 4> g_conv;
// Depthwise: 5x5x4 -> 3x3x8 (channel multiplier 2), 3x3, stride 2, SAME, input zero point 7.
ConvCase<5 * 5 * 4, 3 * 3 * 8, 3 * 3 * 8, 8> g_dw;

template <class Case>
std::size_t run_conv(const char* what, Case& t, qk::ConvS8Desc d, qk::ConvPath want_path) {
  for (std::size_t i = 0; i < sizeof t.x; ++i) t.x[i] = pattern(i, 3);
  for (std::size_t i = 0; i < sizeof t.w; ++i) t.w[i] = pattern(i, 4);
  for (std::size_t c = 0; c < d.out_c; ++c) t.bias[c] = static_cast<std::int32_t>(c * 517) - 1200;
  make_requant(d.out_c, 0.0011, t.mult, t.shift);
  d.weights = t.w;
  d.bias = t.bias;
  if (!ok(d.set_same_padding(), what)) return 0;

  qk::ConvS8 layer;
  const std::size_t before_pack = g_heap_calls;
  if (!ok(layer.pack(d), what)) return 0;
  const std::size_t pack_allocations = g_heap_calls - before_pack;
  if (layer.path() != want_path) {
    std::printf("FAIL %s: path %s\n", what, qk::conv_path_name(layer.path()));
    ++g_failures;
  }
  std::size_t ws = 0;
  if (!ok(qk::conv_s8_workspace_size(layer, 1, 1, &ws), what)) return 0;
  if (ws > sizeof g_workspace) {
    std::printf("FAIL %s: workspace %u bytes > %u\n", what, static_cast<unsigned>(ws),
                static_cast<unsigned>(sizeof g_workspace));
    ++g_failures;
    return 0;
  }
  const qk::OutputStage out = qk::OutputStage::fixed_point_requant(qk::OutputType::s8, t.mult, t.shift, true, 2, -128, 127);
  const std::size_t before_run = g_heap_calls;
  if (!ok(qk::conv_s8(layer, 1, t.x, out, t.y, g_workspace, sizeof g_workspace), what)) return 0;
  if (g_heap_calls != before_run) {
    std::printf("FAIL %s allocated while running\n", what);
    ++g_failures;
  }
  std::printf("%s: path %s, workspace %u bytes (static), %u heap allocations while packing, 0 while running\n", what,
              qk::conv_path_name(layer.path()), static_cast<unsigned>(ws), static_cast<unsigned>(pack_allocations));
  expected_conv(d, t.x, t.w, t.bias, t.mult, t.shift, 2, t.want);
  return check(what, t.y, t.want, sizeof t.y);
}

}  // namespace

int main() {
  std::printf("qk %d.%d.%d on Cortex-M, active ISA %s\n", QK_VERSION_MAJOR, QK_VERSION_MINOR, QK_VERSION_PATCH,
              qk::isa_name(qk::active_isa()));
  std::size_t checked = run_quantize();
  checked += run_gemm();

  qk::ConvS8Desc conv;
  conv.in_h = 6, conv.in_w = 6, conv.in_c = 3, conv.out_c = 4, conv.kernel_h = conv.kernel_w = 3;
  conv.input_zero_point = -1;
  checked += run_conv("conv_s8", g_conv, conv, qk::ConvPath::gemm);

  qk::ConvS8Desc dw;
  dw.in_h = 5, dw.in_w = 5, dw.in_c = 4, dw.out_c = 8, dw.kernel_h = dw.kernel_w = 3;
  dw.stride_h = dw.stride_w = 2, dw.groups = 4, dw.weight_layout = qk::ConvWeightLayout::hwo;
  dw.input_zero_point = 7;
  checked += run_conv("conv_s8 depthwise", g_dw, dw, qk::ConvPath::depthwise);

  const bool pass = g_failures == 0;
  std::printf("RESULT: %s (%u values checked, %d failures)\n", pass ? "PASS" : "FAIL",
              static_cast<unsigned>(checked), g_failures);
  return pass ? EXIT_SUCCESS : EXIT_FAILURE;
}
