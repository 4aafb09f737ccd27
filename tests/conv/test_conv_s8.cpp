// Every conv path (pointwise GEMM, gathered GEMM, depthwise) under every kernel family this
// machine runs, against the plain-loop reference: random shapes (odd sizes, every padding,
// strides 1-3, dilations 1-2, groups, channel multipliers, batch > 1), u8/s8 inputs and weights,
// weight zero points, every output stage, and operands at the extremes. Whole output buffers
// are compared, guard bytes included.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/conv.hpp"
#include "qk/reference/conv.hpp"

namespace {

enum class Fill { random, extreme_hi, extreme_lo, mixed_extremes };

struct Case {
  qk::ConvS8Desc d;
  std::size_t batch = 1;
  int stage = 1;  // 0 raw, 1 fixed double, 2 fixed single, 3 float requant, 4 dequantize
  qk::OutputType out_type = qk::OutputType::s8;
  bool per_channel = true;
  int zw_mode = 0;  // 0 none, 1 per tensor, 2 per channel
  Fill fill = Fill::random;
  // 0: random multipliers, shift[0] = 2 and shift[1] = -31 forced (stages 1-2); 1: every shift in
  // [-31, -1] (the depthwise one-rounding path) with multipliers up to 2^31 - 1; 2: as 1, plus
  // zero multipliers and shift 0 (negative multipliers, e.g. INT32_MIN for SRDHM's saturating
  // case, are refused since issue 18: TFLite's are 0 or in [2^30, 2^31)); 3: every shift in
  // [-22, -1] and multipliers up to 2^31 - 1 (what the AVX-512 single-shift forms take); 4: as 3
  // with every multiplier in [1, 2^30) (not normalized: the narrow form must not take them).
  int shift_mode = 0;
  // [qmin, qmax] the whole output type (the column kernel's lean mode: the packs are the clamp)
  // and the output zero point out_zp instead of -3 / 120.
  bool full_range = false;
  std::int32_t out_zp = 0;
  // Biases: 0 random in +-300000; 1 just inside the AVX-512 epilogues' narrow-accumulator bound
  // (+-(2^29 - 2^20), alternating sign: the 32-bit second stage takes them); 2 near the int32
  // limits (+-(2^31 - 2^22): the narrow form would overflow there, so the 64-bit one must run).
  int bias_mode = 0;
  // Float scales (stages 3-4): 0 random in [1e-5, 0.02]; 1 from a list of edges: products on .5
  // ties (0.5, 1.5, 2.5), beyond the int32 range or infinite (1e3 with bias_mode 2, 1e30,
  // FLT_MAX), vanishing (FLT_MIN).
  int scale_mode = 0;
};

std::uint8_t draw(std::mt19937& rng, qk::ElementType t, Fill fill) {
  const bool s = t == qk::ElementType::s8;
  const int lo = s ? -128 : 0, hi = s ? 127 : 255;
  int v;
  switch (fill) {
    case Fill::extreme_hi: v = hi; break;
    case Fill::extreme_lo: v = lo; break;
    case Fill::mixed_extremes: v = (rng() & 1) ? hi : lo; break;
    default: v = std::uniform_int_distribution<int>(lo, hi)(rng);
  }
  return static_cast<std::uint8_t>(v);
}

std::size_t pick(std::mt19937& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// Runs one case on the current ISA, against the reference; `threads` > 1 also checks a pool.
// Returns the path the layer took.
qk::ConvPath run_case(Case c, std::mt19937& rng, std::size_t threads = 1) {
  qk::ConvS8Desc& d = c.d;
  const std::size_t wcount = d.out_c * d.kernel_h * d.kernel_w * (d.in_c / d.groups);
  std::vector<std::uint8_t> x(c.batch * d.in_h * d.in_w * d.in_c), w(wcount);
  for (auto& v : x) v = draw(rng, d.input_type, c.fill);
  for (auto& v : w) v = draw(rng, d.weight_type, c.fill == Fill::random ? Fill::random : Fill::mixed_extremes);
  std::vector<std::int32_t> bias(d.out_c), zw(d.out_c), mult(d.out_c), shift(d.out_c);
  std::vector<float> scale(d.out_c);
  const int zlo = d.weight_type == qk::ElementType::s8 ? -128 : 0, zhi = d.weight_type == qk::ElementType::s8 ? 127 : 255;
  for (std::size_t j = 0; j < d.out_c; ++j) {
    bias[j] = std::uniform_int_distribution<std::int32_t>(-300000, 300000)(rng);
    if (c.bias_mode != 0) {
      const std::int32_t mag = (c.bias_mode == 1 ? (1 << 29) - (1 << 20) : std::numeric_limits<std::int32_t>::max() - (1 << 22)) -
                               static_cast<std::int32_t>(rng() % 1000);
      bias[j] = j % 2 ? mag : -mag;
    }
    zw[j] = std::uniform_int_distribution<int>(zlo, zhi)(rng);
    // A u8 weight zero point of 128 is s8 zero once packed: no row term, so the gather leaves
    // the K padding of A unwritten (the packed padding weights must be zero; fuzz_conv found it).
    if (c.zw_mode == 1 && rng() % 3 == 0) zw[j] = (zlo + zhi + 1) / 2;
    const double real = std::uniform_real_distribution<double>(1e-5, 0.02)(rng);
    int sh = 0;
    REQUIRE(qk::quantize_multiplier(real, &mult[j], &sh).ok());
    shift[j] = sh;
    scale[j] = static_cast<float>(real);
    if (c.scale_mode == 1) {
      const float edges[] = {0.5f, 1.5f, 2.5f, 1e3f, 1e30f, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                             0.3f, 1.0f};
      scale[j] = edges[rng() % 9];
    }
  }
  if (c.shift_mode == 0 && (c.stage == 1 || c.stage == 2)) {
    shift[0] = 2;
    if (d.out_c > 1) shift[1] = -31;
  }
  if (c.shift_mode != 0) {
    for (std::size_t j = 0; j < d.out_c; ++j) {
      const int deepest = c.shift_mode >= 3 ? -22 : -31;
      shift[j] = std::uniform_int_distribution<int>(deepest, -1)(rng);
      if (rng() % 4 == 0) shift[j] = rng() & 1 ? -1 : deepest;
      if (rng() % 3 == 0) mult[j] = std::numeric_limits<std::int32_t>::max() - static_cast<std::int32_t>(rng() % 3);
      if (c.shift_mode == 4) mult[j] = rng() % 3 == 0 ? (1 << 30) - 1 : std::uniform_int_distribution<std::int32_t>(1, (1 << 30) - 1)(rng);
      if (c.shift_mode == 2 && rng() % 5 == 0) mult[j] = 0;
      if (c.shift_mode == 2 && rng() % 7 == 0) shift[j] = 0;
    }
  }
  d.weights = w.data();
  d.bias = c.bias_mode != 0 || rng() % 4 != 0 ? bias.data() : nullptr;
  d.weight_zero_point = c.zw_mode == 0 ? nullptr : zw.data();
  d.weight_zero_point_per_channel = c.zw_mode == 2;

  qk::OutputStage out;
  const bool pc = c.per_channel;
  const bool os8 = c.out_type == qk::OutputType::s8;
  const std::int32_t ozp = c.full_range ? c.out_zp : os8 ? -3 : 120;
  const std::int32_t qmin = c.full_range ? (os8 ? -128 : 0) : os8 ? -120 : 5;
  const std::int32_t qmax = c.full_range ? (os8 ? 127 : 255) : os8 ? 127 : 250;
  switch (c.stage) {
    case 0: out = qk::OutputStage::int32(); break;
    case 1: out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax); break;
    case 2:
      out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax,
                                                 qk::RequantRounding::single_rounding);
      break;
    case 3: out = qk::OutputStage::float_requant(c.out_type, scale.data(), pc, ozp, qmin, qmax); break;
    default: out = qk::OutputStage::dequantize(scale.data(), pc); break;
  }
  const std::size_t es = qk::output_type_size(out.type);

