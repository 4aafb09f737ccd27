// Pool layers (qk/layers/pool.hpp): argument errors write nothing; random shapes, int8 and uint8,
// every padding mode and clamp, batch > 1, against plain loops written here from TFLite's
// definitions; extreme values; the global average against TFLite's MEAN formulas.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "qk/core/threading.hpp"
#include "qk/layers/pool.hpp"

namespace {

using qk::ElementType;
using qk::StatusCode;
using qk::layers::AveragePool2D;
using qk::layers::GlobalAveragePool;
using qk::layers::MaxPool2D;
using qk::layers::Pool2DOptions;
using qk::layers::PoolPadding;
using qk::layers::QuantInfo;
using qk::layers::Shape4;

// The plain definition: TFLite's reference pooling with explicit top/left padding and output
// size; `avg` selects the average (valid taps only, C division rounded half away from zero).
template <class T>
std::vector<T> plain_pool(bool avg, const std::vector<T>& in, const Shape4& s, long fh, long fw, long sh, long sw,
                          long pad_t, long pad_l, long oh, long ow, int lo, int hi) {
  std::vector<T> out(s.n * static_cast<std::size_t>(oh * ow) * s.c);
  const long H = static_cast<long>(s.h), W = static_cast<long>(s.w), C = static_cast<long>(s.c);
  for (long b = 0; b < static_cast<long>(s.n); ++b)
    for (long oy = 0; oy < oh; ++oy)
      for (long ox = 0; ox < ow; ++ox)
        for (long c = 0; c < C; ++c) {
          long sum = 0, count = 0, mx = -1000;
          for (long fy = 0; fy < fh; ++fy)
            for (long fx = 0; fx < fw; ++fx) {
              const long y = oy * sh - pad_t + fy, x = ox * sw - pad_l + fx;
              if (y < 0 || y >= H || x < 0 || x >= W) continue;
              const long v = in[static_cast<std::size_t>(((b * H + y) * W + x) * C + c)];
              sum += v;
              ++count;
              if (v > mx) mx = v;
            }
          REQUIRE(count > 0);
          long r = avg ? (sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count) : mx;
          r = r < lo ? lo : r > hi ? hi : r;
          out[static_cast<std::size_t>(((b * oh + oy) * ow + ox) * C + c)] = static_cast<T>(r);
        }
  return out;
}

// TFLite's output size and top/left padding, computed here from the formulas.
void plain_geometry(PoolPadding p, long in, long f, long s, long pb, long pa, long* out, long* pad) {
  if (p == PoolPadding::same) {
    *out = (in + s - 1) / s;
    const long total = (*out - 1) * s + f - in;
    *pad = total > 0 ? total / 2 : 0;
  } else if (p == PoolPadding::valid) {
    *out = (in - f + s) / s;  // ceil((in - f + 1) / s)
    *pad = 0;
  } else {
    *out = (in + pb + pa - f) / s + 1;
    *pad = pb;
  }
}

template <class T>
void random_pool_test(ElementType type, std::mt19937& rng, int iterations) {
  const int tmin = qk::detail::element_type_min(type), tmax = qk::detail::element_type_max(type);
  std::uniform_int_distribution<int> val(tmin, tmax);
  std::size_t outputs = 0;
  for (int it = 0; it < iterations; ++it) {
    Shape4 s{1 + rng() % 3, 1 + rng() % 12, 1 + rng() % 12, 1 + rng() % 300};
    Pool2DOptions o;
    o.filter_h = 1 + rng() % 5;
    o.filter_w = 1 + rng() % 5;
    o.stride_h = 1 + rng() % 3;
    o.stride_w = 1 + rng() % 3;
    o.padding = static_cast<PoolPadding>(rng() % 3);
    if (o.padding == PoolPadding::valid && (o.filter_h > s.h || o.filter_w > s.w)) o.padding = PoolPadding::same;
    o.pad_top = rng() % o.filter_h;
    o.pad_bottom = rng() % o.filter_h;
    o.pad_left = rng() % o.filter_w;
    o.pad_right = rng() % o.filter_w;
    if (o.padding == PoolPadding::explicit_pads &&
        (s.h + o.pad_top + o.pad_bottom < o.filter_h || s.w + o.pad_left + o.pad_right < o.filter_w))
      o.padding = PoolPadding::same;
    int lo = val(rng), hi = val(rng);
    if (lo > hi) std::swap(lo, hi);
    if (rng() % 2) {
      lo = tmin;
      hi = tmax;
    }
    std::vector<T> in(s.count_unchecked());
    for (T& v : in) v = static_cast<T>(val(rng));
    long oh = 0, ow = 0, pt = 0, pl = 0;
    plain_geometry(o.padding, long(s.h), long(o.filter_h), long(o.stride_h), long(o.pad_top), long(o.pad_bottom), &oh,
                   &pt);
    plain_geometry(o.padding, long(s.w), long(o.filter_w), long(o.stride_w), long(o.pad_left), long(o.pad_right), &ow,
                   &pl);
    INFO("shape " << s.n << "x" << s.h << "x" << s.w << "x" << s.c << " filter " << o.filter_h << "x" << o.filter_w
                  << " stride " << o.stride_h << "x" << o.stride_w << " padding " << int(o.padding) << " clamp " << lo
                  << ".." << hi);
    for (int kind = 0; kind < 2; ++kind) {
      const std::vector<T> want = plain_pool<T>(kind == 0, in, s, long(o.filter_h), long(o.filter_w), long(o.stride_h),
                                                long(o.stride_w), pt, pl, oh, ow, lo, hi);
      std::vector<T> got(want.size() + 1, T(0x5A));
      qk::Status st;
      if (kind == 0) {
        AveragePool2D l;
        st = l.init(type, s, o, lo, hi);
        REQUIRE(st.ok());
        REQUIRE(l.output_shape() == (Shape4{s.n, std::size_t(oh), std::size_t(ow), s.c}));
        REQUIRE(l.run(in.data(), got.data()).ok());
      } else {
        MaxPool2D l;
        st = l.init(type, s, o, lo, hi);
        REQUIRE(st.ok());
        REQUIRE(l.run(in.data(), got.data()).ok());
      }
      REQUIRE(got.back() == T(0x5A));  // nothing past the output
      got.pop_back();
      REQUIRE(got == want);
      outputs += want.size();
    }
  }
  WARN("pool random (" << (type == ElementType::s8 ? "int8" : "uint8") << "): " << iterations
                       << " shapes, " << outputs << " outputs equal to the plain definition");
}

}  // namespace

