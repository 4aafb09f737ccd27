// qk/quantize/calibration.hpp: observers against PyTorch's (and independent re-implementations),
// error paths, constant / single-batch data, and the shift-only requantization helper.
//
// Vectors: calibration/calibration_vectors.inc, written by calibration/make_calibration_vectors.py
// (PyTorch 1.13's observers; see that script for where each expected value comes from).
//
// Exact or not: min/max, moving average, per channel, histogram (L2 search), percentile and
// entropy are compared BIT FOR BIT: the header repeats PyTorch's float32 operations in the same
// order (calibration.hpp says where), and the percentile / entropy thresholds are float64 bin
// edges computed the same way on both sides. mean +- k sigma is not: numpy's mean / std and our
// merged (Chan et al.) moments differ in the last bits of a double, which can move the float
// range by an ulp, so its scale gets 2 ulp and its zero point +-1.
#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "qk/fixed_point.hpp"
#include "qk/quantize/calibration.hpp"

namespace {

struct CalibDataset {
  const char* name;
  const std::uint32_t* data;
  const std::size_t* batches;
  std::size_t nbatches;
  const std::size_t* dims;
  std::size_t ndim;  // 0: flat batches
};

struct CalibCase {
  const char* name;
  const char* observer;
  int dataset;
  int bits;
  bool is_signed;
  bool custom;
  std::int32_t qmin, qmax;
  bool symmetric;
  bool pot;
  bool per_channel;
  int axis;
  std::size_t nparams;
  const std::uint32_t* scales;
  const std::int32_t* zps;
  bool has_range;
  std::uint32_t lo, hi;
  int tol_ulp;
};

#include "calibration/calibration_vectors.inc"

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
using qk::StatusCode;

float from_bits(std::uint32_t b) {
  float f = 0.0f;
  std::memcpy(&f, &b, 4);
  return f;
}

std::uint32_t to_bits(float f) {
  std::uint32_t b = 0;
  std::memcpy(&b, &f, 4);
  return b;
}

// Distance in ulps between two positive floats.
std::int64_t ulps(float a, float b) {
  return std::llabs(static_cast<long long>(to_bits(a)) - static_cast<long long>(to_bits(b)));
}

std::vector<float> floats(const CalibDataset& d, std::size_t begin, std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = from_bits(d.data[begin + i]);
  return v;
}

qk::CalibConfig config_of(const CalibCase& c) {
  qk::CalibConfig cfg;
  const qk::Status st = c.custom ? qk::make_calib_config_range(c.qmin, c.qmax, c.symmetric, c.pot, &cfg)
                                 : qk::make_calib_config(c.bits, c.is_signed, c.symmetric, false, c.pot, &cfg);
  REQUIRE(st.ok());
  REQUIRE(cfg.qmin == c.qmin);
  REQUIRE(cfg.qmax == c.qmax);
  return cfg;
}

// Feeds every batch of the case's dataset to `obs` (flat, or as tensors with the dataset's dims).
template <class Obs>
void feed(Obs& obs, const CalibDataset& d) {
  std::size_t at = 0;
  for (std::size_t b = 0; b < d.nbatches; ++b) {
    const std::vector<float> x = floats(d, at, d.batches[b]);
    at += d.batches[b];
    qk::Status st;
    if constexpr (std::is_base_of_v<qk::detail::RangeObserverBase, Obs>) {
      st = d.ndim != 0 ? obs.observe(x.data(), d.dims, d.ndim) : obs.observe(x.data(), x.size());
    } else {
      st = obs.observe(x.data(), x.size());
    }
    REQUIRE(st.ok());
  }
}

template <class Obs>
void check_range_case(const CalibCase& c, Obs& obs) {
  const CalibDataset& d = kCalibDatasets[c.dataset];
  const qk::CalibConfig cfg = config_of(c);
  if (c.per_channel) REQUIRE(obs.init_per_channel(cfg, c.nparams, c.axis).ok());
  else REQUIRE(obs.init(cfg).ok());
  feed(obs, d);
  std::vector<qk::QuantParams> p(c.nparams);
  REQUIRE(obs.params(p.data(), p.size()).ok());
  for (std::size_t k = 0; k < c.nparams; ++k) {
    INFO("channel " << k);
    const float want = from_bits(c.scales[k]);
    CHECK(ulps(p[k].scale, want) <= c.tol_ulp);
    CHECK(std::abs(p[k].zero_point - c.zps[k]) <= (c.tol_ulp != 0 ? 1 : 0));
    CHECK(p[k].qmin == c.qmin);
    CHECK(p[k].qmax == c.qmax);
  }
  if (c.has_range && !c.per_channel && c.tol_ulp == 0) {
    float lo = 0.0f, hi = 0.0f;
    REQUIRE(obs.range(0, &lo, &hi).ok());
    CHECK(to_bits(lo) == c.lo);
    CHECK(to_bits(hi) == c.hi);
  }
}

template <class Obs>
void check_hist_case(const CalibCase& c, Obs& obs) {
  const qk::CalibConfig cfg = config_of(c);
  REQUIRE(obs.init(cfg).ok());
  feed(obs, kCalibDatasets[c.dataset]);
  qk::QuantParams p;
  REQUIRE(obs.params(&p).ok());
  CHECK(to_bits(p.scale) == c.scales[0]);
  CHECK(p.zero_point == c.zps[0]);
  float lo = 0.0f, hi = 0.0f;
  REQUIRE(obs.range(&lo, &hi).ok());
  CHECK(to_bits(lo) == c.lo);
  CHECK(to_bits(hi) == c.hi);
}

// Plain rounding right shift, round half up: (acc + 2^(s-1)) >> s; s <= 0 is a saturating left
// shift. Saturated to int32 as the output stage's clamp.
std::int32_t plain_shift(std::int32_t acc, int s) {
  std::int64_t v = 0;
  if (s > 0) v = (static_cast<std::int64_t>(acc) + (std::int64_t{1} << (s - 1))) >> s;
  else v = static_cast<std::int64_t>(acc) * (std::int64_t{1} << (-s));
  if (v > INT32_MAX) v = INT32_MAX;
  if (v < INT32_MIN) v = INT32_MIN;
  return static_cast<std::int32_t>(v);
}

}  // namespace