  qk::ConvS8 layer;
  const qk::Status st = layer.pack(d);
  INFO("pack: " << st.message());
  REQUIRE(st.ok());
  REQUIRE(layer.isa() == qk::active_isa());
  const std::size_t oh = d.out_h(), ow = d.out_w();
  const std::size_t out_bytes = c.batch * oh * ow * d.out_c * es, guard = 64;
  std::vector<std::uint8_t> got(out_bytes + guard, 0xCD), want(out_bytes + guard, 0xCD);
  std::size_t ws_bytes = 0;
  REQUIRE(qk::conv_s8_workspace_size(layer, c.batch, threads, &ws_bytes).ok());
  // Unaligned on purpose: conv_s8 aligns inside the workspace. Poisoned: nothing may depend on
  // bytes of it the run did not write.
  std::vector<std::uint8_t> ws(ws_bytes + 1, 0xA5);
  qk::ThreadPool pool(threads);
  const qk::Status rs = qk::conv_s8(layer, c.batch, x.data(), out, got.data(), ws.data() + 1, ws_bytes,
                                    threads > 1 ? &pool : nullptr);
  INFO("run: " << rs.message());
  REQUIRE(rs.ok());
  d.weights = w.data();  // the reference reads the same weights
  qk::reference::conv2d_int8(d, c.batch, x.data(), out, want.data());
  INFO("path=" << qk::conv_path_name(layer.path()) << " isa=" << qk::isa_name(layer.isa()) << " batch=" << c.batch
               << " in=" << d.in_h << "x" << d.in_w << "x" << d.in_c << " out_c=" << d.out_c << " k=" << d.kernel_h
               << "x" << d.kernel_w << " s=" << d.stride_h << "," << d.stride_w << " dil=" << d.dilation_h << ","
               << d.dilation_w << " pad=" << d.pad_top << "," << d.pad_bottom << "," << d.pad_left << ","
               << d.pad_right << " groups=" << d.groups << " layout=" << static_cast<int>(d.weight_layout)
               << " x_s8=" << (d.input_type == qk::ElementType::s8) << " zx=" << d.input_zero_point
               << " w_s8=" << (d.weight_type == qk::ElementType::s8) << " zw=" << c.zw_mode << " stage=" << c.stage
               << " pc=" << c.per_channel << " fill=" << static_cast<int>(c.fill));
  REQUIRE(std::memcmp(got.data(), want.data(), got.size()) == 0);
  return layer.path();
}

