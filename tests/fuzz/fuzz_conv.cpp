// fuzz_conv: validation of the convolution entry points with adversarial arguments.
//
// int8: ConvS8::pack (every path: pointwise, gathered GEMM, depthwise), conv_s8_workspace_size
// and conv_s8; fp32: ConvF32::pack, conv_f32_workspace_size and conv_f32; the padding helpers
// conv_same_padding / set_same_padding. Sizes, channels, kernel, strides, dilations, paddings and
// groups from 0 to SIZE_MAX, raw enum values (Isa, weight layout, element types, output stage),
// zero points outside their types, every kind of bad output stage, short or null workspaces.
//
// Checked: no crash, no sanitizer report; a shape this file's model says is invalid (a zero
// size, groups not dividing the channels, a kernel larger than the padded input, a count that
// overflows size_t, HWO weights with groups != Cin) is refused, and one it says is valid and
// small is packed; failing calls write nothing (canaries); a successful run writes nothing past
// the output and (int8, valid enums) equals qk::reference::conv2d_int8; fp32 outputs respect the
// clamp; same padding yields ceil(input / stride) outputs.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_stage.hpp"
#include "qk/conv.hpp"
#include "qk/conv_f32.hpp"
#include "qk/reference/conv.hpp"

namespace {

using namespace qk_fuzz;
using u128 = unsigned __int128;

constexpr std::size_t kMaxWorkspace = std::size_t{16} << 20;

// The model of a convolution's geometry, in 128-bit arithmetic.
struct Geometry {
  bool valid = false;
  std::size_t out_h = 0, out_w = 0, weights = 0, in_pixels = 0, out_pixels = 0;  // element counts
};

u128 out_size(std::size_t in, std::size_t before, std::size_t after, std::size_t k, std::size_t stride, std::size_t dil) {
  const u128 padded = u128{in} + before + after, ext = u128{k - 1} * dil + 1;
  return ext > padded ? 0 : (padded - ext) / stride + 1;
}

Geometry model(const qk::ConvGeometry& d) {
  Geometry g;
  constexpr std::size_t kMax = kSizeMax >> 4;  // qk's documented limit on every parameter
  const std::size_t fields[] = {d.in_h, d.in_w, d.in_c, d.out_c, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w,
                                d.dilation_h, d.dilation_w, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, d.groups};
  for (std::size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); ++i) {
    if (fields[i] > kMax) return g;
    if (fields[i] == 0 && (i < 10 || i == 14)) return g;
  }
  if (d.in_c % d.groups != 0 || d.out_c % d.groups != 0) return g;
  if (d.weight_layout == qk::ConvWeightLayout::hwo && d.groups != d.in_c) return g;
  const u128 oh = out_size(d.in_h, d.pad_top, d.pad_bottom, d.kernel_h, d.stride_h, d.dilation_h);
  const u128 ow = out_size(d.in_w, d.pad_left, d.pad_right, d.kernel_w, d.stride_w, d.dilation_w);
  if (oh == 0 || ow == 0) return g;
  const u128 taps = u128{d.kernel_h} * d.kernel_w, k = taps * (d.in_c / d.groups);
  const u128 w = k * d.out_c, in = u128{d.in_h} * d.in_w * d.in_c, out = oh * ow;
  if (taps > kMax || k > kMax || w > kSizeMax || in > kSizeMax || out > kSizeMax || out * d.out_c > kSizeMax) return g;
  g.valid = true;
  g.out_h = static_cast<std::size_t>(oh), g.out_w = static_cast<std::size_t>(ow);
  g.weights = static_cast<std::size_t>(w), g.in_pixels = static_cast<std::size_t>(in);
  g.out_pixels = static_cast<std::size_t>(out);
  return g;
}

bool layout_ok(const qk::ConvGeometry& d) { return static_cast<unsigned>(d.weight_layout) < 3; }

