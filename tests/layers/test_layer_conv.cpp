// Conv2D, DepthwiseConv2D and FullyConnected layers (qk/layers/conv.hpp, fully_connected.hpp):
//  - the TFLite vectors at the top of the test data folder (conv, grouped, depthwise, FC; 8- and
//    4-bit weights) through the layers (the runners of tflite_cases_model.cpp), every ISA;
//  - layers built from FLOAT scales against a definition written here from the TFLite spec:
//    QuantizeMultiplier, bias rounding, the activation range and the convolution itself as plain
//    loops, MultiplyByQuantizedMultiplier from gemmlowp's formulas (nothing of qk's is called to
//    compute the expected values); random shapes, int8 and uint8 (int4 weights too), batch > 1,
//    every ISA;
//  - extremes (-128 / 127 / 0 / 255 operands, multipliers at 2^31 - 1, shifts -31 and 30);
//  - argument errors: each returns the right code and writes nothing.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/isa_sweep.hpp"
#include "common/test_data.hpp"
#include "layers/tflite_cases.hpp"
#include "qk/layers/conv.hpp"
#include "qk/layers/fully_connected.hpp"

namespace {

using qk::ElementType;
using qk::layers::Activation;
using qk::StatusCode;

// --- the definition, from TFLite's sources ------------------------------------------------

// QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc).
void tfl_quantize_multiplier(double real, std::int32_t* m, int* shift) {
  if (real == 0.0) {
    *m = 0, *shift = 0;
    return;
  }
  const double q = std::frexp(real, shift);
  auto q_fixed = static_cast<std::int64_t>(std::round(q * (std::int64_t{1} << 31)));
  if (q_fixed == (std::int64_t{1} << 31)) q_fixed /= 2, ++*shift;
  if (*shift < -31) *shift = 0, q_fixed = 0;
  *m = static_cast<std::int32_t>(q_fixed);
}

// gemmlowp SaturatingRoundingDoublingHighMul and RoundingDivideByPOT; TFLite's
// MultiplyByQuantizedMultiplier (left shift first, as two's complement wraps).
std::int32_t srdhm(std::int32_t a, std::int32_t b) {
  if (a == b && a == std::numeric_limits<std::int32_t>::min()) return std::numeric_limits<std::int32_t>::max();
  const std::int64_t ab = std::int64_t{a} * std::int64_t{b};
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : (1 - (std::int64_t{1} << 30));
  return static_cast<std::int32_t>((ab + nudge) / (std::int64_t{1} << 31));
}
std::int32_t rdpot(std::int32_t x, int e) {
  const std::int64_t mask = (std::int64_t{1} << e) - 1, rem = std::int64_t{x} & mask;
  const std::int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<std::int32_t>((std::int64_t{x} >> e) + (rem > threshold ? 1 : 0));
}
std::int32_t mbqm(std::int32_t x, std::int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const auto shifted = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << left);
  return rdpot(srdhm(shifted, m), right);
}

// TFLite's MultiplyByQuantizedMultiplier built with TFLITE_SINGLE_ROUNDING: the exact 64-bit
// product rounded once, half toward +infinity, by 31 - shift bits.
std::int32_t mbqm_single(std::int32_t x, std::int32_t m, int shift) {
  const int total_shift = 31 - shift;
  const std::int64_t round = std::int64_t{1} << (total_shift - 1);
  return static_cast<std::int32_t>((std::int64_t{x} * std::int64_t{m} + round) >> total_shift);
}

// Everything a reference conv needs, in TFLite's integer form.
struct RefParams {
  std::vector<std::int32_t> mult, bias, wzp;
  std::vector<int> shift;
  std::int32_t in_zp = 0, out_zp = 0, lo = -128, hi = 127;
  bool single_rounding = false;
  std::int32_t requantize(std::int32_t acc, std::size_t o) const {
    return single_rounding ? mbqm_single(acc, mult[o], shift[o]) : mbqm(acc, mult[o], shift[o]);
  }
};

// The float -> integer derivation of TFLite's Prepare, written from its sources.
RefParams tfl_prepare(float in_scale, std::int32_t in_zp, float out_scale, std::int32_t out_zp,
                      const std::vector<float>& wscale, const std::vector<std::int32_t>& wzp, const std::vector<float>& bias,
                      std::size_t out_c, Activation act, bool is_u8) {
  RefParams r;
  r.in_zp = in_zp, r.out_zp = out_zp;
  for (std::size_t c = 0; c < out_c; ++c) {
    const float ws = wscale[wscale.size() == 1 ? 0 : c];
    std::int32_t m = 0;
    int s = 0;
    tfl_quantize_multiplier(double{in_scale} * double{ws} / double{out_scale}, &m, &s);
    r.mult.push_back(m), r.shift.push_back(s);
    r.bias.push_back(bias.empty() ? 0 : static_cast<std::int32_t>(std::round(bias[c] / (in_scale * ws))));
    r.wzp.push_back(wzp.empty() ? 0 : wzp[wzp.size() == 1 ? 0 : c]);
  }
  const std::int32_t tmin = is_u8 ? 0 : -128, tmax = is_u8 ? 255 : 127;
  auto q = [&](float f) { return out_zp + static_cast<std::int32_t>(std::round(f / out_scale)); };
  std::int32_t lo = tmin, hi = tmax;
  if (act == Activation::relu) lo = q(0.0f);
  if (act == Activation::relu6) lo = q(0.0f), hi = q(6.0f);
  if (act == Activation::relu_n1_to_1) lo = q(-1.0f), hi = q(1.0f);
  r.lo = std::max(lo, tmin), r.hi = std::min(hi, tmax);
  return r;
}

struct RefConv {
  std::size_t n, ih, iw, ic, oc, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow, groups, mult;  // mult: depthwise
  bool depthwise;
};

