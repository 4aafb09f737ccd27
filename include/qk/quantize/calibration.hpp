// qk/quantize/calibration.hpp - post-training calibration: observers that watch batches of float
// data and choose a scale and zero point for them.
//
// Observers (docs/calibration.md has the defaults, their sources and measured SQNR):
//   MinMaxObserver               running min / max                         (PyTorch MinMaxObserver,
//                                                                           PerChannelMinMaxObserver)
//   MovingAverageMinMaxObserver  min/max smoothed with constant c = 0.01   (PyTorch MovingAverage*)
//   MeanKSigmaObserver           mean +- k sigma, k = 3, inside [min, max]
//   HistogramObserver            2048-bin histogram, L2 search of the range (PyTorch HistogramObserver:
//                                the "MSE" observer)
//   PercentileObserver           2048-bin histogram of |x|, amax at the 99.99th percentile
//                                (NVIDIA pytorch-quantization)
//   EntropyObserver              2048-bin histogram of |x|, amax of minimum KL divergence
//                                (TensorRT's entropy calibration as pytorch-quantization writes it)
// The first three work per tensor or per channel (any axis of a row-major tensor); the histogram
// observers per tensor.
//
// Parameters follow PyTorch's UniformQuantizationObserverBase._calculate_qparams (1.13), in float32
// arithmetic, op for op, so that a qk observer gives PyTorch's scale bit for bit on the same data:
//   asymmetric: lo = min(rmin, 0), hi = max(rmax, 0)
//               scale = max((hi - lo) / (qmax - qmin), eps), zp = clamp(qmin - round_half_even(lo / scale))
//   symmetric:  scale = max(max(-lo, hi) / ((qmax - qmin) / 2), eps); zp = 0 for a signed range,
//               the midpoint for an unsigned one (PyTorch quint8: 128, or (qmin + qmax) / 2 for a
//               custom range). With a narrow range [-127, 127] this is amax / 127 (TFLite, TensorRT);
//               with the full range [-128, 127] it is PyTorch's amax / 127.5.
//   power_of_two (Xilinx DNNDK / Vitis AI style): scale rounded UP to 2^ceil(log2 scale), so the
//               calibrated range still fits, and zp recomputed with it; requantization is then a
//               shift (pot_shift_requant below).
// eps (PyTorch: torch.finfo(float32).eps) keeps the scale positive for a constant or all-zero
// tensor; zero is always exactly representable (zp is an integer in [qmin, qmax]).
//
// Contract: no exceptions, no RTTI. Every fallible call returns qk::Status; a failed observe()
// (null data, zero count, NaN or infinite element, shape mismatch) leaves the observer unchanged.
// Memory is allocated only by init*() (new (std::nothrow): out_of_memory on failure); observe()
// and params() never allocate. Observers are movable, not copyable, and not thread-safe.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <new>
#include <utility>

#include "qk/core/status.hpp"
#include "qk/fixed_point.hpp"
#include "qk/quantize.hpp"
#include "qk/quantize/params.hpp"

namespace qk {

// ------------------------------------------------------------------------------------------------
// Configuration
// ------------------------------------------------------------------------------------------------

// PyTorch's default eps: torch.finfo(torch.float32).eps = 2^-23.
constexpr float kCalibDefaultEps = 1.1920928955078125e-07f;

// Integer range and scheme the observers choose parameters for. Build it with
// make_calib_config (bits + signedness) or make_calib_config_range (PyTorch's quant_min /
// quant_max); the defaults are 8-bit signed asymmetric, [-128, 127].
struct CalibConfig {
  std::int32_t qmin = -128;
  std::int32_t qmax = 127;
  bool symmetric = false;
  // Explicit qmin/qmax (PyTorch's has_customized_qrange): only changes the zero point of a
  // symmetric unsigned range, (qmin + qmax) / 2 instead of 2^(bits-1), as PyTorch does.
  bool custom_range = false;
  bool power_of_two = false;
  float eps = kCalibDefaultEps;
};

// From a bit width (2..16) and signedness: [-2^(b-1), 2^(b-1)-1] ([-(2^(b-1)-1), ...] when
// narrow) or [0, 2^b - 1]; qk's quant_range gives the bounds. Errors: bad bit width, narrow
// unsigned, null output (invalid_argument / null_pointer).
inline Status make_calib_config(int bits, bool is_signed, bool symmetric, bool narrow_range, bool power_of_two,
                                CalibConfig* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "calibration: null config output");
  if (bits < 2 || bits > 16)
    return Status(StatusCode::invalid_argument, "calibration: bit width must be in [2, 16]", "bits", bits);
  CalibConfig c;
  const Status st = is_signed ? quant_range<std::int16_t>(bits, narrow_range, &c.qmin, &c.qmax)
                              : quant_range<std::uint16_t>(bits, narrow_range, &c.qmin, &c.qmax);
  if (!st.ok()) return st;
  c.symmetric = symmetric;
  c.power_of_two = power_of_two;
  *out = c;
  return Status::success();
}

inline Status validate_calib_config(const CalibConfig& c) noexcept {
  if (c.qmin >= c.qmax) return Status(StatusCode::invalid_argument, "calibration: qmin must be < qmax", "qmin", c.qmin);
  // PyTorch's _validate_qmin_qmax: the range must contain 0 (real zero must be representable).
  if (c.qmin > 0 || c.qmax < 0)
    return Status(StatusCode::invalid_argument, "calibration: [qmin, qmax] must contain 0", "qmin", c.qmin);
  // At most 16 bits: 65536 levels (and every level count exact in float).
  if (static_cast<std::int64_t>(c.qmax) - c.qmin > 65535)
    return Status(StatusCode::invalid_argument, "calibration: qmax - qmin must be at most 65535 (16 bits)", "qmax",
                  c.qmax);
  if (!(c.eps > 0.0f) || !std::isfinite(c.eps))
    return Status(StatusCode::invalid_argument, "calibration: eps must be positive and finite", "eps", c.eps);
  return Status::success();
}

// From PyTorch-style quant_min / quant_max (custom_range = true).
inline Status make_calib_config_range(std::int32_t qmin, std::int32_t qmax, bool symmetric, bool power_of_two,
                                      CalibConfig* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "calibration: null config output");
  CalibConfig c;
  c.qmin = qmin;
  c.qmax = qmax;
  c.symmetric = symmetric;
  c.custom_range = true;
  c.power_of_two = power_of_two;
  QK_RETURN_IF_ERROR(validate_calib_config(c));
  *out = c;
  return Status::success();
}