// A random valid case. kind: 0 any, 1 pointwise, 2 general GEMM, 3 depthwise.
Case random_case(std::mt19937& rng, int kind, std::size_t max_hw = 11, std::size_t max_c = 20) {
  for (;;) {
    Case c;
    qk::ConvS8Desc& d = c.d;
    c.batch = rng() % 3 == 0 ? pick(rng, 2, 3) : 1;
    d.in_h = pick(rng, 1, max_hw);
    d.in_w = pick(rng, 1, max_hw);
    const int k = kind == 0 ? static_cast<int>(rng() % 3 + 1) : kind;
    if (k == 1) {  // pointwise
      d.kernel_h = d.kernel_w = 1;
      d.groups = 1;
      d.in_c = pick(rng, 1, max_c * 3);
      d.out_c = pick(rng, 1, max_c * 3);
    } else {
      d.kernel_h = pick(rng, 1, 5);
      d.kernel_w = pick(rng, 1, 5);
      d.stride_h = pick(rng, 1, 3);
      d.stride_w = pick(rng, 1, 3);
      d.dilation_h = rng() % 3 == 0 ? 2 : 1;
      d.dilation_w = rng() % 3 == 0 ? 2 : 1;
      const std::size_t ph = (d.kernel_h - 1) * d.dilation_h, pw = (d.kernel_w - 1) * d.dilation_w;
      d.pad_top = pick(rng, 0, ph);
      d.pad_bottom = pick(rng, 0, ph);
      d.pad_left = pick(rng, 0, pw);
      d.pad_right = pick(rng, 0, pw);
      if (rng() % 5 == 0) (void)d.set_same_padding(rng() & 1);
      if (k == 3) {
        d.groups = d.in_c = pick(rng, 2, max_c * 4);
        d.out_c = d.in_c * (rng() % 3 == 0 ? pick(rng, 2, 3) : 1);
      } else {
        d.groups = rng() % 3 == 0 ? pick(rng, 2, 4) : 1;
        d.in_c = d.groups * pick(rng, 1, max_c);
        d.out_c = d.groups * pick(rng, 1, max_c);
      }
    }
    d.input_type = rng() & 1 ? qk::ElementType::s8 : qk::ElementType::u8;
    d.weight_type = rng() % 4 == 0 ? qk::ElementType::u8 : qk::ElementType::s8;
    const int lo = d.input_type == qk::ElementType::s8 ? -128 : 0, hi = lo + 255;
    const int zsel = static_cast<int>(rng() % 4);
    d.input_zero_point = zsel == 0 ? 0 : zsel == 1 ? lo : zsel == 2 ? hi : std::uniform_int_distribution<int>(lo, hi)(rng);
    const int layout = static_cast<int>(rng() % 3);
    d.weight_layout = layout == 1 ? qk::ConvWeightLayout::oihw
                      : (layout == 2 && d.groups == d.in_c) ? qk::ConvWeightLayout::hwo
                                                            : qk::ConvWeightLayout::ohwi;
    c.zw_mode = static_cast<int>(rng() % 3);
    c.stage = static_cast<int>(rng() % 5);
    c.out_type = rng() & 1 ? qk::OutputType::s8 : qk::OutputType::u8;
    c.per_channel = rng() & 1;
    c.fill = static_cast<Fill>(rng() % 5 == 0 ? 1 + rng() % 3 : 0);
    d.weights = &c;  // placeholder for validation; run_case sets the real weights
    if (qk::detail::validate_conv_desc(d).ok()) return c;
  }
}

}  // namespace