// Plain loops: OHWI (conv, grouped) or [kh][kw][oc] (depthwise) weights; taps outside the image
// contribute nothing.
std::vector<std::int32_t> ref_conv(const RefConv& g, const std::vector<std::int32_t>& x, const std::vector<std::int32_t>& w,
                                   const RefParams& p) {
  std::vector<std::int32_t> y(g.n * g.oh * g.ow * g.oc);
  const std::size_t cg = g.depthwise ? 1 : g.ic / g.groups, og = g.depthwise ? g.mult : g.oc / g.groups;
  for (std::size_t b = 0; b < g.n; ++b)
    for (std::size_t oy = 0; oy < g.oh; ++oy)
      for (std::size_t ox = 0; ox < g.ow; ++ox)
        for (std::size_t o = 0; o < g.oc; ++o) {
          std::int64_t acc = p.bias[o];
          for (std::size_t ky = 0; ky < g.kh; ++ky)
            for (std::size_t kx = 0; kx < g.kw; ++kx) {
              const long long iy = static_cast<long long>(oy * g.sh + ky * g.dh) - static_cast<long long>(g.pt);
              const long long ix = static_cast<long long>(ox * g.sw + kx * g.dw) - static_cast<long long>(g.pl);
              if (iy < 0 || ix < 0 || iy >= static_cast<long long>(g.ih) || ix >= static_cast<long long>(g.iw)) continue;
              const std::size_t pix = ((b * g.ih + static_cast<std::size_t>(iy)) * g.iw + static_cast<std::size_t>(ix)) * g.ic;
              for (std::size_t c = 0; c < cg; ++c) {
                const std::size_t in_c = (o / og) * cg + c;
                const std::int32_t wv =
                    g.depthwise ? w[(ky * g.kw + kx) * g.oc + o] : w[((o * g.kh + ky) * g.kw + kx) * cg + c];
                acc += std::int64_t{x[pix + in_c] - p.in_zp} * (wv - p.wzp[o]);
              }
            }
          REQUIRE(acc >= std::numeric_limits<std::int32_t>::min());
          REQUIRE(acc <= std::numeric_limits<std::int32_t>::max());
          const std::int64_t v = std::int64_t{p.requantize(static_cast<std::int32_t>(acc), o)} + p.out_zp;
          y[((b * g.oh + oy) * g.ow + ox) * g.oc + o] = static_cast<std::int32_t>(std::min<std::int64_t>(std::max<std::int64_t>(v, p.lo), p.hi));
        }
  return y;
}

std::size_t same_out(std::size_t in, std::size_t s) { return (in + s - 1) / s; }
std::size_t same_pad_before(std::size_t in, std::size_t k, std::size_t s, std::size_t d) {
  const std::size_t out = same_out(in, s), eff = (k - 1) * d + 1;
  const long long total = static_cast<long long>((out - 1) * s + eff) - static_cast<long long>(in);
  return total > 0 ? static_cast<std::size_t>(total) / 2 : 0;
}

// Bytes of a tensor of `type` holding the int32 values v.
// int4 weights as TFLite stores them: two values a byte, the first in the low nibble.
std::vector<std::uint8_t> to_nibbles(const std::vector<std::int32_t>& v) {
  std::vector<std::uint8_t> out((v.size() + 1) / 2, 0);
  for (std::size_t i = 0; i < v.size(); ++i) out[i / 2] = static_cast<std::uint8_t>(out[i / 2] | ((v[i] & 15) << (4 * (i % 2))));
  return out;
}

std::vector<std::uint8_t> to_bytes(const std::vector<std::int32_t>& v) {
  std::vector<std::uint8_t> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = static_cast<std::uint8_t>(v[i] & 0xFF);
  return out;
}
std::int32_t from_byte(std::uint8_t b, bool is_u8) { return is_u8 ? b : static_cast<std::int8_t>(b); }

std::vector<std::int32_t> random_values(std::mt19937& rng, std::size_t n, std::int32_t lo, std::int32_t hi) {
  std::uniform_int_distribution<std::int32_t> d(lo, hi);
  std::vector<std::int32_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
float uniform(std::mt19937& rng, float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
std::size_t pick(std::mt19937& rng, std::size_t lo, std::size_t hi) { return std::uniform_int_distribution<std::size_t>(lo, hi)(rng); }

// Runs a built layer on input bytes; returns the output bytes (workspace from the layer).
std::vector<std::uint8_t> run_layer(const qk::layers::Layer& l, const std::vector<std::uint8_t>& in) {
  std::size_t out_n = 0, ws = 0;
  REQUIRE(l.output_shape().count(&out_n));
  REQUIRE(l.workspace_size(1, &ws).ok());
  std::vector<std::uint8_t> out(out_n + 8, 0xA5), work(ws + 1, 0xA5);  // poisoned workspace
  const void* p = in.data();
  const qk::Status st = l.run(&p, out.data(), work.data(), ws);
  INFO(st.message());
  REQUIRE(st.ok());
  for (std::size_t i = out_n; i < out.size(); ++i) REQUIRE(out[i] == 0xA5);
  out.resize(out_n);
  return out;
}

std::vector<std::string> top_level_cases(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) out.push_back(dir + "/" + name);
  }
  closedir(d);
  return out;
}

}  // namespace

TEST_CASE("conv / depthwise / FC layers: the TFLite top-level vectors through the layers, every ISA", "[layers][conv_layer][tflite]") {
  const char* env = std::getenv("QK_TFLITE_DIR");
  const std::string dir = env != nullptr && *env != '\0' ? env : QK_TFLITE_TESTDATA;
  if (qk_test::skip_missing_data(dir, "TFLite vectors")) return;
  std::vector<nlohmann::json> cases;
  for (const std::string& f : top_level_cases(dir)) {
    std::ifstream in(f);
    REQUIRE(in.good());
    cases.push_back(nlohmann::json::parse(in));
  }
  REQUIRE(cases.size() >= 90);
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    for (const nlohmann::json& c : cases) {
      const std::string op = c.at("op").get<std::string>();
      INFO("case " << c.at("name").get<std::string>() << " (" << op << ")");
      if (op == "conv2d") qk_test::run_conv2d_case(c);
      else if (op == "depthwise_conv2d") qk_test::run_depthwise_conv2d_case(c);
      else if (op == "fully_connected") qk_test::run_fully_connected_case(c);
      else FAIL("unknown op " << op);
      outputs += c.at("expected_output").size();
    }
    WARN("conv/FC layers (" << qk::isa_name(isa) << "): " << cases.size() << " TFLite cases, " << outputs << " outputs");
  }
}