namespace detail {

// Rounds a float product to float before it is used in a sum. PyTorch evaluates each tensor op
// separately, so a*b+c is two roundings there; a compiler allowed to contract (GCC's default
// -ffp-contract=fast with FMA, e.g. on AArch64) would make it one and break bit equality.
inline float calib_round(float v) noexcept {
  volatile float t = v;
  return t;
}
inline double calib_round(double v) noexcept {
  volatile double t = v;
  return t;
}

// 2^ceil(log2 s) for a positive finite s (s itself when it is a power of two).
inline float pot_ceil(float s) noexcept {
  int e = 0;
  const float m = std::frexp(s, &e);  // s = m * 2^e, m in [0.5, 1)
  if (m == 0.5f) return s;
  return std::ldexp(1.0f, e);  // (m * 2^e rounded up to 2^e); e <= 128 only for s > FLT_MAX/2
}

inline std::int32_t calib_zero_point(float lo, float scale, const CalibConfig& c) noexcept {
  // zp = qmin - round_half_even(lo / scale), clamped. lo <= 0, so the quotient is <= 0; clamping
  // it in float first keeps the float -> int conversion defined for any scale.
  float q = lo / scale;
  const float limit = -131072.0f;
  if (!(q > limit)) q = limit;
  const std::int64_t z = static_cast<std::int64_t>(c.qmin) - static_cast<std::int64_t>(std::nearbyint(q));
  return static_cast<std::int32_t>(z < c.qmin ? c.qmin : (z > c.qmax ? c.qmax : z));
}

}  // namespace detail

