// The pooling kernel families (kernels/pool_registry.hpp) against the scalar family, bit for bit,
// for every ISA this machine runs (QK_FOR_EACH_ISA), and the scalar family against TFLite's plain
// integer definitions. Random geometry (H, W 1..40, C 1..200 covering every 64/32/16 tail,
// windows 1x1..5x5 and large ones above 255 taps that take the scalar division, strides 1..3,
// every padding), s8 and u8, data all at the type's extremes or random, random clamps; the
// divisor table checked independently; GlobalAveragePool's sums over > 255 pixels.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/kernels/pool_registry.hpp"
#include "qk/layers/pool.hpp"
#include "qk/layers/softmax.hpp"

namespace {

using qk::kernels::PoolKernels;
using qk::kernels::PoolRowParams;

std::int32_t val(std::uint8_t b, bool s) { return s ? static_cast<std::int32_t>(static_cast<std::int8_t>(b)) : b; }

struct Case {
  std::size_t h, w, c, fh, fw, sh, sw, pt, pl, oh, ow;
  bool s;
  std::int32_t lo, hi;
  std::vector<std::uint8_t> in;
};

Case make_case(std::mt19937& rng, bool large_window) {
  Case k;
  k.s = rng() % 2 == 0;
  k.h = 1 + rng() % 12;
  k.w = 1 + rng() % 12;
  k.c = 1 + rng() % 200;
  if (large_window) {
    k.h = 16 + rng() % 25, k.w = 16 + rng() % 25, k.c = 1 + rng() % 70;
    k.fh = 16 + rng() % 8, k.fw = 16 + rng() % 8;
  } else {
    k.fh = 1 + rng() % 5, k.fw = 1 + rng() % 5;
  }
  if (k.fh > k.h + 2) k.fh = k.h;
  if (k.fw > k.w + 2) k.fw = k.w;
  k.sh = 1 + rng() % 3, k.sw = 1 + rng() % 3;
  k.pt = rng() % k.fh, k.pl = rng() % k.fw;  // below the filter
  const std::size_t pb = rng() % k.fh, pr = rng() % k.fw;
  if (k.h + k.pt + pb < k.fh) k.pt = k.fh - k.h - pb <= k.fh - 1 ? k.fh - k.h - pb : k.pt;
  if (k.h + k.pt + pb < k.fh || k.w + k.pl + pr < k.fw) {  // keep it simple: VALID-sized input
    k.pt = k.pl = 0;
    k.fh = k.fh > k.h ? k.h : k.fh;
    k.fw = k.fw > k.w ? k.w : k.fw;
    k.oh = (k.h - k.fh) / k.sh + 1, k.ow = (k.w - k.fw) / k.sw + 1;
  } else {
    k.oh = (k.h + k.pt + pb - k.fh) / k.sh + 1, k.ow = (k.w + k.pl + pr - k.fw) / k.sw + 1;
  }
  const std::int32_t tmin = k.s ? -128 : 0, tmax = k.s ? 127 : 255;
  k.lo = tmin, k.hi = tmax;
  if (rng() % 3 == 0) {
    std::int32_t a = tmin + static_cast<std::int32_t>(rng() % 256), b = tmin + static_cast<std::int32_t>(rng() % 256);
    k.lo = a < b ? a : b, k.hi = a < b ? b : a;
  }
  k.in.resize(k.h * k.w * k.c);
  const int mode = static_cast<int>(rng() % 4);
  const std::uint8_t bmin = k.s ? 0x80 : 0x00, bmax = k.s ? 0x7f : 0xff;
  for (auto& b : k.in) {
    if (mode == 0) b = bmin;
    else if (mode == 1) b = bmax;
    else if (mode == 2) b = rng() % 2 ? bmin : bmax;
    else b = static_cast<std::uint8_t>(rng());
  }
  return k;
}

// One row through a kernel; rows of the whole output.
std::vector<std::uint8_t> run_kernel(const Case& k, const PoolKernels& f, bool is_max, const qk::kernels::PoolDivisors* d) {
  std::vector<std::uint8_t> out(k.oh * k.ow * k.c + 1, 0x5a);
  PoolRowParams p;
  p.image = k.in.data();
  p.in_w = k.w, p.channels = k.c, p.out_w = k.ow;
  p.filter_x = k.fw, p.stride_x = k.sw, p.pad_left = k.pl;
  p.act_min = k.lo, p.act_max = k.hi;
  p.is_signed = k.s;
  p.divisors = d;
  for (std::size_t oy = 0; oy < k.oh; ++oy) {
    const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(oy * k.sh) - static_cast<std::ptrdiff_t>(k.pt);
    const std::ptrdiff_t stop = start + static_cast<std::ptrdiff_t>(k.fh);
    p.y0 = static_cast<std::size_t>(start < 0 ? 0 : start);
    p.y1 = static_cast<std::size_t>(stop > static_cast<std::ptrdiff_t>(k.h) ? static_cast<std::ptrdiff_t>(k.h) : stop);
    p.out = out.data() + oy * k.ow * k.c;
    (is_max ? f.max_row : f.average_row)(p);
  }
  return out;
}

// TFLite's plain definition.
std::vector<std::uint8_t> plain(const Case& k, bool is_max) {
  std::vector<std::uint8_t> out(k.oh * k.ow * k.c + 1, 0x5a);
  for (std::size_t oy = 0; oy < k.oh; ++oy)
    for (std::size_t ox = 0; ox < k.ow; ++ox)
      for (std::size_t c = 0; c < k.c; ++c) {
        std::int32_t acc = is_max ? -1000 : 0, n = 0;
        for (std::size_t fy = 0; fy < k.fh; ++fy)
          for (std::size_t fx = 0; fx < k.fw; ++fx) {
            const std::ptrdiff_t y = static_cast<std::ptrdiff_t>(oy * k.sh + fy) - static_cast<std::ptrdiff_t>(k.pt);
            const std::ptrdiff_t x = static_cast<std::ptrdiff_t>(ox * k.sw + fx) - static_cast<std::ptrdiff_t>(k.pl);
            if (y < 0 || x < 0 || y >= static_cast<std::ptrdiff_t>(k.h) || x >= static_cast<std::ptrdiff_t>(k.w)) continue;
            const std::int32_t v = val(k.in[(static_cast<std::size_t>(y) * k.w + static_cast<std::size_t>(x)) * k.c + c], k.s);
            acc = is_max ? (v > acc ? v : acc) : acc + v;
            ++n;
          }
        std::int32_t q = is_max ? acc : (acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n);
        q = q < k.lo ? k.lo : (q > k.hi ? k.hi : q);
        out[(oy * k.ow + ox) * k.c + c] = static_cast<std::uint8_t>(q);
      }
  return out;
}

}  // namespace

