// qk/fixed_point.hpp against independent oracles:
//  - gemmlowp's fixedpoint.h (what TFLite's reference kernels call) for
//    SaturatingRoundingDoublingHighMul, RoundingDivideByPOT and the double-rounding
//    MultiplyByQuantizedMultiplier built from them;
//  - exact 128-bit integer arithmetic written here for the single-rounding variant;
//  - TFLite's QuantizeMultiplier re-derived here from its documented behaviour, without frexp or
//    std::round (ilogb/scalbn and floor(v + 0.5) instead), so a shared mistake is unlikely;
//  - an explicit floor/fraction round-half-to-even for ONNX's float requantization.
// Every oracle is checked on hand-picked edge cases with known answers first, then on tens of
// millions of random inputs drawn from several distributions (uniform, small, extreme, and
// constructions that land exactly on or next to a rounding tie).
#include <catch2/catch.hpp>
#include <fixedpoint/fixedpoint.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <limits>
#include <sstream>
#include <string>
#include <utility>

#include "qk/fixed_point.hpp"

namespace {

using i32 = std::int32_t;
using i64 = std::int64_t;
using u32 = std::uint32_t;
using u64 = std::uint64_t;
__extension__ typedef __int128 i128;  // __extension__: -Wpedantic accepts the GNU type

constexpr i32 kMin = std::numeric_limits<i32>::min();
constexpr i32 kMax = std::numeric_limits<i32>::max();

// Random counts are the same in sanitized builds: the whole file takes ~1.3 s in Release and
// ~2-3 s under ASan+UBSan, so there is nothing to gain from drawing fewer.

// Random inputs compared in this process, printed at the end of every random test case.
u64 g_random_compared = 0;

// splitmix64: tiny, fast, and good enough to spread inputs; fixed seeds keep runs reproducible.
class Rng {
 public:
  explicit Rng(u64 seed) : s_(seed) {}
  u64 next() {
    u64 z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  u32 u32v() { return static_cast<u32>(next() >> 32); }
  i32 i32v() { return static_cast<i32>(u32v()); }
  // Uniform in [lo, hi] (hi - lo < 2^63).
  i64 range(i64 lo, i64 hi) { return lo + static_cast<i64>(next() % static_cast<u64>(hi - lo + 1)); }
  int irange(int lo, int hi) { return static_cast<int>(range(lo, hi)); }
  bool coin() { return (next() & 1) != 0; }

 private:
  u64 s_;
};

i32 wrap(i64 v) { return static_cast<i32>(static_cast<u32>(static_cast<u64>(v))); }
i32 negate_wrapping(i32 v) { return static_cast<i32>(0u - static_cast<u32>(v)); }

// Values every operand distribution mixes in.
constexpr i32 kSpecials[] = {kMin, kMin + 1, kMin + 2, -(1 << 30) - 1, -(1 << 30), -(1 << 30) + 1, -65536, -3, -2,
                             -1,   0,        1,        2,               3,          65536,           (1 << 30) - 1,
                             1 << 30, (1 << 30) + 1, kMax - 2, kMax - 1, kMax};
constexpr int kNumSpecials = static_cast<int>(sizeof(kSpecials) / sizeof(kSpecials[0]));

// A general-purpose int32 operand: uniform, small magnitude, near the extremes, or special.
i32 any_i32(Rng& r) {
  switch (r.irange(0, 7)) {
    case 0: case 1: case 2: return r.i32v();
    case 3: case 4: {  // |v| < 2^k for random k: exercises small accumulators and rounding of tiny values
      const int k = r.irange(0, 20);
      return static_cast<i32>(r.range(-(i64{1} << k), i64{1} << k));
    }
    case 5: return r.coin() ? kMin + r.irange(0, 255) : kMax - r.irange(0, 255);
    case 6: return kSpecials[r.irange(0, kNumSpecials - 1)];
    default: {  // a power of two, either sign, +-1
      const i64 p = i64{1} << r.irange(0, 30);
      return wrap((r.coin() ? p : -p) + r.irange(-1, 1));
    }
  }
}

// A pair (a, b) whose product is exactly odd * 2^(tie_bit) (a rounding tie when tie_bit is the
// bit just below the rounding unit), nudged by -1/0/+1 on one operand so both sides of the tie are
// hit. Returns false when the random split does not fit in int32 (always for tie_bit > 60).
bool tie_pair(Rng& r, int tie_bit, i32* a, i32* b) {
  if (tie_bit > 60) return false;  // |a|, |b| < 2^31 except INT32_MIN: no odd * 2^61 product
  // a = 2^i * u, b = 2^j * v, u and v odd, i + j = tie_bit.
  const int i = r.irange(tie_bit > 30 ? tie_bit - 30 : 0, tie_bit < 30 ? tie_bit : 30);
  const int j = tie_bit - i;
  if (j > 30) return false;
  const i64 u = (r.range(0, (i64{1} << (30 - i)) - 1) << 1) | 1;  // odd, 2^i * u < 2^31
  const i64 v = (r.range(0, (i64{1} << (30 - j)) - 1) << 1) | 1;
  i64 av = u << i, bv = v << j;
  if (r.coin()) av = -av;
  if (r.coin()) bv = -bv;
  switch (r.irange(0, 5)) {
    case 0: av += 1; break;
    case 1: av -= 1; break;
    case 2: bv += 1; break;
    case 3: bv -= 1; break;
    default: break;  // exact tie, most of the time
  }
  *a = wrap(av);
  *b = wrap(bv);
  return true;
}

// Collects mismatches without a Catch2 assertion per input (tens of millions would dominate the
// runtime); the first few are reported in full.
struct Tally {
  u64 compared = 0;
  u64 mismatches = 0;
  std::ostringstream first;
  template <typename Describe>
  void check(bool equal, Describe&& describe) {
    ++compared;
    if (equal) return;
    if (mismatches < 8) {
      describe(first);
      first << '\n';
    }
    ++mismatches;
  }
  void report(const char* what) {
    g_random_compared += compared;
    INFO(what << ": " << compared << " random inputs compared, " << mismatches << " mismatches\n" << first.str());
    CHECK(mismatches == 0);
    std::cout << "[qk fixed_point oracle] " << what << ": " << compared << " random inputs compared, "
              << mismatches << " mismatches (" << g_random_compared << " in this process so far)\n";
  }
};

// ---------------------------------------------------------------------------------------------
// Oracles.

// TFLite's MultiplyByQuantizedMultiplier (default, double rounding), spelled with gemmlowp's
// primitives as TFLite's reference kernels do. TFLite writes the left shift as x * (1 << shift),
// which is signed overflow (undefined) when x is large; qk defines it as the two's complement wrap
// SIMD shifts perform, and the oracle wraps the same way, in unsigned arithmetic.
i32 oracle_mbqm_double(i32 x, i32 m, int shift) {
  const int left = shift > 0 ? shift : 0;
  const int right = shift > 0 ? 0 : -shift;
  const i32 shifted = static_cast<i32>(static_cast<u32>(x) * (u32{1} << left));
  return gemmlowp::RoundingDivideByPOT(gemmlowp::SaturatingRoundingDoublingHighMul(shifted, m), right);
}

// Single rounding: round(x * m / 2^(31 - shift)) with ties toward +infinity, saturated to int32,
// computed exactly: floor division with an explicit non-negative remainder, then compare twice the
// remainder with the divisor.
i32 oracle_mbqm_single(i32 x, i32 m, int shift) {
  const int t = 31 - shift;
  const i128 p = static_cast<i128>(x) * static_cast<i128>(m);
  const i128 d = static_cast<i128>(1) << t;
  i128 q = p / d, rem = p % d;
  if (rem < 0) {
    q -= 1;
    rem += d;
  }
  if (2 * rem >= d) q += 1;
  if (q > kMax) return kMax;
  if (q < kMin) return kMin;
  return static_cast<i32>(q);
}

struct QmResult {
  bool ok;
  i32 multiplier;
  int shift;
};

// TFLite QuantizeMultiplier from its documented behaviour: real = mantissa * 2^exponent with the
// mantissa in [0.5, 1) (what frexp returns), q = mantissa * 2^31 rounded half away from zero; a q
// that rounds up to 2^31 becomes 2^30 with exponent + 1; exponent < -31 flushes to (0, 0). qk
// refuses exponent > 30 (the multiplier cannot be applied to int32) and NaN / inf / negative.
QmResult oracle_quantize_multiplier(double real) {
  if (!(real >= 0) || std::isinf(real)) return {false, 0, 0};
  if (real == 0) return {true, 0, 0};
  int exponent = std::ilogb(real) + 1;                       // real in [2^(e-1), 2^e)
  const double scaled = std::scalbn(real, 31 - exponent);    // in [2^30, 2^31), exact
  double q = std::floor(scaled + 0.5);                       // exact: ulp(scaled) <= 2^-22
  if (q == 2147483648.0) {
    q = 1073741824.0;
    ++exponent;
  }
  if (exponent < -31) return {true, 0, 0};
  if (exponent > 30) return {false, 0, 0};
  return {true, static_cast<i32>(q), exponent};
}

// ONNX: y = saturate(round_half_to_even(float(acc) * scale) + zero_point) into [qmin, qmax]. The
// product is a float (as in the ONNX reference); the rounding and the clamp are done in double.
i32 oracle_requantize_float(i32 acc, float scale, i32 zp, i32 qmin, i32 qmax) {
  const double v = static_cast<double>(static_cast<float>(acc) * scale);
  double rounded = v;
  if (std::isfinite(v)) {
    const double fl = std::floor(v);
    const double frac = v - fl;  // exact for |v| < 2^53; 0 above (v is then an integer)
    if (frac > 0.5) {
      rounded = fl + 1;
    } else if (frac < 0.5) {
      rounded = fl;
    } else {
      rounded = std::fmod(fl, 2.0) == 0 ? fl : fl + 1;
    }
  }
  const double y = rounded + static_cast<double>(zp);
  if (y <= static_cast<double>(qmin)) return qmin;
  if (y >= static_cast<double>(qmax)) return qmax;
  return static_cast<i32>(y);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Hand-picked edge cases, with the expected values worked out by hand where they are not obvious.

TEST_CASE("SRDHM: edge cases agree with gemmlowp and with the hand-derived values") {
  CHECK(qk::saturating_rounding_doubling_high_mul(kMin, kMin) == kMax);  // the only saturation
  CHECK(qk::saturating_rounding_doubling_high_mul(kMin, kMax) == -kMax);
  CHECK(qk::saturating_rounding_doubling_high_mul(kMax, kMax) == kMax - 1);
  CHECK(qk::saturating_rounding_doubling_high_mul(kMin, 1 << 30) == -(1 << 30));
  // Ties: 1 * 2^30 / 2^31 = 0.5 -> 1 and -0.5 -> 0 (toward +infinity, like VQRDMULH).
  CHECK(qk::saturating_rounding_doubling_high_mul(1, 1 << 30) == 1);
  CHECK(qk::saturating_rounding_doubling_high_mul(-1, 1 << 30) == 0);
  CHECK(qk::saturating_rounding_doubling_high_mul(3, 1 << 30) == 2);    // 1.5 -> 2
  CHECK(qk::saturating_rounding_doubling_high_mul(-3, 1 << 30) == -1);  // -1.5 -> -1
  CHECK(qk::saturating_rounding_doubling_high_mul(5, 1 << 30) == 3);    // 2.5 -> 3
  CHECK(qk::saturating_rounding_doubling_high_mul(-5, 1 << 30) == -2);  // -2.5 -> -2
  CHECK(qk::saturating_rounding_doubling_high_mul(0, kMin) == 0);
  for (i32 a : kSpecials)
    for (i32 b : kSpecials) {
      INFO("a=" << a << " b=" << b);
      CHECK(qk::saturating_rounding_doubling_high_mul(a, b) == gemmlowp::SaturatingRoundingDoublingHighMul(a, b));
    }
}

TEST_CASE("RDPOT: edge cases agree with gemmlowp, exponents 0 and 31 included") {
  CHECK(qk::rounding_divide_by_pot(5, 1) == 3);     // 2.5 -> 3 (away from zero)
  CHECK(qk::rounding_divide_by_pot(-5, 1) == -3);   // -2.5 -> -3
  CHECK(qk::rounding_divide_by_pot(3, 1) == 2);     // 1.5 -> 2
  CHECK(qk::rounding_divide_by_pot(-3, 1) == -2);
  CHECK(qk::rounding_divide_by_pot(-1, 1) == -1);   // -0.5 -> -1
  CHECK(qk::rounding_divide_by_pot(1, 1) == 1);
  CHECK(qk::rounding_divide_by_pot(kMax, 0) == kMax);
  CHECK(qk::rounding_divide_by_pot(kMin, 0) == kMin);
  CHECK(qk::rounding_divide_by_pot(kMin, 31) == -1);       // exactly -1
  CHECK(qk::rounding_divide_by_pot(kMax, 31) == 1);        // 0.99999... -> 1
  CHECK(qk::rounding_divide_by_pot(1 << 30, 31) == 1);     // 0.5 -> 1
  CHECK(qk::rounding_divide_by_pot(-(1 << 30), 31) == -1); // -0.5 -> -1
  CHECK(qk::rounding_divide_by_pot((1 << 30) - 1, 31) == 0);
  CHECK(qk::rounding_divide_by_pot(-(1 << 30) + 1, 31) == 0);
  for (i32 x : kSpecials)
    for (int e = 0; e <= 31; ++e) {
      INFO("x=" << x << " exponent=" << e);
      CHECK(qk::rounding_divide_by_pot(x, e) == gemmlowp::RoundingDivideByPOT(x, e));
      // the tie below and above x
      const i32 tie = static_cast<i32>(e == 0 ? 0 : (u32{1} << (e - 1)));
      for (i32 t : {tie, negate_wrapping(tie), wrap(i64{x} + tie), wrap(i64{x} - tie)})
        CHECK(qk::rounding_divide_by_pot(t, e) == gemmlowp::RoundingDivideByPOT(t, e));
    }
}

TEST_CASE("MultiplyByQuantizedMultiplier double rounding: edge cases and the whole shift range") {
  // 3 * 0.5 * 2^-2: SRDHM rounds 1.5 -> 2, RDPOT rounds 2/4 = 0.5 -> 1; the exact 0.375 -> 0.
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(3, 1 << 30, -2) == 1);
  CHECK(qk::multiply_by_quantized_multiplier_single_rounding(3, 1 << 30, -2) == 0);
  // Product exactly x.5 in the output unit, both signs.
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(1, 1 << 30, 0) == 1);   // 0.5 -> 1
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(-1, 1 << 30, 0) == 0);  // -0.5 -> 0 (SRDHM)
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(1 << 10, 1 << 30, -10) == 1);    // 0.5 -> 1
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(-(1 << 10), 1 << 30, -10) == -1); // away from 0
  CHECK(qk::multiply_by_quantized_multiplier_double_rounding(kMax, kMax, 30) == oracle_mbqm_double(kMax, kMax, 30));
  for (int shift = qk::kMinRequantShift; shift <= qk::kMaxRequantShift; ++shift)
    for (i32 x : kSpecials)
      for (i32 m : {0, 1, 1 << 30, (1 << 30) + 1, kMax - 1, kMax, kMin, -1, -(1 << 30), 1518500250}) {
        INFO("x=" << x << " m=" << m << " shift=" << shift);
        CHECK(qk::multiply_by_quantized_multiplier_double_rounding(x, m, shift) == oracle_mbqm_double(x, m, shift));
        CHECK(qk::multiply_by_quantized_multiplier(x, m, shift) == oracle_mbqm_double(x, m, shift));
        CHECK(qk::multiply_by_quantized_multiplier(x, m, shift, qk::RequantRounding::double_rounding) ==
              oracle_mbqm_double(x, m, shift));
      }
}