// Images small enough that a real program could run the layer.
bool runnable(const qk::ConvGeometry& d, const Geometry& g) {
  std::size_t out = 0;
  constexpr std::size_t kImage = std::size_t{16} << 20;
  return g.in_pixels <= kImage && mul(g.out_pixels, d.out_c, &out) && out <= kImage && d.pad_top <= kImage &&
         d.pad_bottom <= kImage && d.pad_left <= kImage && d.pad_right <= kImage;
}

void describe(const qk::ConvGeometry& d) {
  std::fprintf(stderr, "conv: in %zux%zux%zu out_c %zu kernel %zux%zu stride %zux%zu dilation %zux%zu pad %zu,%zu,%zu,%zu groups %zu layout %d\n",
               d.in_h, d.in_w, d.in_c, d.out_c, d.kernel_h, d.kernel_w, d.stride_h, d.stride_w, d.dilation_h,
               d.dilation_w, d.pad_top, d.pad_bottom, d.pad_left, d.pad_right, d.groups, static_cast<int>(d.weight_layout));
}

void decode_geometry(Reader& in, qk::ConvGeometry* d) {
  d->in_h = in.size(14);
  d->in_w = in.size(14);
  d->in_c = in.size(12);
  d->out_c = in.size(12);
  d->kernel_h = in.size(5);
  d->kernel_w = in.size(5);
  d->stride_h = in.size(4);
  d->stride_w = in.size(4);
  d->dilation_h = in.u8() < 200 ? 1 : in.size(3);
  d->dilation_w = in.u8() < 200 ? 1 : in.size(3);
  switch (in.u8() % 4) {
    case 0: d->groups = 1; break;
    case 1: d->groups = d->in_c; break;  // depthwise
    case 2: d->groups = in.range(1, 4); break;
    default: d->groups = in.size(8); break;
  }
  if (in.u8() % 4 == 1) d->out_c = d->in_c * in.range(1, 3);
  d->weight_layout = in.any_enum<qk::ConvWeightLayout>(3);
  if (in.u8() < 200 && d->groups == d->in_c && d->weight_layout == qk::ConvWeightLayout::ohwi && in.flag())
    d->weight_layout = qk::ConvWeightLayout::hwo;
  switch (in.u8() % 4) {
    case 0: d->set_valid_padding(); break;
    case 1: {
      d->pad_top = d->pad_bottom = d->pad_left = d->pad_right = 7;
      const qk::Status st = d->set_same_padding(in.flag());
      if (!st.ok()) QK_FUZZ_CHECK(d->pad_top == 7 && d->pad_bottom == 7 && d->pad_left == 7 && d->pad_right == 7);
      break;
    }
    default:
      d->pad_top = in.size(4), d->pad_bottom = in.size(4), d->pad_left = in.size(4), d->pad_right = in.size(4);
  }
}

// ------------------------------------------------------------------------------------------------
// Padding helpers.

void fuzz_same_padding(Reader& in) {
  const std::size_t input = in.size(300), kernel = in.size(9), stride = in.size(5), dilation = in.size(4);
  const bool extra = in.flag();
  qk::ConvPad pad;
  pad.before = pad.after = 0xA5A5;
  const bool ok = qk::conv_same_padding(input, kernel, stride, dilation, extra, &pad);
  QK_FUZZ_CHECK(!qk::conv_same_padding(input, kernel, stride, dilation, extra, nullptr));
  if (input == 0 || kernel == 0 || stride == 0 || dilation == 0) QK_FUZZ_CHECK(!ok);
  if (!ok) {
    QK_FUZZ_CHECK(pad.before == 0xA5A5 && pad.after == 0xA5A5);
    return;
  }
  // The padding it returns gives ceil(input / stride) outputs, split as documented.
  const u128 want = (u128{input} + stride - 1) / stride;
  const u128 total = u128{pad.before} + pad.after;
  QK_FUZZ_CHECK(extra ? pad.after >= pad.before && pad.after - pad.before <= 1
                      : pad.before >= pad.after && pad.before - pad.after <= 1);
  const u128 needed = (want - 1) * stride + u128{kernel - 1} * dilation + 1;
  if (total != (needed > input ? needed - input : 0) || out_size(input, pad.before, pad.after, kernel, stride, dilation) != want)
    std::fprintf(stderr, "same padding: input %zu kernel %zu stride %zu dilation %zu -> %zu + %zu\n", input, kernel, stride,
                 dilation, pad.before, pad.after);
  QK_FUZZ_CHECK(total == (needed > input ? needed - input : 0));
  QK_FUZZ_CHECK(out_size(input, pad.before, pad.after, kernel, stride, dilation) == want);
}