TEST_CASE("calibration vectors: every observer matches PyTorch / the reference re-implementation") {
  std::size_t counted = 0;
  for (const CalibCase& c : kCalibCases) {
    INFO(c.name);
    const std::string kind = c.observer;
    if (kind == "minmax") {
      qk::MinMaxObserver o;
      check_range_case(c, o);
    } else if (kind == "moving_average") {
      qk::MovingAverageMinMaxObserver o;
      check_range_case(c, o);
    } else if (kind == "mean_k_sigma") {
      qk::MeanKSigmaObserver o;
      check_range_case(c, o);
    } else if (kind == "histogram") {
      qk::HistogramObserver o;
      check_hist_case(c, o);
    } else if (kind == "percentile") {
      qk::PercentileObserver o;
      check_hist_case(c, o);
    } else if (kind == "entropy") {
      qk::EntropyObserver o;
      check_hist_case(c, o);
    } else {
      FAIL("unknown observer " << kind);
    }
    ++counted;
  }
  CHECK(counted == sizeof(kCalibCases) / sizeof(kCalibCases[0]));
}

TEST_CASE("calibration: configuration errors") {
  qk::CalibConfig c;
  CHECK(qk::make_calib_config(1, true, false, false, false, &c).code() == StatusCode::invalid_argument);
  CHECK(qk::make_calib_config(17, true, false, false, false, &c).code() == StatusCode::invalid_argument);
  CHECK(qk::make_calib_config(0, false, false, false, false, &c).code() == StatusCode::invalid_argument);
  CHECK(qk::make_calib_config(8, false, false, true, false, &c).code() == StatusCode::invalid_argument);  // narrow unsigned
  CHECK(qk::make_calib_config(8, true, false, false, false, nullptr).code() == StatusCode::null_pointer);
  CHECK(qk::make_calib_config_range(5, 5, false, false, &c).code() == StatusCode::invalid_argument);   // qmin == qmax
  CHECK(qk::make_calib_config_range(7, -8, false, false, &c).code() == StatusCode::invalid_argument);  // qmin > qmax
  CHECK(qk::make_calib_config_range(1, 255, false, false, &c).code() == StatusCode::invalid_argument);  // no 0
  CHECK(qk::make_calib_config_range(-40000, 40000, false, false, &c).code() == StatusCode::invalid_argument);
  for (int bits = 2; bits <= 16; ++bits) {
    for (int sgn = 0; sgn < 2; ++sgn) {
      INFO("bits " << bits << " signed " << sgn);
      REQUIRE(qk::make_calib_config(bits, sgn != 0, false, false, false, &c).ok());
      CHECK(c.qmax - c.qmin == (1 << bits) - 1);
      qk::QuantParams p;
      REQUIRE(qk::calib_params_from_range(-1.5f, 3.0f, c, &p).ok());
      CHECK(p.scale == static_cast<float>(4.5 / ((1 << bits) - 1)));
      CHECK(p.zero_point >= c.qmin);
      CHECK(p.zero_point <= c.qmax);
      // Real zero is exactly representable: -(zp - qmin) steps from the bottom of the range.
      c.symmetric = true;
      REQUIRE(qk::calib_params_from_range(-1.5f, 3.0f, c, &p).ok());
      CHECK(p.zero_point == (sgn != 0 ? 0 : (1 << (bits - 1))));
    }
  }
  // A bad config handed straight to an observer.
  qk::CalibConfig bad;
  bad.qmin = 3;
  bad.qmax = 3;
  qk::MinMaxObserver mm;
  CHECK(mm.init(bad).code() == StatusCode::invalid_argument);
  qk::HistogramObserver h;
  CHECK(h.init(bad).code() == StatusCode::invalid_argument);
  bad.qmin = 0;
  bad.qmax = 255;
  bad.eps = 0.0f;
  CHECK(mm.init(bad).code() == StatusCode::invalid_argument);
}