TEST_CASE("conv_s8: every path and kernel matches the reference on random shapes") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(2024);
    int paths[3] = {0, 0, 0};
    for (int i = 0; i < 100; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 1), rng))];
    for (int i = 0; i < 300; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 2), rng))];
    for (int i = 0; i < 300; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 3), rng))];
    // Each kind lands on its path (a few random gemm-kind shapes are depthwise or pointwise):
    // 101, 293 and 306 with this seed.
    INFO("pointwise " << paths[0] << ", gemm " << paths[1] << ", depthwise " << paths[2]);
    CHECK(paths[static_cast<int>(qk::ConvPath::pointwise)] >= 90);
    CHECK(paths[static_cast<int>(qk::ConvPath::gemm)] >= 250);
    CHECK(paths[static_cast<int>(qk::ConvPath::depthwise)] >= 250);
  }
}

TEST_CASE("conv_s8: depthwise channel blocks and tails, multipliers, large kernels") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(77);
    for (std::size_t ch : {2u, 15u, 16u, 17u, 31u, 32u, 33u, 48u, 63u, 64u, 65u, 144u}) {
      Case c = random_case(rng, 3);
      c.d.groups = c.d.in_c = ch;
      c.d.out_c = ch;
      c.d.weight_layout = qk::ConvWeightLayout::hwo;
      c.d.kernel_h = c.d.kernel_w = 3;
      c.d.stride_h = c.d.stride_w = 1 + ch % 2;
      c.d.dilation_h = c.d.dilation_w = 1;
      c.d.in_h = c.d.in_w = 7;
      REQUIRE(c.d.set_same_padding().ok());
      run_case(c, rng);
      c.d.out_c = ch * 2;  // multiplier 2
      c.d.weight_layout = qk::ConvWeightLayout::ohwi;
      run_case(c, rng);
    }
    Case c = random_case(rng, 3);
    c.d.groups = c.d.in_c = c.d.out_c = 40;
    c.d.kernel_h = c.d.kernel_w = 7;
    c.d.stride_h = c.d.stride_w = c.d.dilation_h = c.d.dilation_w = 1;
    c.d.in_h = c.d.in_w = 9;
    c.d.weight_layout = qk::ConvWeightLayout::ohwi;
    REQUIRE(c.d.set_same_padding().ok());
    run_case(c, rng);
  }
}