// Scale and zero point for the real range [rmin, rmax] under `c` (PyTorch's _calculate_qparams,
// float32; see the top of this file). Errors: NaN/inf or rmin > rmax, a bad config, a scale that
// overflows float (a range near FLT_MAX), null output. *out untouched on error.
inline Status calib_params_from_range(float rmin, float rmax, const CalibConfig& c, QuantParams* out) noexcept {
  if (out == nullptr) return Status(StatusCode::null_pointer, "calibration: null params output");
  QK_RETURN_IF_ERROR(validate_calib_config(c));
  if (!std::isfinite(rmin)) return Status(StatusCode::invalid_argument, "calibration: rmin is NaN or infinite", "rmin", rmin);
  if (!std::isfinite(rmax)) return Status(StatusCode::invalid_argument, "calibration: rmax is NaN or infinite", "rmax", rmax);
  if (rmin > rmax) return Status(StatusCode::invalid_argument, "calibration: rmin > rmax", "rmin", rmin);
  const float lo = rmin < 0.0f ? rmin : 0.0f;
  const float hi = rmax > 0.0f ? rmax : 0.0f;
  QuantParams p;
  p.qmin = c.qmin;
  p.qmax = c.qmax;
  float scale = 0.0f;
  if (c.symmetric) {
    const float amax = -lo > hi ? -lo : hi;
    // PyTorch: max_val_pos / (float(quant_max - quant_min) / 2); the divisor is exact in float.
    const float half_range = static_cast<float>(static_cast<double>(c.qmax - c.qmin) / 2.0);
    scale = amax / half_range;
  } else {
    scale = (hi - lo) / static_cast<float>(c.qmax - c.qmin);
  }
  if (std::isinf(scale))
    return Status(StatusCode::invalid_argument, "calibration: range too large, the scale overflows float", "rmax", rmax);
  if (!(scale > c.eps)) scale = c.eps;  // torch.max(scale, eps)
  if (c.power_of_two) {
    scale = detail::pot_ceil(scale);
    if (std::isinf(scale))
      return Status(StatusCode::invalid_argument, "calibration: power-of-two scale overflows float", "rmax", rmax);
  }
  if (c.symmetric) {
    if (c.qmin < 0) p.zero_point = 0;
    else p.zero_point = c.custom_range ? (c.qmin + c.qmax) / 2 : (c.qmin + c.qmax + 1) / 2;  // PyTorch quint8: 128
  } else {
    p.zero_point = detail::calib_zero_point(lo, scale, c);
  }
  p.scale = scale;
  *out = p;
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// Shift-only requantization for power-of-two scales
// ------------------------------------------------------------------------------------------------

// With power-of-two input, weight and output scales the real multiplier s_in * s_w / s_out is
// 2^-r, and requantization is a right shift by r (a left shift by -r when r < 0). This gives the
// (multiplier, shift) of qk's fixed-point OutputStage that makes it exactly that shift:
// multiplier = 2^30 (0.5 in Q0.31) and shift = 1 - r under RequantRounding::single_rounding,
// whose value round(acc * 2^30 / 2^(31 - shift)) = (acc + 2^(r-1)) >> r (ties toward +inf,
// i.e. round half up) for r >= 1 and acc * 2^-r (saturated) for r <= 0.
// Use it with OutputStage::fixed_point_requant(..., RequantRounding::single_rounding); the
// kernels' SIMD epilogues run it through their single-rounding path (no special shift path).
// Errors (invalid_argument): a scale that is not a positive finite power of two, r outside
// [-29, 32] (shift outside [-31, 30]), null outputs.
inline Status pot_shift_requant(float input_scale, float weight_scale, float output_scale, std::int32_t* multiplier,
                                std::int32_t* shift, std::int32_t* right_shift = nullptr) noexcept {
  if (multiplier == nullptr || shift == nullptr) return Status(StatusCode::null_pointer, "pot_shift_requant: null output");
  const float scales[3] = {input_scale, weight_scale, output_scale};
  int exps[3] = {0, 0, 0};
  for (int i = 0; i < 3; ++i) {
    if (!(scales[i] > 0.0f) || !std::isfinite(scales[i]))
      return Status(StatusCode::invalid_argument, "pot_shift_requant: scale must be positive and finite", "scale", scales[i]);
    const float m = std::frexp(scales[i], &exps[i]);
    if (m != 0.5f)
      return Status(StatusCode::invalid_argument, "pot_shift_requant: scale is not a power of two", "scale", scales[i]);
  }
  // s = 2^(e-1) for frexp's e; r = log2(s_out) - log2(s_in) - log2(s_w).
  const long r = static_cast<long>(exps[2] - 1) - (exps[0] - 1) - (exps[1] - 1);
  if (r < -29 || r > 32)
    return Status(StatusCode::invalid_argument, "pot_shift_requant: shift outside [-29, 32] bits", "right_shift", r);
  *multiplier = std::int32_t{1} << 30;
  *shift = static_cast<std::int32_t>(1 - r);
  if (right_shift != nullptr) *right_shift = static_cast<std::int32_t>(r);
  return Status::success();
}

// ------------------------------------------------------------------------------------------------
// Min/max family (per tensor or per channel)
// ------------------------------------------------------------------------------------------------

namespace detail {

// Heap array allocated with new (std::nothrow); the observers' only allocation.
template <class T>
class CalibArray {
 public:
  bool reset(std::size_t n) noexcept {
    data_.reset();
    size_ = 0;
    if (n == 0) return true;
    if (n > (std::numeric_limits<std::size_t>::max() - 2 * sizeof(std::size_t)) / sizeof(T)) return false;
    data_.reset(new (std::nothrow) T[n]());
    if (data_ == nullptr) return false;
    size_ = n;
    return true;
  }
  T* data() noexcept { return data_.get(); }
  const T* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  std::unique_ptr<T[]> data_;
  std::size_t size_ = 0;
};

// Per-channel statistics of one batch.
struct BatchStats {
  float lo = 0.0f, hi = 0.0f;
  double count = 0.0, mean = 0.0, m2 = 0.0;  // for MeanKSigma (Chan et al.'s pairwise combination)
};

inline Status check_finite_batch(const float* x, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      return Status(StatusCode::invalid_argument, "calibration: NaN or infinite value in the data", "index", i);
  return Status::success();
}

// The state shared by the min/max-like observers: config, channel count, per-channel arrays.
class RangeObserverBase {
 public:
  std::size_t channels() const noexcept { return channels_; }
  int axis() const noexcept { return axis_; }
  bool initialized() const noexcept { return channels_ != 0; }
  bool observed() const noexcept { return observed_; }
  const CalibConfig& config() const noexcept { return config_; }
  void reset() noexcept { observed_ = false; }

 protected:
  Status init_base(const CalibConfig& c, std::size_t channels, int axis, bool stats) noexcept {
    QK_RETURN_IF_ERROR(validate_calib_config(c));
    if (channels == 0) return Status(StatusCode::invalid_argument, "calibration: channel count must be > 0", "channels", channels);
    if (!lo_.reset(channels) || !hi_.reset(channels) || !batch_.reset(channels) || (stats && !stat_.reset(channels))) {
      channels_ = 0;
      return Status(StatusCode::out_of_memory, "calibration: cannot allocate the per-channel state", "channels", channels);
    }
    config_ = c;
    channels_ = channels;
    axis_ = axis;
    per_channel_ = axis != kPerTensorAxis;
    observed_ = false;
    return Status::success();
  }

  static constexpr int kPerTensorAxis = std::numeric_limits<int>::min();

  // Validates a batch and fills batch_ (per channel lo/hi, and mean/m2 when `stats`). Nothing of
  // the observer's state changes here.
  Status reduce(const float* x, const std::size_t* dims, std::size_t ndim, std::size_t n, bool stats) noexcept {
    if (channels_ == 0) return Status(StatusCode::invalid_argument, "calibration: observer not initialized (call init)");
    AxisLayout l;
    if (dims != nullptr || ndim != 0) {
      if (!per_channel_) {
        QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, 0, &l));
        l.inner = l.total;
        l.outer = 1;
        l.channels = 1;
      } else {
        QK_RETURN_IF_ERROR(make_axis_layout(dims, ndim, axis_, &l));
        if (l.channels != channels_)
          return Status(StatusCode::bad_shape, "calibration: dims[axis] differs from the observer's channel count",
                        "dims[axis]", l.channels);
      }
    } else {
      if (per_channel_)
        return Status(StatusCode::bad_shape, "calibration: a per-channel observer needs the tensor's dims");
      l.outer = 1;
      l.channels = 1;
      l.inner = n;
      l.total = n;
    }
    if (l.total == 0) return Status(StatusCode::invalid_argument, "calibration: empty batch (zero elements)");
    if (x == nullptr) return Status(StatusCode::null_pointer, "calibration: null data");
    QK_RETURN_IF_ERROR(check_count(l.total));
    QK_RETURN_IF_ERROR(check_finite_batch(x, l.total));
    for (std::size_t c = 0; c < channels_; ++c) {
      batch_[c].lo = std::numeric_limits<float>::infinity();
      batch_[c].hi = -std::numeric_limits<float>::infinity();
      batch_[c].count = 0.0;
      batch_[c].mean = 0.0;
      batch_[c].m2 = 0.0;
    }
    for (std::size_t o = 0; o < l.outer; ++o)
      for (std::size_t c = 0; c < l.channels; ++c) {
        const float* row = x + (o * l.channels + c) * l.inner;
        BatchStats& b = batch_[c];
        for (std::size_t i = 0; i < l.inner; ++i) {
          b.lo = row[i] < b.lo ? row[i] : b.lo;
          b.hi = row[i] > b.hi ? row[i] : b.hi;
        }
        if (stats) {  // mean and M2 of this row in two passes, then merged (Chan et al.)
          double s = 0.0;
          for (std::size_t i = 0; i < l.inner; ++i) s += static_cast<double>(row[i]);
          const double nr = static_cast<double>(l.inner);
          const double mr = s / nr;
          double m2 = 0.0;
          for (std::size_t i = 0; i < l.inner; ++i) {
            const double d = static_cast<double>(row[i]) - mr;
            m2 += d * d;
          }
          merge_stats(&b.count, &b.mean, &b.m2, nr, mr, m2);
        }
      }
    return Status::success();
  }

  static void merge_stats(double* n, double* mean, double* m2, double nb, double mb, double m2b) noexcept {
    const double total = *n + nb;
    const double d = mb - *mean;
    *mean += d * (nb / total);
    *m2 += m2b + d * d * (*n * nb / total);
    *n = total;
  }

  Status params_from_ranges(QuantParams* out, std::size_t count) const noexcept {
    if (channels_ == 0) return Status(StatusCode::invalid_argument, "calibration: observer not initialized (call init)");
    if (out == nullptr) return Status(StatusCode::null_pointer, "calibration: null params output");
    if (count != channels_)
      return Status(StatusCode::invalid_argument, "calibration: params count must equal the channel count", "count", count);
    if (!observed_) return Status(StatusCode::invalid_argument, "calibration: no data observed yet");
    // Computed for all channels before any is written: on error nothing is.
    for (std::size_t c = 0; c < channels_; ++c) {
      QuantParams p;
      QK_RETURN_IF_ERROR(calib_params_from_range(lo_[c], hi_[c], config_, &p));
    }
    for (std::size_t c = 0; c < channels_; ++c) (void)calib_params_from_range(lo_[c], hi_[c], config_, &out[c]);
    return Status::success();
  }

  Status get_range(std::size_t channel, float* lo, float* hi) const noexcept {
    if (lo == nullptr || hi == nullptr) return Status(StatusCode::null_pointer, "calibration: null range output");
    if (channel >= channels_) return Status(StatusCode::invalid_argument, "calibration: channel out of range", "channel", channel);
    if (!observed_) return Status(StatusCode::invalid_argument, "calibration: no data observed yet");
    *lo = lo_[channel];
    *hi = hi_[channel];
    return Status::success();
  }

  CalibConfig config_;
  std::size_t channels_ = 0;
  int axis_ = kPerTensorAxis;
  bool per_channel_ = false;
  bool observed_ = false;
  CalibArray<float> lo_, hi_;
  CalibArray<BatchStats> batch_;
  CalibArray<BatchStats> stat_;
};

}  // namespace detail

