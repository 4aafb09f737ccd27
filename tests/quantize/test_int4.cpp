// qk/quantize/int4.hpp: fp16 / bf16 conversions (exhaustive), 2-8 bit packing against a
// bit-by-bit reference, the blockwise format (quantization against a plain transcription of ONNX
// Runtime's formulas, padding, errors), and the MatMulNBits and Q4_0 converters against small
// dequantizers written here from the published definitions.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "qk/quantize.hpp"

namespace {

using qk::StatusCode;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr std::size_t kHuge = std::numeric_limits<std::size_t>::max() / 2;

std::uint32_t bits_of(float f) {
  std::uint32_t u = 0;
  std::memcpy(&u, &f, 4);
  return u;
}
float float_of(std::uint32_t u) {
  float f = 0.0f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The value of a half from its fields, in double (IEEE 754 binary16: 1 sign, 5 exponent bits,
// bias 15, 10 mantissa bits, exponent 0 subnormal, 31 infinity / NaN).
double half_value(std::uint16_t h) {
  const int exponent = (h >> 10) & 31;
  const int mantissa = h & 1023;
  const double sign = (h & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 31) return mantissa == 0 ? sign * std::numeric_limits<double>::infinity() : std::nan("");
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// ---- A bit-stream model of the packing, bit by bit: element i's bit t is stream bit i*b + t,
// ---- and stream bit s is bit s % 8 of byte s / 8.
std::uint32_t stream_get(const std::vector<std::uint8_t>& bytes, std::size_t i, int bits) {
  std::uint32_t code = 0;
  for (int t = 0; t < bits; ++t) {
    const std::size_t s = i * static_cast<std::size_t>(bits) + static_cast<std::size_t>(t);
    code |= ((static_cast<std::uint32_t>(bytes[s / 8]) >> (s % 8)) & 1u) << t;
  }
  return code;
}
void stream_put(std::vector<std::uint8_t>& bytes, std::size_t i, int bits, std::uint32_t code) {
  for (int t = 0; t < bits; ++t) {
    const std::size_t s = i * static_cast<std::size_t>(bits) + static_cast<std::size_t>(t);
    const auto bit = static_cast<std::uint8_t>(1u << (s % 8));
    if (((code >> t) & 1u) != 0) bytes[s / 8] = static_cast<std::uint8_t>(bytes[s / 8] | bit);
    else bytes[s / 8] = static_cast<std::uint8_t>(bytes[s / 8] & ~bit);
  }
}
std::size_t stream_bytes(std::size_t n, int bits) { return (n * static_cast<std::size_t>(bits) + 7) / 8; }

// ---- Buffers for a blockwise format.
struct Owned {
  qk::BlockwiseFormat format;
  qk::BlockwiseSizes sizes;
  std::vector<std::uint8_t> data, scales, zero_points;

  explicit Owned(const qk::BlockwiseFormat& f, std::uint8_t fill = 0xA5) : format(f) {
    REQUIRE(qk::blockwise_sizes(f, &sizes).ok());
    data.assign(sizes.data_bytes, fill);
    scales.assign(sizes.scale_bytes, fill);
    zero_points.assign(sizes.zero_point_bytes, fill);
  }
  qk::BlockwiseBuffers buffers() {
    qk::BlockwiseBuffers b;
    b.data = data.data();
    b.data_bytes = data.size();
    b.scales = scales.data();
    b.scale_bytes = scales.size();
    b.zero_points = format.zero_points ? zero_points.data() : nullptr;
    b.zero_point_bytes = zero_points.size();
    return b;
  }
  qk::BlockwiseWeights weights() const {
    qk::BlockwiseWeights w;
    w.format = format;
    w.data = data.data();
    w.scales = scales.data();
    w.zero_points = format.zero_points ? zero_points.data() : nullptr;
    return w;
  }
  float scale(std::size_t i) const { return qk::load_scale(scales.data(), format.scale_type, i); }
  // Element (r, c)'s value q - zp, from the layout's definition.
  std::int32_t centered(std::size_t r, std::size_t c) const {
    const std::size_t block = c / sizes.block_len, index = r * sizes.blocks_per_row + block;
    std::vector<std::uint8_t> bytes(data.begin() + static_cast<std::ptrdiff_t>(index * sizes.block_bytes),
                                    data.begin() + static_cast<std::ptrdiff_t>((index + 1) * sizes.block_bytes));
    const std::uint32_t code = stream_get(bytes, c % sizes.block_len, format.bits);
    if (format.zero_points) return static_cast<std::int32_t>(code) - zero_points[index];
    const std::int32_t half = 1 << (format.bits - 1);
    return static_cast<std::int32_t>(code) >= half ? static_cast<std::int32_t>(code) - 2 * half : static_cast<std::int32_t>(code);
  }
  std::vector<float> dequantized() const {
    std::vector<float> y(format.n * format.k, kNaN);
    REQUIRE(qk::dequantize_blockwise(weights(), y.data()).ok());
    return y;
  }
};

// The value a scale type stores for f (round to nearest even).
float stored(float f, qk::ScaleType t) {
  if (t == qk::ScaleType::f16) return qk::half_to_float(qk::float_to_half(f));
  if (t == qk::ScaleType::bf16) return qk::bf16_to_float(qk::float_to_bf16(f));
  return f;
}

// ONNX Runtime's MatMulNBits quantizer (MlasQuantizeBlockwise: range2scale / range2scalezp and
// the quantization loop), written out plainly for one block; qk's degenerate-block rule (scale 1
// where ORT's stored scale is 0) applied on top. Returns the stored scale and fills q - zp.
struct RefBlock {
  float scale = 0.0f;
  std::int32_t zero_point = 0;
  std::vector<std::int32_t> centered;
};
RefBlock reference_block(const float* x, std::size_t len, int bits, bool asymmetric, qk::ScaleType t) {
  float mn = std::numeric_limits<float>::max(), mx = -std::numeric_limits<float>::max();
  for (std::size_t i = 0; i < len; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  RefBlock r;
  float scale_f = 0.0f;
  const float kmax = static_cast<float>((1 << bits) - 1);
  if (asymmetric) {
    mn = std::min(mn, 0.0f);
    mx = std::max(mx, 0.0f);
    scale_f = (mx - mn) / kmax;
    float zp = mn;
    if (scale_f != 0.0f) zp = 0.0f - mn / scale_f;
    r.zero_point = zp < 0.0f ? 0 : zp > kmax ? static_cast<std::int32_t>(kmax) : static_cast<std::int32_t>(std::round(zp));
  } else {
    const float m = std::fabs(mx) > std::fabs(mn) ? mx : mn;
    scale_f = -m / static_cast<float>(1 << (bits - 1));
    r.zero_point = 1 << (bits - 1);
  }
  const float s = stored(scale_f, t);
  const float reciprocal = s != 0.0f ? 1.0f / s : 0.0f;
  const bool degenerate = s == 0.0f || std::isinf(reciprocal);
  r.scale = degenerate ? 1.0f : s;
  for (std::size_t i = 0; i < len; ++i) {
    const float v = degenerate ? static_cast<float>(r.zero_point)
                               : std::clamp(std::round(x[i] * reciprocal + static_cast<float>(r.zero_point)), 0.0f, kmax);
    r.centered.push_back(static_cast<std::int32_t>(v) - r.zero_point);
  }
  return r;
}

// Weights like trained ones: Gaussian, a few large outliers, some all-zero rows and blocks.
std::vector<float> weight_data(std::size_t n, std::size_t k, std::mt19937& rng) {
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::uniform_int_distribution<int> kind(0, 99);
  std::vector<float> w(n * k);
  for (auto& v : w) {
    const int c = kind(rng);
    v = c < 2 ? g(rng) * 40.0f : (c < 4 ? 0.0f : g(rng));
  }
  if (n > 2)
    for (std::size_t c = 0; c < k; ++c) w[1 * k + c] = 0.0f;  // an all-zero row: degenerate blocks
  return w;
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// fp16 / bf16

TEST_CASE("fp16: every half widens to its exact value and narrows back to itself") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const float f = qk::half_to_float(half);
    const double expected = half_value(half);
    if (std::isnan(expected)) {
      REQUIRE(std::isnan(f));
      REQUIRE((bits_of(f) >> 31) == (h >> 15));
      REQUIRE(((bits_of(f) >> 13) & 0x3FFu) == (h & 0x3FFu));  // payload kept
      REQUIRE(qk::float_to_half(f) == (h | 0x200u));            // quieted on the way back
    } else {
      REQUIRE(static_cast<double>(f) == expected);
      REQUIRE(std::signbit(f) == ((h & 0x8000u) != 0));
      REQUIRE(qk::float_to_half(f) == half);
    }
  }
}

TEST_CASE("fp16: narrowing rounds to nearest even at every midpoint, subnormals and overflow included") {
  // Consecutive halves lo = h, hi = h + 1 for every finite h >= 0; 0x7C00 (infinity) stands for
  // 2^16 above the largest half, which is where IEEE rounding sends overflow.
  for (std::uint32_t h = 0; h < 0x7C00u; ++h) {
    const double lo = half_value(static_cast<std::uint16_t>(h));
    const double hi = h + 1 == 0x7C00u ? 65536.0 : half_value(static_cast<std::uint16_t>(h + 1));
    const auto mid = static_cast<float>((lo + hi) / 2);  // exact: 12 significant bits at most
    REQUIRE(static_cast<double>(mid) == (lo + hi) / 2);
    for (const std::uint32_t sign : {0u, 0x8000u}) {
      const float s = sign != 0 ? -1.0f : 1.0f;
      const auto even = static_cast<std::uint16_t>(sign | ((h & 1u) == 0 ? h : h + 1));
      REQUIRE(qk::float_to_half(s * mid) == even);
      REQUIRE(qk::float_to_half(s * std::nextafter(mid, 0.0f)) == static_cast<std::uint16_t>(sign | h));
      REQUIRE(qk::float_to_half(s * std::nextafter(mid, kInf)) == static_cast<std::uint16_t>(sign | (h + 1)));
    }
  }
  CHECK(qk::float_to_half(std::numeric_limits<float>::max()) == 0x7C00u);
  CHECK(qk::float_to_half(-kInf) == 0xFC00u);
  CHECK(qk::float_to_half(65519.998f) == 0x7BFFu);
  CHECK(qk::float_to_half(std::ldexp(1.0f, -25)) == 0u);  // tie between 0 and the smallest subnormal
  CHECK(qk::float_to_half(std::numeric_limits<float>::denorm_min()) == 0u);
  CHECK(qk::float_to_half(-0.0f) == 0x8000u);
  CHECK(qk::float_to_half(1.0f) == 0x3C00u);
  CHECK(qk::float_to_half(-2.5f) == 0xC100u);
}

TEST_CASE("bf16: every value round trips, every midpoint rounds to even, NaN stays NaN") {
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const auto v = static_cast<std::uint16_t>(b);
    const float f = qk::bf16_to_float(v);
    REQUIRE(bits_of(f) == b << 16);
    if (std::isnan(f)) {
      REQUIRE(qk::float_to_bf16(f) == (b | 0x40u));
      continue;
    }
    REQUIRE(qk::float_to_bf16(f) == v);
    if ((b & 0x7FFFu) >= 0x7F80u) continue;  // infinities: no value above
    // Floats between b and b + 1 are b's bits followed by 16 more; the midpoint is 0x8000.
    const std::uint32_t mid = (b << 16) | 0x8000u;
    REQUIRE(qk::float_to_bf16(float_of(mid)) == static_cast<std::uint16_t>((b & 1u) == 0 ? b : b + 1));
    REQUIRE(qk::float_to_bf16(float_of(mid - 1)) == v);
    REQUIRE(qk::float_to_bf16(float_of(mid + 1)) == static_cast<std::uint16_t>(b + 1));
  }
  CHECK(qk::float_to_bf16(std::numeric_limits<float>::max()) == 0x7F80u);  // rounds up to infinity
  CHECK(qk::float_to_bf16(1.0f) == 0x3F80u);
}

// ------------------------------------------------------------------------------------------------
// Packing

TEST_CASE("packing: the bit layout by hand") {
  std::uint8_t out[4] = {};
  const std::uint8_t u3[8] = {1, 2, 3, 4, 5, 6, 7, 0};  // 001 010 011 100 101 110 111 000, LSB first
  REQUIRE(qk::pack_unsigned_bits(u3, 8, 3, out).ok());
  CHECK(out[0] == 0xD1);
  CHECK(out[1] == 0x58);
  CHECK(out[2] == 0x1F);
  const std::uint8_t u2[5] = {0, 1, 2, 3, 3};  // four a byte, the first in the lowest bits
  REQUIRE(qk::pack_unsigned_bits(u2, 5, 2, out).ok());
  CHECK(out[0] == 0xE4);
  CHECK(out[1] == 0x03);
  const std::int8_t s4[3] = {1, -2, 3};  // two a byte, the first in the low nibble; odd count: high nibble 0
  REQUIRE(qk::pack_signed_bits(s4, 3, 4, out).ok());
  CHECK(out[0] == 0xE1);
  CHECK(out[1] == 0x03);
  const std::int8_t s8[2] = {-128, 127};
  REQUIRE(qk::pack_signed_bits(s8, 2, 8, out).ok());
  CHECK((out[0] == 0x80 && out[1] == 0x7F));
  const std::int8_t s5[2] = {-16, 15};  // 10000 01111 -> bits 0-4 = 0x10, bits 5-9 = 0x0F
  REQUIRE(qk::pack_signed_bits(s5, 2, 5, out).ok());
  CHECK(out[0] == (0x10 | ((0x0F << 5) & 0xFF)));
  CHECK(out[1] == (0x0F >> 3));
}

TEST_CASE("packing: every width 2-8 against the bit-stream model, signed and unsigned, 4 bits as pack_int4") {
  std::mt19937 rng(14);
  for (int bits = 2; bits <= 8; ++bits) {
    for (std::size_t n = 0; n <= 70; ++n) {
      INFO("bits " << bits << " n " << n);
      std::vector<std::int8_t> s(n), s_back(n);
      std::vector<std::uint8_t> u(n), u_back(n);
      std::uniform_int_distribution<int> sd(-(1 << (bits - 1)), (1 << (bits - 1)) - 1), ud(0, (1 << bits) - 1);
      for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<std::int8_t>(sd(rng));
        u[i] = static_cast<std::uint8_t>(ud(rng));
      }
      std::size_t bytes = 0;
      REQUIRE(qk::packed_bytes(n, bits, &bytes).ok());
      REQUIRE(bytes == stream_bytes(n, bits));
      std::vector<std::uint8_t> ps(bytes + 1, 0xEE), pu(bytes + 1, 0xEE);
      REQUIRE(qk::pack_signed_bits(s.data(), n, bits, ps.data()).ok());
      REQUIRE(qk::pack_unsigned_bits(u.data(), n, bits, pu.data()).ok());
      CHECK(ps[bytes] == 0xEE);  // nothing past the packed size
      CHECK(pu[bytes] == 0xEE);
      std::vector<std::uint8_t> model_s(bytes, 0), model_u(bytes, 0);
      for (std::size_t i = 0; i < n; ++i) {
        stream_put(model_s, i, bits, static_cast<std::uint32_t>(s[i]) & ((1u << bits) - 1u));
        stream_put(model_u, i, bits, u[i]);
      }
      CHECK(std::vector<std::uint8_t>(ps.begin(), ps.begin() + static_cast<std::ptrdiff_t>(bytes)) == model_s);
      CHECK(std::vector<std::uint8_t>(pu.begin(), pu.begin() + static_cast<std::ptrdiff_t>(bytes)) == model_u);
      REQUIRE(qk::unpack_signed_bits(ps.data(), n, bits, s_back.data()).ok());
      REQUIRE(qk::unpack_unsigned_bits(pu.data(), n, bits, u_back.data()).ok());
      CHECK(s_back == s);
      CHECK(u_back == u);
      if (bits == 4) {
        std::vector<std::uint8_t> legacy(bytes + 1, 0xEE);
        REQUIRE(qk::pack_int4(s.data(), n, legacy.data()).ok());
        CHECK(legacy == ps);
        REQUIRE(qk::pack_uint4(u.data(), n, legacy.data()).ok());
        CHECK(legacy == pu);
      }
    }
  }
}

TEST_CASE("packing: errors name the argument and write nothing") {
  std::int8_t s[3] = {0, 1, 2};
  std::uint8_t u[3] = {0, 1, 2};
  std::uint8_t out[4] = {0x5A, 0x5A, 0x5A, 0x5A};
  const auto untouched = [&] { return out[0] == 0x5A && out[1] == 0x5A && out[2] == 0x5A && out[3] == 0x5A; };
  CHECK(qk::pack_signed_bits(s, 3, 1, out).code() == StatusCode::invalid_argument);
  CHECK(qk::pack_signed_bits(s, 3, 9, out).code() == StatusCode::invalid_argument);
  s[2] = 2;
  CHECK(qk::pack_signed_bits(s, 3, 2, out).code() == StatusCode::invalid_argument);  // 2 > 1
  s[2] = -3;
  const qk::Status st = qk::pack_signed_bits(s, 3, 2, out);
  CHECK(st.code() == StatusCode::invalid_argument);
  CHECK(st.int_value() == -3);
  u[1] = 4;
  CHECK(qk::pack_unsigned_bits(u, 3, 2, out).code() == StatusCode::invalid_argument);
  CHECK(qk::pack_unsigned_bits(nullptr, 3, 4, out).code() == StatusCode::null_pointer);
  CHECK(qk::pack_unsigned_bits(u, 3, 4, nullptr).code() == StatusCode::null_pointer);
  CHECK(qk::unpack_signed_bits(nullptr, 3, 4, s).code() == StatusCode::null_pointer);
  CHECK(qk::unpack_unsigned_bits(out, 3, 0, u).code() == StatusCode::invalid_argument);
  CHECK(qk::pack_unsigned_bits(u, std::numeric_limits<std::size_t>::max() / 4, 8, out).code() == StatusCode::size_overflow);
  CHECK(untouched());
  std::size_t bytes = 7;
  CHECK(qk::packed_bytes(std::numeric_limits<std::size_t>::max() / 2, 3, &bytes).code() == StatusCode::size_overflow);
  CHECK(qk::packed_bytes(3, 3, nullptr).code() == StatusCode::null_pointer);
  CHECK(bytes == 7);
  CHECK(qk::pack_signed_bits(nullptr, 0, 4, nullptr).ok());  // nothing to pack
}

// ------------------------------------------------------------------------------------------------
// The blockwise format

TEST_CASE("blockwise_sizes: blocks, per channel, padding bytes, and bad formats") {
  qk::BlockwiseFormat f;
  f.n = 3;
  f.k = 100;
  f.bits = 4;
  f.block_size = 32;
  f.scale_type = qk::ScaleType::f16;
  f.zero_points = true;
  qk::BlockwiseSizes s;
  REQUIRE(qk::blockwise_sizes(f, &s).ok());
  CHECK(s.block_len == 32);
  CHECK(s.blocks_per_row == 4);
  CHECK(s.block_bytes == 16);
  CHECK(s.row_bytes == 64);
  CHECK(s.data_bytes == 192);
  CHECK(s.scale_count == 12);
  CHECK(s.scale_bytes == 24);
  CHECK(s.zero_point_bytes == 12);
  f.block_size = qk::kPerChannel;
  f.bits = 3;
  f.zero_points = false;
  f.scale_type = qk::ScaleType::f32;
  REQUIRE(qk::blockwise_sizes(f, &s).ok());
  CHECK(s.block_len == 100);
  CHECK(s.blocks_per_row == 1);
  CHECK(s.block_bytes == 38);  // 300 bits
  CHECK(s.scale_bytes == 12);
  CHECK(s.zero_point_bytes == 0);
  f.k = 0;
  REQUIRE(qk::blockwise_sizes(f, &s).ok());
  CHECK((s.blocks_per_row == 0 && s.data_bytes == 0 && s.scale_count == 0));

  const qk::BlockwiseSizes before = s;
  f.k = 100;
  for (const std::size_t bad : {std::size_t{1}, std::size_t{8}, std::size_t{48}, std::size_t{512}, std::size_t{1000}}) {
    f.block_size = bad;
    const qk::Status st = qk::blockwise_sizes(f, &s);
    CHECK(st.code() == StatusCode::bad_shape);
    CHECK(st.uint_value() == bad);
  }
  f.block_size = 16;
  f.bits = 1;
  CHECK(qk::blockwise_sizes(f, &s).code() == StatusCode::invalid_argument);
  f.bits = 9;
  CHECK(qk::blockwise_sizes(f, &s).code() == StatusCode::invalid_argument);
  f.bits = 8;
  f.scale_type = static_cast<qk::ScaleType>(3);
  CHECK(qk::blockwise_sizes(f, &s).code() == StatusCode::invalid_argument);
  f.scale_type = qk::ScaleType::bf16;
  f.n = kHuge;
  CHECK(qk::blockwise_sizes(f, &s).code() == StatusCode::size_overflow);
  f.n = 1;
  f.k = std::numeric_limits<std::size_t>::max() / 4;
  f.block_size = qk::kPerChannel;
  CHECK(qk::blockwise_sizes(f, &s).code() == StatusCode::size_overflow);
  CHECK(qk::blockwise_sizes(f, nullptr).code() == StatusCode::null_pointer);
  CHECK((s.block_len == before.block_len && s.data_bytes == before.data_bytes));
}

TEST_CASE("quantize_blockwise: a hand-checkable block, symmetric and asymmetric") {
  qk::BlockwiseFormat f;
  f.n = 1;
  f.k = 16;
  f.block_size = 16;
  float x[16];
  for (int i = 0; i < 16; ++i) x[i] = 0.5f * static_cast<float>(i - 8);  // -4 .. 3.5
  {
    // m = -4 (|min| > |max|), scale = 4 / 8 = 0.5, q = round(x * 2 + 8) - 8 = i - 8.
    Owned o(f);
    REQUIRE(qk::quantize_blockwise(x, f, o.buffers()).ok());
    CHECK(o.scale(0) == 0.5f);
    for (std::size_t i = 0; i < 16; ++i) CHECK(o.centered(0, i) == static_cast<std::int32_t>(i) - 8);
    CHECK(o.data[0] == 0x98);  // -8, -7 -> codes 8, 9
    CHECK(o.dequantized() == std::vector<float>(x, x + 16));
  }
  {
    // lo = -4, hi = 3.5, scale = 7.5 / 15 = 0.5, zp = round(4 / 0.5) = 8, q = i.
    f.zero_points = true;
    Owned o(f);
    REQUIRE(qk::quantize_blockwise(x, f, o.buffers()).ok());
    CHECK(o.scale(0) == 0.5f);
    CHECK(o.zero_points[0] == 8);
    CHECK(o.data[0] == 0x10);
    CHECK(o.dequantized() == std::vector<float>(x, x + 16));
  }
  {
    // Per channel, positive largest value: m = 4, scale = -0.5 (negative, as ORT and ggml),
    // q = round(x * -2 + 8) - 8 = -2x; padding past K = 5 holds 0 (signed zero point).
    f.zero_points = false;
    f.k = 5;
    f.block_size = qk::kPerChannel;
    const float y[5] = {1.0f, 2.0f, 3.0f, 4.0f, -1.0f};
    Owned o(f);
    REQUIRE(qk::quantize_blockwise(y, f, o.buffers()).ok());
    CHECK(o.scale(0) == -0.5f);
    CHECK(o.sizes.block_bytes == 3);
    CHECK(o.data[0] == 0xCE);  // -2 -> 0xE, -4 -> 0xC
    CHECK(o.data[1] == 0x8A);  // -6 -> 0xA, -8 -> 0x8
    CHECK(o.data[2] == 0x02);  // 2, then the unused high nibble 0
    CHECK(o.dequantized() == std::vector<float>(y, y + 5));
  }
}

TEST_CASE("quantize_blockwise equals ONNX Runtime's formulas: every width, block size, scale type, zero points") {
  std::mt19937 rng(1414);
  const std::size_t blocks[] = {16, 32, 64, 128, 256, qk::kPerChannel};
  const qk::ScaleType types[] = {qk::ScaleType::f32, qk::ScaleType::f16, qk::ScaleType::bf16};
  std::uniform_int_distribution<std::size_t> nd(1, 5), kd(1, 300);
  for (int bits = 2; bits <= 8; ++bits)
    for (const std::size_t block : blocks)
      for (const qk::ScaleType t : types)
        for (const bool zp : {false, true}) {
          qk::BlockwiseFormat f;
          f.n = nd(rng);
          f.k = kd(rng);
          f.bits = bits;
          f.block_size = block;
          f.scale_type = t;
          f.zero_points = zp;
          INFO("bits " << bits << " block " << block << " scale type " << static_cast<int>(t) << " zp " << zp << " n "
                       << f.n << " k " << f.k);
          // Relative rounding error of a scale stored in t (half an ulp, relative to the result).
          const float rounding = t == qk::ScaleType::f32 ? 0.0f : (t == qk::ScaleType::f16 ? 0x1p-11f : 0x1p-8f);
          const std::vector<float> w = weight_data(f.n, f.k, rng);
          Owned o(f);
          REQUIRE(qk::quantize_blockwise(w.data(), f, o.buffers()).ok());
          REQUIRE(qk::check_blockwise_weights(o.weights()).ok());  // padding at the zero point
          const std::vector<float> y = o.dequantized();
          for (std::size_t r = 0; r < f.n; ++r) {
            for (std::size_t j = 0; j < o.sizes.blocks_per_row; ++j) {
              const std::size_t k0 = j * o.sizes.block_len, len = std::min(o.sizes.block_len, f.k - k0);
              const RefBlock ref = reference_block(w.data() + r * f.k + k0, len, bits, zp, t);
              const std::size_t index = r * o.sizes.blocks_per_row + j;
              REQUIRE(bits_of(o.scale(index)) == bits_of(ref.scale));
              if (zp) REQUIRE(o.zero_points[index] == ref.zero_point);
              for (std::size_t i = 0; i < len; ++i) {
                REQUIRE(o.centered(r, k0 + i) == ref.centered[i]);
                const float expected = static_cast<float>(ref.centered[i]) * ref.scale;
                REQUIRE(bits_of(y[r * f.k + k0 + i]) == bits_of(expected));
                // Within one step of the weight (half a step but at a clamped extreme), plus the
                // scale's rounding to its type times the 2^(b-1) steps to the block's extreme.
                REQUIRE(std::fabs(y[r * f.k + k0 + i] - w[r * f.k + k0 + i]) <=
                        std::fabs(ref.scale) * (1.0001f + static_cast<float>(1 << (bits - 1)) * rounding));
              }
            }
          }
        }
}

TEST_CASE("quantize_blockwise: degenerate blocks (zeros, values below the scale type) get scale 1 and zero codes") {
  qk::BlockwiseFormat f;
  f.n = 2;
  f.k = 32;
  f.block_size = 16;
  f.scale_type = qk::ScaleType::f16;
  std::vector<float> w(64, 0.0f);
  for (std::size_t i = 16; i < 32; ++i) w[i] = 1e-9f * static_cast<float>(i);  // scale 2e-9 rounds to fp16 0
  w[40] = 3.0f;
  for (const bool zp : {false, true}) {
    f.zero_points = zp;
    Owned o(f);
    REQUIRE(qk::quantize_blockwise(w.data(), f, o.buffers()).ok());
    for (std::size_t b = 0; b < 4; ++b) {
      if (b == 2) continue;
      CHECK(o.scale(b) == 1.0f);
      for (std::size_t i = 0; i < 16; ++i) CHECK(o.centered(b / 2, (b % 2) * 16 + i) == 0);
    }
    CHECK(o.scale(2) == stored(zp ? 3.0f / 15.0f : -3.0f / 8.0f, f.scale_type));
    const std::vector<float> y = o.dequantized();
    for (std::size_t i = 0; i < 64; ++i)
      if (i != 40) CHECK(y[i] == 0.0f);
    CHECK(std::fabs(y[40] - 3.0f) <= 0.5f * std::fabs(o.scale(2)));
  }
}

TEST_CASE("quantize_blockwise: errors name the argument and write nothing") {
  qk::BlockwiseFormat f;
  f.n = 2;
  f.k = 40;
  f.block_size = 16;
  f.zero_points = true;
  std::vector<float> w(80, 0.25f);
  Owned o(f);
  const Owned pristine(f);
  const auto expect = [&](qk::Status st, StatusCode code) {
    CHECK(st.code() == code);
    CHECK(o.data == pristine.data);
    CHECK(o.scales == pristine.scales);
    CHECK(o.zero_points == pristine.zero_points);
  };
  w[79] = kNaN;  // the last weight: pass 1 must reach it before anything is written
  expect(qk::quantize_blockwise(w.data(), f, o.buffers()), StatusCode::invalid_argument);
  w[79] = -kInf;
  expect(qk::quantize_blockwise(w.data(), f, o.buffers()), StatusCode::invalid_argument);
  w[79] = 0.25f;
  w[0] = -3e38f;
  w[1] = 3e38f;  // hi - lo overflows float
  expect(qk::quantize_blockwise(w.data(), f, o.buffers()), StatusCode::invalid_argument);
  w[0] = w[1] = 0.25f;
  w[79] = 1e6f;  // scale 1e6 / 15 > 65504
  qk::BlockwiseFormat f16 = f;
  f16.scale_type = qk::ScaleType::f16;
  Owned o16(f16);
  const Owned pristine16(f16);
  const qk::Status st = qk::quantize_blockwise(w.data(), f16, o16.buffers());
  CHECK(st.code() == StatusCode::invalid_argument);
  CHECK(st.value_kind() == qk::Status::ValueKind::floating);
  CHECK(o16.data == pristine16.data);
  CHECK(o16.scales == pristine16.scales);
  w[79] = 0.25f;

  expect(qk::quantize_blockwise(nullptr, f, o.buffers()), StatusCode::null_pointer);
  qk::BlockwiseBuffers b = o.buffers();
  b.zero_points = nullptr;
  expect(qk::quantize_blockwise(w.data(), f, b), StatusCode::null_pointer);
  b = o.buffers();
  b.data_bytes -= 1;
  expect(qk::quantize_blockwise(w.data(), f, b), StatusCode::buffer_too_small);
  b = o.buffers();
  b.scale_bytes -= 1;
  expect(qk::quantize_blockwise(w.data(), f, b), StatusCode::buffer_too_small);
  b = o.buffers();
  b.zero_point_bytes -= 1;
  expect(qk::quantize_blockwise(w.data(), f, b), StatusCode::buffer_too_small);
  qk::BlockwiseFormat bad = f;
  bad.block_size = 24;
  expect(qk::quantize_blockwise(w.data(), bad, o.buffers()), StatusCode::bad_shape);
  bad = f;
  bad.bits = 10;
  expect(qk::quantize_blockwise(w.data(), bad, o.buffers()), StatusCode::invalid_argument);
  bad = f;
  bad.n = kHuge;
  expect(qk::quantize_blockwise(w.data(), bad, o.buffers()), StatusCode::size_overflow);
  REQUIRE(qk::quantize_blockwise(w.data(), f, o.buffers()).ok());  // and the same call succeeds
}

TEST_CASE("check_blockwise_weights / dequantize_blockwise refuse bad scales, zero points and padding") {
  qk::BlockwiseFormat f;
  f.n = 1;
  f.k = 20;  // second block: 4 elements and 12 padding elements
  f.block_size = 16;
  f.zero_points = true;
  f.scale_type = qk::ScaleType::bf16;
  std::vector<float> w(20);
  for (std::size_t i = 0; i < 20; ++i) w[i] = static_cast<float>(i) - 6.0f;
  Owned good(f);
  REQUIRE(qk::quantize_blockwise(w.data(), f, good.buffers()).ok());
  REQUIRE(qk::check_blockwise_weights(good.weights()).ok());
  std::vector<float> y(20, 7.0f);
  const auto expect = [&](const Owned& o, StatusCode code) {
    CHECK(qk::check_blockwise_weights(o.weights()).code() == code);
    CHECK(qk::dequantize_blockwise(o.weights(), y.data()).code() == code);
    CHECK(y == std::vector<float>(20, 7.0f));
  };
  for (const std::uint16_t bad_scale : {std::uint16_t{0x0000}, std::uint16_t{0x8000}, std::uint16_t{0x7F80},
                                        std::uint16_t{0x7FC0}}) {
    Owned o = good;
    std::memcpy(o.scales.data() + 2, &bad_scale, 2);
    expect(o, StatusCode::invalid_argument);
  }
  {
    Owned o = good;
    o.zero_points[0] = 16;
    expect(o, StatusCode::invalid_argument);
  }
  {
    Owned o = good;
    o.data[o.sizes.block_bytes + 7] ^= 0x10;  // element 15 of block 1: padding
    const qk::Status st = qk::check_blockwise_weights(o.weights());
    CHECK(st.code() == StatusCode::invalid_argument);
    CHECK(st.uint_value() == 31);  // the padding element's index along K
  }
  {
    qk::BlockwiseFormat pc = f;
    pc.block_size = qk::kPerChannel;
    pc.k = 3;
    pc.bits = 3;  // 9 bits: 7 unused bits in the second byte
    Owned o(pc);
    REQUIRE(qk::quantize_blockwise(w.data(), pc, o.buffers()).ok());
    REQUIRE(qk::check_blockwise_weights(o.weights()).ok());
    o.data[1] = static_cast<std::uint8_t>(o.data[1] | 0x80);
    CHECK(qk::check_blockwise_weights(o.weights()).code() == StatusCode::invalid_argument);
  }
  {
    qk::BlockwiseWeights nw = good.weights();
    nw.zero_points = nullptr;
    CHECK(qk::check_blockwise_weights(nw).code() == StatusCode::null_pointer);
    CHECK(qk::dequantize_blockwise(good.weights(), nullptr).code() == StatusCode::null_pointer);
  }
}

// ------------------------------------------------------------------------------------------------
// ONNX Runtime MatMulNBits

namespace {

// MatMulNBits' dequantization as its operator documentation defines it: B [N][n_blocks][blob],
// blob = block_size * bits / 8 bytes of LSB-first codes; scales [N * n_blocks]; zero points
// [N][ceil(n_blocks * bits / 8)] LSB-first, default 2^(bits - 1); W[n][k] = (q - zp) * scale.
std::vector<float> matmul_nbits_dequantize(std::size_t N, std::size_t K, int bits, std::size_t block_size,
                                           const std::vector<std::uint8_t>& B, const std::vector<float>& scales,
                                           const std::vector<std::uint8_t>* zero_points) {
  const std::size_t n_blocks = (K + block_size - 1) / block_size;
  const std::size_t blob = block_size * static_cast<std::size_t>(bits) / 8;
  const std::size_t zp_row = (n_blocks * static_cast<std::size_t>(bits) + 7) / 8;
  std::vector<float> w(N * K);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t k = 0; k < K; ++k) {
      const std::size_t b = k / block_size;
      const std::vector<std::uint8_t> bytes(B.begin() + static_cast<std::ptrdiff_t>((n * n_blocks + b) * blob),
                                            B.begin() + static_cast<std::ptrdiff_t>((n * n_blocks + b + 1) * blob));
      const auto q = static_cast<std::int32_t>(stream_get(bytes, k % block_size, bits));
      std::int32_t zp = 1 << (bits - 1);
      if (zero_points != nullptr) {
        const std::vector<std::uint8_t> zrow(zero_points->begin() + static_cast<std::ptrdiff_t>(n * zp_row),
                                             zero_points->begin() + static_cast<std::ptrdiff_t>((n + 1) * zp_row));
        zp = static_cast<std::int32_t>(stream_get(zrow, b, bits));
      }
      w[n * K + k] = static_cast<float>(q - zp) * scales[n * n_blocks + b];
    }
  return w;
}

// Scale array bytes of type t holding values (already representable).
std::vector<std::uint8_t> scale_bytes(const std::vector<float>& values, qk::ScaleType t) {
  std::vector<std::uint8_t> out;
  for (const float v : values) {
    if (t == qk::ScaleType::f32) {
      std::uint8_t b[4];
      std::memcpy(b, &v, 4);
      out.insert(out.end(), b, b + 4);
    } else {
      const std::uint16_t h = t == qk::ScaleType::f16 ? qk::float_to_half(v) : qk::float_to_bf16(v);
      out.push_back(static_cast<std::uint8_t>(h & 0xFF));
      out.push_back(static_cast<std::uint8_t>(h >> 8));
    }
  }
  return out;
}

// Exact equality of dequantized weights; +0 and -0 count as equal only where the source's scale
// is 0 (qk stores those blocks with scale 1).
void require_same_weights(const std::vector<float>& got, const std::vector<float>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << " got " << got[i] << " expected " << expected[i]);
    REQUIRE((bits_of(got[i]) == bits_of(expected[i]) || (got[i] == 0.0f && expected[i] == 0.0f)));
  }
}

}  // namespace