// The avx512vnni family has two depthwise kernels chosen at packing: the vpdpbusd column kernel
// when every w - zw fits int8 (s8 weights without zero point, as TFLite's), the int16 pair
// kernel otherwise (u8 weights with a zero point: w - zw needs 9 bits). Both, on the two
// MobileNet shapes the column kernel specializes (32 channels at stride 1: two pixels per
// segment; 144 at stride 2: a 16-channel tail) and a generic one (5x3, dilation 2).
TEST_CASE("conv_s8: depthwise int8-weight column kernel and its int16 fallback") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(4242);
    for (int wide : {0, 1})
      for (std::size_t shape = 0; shape < 3; ++shape) {
        Case c = random_case(rng, 3);
        const std::size_t ch = shape == 0 ? 32 : shape == 1 ? 144 : 40;
        c.d.groups = c.d.in_c = c.d.out_c = ch;
        c.d.weight_layout = qk::ConvWeightLayout::hwo;
        c.d.kernel_h = 3;
        c.d.kernel_w = shape == 2 ? 5 : 3;
        c.d.stride_h = c.d.stride_w = shape == 1 ? 2 : 1;
        c.d.dilation_h = c.d.dilation_w = shape == 2 ? 2 : 1;
        c.d.in_h = 9;
        c.d.in_w = 13;
        c.d.input_type = (rng() & 1) ? qk::ElementType::s8 : qk::ElementType::u8;
        c.d.input_zero_point = c.d.input_type == qk::ElementType::s8 ? -5 : 131;
        c.d.weight_type = wide ? qk::ElementType::u8 : qk::ElementType::s8;
        c.zw_mode = wide ? 2 : 0;
        c.stage = 1;
        c.out_type = qk::OutputType::s8;
        c.shift_mode = 1;
        REQUIRE(c.d.set_same_padding().ok());
        run_case(c, rng);
        c.stage = 2;  // single rounding: the same forms with their own constants
        run_case(c, rng);
        c.stage = 1;
        c.full_range = true;  // lean mode: zero point folded, no clamp
        c.out_zp = shape == 0 ? -128 : shape == 1 ? 127 : 5;
        run_case(c, rng);
        c.out_type = qk::OutputType::u8;
        c.out_zp = shape == 1 ? 0 : 255;
        run_case(c, rng);
        for (int bias_mode : {1, 2}) {  // at the narrow requantization's bound, and beyond it
          c.bias_mode = bias_mode;
          c.shift_mode = 3;
          c.out_type = qk::OutputType::s8;
          c.out_zp = bias_mode == 1 ? -128 : 127;
          run_case(c, rng);
          c.out_zp = -c.out_zp - 1;
          run_case(c, rng);
          c.bias_mode = 0;
          c.shift_mode = 1;
        }
        c.shift_mode = 4;  // multipliers below 2^30, small accumulators: not the narrow form
        for (int i = 0; i < 3; ++i) run_case(c, rng);
        for (int mode : {1, 3, 4}) {  // single rounding in lean, narrow and 64-bit forms
          c.stage = 2;
          c.shift_mode = mode;
          run_case(c, rng);
          c.bias_mode = 1;
          run_case(c, rng);
          c.bias_mode = 0;
          c.stage = 1;
        }
        c.shift_mode = 1;
        c.out_type = qk::OutputType::u8;
        c.full_range = false;
        c.out_type = qk::OutputType::s8;
        c.stage = 3;  // float requantization: the fast mode with the float form
        run_case(c, rng);
        c.scale_mode = 1;  // at the float form's edges, every zero point, full and narrowed ranges
        for (auto out_type : {qk::OutputType::s8, qk::OutputType::u8})
          for (int bias_mode : {0, 2})
            for (int zsel = 0; zsel < 3; ++zsel) {
              const bool s8 = out_type == qk::OutputType::s8;
              c.out_type = out_type, c.bias_mode = bias_mode, c.full_range = zsel != 2;
              c.out_zp = s8 ? (zsel == 0 ? -128 : 127) : (zsel == 0 ? 0 : 255);
              c.per_channel = (rng() & 1) != 0;
              run_case(c, rng);
            }
        c.scale_mode = 0, c.bias_mode = 0, c.full_range = false, c.per_channel = true;
        c.stage = 4;  // a stage the column kernel hands to finish_row()
        run_case(c, rng);
      }
  }
}

// The column kernel reads input rows in place, so its border columns (partly or wholly outside
// the row) take masked loads and its interior ones plain loads: padding wider than the window
// (output pixels entirely in the padding), rows narrower than a 64-byte load, every stride and
// each segment shape (pair mode, 16-channel tail, partial and whole 64-channel segments).
TEST_CASE("conv_s8: depthwise column kernel borders: wide padding, narrow rows") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(9001);
    int ran = 0, depthwise = 0;
    for (std::size_t ch : {32u, 16u, 40u, 64u, 144u})
      for (std::size_t stride : {1u, 2u, 3u})
        for (std::size_t in_w : {1u, 2u, 5u, 12u}) {
          Case c = random_case(rng, 3);
          qk::ConvS8Desc& d = c.d;
          d.groups = d.in_c = d.out_c = ch;
          d.weight_layout = qk::ConvWeightLayout::hwo;
          d.weight_type = qk::ElementType::s8;
          c.zw_mode = 0;
          d.kernel_h = in_w == 2 ? 2 : 3;
          d.kernel_w = 3;
          d.stride_h = d.stride_w = stride;
          d.dilation_h = d.dilation_w = in_w == 5 ? 2 : 1;
          d.in_h = 4;
          d.in_w = in_w;
          d.pad_top = pick(rng, 0, 3);
          d.pad_bottom = pick(rng, 0, 3);
          d.pad_left = pick(rng, 0, 4);
          d.pad_right = pick(rng, 0, 4);
          c.batch = 2;
          c.stage = 1;
          c.shift_mode = 1;
          c.per_channel = true;
          if (!qk::detail::validate_conv_desc(d).ok()) continue;
          ++ran;
          depthwise += run_case(c, rng) == qk::ConvPath::depthwise;
        }
    // 55 of the 60 shapes are valid with this seed; all of them must take the depthwise path.
    CHECK(ran >= 50);
    CHECK(depthwise == ran);
  }
}