TEST_CASE("calibration: bad data leaves every observer unchanged") {
  const qk::CalibConfig cfg;
  const float good[4] = {-1.0f, 0.5f, 2.0f, 3.0f};
  const float wide[3] = {-100.0f, 0.0f, 50.0f};
  const float nan_data[3] = {0.0f, kNaN, 1.0f};
  const float inf_data[3] = {0.0f, 1.0f, kInf};
  const float ninf_data[3] = {-kInf, 1.0f, 0.0f};

  const auto run = [&](auto& obs, const char* name) {
    INFO(name);
    qk::QuantParams before;
    CHECK(obs.params(&before, 1).code() == StatusCode::invalid_argument);  // nothing observed yet
    REQUIRE(obs.observe(good, 4).ok());
    REQUIRE(obs.params(&before, 1).ok());
    CHECK(obs.observe(nan_data, 3).code() == StatusCode::invalid_argument);
    CHECK(obs.observe(inf_data, 3).code() == StatusCode::invalid_argument);
    CHECK(obs.observe(ninf_data, 3).code() == StatusCode::invalid_argument);
    CHECK(obs.observe(nullptr, 3).code() == StatusCode::null_pointer);
    CHECK(obs.observe(good, 0).code() == StatusCode::invalid_argument);
    CHECK(obs.params(nullptr, 1).code() == StatusCode::null_pointer);
    CHECK(obs.params(&before, 2).code() == StatusCode::invalid_argument);
    qk::QuantParams after;
    REQUIRE(obs.params(&after, 1).ok());
    CHECK(to_bits(after.scale) == to_bits(before.scale));
    CHECK(after.zero_point == before.zero_point);
    // A later good batch still works after the failures.
    REQUIRE(obs.observe(wide, 3).ok());
    REQUIRE(obs.params(&after, 1).ok());
    CHECK(after.scale > before.scale);
  };
  qk::MinMaxObserver a;
  REQUIRE(a.init(cfg).ok());
  run(a, "minmax");
  qk::MovingAverageMinMaxObserver b;
  REQUIRE(b.init(cfg).ok());
  run(b, "moving average");
  qk::MeanKSigmaObserver c;
  REQUIRE(c.init(cfg).ok());
  run(c, "mean k sigma");
  qk::HistogramObserver d;
  REQUIRE(d.init(cfg).ok());
  run(d, "histogram");
  qk::PercentileObserver e;
  REQUIRE(e.init(cfg).ok());
  run(e, "percentile");
  qk::EntropyObserver f;
  REQUIRE(f.init(cfg).ok());
  run(f, "entropy");

  qk::MinMaxObserver not_init;
  CHECK(not_init.observe(good, 4).code() == StatusCode::invalid_argument);
  qk::EntropyObserver not_init_h;
  CHECK(not_init_h.observe(good, 4).code() == StatusCode::invalid_argument);
}

