// int4 weights (ElementType::s4) on every conv path (pointwise and gathered GEMM on the ISA's
// int4 family, first-layer row runs, grouped; depthwise, expanded at packing) under every kernel
// family this machine runs, against the plain-loop reference: random shapes (odd sizes, every
// padding, strides, dilations, groups, channel multipliers, batch > 1), s8 / u8 inputs, weight
// zero points in [-8, 7], every output stage, operands at the extremes; and against the int8
// path on the unpacked weights. Whole output buffers are compared, guard bytes included.
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
  int stage = 1;  // 0 raw, 1 fixed double (forced shifts), 2 fixed single, 3 float, 4 dequantize, 5 fixed double
  qk::OutputType out_type = qk::OutputType::s8;
  bool per_channel = true;
  int zw_mode = 0;  // 0 none, 1 per tensor, 2 per channel
  Fill fill = Fill::random;
};

std::uint8_t draw_x(std::mt19937& rng, qk::ElementType t, Fill fill) {
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

int draw_w(std::mt19937& rng, Fill fill) {
  switch (fill) {
    case Fill::extreme_hi: return 7;
    case Fill::extreme_lo: return -8;
    case Fill::mixed_extremes: return (rng() & 1) ? 7 : -8;
    default: return std::uniform_int_distribution<int>(-8, 7)(rng);
  }
}

std::size_t pick(std::mt19937& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// Runs one case on the current ISA against the reference, and the same layer with the weights
// unpacked to int8 through the int8 path; returns the int4 layer's path.
qk::ConvPath run_case(Case c, std::mt19937& rng, std::size_t threads = 1) {
  qk::ConvS8Desc& d = c.d;
  d.weight_type = qk::ElementType::s4;
  const std::size_t wcount = d.out_c * d.kernel_h * d.kernel_w * (d.in_c / d.groups);
  std::vector<std::uint8_t> x(c.batch * d.in_h * d.in_w * d.in_c), w4(wcount / 2 + 1);
  std::vector<std::int8_t> w8(wcount);
  for (auto& v : x) v = draw_x(rng, d.input_type, c.fill);
  for (std::size_t i = 0; i < 2 * w4.size(); ++i) {
    const int v = draw_w(rng, c.fill == Fill::random ? Fill::random : Fill::mixed_extremes);
    const unsigned shift = i % 2 == 0 ? 0u : 4u;
    w4[i / 2] = static_cast<std::uint8_t>(w4[i / 2] | ((static_cast<unsigned>(v) & 0x0Fu) << shift));
    if (i < wcount) w8[i] = static_cast<std::int8_t>(v);
  }
  std::vector<std::int32_t> bias(d.out_c), zw(d.out_c), mult(d.out_c), shift(d.out_c);
  std::vector<float> scale(d.out_c);
  for (std::size_t j = 0; j < d.out_c; ++j) {
    bias[j] = std::uniform_int_distribution<std::int32_t>(-30000, 30000)(rng);
    zw[j] = std::uniform_int_distribution<int>(-8, 7)(rng);
    const double real = std::uniform_real_distribution<double>(1e-4, 0.2)(rng);
    int sh = 0;
    REQUIRE(qk::quantize_multiplier(real, &mult[j], &sh).ok());
    shift[j] = sh;
    scale[j] = static_cast<float>(real);
  }
  if (c.stage == 1 || c.stage == 2) {
    shift[0] = 2;
    if (d.out_c > 1) shift[1] = -31;
  }
  d.weights = w4.data();
  d.bias = rng() % 4 != 0 ? bias.data() : nullptr;
  d.weight_zero_point = c.zw_mode == 0 ? nullptr : zw.data();
  d.weight_zero_point_per_channel = c.zw_mode == 2;

  qk::OutputStage out;
  const bool pc = c.per_channel, os8 = c.out_type == qk::OutputType::s8;
  const std::int32_t ozp = os8 ? -3 : 120, qmin = os8 ? -120 : 5, qmax = os8 ? 127 : 250;
  switch (c.stage) {
    case 0: out = qk::OutputStage::int32(); break;
    case 1:
    case 5: out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax); break;
    case 2:
      out = qk::OutputStage::fixed_point_requant(c.out_type, mult.data(), shift.data(), pc, ozp, qmin, qmax,
                                                 qk::RequantRounding::single_rounding);
      break;
    case 3: out = qk::OutputStage::float_requant(c.out_type, scale.data(), pc, ozp, qmin, qmax); break;
    default: out = qk::OutputStage::dequantize(scale.data(), pc); break;
  }
  const std::size_t es = qk::output_type_size(out.type);
  const std::size_t out_bytes = c.batch * d.out_h() * d.out_w() * d.out_c * es, guard = 64;
  std::vector<std::uint8_t> got(out_bytes + guard, 0xCD), want(out_bytes + guard, 0xCD), via8(out_bytes + guard, 0xCD);
  INFO("isa=" << qk::isa_name(qk::active_isa()) << " batch=" << c.batch << " in=" << d.in_h << "x" << d.in_w << "x"
              << d.in_c << " out_c=" << d.out_c << " k=" << d.kernel_h << "x" << d.kernel_w << " s=" << d.stride_h << ","
              << d.stride_w << " dil=" << d.dilation_h << "," << d.dilation_w << " pad=" << d.pad_top << ","
              << d.pad_bottom << "," << d.pad_left << "," << d.pad_right << " groups=" << d.groups
              << " layout=" << static_cast<int>(d.weight_layout) << " x_s8=" << (d.input_type == qk::ElementType::s8)
              << " zx=" << d.input_zero_point << " zw=" << c.zw_mode << " stage=" << c.stage << " pc=" << c.per_channel
              << " fill=" << static_cast<int>(c.fill));

  qk::ConvPath path = qk::ConvPath::gemm;
  for (int pass = 0; pass < 2; ++pass) {  // 0: int4 weights; 1: the same weights as int8
    qk::ConvS8Desc dd = d;
    if (pass == 1) dd.weights = w8.data(), dd.weight_type = qk::ElementType::s8;
    qk::ConvS8 layer;
    const qk::Status st = layer.pack(dd);
    INFO("pass " << pass << " pack: " << st.message());
    REQUIRE(st.ok());
    REQUIRE(layer.isa() == qk::active_isa());
    if (pass == 0) path = layer.path();
    std::size_t ws_bytes = 0;
    REQUIRE(qk::conv_s8_workspace_size(layer, c.batch, threads, &ws_bytes).ok());
    std::vector<std::uint8_t> ws(ws_bytes + 1);
    qk::ThreadPool pool(threads);
    std::vector<std::uint8_t>& dst = pass == 0 ? got : via8;
    const qk::Status rs =
        qk::conv_s8(layer, c.batch, x.data(), out, dst.data(), ws.data() + 1, ws_bytes, threads > 1 ? &pool : nullptr);
    INFO("run: " << rs.message());
    REQUIRE(rs.ok());
  }
  qk::reference::conv2d_int8(d, c.batch, x.data(), out, want.data());
  INFO("path=" << qk::conv_path_name(path));
  REQUIRE(std::memcmp(got.data(), want.data(), got.size()) == 0);
  REQUIRE(std::memcmp(via8.data(), want.data(), got.size()) == 0);
  return path;
}

// A random valid case. kind: 1 pointwise, 2 general GEMM (groups sometimes), 3 depthwise.
Case random_case(std::mt19937& rng, int kind, std::size_t max_hw = 11, std::size_t max_c = 20) {
  for (;;) {
    Case c;
    qk::ConvS8Desc& d = c.d;
    c.batch = rng() % 3 == 0 ? pick(rng, 2, 3) : 1;
    d.in_h = pick(rng, 1, max_hw);
    d.in_w = pick(rng, 1, max_hw);
    if (kind == 1) {
      d.kernel_h = d.kernel_w = 1;
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
      if (kind == 3) {
        d.groups = d.in_c = pick(rng, 2, max_c * 4);
        d.out_c = d.in_c * (rng() % 3 == 0 ? pick(rng, 2, 3) : 1);
      } else {
        d.groups = rng() % 3 == 0 ? pick(rng, 2, 4) : 1;
        d.in_c = d.groups * pick(rng, 1, max_c);
        d.out_c = d.groups * pick(rng, 1, max_c);
      }
    }
    d.input_type = rng() & 1 ? qk::ElementType::s8 : qk::ElementType::u8;
    d.weight_type = qk::ElementType::s4;
    const int lo = d.input_type == qk::ElementType::s8 ? -128 : 0, hi = lo + 255;
    const int zsel = static_cast<int>(rng() % 4);
    d.input_zero_point = zsel == 0 ? 0 : zsel == 1 ? lo : zsel == 2 ? hi : std::uniform_int_distribution<int>(lo, hi)(rng);
    const int layout = static_cast<int>(rng() % 3);
    d.weight_layout = layout == 1 ? qk::ConvWeightLayout::oihw
                      : (layout == 2 && d.groups == d.in_c) ? qk::ConvWeightLayout::hwo
                                                            : qk::ConvWeightLayout::ohwi;
    c.zw_mode = rng() % 3 == 0 ? static_cast<int>(1 + rng() % 2) : 0;
    c.stage = static_cast<int>(rng() % 6);
    c.out_type = rng() & 1 ? qk::OutputType::s8 : qk::OutputType::u8;
    c.per_channel = rng() & 1;
    c.fill = static_cast<Fill>(rng() % 5 == 0 ? 1 + rng() % 3 : 0);
    d.weights = &c;  // placeholder for validation; run_case sets the real weights
    if (qk::detail::validate_conv_desc(d).ok()) return c;
  }
}

}  // namespace