TEST_CASE("MultiplyByQuantizedMultiplier single rounding: ties, saturation, shift range") {
  using qk::multiply_by_quantized_multiplier_single_rounding;
  CHECK(multiply_by_quantized_multiplier_single_rounding(1, 1 << 30, 0) == 1);     // 0.5 -> 1
  CHECK(multiply_by_quantized_multiplier_single_rounding(-1, 1 << 30, 0) == 0);    // -0.5 -> 0
  CHECK(multiply_by_quantized_multiplier_single_rounding(5, 1 << 30, 0) == 3);     // 2.5 -> 3
  CHECK(multiply_by_quantized_multiplier_single_rounding(-5, 1 << 30, 0) == -2);   // -2.5 -> -2
  CHECK(multiply_by_quantized_multiplier_single_rounding(-3, 1 << 30, -1) == -1);  // -0.75 -> -1
  CHECK(multiply_by_quantized_multiplier_single_rounding(-1, 1 << 30, -1) == 0);   // -0.25 -> 0
  CHECK(multiply_by_quantized_multiplier_single_rounding(-(1 << 10), 1 << 30, -10) == 0);  // -0.5 -> 0
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMax, kMax, 30) == kMax);
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, kMax, 30) == kMin);
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, 1 << 30, 1) == kMin);  // exactly -2^31
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, 1 << 30, 2) == kMin);  // -2^32 saturates
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMax, 1 << 30, 1) == kMax);  // exactly 2^31 - 1
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMax, kMax, -31) == 1);      // ~0.99999999953 -> 1
  CHECK(multiply_by_quantized_multiplier_single_rounding(kMin, kMax, -31) == -1);
  CHECK(multiply_by_quantized_multiplier_single_rounding(1 << 30, 1 << 30, -31) == 0);  // 2^60/2^62 = 0.25
  for (int shift = qk::kMinRequantShift; shift <= qk::kMaxRequantShift; ++shift)
    for (i32 x : kSpecials)
      for (i32 m : {0, 1, 1 << 30, (1 << 30) + 1, kMax - 1, kMax, 1518500250}) {
        INFO("x=" << x << " m=" << m << " shift=" << shift);
        CHECK(multiply_by_quantized_multiplier_single_rounding(x, m, shift) == oracle_mbqm_single(x, m, shift));
        CHECK(qk::multiply_by_quantized_multiplier(x, m, shift, qk::RequantRounding::single_rounding) ==
              oracle_mbqm_single(x, m, shift));
      }
}