TEST_CASE("calibration: per-channel shape errors") {
  qk::MinMaxObserver o;
  CHECK(o.init_per_channel(qk::CalibConfig(), 0, 1).code() == StatusCode::invalid_argument);
  REQUIRE(o.init_per_channel(qk::CalibConfig(), 3, 1).ok());
  const float x[6] = {1, 2, 3, 4, 5, 6};
  const std::size_t dims_ok[2] = {2, 3};
  const std::size_t dims_bad[2] = {3, 2};
  const std::size_t dims_zero[2] = {0, 3};
  CHECK(o.observe(x, 6).code() == StatusCode::bad_shape);  // per channel needs dims
  CHECK(o.observe(x, dims_bad, 2).code() == StatusCode::bad_shape);
  CHECK(o.observe(x, dims_zero, 2).code() == StatusCode::invalid_argument);
  const std::size_t dims_rank1[1] = {6};
  CHECK(o.observe(x, dims_rank1, 1).code() == StatusCode::invalid_argument);  // axis 1 of a rank-1 tensor
  CHECK(o.observe(x, nullptr, 2).code() == StatusCode::null_pointer);
  CHECK(o.observe(nullptr, dims_ok, 2).code() == StatusCode::null_pointer);
  REQUIRE(o.observe(x, dims_ok, 2).ok());
  qk::QuantParams p[3];
  CHECK(o.params(p, 1).code() == StatusCode::invalid_argument);
  REQUIRE(o.params(p, 3).ok());
  float lo = 0.0f, hi = 0.0f;
  REQUIRE(o.range(2, &lo, &hi).ok());
  CHECK((lo == 3.0f && hi == 6.0f));
  CHECK(o.range(3, &lo, &hi).code() == StatusCode::invalid_argument);
}

TEST_CASE("calibration: constant tensors and a single batch") {
  const float values[] = {0.0f, 1.0f, -2.5f, 1e-30f, 3e38f, -3e38f};
  for (float v : values) {
    for (int sym = 0; sym < 2; ++sym) {
      for (int pot = 0; pot < 2; ++pot) {
        INFO("value " << v << " symmetric " << sym << " pot " << pot);
        qk::CalibConfig cfg;
        REQUIRE(qk::make_calib_config(8, true, sym != 0, false, pot != 0, &cfg).ok());
        std::vector<float> x(100, v);
        const auto check = [&](auto& obs, const char* name) {
          INFO(name);
          REQUIRE(obs.init(cfg).ok());
          REQUIRE(obs.observe(x.data(), x.size()).ok());
          qk::QuantParams p;
          REQUIRE(obs.params(&p, 1).ok());
          CHECK(std::isfinite(p.scale));
          CHECK(p.scale > 0.0f);
          CHECK(p.zero_point >= p.qmin);
          CHECK(p.zero_point <= p.qmax);
          // |v| within the representable range (no clipping) unless the value is huge.
          if (std::fabs(v) < 1e30f) {
            const double lo = (static_cast<double>(p.qmin) - p.zero_point) * static_cast<double>(p.scale);
            const double hi = (static_cast<double>(p.qmax) - p.zero_point) * static_cast<double>(p.scale);
            CHECK(lo <= static_cast<double>(v) + std::fabs(static_cast<double>(v)) * 1e-6);
            // (PyTorch's symmetric int8 scale is amax / 127.5: +amax itself sits half a step above qmax.)
            CHECK(static_cast<double>(v) <= hi + std::fabs(static_cast<double>(v)) * 1e-2);
          }
        };
        qk::MinMaxObserver a;
        check(a, "minmax");
        qk::MovingAverageMinMaxObserver b;
        check(b, "moving average");
        qk::MeanKSigmaObserver c;
        check(c, "mean k sigma");
        qk::HistogramObserver d;
        check(d, "histogram");
        qk::PercentileObserver e;
        check(e, "percentile");
        qk::EntropyObserver f;
        check(f, "entropy");
      }
    }
  }
  // Constant batch first, then real data: PyTorch's HistogramObserver restarts from the new batch.
  qk::HistogramObserver h;
  REQUIRE(h.init(qk::CalibConfig()).ok());
  std::vector<float> c(10, 2.0f);
  REQUIRE(h.observe(c.data(), c.size()).ok());
  const float y[4] = {-1.0f, 0.0f, 1.0f, 4.0f};
  REQUIRE(h.observe(y, 4).ok());
  CHECK(h.histogram().min() == -1.0f);
  CHECK(h.histogram().max() == 4.0f);
}