TEST_CASE("pool kernels: divisors are exact where marked, every count in 2..185 is marked", "[layers][pool][kernels]") {
  qk::kernels::PoolDivisors d;
  qk::kernels::make_pool_divisors(1000, &d);
  int marked = 0;
  for (std::uint32_t n = 1; n <= 255; ++n) {
    if (!d.d[n].exact) continue;
    ++marked;
    for (std::uint32_t a = 0; a <= 255 * n + n / 2; ++a)
      REQUIRE((((a * d.d[n].mult) >> 16) >> d.d[n].shift) == a / n);
  }
  // n = 1 has no 16-bit multiplier (2^16 / 1); 2..185 all verify (the 3x3, 5x5, 7x7 windows and
  // their clipped borders); from 186 on some counts fail and take the scalar division.
  CHECK(d.d[1].exact == 0);
  for (std::uint32_t n = 2; n <= 185; ++n) CHECK(d.d[n].exact == 1);
  CHECK(marked >= 184);
}

TEST_CASE("pool kernels: every family equals the scalar definition and TFLite, bit for bit", "[layers][pool][kernels]") {
  const PoolKernels& ref = *qk::kernels::pool_kernels_for(qk::Isa::scalar);
  QK_FOR_EACH_ISA(isa) {
    const PoolKernels& f = *qk::kernels::pool_kernels_for(isa);
    std::mt19937 rng(1234u + static_cast<unsigned>(isa));
    for (int t = 0; t < 400; ++t) {
      const Case k = make_case(rng, t % 20 == 19);
      qk::kernels::PoolDivisors d;
      qk::kernels::make_pool_divisors((k.fh < k.h ? k.fh : k.h) * (k.fw < k.w ? k.fw : k.w), &d);
      for (int is_max = 0; is_max < 2; ++is_max) {
        INFO("t=" << t << " max=" << is_max << " s=" << k.s << " h,w,c=" << k.h << "," << k.w << "," << k.c << " f=" << k.fh
                  << "x" << k.fw << " stride=" << k.sh << "," << k.sw << " pad=" << k.pt << "," << k.pl);
        const auto want = run_kernel(k, ref, is_max != 0, &d);
        REQUIRE(want == plain(k, is_max != 0));
        REQUIRE(run_kernel(k, f, is_max != 0, &d) == want);
      }
    }
  }
}