// ------------------------------------------------------------------------------------------------
// int8

void run_s8(Reader& in, const qk::ConvS8& layer, const qk::ConvS8Desc& d, const Geometry& g) {
  const std::size_t batch = in.size(2);
  StageData s;
  any_stage(in, d.out_c, &s);
  const std::size_t esize = qk::output_type_size(s.stage.type);
  // Workspace size query with any thread count: failure leaves the output alone.
  const std::size_t threads = in.size(4);
  std::size_t ws = 0xA5A5A5A5u;
  const qk::Status wst = qk::conv_s8_workspace_size(layer, batch, threads, &ws);
  if (!wst.ok()) QK_FUZZ_CHECK(ws == 0xA5A5A5A5u);
  std::size_t need = 0;
  QK_FUZZ_CHECK(qk::conv_s8_workspace_size(layer, batch, 1, &need).ok());
  std::size_t in_bytes = 0, out_bytes = 0;
  const bool in_fits = mul(batch, g.in_pixels, &in_bytes);
  const bool out_fits = mul3(batch, g.out_pixels, d.out_c, &out_bytes) && mul(out_bytes, esize, &out_bytes);
  const std::uint8_t nulls = in.u8();
  const std::uint8_t ws_mode = in.u8() % 4;  // exact, one short, null, larger
  const bool must_fail = batch > 0 && (!in_fits || !out_fits || (nulls & 3) != 0 ||
                                       (need > 0 && (ws_mode == 1 || ws_mode == 2)));
  const bool real = in_fits && out_fits && in_bytes <= kCapBytes && out_bytes <= kCapBytes && need <= kMaxWorkspace;
  if (!must_fail && !real) return;
  std::vector<std::uint8_t> x(real ? in_bytes : 64);
  for (auto& v : x) v = in.u8();
  const std::size_t ws_bytes = need <= kMaxWorkspace ? (ws_mode == 1 ? need - (need > 0) : need + (ws_mode == 3 ? 100 : 0)) : 64;
  std::vector<std::uint8_t> workspace(ws_bytes + 1);
  Canary y(real ? out_bytes + 64 : 64);
  const qk::Status st = qk::conv_s8(layer, batch, (nulls & 1) ? nullptr : x.data(), s.stage,
                                    (nulls & 2) ? nullptr : y.data(), ws_mode == 2 ? nullptr : workspace.data(), ws_bytes);
  if (must_fail) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok() || batch == 0) {
    QK_FUZZ_CHECK(y.unchanged());
    return;
  }
  QK_FUZZ_CHECK(y.unchanged(out_bytes));
  std::size_t work = 0;
  if (!stage_enums_in_range(s.stage) || !mul3(out_bytes, g.weights / d.out_c, 1, &work) || work > (std::size_t{1} << 20))
    return;
  if (static_cast<int>(d.weight_layout) < 0 || static_cast<int>(d.weight_layout) > 2) return;
  Canary expected(out_bytes + 64);
  qk::reference::conv2d_int8(d, batch, x.data(), s.stage, expected.data());
  if (std::memcmp(expected.data(), y.data(), out_bytes) != 0) {
    describe(d);
    std::fprintf(stderr, "weight type %d input type %d zx %d path %s batch %zu isa %s output type %d\n",
                 static_cast<int>(d.weight_type), static_cast<int>(d.input_type), d.input_zero_point,
                 qk::conv_path_name(layer.path()), batch, qk::isa_name(layer.isa()), static_cast<int>(s.stage.type));
  }
  QK_FUZZ_CHECK(std::memcmp(expected.data(), y.data(), out_bytes) == 0);
}