namespace {

// One random conv or depthwise layer built from float, compared with the definition.
void check_random_conv(std::mt19937& rng, bool depthwise, std::size_t* outputs) {
  const bool u8 = pick(rng, 0, 2) == 0;
  const ElementType type = u8 ? ElementType::u8 : ElementType::s8;
  RefConv g{};
  g.depthwise = depthwise;
  g.n = pick(rng, 1, 3), g.ih = pick(rng, 1, 9), g.iw = pick(rng, 1, 9);
  g.kh = pick(rng, 1, 4), g.kw = pick(rng, 1, 4), g.sh = pick(rng, 1, 3), g.sw = pick(rng, 1, 3);
  g.dh = pick(rng, 0, 3) == 0 ? 2 : 1, g.dw = pick(rng, 0, 3) == 0 ? 2 : 1;
  if (depthwise) {
    g.ic = pick(rng, 1, 20), g.mult = pick(rng, 0, 2) == 0 ? pick(rng, 2, 3) : 1, g.oc = g.ic * g.mult, g.groups = g.ic;
  } else {
    g.groups = pick(rng, 0, 3) == 0 ? pick(rng, 2, 3) : 1;
    g.ic = g.groups * pick(rng, 1, 12), g.oc = g.groups * pick(rng, 1, 12);
  }
  const int padding = static_cast<int>(pick(rng, 0, 2));  // valid, same, explicit
  std::size_t pb = 0, pr = 0;
  if (padding == 1) {
    g.pt = same_pad_before(g.ih, g.kh, g.sh, g.dh), g.pl = same_pad_before(g.iw, g.kw, g.sw, g.dw);
    g.oh = same_out(g.ih, g.sh), g.ow = same_out(g.iw, g.sw);
  } else {
    g.pt = padding == 2 ? pick(rng, 0, 2) : 0, g.pl = padding == 2 ? pick(rng, 0, 2) : 0;
    pb = padding == 2 ? pick(rng, 0, 2) : 0, pr = padding == 2 ? pick(rng, 0, 2) : 0;
    const std::size_t eh = (g.kh - 1) * g.dh + 1, ew = (g.kw - 1) * g.dw + 1;
    if (eh > g.ih + g.pt + pb || ew > g.iw + g.pl + pr) return;  // kernel does not fit: another draw
    g.oh = (g.ih + g.pt + pb - eh) / g.sh + 1, g.ow = (g.iw + g.pl + pr - ew) / g.sw + 1;
  }
  const std::size_t cg = depthwise ? 1 : g.ic / g.groups;
  const std::size_t wcount = g.oc * g.kh * g.kw * cg;
  // Quantization as a model stores it.
  const float in_scale = uniform(rng, 0.005f, 0.05f);
  const std::int32_t in_zp = u8 ? static_cast<std::int32_t>(pick(rng, 0, 255)) : static_cast<std::int32_t>(pick(rng, 0, 255)) - 128;
  const bool per_channel = pick(rng, 0, 3) != 0;
  std::vector<float> wscale(per_channel ? g.oc : 1);
  for (float& s : wscale) s = uniform(rng, 0.002f, 0.02f);
  std::vector<std::int32_t> wzp;
  const bool asym = u8 || pick(rng, 0, 4) == 0;  // uint8 weights carry a zero point; int8 sometimes
  const bool wu8 = u8 && pick(rng, 0, 1) == 0;
  const bool w4 = !u8 && pick(rng, 0, 2) == 0;  // int4 weights (packed nibbles, ElementType::s4)
  const std::int32_t wlo = w4 ? -8 : wu8 ? 0 : -128, whi = w4 ? 7 : wu8 ? 255 : 127;
  const ElementType wtype = w4 ? ElementType::s4 : wu8 ? ElementType::u8 : ElementType::s8;
  if (asym) wzp = random_values(rng, wscale.size(), wlo, whi);
  std::vector<float> bias;
  if (pick(rng, 0, 3) != 0)
    for (std::size_t c = 0; c < g.oc; ++c) bias.push_back(uniform(rng, -2.0f, 2.0f));
  const float out_scale = in_scale * 0.01f * uniform(rng, 0.5f, 4.0f) * std::sqrt(static_cast<float>(g.kh * g.kw * cg));
  const std::int32_t out_zp = u8 ? static_cast<std::int32_t>(pick(rng, 0, 255)) : static_cast<std::int32_t>(pick(rng, 0, 255)) - 128;
  const auto act = static_cast<Activation>(pick(rng, 0, 3));

  const auto w = random_values(rng, wcount, wlo, whi);
  const auto x = random_values(rng, g.n * g.ih * g.iw * g.ic, u8 ? 0 : -128, u8 ? 255 : 127);
  const auto wb = w4 ? to_nibbles(w) : to_bytes(w), xb = to_bytes(x);

  qk::layers::FloatQuantization q;
  q.input = {in_scale, in_zp}, q.output = {out_scale, out_zp};
  q.weight_scales = wscale.data(), q.per_channel = per_channel;
  q.weight_zero_points = asym ? wzp.data() : nullptr;
  q.bias = bias.empty() ? nullptr : bias.data();
  q.activation = act;
  const bool single = pick(rng, 0, 2) == 0;  // TFLITE_SINGLE_ROUNDING's output stage
  q.rounding = single ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;

  qk::layers::ConvWindow win;
  win.kernel_h = g.kh, win.kernel_w = g.kw, win.stride_h = g.sh, win.stride_w = g.sw, win.dilation_h = g.dh, win.dilation_w = g.dw;
  win.padding = padding == 0 ? qk::layers::Padding::valid : padding == 1 ? qk::layers::Padding::same : qk::layers::Padding::explicit_pads;
  win.pad_top = g.pt, win.pad_left = g.pl, win.pad_bottom = pb, win.pad_right = pr;
  INFO("depthwise " << depthwise << " u8 " << u8 << " wu8 " << wu8 << " w4 " << w4 << " n " << g.n << " in " << g.ih << "x" << g.iw << "x" << g.ic
                    << " out_c " << g.oc << " k " << g.kh << "x" << g.kw << " s " << g.sh << "," << g.sw << " d " << g.dh << ","
                    << g.dw << " groups " << g.groups << " padding " << padding << " act " << static_cast<int>(act) << " single rounding " << single);
  std::vector<std::uint8_t> got;
  if (depthwise) {
    qk::layers::DepthwiseConv2DOptions o;
    static_cast<qk::layers::ConvWindow&>(o) = win;
    o.input = {g.n, g.ih, g.iw, g.ic}, o.depth_multiplier = g.mult, o.type = type;
    o.weight_type = wtype;
    qk::layers::DepthwiseConv2D l;
    const qk::Status st = l.init(o, wb.data(), q);
    INFO(st.message());
    REQUIRE(st.ok());
    REQUIRE(l.output_shape() == (qk::layers::Shape4{g.n, g.oh, g.ow, g.oc}));
    got = run_layer(l, xb);
  } else {
    qk::layers::Conv2DOptions o;
    static_cast<qk::layers::ConvWindow&>(o) = win;
    o.input = {g.n, g.ih, g.iw, g.ic}, o.out_c = g.oc, o.groups = g.groups, o.type = type;
    o.weight_type = wtype;
    qk::layers::Conv2D l;
    const qk::Status st = l.init(o, wb.data(), q);
    INFO(st.message());
    REQUIRE(st.ok());
    REQUIRE(l.output_shape() == (qk::layers::Shape4{g.n, g.oh, g.ow, g.oc}));
    got = run_layer(l, xb);
  }
  RefParams p = tfl_prepare(in_scale, in_zp, out_scale, out_zp, wscale, wzp, bias, g.oc, act, u8);
  p.single_rounding = single;
  const auto want = ref_conv(g, x, w, p);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("output " << i);
    REQUIRE(from_byte(got[i], u8) == want[i]);
  }
  *outputs += want.size();
}

}  // namespace