TEST_CASE("pool kernels: channel sums equal the scalar sums (long runs, every tail)", "[layers][pool][kernels]") {
  const PoolKernels& ref = *qk::kernels::pool_kernels_for(qk::Isa::scalar);
  QK_FOR_EACH_ISA(isa) {
    const PoolKernels& f = *qk::kernels::pool_kernels_for(isa);
    std::mt19937 rng(99u + static_cast<unsigned>(isa));
    for (int t = 0; t < 200; ++t) {
      const bool s = rng() % 2 == 0;
      const std::size_t channels = 1 + rng() % 300, stride = channels + rng() % 5;
      const std::size_t pixels = t % 10 == 0 ? 255 + rng() % 800 : 1 + rng() % 300;
      std::vector<std::uint8_t> x(stride * pixels);
      const int mode = static_cast<int>(rng() % 3);
      for (auto& b : x) b = mode == 0 ? (s ? 0x80 : 0xff) : mode == 1 ? (s ? 0x7f : 0x00) : static_cast<std::uint8_t>(rng());
      std::vector<std::int32_t> a(channels + 1, 7), b(channels + 1, 7);
      ref.channel_sums(x.data(), stride, pixels, channels, s, a.data());
      f.channel_sums(x.data(), stride, pixels, channels, s, b.data());
      INFO("t=" << t << " s=" << s << " c=" << channels << " pixels=" << pixels);
      REQUIRE(a == b);
      std::int64_t want0 = 7;
      for (std::size_t i = 0; i < pixels; ++i) want0 += val(x[i * stride], s);
      REQUIRE(a[0] == want0);
    }
  }
}

TEST_CASE("pool kernels: layers built under each ISA agree (3x3 SAME, s8/u8)", "[layers][pool][kernels]") {
  std::mt19937 rng(7);
  const qk::layers::Shape4 shape{2, 13, 11, 77};
  std::vector<std::uint8_t> in(2 * 13 * 11 * 77);
  for (auto& b : in) b = static_cast<std::uint8_t>(rng());
  qk::layers::Pool2DOptions o;
  o.filter_h = o.filter_w = 3, o.stride_h = o.stride_w = 2, o.padding = qk::layers::PoolPadding::same;
  for (int ti = 0; ti < 2; ++ti) {
    const qk::ElementType type = ti == 0 ? qk::ElementType::s8 : qk::ElementType::u8;
    const std::int32_t lo = ti == 0 ? -128 : 0, hi = ti == 0 ? 127 : 255;
    std::vector<std::uint8_t> ref_avg, ref_max, ref_mean;
    {
      qk_test::ForcedIsa forced(qk::Isa::scalar);
      qk::layers::AveragePool2D a;
      qk::layers::MaxPool2D m;
      qk::layers::GlobalAveragePool g;
      REQUIRE(a.init(type, shape, o, lo, hi).ok());
      REQUIRE(m.init(type, shape, o, lo, hi).ok());
      REQUIRE(g.init(type, shape, qk::layers::QuantInfo{0.05f, ti == 0 ? -3 : 120}, qk::layers::QuantInfo{0.02f, ti == 0 ? -2 : 100}).ok());
      ref_avg.resize(2 * 7 * 6 * 77), ref_max.resize(2 * 7 * 6 * 77), ref_mean.resize(2 * 77);
      REQUIRE(a.run(in.data(), ref_avg.data()).ok());
      REQUIRE(m.run(in.data(), ref_max.data()).ok());
      REQUIRE(g.run(in.data(), ref_mean.data()).ok());
    }
    QK_FOR_EACH_ISA(isa) {
      qk::layers::AveragePool2D a;
      qk::layers::MaxPool2D m;
      qk::layers::GlobalAveragePool g;
      REQUIRE(a.init(type, shape, o, lo, hi).ok());
      REQUIRE(m.init(type, shape, o, lo, hi).ok());
      REQUIRE(g.init(type, shape, qk::layers::QuantInfo{0.05f, ti == 0 ? -3 : 120}, qk::layers::QuantInfo{0.02f, ti == 0 ? -2 : 100}).ok());
      std::vector<std::uint8_t> oa(ref_avg.size()), om(ref_max.size()), og(ref_mean.size());
      REQUIRE(a.run(in.data(), oa.data()).ok());
      REQUIRE(m.run(in.data(), om.data()).ok());
      REQUIRE(g.run(in.data(), og.data()).ok());
      CHECK(oa == ref_avg);
      CHECK(om == ref_max);
      CHECK(og == ref_mean);
    }
  }
}