TEST_CASE("convert_matmul_nbits: a hand-checkable case from the operator's definition") {
  // N = 1, K = 20, 4 bits, block 16: two 8-byte blobs, the second with 4 elements and padding.
  std::vector<std::uint8_t> B = {0x10, 0x32, 0x54, 0x76, 0x98, 0xBA, 0xDC, 0xFE,  // 0 .. 15
                                 0x0F, 0xF0, 0xAB, 0xCD, 0xEF, 0x12, 0x34, 0x56};  // 15, 0, 0, 15, junk
  const std::vector<float> scales = {0.5f, -0.25f};
  std::vector<std::uint8_t> zp = {0x3 | (0x9 << 4)};  // block 0: 3, block 1: 9
  qk::MatMulNBitsWeights src;
  src.n = 1;
  src.k = 20;
  src.bits = 4;
  src.block_size = 16;
  src.b = B.data();
  const std::vector<std::uint8_t> sb = scale_bytes(scales, qk::ScaleType::f32);
  src.scales = sb.data();
  src.zero_points = zp.data();
  qk::BlockwiseFormat f;
  REQUIRE(qk::matmul_nbits_format(src, &f).ok());
  CHECK((f.n == 1 && f.k == 20 && f.bits == 4 && f.block_size == 16 && f.zero_points && f.scale_type == qk::ScaleType::f32));
  Owned o(f);
  REQUIRE(qk::convert_matmul_nbits(src, o.buffers()).ok());
  REQUIRE(qk::check_blockwise_weights(o.weights()).ok());
  const std::vector<float> y = o.dequantized();
  for (std::size_t k = 0; k < 16; ++k) CHECK(y[k] == 0.5f * static_cast<float>(static_cast<int>(k) - 3));
  CHECK(y[16] == -0.25f * (15 - 9));
  CHECK(y[17] == -0.25f * (0 - 9));
  CHECK(y[18] == -0.25f * (0 - 9));
  CHECK(y[19] == -0.25f * (15 - 9));
  CHECK(std::vector<std::uint8_t>(o.data.begin(), o.data.begin() + 10) ==
        std::vector<std::uint8_t>(B.begin(), B.begin() + 10));  // a copy of the codes...
  for (std::size_t i = 10; i < 16; ++i) CHECK(o.data[i] == 0x99);  // ...with the padding at the zero point 9
  CHECK((o.zero_points[0] == 3 && o.zero_points[1] == 9));
  require_same_weights(y, matmul_nbits_dequantize(1, 20, 4, 16, B, scales, &zp));

  // Without zero points: signed storage, each code xor 8 (q - 8).
  src.zero_points = nullptr;
  REQUIRE(qk::matmul_nbits_format(src, &f).ok());
  Owned s(f);
  REQUIRE(qk::convert_matmul_nbits(src, s.buffers()).ok());
  CHECK(s.data[0] == (0x10 ^ 0x88));
  CHECK(s.data[8] == (0x0F ^ 0x88));
  require_same_weights(s.dequantized(), matmul_nbits_dequantize(1, 20, 4, 16, B, scales, nullptr));
}