TEST_CASE("pool: random shapes, int8 and uint8, against the plain definition", "[layers][pool]") {
  std::mt19937 rng(20240611);
  random_pool_test<std::int8_t>(ElementType::s8, rng, 300);
  random_pool_test<std::uint8_t>(ElementType::u8, rng, 300);
}

TEST_CASE("pool: extreme values, ties and large windows", "[layers][pool]") {
  for (ElementType type : {ElementType::s8, ElementType::u8}) {
    const int tmin = qk::detail::element_type_min(type), tmax = qk::detail::element_type_max(type);
    for (int v : {tmin, tmax, 0, tmin + 1, tmax - 1}) {
      // A 40x40 window of one value over a 2-image batch of 40x40x260: the average is the value.
      const Shape4 s{2, 40, 40, 260};
      std::vector<std::uint8_t> in(s.count_unchecked(), static_cast<std::uint8_t>(v & 0xFF));
      Pool2DOptions o;
      o.filter_h = o.filter_w = 40;
      o.stride_h = o.stride_w = 40;
      AveragePool2D a;
      MaxPool2D m;
      REQUIRE(a.init(type, s, o, tmin, tmax).ok());
      REQUIRE(m.init(type, s, o, tmin, tmax).ok());
      std::vector<std::uint8_t> out(2 * 260, 0x11), out2(2 * 260, 0x11);
      REQUIRE(a.run(in.data(), out.data()).ok());
      REQUIRE(m.run(in.data(), out2.data()).ok());
      for (std::size_t i = 0; i < out.size(); ++i) {
        REQUIRE(out[i] == static_cast<std::uint8_t>(v & 0xFF));
        REQUIRE(out2[i] == static_cast<std::uint8_t>(v & 0xFF));
      }
    }
  }
  // Ties: taps {a, b} with a + b odd round away from zero, both signs (int8), and the clamp.
  const std::int8_t pairs[][3] = {{1, 2, 2},        {-1, -2, -2}, {-128, 127, -1}, {127, 126, 127},
                                  {-128, -127, -128}, {0, -1, -1},  {0, 1, 1},        {-3, 0, -2}};
  for (const auto& p : pairs) {
    const Shape4 s{1, 1, 2, 1};
    Pool2DOptions o;
    o.filter_w = 2;
    AveragePool2D a;
    REQUIRE(a.init(ElementType::s8, s, o, -128, 127).ok());
    const std::int8_t in[2] = {p[0], p[1]};
    std::int8_t out = 0;
    REQUIRE(a.run(in, &out).ok());
    INFO(int(p[0]) << " " << int(p[1]));
    REQUIRE(out == p[2]);
  }
  // uint8 ties: (255 + 254) / 2 = 254.5 -> 255; (0 + 1) / 2 -> 1.
  {
    const Shape4 s{1, 1, 2, 1};
    Pool2DOptions o;
    o.filter_w = 2;
    AveragePool2D a;
    REQUIRE(a.init(ElementType::u8, s, o, 0, 255).ok());
    const std::uint8_t in1[2] = {255, 254}, in2[2] = {0, 1};
    std::uint8_t out = 0;
    REQUIRE(a.run(in1, &out).ok());
    REQUIRE(out == 255);
    REQUIRE(a.run(in2, &out).ok());
    REQUIRE(out == 1);
  }
}