TEST_CASE("conv_s4: every path and kernel matches the reference on random shapes") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(4004);
    int paths[3] = {0, 0, 0};
    for (int i = 0; i < 60; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 1), rng))];
    for (int i = 0; i < 150; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 2), rng))];
    for (int i = 0; i < 80; ++i) ++paths[static_cast<int>(run_case(random_case(rng, 3), rng))];
    INFO("pointwise " << paths[0] << ", gemm " << paths[1] << ", depthwise " << paths[2]);
    CHECK(paths[static_cast<int>(qk::ConvPath::pointwise)] >= 50);
    CHECK(paths[static_cast<int>(qk::ConvPath::gemm)] >= 120);
    CHECK(paths[static_cast<int>(qk::ConvPath::depthwise)] >= 70);
  }
}

// First-layer shapes (a kernel row's run of kernel_w * Cin <= 16 bytes): conv.hpp expands their
// int4 weights to int8 and reads the input rows in place by K group (row runs), or, with a
// weight zero point, gathers for the int4 tiles. Every stride, run length and padding.
TEST_CASE("conv_s4: first-layer shapes: strides, padding, run lengths") {
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
          d.out_c = pick(rng, 1, 40);
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
          d.weight_layout = qk::ConvWeightLayout::ohwi;
          c.zw_mode = rng() % 4 == 0 ? 2 : 0;  // with a zero point: gathered, int4 tiles
          c.batch = 2;
          if (!qk::detail::validate_conv_desc(d).ok()) continue;
          ++ran;
          gemm += run_case(c, rng) == qk::ConvPath::gemm;
        }
    CHECK(ran >= 50);
    CHECK(gemm == ran);
  }
}