TEST_CASE("conv / depthwise layers built from float match TFLite's definition (random shapes, int8, uint8, int4 weights)", "[layers][conv_layer]") {
  std::mt19937 rng(20240611);
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    for (int i = 0; i < 60; ++i) check_random_conv(rng, false, &outputs);
    for (int i = 0; i < 60; ++i) check_random_conv(rng, true, &outputs);
    WARN("conv layers from float (" << qk::isa_name(isa) << "): 120 draws, " << outputs << " outputs");
  }
}

namespace {

// A fully connected layer as plain loops: weights [out_c][depth].
std::vector<std::int32_t> ref_fc(std::size_t batch, std::size_t depth, std::size_t out_c, const std::vector<std::int32_t>& x,
                                 const std::vector<std::int32_t>& w, const RefParams& p) {
  std::vector<std::int32_t> y(batch * out_c);
  for (std::size_t b = 0; b < batch; ++b)
    for (std::size_t o = 0; o < out_c; ++o) {
      std::int64_t acc = p.bias[o];
      for (std::size_t d = 0; d < depth; ++d) acc += std::int64_t{x[b * depth + d] - p.in_zp} * (w[o * depth + d] - p.wzp[o]);
      const std::int64_t v = std::int64_t{p.requantize(static_cast<std::int32_t>(acc), o)} + p.out_zp;
      y[b * out_c + o] = static_cast<std::int32_t>(std::min<std::int64_t>(std::max<std::int64_t>(v, p.lo), p.hi));
    }
  return y;
}

void check_random_fc(std::mt19937& rng, bool into_caller_memory, std::size_t* outputs) {
  const bool u8 = pick(rng, 0, 2) == 0, wu8 = u8 && pick(rng, 0, 1) == 0;
  const bool w4 = !u8 && pick(rng, 0, 2) == 0;  // int4 weights (packed nibbles, ElementType::s4)
  const std::int32_t wlo = w4 ? -8 : wu8 ? 0 : -128, whi = w4 ? 7 : wu8 ? 255 : 127;
  const std::size_t batch = pick(rng, 1, 5), depth = pick(rng, 1, 300), out_c = pick(rng, 1, 70);
  const float in_scale = uniform(rng, 0.005f, 0.05f);
  const std::int32_t in_zp = static_cast<std::int32_t>(pick(rng, 0, 255)) - (u8 ? 0 : 128);
  const bool per_channel = pick(rng, 0, 1) == 0;
  std::vector<float> wscale(per_channel ? out_c : 1);
  for (float& s : wscale) s = uniform(rng, 0.002f, 0.02f);
  std::vector<std::int32_t> wzp;
  if (u8 || pick(rng, 0, 3) == 0) wzp = random_values(rng, wscale.size(), wlo, whi);
  std::vector<float> bias;
  if (pick(rng, 0, 3) != 0)
    for (std::size_t c = 0; c < out_c; ++c) bias.push_back(uniform(rng, -2.0f, 2.0f));
  const float out_scale = in_scale * 0.01f * uniform(rng, 0.5f, 4.0f) * std::sqrt(static_cast<float>(depth));
  const std::int32_t out_zp = static_cast<std::int32_t>(pick(rng, 0, 255)) - (u8 ? 0 : 128);
  const auto act = static_cast<Activation>(pick(rng, 0, 3));
  const auto w = random_values(rng, out_c * depth, wlo, whi);
  const auto x = random_values(rng, batch * depth, u8 ? 0 : -128, u8 ? 255 : 127);
  const auto wb = w4 ? to_nibbles(w) : to_bytes(w), xb = to_bytes(x);
  qk::layers::FloatQuantization q;
  q.input = {in_scale, in_zp}, q.output = {out_scale, out_zp};
  q.weight_scales = wscale.data(), q.per_channel = per_channel;
  q.weight_zero_points = wzp.empty() ? nullptr : wzp.data();
  q.bias = bias.empty() ? nullptr : bias.data();
  q.activation = act;
  const bool single = pick(rng, 0, 2) == 0;
  q.rounding = single ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;
  qk::layers::FullyConnectedOptions o;
  o.batch = batch, o.depth = depth, o.out_c = out_c, o.type = u8 ? ElementType::u8 : ElementType::s8;
  o.weight_type = w4 ? ElementType::s4 : wu8 ? ElementType::u8 : ElementType::s8;
  INFO("u8 " << u8 << " wu8 " << wu8 << " w4 " << w4 << " batch " << batch << " depth " << depth << " out_c " << out_c << " per_channel " << per_channel
             << " caller memory " << into_caller_memory << " single rounding " << single);
  qk::layers::FullyConnected l;
  std::vector<std::uint8_t> packed;
  qk::Status st;
  if (into_caller_memory) {
    std::size_t bytes = 0;
    REQUIRE(qk::layers::FullyConnected::packed_size(o, &bytes).ok());
    packed.assign(bytes, 0);
    st = l.init(o, wb.data(), q, packed.data(), bytes);
  } else {
    st = l.init(o, wb.data(), q);
  }
  INFO(st.message());
  REQUIRE(st.ok());
  const auto got = run_layer(l, xb);
  RefParams p = tfl_prepare(in_scale, in_zp, out_scale, out_zp, wscale, wzp, bias, out_c, act, u8);
  p.single_rounding = single;
  const auto want = ref_fc(batch, depth, out_c, x, w, p);
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO("output " << i);
    REQUIRE(from_byte(got[i], u8) == want[i]);
  }
  *outputs += want.size();
}

}  // namespace