TEST_CASE("pool kernels: mean output equals the scalar definition (every multiplier/shift extreme)", "[layers][pool][kernels]") {
  const PoolKernels& ref = *qk::kernels::pool_kernels_for(qk::Isa::scalar);
  QK_FOR_EACH_ISA(isa) {
    const PoolKernels& f = *qk::kernels::pool_kernels_for(isa);
    std::mt19937 rng(5u + static_cast<unsigned>(isa));
    for (int t = 0; t < 3000; ++t) {
      qk::kernels::PoolMeanParams p;
      p.is_signed = rng() % 4 != 0;
      const std::int32_t ns[] = {1, 2, 3, 9, 49, 255, 256, 3136, 12544, 1 << 20, (1 << 23) - 1};
      p.n = rng() % 2 ? ns[rng() % 11] : 1 + static_cast<std::int32_t>(rng() % 5000);
      p.reciprocal = 1.0 / static_cast<double>(p.n);
      const std::int32_t ms[] = {0, 1, 1 << 30, 2147483647, 1518500250};
      p.multiplier = rng() % 2 ? ms[rng() % 5] : static_cast<std::int32_t>(rng() % 2147483648u);
      p.shift = -31 + static_cast<std::int32_t>(rng() % 62);
      const std::int32_t tmin = p.is_signed ? -128 : 0;
      p.zp_in = tmin + static_cast<std::int32_t>(rng() % 256);
      p.zp_out = tmin + static_cast<std::int32_t>(rng() % 256);
      p.bias = static_cast<std::int32_t>(rng() % 2001) - 1000;
      const std::size_t channels = 1 + rng() % 70;
      std::vector<std::int32_t> acc(channels);
      const std::int64_t lim = static_cast<std::int64_t>(p.n) * (p.is_signed ? 128 : 255);
      for (auto& a : acc) {
        const int mode = static_cast<int>(rng() % 4);
        const std::int64_t v = mode == 0 ? lim : mode == 1 ? (p.is_signed ? -lim : 0)
                                                           : static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(2 * lim + 1)) - (p.is_signed ? lim : 0);
        a = static_cast<std::int32_t>(p.is_signed ? v : (v < 0 ? -v : v));
        if (p.is_signed && a > p.n * 127) a = p.n * 127;
      }
      std::vector<std::uint8_t> want(channels + 1, 0x33), got(channels + 1, 0x33);
      ref.mean_output(p, acc.data(), channels, want.data());
      f.mean_output(p, acc.data(), channels, got.data());
      INFO("t=" << t << " n=" << p.n << " m=" << p.multiplier << " shift=" << p.shift << " s=" << p.is_signed);
      REQUIRE(got == want);
    }
  }
}

TEST_CASE("pool kernels: softmax rows under each ISA equal the scalar family (row lengths 1..600, in place)",
          "[layers][softmax][kernels]") {
  std::mt19937 rng(31);
  for (int t = 0; t < 120; ++t) {
    const bool s = rng() % 2 == 0;
    const qk::ElementType type = s ? qk::ElementType::s8 : qk::ElementType::u8;
    const std::size_t c = t % 10 == 0 ? 257 + rng() % 2000 : 1 + rng() % 300;
    const qk::layers::Shape4 shape{1, 1 + rng() % 3, 1 + rng() % 5, c};
    const float scales[] = {0.001f, 0.01f, 0.05f, 0.2f, 1.0f, 4.0f};
    const float scale = scales[rng() % 6], beta = rng() % 3 == 0 ? 2.5f : 1.0f;
    std::vector<std::uint8_t> in(shape.n * shape.h * shape.w * c);
    const int mode = static_cast<int>(rng() % 4);
    for (auto& b : in)
      b = mode == 0 ? static_cast<std::uint8_t>(s ? 0x80 : 0) : mode == 1 ? static_cast<std::uint8_t>(rng() % 2 ? 0x7f : 0x80)
                                                                     : static_cast<std::uint8_t>(rng());
    const qk::layers::QuantInfo iq{scale, 0}, oq{1.0f / 256.0f, s ? -128 : 0};
    std::vector<std::uint8_t> want(in.size());
    {
      qk_test::ForcedIsa forced(qk::Isa::scalar);
      qk::layers::Softmax l;
      REQUIRE(l.init(shape, type, iq, beta, oq).ok());
      REQUIRE(l.run(in.data(), want.data()).ok());
    }
    QK_FOR_EACH_ISA(isa) {
      qk::layers::Softmax l;
      REQUIRE(l.init(shape, type, iq, beta, oq).ok());
      std::vector<std::uint8_t> got(in.size()), inplace = in;
      REQUIRE(l.run(in.data(), got.data()).ok());
      REQUIRE(l.run(inplace.data(), inplace.data()).ok());
      INFO("t=" << t << " s=" << s << " c=" << c << " scale=" << scale << " beta=" << beta);
      REQUIRE(got == want);
      REQUIRE(inplace == want);
    }
  }
}