// Shared public surface of the min/max family, written once (CRTP: Derived::commit updates the
// range from batch_ after a successful reduce).
template <class Derived, bool Stats>
class RangeObserver : public detail::RangeObserverBase {
 public:
  // Per tensor: one (scale, zero point).
  Status init(const CalibConfig& c) noexcept { return init_base(c, 1, kPerTensorAxis, Stats); }
  // Per channel: `channels` parameters along `axis` of the tensors passed to observe(x, dims, ndim)
  // (negative axis counts from the end, as in ONNX / PyTorch's ch_axis).
  Status init_per_channel(const CalibConfig& c, std::size_t channels, int axis) noexcept {
    if (axis == kPerTensorAxis) return Status(StatusCode::invalid_argument, "calibration: bad axis", "axis", axis);
    return init_base(c, channels, axis, Stats);
  }
  // A flat batch of n values (per-tensor observers only).
  Status observe(const float* x, std::size_t n) noexcept {
    QK_RETURN_IF_ERROR(reduce(x, nullptr, 0, n, Stats));
    static_cast<Derived*>(this)->commit();
    observed_ = true;
    return Status::success();
  }
  // A row-major tensor of shape dims[0..ndim) (per tensor: the whole tensor; per channel: reduced
  // over every axis but the observer's).
  Status observe(const float* x, const std::size_t* dims, std::size_t ndim) noexcept {
    if (dims == nullptr) return Status(StatusCode::null_pointer, "calibration: null dims");
    QK_RETURN_IF_ERROR(reduce(x, dims, ndim, 0, Stats));
    static_cast<Derived*>(this)->commit();
    observed_ = true;
    return Status::success();
  }
  // The calibrated range of one channel (0 for per tensor).
  Status range(std::size_t channel, float* lo, float* hi) const noexcept { return get_range(channel, lo, hi); }
  // count = channels() parameters.
  Status params(QuantParams* out, std::size_t count) const noexcept { return params_from_ranges(out, count); }
};

// Running min / max over every batch (PyTorch MinMaxObserver / PerChannelMinMaxObserver; TFLite's
// post-training calibration also takes the global min / max).
class MinMaxObserver : public RangeObserver<MinMaxObserver, false> {
 public:
  void commit() noexcept {
    for (std::size_t c = 0; c < channels_; ++c) {
      const detail::BatchStats& b = batch_[c];
      if (!observed_) {
        lo_[c] = b.lo;
        hi_[c] = b.hi;
      } else {
        lo_[c] = b.lo < lo_[c] ? b.lo : lo_[c];
        hi_[c] = b.hi > hi_[c] ? b.hi : hi_[c];
      }
    }
  }
};

// PyTorch's default averaging constant (MovingAverageMinMaxObserver, averaging_constant=0.01).
// TFLite's QAT moving average uses decay 0.999, i.e. a constant of 0.001.
constexpr float kCalibDefaultAveragingConstant = 0.01f;

// min <- min + c * (batch_min - min), the same for max; the first batch sets the range
// (PyTorch MovingAverageMinMaxObserver / MovingAveragePerChannelMinMaxObserver, float32).
class MovingAverageMinMaxObserver : public RangeObserver<MovingAverageMinMaxObserver, false> {
 public:
  // c in (0, 1]; 1 makes the observer follow the last batch only.
  Status set_averaging_constant(float c) noexcept {
    if (!(c > 0.0f && c <= 1.0f))
      return Status(StatusCode::invalid_argument, "calibration: averaging constant must be in (0, 1]", "c", c);
    c_ = c;
    return Status::success();
  }
  float averaging_constant() const noexcept { return c_; }
  void commit() noexcept {
    for (std::size_t c = 0; c < channels_; ++c) {
      const detail::BatchStats& b = batch_[c];
      if (!observed_) {
        lo_[c] = b.lo;
        hi_[c] = b.hi;
      } else {
        lo_[c] = lo_[c] + detail::calib_round(c_ * (b.lo - lo_[c]));
        hi_[c] = hi_[c] + detail::calib_round(c_ * (b.hi - hi_[c]));
      }
    }
  }

 private:
  float c_ = kCalibDefaultAveragingConstant;
};

// k = 3: the "three-sigma" range, which holds 99.73% of a Gaussian; our choice (no framework
// ships a mean +- k sigma observer as a default), documented in docs/calibration.md.
constexpr float kCalibDefaultSigmas = 3.0f;