TEST_CASE("FullyConnected built from float matches TFLite's definition (own and caller memory, int4 weights)", "[layers][conv_layer][fc_layer]") {
  std::mt19937 rng(777);
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    for (int i = 0; i < 80; ++i) check_random_fc(rng, i % 2 == 1, &outputs);
    WARN("FC layers from float (" << qk::isa_name(isa) << "): 80 draws, " << outputs << " outputs");
  }
}

TEST_CASE("conv / depthwise / FC layers at the extremes: -128/127/0/255 operands, largest multipliers and shifts", "[layers][conv_layer]") {
  // Prepared integers, so that the extreme multipliers and shifts reach the layer as they are.
  const std::int32_t mults[] = {1 << 30, std::numeric_limits<std::int32_t>::max()};
  const int shifts[] = {-31, -20, -1, 0, 1, 10, 30};
  QK_FOR_EACH_ISA(isa) {
    std::size_t outputs = 0;
    for (const bool u8 : {false, true})
      for (const std::int32_t m : mults)
        for (const int sh : shifts)
          for (int pattern = 0; pattern < 3; ++pattern) {
            const std::int32_t lo = u8 ? 0 : -128, hi = u8 ? 255 : 127;
            // All-low, all-high, or alternating operands; zero points at the type's ends.
            auto fill = [&](std::size_t n, int salt) {
              std::vector<std::int32_t> v(n);
              for (std::size_t i = 0; i < n; ++i)
                v[i] = pattern == 0 ? lo : pattern == 1 ? hi : ((i + static_cast<std::size_t>(salt)) % 2 == 0 ? lo : hi);
              return v;
            };
            RefConv g{};
            g.n = 2, g.ih = 5, g.iw = 6, g.ic = 8, g.oc = 8, g.kh = 3, g.kw = 3, g.sh = 1, g.sw = 2, g.dh = 1, g.dw = 1, g.pt = 1,
            g.pl = 1, g.groups = 1, g.mult = 1;
            g.oh = 5, g.ow = 3;
            const std::int32_t in_zp = pattern == 0 ? hi : lo, out_zp = hi;
            RefParams p;
            p.in_zp = in_zp, p.out_zp = out_zp, p.lo = lo, p.hi = hi;
            p.mult.assign(g.oc, m), p.shift.assign(g.oc, sh), p.bias.assign(g.oc, pattern == 1 ? -1000000 : 1000000);
            p.wzp.assign(g.oc, 0);
            std::vector<std::int32_t> shift32(p.shift.begin(), p.shift.end());
            qk::layers::PreparedQuantization q;
            q.input_offset = -in_zp, q.output_offset = out_zp, q.multiplier = p.mult.data(), q.shift = shift32.data();
            q.bias = p.bias.data(), q.act_min = lo, q.act_max = hi;
            const auto x = fill(g.n * g.ih * g.iw * g.ic, 0);
            for (const bool depthwise : {false, true}) {
              g.depthwise = depthwise;
              g.groups = depthwise ? g.ic : 1;
              std::vector<std::int32_t> wv(depthwise ? g.kh * g.kw * g.oc : g.oc * g.kh * g.kw * g.ic);
              for (std::size_t i = 0; i < wv.size(); ++i) wv[i] = pattern == 2 ? (i % 3 == 0 ? -128 : 127) : (pattern == 0 ? -128 : 127);
              const auto wb = to_bytes(wv), xb = to_bytes(x);
              qk::layers::ConvWindow win;
              win.kernel_h = 3, win.kernel_w = 3, win.stride_w = 2, win.padding = qk::layers::Padding::explicit_pads;
              win.pad_top = win.pad_bottom = win.pad_left = win.pad_right = 1;
              std::vector<std::uint8_t> got;
              if (depthwise) {
                qk::layers::DepthwiseConv2DOptions o;
                static_cast<qk::layers::ConvWindow&>(o) = win;
                o.input = {g.n, g.ih, g.iw, g.ic}, o.type = u8 ? ElementType::u8 : ElementType::s8;
                qk::layers::DepthwiseConv2D l;
                REQUIRE(l.init(o, wb.data(), q).ok());
                got = run_layer(l, xb);
              } else {
                qk::layers::Conv2DOptions o;
                static_cast<qk::layers::ConvWindow&>(o) = win;
                o.input = {g.n, g.ih, g.iw, g.ic}, o.out_c = g.oc, o.type = u8 ? ElementType::u8 : ElementType::s8;
                qk::layers::Conv2D l;
                REQUIRE(l.init(o, wb.data(), q).ok());
                got = run_layer(l, xb);
              }
              const auto want = ref_conv(g, x, wv, p);
              INFO("u8 " << u8 << " m " << m << " shift " << sh << " pattern " << pattern << " depthwise " << depthwise);
              REQUIRE(got.size() == want.size());
              for (std::size_t i = 0; i < want.size(); ++i) {
                INFO("output " << i);
                REQUIRE(from_byte(got[i], u8) == want[i]);
              }
              outputs += want.size();
            }
            // FC with the same extremes, batch 3.
            const std::size_t depth = 37;
            const auto fx = fill(3 * depth, 1);
            std::vector<std::int32_t> fw(g.oc * depth);
            for (std::size_t i = 0; i < fw.size(); ++i) fw[i] = pattern == 0 ? -128 : pattern == 1 ? 127 : (i % 2 == 0 ? -128 : 127);
            qk::layers::FullyConnectedOptions o;
            o.batch = 3, o.depth = depth, o.out_c = g.oc, o.type = u8 ? ElementType::u8 : ElementType::s8;
            qk::layers::FullyConnected l;
            REQUIRE(l.init(o, to_bytes(fw).data(), q).ok());
            const auto got = run_layer(l, to_bytes(fx));
            const auto want = ref_fc(3, depth, g.oc, fx, fw, p);
            for (std::size_t i = 0; i < want.size(); ++i) {
              INFO("FC u8 " << u8 << " m " << m << " shift " << sh << " pattern " << pattern << " output " << i);
              REQUIRE(from_byte(got[i], u8) == want[i]);
            }
            outputs += want.size();
          }
    WARN("conv/FC layer extremes (" << qk::isa_name(isa) << "): " << outputs << " outputs");
  }
}