TEST_CASE("pool: built from QuantInfo with a fused activation", "[layers][pool]") {
  const Shape4 s{1, 4, 4, 3};
  Pool2DOptions o;
  o.filter_h = o.filter_w = 2;
  o.stride_h = o.stride_w = 2;
  const QuantInfo q{0.05f, -10};
  AveragePool2D a;
  REQUIRE(a.init(ElementType::s8, s, o, q, q, qk::layers::Activation::relu6).ok());
  // relu6: [zp + round(0 / 0.05), zp + round(6 / 0.05)] = [-10, 110].
  REQUIRE(a.act_min() == -10);
  REQUIRE(a.act_max() == 110);
  std::vector<std::int8_t> in(s.count_unchecked());
  for (std::size_t i = 0; i < in.size(); ++i) in[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 256) - 128);
  std::vector<std::int8_t> out(12);
  REQUIRE(a.run(in.data(), out.data()).ok());
  const auto want = plain_pool<std::int8_t>(true, in, s, 2, 2, 2, 2, 0, 0, 2, 2, -10, 110);
  REQUIRE(out == want);
}

TEST_CASE("pool: argument errors write nothing", "[layers][pool]") {
  const Shape4 s{1, 4, 4, 2};
  Pool2DOptions good;
  good.filter_h = good.filter_w = 2;
  const QuantInfo q{0.1f, 0};
  struct Bad {
    const char* what;
    Shape4 shape;
    Pool2DOptions o;
    int lo, hi;
    StatusCode code;
  };
  Pool2DOptions zero_filter = good, zero_stride = good, valid_big = good, pad_big = good, unknown_pad = good;
  zero_filter.filter_h = 0;
  zero_stride.stride_w = 0;
  valid_big.filter_h = 5;
  pad_big.padding = PoolPadding::explicit_pads;
  pad_big.pad_left = 2;
  unknown_pad.padding = static_cast<PoolPadding>(7);
  const Bad bads[] = {
      {"zero filter", s, zero_filter, -128, 127, StatusCode::bad_shape},
      {"zero stride", s, zero_stride, -128, 127, StatusCode::bad_shape},
      {"VALID filter > input", s, valid_big, -128, 127, StatusCode::bad_shape},
      {"pad >= filter", s, pad_big, -128, 127, StatusCode::bad_shape},
      {"unknown padding", s, unknown_pad, -128, 127, StatusCode::invalid_argument},
      {"zero channels", Shape4{1, 4, 4, 0}, good, -128, 127, StatusCode::bad_shape},
      {"zero batch", Shape4{0, 4, 4, 2}, good, -128, 127, StatusCode::bad_shape},
      {"overflowing shape", Shape4{SIZE_MAX / 2, 4, 4, 2}, good, -128, 127, StatusCode::size_overflow},
      {"act_min > act_max", s, good, 5, 4, StatusCode::invalid_argument},
      {"act_min outside int8", s, good, -129, 127, StatusCode::invalid_argument},
      {"act_max outside int8", s, good, -128, 128, StatusCode::invalid_argument},
  };
  for (const Bad& b : bads) {
    INFO(b.what);
    AveragePool2D a;
    MaxPool2D m;
    CHECK(a.init(ElementType::s8, b.shape, b.o, b.lo, b.hi).code() == b.code);
    CHECK(m.init(ElementType::s8, b.shape, b.o, b.lo, b.hi).code() == b.code);
    CHECK(!a.built());
    CHECK(!m.built());
  }
  {
    AveragePool2D a;
    CHECK(a.init(static_cast<ElementType>(5), s, good, -128, 127).code() == StatusCode::invalid_argument);
    CHECK(a.init(ElementType::s8, s, good, q, QuantInfo{0.2f, 0}).code() == StatusCode::invalid_argument);
    CHECK(a.init(ElementType::s8, s, good, q, QuantInfo{0.1f, 1}).code() == StatusCode::invalid_argument);
    CHECK(a.init(ElementType::s8, s, good, QuantInfo{NAN, 0}, q).code() == StatusCode::invalid_argument);
    CHECK(a.init(ElementType::s8, s, good, QuantInfo{0.0f, 0}, QuantInfo{0.0f, 0}).code() == StatusCode::invalid_argument);
    CHECK(a.init(ElementType::u8, s, good, QuantInfo{0.1f, -1}, QuantInfo{0.1f, -1}).code() ==
          StatusCode::invalid_argument);
    CHECK(a.init(ElementType::s8, s, good, q, q, static_cast<qk::layers::Activation>(9)).code() ==
          StatusCode::invalid_argument);
    CHECK(!a.built());
    // A window of more taps than an int32 sum allows.
    Pool2DOptions huge;
    huge.filter_h = huge.filter_w = 4000;
    CHECK(a.init(ElementType::s8, Shape4{1, 4000, 4000, 1}, huge, -128, 127).code() == StatusCode::bad_shape);
  }
  // A failed init keeps the previous configuration.
  AveragePool2D a;
  REQUIRE(a.init(ElementType::s8, s, good, -128, 127).ok());
  CHECK(!a.init(ElementType::s8, s, zero_filter, -128, 127).ok());
  CHECK(a.built());
  CHECK(a.output_shape() == (Shape4{1, 3, 3, 2}));
  // run errors: nothing written.
  std::vector<std::int8_t> in(s.count_unchecked(), 1), out(18, 0x33);
  const void* null_inputs[1] = {nullptr};
  CHECK(a.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  CHECK(a.run(null_inputs, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  CHECK(a.run(in.data(), nullptr).code() == StatusCode::null_pointer);
  AveragePool2D unbuilt;
  CHECK(unbuilt.run(in.data(), out.data()).code() == StatusCode::invalid_argument);
  for (std::int8_t v : out) REQUIRE(v == 0x33);
}

TEST_CASE("pool: an executor gives the serial result", "[layers][pool]") {
  std::mt19937 rng(7);
  const Shape4 s{3, 29, 31, 40};
  std::vector<std::int8_t> in(s.count_unchecked());
  for (auto& v : in) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
  Pool2DOptions o;
  o.filter_h = o.filter_w = 3;
  o.stride_h = o.stride_w = 2;
  o.padding = PoolPadding::same;
  AveragePool2D a;
  REQUIRE(a.init(ElementType::s8, s, o, -100, 100).ok());
  const std::size_t n = a.output_shape().count_unchecked();
  std::vector<std::int8_t> serial(n), threaded(n);
  REQUIRE(a.run(in.data(), serial.data()).ok());
#if !defined(QK_NO_THREADS)
  qk::ThreadPool pool(3);
  REQUIRE(a.run(in.data(), threaded.data(), &pool).ok());
  REQUIRE(serial == threaded);
#endif
}

namespace {

// TFLite's MultiplyByQuantizedMultiplier (double rounding) written plainly in 64 bits, for the
// in-range arguments these tests use (the left-shifted value fits int32).
std::int64_t plain_mbqm(std::int64_t x, std::int64_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const std::int64_t a = x * (std::int64_t{1} << left);
  REQUIRE(a >= INT32_MIN);
  REQUIRE(a <= INT32_MAX);
  // SaturatingRoundingDoublingHighMul: (a * m + nudge) / 2^31, nudge 2^30 or 1 - 2^30, truncated.
  const std::int64_t ab = a * m;
  const std::int64_t nudge = ab >= 0 ? (std::int64_t{1} << 30) : 1 - (std::int64_t{1} << 30);
  const std::int64_t high = (ab + nudge) / (std::int64_t{1} << 31);
  // RoundingDivideByPOT: to nearest, ties away from zero.
  if (right == 0) return high;
  const std::int64_t d = std::int64_t{1} << right;
  const std::int64_t mag = ((high < 0 ? -high : high) + d / 2) / d;
  return high < 0 ? -mag : mag;
}

// QuantizeMultiplier, plainly.
void plain_qm(double real, std::int64_t* m, int* shift) {
  int e = 0;
  const double f = std::frexp(real, &e);
  std::int64_t q = std::llround(f * 2147483648.0);
  if (q == (std::int64_t{1} << 31)) {
    q /= 2;
    ++e;
  }
  *m = q;
  *shift = e;
}

}  // namespace

TEST_CASE("global average pool: TFLite MEAN formulas, and AveragePool2D over the image", "[layers][pool]") {
  std::mt19937 rng(99);
  std::size_t outputs = 0;
  for (int it = 0; it < 200; ++it) {
    const bool s8 = it % 2 == 0;
    const ElementType type = s8 ? ElementType::s8 : ElementType::u8;
    const int tmin = s8 ? -128 : 0, tmax = s8 ? 127 : 255;
    const Shape4 s{1 + rng() % 3, 1 + rng() % 9, 1 + rng() % 9, 1 + rng() % 300};
    const bool same_quant = it % 4 < 2;
    std::uniform_real_distribution<float> sc(0.01f, 0.2f);
    const QuantInfo in_q{sc(rng), static_cast<std::int32_t>(tmin + static_cast<int>(rng() % 256))};
    const QuantInfo out_q = same_quant ? in_q : QuantInfo{sc(rng), static_cast<std::int32_t>(tmin + static_cast<int>(rng() % 256))};
    std::vector<std::uint8_t> in(s.count_unchecked());
    for (auto& v : in) v = static_cast<std::uint8_t>(rng());
    if (it % 10 == 1) for (auto& v : in) v = s8 ? 0x80 : 0xFF;  // extremes
    GlobalAveragePool g;
    REQUIRE(g.init(type, s, in_q, out_q).ok());
    REQUIRE(g.output_shape() == (Shape4{s.n, 1, 1, s.c}));
    std::vector<std::uint8_t> got(s.n * s.c + 1, 0xA5);
    REQUIRE(g.run(in.data(), got.data()).ok());
    REQUIRE(got.back() == 0xA5);
    const long HW = static_cast<long>(s.h * s.w);
    for (std::size_t b = 0; b < s.n; ++b)
      for (std::size_t c = 0; c < s.c; ++c) {
        long sum = 0;
        for (long i = 0; i < HW; ++i) {
          const std::uint8_t raw = in[(b * static_cast<std::size_t>(HW) + static_cast<std::size_t>(i)) * s.c + c];
          sum += s8 ? static_cast<long>(static_cast<std::int8_t>(raw)) : static_cast<long>(raw);
        }
        std::int64_t want = 0;
        if (s8) {
          std::int64_t m = 0;
          int sh = 0;
          plain_qm(static_cast<double>(in_q.scale) / static_cast<double>(out_q.scale), &m, &sh);
          const std::int64_t acc = plain_mbqm(sum - HW * in_q.zero_point, m, sh);
          want = (acc > 0 ? (acc + HW / 2) / HW : (acc - HW / 2) / HW) + out_q.zero_point;
        } else {
          std::int64_t m = 0;
          int sh = 0;
          plain_qm(static_cast<double>(in_q.scale / (static_cast<float>(HW) * out_q.scale)), &m, &sh);
          const float zp_term = static_cast<float>(in_q.zero_point) * in_q.scale / out_q.scale;
          want = plain_mbqm(sum, m, sh) + out_q.zero_point - static_cast<std::int64_t>(zp_term);
        }
        want = want < tmin ? tmin : want > tmax ? tmax : want;
        const std::uint8_t w = static_cast<std::uint8_t>(want & 0xFF);
        INFO("it " << it << " b " << b << " c " << c);
        REQUIRE(got[b * s.c + c] == w);
        ++outputs;
      }
  }
  WARN("global average pool: 200 shapes, " << outputs << " outputs equal to TFLite's MEAN formulas");

  // int8, equal quantization with zero point 0: the same as AveragePool2D over the whole image.
  for (int it = 0; it < 50; ++it) {
    const Shape4 s{1 + rng() % 3, 1 + rng() % 14, 1 + rng() % 14, 1 + rng() % 300};
    std::vector<std::int8_t> in(s.count_unchecked());
    for (auto& v : in) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
    const QuantInfo q{0.037f, 0};
    GlobalAveragePool g;
    REQUIRE(g.init(ElementType::s8, s, q, q).ok());
    AveragePool2D a;
    Pool2DOptions o;
    o.filter_h = s.h;
    o.filter_w = s.w;
    REQUIRE(a.init(ElementType::s8, s, o, q, q).ok());
    std::vector<std::int8_t> x(s.n * s.c), y(s.n * s.c);
    REQUIRE(g.run(in.data(), x.data()).ok());
    REQUIRE(a.run(in.data(), y.data()).ok());
    REQUIRE(x == y);
  }
  // The prepared form gives what the float form derives.
  {
    const Shape4 s{2, 7, 7, 130};
    std::vector<std::int8_t> in(s.count_unchecked());
    for (auto& v : in) v = static_cast<std::int8_t>(static_cast<int>(rng() % 256) - 128);
    GlobalAveragePool f, p;
    REQUIRE(f.init(ElementType::s8, s, QuantInfo{0.02f, -5}, QuantInfo{0.013f, 7}).ok());
    REQUIRE(p.init(ElementType::s8, s, f.multiplier(), f.shift(), -5, 7).ok());
    std::vector<std::int8_t> x(s.n * s.c), y(s.n * s.c);
    REQUIRE(f.run(in.data(), x.data()).ok());
    REQUIRE(p.run(in.data(), y.data()).ok());
    REQUIRE(x == y);
  }
}

TEST_CASE("global average pool: argument errors write nothing", "[layers][pool]") {
  const Shape4 s{1, 3, 3, 4};
  const QuantInfo q{0.1f, 0};
  GlobalAveragePool g;
  CHECK(g.init(static_cast<ElementType>(3), s, q, q).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, Shape4{1, 0, 3, 4}, q, q).code() == StatusCode::bad_shape);
  CHECK(g.init(ElementType::s8, Shape4{1, 5000, 5000, 1}, q, q).code() == StatusCode::bad_shape);
  CHECK(g.init(ElementType::s8, s, QuantInfo{INFINITY, 0}, q).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, s, q, QuantInfo{-1.0f, 0}).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, s, q, QuantInfo{0.1f, 128}).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::u8, s, QuantInfo{0.1f, 300}, q).code() == StatusCode::invalid_argument);
  // input_scale / output_scale >= 2^30 cannot be applied.
  CHECK(g.init(ElementType::s8, s, QuantInfo{1e10f, 0}, QuantInfo{1.0f, 0}).code() == StatusCode::invalid_argument);
  // uint8: zero point * input_scale / output_scale beyond int32.
  CHECK(g.init(ElementType::u8, s, QuantInfo{1e-3f, 200}, QuantInfo{1e-12f, 0}).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::u8, s, 1 << 30, 0, 0, 0).code() == StatusCode::unsupported);
  CHECK(g.init(ElementType::s8, s, 1 << 30, 31, 0, 0).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, s, -1, 0, 0, 0).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, s, 1 << 30, 0, -129, 0).code() == StatusCode::invalid_argument);
  CHECK(g.init(ElementType::s8, s, 1 << 30, 0, 0, 128).code() == StatusCode::invalid_argument);
  CHECK(!g.built());
  std::vector<std::int8_t> in(s.count_unchecked(), 3), out(4, 0x44);
  CHECK(g.run(in.data(), out.data()).code() == StatusCode::invalid_argument);
  REQUIRE(g.init(ElementType::s8, s, q, q).ok());
  CHECK(g.run(nullptr, out.data(), nullptr, 0).code() == StatusCode::null_pointer);
  CHECK(g.run(in.data(), nullptr).code() == StatusCode::null_pointer);
  for (std::int8_t v : out) REQUIRE(v == 0x44);
  REQUIRE(g.run(in.data(), out.data()).ok());
  for (std::int8_t v : out) REQUIRE(v == 3);
}