TEST_CASE("validate_quantized_multiplier accepts exactly the documented domain") {
  using qk::RequantRounding;
  CHECK(qk::validate_quantized_multiplier(1 << 30, -31, RequantRounding::double_rounding).ok());
  CHECK(qk::validate_quantized_multiplier(1 << 30, 30, RequantRounding::single_rounding).ok());
  CHECK(qk::validate_quantized_multiplier(1 << 30, -32, RequantRounding::double_rounding).code() ==
        qk::StatusCode::invalid_argument);
  CHECK(qk::validate_quantized_multiplier(1 << 30, 31, RequantRounding::double_rounding).code() ==
        qk::StatusCode::invalid_argument);
  // Negative multipliers are refused with either rounding (issue 18: TFLite's are 0 or in
  // [2^30, 2^31)); double rounding used to accept them.
  CHECK(qk::validate_quantized_multiplier(-1, 0, RequantRounding::double_rounding).code() ==
        qk::StatusCode::invalid_argument);
  CHECK(qk::validate_quantized_multiplier(-1, 0, RequantRounding::single_rounding).code() ==
        qk::StatusCode::invalid_argument);
}

namespace {
// Runs qk::quantize_multiplier with sentinel outputs and checks it against the oracle, including
// that a refusal leaves both outputs untouched.
void check_quantize_multiplier(double real, Tally* tally = nullptr) {
  constexpr i32 kSentinelM = 0x5A5A5A5A;
  constexpr int kSentinelShift = -12345;
  i32 m = kSentinelM;
  int shift = kSentinelShift;
  const qk::Status st = qk::quantize_multiplier(real, &m, &shift);
  const QmResult want = oracle_quantize_multiplier(real);
  bool equal = st.ok() == want.ok;
  if (want.ok) {
    equal = equal && m == want.multiplier && shift == want.shift;
    // The representation itself: m in [2^30, 2^31) (or 0), within half a unit of real.
    if (m != 0) {
      equal = equal && m >= (1 << 30);
      const double err = std::fabs(std::ldexp(static_cast<double>(m), shift - 31) - real);
      equal = equal && err <= std::ldexp(1.0, shift - 32);
    } else {
      equal = equal && shift == 0 && real < std::ldexp(1.0, -32);
    }
  } else {
    equal = equal && st.code() == qk::StatusCode::invalid_argument && m == kSentinelM && shift == kSentinelShift;
  }
  if (tally != nullptr) {
    tally->check(equal, [&](std::ostream& os) {
      os << std::hexfloat << "real=" << real << std::defaultfloat << " qk=(" << st.ok() << ", " << m << ", " << shift
         << ") oracle=(" << want.ok << ", " << want.multiplier << ", " << want.shift << ")";
    });
  } else {
    INFO(std::hexfloat << "real=" << real << std::defaultfloat << " qk=(" << status_code_name(st.code()) << ", " << m
                       << ", " << shift << ") oracle=(" << want.ok << ", " << want.multiplier << ", " << want.shift
                       << ")");
    CHECK(equal);
  }
}
}  // namespace