namespace {

// A valid 2x4x4x3 -> 3x3 conv (8 outputs channels) and its float quantization, for the error
// tests to break one field at a time.
struct ErrorFixture {
  std::vector<std::int8_t> w = std::vector<std::int8_t>(8 * 3 * 3 * 3, 3);
  std::vector<std::int8_t> dw_w = std::vector<std::int8_t>(3 * 3 * 3, 2);
  std::vector<std::int8_t> x = std::vector<std::int8_t>(2 * 4 * 4 * 3, 5);
  std::vector<float> scales = std::vector<float>(8, 0.01f);
  std::vector<std::int32_t> mult = std::vector<std::int32_t>(8, 1 << 30), shift = std::vector<std::int32_t>(8, -3);
  qk::layers::Conv2DOptions conv() const {
    qk::layers::Conv2DOptions o;
    o.input = {2, 4, 4, 3}, o.out_c = 8, o.kernel_h = o.kernel_w = 3, o.padding = qk::layers::Padding::same;
    return o;
  }
  qk::layers::DepthwiseConv2DOptions dw() const {
    qk::layers::DepthwiseConv2DOptions o;
    o.input = {2, 4, 4, 3}, o.kernel_h = o.kernel_w = 3, o.padding = qk::layers::Padding::same;
    return o;
  }
  qk::layers::FullyConnectedOptions fc() const {
    qk::layers::FullyConnectedOptions o;
    o.batch = 2, o.depth = 27, o.out_c = 8;
    return o;
  }
  qk::layers::FloatQuantization fq() const {
    qk::layers::FloatQuantization q;
    q.input = {0.02f, 1}, q.output = {0.05f, -3}, q.weight_scales = scales.data();
    return q;
  }
  qk::layers::PreparedQuantization pq() const {
    qk::layers::PreparedQuantization q;
    q.input_offset = -1, q.output_offset = -3, q.multiplier = mult.data(), q.shift = shift.data();
    return q;
  }
};

// A layer that fails to init leaves its previous state: built, same shape, same results.
template <class L, class O, class Q>
void expect_init_error(const L& good, L* layer, const O& o, const void* w, const Q& q, StatusCode code, const char* name,
                       const std::vector<std::uint8_t>& in, const std::vector<std::uint8_t>& before) {
  const qk::Status st = layer->init(o, w, q);
  INFO("expected " << static_cast<int>(code) << ", got " << st.message());
  REQUIRE(st.code() == code);
  if (name != nullptr) {
    REQUIRE(st.value_name() != nullptr);
    REQUIRE(std::string(st.value_name()) == name);
  }
  REQUIRE(layer->built());
  REQUIRE(layer->output_shape() == good.output_shape());
  REQUIRE(run_layer(*layer, in) == before);
}

}  // namespace