TEST_CASE("calibration: histogram re-binning stays bounded and conserves counts") {
  qk::HistogramObserver h;
  REQUIRE(h.init(qk::CalibConfig()).ok());
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  double total = 0.0;
  for (int b = 0; b < 6; ++b) {
    std::vector<float> x(500);
    for (auto& v : x) v = nd(rng) * static_cast<float>(1 << (2 * b));  // range grows 4x per batch
    REQUIRE(h.observe(x.data(), x.size()).ok());
    total += 500.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < h.histogram().bins(); ++i) sum += static_cast<double>(h.histogram().counts()[i]);
    // Not exact: PyTorch's _combine_histograms rounds the shifted integral to float32 (and we
    // repeat it), which loses about 1e-5 of the count per re-binning.
    CHECK(sum == Approx(total).epsilon(1e-4));
  }
  // A batch 2^30 times wider than the histogram's range: refused, observer unchanged.
  const float before_max = h.histogram().max();
  const float huge[2] = {0.0f, 1e20f};
  CHECK(h.observe(huge, 2).code() == StatusCode::invalid_argument);
  CHECK(h.histogram().max() == before_max);
}

TEST_CASE("calibration: power-of-two scales") {
  qk::CalibConfig cfg;
  REQUIRE(qk::make_calib_config(8, true, true, true, true, &cfg).ok());
  qk::QuantParams p;
  REQUIRE(qk::calib_params_from_range(-3.0f, 2.0f, cfg, &p).ok());
  CHECK(p.scale == 0.03125f);  // 3/127 = 0.0236 rounded up to 2^-5
  REQUIRE(qk::calib_params_from_range(-4.0f, 2.0f, cfg, &p).ok());
  CHECK(p.scale == 0.0625f);  // 4/127 = 0.0315 is just above 2^-5 -> 2^-4
  REQUIRE(qk::calib_params_from_range(-3.96875f, 2.0f, cfg, &p).ok());
  CHECK(p.scale == 0.03125f);  // exactly 127 * 2^-5: already a power of two
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-10.0f, 10.0f);
  for (int i = 0; i < 1000; ++i) {
    float a = u(rng), b = u(rng);
    if (a > b) std::swap(a, b);
    for (int sym = 0; sym < 2; ++sym) {
      REQUIRE(qk::make_calib_config(4 + i % 9, true, sym != 0, false, true, &cfg).ok());
      REQUIRE(qk::calib_params_from_range(a, b, cfg, &p).ok());
      int e = 0;
      CHECK(std::frexp(p.scale, &e) == 0.5f);
      qk::CalibConfig plain = cfg;
      plain.power_of_two = false;
      qk::QuantParams q;
      REQUIRE(qk::calib_params_from_range(a, b, plain, &q).ok());
      CHECK(p.scale >= q.scale);
      CHECK(p.scale < 2.0f * q.scale);
    }
  }
}

TEST_CASE("pot_shift_requant: fixed-point single rounding equals a plain rounding shift") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::int32_t> any(INT32_MIN, INT32_MAX);
  std::vector<std::int32_t> accs = {0, 1, -1, 2, -2, 3, -3, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1,
                                    1 << 30, -(1 << 30), 12345, -12345};
  for (int k = 0; k < 31; ++k) {  // ties and their neighbours at every power of two
    const std::int32_t t = std::int32_t{1} << k;
    for (std::int32_t d = -1; d <= 1; ++d) {
      if (t + d > 0) accs.push_back(t + d);
      accs.push_back(-t + d);
      if (k >= 1) {
        accs.push_back((t | (t >> 1)) + d);
        accs.push_back(-(t | (t >> 1)) + d);
      }
    }
  }
  for (int i = 0; i < 20000; ++i) accs.push_back(any(rng));
  for (int r = -29; r <= 32; ++r) {
    INFO("right shift " << r);
    // s_in = 2^-3, s_w = 2^-7, s_out = 2^(r - 10): real multiplier 2^-r.
    const float s_in = 0.125f, s_w = 0.0078125f;
    const float s_out = std::ldexp(1.0f, r - 10);
    std::int32_t m = 0, sh = 0, rs = 0;
    REQUIRE(qk::pot_shift_requant(s_in, s_w, s_out, &m, &sh, &rs).ok());
    CHECK(rs == r);
    CHECK(m == (1 << 30));
    REQUIRE(qk::validate_quantized_multiplier(m, sh, qk::RequantRounding::single_rounding).ok());
    for (std::int32_t acc : accs) {
      const std::int32_t got =
          qk::requantize_fixed_point(acc, m, sh, 0, INT32_MIN, INT32_MAX, qk::RequantRounding::single_rounding);
      if (got != plain_shift(acc, r)) {
        INFO("acc " << acc);
        CHECK(got == plain_shift(acc, r));
      }
      // With an 8-bit output and a zero point: the shift, plus zp, clamped.
      const std::int64_t want8 = static_cast<std::int64_t>(plain_shift(acc, r)) + 5;
      const std::int32_t clamped = static_cast<std::int32_t>(want8 < -128 ? -128 : (want8 > 127 ? 127 : want8));
      if (qk::requantize_fixed_point(acc, m, sh, 5, -128, 127, qk::RequantRounding::single_rounding) != clamped) {
        INFO("acc " << acc);
        CHECK(qk::requantize_fixed_point(acc, m, sh, 5, -128, 127, qk::RequantRounding::single_rounding) == clamped);
      }
    }
  }
  std::int32_t m = 0, sh = 0;
  CHECK(qk::pot_shift_requant(0.1f, 1.0f, 1.0f, &m, &sh).code() == StatusCode::invalid_argument);  // not 2^k
  CHECK(qk::pot_shift_requant(0.0f, 1.0f, 1.0f, &m, &sh).code() == StatusCode::invalid_argument);
  CHECK(qk::pot_shift_requant(kNaN, 1.0f, 1.0f, &m, &sh).code() == StatusCode::invalid_argument);
  CHECK(qk::pot_shift_requant(1.0f, 1.0f, kInf, &m, &sh).code() == StatusCode::invalid_argument);
  CHECK(qk::pot_shift_requant(1.0f, 1.0f, std::ldexp(1.0f, 33), &m, &sh).code() == StatusCode::invalid_argument);
  CHECK(qk::pot_shift_requant(1.0f, 1.0f, std::ldexp(1.0f, -30), &m, &sh).code() == StatusCode::invalid_argument);
  CHECK(qk::pot_shift_requant(1.0f, 1.0f, 1.0f, nullptr, &sh).code() == StatusCode::null_pointer);
}