TEST_CASE("QuantizeMultiplier: edge cases") {
  i32 m = 0;
  int shift = 0;
  REQUIRE(qk::quantize_multiplier(0.0, &m, &shift).ok());
  CHECK((m == 0 && shift == 0));
  REQUIRE(qk::quantize_multiplier(1.0, &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == 1));
  REQUIRE(qk::quantize_multiplier(0.5, &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == 0));
  // Just below 1: the mantissa rounds up to 2^31 and carries into the exponent.
  REQUIRE(qk::quantize_multiplier(std::nextafter(1.0, 0.0), &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == 1));
  // 1 - 2^-32: mantissa * 2^31 = 2^31 - 0.5 exactly, a tie, rounds away from zero -> carry.
  REQUIRE(qk::quantize_multiplier(1.0 - std::ldexp(1.0, -32), &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == 1));
  // 1 - 2^-31 is representable: q = 2^31 - 1.
  REQUIRE(qk::quantize_multiplier(1.0 - std::ldexp(1.0, -31), &m, &shift).ok());
  CHECK((m == kMax && shift == 0));
  // Largest accepted: just below 2^30 without carrying (exponent 30).
  REQUIRE(qk::quantize_multiplier(std::ldexp(1.0, 30) - 1.0, &m, &shift).ok());
  CHECK((m == kMax - 1 && shift == 30));  // (2^30 - 1) * 2 = 2^31 - 2 in Q0.31 at exponent 30
  // Smallest not flushed: 2^-32 (mantissa 0.5, exponent -31); and the carry rescues 2^-32 - tiny.
  REQUIRE(qk::quantize_multiplier(std::ldexp(1.0, -32), &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == -31));
  REQUIRE(qk::quantize_multiplier(std::nextafter(std::ldexp(1.0, -32), 0.0), &m, &shift).ok());
  CHECK((m == (1 << 30) && shift == -31));
  REQUIRE(qk::quantize_multiplier(std::ldexp(1.0, -33), &m, &shift).ok());  // exponent -32: flushed
  CHECK((m == 0 && shift == 0));
  // Powers of two from the smallest denormal to 2^29, denormals, limits, specials.
  for (int e = -1074; e <= 32; ++e) check_quantize_multiplier(std::ldexp(1.0, e));
  for (double v : {std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(),
                   std::nextafter(std::numeric_limits<double>::min(), 0.0), std::numeric_limits<double>::max(),
                   std::ldexp(1.0, 30), std::nextafter(std::ldexp(1.0, 30), 0.0), std::ldexp(1.0, 30) - 0.25,
                   std::ldexp(1.0, 30) - 0.5, 0.1, 0.3, 1.0 / 3.0, 0.999, 1.5, 1e-5, 1e-10, 123456.789,
                   std::nextafter(0.5, 0.0), std::nextafter(0.5, 1.0), 0.0, -0.0})
    check_quantize_multiplier(v);

  // Refusals: code invalid_argument (or null_pointer), outputs untouched.
  const double refused[] = {std::ldexp(1.0, 30), std::nextafter(std::ldexp(1.0, 30), 0.0), 1e300,
                            std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(), -1.0, -1e-300,
                            -std::numeric_limits<double>::denorm_min()};
  for (double v : refused) {
    m = 77;
    shift = 88;
    const qk::Status st = qk::quantize_multiplier(v, &m, &shift);
    INFO("real=" << v);
    CHECK(st.code() == qk::StatusCode::invalid_argument);
    CHECK(std::strlen(st.message()) > 0);
    CHECK((m == 77 && shift == 88));
  }
  CHECK(qk::quantize_multiplier(0.5, nullptr, &shift).code() == qk::StatusCode::null_pointer);
  CHECK(qk::quantize_multiplier(0.5, &m, nullptr).code() == qk::StatusCode::null_pointer);
  CHECK(shift == 88);
  // -0.0 is zero, not negative.
  REQUIRE(qk::quantize_multiplier(-0.0, &m, &shift).ok());
  CHECK((m == 0 && shift == 0));
}