TEST_CASE("conv / depthwise / FC layers: argument errors name the argument and write nothing", "[layers][conv_layer][errors]") {
  ErrorFixture f;
  const std::vector<std::uint8_t> in(f.x.begin(), f.x.end());
  qk::layers::Conv2D good, conv;
  REQUIRE(good.init(f.conv(), f.w.data(), f.fq()).ok());
  REQUIRE(conv.init(f.conv(), f.w.data(), f.fq()).ok());
  const auto before = run_layer(conv, in);

  SECTION("Conv2D init errors (float)") {
    auto o = f.conv();
    auto q = f.fq();
    expect_init_error(good, &conv, o, nullptr, q, StatusCode::null_pointer, nullptr, in, before);
    o.input.n = 0;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::bad_shape, "n", in, before);
    o = f.conv(), o.kernel_h = 0;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::bad_shape, nullptr, in, before);
    o = f.conv(), o.groups = 2;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::bad_shape, "groups", in, before);
    o = f.conv(), o.padding = static_cast<qk::layers::Padding>(7);
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "padding", in, before);
    o = f.conv(), o.padding = qk::layers::Padding::valid, o.kernel_h = 5;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::bad_shape, "kernel_h", in, before);
    o = f.conv(), o.input.h = std::numeric_limits<std::size_t>::max() / 2;
    {
      const qk::Status st = conv.init(o, f.w.data(), q);
      REQUIRE(!st.ok());
      REQUIRE((st.code() == StatusCode::size_overflow || st.code() == StatusCode::bad_shape));
    }
    o = f.conv(), o.type = static_cast<ElementType>(9);
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "type", in, before);
    o = f.conv(), o.weight_type = static_cast<ElementType>(9);
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "weight_type", in, before);
    o = f.conv();
    q.weight_scales = nullptr;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::null_pointer, nullptr, in, before);
    for (const float bad : {0.0f, -1.0f, std::nanf(""), std::numeric_limits<float>::infinity()}) {
      q = f.fq(), q.input.scale = bad;
      expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, nullptr, in, before);
      q = f.fq(), q.output.scale = bad;
      expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, nullptr, in, before);
      std::vector<float> s = f.scales;
      s[5] = bad;
      q = f.fq(), q.weight_scales = s.data();
      expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "weight_scale", in, before);
    }
    q = f.fq(), q.input.zero_point = 128;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "input_zero_point", in, before);
    q = f.fq(), q.output.zero_point = -129;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "output_zero_point", in, before);
    const std::vector<std::int32_t> zp(8, 200);
    q = f.fq(), q.weight_zero_points = zp.data();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "weight_zero_point", in, before);
    const std::vector<float> bias(8, std::nanf(""));
    q = f.fq(), q.bias = bias.data();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "bias", in, before);
    q = f.fq(), q.activation = static_cast<Activation>(9);
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "act", in, before);
    q = f.fq(), q.rounding = static_cast<qk::RequantRounding>(2);
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "rounding", in, before);
    // A multiplier of 2^30 or more (weight scale huge against the output's) cannot be applied.
    std::vector<float> big(8, 1e12f);
    q = f.fq(), q.weight_scales = big.data();
    REQUIRE(!conv.init(o, f.w.data(), q).ok());
    REQUIRE(run_layer(conv, in) == before);
  }
  SECTION("Conv2D init errors (prepared integers)") {
    const auto o = f.conv();
    auto q = f.pq();
    q.multiplier = nullptr;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::null_pointer, nullptr, in, before);
    q = f.pq(), q.input_offset = 129;  // zero point -129
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "input_offset", in, before);
    q = f.pq(), q.input_offset = std::numeric_limits<std::int32_t>::min();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "input_offset", in, before);
    q = f.pq(), q.output_offset = 128;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "output_offset", in, before);
    q = f.pq(), q.act_min = 10, q.act_max = 9;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "act_min", in, before);
    q = f.pq(), q.act_max = 128;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "act_max", in, before);
    std::vector<std::int32_t> s = f.shift;
    s[7] = 31;
    q = f.pq(), q.shift = s.data();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "shift", in, before);
    s[7] = -32;
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "shift", in, before);
    std::vector<std::int32_t> m = f.mult;
    m[3] = -1;
    q = f.pq(), q.multiplier = m.data();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "multiplier", in, before);
    const std::vector<std::int32_t> off(8, 129);  // weight zero point -129
    q = f.pq(), q.weight_offsets = off.data();
    expect_init_error(good, &conv, o, f.w.data(), q, StatusCode::invalid_argument, "weight_zero_point", in, before);
  }
  SECTION("DepthwiseConv2D and FullyConnected init errors") {
    qk::layers::DepthwiseConv2D dgood, dw;
    REQUIRE(dgood.init(f.dw(), f.dw_w.data(), f.fq()).ok());
    REQUIRE(dw.init(f.dw(), f.dw_w.data(), f.fq()).ok());
    const auto dbefore = run_layer(dw, in);
    auto o = f.dw();
    o.depth_multiplier = 0;
    expect_init_error(dgood, &dw, o, f.dw_w.data(), f.fq(), StatusCode::bad_shape, "depth_multiplier", in, dbefore);
    o = f.dw(), o.depth_multiplier = std::numeric_limits<std::size_t>::max();
    expect_init_error(dgood, &dw, o, f.dw_w.data(), f.fq(), StatusCode::size_overflow, "depth_multiplier", in, dbefore);
    expect_init_error(dgood, &dw, f.dw(), nullptr, f.fq(), StatusCode::null_pointer, nullptr, in, dbefore);
    o = f.dw(), o.stride_h = 0;
    expect_init_error(dgood, &dw, o, f.dw_w.data(), f.fq(), StatusCode::bad_shape, nullptr, in, dbefore);

    qk::layers::FullyConnected fgood, fc;
    REQUIRE(fgood.init(f.fc(), f.w.data(), f.fq()).ok());
    REQUIRE(fc.init(f.fc(), f.w.data(), f.fq()).ok());
    const std::vector<std::uint8_t> fin(in.begin(), in.begin() + 54);
    const auto fbefore = run_layer(fc, fin);
    auto fo = f.fc();
    fo.depth = 0;
    expect_init_error(fgood, &fc, fo, f.w.data(), f.fq(), StatusCode::bad_shape, "depth", fin, fbefore);
    fo = f.fc(), fo.batch = 0;
    expect_init_error(fgood, &fc, fo, f.w.data(), f.fq(), StatusCode::bad_shape, "batch", fin, fbefore);
    fo = f.fc(), fo.out_c = 0;
    expect_init_error(fgood, &fc, fo, f.w.data(), f.fq(), StatusCode::bad_shape, "out_c", fin, fbefore);
    fo = f.fc(), fo.batch = std::numeric_limits<std::size_t>::max() / 4;
    expect_init_error(fgood, &fc, fo, f.w.data(), f.fq(), StatusCode::size_overflow, "batch", fin, fbefore);
    expect_init_error(fgood, &fc, f.fc(), nullptr, f.fq(), StatusCode::null_pointer, nullptr, fin, fbefore);
    auto fq = f.pq();
    fq.output_offset = 128;  // the one generated TFLite FC case that has it: outside int8, refused
    expect_init_error(fgood, &fc, f.fc(), f.w.data(), fq, StatusCode::invalid_argument, "output_offset", fin, fbefore);
    // Packing into caller memory: too small, and the size query.
    std::size_t bytes = 0;
    REQUIRE(qk::layers::FullyConnected::packed_size(f.fc(), &bytes).ok());
    REQUIRE(bytes > 0);
    std::vector<std::uint8_t> buf(bytes, 0x77);
    const qk::Status st = fc.init(f.fc(), f.w.data(), f.fq(), buf.data(), bytes - 1);
    REQUIRE(st.code() == StatusCode::buffer_too_small);
    for (std::uint8_t b : buf) REQUIRE(b == 0x77);
    REQUIRE(run_layer(fc, fin) == fbefore);
    REQUIRE(fc.init(f.fc(), f.w.data(), f.fq(), buf.data(), bytes).ok());
    REQUIRE(run_layer(fc, fin) == fbefore);
    REQUIRE(qk::layers::FullyConnected::packed_size(f.fc(), nullptr).code() == StatusCode::null_pointer);
  }
  SECTION("run errors write nothing") {
    std::size_t ws = 0;
    REQUIRE(conv.workspace_size(1, &ws).ok());
    REQUIRE(conv.workspace_size(1, nullptr).code() == StatusCode::null_pointer);
    std::vector<std::uint8_t> work(ws + 64), out(2 * 4 * 4 * 8 + 8, 0xEE);
    const void* p = in.data();
    const void* null_in = nullptr;
    auto untouched = [&] {
      for (std::uint8_t b : out) REQUIRE(b == 0xEE);
    };
    REQUIRE(conv.run(nullptr, out.data(), work.data(), ws).code() == StatusCode::null_pointer);
    REQUIRE(conv.run(&null_in, out.data(), work.data(), ws).code() == StatusCode::null_pointer);
    REQUIRE(conv.run(&p, nullptr, work.data(), ws).code() == StatusCode::null_pointer);
    untouched();
    if (ws > 0) {
      REQUIRE(conv.run(&p, out.data(), nullptr, ws).code() == StatusCode::null_pointer);
      REQUIRE(conv.run(&p, out.data(), work.data(), ws - 1).code() == StatusCode::buffer_too_small);
      untouched();
    }
    qk::layers::Conv2D unbuilt;
    REQUIRE(!unbuilt.built());
    REQUIRE(unbuilt.run(&p, out.data(), work.data(), ws).code() == StatusCode::invalid_argument);
    REQUIRE(unbuilt.workspace_size(1, &ws).code() == StatusCode::invalid_argument);
    qk::layers::FullyConnected fc_unbuilt;
    REQUIRE(fc_unbuilt.run(&p, out.data(), nullptr, 0).code() == StatusCode::invalid_argument);
    qk::layers::FullyConnected fc;
    REQUIRE(fc.init(f.fc(), f.w.data(), f.fq()).ok());
    REQUIRE(fc.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
    REQUIRE(fc.run(&p, nullptr, nullptr, 0).code() == StatusCode::null_pointer);
    untouched();
  }
}