TEST_CASE("convert_matmul_nbits: random weights of every width, block size and scale type dequantize identically") {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::size_t> nd(1, 4), kd(1, 600);
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 19);
  std::normal_distribution<float> g(0.0f, 0.02f);
  for (int bits = 2; bits <= 8; ++bits)
    for (const std::size_t block : {std::size_t{16}, std::size_t{32}, std::size_t{64}, std::size_t{128}, std::size_t{256}})
      for (const qk::ScaleType t : {qk::ScaleType::f32, qk::ScaleType::f16, qk::ScaleType::bf16})
        for (const bool has_zp : {false, true}) {
          const std::size_t N = nd(rng), K = kd(rng);
          INFO("bits " << bits << " block " << block << " type " << static_cast<int>(t) << " zp " << has_zp << " N " << N
                       << " K " << K);
          const std::size_t n_blocks = (K + block - 1) / block, blob = block * static_cast<std::size_t>(bits) / 8;
          std::vector<std::uint8_t> B(N * n_blocks * blob), zp(N * ((n_blocks * static_cast<std::size_t>(bits) + 7) / 8));
          for (auto& v : B) v = static_cast<std::uint8_t>(byte(rng));  // padding included: junk
          for (auto& v : zp) v = static_cast<std::uint8_t>(byte(rng));
          std::vector<float> scales(N * n_blocks);
          for (auto& s : scales) {
            const int c = kind(rng);
            s = stored(c == 0 ? 0.0f : (c == 1 ? -0.0f : g(rng)), t);  // some zero scales, half negative
          }
          const std::vector<std::uint8_t> sb = scale_bytes(scales, t);
          qk::MatMulNBitsWeights src;
          src.n = N;
          src.k = K;
          src.bits = bits;
          src.block_size = block;
          src.b = B.data();
          src.scales = sb.data();
          src.scale_type = t;
          src.zero_points = has_zp ? zp.data() : nullptr;
          qk::BlockwiseFormat f;
          REQUIRE(qk::matmul_nbits_format(src, &f).ok());
          Owned o(f);
          REQUIRE(qk::convert_matmul_nbits(src, o.buffers()).ok());
          REQUIRE(qk::check_blockwise_weights(o.weights()).ok());
          require_same_weights(o.dequantized(), matmul_nbits_dequantize(N, K, bits, block, B, scales, has_zp ? &zp : nullptr));
        }
}