TEST_CASE("ONNX requantize_float: ties to even, saturation, huge accumulators") {
  using qk::requantize_float;
  // Exact ties (acc * 0.5), both signs, with and without zero point.
  CHECK(requantize_float(5, 0.5f, 0, -128, 127) == 2);    // 2.5 -> 2
  CHECK(requantize_float(7, 0.5f, 0, -128, 127) == 4);    // 3.5 -> 4
  CHECK(requantize_float(1, 0.5f, 0, -128, 127) == 0);    // 0.5 -> 0
  CHECK(requantize_float(3, 0.5f, 0, -128, 127) == 2);    // 1.5 -> 2
  CHECK(requantize_float(-5, 0.5f, 0, -128, 127) == -2);  // -2.5 -> -2
  CHECK(requantize_float(-7, 0.5f, 0, -128, 127) == -4);  // -3.5 -> -4
  CHECK(requantize_float(-1, 0.5f, 0, -128, 127) == 0);   // -0.5 -> -0 -> 0
  CHECK(requantize_float(5, 0.5f, 10, -128, 127) == 12);  // rounding happens before the zero point
  CHECK(requantize_float(5, 0.5f, 3, 0, 255) == 5);
  CHECK(requantize_float(5, 0.25f, 0, -128, 127) == 1);   // 1.25 -> 1
  // Saturation at both ends.
  CHECK(requantize_float(1000, 1.0f, 0, -128, 127) == 127);
  CHECK(requantize_float(-1000, 1.0f, 0, -128, 127) == -128);
  CHECK(requantize_float(255, 1.0f, 1, 0, 255) == 255);
  CHECK(requantize_float(-1, 1.0f, 0, 0, 255) == 0);
  CHECK(requantize_float(254, 0.5f, 0, -128, 127) == 127);  // 127 exactly
  CHECK(requantize_float(255, 0.5f, 0, -128, 127) == 127);  // 127.5 -> 128 -> saturate
  CHECK(requantize_float(-257, 0.5f, 0, -128, 127) == -128);
  // Huge accumulators and scales: no overflow in the conversion, saturation instead.
  CHECK(requantize_float(kMax, 1.0f, 0, -128, 127) == 127);
  CHECK(requantize_float(kMin, 1.0f, 0, -128, 127) == -128);
  CHECK(requantize_float(kMax, 1e30f, 127, -128, 127) == 127);
  CHECK(requantize_float(kMin, 1e30f, -128, -128, 127) == -128);
  CHECK(requantize_float(kMax, std::numeric_limits<float>::max(), 0, -128, 127) == 127);  // product is +inf
  CHECK(requantize_float(kMin, std::numeric_limits<float>::max(), 0, -128, 127) == -128); // -inf
  CHECK(requantize_float(kMax, 1e-10f, 0, -128, 127) == 0);
  CHECK(requantize_float(kMin, 1e-9f, 5, -128, 127) == 3);  // -2.147... -> -2, + 5
  // Full int32 output range: float(INT32_MAX) is 2^31, one past the top; must saturate, not wrap.
  CHECK(requantize_float(kMax, 1.0f, 0, kMin, kMax) == kMax);
  CHECK(requantize_float(kMin, 1.0f, 0, kMin, kMax) == kMin);
  CHECK(requantize_float(kMax, 1.0f, 100, kMin, kMax) == kMax);
  CHECK(requantize_float(kMin, 1.0f, -100, kMin, kMax) == kMin);
  CHECK(requantize_float(1 << 24, 1.0f, kMax - (1 << 24), kMin, kMax) == kMax);
  for (i32 acc : kSpecials)
    for (float scale : {1e-12f, 1e-6f, 0.0039215686f, 0.5f, 1.0f, 3.0f, 1e6f, 1e30f})
      for (i32 zp : {0, -128, 127, 255})
        for (auto range : {std::pair<i32, i32>{-128, 127}, {0, 255}, {-32768, 32767}, {kMin, kMax}}) {
          INFO("acc=" << acc << " scale=" << scale << " zp=" << zp << " range=[" << range.first << ", "
                      << range.second << "]");
          CHECK(requantize_float(acc, scale, zp, range.first, range.second) ==
                oracle_requantize_float(acc, scale, zp, range.first, range.second));
        }
}