// Range = [mean - k sigma, mean + k sigma] over all data observed so far (population sigma, in
// double, merged across batches), intersected with the observed [min, max] so that the range is
// never wider than the data. Per tensor or per channel.
class MeanKSigmaObserver : public RangeObserver<MeanKSigmaObserver, true> {
 public:
  Status set_k(float k) noexcept {
    if (!(k > 0.0f) || !std::isfinite(k)) return Status(StatusCode::invalid_argument, "calibration: k must be > 0", "k", k);
    k_ = k;
    if (observed_) update_ranges();
    return Status::success();
  }
  float k() const noexcept { return k_; }
  // Mean and sigma of a channel so far.
  Status moments(std::size_t channel, double* mean, double* sigma) const noexcept {
    if (mean == nullptr || sigma == nullptr) return Status(StatusCode::null_pointer, "calibration: null output");
    if (channel >= channels_) return Status(StatusCode::invalid_argument, "calibration: channel out of range", "channel", channel);
    if (!observed_) return Status(StatusCode::invalid_argument, "calibration: no data observed yet");
    *mean = stat_[channel].mean;
    *sigma = std::sqrt(stat_[channel].m2 / stat_[channel].count);
    return Status::success();
  }
  void commit() noexcept {
    for (std::size_t c = 0; c < channels_; ++c) {
      const detail::BatchStats& b = batch_[c];
      detail::BatchStats& s = stat_[c];
      if (!observed_) {
        s = b;
      } else {
        s.lo = b.lo < s.lo ? b.lo : s.lo;
        s.hi = b.hi > s.hi ? b.hi : s.hi;
        merge_stats(&s.count, &s.mean, &s.m2, b.count, b.mean, b.m2);
      }
    }
    update_ranges();
  }

 private:
  void update_ranges() noexcept {
    for (std::size_t c = 0; c < channels_; ++c) {
      const detail::BatchStats& s = stat_[c];
      const double sigma = std::sqrt(s.m2 / s.count);
      const double lo = s.mean - static_cast<double>(k_) * sigma;
      const double hi = s.mean + static_cast<double>(k_) * sigma;
      lo_[c] = lo > static_cast<double>(s.lo) ? static_cast<float>(lo) : s.lo;
      hi_[c] = hi < static_cast<double>(s.hi) ? static_cast<float>(hi) : s.hi;
      if (lo_[c] > hi_[c]) lo_[c] = hi_[c];  // (rounding, constant data)
    }
  }
  float k_ = kCalibDefaultSigmas;
};

// ------------------------------------------------------------------------------------------------
// Histogram family (per tensor)
// ------------------------------------------------------------------------------------------------

// 2048 bins: PyTorch HistogramObserver, TensorRT and pytorch-quantization all use 2048.
constexpr std::size_t kCalibDefaultBins = 2048;
// PyTorch HistogramObserver's upsample_rate: resolution of the grid on which the old histogram
// is re-binned when a batch widens the range.
constexpr std::int64_t kCalibUpsampleRate = 128;