TEST_CASE("calibration: per-channel mean +- k sigma equals per-tensor observers on each channel's slice") {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const std::size_t dims[3] = {3, 4, 5};  // channel axis 1: outer 3, inner 5
  qk::MeanKSigmaObserver pc;
  REQUIRE(pc.init_per_channel(qk::CalibConfig(), 4, 1).ok());
  qk::MeanKSigmaObserver pt[4];
  qk::MinMaxObserver whole_dims, whole_flat;
  REQUIRE(whole_dims.init(qk::CalibConfig()).ok());
  REQUIRE(whole_flat.init(qk::CalibConfig()).ok());
  for (auto& o : pt) REQUIRE(o.init(qk::CalibConfig()).ok());
  for (int b = 0; b < 3; ++b) {
    std::vector<float> x(60);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = nd(rng) * static_cast<float>(1 + (i / 5) % 4) + static_cast<float>(b);
    REQUIRE(pc.observe(x.data(), dims, 3).ok());
    REQUIRE(whole_dims.observe(x.data(), dims, 3).ok());  // per tensor: dims only give the count
    REQUIRE(whole_flat.observe(x.data(), x.size()).ok());
    for (std::size_t c = 0; c < 4; ++c) {
      std::vector<float> slice;
      for (std::size_t o = 0; o < 3; ++o)
        for (std::size_t i = 0; i < 5; ++i) slice.push_back(x[(o * 4 + c) * 5 + i]);
      REQUIRE(pt[c].observe(slice.data(), slice.size()).ok());
    }
  }
  for (std::size_t c = 0; c < 4; ++c) {
    INFO("channel " << c);
    double m1 = 0, s1 = 0, m2 = 0, s2 = 0;
    REQUIRE(pc.moments(c, &m1, &s1).ok());
    REQUIRE(pt[c].moments(0, &m2, &s2).ok());
    CHECK(m1 == Approx(m2).epsilon(1e-12));
    CHECK(s1 == Approx(s2).epsilon(1e-12));
    float lo1 = 0, hi1 = 0, lo2 = 0, hi2 = 0;
    REQUIRE(pc.range(c, &lo1, &hi1).ok());
    REQUIRE(pt[c].range(0, &lo2, &hi2).ok());
    CHECK(lo1 == Approx(lo2).epsilon(1e-6));
    CHECK(hi1 == Approx(hi2).epsilon(1e-6));
  }
  qk::QuantParams a, b;
  REQUIRE(whole_dims.params(&a, 1).ok());
  REQUIRE(whole_flat.params(&b, 1).ok());
  CHECK(to_bits(a.scale) == to_bits(b.scale));
  CHECK(a.zero_point == b.zero_point);
}