// ---------------------------------------------------------------------------------------------
// Random comparisons.

TEST_CASE("SRDHM and RDPOT: random inputs against gemmlowp") {
  Rng r(0x5eed0001);
  Tally srdhm, rdpot;
  const u64 n = 5'000'000;
  u64 exact_ties = 0;
  for (u64 i = 0; srdhm.compared < n; ++i) {
    i32 a = 0, b = 0;
    if (i % 4 == 0) {
      // a * b = odd * 2^30: exactly x.5 in the output unit, or one off it.
      if (!tie_pair(r, 30, &a, &b)) continue;
    } else {
      a = any_i32(r);
      b = any_i32(r);
    }
    if ((static_cast<i64>(a) * b) % (i64{1} << 31) == (i64{1} << 30) ||
        (static_cast<i64>(a) * b) % (i64{1} << 31) == -(i64{1} << 30))
      ++exact_ties;
    srdhm.check(qk::saturating_rounding_doubling_high_mul(a, b) == gemmlowp::SaturatingRoundingDoublingHighMul(a, b),
                [&](std::ostream& os) { os << "srdhm(" << a << ", " << b << ")"; });
  }
  for (u64 i = 0; rdpot.compared < n; ++i) {
    const int e = r.irange(0, 31);
    i32 x = any_i32(r);
    if (i % 3 == 0 && e > 0) {
      // x = odd * 2^(e-1), a tie, +-1
      const u32 odd = static_cast<u32>(r.range(0, (i64{1} << (32 - e)) - 1) << 1) | 1u;
      x = static_cast<i32>((odd << (e - 1)) + static_cast<u32>(r.irange(-1, 1)));
    }
    rdpot.check(qk::rounding_divide_by_pot(x, e) == gemmlowp::RoundingDivideByPOT(x, e),
                [&](std::ostream& os) { os << "rdpot(" << x << ", " << e << ")"; });
  }
  INFO(exact_ties << " SRDHM inputs were exact ties");
  CHECK(exact_ties > n / 16);  // the tie construction works (about 9% of the draws)
  std::cout << "[qk fixed_point oracle] SRDHM: " << exact_ties << " of the inputs were exact ties\n";
  srdhm.report("SaturatingRoundingDoublingHighMul vs gemmlowp");
  rdpot.report("RoundingDivideByPOT vs gemmlowp");
}