TEST_CASE("convert_matmul_nbits: round trip from qk's format through MatMulNBits' bytes") {
  // quantize_blockwise's output written as MatMulNBits initializers (codes back to unsigned,
  // zero points packed), then converted back: the same bytes.
  std::mt19937 rng(99);
  for (int bits = 2; bits <= 8; ++bits)
    for (const bool zp : {false, true}) {
      qk::BlockwiseFormat f;
      f.n = 3;
      f.k = 77;
      f.bits = bits;
      f.block_size = 32;
      f.scale_type = qk::ScaleType::f16;
      f.zero_points = zp;
      const std::vector<float> w = weight_data(f.n, f.k, rng);
      Owned o(f);
      REQUIRE(qk::quantize_blockwise(w.data(), f, o.buffers()).ok());
      std::vector<std::uint8_t> B = o.data, zps(f.n * ((o.sizes.blocks_per_row * static_cast<std::size_t>(bits) + 7) / 8), 0);
      const std::size_t zp_row = zps.size() / f.n;
      for (std::size_t r = 0; r < f.n; ++r)
        for (std::size_t j = 0; j < o.sizes.blocks_per_row; ++j) {
          std::vector<std::uint8_t> blob(B.begin() + static_cast<std::ptrdiff_t>((r * o.sizes.blocks_per_row + j) * o.sizes.block_bytes),
                                         B.begin() + static_cast<std::ptrdiff_t>((r * o.sizes.blocks_per_row + j + 1) * o.sizes.block_bytes));
          if (!zp)
            for (std::size_t i = 0; i < o.sizes.block_len; ++i)
              stream_put(blob, i, bits, stream_get(blob, i, bits) ^ (1u << (bits - 1)));
          std::copy(blob.begin(), blob.end(), B.begin() + static_cast<std::ptrdiff_t>((r * o.sizes.blocks_per_row + j) * o.sizes.block_bytes));
          if (zp) {
            std::vector<std::uint8_t> row(zps.begin() + static_cast<std::ptrdiff_t>(r * zp_row),
                                          zps.begin() + static_cast<std::ptrdiff_t>((r + 1) * zp_row));
            stream_put(row, j, bits, o.zero_points[r * o.sizes.blocks_per_row + j]);
            std::copy(row.begin(), row.end(), zps.begin() + static_cast<std::ptrdiff_t>(r * zp_row));
          }
        }
      qk::MatMulNBitsWeights src;
      src.n = f.n;
      src.k = f.k;
      src.bits = bits;
      src.block_size = 32;
      src.b = B.data();
      src.scales = o.scales.data();
      src.scale_type = qk::ScaleType::f16;
      src.zero_points = zp ? zps.data() : nullptr;
      Owned back(f, 0x11);
      REQUIRE(qk::convert_matmul_nbits(src, back.buffers()).ok());
      CHECK(back.data == o.data);
      CHECK(back.scales == o.scales);
      CHECK(back.zero_points == o.zero_points);
    }
}