TEST_CASE("conv_s4: extreme operands on every path") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(9);
    for (int kind = 1; kind <= 3; ++kind)
      for (Fill f : {Fill::extreme_hi, Fill::extreme_lo, Fill::mixed_extremes})
        for (auto xt : {qk::ElementType::s8, qk::ElementType::u8}) {
          Case c = random_case(rng, kind, 9, 40);
          c.fill = f;
          c.d.input_type = xt;
          c.d.input_zero_point = xt == qk::ElementType::s8 ? -128 : 255;
          run_case(c, rng);
          c.d.input_zero_point = 0, c.zw_mode = 0, c.stage = 0;
          run_case(c, rng);
        }
  }
}

TEST_CASE("conv_s4: larger layers, several GEMM row blocks, threads") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(55);
    for (int i = 0; i < 3; ++i) {
      Case c = random_case(rng, 2, 30, 40);
      c.d.groups = 1;
      c.d.in_c = 16 + rng() % 50, c.d.out_c = 20 + rng() % 60;
      c.d.kernel_h = c.d.kernel_w = 3, c.d.stride_h = c.d.stride_w = 1, c.d.dilation_h = c.d.dilation_w = 1;
      c.d.in_h = c.d.in_w = 24;
      c.d.pad_top = c.d.pad_bottom = c.d.pad_left = c.d.pad_right = 1;
      c.stage = 5;
      run_case(c, rng, i == 0 ? 1 : 3);
    }
    Case p = random_case(rng, 1);
    p.d.in_h = p.d.in_w = 40, p.d.in_c = 24, p.d.out_c = 144, p.stage = 5;
    run_case(p, rng, 2);
  }
}

TEST_CASE("conv_s4: argument errors") {
  std::vector<std::uint8_t> w(64, 0x7F);
  qk::ConvS8Desc d;
  d.in_h = d.in_w = 4, d.in_c = 3, d.out_c = 5, d.kernel_h = d.kernel_w = 2;
  d.weights = w.data();
  d.weight_type = qk::ElementType::s4;
  qk::ConvS8 layer;
  REQUIRE(layer.pack(d).ok());
  qk::ConvS8Desc bad = d;
  bad.input_type = qk::ElementType::s4;  // weights only
  CHECK(layer.pack(bad).code() == qk::StatusCode::invalid_argument);
  for (std::int32_t z : {-9, 8}) {
    bad = d;
    bad.weight_zero_point = &z;
    CHECK(layer.pack(bad).code() == qk::StatusCode::invalid_argument);
  }
  bad = d;
  bad.weight_type = static_cast<qk::ElementType>(3);
  CHECK(layer.pack(bad).code() == qk::StatusCode::invalid_argument);
  CHECK(layer.packed());  // a failed pack leaves the previous packing
}