void fuzz_s8(Reader& in) {
  qk::ConvS8Desc d;
  decode_geometry(in, &d);
  d.input_type = in.any_enum<qk::ElementType>(2);
  d.weight_type = in.any_enum<qk::ElementType>(3);  // s8, u8, s4 (packed nibbles)
  d.input_zero_point = in.u8() < 200 ? 0 : in.int32(-130, 260);
  const std::uint8_t zp_mode = in.u8() % 3;
  const bool has_bias = in.flag(), null_weights = in.u8() < 6;
  const qk::Isa isa = in.u8() < 240 ? supported_isas()[in.u8() % supported_isas().size()] : in.any_enum<qk::Isa>(8);

  const Geometry g = model(d);
  const bool columns_fit = d.out_c <= kCapBytes / 4;
  const bool real = g.valid && g.weights <= kCapBytes && columns_fit;
  std::vector<std::uint8_t> w(real ? g.weights : 64);
  for (auto& v : w) v = in.u8();
  std::vector<std::int32_t> zp(columns_fit && d.out_c > 0 ? d.out_c : 1), bias(zp.size());
  for (auto& z : zp) z = in.u8() < 240 ? in.irange(-128, 255) : in.int32(-300, 300);
  for (auto& b : bias) b = in.int32(-100000, 100000);
  d.weights = null_weights ? nullptr : w.data();
  d.weight_zero_point = zp_mode == 0 ? nullptr : zp.data();
  d.weight_zero_point_per_channel = zp_mode == 2 && columns_fit;
  d.bias = has_bias && columns_fit ? bias.data() : nullptr;

  bool zp_ok = d.input_zero_point >= qk::detail::type_lo(d.input_type) && d.input_zero_point <= qk::detail::type_hi(d.input_type);
  const std::size_t zcount = d.weight_zero_point == nullptr ? 0 : (d.weight_zero_point_per_channel ? d.out_c : 1);
  for (std::size_t i = 0; i < zcount; ++i)
    zp_ok = zp_ok && zp[i] >= qk::detail::type_lo(d.weight_type) && zp[i] <= qk::detail::type_hi(d.weight_type);
  const bool must_fail = !g.valid || null_weights || !zp_ok || !qk::isa_supported(isa);
  if (!real && !must_fail) return;  // valid but too large to allocate

  qk::ConvS8 layer;
  const qk::Status st = layer.pack(d, isa);
  QK_FUZZ_CHECK(st.ok() == layer.packed());
  if (must_fail) QK_FUZZ_CHECK(!st.ok());
  // Valid and runnable (images of at most 16 MiB): qk must take it. Out-of-range enum values
  // may be refused or not; huge images may hit qk's limits on its row buffers.
  const bool enums_ok = layout_ok(d) && static_cast<unsigned>(d.input_type) < 2 && static_cast<unsigned>(d.weight_type) < 3;
  const bool must_pack = !must_fail && enums_ok && runnable(d, g);
  if (must_pack && !st.ok()) describe(d);
  if (must_pack) QK_FUZZ_OK(st);
  if (!st.ok()) return;
  QK_FUZZ_CHECK(layer.out_h() == g.out_h && layer.out_w() == g.out_w);
  if (d.groups == d.in_c && d.groups > 1) QK_FUZZ_CHECK(layer.path() == qk::ConvPath::depthwise);
  run_s8(in, layer, d, g);
}

// ------------------------------------------------------------------------------------------------
// fp32