TEST_CASE("MultiplyByQuantizedMultiplier double rounding: random inputs against gemmlowp") {
  Rng r(0x5eed0002);
  Tally tally;
  const u64 n = 12'000'000;
  u64 exact_ties = 0;  // inputs whose exact product is x.5 in the output unit
  for (u64 i = 0; tally.compared < n; ++i) {
    const int shift = r.irange(qk::kMinRequantShift, qk::kMaxRequantShift);
    const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    i32 x = 0, m = 0;
    switch (i % 8) {
      case 0: case 1: case 2:  // a real multiplier (Q0.31 in [2^30, 2^31)), any accumulator
        m = static_cast<i32>(r.range(i64{1} << 30, kMax));
        x = any_i32(r);
        break;
      case 3:  // small accumulators: the typical conv output with a small multiplier
        m = static_cast<i32>(r.range(i64{1} << 30, kMax));
        x = static_cast<i32>(r.range(-(i64{1} << 20), i64{1} << 20));
        break;
      case 4: {  // (x << left) * m exactly odd * 2^(30 + right): a tie of the final result, +-1
        i32 xs = 0;
        if (!tie_pair(r, 30 + right, &xs, &m)) continue;
        if (left > 0) {
          // xs must be a multiple of 2^left for x to exist; otherwise use the same product unshifted
          if ((static_cast<u32>(xs) & ((u32{1} << left) - 1)) != 0) continue;
          x = static_cast<i32>(static_cast<i64>(xs) / (i64{1} << left));
        } else {
          x = xs;
        }
        break;
      }
      case 5: {  // SRDHM lands on (or next to) a tie of RDPOT: x * m / 2^31 ~ odd * 2^(right-1)
        if (left > 0 || right == 0) {
          x = any_i32(r);
          m = any_i32(r);
          break;
        }
        m = static_cast<i32>(r.range(i64{1} << 30, kMax));
        const i64 odd = (r.range(0, (i64{1} << (31 - right)) - 1) << 1) | 1;  // tie target < 2^30 * 2
        const i64 target = (r.coin() ? odd : -odd) * (i64{1} << (right - 1));
        if (target > (i64{1} << 29) || target < -(i64{1} << 29)) {
          x = wrap(target);
        } else {
          const i64 xi = (target * (i64{1} << 31)) / m + r.irange(-2, 2);
          x = wrap(xi);
        }
        break;
      }
      default:  // any int32 multiplier, negative ones included (gemmlowp defines them all)
        x = any_i32(r);
        m = any_i32(r);
        break;
    }
    {
      const i128 p = static_cast<i128>(static_cast<i32>(static_cast<u32>(x) << left)) * m;
      const i128 unit = static_cast<i128>(1) << (31 + right);
      if (p % unit == unit / 2 || p % unit == -unit / 2) ++exact_ties;
    }
    tally.check(qk::multiply_by_quantized_multiplier_double_rounding(x, m, shift) == oracle_mbqm_double(x, m, shift),
                [&](std::ostream& os) {
                  os << "mbqm_double(" << x << ", " << m << ", " << shift
                     << ") qk=" << qk::multiply_by_quantized_multiplier_double_rounding(x, m, shift)
                     << " gemmlowp=" << oracle_mbqm_double(x, m, shift);
                });
  }
  INFO(exact_ties << " inputs were exact ties of the result");
  CHECK(exact_ties > n / 25);  // about 4.5% of the draws
  std::cout << "[qk fixed_point oracle] double rounding: " << exact_ties << " of the inputs were exact ties\n";
  tally.report("MultiplyByQuantizedMultiplier (double rounding) vs gemmlowp");
}