TEST_CASE("convert_matmul_nbits: errors name the argument and write nothing") {
  std::vector<std::uint8_t> B(64, 0x77), zp(2, 0x88);
  std::vector<float> scales(4, 0.5f);
  qk::MatMulNBitsWeights src;
  src.n = 2;
  src.k = 30;
  src.bits = 4;
  src.block_size = 16;
  src.b = B.data();
  src.scales = scales.data();
  src.zero_points = zp.data();
  qk::BlockwiseFormat f;
  REQUIRE(qk::matmul_nbits_format(src, &f).ok());
  Owned o(f);
  const Owned pristine(f);
  const auto expect = [&](const qk::MatMulNBitsWeights& s, qk::BlockwiseBuffers b, StatusCode code) {
    CHECK(qk::convert_matmul_nbits(s, b).code() == code);
    CHECK(o.data == pristine.data);
    CHECK(o.scales == pristine.scales);
    CHECK(o.zero_points == pristine.zero_points);
  };
  qk::MatMulNBitsWeights bad = src;
  for (const std::size_t block : {std::size_t{0}, std::size_t{8}, std::size_t{48}}) {
    bad.block_size = block;
    expect(bad, o.buffers(), StatusCode::bad_shape);
  }
  bad.block_size = 512;
  expect(bad, o.buffers(), StatusCode::unsupported);
  bad = src;
  bad.bits = 9;
  expect(bad, o.buffers(), StatusCode::invalid_argument);
  bad = src;
  bad.scale_type = static_cast<qk::ScaleType>(-1);
  expect(bad, o.buffers(), StatusCode::invalid_argument);
  bad = src;
  bad.b = nullptr;
  expect(bad, o.buffers(), StatusCode::null_pointer);
  bad = src;
  bad.scales = nullptr;
  expect(bad, o.buffers(), StatusCode::null_pointer);
  scales[3] = kNaN;  // the last scale
  expect(src, o.buffers(), StatusCode::invalid_argument);
  scales[3] = -kInf;
  expect(src, o.buffers(), StatusCode::invalid_argument);
  scales[3] = 0.5f;
  qk::BlockwiseBuffers b = o.buffers();
  b.scale_bytes = 15;
  expect(src, b, StatusCode::buffer_too_small);
  b = o.buffers();
  b.zero_points = nullptr;
  expect(src, b, StatusCode::null_pointer);
  CHECK(qk::matmul_nbits_format(src, nullptr).code() == StatusCode::null_pointer);
  REQUIRE(qk::convert_matmul_nbits(src, o.buffers()).ok());
}