// First layers (a kernel row's run of kernel_w * Cin <= 16 bytes, no weight zero point) read
// their input rows in place on x86 by K group (ConvS8::pack_gemm, "row runs"): each kernel
// row's whole K groups read in place, the bytes left over composed into groups of their own
// (AVX-512 families: pixels at least a K group apart), or else the runs padded to whole groups;
// rows stride_w * Cin apart, the padding rows and columns written by the driver. Every stride,
// padding and run length, runs shorter than a K group (kernel_w 1: only composed groups), more
// left-over bytes than one group holds; a row whose input extends past the last run read (in_w
// 65 at stride 3: the padded rows' pitch must cover the copy, which ASan checks).
TEST_CASE("conv_s8: first-layer row runs: strides, padding, run lengths") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(31337);
    int ran = 0, gemm = 0;
    for (std::size_t cin : {1u, 2u, 3u, 4u, 5u})
      for (std::size_t stride : {1u, 2u, 3u, 4u})
        for (std::size_t in_w : {9u, 17u, 65u}) {
          Case c = random_case(rng, 2);
          qk::ConvS8Desc& d = c.d;
          d.groups = 1;
          d.in_c = cin;
          d.out_c = pick(rng, 1, 80);  // up to 5 panels: tiles of 1 to 4 (the 3- and 4-panel ones pipelined)
          d.kernel_h = cin <= 3 ? 3 + 2 * (rng() % 2) : 3;
          d.kernel_w = rng() % 4 == 0 ? 1 + rng() % 2 : d.kernel_h;
          d.stride_h = d.stride_w = stride;
          d.dilation_h = rng() % 3 == 0 ? 2 : 1;
          d.dilation_w = 1;
          d.in_h = 5;
          d.in_w = in_w;
          d.pad_top = pick(rng, 0, d.kernel_h - 1);
          d.pad_bottom = pick(rng, 0, d.kernel_h - 1);
          d.pad_left = in_w == 65 ? 0 : pick(rng, 0, d.kernel_w - 1);
          d.pad_right = in_w == 65 ? 0 : pick(rng, 0, d.kernel_w - 1);
          d.weight_type = qk::ElementType::s8;
          d.weight_layout = qk::ConvWeightLayout::ohwi;
          c.zw_mode = 0;
          c.batch = 2;
          if (!qk::detail::validate_conv_desc(d).ok()) continue;
          ++ran;
          gemm += run_case(c, rng) == qk::ConvPath::gemm;
        }
    // 56 of the 60 shapes are valid with this seed; all of them must take the GEMM path.
    CHECK(ran >= 50);
    CHECK(gemm == ran);
  }
}

TEST_CASE("conv_s8: extreme operands (saturation trap) on every path") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(9);
    for (int kind = 1; kind <= 3; ++kind)
      for (Fill f : {Fill::extreme_hi, Fill::extreme_lo, Fill::mixed_extremes})
        for (auto xt : {qk::ElementType::s8, qk::ElementType::u8})
          for (auto wt : {qk::ElementType::s8, qk::ElementType::u8}) {
            Case c = random_case(rng, kind, 6, 40);
            c.fill = f;
            c.d.input_type = xt;
            c.d.weight_type = wt;
            c.d.input_zero_point = xt == qk::ElementType::s8 ? -128 : 255;
            c.zw_mode = 2;
            c.stage = 0;
            run_case(c, rng);
            c.d.input_zero_point = 0;
            c.zw_mode = 0;
            c.stage = 1;
            run_case(c, rng);
            // Accumulators near the int32 limits with every shift in the single-shift range:
            // the AVX-512 epilogues must keep these on their 64-bit form.
            c.bias_mode = 2;
            c.shift_mode = 3;
            c.full_range = true;
            c.out_zp = c.out_type == qk::OutputType::s8 ? ((rng() & 1) ? 127 : -128) : ((rng() & 1) ? 255 : 0);
            run_case(c, rng);
          }
  }
}