TEST_CASE("conv / FC layers from float derive TFLite's integers (multipliers, bias, activation clamp)", "[layers][conv_layer]") {
  // A per-tensor FC: every channel gets the one multiplier; bias rounds half away from zero;
  // relu6 with scale 0.05, zero point -3: [-3, -3 + 120].
  const std::vector<std::int8_t> w(4 * 2, 1);
  const float ws = 0.5f;
  const std::vector<float> bias = {0.025f, -0.025f, 0.035f, 1e30f};  // / (0.1 * 0.5): 0.5, -0.5, 0.7, saturates
  qk::layers::FloatQuantization q;
  q.input = {0.1f, 0}, q.output = {0.05f, -3}, q.weight_scales = &ws, q.per_channel = false, q.bias = bias.data();
  q.activation = Activation::relu6;
  qk::layers::FullyConnectedOptions o;
  o.depth = 2, o.out_c = 4;
  qk::layers::FullyConnected l;
  REQUIRE(l.init(o, w.data(), q).ok());
  std::int32_t m = 0;
  int s = 0;
  tfl_quantize_multiplier(double{0.1f} * double{0.5f} / double{0.05f}, &m, &s);
  for (int c = 0; c < 4; ++c) {
    REQUIRE(l.multipliers()[c] == m);
    REQUIRE(l.shifts()[c] == s);
  }
  REQUIRE(l.bias()[0] == static_cast<std::int32_t>(std::round(0.025f / (0.1f * 0.5f))));
  REQUIRE(l.bias()[1] == static_cast<std::int32_t>(std::round(-0.025f / (0.1f * 0.5f))));
  REQUIRE(l.bias()[2] == static_cast<std::int32_t>(std::round(0.035f / (0.1f * 0.5f))));
  REQUIRE(l.bias()[3] == std::numeric_limits<std::int32_t>::max());
  REQUIRE(l.act_min() == -3);
  REQUIRE(l.act_max() == -3 + 120);
}
