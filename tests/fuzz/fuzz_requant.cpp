// fuzz_requant: the requantization primitives and output stages with adversarial arguments.
//
// quantize_multiplier (any double: NaN, infinities, negatives, denormals, huge), the fixed-point
// primitives (saturating_rounding_doubling_high_mul, rounding_divide_by_pot, both
// multiply_by_quantized_multiplier variants) with any multiplier / shift / exponent,
// requantize_fixed_point and requantize_float (any scale, zero point and clamp), and
// validate_output_stage + output_element with any stage.
//
// Checked: no sanitizer report for any argument; failing calls write nothing; within the
// documented ranges every primitive equals an exact 128-bit model (round half up / half away from
// zero / half to even as documented) and every requantized value lies in [qmin, qmax]; a
// multiplier from quantize_multiplier represents the real one to 2^-30 and passes validation.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_stage.hpp"
#include "qk/core/output_stage.hpp"
#include "qk/fixed_point.hpp"

namespace {

using namespace qk_fuzz;
using i128 = __int128;
constexpr std::int32_t kMin = std::numeric_limits<std::int32_t>::min();
constexpr std::int32_t kMax = std::numeric_limits<std::int32_t>::max();

// floor(p / 2^e) for e >= 0.
i128 floor_shift(i128 p, int e) {
  const i128 d = static_cast<i128>(1) << e;
  i128 q = p / d;
  if (p % d != 0 && p < 0) --q;
  return q;
}
std::int32_t saturate(i128 v) { return static_cast<std::int32_t>(v < kMin ? kMin : (v > kMax ? kMax : v)); }

// round(a * b / 2^31), ties toward +infinity; INT32_MIN * INT32_MIN saturates.
std::int32_t exact_srdhm(std::int32_t a, std::int32_t b) {
  if (a == kMin && b == kMin) return kMax;
  return static_cast<std::int32_t>(floor_shift(static_cast<i128>(a) * b + (i128{1} << 30), 31));
}
// round(x / 2^e), ties away from zero, e in [0, 31].
std::int32_t exact_rdpot(std::int32_t x, int e) {
  if (e == 0) return x;
  const i128 half = i128{1} << (e - 1);
  return static_cast<std::int32_t>(x >= 0 ? floor_shift(i128{x} + half, e) : -floor_shift(-i128{x} + half, e));
}
std::int32_t exact_mbqm(std::int32_t x, std::int32_t m, int shift, qk::RequantRounding r) {
  if (r == qk::RequantRounding::single_rounding) {
    const int t = 31 - shift;
    return saturate(floor_shift(static_cast<i128>(x) * m + (i128{1} << (t - 1)), t));
  }
  const std::int32_t shifted = static_cast<std::int32_t>(static_cast<std::uint32_t>(x) << (shift > 0 ? shift : 0));
  return exact_rdpot(exact_srdhm(shifted, m), shift > 0 ? 0 : -shift);
}

void fuzz_quantize_multiplier(Reader& in) {
  double real = 0;
  if (in.u8() < 128) {
    real = std::ldexp(1.0 + static_cast<double>(in.u32()) / 4294967296.0, in.irange(-80, 40));
  } else if (in.flag()) {
    real = static_cast<double>(in.real());
  } else {
    const std::uint64_t bits = in.u64();
    std::memcpy(&real, &bits, sizeof real);
  }
  std::int32_t m = 12345;
  int shift = 12345;
  const qk::Status st = qk::quantize_multiplier(real, &m, &shift);
  QK_FUZZ_CHECK(!qk::quantize_multiplier(real, nullptr, &shift).ok());
  if (!std::isfinite(real) || real < 0) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) {
    QK_FUZZ_CHECK(m == 12345 && shift == 12345);
    return;
  }
  QK_FUZZ_CHECK(shift >= qk::kMinRequantShift && shift <= qk::kMaxRequantShift);
  QK_FUZZ_CHECK(qk::validate_quantized_multiplier(m, shift, qk::RequantRounding::single_rounding).ok());
  if (m == 0) {
    QK_FUZZ_CHECK(shift == 0 && real < std::ldexp(1.0, -31));
    return;
  }
  QK_FUZZ_CHECK(m >= (1 << 30));
  const double represented = std::ldexp(static_cast<double>(m), shift - 31);
  QK_FUZZ_CHECK(std::fabs(represented - real) <= real * std::ldexp(1.0, -30));
}