namespace detail {

// torch.div(a, b, rounding_mode='floor') for float (ATen's div_floor): Python's floor division.
inline float torch_div_floor(float a, float b) noexcept {
  if (b == 0.0f) return a / b;
  const float mod = std::fmod(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  float floordiv = 0.0f;
  if (div != 0.0f) {
    floordiv = std::floor(div);
    if (div - floordiv > 0.5f) floordiv += 1.0f;
  } else {
    floordiv = std::copysign(0.0f, a / b);
  }
  return floordiv;
}

// A histogram with PyTorch HistogramObserver's update rule (1.13, observer.py, forward /
// _adjust_min_max / _combine_histograms), re-done in the same float32 / float64 arithmetic:
//   - first batch (or when min == max so far): range = [min x, max x], counts by torch.histc;
//   - later batches: the range grows to contain the batch, its width becoming an integer multiple
//     (downsample_rate) of the old width / 128 with only the max relaxed, the batch is counted
//     over the new range and the old histogram is spread over it (upsampled 128x, shifted by
//     start_idx, cumulated in double, downsampled, divided by 128).
// One deliberate difference: PyTorch 1.13 passes int(min), int(max) to histc (truncating the
// range, a bug fixed in later versions); we use the float range, as those versions do.
// `abs_mode` histograms |x| over [0, max |x|] (min pinned to 0), for the percentile and entropy
// observers, as pytorch-quantization's HistogramCalibrator does.
class CalibHistogram {
 public:
  Status init(std::size_t bins, bool abs_mode) noexcept {
    if (bins < 2 || bins > (std::size_t{1} << 24))
      return Status(StatusCode::invalid_argument, "calibration: bins must be in [2, 2^24]", "bins", bins);
    if (!hist_.reset(bins) || !scratch_.reset(bins)) {
      bins_ = 0;
      return Status(StatusCode::out_of_memory, "calibration: cannot allocate the histogram", "bins", bins);
    }
    bins_ = bins;
    abs_ = abs_mode;
    observed_ = false;
    return Status::success();
  }
  void reset() noexcept { observed_ = false; }
  bool observed() const noexcept { return observed_; }
  std::size_t bins() const noexcept { return bins_; }
  const float* counts() const noexcept { return hist_.data(); }
  float min() const noexcept { return min_; }
  float max() const noexcept { return max_; }
  float data_min() const noexcept { return data_min_; }
  float data_max() const noexcept { return data_max_; }

  Status observe(const float* x, std::size_t n) noexcept {
    if (bins_ == 0) return Status(StatusCode::invalid_argument, "calibration: observer not initialized (call init)");
    if (n == 0) return Status(StatusCode::invalid_argument, "calibration: empty batch (zero elements)");
    if (x == nullptr) return Status(StatusCode::null_pointer, "calibration: null data");
    QK_RETURN_IF_ERROR(check_count(n));
    QK_RETURN_IF_ERROR(check_finite_batch(x, n));
    float lo = x[0], hi = x[0], amax = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
      lo = x[i] < lo ? x[i] : lo;
      hi = x[i] > hi ? x[i] : hi;
    }
    amax = -lo > hi ? -lo : hi;
    const float bmin = abs_ ? 0.0f : lo;
    const float bmax = abs_ ? amax : hi;

    if (!observed_ || min_ == max_) {
      histc(x, n, bmin, bmax, hist_.data());
      min_ = bmin;
      max_ = bmax;
    } else {
      const float cmin = bmin < min_ ? bmin : min_;
      float cmax = bmax > max_ ? bmax : max_;
      // _adjust_min_max, float32 tensor arithmetic.
      const float nb = static_cast<float>(bins_);
      const float hist_bin_width = (max_ - min_) / (nb * static_cast<float>(kCalibUpsampleRate));
      const float grid = nb * hist_bin_width;
      const float ratio = (cmax - cmin) / grid;
      const float down_f = std::ceil(ratio);
      // A batch 2^24 times wider than the range so far (or an old range so narrow that its grid
      // underflows) would need a re-binning grid beyond float's exact integers: refused.
      if (!(down_f >= 1.0f) || !(down_f <= 16777216.0f))
        return Status(StatusCode::invalid_argument,
                      "calibration: batch range too wide relative to the histogram's range (re-binning factor above 2^24)",
                      "batch_max", bmax);
      const std::int64_t down = static_cast<std::int64_t>(down_f);
      const float e = calib_round(down_f * grid) - (cmax - cmin);
      cmax = cmax + e;
      const float start_f = std::nearbyint((min_ - cmin) / hist_bin_width);
      const std::int64_t start = static_cast<std::int64_t>(start_f);
      histc(x, n, cmin, cmax, scratch_.data());
      if (cmin == min_ && cmax == max_) {
        for (std::size_t b = 0; b < bins_; ++b) scratch_[b] += hist_[b];
      } else {
        combine(down, start);
      }
      std::swap(hist_, scratch_);
      min_ = cmin;
      max_ = cmax;
    }
    if (!observed_) {
      data_min_ = lo;
      data_max_ = hi;
    } else {
      data_min_ = lo < data_min_ ? lo : data_min_;
      data_max_ = hi > data_max_ ? hi : data_max_;
    }
    observed_ = true;
    return Status::success();
  }

 private:
  // torch.histc(x, bins, min=lo, max=hi) on CPU (ATen's linear-interpolation histogram):
  // bin = (int)((x - lo) * bins / (hi - lo)) in float, x == hi in the last bin, values outside
  // [lo, hi] dropped; lo == hi widens to [lo - 1, hi + 1] (in double, as ATen does).
  void histc(const float* x, std::size_t n, float lo, float hi, float* out) const noexcept {
    for (std::size_t b = 0; b < bins_; ++b) out[b] = 0.0f;
    float l = lo, h = hi;
    if (l == h) {
      l = static_cast<float>(static_cast<double>(lo) - 1.0);
      h = static_cast<float>(static_cast<double>(hi) + 1.0);
    }
    const float width = h - l;
    if (!(width > 0.0f) || std::isinf(width)) {  // |lo| so large that +-1 vanishes: all in the middle
      out[bins_ / 2] = static_cast<float>(n);
      return;
    }
    const float nb = static_cast<float>(bins_);
    const std::int64_t last = static_cast<std::int64_t>(bins_) - 1;
    for (std::size_t i = 0; i < n; ++i) {
      float v = x[i];
      if (abs_) v = std::fabs(v);
      if (v < l || v > h) continue;
      // The float quotient is <= bins unless (v - l) * bins overflows float (ranges beyond
      // FLT_MAX / bins); then the same quotient in double (PyTorch would convert inf to int64).
      const float q = (v - l) * nb / width;
      std::int64_t pos = q < nb ? static_cast<std::int64_t>(q)
                                : static_cast<std::int64_t>(static_cast<double>(v - l) * static_cast<double>(nb) /
                                                            static_cast<double>(width));
      if (pos > last) pos = last;
      out[pos] += 1.0f;
    }
  }

  // _combine_histograms without materialising the bins * downsample_rate grid: the running sum
  // visits the same non-zero grid cells in the same order (double accumulation, as torch.cumsum
  // with dtype=double), so every value is the same.
  void combine(std::int64_t down, std::int64_t start) noexcept {
    const std::int64_t nb = static_cast<std::int64_t>(bins_);
    const std::int64_t up = kCalibUpsampleRate;
    std::int64_t p = start;
    std::int64_t end = start + nb * up;
    if (end > nb * down) end = nb * down;
    double acc = 0.0, prev = 0.0;
    for (std::int64_t k = 0; k < nb; ++k) {
      const std::int64_t lim = (k + 1) * down;
      while (p < end && p < lim) {
        acc += static_cast<double>(hist_[static_cast<std::size_t>((p - start) / up)]);
        ++p;
      }
      // shifted_integral_histogram is a float32 tensor: the previous integral is rounded to float.
      const double shifted = k == 0 ? 0.0 : static_cast<double>(static_cast<float>(prev));
      const float interp = static_cast<float>((acc - shifted) / static_cast<double>(up));
      scratch_[static_cast<std::size_t>(k)] = scratch_[static_cast<std::size_t>(k)] + interp;
      prev = acc;
    }
  }

  CalibArray<float> hist_, scratch_;
  std::size_t bins_ = 0;
  bool abs_ = false;
  bool observed_ = false;
  float min_ = 0.0f, max_ = 0.0f;
  float data_min_ = 0.0f, data_max_ = 0.0f;
};

// Shared surface of the histogram observers.
template <class Derived, bool Abs>
class HistogramObserverBase {
 public:
  Status init(const CalibConfig& c, std::size_t bins = kCalibDefaultBins) noexcept {
    QK_RETURN_IF_ERROR(validate_calib_config(c));
    QK_RETURN_IF_ERROR(static_cast<Derived*>(this)->init_extra(c, bins));
    QK_RETURN_IF_ERROR(hist_.init(bins, Abs));
    config_ = c;
    return Status::success();
  }
  Status observe(const float* x, std::size_t n) noexcept { return hist_.observe(x, n); }
  void reset() noexcept { hist_.reset(); }
  const CalibConfig& config() const noexcept { return config_; }
  const CalibHistogram& histogram() const noexcept { return hist_; }
  // The calibrated range [lo, hi] (what params() turns into a scale and zero point).
  Status range(float* lo, float* hi) noexcept {
    if (lo == nullptr || hi == nullptr) return Status(StatusCode::null_pointer, "calibration: null range output");
    if (hist_.bins() == 0) return Status(StatusCode::invalid_argument, "calibration: observer not initialized (call init)");
    if (!hist_.observed()) return Status(StatusCode::invalid_argument, "calibration: no data observed yet");
    static_cast<Derived*>(this)->compute_range(lo, hi);
    return Status::success();
  }
  // Per tensor: count must be 1.
  Status params(QuantParams* out, std::size_t count = 1) noexcept {
    if (out == nullptr) return Status(StatusCode::null_pointer, "calibration: null params output");
    if (count != 1) return Status(StatusCode::invalid_argument, "calibration: histogram observers are per tensor (count 1)", "count", count);
    float lo = 0.0f, hi = 0.0f;
    QK_RETURN_IF_ERROR(range(&lo, &hi));
    return calib_params_from_range(lo, hi, config_, out);
  }