TEST_CASE("MultiplyByQuantizedMultiplier single rounding and requantize_fixed_point: random inputs") {
  Rng r(0x5eed0003);
  Tally single, requant;
  const u64 n = 4'000'000;
  for (u64 i = 0; single.compared < n; ++i) {
    const int shift = r.irange(qk::kMinRequantShift, qk::kMaxRequantShift);
    i32 x = 0, m = 0;
    if (i % 4 == 0) {
      // x * m exactly odd * 2^(30 - shift): a tie, +-1; the multiplier must be non-negative.
      if (!tie_pair(r, 30 - shift, &x, &m)) continue;
      if (m < 0) m = negate_wrapping(m);
      if (m < 0) continue;  // INT32_MIN
    } else {
      x = any_i32(r);
      m = i % 4 == 1 ? static_cast<i32>(r.range(0, kMax)) : static_cast<i32>(r.range(i64{1} << 30, kMax));
    }
    single.check(qk::multiply_by_quantized_multiplier_single_rounding(x, m, shift) == oracle_mbqm_single(x, m, shift),
                 [&](std::ostream& os) {
                   os << "mbqm_single(" << x << ", " << m << ", " << shift
                      << ") qk=" << qk::multiply_by_quantized_multiplier_single_rounding(x, m, shift)
                      << " oracle=" << oracle_mbqm_single(x, m, shift);
                 });
    // The full TFLite output stage: clamp(mbqm(acc) + zero_point, qmin, qmax), both roundings.
    const bool use_single = r.coin();
    const i32 zp = static_cast<i32>(r.range(-128, 127));
    const i32 qmin = r.coin() ? -128 : -127, qmax = 127;
    const i64 scaled = use_single ? oracle_mbqm_single(x, m, shift) : oracle_mbqm_double(x, m, shift);
    const i64 want64 = scaled + zp;
    const i32 want = static_cast<i32>(want64 < qmin ? qmin : (want64 > qmax ? qmax : want64));
    const auto rounding = use_single ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;
    requant.check(qk::requantize_fixed_point(x, m, shift, zp, qmin, qmax, rounding) == want, [&](std::ostream& os) {
      os << "requantize_fixed_point(" << x << ", " << m << ", " << shift << ", zp=" << zp << ", single=" << use_single
         << ") want " << want;
    });
  }
  single.report("MultiplyByQuantizedMultiplier (single rounding) vs 128-bit formula");
  requant.report("requantize_fixed_point vs oracle + clamp");
}

TEST_CASE("QuantizeMultiplier: random doubles against the re-derived TFLite algorithm") {
  Rng r(0x5eed0004);
  Tally tally;
  const u64 n = 1'000'000;
  for (u64 i = 0; i < n; ++i) {
    double v = 0;
    switch (i % 5) {
      case 0: {  // any non-negative finite double (mostly far outside the accepted range)
        u64 bits = r.next() & 0x7FFFFFFFFFFFFFFFull;
        if ((bits >> 52) == 0x7FF) bits &= ~(u64{1} << 62);
        std::memcpy(&v, &bits, sizeof v);
        break;
      }
      case 1:  // the interesting exponents, random mantissa
        v = std::ldexp(1.0 + static_cast<double>(r.next() >> 11) * 0x1p-53, r.irange(-40, 33));
        break;
      case 2: {  // mantissa * 2^31 exactly k + 0.5 (a tie), or one ulp either side
        const double k = static_cast<double>(r.range(i64{1} << 30, (i64{1} << 31) - 1));
        v = std::ldexp(k + 0.5, r.irange(-40, 33) - 31);
        const int nudge = r.irange(-1, 1);
        if (nudge != 0) v = std::nextafter(v, nudge > 0 ? 1e308 : 0.0);
        break;
      }
      case 3:  // mantissa just below 1: the carry into the exponent
        v = std::ldexp(1.0 - static_cast<double>(r.irange(1, 4096)) * 0x1p-53, r.irange(-40, 33));
        break;
      default:  // typical real multipliers: in_scale * w_scale / out_scale
        v = std::exp(static_cast<double>(r.next() >> 11) * 0x1p-53 * 40.0 - 30.0);
        break;
    }
    check_quantize_multiplier(v, &tally);
  }
  tally.report("QuantizeMultiplier vs re-derived TFLite algorithm");
}

TEST_CASE("ONNX requantize_float: random inputs against round-half-even oracle") {
  Rng r(0x5eed0005);
  Tally tally;
  const u64 n = 3'000'000;
  for (u64 i = 0; i < n; ++i) {
    i32 acc = any_i32(r);
    float scale = 0;
    switch (i % 4) {
      case 0:  // exact ties: scale = 2^-k, acc odd multiple of 2^(k-1)
      {
        const int k = r.irange(1, 20);
        scale = std::ldexp(1.0f, -k);
        acc = static_cast<i32>((r.range(-(i64{1} << 20), i64{1} << 20) * 2 + 1) * (i64{1} << (k - 1)));
        break;
      }
      case 1:  // huge scales and accumulators: saturation
        scale = std::ldexp(static_cast<float>(r.range(1, 1 << 23)), r.irange(-10, 80));
        break;
      default:  // typical scales
        scale = std::ldexp(static_cast<float>(r.range(1 << 23, (1 << 24) - 1)), r.irange(-60, -20));
        break;
    }
    i32 qmin = -128, qmax = 127, zp = 0;
    switch (r.irange(0, 3)) {
      case 0: zp = static_cast<i32>(r.range(-128, 127)); break;
      case 1: qmin = 0; qmax = 255; zp = static_cast<i32>(r.range(0, 255)); break;
      case 2: qmin = -32768; qmax = 32767; zp = static_cast<i32>(r.range(-32768, 32767)); break;
      default: qmin = kMin; qmax = kMax; zp = static_cast<i32>(r.range(-1000, 1000)); break;
    }
    tally.check(qk::requantize_float(acc, scale, zp, qmin, qmax) == oracle_requantize_float(acc, scale, zp, qmin, qmax),
                [&](std::ostream& os) {
                  os << "requantize_float(" << acc << ", " << std::hexfloat << scale << std::defaultfloat << ", "
                     << zp << ", " << qmin << ", " << qmax << ") qk=" << qk::requantize_float(acc, scale, zp, qmin, qmax)
                     << " oracle=" << oracle_requantize_float(acc, scale, zp, qmin, qmax);
                });
  }
  tally.report("requantize_float vs round-half-even oracle");
}
