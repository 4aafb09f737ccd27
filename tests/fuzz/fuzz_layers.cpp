// fuzz_layers: validation of the layers (qk/layers/) with adversarial arguments.
//
// Each input picks one layer kind and builds it from decoded options: shapes from 0 to SIZE_MAX,
// raw enum values (element type, padding, activation), scales that are NaN, infinite, zero,
// negative, denormal or huge, zero points and clamps outside their types, any multiplier and
// shift, null pointers. A layer whose init() succeeds is then run through the Layer interface
// (what the sequence runner does) when its tensors are small enough to allocate.
//
// Checked: no crash, no sanitizer report; init() of a layer the sizes make impossible fails; a run
// with a workspace one byte too small, or with a null output, fails and writes nothing (canaries);
// a successful run writes nothing past its output; two runs on workspaces poisoned with different
// bytes give the same output (a layer must not read scratch it did not write).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "qk/layers/activation.hpp"
#include "qk/layers/batch_matmul.hpp"
#include "qk/layers/conv.hpp"
#include "qk/layers/elementwise.hpp"
#include "qk/layers/fully_connected.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/sequence.hpp"
#include "qk/layers/shape.hpp"
#include "qk/layers/softmax.hpp"

namespace {

using namespace qk_fuzz;
using qk::ElementType;
using qk::layers::Shape4;
using qk::layers::QuantInfo;

constexpr std::size_t kMaxTensor = std::size_t{1} << 18;       // elements of one tensor we allocate
constexpr std::size_t kMaxWorkspace = std::size_t{16} << 20;   // bytes
constexpr std::size_t kCanary = 64;
constexpr std::uint8_t kCanaryByte = 0xA5;

ElementType pick_type(Reader& in) { return in.u8() < 240 ? (in.flag() ? ElementType::s8 : ElementType::u8) : in.any_enum<ElementType>(2); }

// Mostly small dimensions (the runs happen), sometimes anything (validation).
std::size_t dim(Reader& in, std::size_t small_max) { return in.u8() < 220 ? in.range(1, small_max) : in.size(small_max); }
Shape4 shape(Reader& in, std::size_t small_max = 12) {
  Shape4 s;
  s.n = in.u8() < 200 ? in.range(1, 2) : dim(in, 3);
  s.h = dim(in, small_max);
  s.w = dim(in, small_max);
  s.c = dim(in, 2 * small_max);
  return s;
}
// A shape that broadcasts against `s` (each dimension s's or 1) or, sometimes, anything.
Shape4 broadcast_shape(Reader& in, const Shape4& s) {
  if (in.u8() >= 230) return shape(in);
  Shape4 r = s;
  const std::uint8_t m = in.u8();
  if (m & 1) r.n = 1;
  if (m & 2) r.h = 1;
  if (m & 4) r.w = 1;
  if (m & 8) r.c = 1;
  return r;
}
QuantInfo quant(Reader& in) {
  QuantInfo q;
  q.scale = in.scale();
  q.zero_point = in.u8() < 220 ? in.irange(-128, 255) : in.int32(-300, 300);
  return q;
}
std::int32_t multiplier(Reader& in) { return in.u8() < 200 ? in.irange(1 << 30, 0x7fffffff) : in.int32(-5, 5); }
std::int32_t shift(Reader& in, std::int32_t lo, std::int32_t hi) { return in.u8() < 220 ? in.irange(lo, hi) : in.int32(-40, 40); }

bool count(const Shape4& s, std::size_t* n) { return s.count(n); }

// Runs a built layer through the Layer interface with the checks in the header comment.
void exercise(const qk::layers::Layer& layer, Reader& in) {
  if (!layer.built()) return;
  const std::size_t inputs = layer.input_count();
  QK_FUZZ_CHECK(inputs >= 1);
  if (inputs > 16) return;
  std::vector<std::vector<std::uint8_t>> in_data(inputs);
  std::vector<const void*> in_ptr(inputs);
  for (std::size_t i = 0; i < inputs; ++i) {
    std::size_t n = 0;
    if (!count(layer.input_shape(i), &n) || n > kMaxTensor) return;
    in_data[i].resize(n + 1);  // never empty, so data() is not null
    for (std::size_t j = 0; j < n; ++j) in_data[i][j] = in.u8() < 200 ? static_cast<std::uint8_t>(in.u8()) : 0x80;
    in_ptr[i] = in_data[i].data();
  }
  std::size_t out_n = 0;
  if (!count(layer.output_shape(), &out_n) || out_n > kMaxTensor) return;
  std::size_t ws = 0;
  QK_FUZZ_OK(layer.workspace_size(1, &ws));
  if (ws > kMaxWorkspace) return;

  std::vector<std::uint8_t> out(out_n + kCanary, kCanaryByte);
  std::vector<std::uint8_t> work(ws + 1, 0x00);
  if (ws > 0) {
    // One byte short: an error, and nothing written.
    QK_FUZZ_CHECK(!layer.run(in_ptr.data(), out.data(), work.data(), ws - 1).ok());
    for (std::uint8_t b : out) QK_FUZZ_CHECK(b == kCanaryByte);
  }
  QK_FUZZ_CHECK(!layer.run(in_ptr.data(), nullptr, work.data(), ws).ok());
  QK_FUZZ_OK(layer.run(in_ptr.data(), out.data(), ws > 0 ? work.data() : nullptr, ws));
  for (std::size_t i = out_n; i < out.size(); ++i) QK_FUZZ_CHECK(out[i] == kCanaryByte);
  // Same result from a workspace full of other bytes.
  std::vector<std::uint8_t> out2(out_n + 1, 0x5A);
  std::fill(work.begin(), work.end(), std::uint8_t{0xFF});
  QK_FUZZ_OK(layer.run(in_ptr.data(), out2.data(), ws > 0 ? work.data() : nullptr, ws));
  QK_FUZZ_CHECK(std::memcmp(out.data(), out2.data(), out_n) == 0);
}

qk::layers::Pool2DOptions pool_options(Reader& in) {
  qk::layers::Pool2DOptions o;
  o.filter_h = dim(in, 5);
  o.filter_w = dim(in, 5);
  o.stride_h = dim(in, 3);
  o.stride_w = dim(in, 3);
  o.padding = in.any_enum<qk::layers::PoolPadding>(3);
  o.pad_top = in.size(3);
  o.pad_left = in.size(3);
  o.pad_bottom = in.size(3);
  o.pad_right = in.size(3);
  return o;
}

qk::layers::ConvWindow conv_window(Reader& in) {
  qk::layers::ConvWindow w;
  w.kernel_h = dim(in, 3);
  w.kernel_w = dim(in, 3);
  w.stride_h = dim(in, 2);
  w.stride_w = dim(in, 2);
  w.dilation_h = in.u8() < 230 ? 1 : dim(in, 3);
  w.dilation_w = in.u8() < 230 ? 1 : dim(in, 3);
  w.padding = in.any_enum<qk::layers::Padding>(3);
  w.pad_top = in.size(2);
  w.pad_bottom = in.size(2);
  w.pad_left = in.size(2);
  w.pad_right = in.size(2);
  return w;
}

// Float quantization of a conv / FC layer with `channels` output channels (scales vector kept
// alive by the caller).
qk::layers::FloatQuantization linear_quant(Reader& in, std::size_t channels, std::vector<float>* scales,
                                           std::vector<float>* bias) {
  qk::layers::FloatQuantization q;
  q.input = quant(in);
  q.output = quant(in);
  q.per_channel = in.flag();
  scales->assign(channels == 0 ? 1 : channels, 0.0f);
  for (float& s : *scales) s = in.u8() < 230 ? std::ldexp(1.0f + static_cast<float>(in.u8()) / 256.0f, in.irange(-12, -4)) : in.scale();
  q.weight_scales = in.u8() < 250 ? scales->data() : nullptr;
  if (in.flag()) {
    bias->assign(scales->size(), 0.0f);
    for (float& b : *bias) b = in.u8() < 230 ? static_cast<float>(in.irange(-1000, 1000)) / 64.0f : in.real();
    q.bias = bias->data();
  }
  q.activation = in.any_enum<qk::layers::Activation>(4);
  return q;
}

std::vector<std::uint8_t> random_bytes(Reader& in, std::size_t n) {
  std::vector<std::uint8_t> v(n + 1);
  for (std::size_t i = 0; i < n; ++i) v[i] = in.u8();
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Reader in(data, size);
  const ElementType type = pick_type(in);
  switch (in.u8() % 16) {
    case 0: {  // average / max pool
      const Shape4 s = shape(in);
      const auto o = pool_options(in);
      if (in.flag()) {
        qk::layers::AveragePool2D l;
        const qk::Status st = in.flag() ? l.init(type, s, o, quant(in), quant(in), in.any_enum<qk::layers::Activation>(4))
                                        : l.init(type, s, o, in.int32(-128, 255), in.int32(-128, 255));
        if (st.ok()) exercise(l, in);
      } else {
        qk::layers::MaxPool2D l;
        const qk::Status st = in.flag() ? l.init(type, s, o, quant(in), quant(in), in.any_enum<qk::layers::Activation>(4))
                                        : l.init(type, s, o, in.int32(-128, 255), in.int32(-128, 255));
        if (st.ok()) exercise(l, in);
      }
      break;
    }
    case 1: {  // global average pool (TFLite MEAN over H, W)
      const Shape4 s = shape(in);
      qk::layers::GlobalAveragePool l;
      const qk::Status st = in.flag() ? l.init(type, s, quant(in), quant(in))
                                      : l.init(type, s, multiplier(in), shift(in, -31, 30), in.int32(-128, 255), in.int32(-128, 255));
      if (st.ok()) exercise(l, in);
      break;
    }
    case 2: {  // add
      const Shape4 a = shape(in), b = broadcast_shape(in, a);
      qk::layers::Add l;
      qk::Status st;
      if (in.flag()) {
        st = l.init(type, a, b, quant(in), quant(in), quant(in), in.any_enum<qk::layers::Activation>(4));
      } else {
        qk::layers::AddParams p;
        p.input1_offset = in.int32(-255, 128);
        p.input2_offset = in.int32(-255, 128);
        p.output_offset = in.int32(-128, 255);
        p.left_shift = in.int32(0, 20);
        p.input1_multiplier = multiplier(in);
        p.input2_multiplier = multiplier(in);
        p.output_multiplier = multiplier(in);
        p.input1_shift = shift(in, -31, 0);
        p.input2_shift = shift(in, -31, 0);
        p.output_shift = shift(in, -31, 30);
        p.act_min = in.int32(-128, 255);
        p.act_max = in.int32(-128, 255);
        st = l.init(type, a, b, p);
      }
      if (st.ok()) exercise(l, in);
      break;
    }
    case 3: {  // mul
      const Shape4 a = shape(in), b = broadcast_shape(in, a);
      qk::layers::Mul l;
      qk::Status st;
      if (in.flag()) {
        st = l.init(type, a, b, quant(in), quant(in), quant(in), in.any_enum<qk::layers::Activation>(4));
      } else {
        qk::layers::MulParams p;
        p.input1_offset = in.int32(-255, 128);
        p.input2_offset = in.int32(-255, 128);
        p.output_offset = in.int32(-128, 255);
        p.output_multiplier = multiplier(in);
        p.output_shift = shift(in, -31, 30);
        p.act_min = in.int32(-128, 255);
        p.act_max = in.int32(-128, 255);
        st = l.init(type, a, b, p);
      }
      if (st.ok()) exercise(l, in);
      break;
    }
    case 4: {  // maximum / minimum
      const Shape4 a = shape(in), b = broadcast_shape(in, a);
      const std::int32_t lo = in.int32(-128, 255), hi = in.int32(-128, 255);
      if (in.flag()) {
        qk::layers::Maximum l;
        if (l.init(type, a, b, lo, hi).ok()) exercise(l, in);
      } else {
        qk::layers::Minimum l;
        if (l.init(type, a, b, lo, hi).ok()) exercise(l, in);
      }
      break;
    }
    case 5: {  // pad
      const Shape4 s = shape(in);
      qk::layers::PadAmounts before, after;
      before.n = in.size(1), before.h = in.size(3), before.w = in.size(3), before.c = in.size(3);
      after.n = in.size(1), after.h = in.size(3), after.w = in.size(3), after.c = in.size(3);
      qk::layers::Pad l;
      const qk::Status st = in.flag() ? l.init(type, s, before, after, in.int32(-128, 255))
                                      : l.init(type, s, before, after, quant(in), quant(in));
      if (st.ok()) exercise(l, in);
      break;
    }
    case 6: {  // concatenation
      const std::size_t n = in.u8() < 240 ? in.range(1, 5) : in.size(5);
      if (n > 70) break;  // init reads n shapes: only counts we can hold
      const Shape4 base = shape(in, 6);
      const int axis = in.u8() < 240 ? static_cast<int>(in.irange(-4, 3)) : static_cast<int>(in.i32());
      std::vector<Shape4> shapes(n, base);
      std::vector<QuantInfo> qs(n);
      for (std::size_t i = 0; i < n; ++i) {
        if (in.u8() < 200) {
          const int a = axis < 0 ? axis + 4 : axis;
          const std::size_t d = dim(in, 6);
          if (a == 0) shapes[i].n = d;
          if (a == 1) shapes[i].h = d;
          if (a == 2) shapes[i].w = d;
          if (a == 3) shapes[i].c = d;
        } else if (in.u8() > 240) {
          shapes[i] = shape(in, 6);
        }
        qs[i] = in.u8() < 200 ? QuantInfo{0.05f, 3} : quant(in);
      }
      qk::layers::Concatenation l;
      const qk::Status st = in.flag() ? l.init(type, shapes.data(), n, axis)
                                      : l.init(type, shapes.data(), qs.data(), n, axis, in.u8() < 200 ? QuantInfo{0.05f, 3} : quant(in));
      if (st.ok()) exercise(l, in);
      break;
    }
    case 7: {  // softmax
      const Shape4 s = shape(in);
      qk::layers::Softmax l;
      QuantInfo out;
      out.scale = in.u8() < 220 ? 1.0f / 256.0f : in.scale();
      out.zero_point = in.u8() < 220 ? (type == ElementType::s8 ? -128 : 0) : in.int32(-300, 300);
      const float beta = in.u8() < 220 ? 1.0f : in.real();
      if (l.init(s, type, quant(in), beta, out).ok()) exercise(l, in);
      break;
    }
    case 8: {  // table activations
      const Shape4 s = shape(in, 40);
      const QuantInfo qi = quant(in);
      QuantInfo qo = quant(in);
      switch (in.u8() % 6) {
        case 0: {
          qk::layers::Logistic l;
          if (in.u8() < 200) qo = type == ElementType::s8 ? QuantInfo{1.0f / 256.0f, -128} : QuantInfo{1.0f / 256.0f, 0};
          if (l.init(type, s, qi, qo).ok()) exercise(l, in);
          break;
        }
        case 1: {
          qk::layers::Tanh l;
          if (in.u8() < 200) qo = type == ElementType::s8 ? QuantInfo{1.0f / 128.0f, 0} : QuantInfo{1.0f / 128.0f, 128};
          if (l.init(type, s, qi, qo).ok()) exercise(l, in);
          break;
        }
        case 2: {
          qk::layers::HardSwish l;
          if (l.init(type, s, qi, qo).ok()) exercise(l, in);
          break;
        }
        case 3: {
          qk::layers::LeakyReLU l;
          if (l.init(type, s, qi, qo, in.u8() < 200 ? 0.1f : in.real()).ok()) exercise(l, in);
          break;
        }
        case 4: {
          qk::layers::ReLU6 l;
          if (l.init(type, s, qi, qo).ok()) exercise(l, in);
          break;
        }
        default: {
          qk::layers::Lut l;
          std::uint8_t table[256];
          for (std::uint8_t& t : table) t = in.u8();
          if (l.init(type, s, in.u8() < 250 ? table : nullptr).ok()) exercise(l, in);
          break;
        }
      }
      break;
    }
    case 9: {  // batch matmul
      Shape4 lhs = shape(in, 9), rhs = lhs;
      const bool adj_x = in.flag(), adj_y = in.flag();
      // rhs [b][h][K][N] (or transposed) with K matching lhs's, batch/height broadcasting.
      const std::size_t k = adj_x ? lhs.w : lhs.c;
      const std::size_t nn = dim(in, 9);
      rhs.w = adj_y ? nn : k;
      rhs.c = adj_y ? k : nn;
      if (in.flag()) rhs.n = 1;
      if (in.flag()) rhs.h = 1;
      if (in.u8() > 240) rhs = shape(in, 9);
      qk::layers::BatchMatMul l;
      if (l.init(lhs, rhs, adj_x, adj_y, type, quant(in), quant(in), quant(in)).ok()) exercise(l, in);
      break;
    }
    case 10:
    case 11: {  // fully connected
      qk::layers::FullyConnectedOptions o;
      o.batch = dim(in, 4);
      o.depth = dim(in, 40);
      o.out_c = dim(in, 40);
      o.type = type;
      o.weight_type = in.u8() < 220 ? ElementType::s8 : pick_type(in);
      std::size_t wn = 0;
      if (!mul(o.depth, o.out_c, &wn) || wn > kMaxTensor || o.out_c > kMaxTensor) {
        // Too big to hold: init must refuse it or succeed without reading past null data.
        qk::layers::FullyConnected l;
        std::vector<float> sc, bi;
        const auto q = linear_quant(in, 1, &sc, &bi);
        QK_FUZZ_CHECK(!l.init(o, nullptr, q).ok());
        break;
      }
      const std::vector<std::uint8_t> w = random_bytes(in, wn);
      std::vector<float> scales, bias;
      const auto q = linear_quant(in, o.out_c, &scales, &bias);
      qk::layers::FullyConnected l;
      if (l.init(o, w.data(), q).ok()) exercise(l, in);
      break;
    }
    case 12:
    case 13: {  // conv2d (general, grouped)
      qk::layers::Conv2DOptions o;
      static_cast<qk::layers::ConvWindow&>(o) = conv_window(in);
      o.input = shape(in, 9);
      o.out_c = dim(in, 16);
      o.groups = in.u8() < 200 ? 1 : dim(in, 4);
      o.type = type;
      o.weight_type = in.u8() < 220 ? ElementType::s8 : pick_type(in);
      std::size_t wn = 0;
      if (o.groups == 0 || o.input.c % o.groups != 0 || !mul3(o.kernel_h, o.kernel_w, o.input.c / o.groups, &wn) ||
          !mul(wn, o.out_c, &wn) || wn > kMaxTensor || o.out_c > kMaxTensor)
        break;
      const std::vector<std::uint8_t> w = random_bytes(in, wn);
      std::vector<float> scales, bias;
      const auto q = linear_quant(in, o.out_c, &scales, &bias);
      qk::layers::Conv2D l;
      if (l.init(o, w.data(), q).ok()) exercise(l, in);
      break;
    }
    case 14: {  // depthwise conv2d
      qk::layers::DepthwiseConv2DOptions o;
      static_cast<qk::layers::ConvWindow&>(o) = conv_window(in);
      o.input = shape(in, 9);
      o.depth_multiplier = in.u8() < 200 ? 1 : dim(in, 3);
      o.type = type;
      o.weight_type = in.u8() < 220 ? ElementType::s8 : pick_type(in);
      std::size_t wn = 0, oc = 0;
      if (!mul(o.input.c, o.depth_multiplier, &oc) || !mul3(o.kernel_h, o.kernel_w, oc, &wn) || wn > kMaxTensor ||
          oc > kMaxTensor)
        break;
      const std::vector<std::uint8_t> w = random_bytes(in, wn);
      std::vector<float> scales, bias;
      const auto q = linear_quant(in, oc, &scales, &bias);
      qk::layers::DepthwiseConv2D l;
      if (l.init(o, w.data(), q).ok()) exercise(l, in);
      break;
    }
    default: {  // a sequence: pool -> table -> softmax on one shape, sometimes mismatched
      const Shape4 s = shape(in, 10);
      qk::layers::MaxPool2D pool;
      qk::layers::Pool2DOptions po;
      po.filter_h = po.filter_w = 1;
      const std::int32_t lo = type == ElementType::s8 ? -128 : 0, hi = type == ElementType::s8 ? 127 : 255;
      if (!pool.init(type, s, po, lo, hi).ok()) break;
      qk::layers::Tanh tanh;
      const QuantInfo tq = type == ElementType::s8 ? QuantInfo{1.0f / 128.0f, 0} : QuantInfo{1.0f / 128.0f, 128};
      if (!tanh.init(type, in.u8() < 230 ? s : shape(in, 10), quant(in), tq).ok()) break;
      qk::layers::Softmax sm;
      const QuantInfo sq = type == ElementType::s8 ? QuantInfo{1.0f / 256.0f, -128} : QuantInfo{1.0f / 256.0f, 0};
      if (!sm.init(in.u8() < 230 ? s : shape(in, 10), type, tq, 1.0f, sq).ok()) break;
      qk::layers::Layer* chain[3] = {&pool, &tanh, &sm};
      qk::layers::Sequence seq;
      if (seq.init(chain, 1 + in.range(0, 2)).ok()) exercise(seq, in);
      break;
    }
  }
  return 0;
}