 protected:
  Status init_extra(const CalibConfig&, std::size_t) noexcept { return Status::success(); }
  // A threshold amax on |x| as a range: [-amax, amax] intersected with the observed [min, max].
  void amax_range(double amax, float* lo, float* hi) const noexcept {
    const float a = static_cast<float>(amax);
    *lo = -a > hist_.data_min() ? -a : hist_.data_min();
    *hi = a < hist_.data_max() ? a : hist_.data_max();
    if (*lo > *hi) *lo = *hi;
  }
  // Left edge of bin i of the |x| histogram: i * (max - min) / bins, in double (numpy's
  // linspace edges, as pytorch-quantization's calib_bin_edges).
  double edge(std::size_t i) const noexcept {
    const double w = (static_cast<double>(hist_.max()) - static_cast<double>(hist_.min())) / static_cast<double>(hist_.bins());
    return static_cast<double>(hist_.min()) + calib_round(static_cast<double>(i) * w);
  }

  CalibConfig config_;
  CalibHistogram hist_;
};

}  // namespace detail

// PyTorch HistogramObserver ("MSE" / L2 observer): the range is chosen by PyTorch's
// _non_linear_param_search (after caffe2's NormMinimization): from the full histogram, the
// lower or upper edge moves inward by quantiles of 1e-5 while the estimated L2 quantization
// error (each source bin uniform, dst bins = qmax - qmin + 1 levels; PyTorch uses 2^bits of its
// dtype, the same 256 for 8-bit ranges) keeps decreasing. Float32 element arithmetic as in
// PyTorch; the error sums are taken in double (PyTorch sums in float32 with its own order: only
// when two successive errors agree to float32 rounding can the decision differ).
class HistogramObserver : public detail::HistogramObserverBase<HistogramObserver, false> {
  friend class detail::HistogramObserverBase<HistogramObserver, false>;

 private:
  Status init_extra(const CalibConfig& c, std::size_t bins) noexcept {
    if (!csum_.reset(bins)) return Status(StatusCode::out_of_memory, "calibration: cannot allocate the histogram", "bins", bins);
    dst_bins_ = static_cast<std::int64_t>(c.qmax) - c.qmin + 1;
    return Status::success();
  }

  // _compute_quantization_error(next_start_bin, next_end_bin).
  double quantization_error(std::int64_t start_bin, std::int64_t end_bin) const noexcept {
    const std::size_t bins = hist_.bins();
    const double bin_width = (static_cast<double>(hist_.max()) - static_cast<double>(hist_.min())) / static_cast<double>(bins);
    const double dst_bin_width = bin_width * static_cast<double>(end_bin - start_bin + 1) / static_cast<double>(dst_bins_);
    if (dst_bin_width == 0.0) return 0.0;
    const float bw = static_cast<float>(bin_width);
    const float dbw = static_cast<float>(dst_bin_width);
    const float half = static_cast<float>(dst_bin_width / 2);
    const float neg_half = static_cast<float>(-dst_bin_width / 2);
    const float dst_max = static_cast<float>(dst_bins_ - 1);
    const float* h = hist_.counts();
    double total = 0.0;
    for (std::size_t j = 0; j < bins; ++j) {
      const float begin = detail::calib_round(static_cast<float>(static_cast<std::int64_t>(j) - start_bin) * bw);
      const float end = begin + bw;
      float dbegin = detail::torch_div_floor(begin, dbw);
      dbegin = dbegin < 0.0f ? 0.0f : (dbegin > dst_max ? dst_max : dbegin);
      const float dbegin_center = detail::calib_round((dbegin + 0.5f) * dbw);
      float dend = detail::torch_div_floor(end, dbw);
      dend = dend < 0.0f ? 0.0f : (dend > dst_max ? dst_max : dend);
      const float density = h[j] / bw;
      float norm = 0.0f;
      norm += get_norm(begin - dbegin_center, half, density);
      norm += detail::calib_round((dend - dbegin - 1.0f) * get_norm(neg_half, half, density));
      const float dend_center = detail::calib_round(dend * dbw) + half;
      norm += get_norm(neg_half, end - dend_center, density);
      total += static_cast<double>(norm);
    }
    return static_cast<double>(static_cast<float>(total));
  }

  static float get_norm(float db, float de, float density) noexcept {
    const float n = (detail::calib_round(detail::calib_round(de * de) * de) - detail::calib_round(detail::calib_round(db * db) * db)) / 3.0f;
    return detail::calib_round(density * n);
  }

  void compute_range(float* lo, float* hi) noexcept {
    const std::size_t bins = hist_.bins();
    const float mn = hist_.min(), mx = hist_.max();
    if (mn == mx) {  // constant data: bin_width 0, the search ends where it starts
      *lo = mn;
      *hi = mx;
      return;
    }
    const float* h = hist_.counts();
    double run = 0.0;
    for (std::size_t i = 0; i < bins; ++i) {  // torch.cumsum(float32): double accumulator, float results
      run += static_cast<double>(h[i]);
      csum_[i] = static_cast<float>(run);
    }
    const double total = static_cast<double>(static_cast<float>(run));
    const double stepsize = 1e-5;
    double alpha = 0.0, beta = 1.0;
    std::int64_t start_bin = 0, end_bin = static_cast<std::int64_t>(bins) - 1;
    double norm_min = std::numeric_limits<double>::infinity();
    while (alpha < beta) {
      const double next_alpha = alpha + stepsize;
      const double next_beta = beta - stepsize;
      std::int64_t l = start_bin, r = end_bin;
      // cSum[l] < next_alpha * total: a float32 tensor against a Python float compares in float32.
      const float lo_bound = static_cast<float>(next_alpha * total);
      const float hi_bound = static_cast<float>(next_beta * total);
      while (l < end_bin && csum_[static_cast<std::size_t>(l)] < lo_bound) ++l;
      while (r > start_bin && csum_[static_cast<std::size_t>(r)] > hi_bound) --r;
      std::int64_t next_start = start_bin, next_end = end_bin;
      if ((l - start_bin) > (end_bin - r)) {
        next_start = l;
        alpha = next_alpha;
      } else {
        next_end = r;
        beta = next_beta;
      }
      if (next_start == start_bin && next_end == end_bin) continue;
      const double norm = quantization_error(next_start, next_end);
      if (norm > norm_min) break;
      norm_min = norm;
      start_bin = next_start;
      end_bin = next_end;
    }
    const float bin_width = (mx - mn) / static_cast<float>(bins);
    *lo = mn + detail::calib_round(bin_width * static_cast<float>(start_bin));
    *hi = mn + detail::calib_round(bin_width * static_cast<float>(end_bin + 1));
  }