void fuzz_f32(Reader& in) {
  qk::ConvF32Desc d;
  decode_geometry(in, &d);
  const bool has_bias = in.flag(), null_weights = in.u8() < 6;
  const Geometry g = model(d);
  const bool columns_fit = d.out_c <= kCapBytes / 4;
  const bool real = g.valid && g.weights <= kCapBytes / 4 && columns_fit;
  const bool must_fail = !g.valid || null_weights;
  if (!real && !must_fail) return;
  std::vector<float> w(real ? g.weights : 16), bias(columns_fit && d.out_c > 0 ? d.out_c : 1);
  for (auto& v : w) v = static_cast<float>(in.irange(-64, 64)) / 16.0f;
  bool bias_nan = false;
  for (auto& b : bias) {
    b = in.u8() < 240 ? static_cast<float>(in.irange(-100, 100)) : in.real();
    bias_nan = bias_nan || std::isnan(b);
  }
  d.weights = null_weights ? nullptr : w.data();
  d.bias = has_bias && columns_fit ? bias.data() : nullptr;
  qk::ConvF32 layer;
  const qk::Status st = layer.pack(d);
  QK_FUZZ_CHECK(st.ok() == layer.packed());
  if (must_fail || (d.bias != nullptr && bias_nan)) {
    QK_FUZZ_CHECK(!st.ok());
  } else if (layout_ok(d) && runnable(d, g)) {
    if (!st.ok()) describe(d);
    QK_FUZZ_OK(st);
  }
  if (!st.ok()) return;

  const std::size_t batch = in.size(2);
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (in.flag()) lo = in.real(), hi = in.real();
  std::size_t need = 0, in_count = 0, out_count = 0;
  QK_FUZZ_CHECK(qk::conv_f32_workspace_size(layer, &need).ok());
  const bool in_fits = mul(batch, g.in_pixels, &in_count);
  const bool out_fits = mul3(batch, g.out_pixels, d.out_c, &out_count);
  const std::uint8_t nulls = in.u8(), ws_mode = in.u8() % 4;
  const bool must_fail_run = std::isnan(lo) || std::isnan(hi) || lo > hi ||
                             (batch > 0 && (!in_fits || !out_fits || (nulls & 3) != 0 ||
                                            (need > 0 && (ws_mode == 1 || ws_mode == 2))));
  const bool run_real = in_fits && out_fits && in_count <= kCapBytes / 4 && out_count <= kCapBytes / 4 && need <= kMaxWorkspace;
  if (!must_fail_run && !run_real) return;
  std::vector<float> x(run_real ? in_count : 16);
  for (auto& v : x) v = in.u8() < 240 ? static_cast<float>(in.irange(-64, 64)) / 8.0f : in.real();
  const std::size_t ws_bytes = need <= kMaxWorkspace ? (ws_mode == 1 ? need - (need > 0) : need) : 64;
  std::vector<std::uint8_t> workspace(ws_bytes + 1);
  Canary y((run_real ? out_count : 16) * sizeof(float) + 64);
  auto* yf = reinterpret_cast<float*>(y.data());
  const qk::Status rs = qk::conv_f32(layer, batch, (nulls & 1) ? nullptr : x.data(), (nulls & 2) ? nullptr : yf,
                                     ws_mode == 2 ? nullptr : workspace.data(), ws_bytes, lo, hi);
  if (must_fail_run) QK_FUZZ_CHECK(!rs.ok());
  if (!rs.ok() || batch == 0) {
    QK_FUZZ_CHECK(y.unchanged());
    return;
  }
  QK_FUZZ_CHECK(y.unchanged(out_count * sizeof(float)));
  for (std::size_t i = 0; i < out_count; ++i) {
    float v;
    std::memcpy(&v, y.bytes.data() + i * sizeof(float), sizeof v);
    QK_FUZZ_CHECK(std::isnan(v) || (v >= lo && v <= hi));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qk_fuzz::Reader in(data, size);
  switch (in.u8() % 8) {
    case 0: fuzz_same_padding(in); break;
    case 1:
    case 2: fuzz_f32(in); break;
    default: fuzz_s8(in); break;
  }
  return 0;
}