void fuzz_primitives(Reader& in) {
  const std::int32_t x = in.int32(-100000, 100000), m = in.int32(1 << 30, kMax);
  const int e = in.u8() < 220 ? in.irange(0, 31) : in.int32(-40, 70);
  // Any exponent / shift must be free of undefined behaviour; inside the documented ranges the
  // results are exact.
  const std::int32_t r = qk::rounding_divide_by_pot(x, e);
  if (e >= 0 && e <= 31) QK_FUZZ_CHECK(r == exact_rdpot(x, e));
  QK_FUZZ_CHECK(qk::saturating_rounding_doubling_high_mul(x, m) == exact_srdhm(x, m));
  const int shift = in.u8() < 220 ? in.irange(qk::kMinRequantShift, qk::kMaxRequantShift) : in.int32(-40, 40);
  const auto rounding = in.any_enum<qk::RequantRounding>(2);
  const std::int32_t multiplier = in.u8() < 220 ? m : in.int32(0, kMax);
  const qk::Status v = qk::validate_quantized_multiplier(multiplier, shift, rounding);
  if (shift < qk::kMinRequantShift || shift > qk::kMaxRequantShift) QK_FUZZ_CHECK(!v.ok());
  const std::int32_t got = qk::multiply_by_quantized_multiplier(x, multiplier, shift, rounding);
  const std::int32_t zp = in.int32(-200, 300), qmin = in.int32(-200, 300), qmax = in.int32(-200, 300);
  const std::int32_t q = qk::requantize_fixed_point(x, multiplier, shift, zp, qmin, qmax, rounding);
  const bool known = rounding == qk::RequantRounding::double_rounding || rounding == qk::RequantRounding::single_rounding;
  if (v.ok() && known) {
    QK_FUZZ_CHECK(got == exact_mbqm(x, multiplier, shift, rounding));
    if (qmin <= qmax) {
      const i128 want = i128{got} + zp;
      QK_FUZZ_CHECK(q == (want < qmin ? qmin : (want > qmax ? qmax : static_cast<std::int32_t>(want))));
    }
  }
}

void fuzz_float(Reader& in) {
  const std::int32_t acc = in.int32(-1000000, 1000000);
  const float scale = in.scale();
  const std::int32_t zp = in.int32(-200, 300), qmin = in.int32(-200, 300), qmax = in.int32(-200, 300);
  const std::int32_t q = qk::requantize_float(acc, scale, zp, qmin, qmax);
  if (!(std::isfinite(scale) && scale > 0.0f) || qmin > qmax) return;  // only memory / UB safety
  QK_FUZZ_CHECK(q >= qmin && q <= qmax);
  const double p = static_cast<double>(static_cast<float>(acc) * scale);
  const double want = std::nearbyint(p) + static_cast<double>(zp);
  const double clamped = want < qmin ? qmin : (want > qmax ? qmax : want);
  QK_FUZZ_CHECK(static_cast<double>(q) == clamped);
}

void fuzz_stage(Reader& in) {
  const std::size_t channels = in.range(0, 20);
  StageData s;
  any_stage(in, channels, &s);
  const qk::Status st = qk::detail::validate_output_stage(s.stage, channels);
  if (!st.ok() || channels == 0 || !stage_enums_in_range(s.stage)) return;
  const std::size_t esize = qk::output_type_size(s.stage.type);
  Canary row(channels * esize + 16);
  for (std::size_t c = 0; c < channels; ++c) {
    const std::int32_t acc = in.int32(-1000000, 1000000);
    qk::detail::output_element(acc, c, s.stage, row.data(), c);
    if (s.stage.kind == qk::OutputStage::Kind::fixed_point || s.stage.kind == qk::OutputStage::Kind::float_scale) {
      const std::int32_t v = s.stage.type == qk::OutputType::s8 ? static_cast<std::int8_t>(row.bytes[c])
                                                                 : static_cast<std::int32_t>(row.bytes[c]);
      QK_FUZZ_CHECK(v >= s.stage.qmin && v <= s.stage.qmax);
    }
  }
  QK_FUZZ_CHECK(row.unchanged(channels * esize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qk_fuzz::Reader in(data, size);
  switch (in.u8() % 4) {
    case 0: fuzz_quantize_multiplier(in); break;
    case 1: fuzz_primitives(in); break;
    case 2: fuzz_float(in); break;
    default: fuzz_stage(in); break;
  }
  return 0;
}