  detail::CalibArray<float> csum_;
  std::int64_t dst_bins_ = 256;
};

// pytorch-quantization's default percentile (HistogramCalibrator.compute_amax(method="percentile")
// in its examples and quant_modules' docs: 99.99). ORT's Percentile calibrator uses 99.999.
constexpr double kCalibDefaultPercentile = 99.99;

// Percentile of |x| (pytorch-quantization _compute_amax_percentile): cdf = cumsum(hist / total)
// in float64, idx = first bin with cdf >= percentile / 100 (numpy searchsorted, left), amax =
// left edge of bin idx. The range is then [-amax, amax] inside the observed [min, max].
class PercentileObserver : public detail::HistogramObserverBase<PercentileObserver, true> {
  friend class detail::HistogramObserverBase<PercentileObserver, true>;

 public:
  Status set_percentile(double p) noexcept {
    if (!(p > 0.0 && p <= 100.0))
      return Status(StatusCode::invalid_argument, "calibration: percentile must be in (0, 100]", "percentile", p);
    percentile_ = p;
    return Status::success();
  }
  double percentile() const noexcept { return percentile_; }

 private:
  void compute_range(float* lo, float* hi) noexcept {
    const std::size_t bins = hist_.bins();
    const float* h = hist_.counts();
    double total = 0.0;
    for (std::size_t i = 0; i < bins; ++i) total += static_cast<double>(h[i]);
    const double target = percentile_ / 100.0;
    double cdf = 0.0;
    std::size_t idx = bins;
    for (std::size_t i = 0; i < bins; ++i) {
      cdf += static_cast<double>(h[i]) / total;
      if (cdf >= target) {
        idx = i;
        break;
      }
    }
    amax_range(edge(idx), lo, hi);
  }
  double percentile_ = kCalibDefaultPercentile;
};

// TensorRT's entropy calibration (IInt8EntropyCalibrator2) as NVIDIA's pytorch-quantization
// implements it (_compute_amax_entropy), on the 2048-bin histogram of |x|:
//   bins[0] = bins[1] (the zero bin, inflated by ReLU zeros, is replaced by its neighbour);
//   for every candidate threshold i = 128 .. bins (start_bin 128, stride 1):
//     P = bins[0:i] with every count beyond i added to P[i-1] (outliers folded into the last bin);
//     Q = bins[0:i] merged into `levels` groups (source bin j -> group floor(j * levels / i)),
//         each group's total spread evenly over its NON-EMPTY source bins, empty bins stay 0;
//     KL(P || Q) after normalising both (scipy.stats.entropy: infinite if P > 0 where Q = 0);
//   amax = left edge of bin i* for the last i* of minimum KL.
// levels = 2^(bits - 1) with bits = ceil(log2(qmax - qmin + 1)): 128 for 8 bits ("128 quantized
// levels", sign folded out), 8 for 4 bits.
class EntropyObserver : public detail::HistogramObserverBase<EntropyObserver, true> {
  friend class detail::HistogramObserverBase<EntropyObserver, true>;

 public:
  // The first candidate threshold bin (TensorRT / pytorch-quantization: 128).
  Status set_start_bin(std::size_t b) noexcept {
    if (b < 1) return Status(StatusCode::invalid_argument, "calibration: start bin must be >= 1", "start_bin", b);
    start_bin_ = b;
    return Status::success();
  }
  std::size_t levels() const noexcept { return levels_; }

 private:
  Status init_extra(const CalibConfig& c, std::size_t bins) noexcept {
    if (!work_.reset(bins) || !groups_.reset(bins) || !nonzero_.reset(bins))
      return Status(StatusCode::out_of_memory, "calibration: cannot allocate the entropy workspace", "bins", bins);
    const std::int64_t range = static_cast<std::int64_t>(c.qmax) - c.qmin + 1;
    int bits = 0;
    while ((std::int64_t{1} << bits) < range) ++bits;
    levels_ = std::size_t{1} << (bits - 1);
    return Status::success();
  }

  void compute_range(float* lo, float* hi) noexcept {
    const std::size_t bins = hist_.bins();
    const float* h = hist_.counts();
    double* b = work_.data();
    for (std::size_t i = 0; i < bins; ++i) b[i] = static_cast<double>(h[i]);
    b[0] = b[1];
    const std::size_t levels = levels_;
    const std::size_t first = start_bin_ < bins ? start_bin_ : bins;
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_i = first;
    bool any = false;
    // O(bins^2) in all (about 4M steps for 2048 bins), only when params() is asked for.
    for (std::size_t i = first; i <= bins; ++i) {
      double outliers = 0.0;
      for (std::size_t j = i; j < bins; ++j) outliers += b[j];
      for (std::size_t g = 0; g < levels; ++g) {
        groups_[g] = 0.0;
        nonzero_[g] = 0;
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (b[j] == 0.0) continue;
        const std::size_t g = j * levels / i;
        groups_[g] += b[j];
        nonzero_[g] += 1;
      }
      double sum_p = 0.0, sum_q = 0.0;
      for (std::size_t j = 0; j < i; ++j) {
        sum_p += b[j];
        if (b[j] != 0.0) {
          const std::size_t g = j * levels / i;
          sum_q += groups_[g] / static_cast<double>(nonzero_[g]);
        }
      }
      sum_p += outliers;
      double kl = 0.0;
      if (sum_p > 0.0 && sum_q > 0.0) {
        for (std::size_t j = 0; j < i; ++j) {
          double p = b[j];
          if (j + 1 == i) p += outliers;
          if (p == 0.0) continue;
          double q = 0.0;
          if (b[j] != 0.0) {
            const std::size_t g = j * levels / i;
            q = groups_[g] / static_cast<double>(nonzero_[g]);
          }
          if (q == 0.0) {
            kl = std::numeric_limits<double>::infinity();
            break;
          }
          const double pn = p / sum_p, qn = q / sum_q;
          kl += pn * std::log(pn / qn);
        }
      } else {
        kl = std::numeric_limits<double>::infinity();
      }
      if (!any || kl <= best) {  // <=: the LAST minimum, as pytorch-quantization's reversed argmin
        best = kl;
        best_i = i;
        any = true;
      }
    }
    amax_range(edge(best_i), lo, hi);
  }

  detail::CalibArray<double> work_, groups_;
  detail::CalibArray<std::size_t> nonzero_;
  std::size_t levels_ = 128;
  std::size_t start_bin_ = 128;
};

}  // namespace qk