// ------------------------------------------------------------------------------------------------
// llama.cpp Q4_0

namespace {

// ggml's dequantize_row_q4_0: per 18-byte block, d = fp16 (little-endian), then qs[16];
// y[j] = ((qs[j] & 0x0F) - 8) * d, y[j + 16] = ((qs[j] >> 4) - 8) * d.
std::vector<float> q4_0_dequantize(const std::vector<std::uint8_t>& blocks, std::size_t count) {
  std::vector<float> y(count * 32);
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t* b = blocks.data() + i * 18;
    const float d = static_cast<float>(half_value(static_cast<std::uint16_t>(b[0] | (b[1] << 8))));
    for (std::size_t j = 0; j < 16; ++j) {
      const int x0 = (b[2 + j] & 0x0F) - 8;
      const int x1 = (b[2 + j] >> 4) - 8;
      y[i * 32 + j] = static_cast<float>(x0) * d;
      y[i * 32 + j + 16] = static_cast<float>(x1) * d;
    }
  }
  return y;
}

void put_half(std::uint8_t* p, std::uint16_t h) {
  p[0] = static_cast<std::uint8_t>(h & 0xFF);
  p[1] = static_cast<std::uint8_t>(h >> 8);
}

}  // namespace

TEST_CASE("convert_q4_0: a hand-checkable block from ggml's definition") {
  std::vector<std::uint8_t> block(18);
  put_half(block.data(), 0x3800);  // d = 0.5
  for (std::size_t j = 0; j < 16; ++j) block[2 + j] = static_cast<std::uint8_t>(j | ((15 - j) << 4));
  // Elements j: (j - 8) * 0.5; elements j + 16: (7 - j) * 0.5.
  const qk::BlockwiseFormat f = qk::q4_0_format(1, 32);
  CHECK((f.bits == 4 && f.block_size == 32 && f.scale_type == qk::ScaleType::f16 && !f.zero_points));
  Owned o(f);
  REQUIRE(qk::convert_q4_0(block.data(), 1, 32, o.buffers()).ok());
  REQUIRE(qk::check_blockwise_weights(o.weights()).ok());
  const std::vector<float> y = o.dequantized();
  for (std::size_t j = 0; j < 16; ++j) {
    CHECK(y[j] == 0.5f * (static_cast<float>(j) - 8.0f));
    CHECK(y[j + 16] == 0.5f * (7.0f - static_cast<float>(j)));
  }
  // Consecutive nibbles, signed: elements 0, 1 are -8, -7 -> codes 8, 9; elements 16, 17 are 7, 6.
  CHECK(o.data[0] == 0x98);
  CHECK(o.data[8] == 0x67);
  CHECK(o.scale(0) == 0.5f);
  require_same_weights(y, q4_0_dequantize(block, 1));
}