TEST_CASE("conv_s8: larger layers with several GEMM row blocks") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(31);
    for (int i = 0; i < 3; ++i) {
      Case c = random_case(rng, 2, 30, 24);
      c.d.dilation_h = c.d.dilation_w = 1;
      c.d.stride_h = c.d.stride_w = 1;
      c.d.kernel_h = c.d.kernel_w = 3;
      c.d.in_h = c.d.in_w = 21;
      c.d.groups = 1;
      c.d.in_c = 24 + static_cast<std::size_t>(i);
      c.d.out_c = 40 + 9 * static_cast<std::size_t>(i);
      c.d.weight_layout = qk::ConvWeightLayout::ohwi;
      REQUIRE(c.d.set_same_padding().ok());
      run_case(c, rng);
    }
  }
}

TEST_CASE("conv_s8: pointwise layer with many row blocks") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(41);
    Case c = random_case(rng, 1);
    c.d.in_h = 37, c.d.in_w = 29, c.d.in_c = 24, c.d.out_c = 50;
    c.batch = 2;
    run_case(c, rng);
  }
}

TEST_CASE("conv_s8: thread count does not change results") {
  std::mt19937 rng(5);
  for (int kind = 1; kind <= 3; ++kind)
    for (std::size_t t : {2u, 3u}) {
      Case c = random_case(rng, kind, 16, 24);
      c.batch = 2;
      run_case(c, rng, t);
    }
}

// Depthwise rows wide enough for the interleaved 4-pixel groups, full and partial channel blocks,
// every right shift with large multipliers (the AVX-512 kernel's one-rounding requantization and
// int16/int8 saturating narrowing), zero multipliers and shift 0 (its fallback), both 8-bit
// output types, per tensor and per channel, borders, strides 1-3, dilation 2, multiplier 2.
TEST_CASE("conv_s8: depthwise row kernel, requantization fast path and borders") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(123);
    int n = 0;
    for (std::size_t ch : {32u, 64u, 96u, 40u, 144u, 7u})
      for (std::size_t stride : {1u, 2u, 3u})
        for (int variant = 0; variant < 4; ++variant, ++n) {
          Case c = random_case(rng, 3);
          qk::ConvS8Desc& d = c.d;
          d.groups = d.in_c = ch;
          d.out_c = variant == 3 && ch <= 40 ? ch * 2 : ch;
          d.weight_layout = qk::ConvWeightLayout::ohwi;
          d.kernel_h = d.kernel_w = variant == 2 ? 5 : 3;
          d.stride_h = d.stride_w = stride;
          d.dilation_h = d.dilation_w = variant == 1 ? 2 : 1;
          d.in_h = 5 + static_cast<std::size_t>(n % 3);
          d.in_w = 17 + static_cast<std::size_t>(n % 4) * 5;
          if (variant == 2) {
            d.pad_top = d.pad_left = 2, d.pad_bottom = 1, d.pad_right = 0;
          } else {
            REQUIRE(d.set_same_padding(n % 2 == 0).ok());
          }
          c.batch = 1;
          c.stage = 1;
          c.out_type = n % 2 ? qk::OutputType::u8 : qk::OutputType::s8;
          c.per_channel = n % 5 != 0;
          c.shift_mode = n % 3 == 2 ? 2 : 1;
          c.fill = n % 4 == 3 ? Fill::mixed_extremes : Fill::random;
          run_case(c, rng);
          // Whole-type range with zero points at the ends of the type (the column kernel's lean
          // mode folds them into its rounding constants and lets the packs clamp).
          c.full_range = true;
          c.out_zp = c.out_type == qk::OutputType::s8 ? (n % 3 == 0 ? -128 : n % 3 == 1 ? 127 : -1) : (n % 3 == 0 ? 0 : 255);
          run_case(c, rng);
          c.stage = 2;  // single rounding, both ranges
          run_case(c, rng);
          c.full_range = false;
          run_case(c, rng);
        }
  }
}
