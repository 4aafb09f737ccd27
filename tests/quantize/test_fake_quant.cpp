// Tests of qk/quantize/fake_quant.hpp against vectors written by PyTorch 1.13
// (scripts/qat/gen_fake_quant_vectors.py -> data/fake_quant_vectors.bin; format in docs/qat.md).
// Every float result is compared bit for bit (memcmp), so a different rounding mode, operation
// order, sign of zero or NaN handling fails.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "qk/quantize/fake_quant.hpp"

#ifndef QK_FAKE_QUANT_DATA
#error "QK_FAKE_QUANT_DATA must name data/fake_quant_vectors.bin (tests/quantize/CMakeLists.txt)"
#endif

namespace {

constexpr std::uint32_t kPerTensor = 1, kPerChannel = 2, kLsq = 3, kLsqChannel = 4;

struct Reader {
  std::vector<unsigned char> bytes;
  std::size_t at = 0;
  bool ok = true;

  template <class T>
  T get() {
    T v{};
    if (at + sizeof(T) > bytes.size()) {
      ok = false;
      return v;
    }
    std::memcpy(&v, bytes.data() + at, sizeof(T));  // the file is little-endian, as the targets
    at += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> arr(std::size_t n) {
    std::vector<T> v(n);
    if (at + n * sizeof(T) > bytes.size()) {
      ok = false;
      return v;
    }
    if (n != 0) std::memcpy(v.data(), bytes.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
};

struct PerTensorCase {
  std::uint32_t n;
  float scale;
  std::int32_t zp, qmin, qmax;
  std::vector<float> x, dy, y, dx;
  std::vector<std::uint8_t> mask;
};
struct PerChannelCase {
  std::uint32_t outer, channels, inner;
  std::int32_t qmin, qmax;
  std::vector<float> scales;
  std::vector<std::int32_t> zps;
  std::vector<float> x, dy, y, dx;
  std::vector<std::uint8_t> mask;
};
struct LsqCase {
  std::uint32_t n, flags;
  float scale, zp;
  std::int32_t qmin, qmax;
  float gf, dscale, dzp;
  std::vector<float> x, dy, y, dx, dscale_elem, dzp_elem;
};

struct LsqChannelCase {
  std::uint32_t outer, channels, inner;
  std::int32_t qmin, qmax;
  float gf;
  std::vector<float> scales, zps, dscale, dzp;
  std::vector<float> x, dy, y, dx, dscale_elem, dzp_elem;
};

struct Vectors {
  std::vector<PerTensorCase> per_tensor;
  std::vector<LsqChannelCase> lsq_channel;
  std::vector<PerChannelCase> per_channel;
  std::vector<LsqCase> lsq;
  bool ok = false;
};

Vectors load() {
  Vectors v;
  Reader r;
  std::FILE* f = std::fopen(QK_FAKE_QUANT_DATA, "rb");
  if (f == nullptr) return v;
  unsigned char buf[4096];
  std::size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) r.bytes.insert(r.bytes.end(), buf, buf + got);
  std::fclose(f);
  if (r.bytes.size() < 12 || std::memcmp(r.bytes.data(), "QKFQV001", 8) != 0) return v;
  r.at = 8;
  const std::uint32_t count = r.get<std::uint32_t>();
  for (std::uint32_t c = 0; c < count && r.ok; ++c) {
    const std::uint32_t kind = r.get<std::uint32_t>();
    if (kind == kPerTensor) {
      PerTensorCase t;
      t.n = r.get<std::uint32_t>();
      t.scale = r.get<float>();
      t.zp = r.get<std::int32_t>();
      t.qmin = r.get<std::int32_t>();
      t.qmax = r.get<std::int32_t>();
      t.x = r.arr<float>(t.n);
      t.dy = r.arr<float>(t.n);
      t.y = r.arr<float>(t.n);
      t.mask = r.arr<std::uint8_t>(t.n);
      t.dx = r.arr<float>(t.n);
      v.per_tensor.push_back(std::move(t));
    } else if (kind == kPerChannel) {
      PerChannelCase t;
      t.outer = r.get<std::uint32_t>();
      t.channels = r.get<std::uint32_t>();
      t.inner = r.get<std::uint32_t>();
      t.qmin = r.get<std::int32_t>();
      t.qmax = r.get<std::int32_t>();
      t.scales = r.arr<float>(t.channels);
      t.zps = r.arr<std::int32_t>(t.channels);
      const std::size_t n = std::size_t{t.outer} * t.channels * t.inner;
      t.x = r.arr<float>(n);
      t.dy = r.arr<float>(n);
      t.y = r.arr<float>(n);
      t.mask = r.arr<std::uint8_t>(n);
      t.dx = r.arr<float>(n);
      v.per_channel.push_back(std::move(t));
    } else if (kind == kLsq) {
      LsqCase t;
      t.n = r.get<std::uint32_t>();
      t.flags = r.get<std::uint32_t>();
      t.scale = r.get<float>();
      t.zp = r.get<float>();
      t.qmin = r.get<std::int32_t>();
      t.qmax = r.get<std::int32_t>();
      t.gf = r.get<float>();
      t.dscale = r.get<float>();
      t.dzp = r.get<float>();
      t.x = r.arr<float>(t.n);
      t.dy = r.arr<float>(t.n);
      if (t.flags & 1u) {
        t.y = r.arr<float>(t.n);
        t.dx = r.arr<float>(t.n);
        t.dscale_elem = r.arr<float>(t.n);
        t.dzp_elem = r.arr<float>(t.n);
      }
      v.lsq.push_back(std::move(t));
    } else if (kind == kLsqChannel) {
      LsqChannelCase t;
      t.outer = r.get<std::uint32_t>();
      t.channels = r.get<std::uint32_t>();
      t.inner = r.get<std::uint32_t>();
      t.qmin = r.get<std::int32_t>();
      t.qmax = r.get<std::int32_t>();
      t.gf = r.get<float>();
      t.scales = r.arr<float>(t.channels);
      t.zps = r.arr<float>(t.channels);
      t.dscale = r.arr<float>(t.channels);
      t.dzp = r.arr<float>(t.channels);
      const std::size_t n = std::size_t{t.outer} * t.channels * t.inner;
      t.x = r.arr<float>(n);
      t.dy = r.arr<float>(n);
      t.y = r.arr<float>(n);
      t.dx = r.arr<float>(n);
      t.dscale_elem = r.arr<float>(n);
      t.dzp_elem = r.arr<float>(n);
      v.lsq_channel.push_back(std::move(t));
    } else {
      return v;
    }
  }
  v.ok = r.ok && r.at == r.bytes.size();
  return v;
}

const Vectors& vectors() {
  static const Vectors v = load();
  return v;
}

std::uint32_t bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// Index of the first element whose bits differ, or -1.
long first_mismatch(const float* a, const float* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (bits(a[i]) != bits(b[i])) return static_cast<long>(i);
  return -1;
}
long first_mismatch(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<long>(i);
  return -1;
}

constexpr float kPoison = -12345.678f;
constexpr std::uint8_t kPoisonMask = 0xA5;

bool all_poison(const std::vector<float>& v) {
  for (float f : v)
    if (bits(f) != bits(kPoison)) return false;
  return true;
}
bool all_poison(const std::vector<std::uint8_t>& v) {
  for (std::uint8_t b : v)
    if (b != kPoisonMask) return false;
  return true;
}

}  // namespace

TEST_CASE("fake quant vectors file loads and covers every kind", "[fake_quant]") {
  const Vectors& v = vectors();
  REQUIRE(v.ok);
  CHECK(v.per_tensor.size() >= 90);
  CHECK(v.per_channel.size() >= 6);
  CHECK(v.lsq.size() >= 28);
  CHECK(v.lsq_channel.size() >= 6);
}

TEST_CASE("fake_quantize_per_tensor_affine matches PyTorch bit for bit", "[fake_quant]") {
  const Vectors& v = vectors();
  REQUIRE(v.ok);
  std::size_t checked = 0;
  for (std::size_t c = 0; c < v.per_tensor.size(); ++c) {
    const PerTensorCase& t = v.per_tensor[c];
    INFO("case " << c << " n=" << t.n << " scale=" << t.scale << " zp=" << t.zp << " range=[" << t.qmin << ", "
                 << t.qmax << "]");
    std::vector<float> y(t.n, kPoison), dx(t.n, kPoison), dx2(t.n, kPoison);
    std::vector<std::uint8_t> mask(t.n, kPoisonMask);
    REQUIRE(qk::fake_quantize_per_tensor_affine(t.x.data(), t.n, t.scale, t.zp, t.qmin, t.qmax, y.data(),
                                                mask.data())
                .ok());
    const long ey = first_mismatch(y.data(), t.y.data(), t.n);
    INFO("y mismatch at " << ey << (ey >= 0 ? " x=" : "") << (ey >= 0 ? t.x[static_cast<std::size_t>(ey)] : 0.0f));
    CHECK(ey == -1);
    CHECK(first_mismatch(mask.data(), t.mask.data(), t.n) == -1);

    REQUIRE(qk::fake_quantize_backward_from_mask(t.dy.data(), mask.data(), t.n, dx.data()).ok());
    CHECK(first_mismatch(dx.data(), t.dx.data(), t.n) == -1);
    REQUIRE(qk::fake_quantize_per_tensor_affine_backward(t.dy.data(), t.x.data(), t.n, t.scale, t.zp, t.qmin,
                                                         t.qmax, dx2.data())
                .ok());
    CHECK(first_mismatch(dx2.data(), t.dx.data(), t.n) == -1);

    // In place, without a mask.
    std::vector<float> inplace = t.x;
    REQUIRE(qk::fake_quantize_per_tensor_affine(inplace.data(), t.n, t.scale, t.zp, t.qmin, t.qmax, inplace.data(),
                                                nullptr)
                .ok());
    CHECK(first_mismatch(inplace.data(), t.y.data(), t.n) == -1);
    checked += t.n;
  }
  CHECK(checked > 3500);
}

TEST_CASE("fake_quantize_per_channel_affine matches PyTorch bit for bit", "[fake_quant]") {
  const Vectors& v = vectors();
  REQUIRE(v.ok);
  for (std::size_t c = 0; c < v.per_channel.size(); ++c) {
    const PerChannelCase& t = v.per_channel[c];
    const std::size_t n = std::size_t{t.outer} * t.channels * t.inner;
    INFO("case " << c << " shape " << t.outer << "x" << t.channels << "x" << t.inner);
    std::vector<float> y(n, kPoison), dx(n, kPoison), dx2(n, kPoison);
    std::vector<std::uint8_t> mask(n, kPoisonMask);
    REQUIRE(qk::fake_quantize_per_channel_affine(t.x.data(), t.outer, t.channels, t.inner, t.scales.data(),
                                                 t.zps.data(), t.channels, t.qmin, t.qmax, y.data(), mask.data())
                .ok());
    CHECK(first_mismatch(y.data(), t.y.data(), n) == -1);
    CHECK(first_mismatch(mask.data(), t.mask.data(), n) == -1);
    REQUIRE(qk::fake_quantize_backward_from_mask(t.dy.data(), mask.data(), n, dx.data()).ok());
    CHECK(first_mismatch(dx.data(), t.dx.data(), n) == -1);
    REQUIRE(qk::fake_quantize_per_channel_affine_backward(t.dy.data(), t.x.data(), t.outer, t.channels, t.inner,
                                                          t.scales.data(), t.zps.data(), t.channels, t.qmin,
                                                          t.qmax, dx2.data())
                .ok());
    CHECK(first_mismatch(dx2.data(), t.dx.data(), n) == -1);
  }
}

TEST_CASE("learnable (LSQ) per tensor matches PyTorch bit for bit", "[fake_quant][lsq]") {
  const Vectors& v = vectors();
  REQUIRE(v.ok);
  std::size_t with_elements = 0;
  for (std::size_t c = 0; c < v.lsq.size(); ++c) {
    const LsqCase& t = v.lsq[c];
    INFO("case " << c << " n=" << t.n << " scale=" << t.scale << " zp=" << t.zp << " range=[" << t.qmin << ", "
                 << t.qmax << "] g=" << t.gf);
    std::vector<float> y(t.n, kPoison), dx(t.n, kPoison), des(t.n, kPoison), dez(t.n, kPoison);
    float ds = kPoison, dz = kPoison;
    REQUIRE(qk::fake_quantize_learnable_per_tensor_affine(t.x.data(), t.n, t.scale, t.zp, t.qmin, t.qmax, y.data(),
                                                          nullptr)
                .ok());
    REQUIRE(qk::fake_quantize_learnable_per_tensor_affine_backward(t.dy.data(), t.x.data(), t.n, t.scale, t.zp,
                                                                   t.qmin, t.qmax, t.gf, dx.data(), des.data(),
                                                                   dez.data(), &ds, &dz)
                .ok());
    // The summed gradients: bit-exact (pytorch_sum reproduces PyTorch's summation order).
    INFO("dscale " << ds << " vs PyTorch " << t.dscale << ", dzero_point " << dz << " vs " << t.dzp);
    CHECK(bits(ds) == bits(t.dscale));
    CHECK(bits(dz) == bits(t.dzp));
    if ((t.flags & 1u) != 0) {
      ++with_elements;
      CHECK(first_mismatch(y.data(), t.y.data(), t.n) == -1);
      CHECK(first_mismatch(dx.data(), t.dx.data(), t.n) == -1);
      // PyTorch gives each element's contribution as a one-element sum, 0 + v.
      std::vector<float> des0(t.n), dez0(t.n);
      for (std::size_t i = 0; i < t.n; ++i) {
        des0[i] = 0.0f + des[i];
        dez0[i] = 0.0f + dez[i];
      }
      const long es = first_mismatch(des0.data(), t.dscale_elem.data(), t.n);
      INFO("dscale element mismatch at " << es);
      CHECK(es == -1);
      CHECK(first_mismatch(dez0.data(), t.dzp_elem.data(), t.n) == -1);
    }
  }
  CHECK(with_elements >= 28);
}

TEST_CASE("learnable (LSQ) per channel matches PyTorch bit for bit", "[fake_quant][lsq]") {
  const Vectors& v = vectors();
  REQUIRE(v.ok);
  std::size_t bounded = 0;
  for (std::size_t c = 0; c < v.lsq_channel.size(); ++c) {
    const LsqChannelCase& t = v.lsq_channel[c];
    const std::size_t n = std::size_t{t.outer} * t.channels * t.inner;
    INFO("case " << c << " shape " << t.outer << "x" << t.channels << "x" << t.inner << " g=" << t.gf);
    std::vector<float> y(n, kPoison), dx(n, kPoison), des(n, kPoison), dez(n, kPoison);
    std::vector<float> ds(t.channels, kPoison), dz(t.channels, kPoison);
    REQUIRE(qk::fake_quantize_learnable_per_channel_affine(t.x.data(), t.outer, t.channels, t.inner, t.scales.data(),
                                                           t.zps.data(), t.channels, t.qmin, t.qmax, y.data(),
                                                           nullptr)
                .ok());
    REQUIRE(qk::fake_quantize_learnable_per_channel_affine_backward(
                t.dy.data(), t.x.data(), t.outer, t.channels, t.inner, t.scales.data(), t.zps.data(), t.channels,
                t.qmin, t.qmax, t.gf, dx.data(), des.data(), dez.data(), ds.data(), dz.data())
                .ok());
    CHECK(first_mismatch(y.data(), t.y.data(), n) == -1);
    CHECK(first_mismatch(dx.data(), t.dx.data(), n) == -1);
    std::vector<float> des0(n), dez0(n);
    for (std::size_t i = 0; i < n; ++i) {
      des0[i] = 0.0f + des[i];
      dez0[i] = 0.0f + dez[i];
    }
    const long es = first_mismatch(des0.data(), t.dscale_elem.data(), n);
    INFO("dscale element mismatch at " << es);
    CHECK(es == -1);
    CHECK(first_mismatch(dez0.data(), t.dzp_elem.data(), n) == -1);
    if (t.outer < 16) {
      // Per-channel sums: our order is PyTorch's for outer < 16 (docs/qat.md): bit-exact.
      const long ed = first_mismatch(ds.data(), t.dscale.data(), t.channels);
      INFO("dscale channel mismatch at " << ed);
      CHECK(ed == -1);
      CHECK(first_mismatch(dz.data(), t.dzp.data(), t.channels) == -1);
    } else {
      // PyTorch sums many rows in a cascade of its own: not the same order. Two float sums of
      // the same m terms in any orders differ by at most about 2 m u sum|e| (u = 2^-24).
      ++bounded;
      const std::size_t m = std::size_t{t.outer} * t.inner;
      for (std::size_t ch = 0; ch < t.channels; ++ch) {
        double abs_s = 0.0, abs_z = 0.0;
        for (std::size_t o = 0; o < t.outer; ++o)
          for (std::size_t i = 0; i < t.inner; ++i) {
            abs_s += std::fabs(static_cast<double>(des[(o * t.channels + ch) * t.inner + i]));
            abs_z += std::fabs(static_cast<double>(dez[(o * t.channels + ch) * t.inner + i]));
          }
        const double u = std::ldexp(1.0, -24);
        INFO("channel " << ch << " dscale " << ds[ch] << " vs " << t.dscale[ch] << ", dzp " << dz[ch] << " vs "
                        << t.dzp[ch]);
        CHECK(std::fabs(static_cast<double>(ds[ch]) - static_cast<double>(t.dscale[ch])) <=
              2.0 * static_cast<double>(m) * u * abs_s);
        CHECK(std::fabs(static_cast<double>(dz[ch]) - static_cast<double>(t.dzp[ch])) <=
              2.0 * static_cast<double>(m) * u * abs_z);
      }
    }
  }
  CHECK(bounded >= 1);
}

TEST_CASE("LSQ zero point rounding differs between forward and backward, as in PyTorch", "[fake_quant][lsq]") {
  CHECK(qk::lsq_forward_zero_point(2.5f, -128, 127) == 2);
  CHECK(qk::lsq_backward_zero_point(2.5f, -128, 127) == 3);
  CHECK(qk::lsq_forward_zero_point(-2.5f, -128, 127) == -2);
  CHECK(qk::lsq_backward_zero_point(-2.5f, -128, 127) == -2);
  CHECK(qk::lsq_forward_zero_point(-3.7f, -128, 127) == -4);
  CHECK(qk::lsq_backward_zero_point(-3.7f, -128, 127) == -3);
  CHECK(qk::lsq_forward_zero_point(1000.0f, 0, 255) == 255);
  CHECK(qk::lsq_backward_zero_point(-1000.0f, 0, 255) == 0);
}

TEST_CASE("pytorch_sum: order and edge cases", "[fake_quant][lsq]") {
  CHECK(qk::pytorch_sum(nullptr, 0) == 0.0f);
  const float neg0 = -0.0f;
  CHECK(bits(qk::pytorch_sum(&neg0, 1)) == bits(0.0f));
  // 2^24 + 1 + 1 ... : a left-to-right sum loses every 1; the cascade adds the 1s among
  // themselves first (lanes and groups), so the result is larger.
  std::vector<float> v(64, 1.0f);
  v[0] = 16777216.0f;
  float naive = 0.0f;
  for (float f : v) naive += f;
  CHECK(naive == 16777216.0f);
  CHECK(qk::pytorch_sum(v.data(), v.size()) > 16777216.0f);
}

TEST_CASE("fake quant errors write nothing", "[fake_quant][errors]") {
  const std::size_t n = 19;
  std::vector<float> x(n), dy(n, 1.0f);
  for (std::size_t i = 0; i < n; ++i) x[i] = static_cast<float>(i) - 9.0f;
  std::vector<float> y(n, kPoison), dx(n, kPoison), des(n, kPoison), dez(n, kPoison);
  std::vector<std::uint8_t> mask(n, kPoisonMask);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  auto untouched = [&] {
    return all_poison(y) && all_poison(dx) && all_poison(des) && all_poison(dez) && all_poison(mask);
  };

  SECTION("per tensor") {
    for (float s : {0.0f, -0.0f, -1.0f, nan, inf, -inf}) {
      INFO("scale " << s);
      CHECK(qk::fake_quantize_per_tensor_affine(x.data(), n, s, 0, -128, 127, y.data(), mask.data()).code() ==
            qk::StatusCode::invalid_argument);
      CHECK(qk::fake_quantize_per_tensor_affine_backward(dy.data(), x.data(), n, s, 0, -128, 127, dx.data()).code() ==
            qk::StatusCode::invalid_argument);
    }
    CHECK(qk::fake_quantize_per_tensor_affine(x.data(), n, 1.0f, 0, 5, 4, y.data(), mask.data()).code() ==
          qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_tensor_affine(x.data(), n, 1.0f, 128, -128, 127, y.data(), mask.data()).code() ==
          qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_tensor_affine(x.data(), n, 1.0f, -1, 0, 255, y.data(), mask.data()).code() ==
          qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_tensor_affine(nullptr, n, 1.0f, 0, -128, 127, y.data(), mask.data()).code() ==
          qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_per_tensor_affine(x.data(), n, 1.0f, 0, -128, 127, nullptr, mask.data()).code() ==
          qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_per_tensor_affine_backward(nullptr, x.data(), n, 1.0f, 0, -128, 127, dx.data()).code() ==
          qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_backward_from_mask(dy.data(), nullptr, n, dx.data()).code() ==
          qk::StatusCode::null_pointer);
    CHECK(untouched());
    // n = 0 with null pointers is fine and writes nothing.
    CHECK(qk::fake_quantize_per_tensor_affine(nullptr, 0, 1.0f, 0, -128, 127, nullptr, nullptr).ok());
  }

  SECTION("per channel") {
    const float scales[3] = {0.5f, 1.0f, 2.0f};
    const std::int32_t zps[3] = {0, 3, -4};
    const float bad_scales[3] = {0.5f, nan, 2.0f};
    const std::int32_t bad_zps[3] = {0, 3, 200};
    // 19 elements do not split into channels; use outer 2 x 3 channels x 3 inner = 18.
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), 2, 3, 3, scales, zps, 2, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::bad_shape);
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), 2, 3, 3, bad_scales, zps, 3, -128, 127, y.data(),
                                               mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), 2, 3, 3, scales, bad_zps, 3, -128, 127, y.data(),
                                               mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), 2, 3, 3, scales, zps, 3, 127, -128, y.data(), mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), 2, 3, 3, nullptr, zps, 3, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_per_channel_affine(nullptr, 2, 3, 3, scales, zps, 3, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_per_channel_affine_backward(dy.data(), x.data(), 2, 3, 3, scales, zps, 3, -128, 127,
                                                        nullptr)
              .code() == qk::StatusCode::null_pointer);
    const std::size_t big = std::numeric_limits<std::size_t>::max() / 2;
    CHECK(qk::fake_quantize_per_channel_affine(x.data(), big, 3, 3, scales, zps, 3, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::size_overflow);
    CHECK(untouched());
  }

  SECTION("learnable") {
    float ds = kPoison, dz = kPoison;
    auto bwd = [&](const float* pdy, float s, float z, std::int32_t lo, std::int32_t hi, float g, float* pdx) {
      return qk::fake_quantize_learnable_per_tensor_affine_backward(pdy, x.data(), n, s, z, lo, hi, g, pdx,
                                                                    des.data(), dez.data(), &ds, &dz)
          .code();
    };
    for (float s : {0.0f, -2.0f, nan, inf}) CHECK(bwd(dy.data(), s, 0.0f, -128, 127, 1.0f, dx.data()) ==
                                                  qk::StatusCode::invalid_argument);
    CHECK(bwd(dy.data(), 1.0f, nan, -128, 127, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(dy.data(), 1.0f, 0.0f, 1, 255, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);  // 0 outside
    CHECK(bwd(dy.data(), 1.0f, 0.0f, 5, -5, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(dy.data(), 1.0f, 0.0f, -128, 127, nan, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(nullptr, 1.0f, 0.0f, -128, 127, 1.0f, dx.data()) == qk::StatusCode::null_pointer);
    CHECK(bwd(dy.data(), 1.0f, 0.0f, -128, 127, 1.0f, nullptr) == qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_learnable_per_tensor_affine(x.data(), n, 1.0f, inf, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_learnable_per_tensor_affine(x.data(), n, -1.0f, 0.0f, -128, 127, y.data(), mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(bits(ds) == bits(kPoison));
    CHECK(bits(dz) == bits(kPoison));
    CHECK(untouched());
  }

  SECTION("learnable per channel") {
    const float scales[3] = {0.5f, 1.0f, 2.0f};
    const float zps[3] = {0.0f, 2.5f, -3.7f};
    const float bad_zps[3] = {0.0f, nan, 1.0f};
    const float bad_scales[3] = {0.5f, 1.0f, 0.0f};
    float ds[3] = {kPoison, kPoison, kPoison}, dz[3] = {kPoison, kPoison, kPoison};
    auto bwd = [&](const float* s, const float* z, std::size_t np, std::int32_t lo, std::int32_t hi, float g,
                   float* pdx) {
      return qk::fake_quantize_learnable_per_channel_affine_backward(dy.data(), x.data(), 2, 3, 3, s, z, np, lo, hi, g,
                                                                     pdx, des.data(), dez.data(), ds, dz)
          .code();
    };
    CHECK(bwd(scales, zps, 4, -128, 127, 1.0f, dx.data()) == qk::StatusCode::bad_shape);
    CHECK(bwd(scales, bad_zps, 3, -128, 127, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(bad_scales, zps, 3, -128, 127, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(scales, zps, 3, 1, 127, 1.0f, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(scales, zps, 3, -128, 127, inf, dx.data()) == qk::StatusCode::invalid_argument);
    CHECK(bwd(scales, zps, 3, -128, 127, 1.0f, nullptr) == qk::StatusCode::null_pointer);
    CHECK(bwd(nullptr, zps, 3, -128, 127, 1.0f, dx.data()) == qk::StatusCode::null_pointer);
    CHECK(qk::fake_quantize_learnable_per_channel_affine(x.data(), 2, 3, 3, scales, bad_zps, 3, -128, 127, y.data(),
                                                         mask.data())
              .code() == qk::StatusCode::invalid_argument);
    CHECK(qk::fake_quantize_learnable_per_channel_affine(x.data(), 2, 3, 3, scales, zps, 2, -128, 127, y.data(),
                                                         mask.data())
              .code() == qk::StatusCode::bad_shape);
    for (int c = 0; c < 3; ++c) {
      CHECK(bits(ds[c]) == bits(kPoison));
      CHECK(bits(dz[c]) == bits(kPoison));
    }
    CHECK(untouched());
  }
}