TEST_CASE("convert_q4_0: random blocks dequantize identically, round trip through Q4_0 bytes") {
  std::mt19937 rng(40);
  std::uniform_int_distribution<int> byte(0, 255), kind(0, 15);
  for (const std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{5}})
    for (const std::size_t k : {std::size_t{32}, std::size_t{64}, std::size_t{320}}) {
      const std::size_t count = n * k / 32;
      std::vector<std::uint8_t> blocks(count * 18);
      for (auto& v : blocks) v = static_cast<std::uint8_t>(byte(rng));
      for (std::size_t i = 0; i < count; ++i) {
        std::uint16_t d = static_cast<std::uint16_t>(byte(rng) | (byte(rng) << 8));
        if ((d & 0x7C00u) == 0x7C00u) d = static_cast<std::uint16_t>(d & 0xBFFFu);  // finite (subnormals kept)
        const int c = kind(rng);
        if (c == 0) d = 0;
        if (c == 1) d = 0x8000;
        put_half(blocks.data() + i * 18, d);
      }
      INFO("n " << n << " k " << k);
      Owned o(qk::q4_0_format(n, k));
      REQUIRE(qk::convert_q4_0(blocks.data(), n, k, o.buffers()).ok());
      REQUIRE(qk::check_blockwise_weights(o.weights()).ok());
      require_same_weights(o.dequantized(), q4_0_dequantize(blocks, count));
    }
  // qk's 4-bit, block-32, fp16, signed quantization written as Q4_0 and converted back.
  qk::BlockwiseFormat f = qk::q4_0_format(4, 96);
  const std::vector<float> w = weight_data(f.n, f.k, rng);
  Owned o(f);
  REQUIRE(qk::quantize_blockwise(w.data(), f, o.buffers()).ok());
  std::vector<std::uint8_t> blocks(12 * 18);
  for (std::size_t i = 0; i < 12; ++i) {
    std::memcpy(blocks.data() + i * 18, o.scales.data() + i * 2, 2);
    for (std::size_t j = 0; j < 16; ++j) {
      const auto code = [&](std::size_t e) {
        const std::uint8_t byte_e = o.data[i * 16 + e / 2];
        return static_cast<std::uint32_t>((e % 2 == 0 ? byte_e : byte_e >> 4) & 0x0F) ^ 8u;  // q + 8
      };
      blocks[i * 18 + 2 + j] = static_cast<std::uint8_t>(code(j) | (code(j + 16) << 4));
    }
  }
  require_same_weights(o.dequantized(), q4_0_dequantize(blocks, 12));
  Owned back(f, 0x33);
  REQUIRE(qk::convert_q4_0(blocks.data(), f.n, f.k, back.buffers()).ok());
  CHECK(back.data == o.data);
  CHECK(back.scales == o.scales);
}

TEST_CASE("convert_q4_0: errors name the argument and write nothing") {
  std::vector<std::uint8_t> blocks(2 * 18, 0x44);
  Owned o(qk::q4_0_format(1, 64));
  const Owned pristine(qk::q4_0_format(1, 64));
  const auto expect = [&](qk::Status st, StatusCode code) {
    CHECK(st.code() == code);
    CHECK(o.data == pristine.data);
    CHECK(o.scales == pristine.scales);
  };
  expect(qk::convert_q4_0(blocks.data(), 1, 40, o.buffers()), StatusCode::bad_shape);
  put_half(blocks.data() + 18, 0x7E00);  // NaN d in the last block
  expect(qk::convert_q4_0(blocks.data(), 1, 64, o.buffers()), StatusCode::invalid_argument);
  put_half(blocks.data() + 18, 0xFC00);  // -inf
  expect(qk::convert_q4_0(blocks.data(), 1, 64, o.buffers()), StatusCode::invalid_argument);
  put_half(blocks.data() + 18, 0x3C00);
  expect(qk::convert_q4_0(nullptr, 1, 64, o.buffers()), StatusCode::null_pointer);
  qk::BlockwiseBuffers b = o.buffers();
  b.data_bytes = 31;
  expect(qk::convert_q4_0(blocks.data(), 1, 64, b), StatusCode::buffer_too_small);
  b = o.buffers();
  b.scales = nullptr;
  expect(qk::convert_q4_0(blocks.data(), 1, 64, b), StatusCode::null_pointer);
  expect(qk::convert_q4_0(blocks.data(), kHuge, 64, o.buffers()), StatusCode::size_overflow);
  REQUIRE(qk::convert_q4_0(blocks.data(), 1, 64, o.buffers()).ok());
  CHECK(qk::convert_q4_0(nullptr, 0, 64, qk::BlockwiseBuffers{}).ok());  // no rows: nothing to do
}
