// tests/fuzz/fuzz_stage.hpp - output stages decoded from fuzz input: valid ones (differential
// targets) and adversarial ones (validation targets), with storage for their parameters.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "qk/core/output_stage.hpp"

namespace qk_fuzz {

struct StageData {
  std::vector<std::int32_t> multiplier, shift;
  std::vector<float> scale;
  qk::OutputStage stage;
};

// A stage qk must accept for `channels` output columns: every kind, type, rounding, per-channel
// or not, shifts over [-31, 30], multipliers over [0, 2^31), scales from FLT_MIN to huge.
inline void valid_stage(Reader& in, std::size_t channels, StageData* s) {
  const std::size_t count = in.flag() ? channels : 1;
  const bool per_channel = count == channels && channels != 1 ? true : (count == channels && in.flag());
  const int kind = in.u8() % 4;
  const qk::OutputType type = in.flag() ? qk::OutputType::s8 : qk::OutputType::u8;
  const std::int32_t lo = qk::detail::type_min(type), hi = qk::detail::type_max(type);
  std::int32_t qmin = in.irange(lo, hi), qmax = in.irange(lo, hi);
  if (in.u8() < 128) qmin = lo, qmax = hi;
  if (qmin > qmax) std::swap(qmin, qmax);
  const std::int32_t zp = in.irange(lo, hi);
  s->multiplier.assign(count, 0);
  s->shift.assign(count, 0);
  s->scale.assign(count, 0.0f);
  const auto rounding = in.flag() ? qk::RequantRounding::single_rounding : qk::RequantRounding::double_rounding;
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint8_t sel = in.u8();
    std::int32_t m = sel < 200 ? in.irange(1 << 30, std::numeric_limits<std::int32_t>::max()) : in.int32(0, 1 << 30);
    if (m < 0) m = m == std::numeric_limits<std::int32_t>::min() ? 0 : -m;  // multipliers are Q0.31 in [0, 2^31)
    s->multiplier[i] = m;
    s->shift[i] = in.u8() < 200 ? in.irange(-12, 2) : in.irange(qk::kMinRequantShift, qk::kMaxRequantShift);
    float sc = in.scale();
    // Finite, positive and normal (a subnormal requantization scale is refused).
    if (!(sc >= std::numeric_limits<float>::min()) || !std::isfinite(sc)) sc = std::ldexp(1.0f, -static_cast<int>(in.u8() % 120));
    s->scale[i] = sc;
  }
  if (kind == 0) s->stage = qk::OutputStage::int32();
  if (kind == 1)
    s->stage = qk::OutputStage::fixed_point_requant(type, s->multiplier.data(), s->shift.data(), per_channel, zp, qmin,
                                                    qmax, rounding);
  if (kind == 2) s->stage = qk::OutputStage::float_requant(type, s->scale.data(), per_channel, zp, qmin, qmax);
  if (kind == 3) s->stage = qk::OutputStage::dequantize(s->scale.data(), per_channel);
}

// Any stage: raw enum values, out-of-range zero points and clamps, shifts and multipliers of any
// value, NaN / infinite / zero / negative / denormal scales, null parameter arrays. Its arrays
// hold `channels` values (what a per-channel stage may read), or one.
inline void any_stage(Reader& in, std::size_t channels, StageData* s) {
  if (in.u8() < 100) {
    valid_stage(in, channels, s);
    return;
  }
  qk::OutputStage& o = s->stage;
  o = qk::OutputStage();
  o.kind = in.any_enum<qk::OutputStage::Kind>(4);
  o.type = in.any_enum<qk::OutputType>(4);
  o.per_channel = in.flag();
  o.rounding = in.any_enum<qk::RequantRounding>(2);
  o.zero_point = in.int32(-130, 260);
  o.qmin = in.int32(-130, 260);
  o.qmax = in.int32(-130, 260);
  const std::size_t count = o.per_channel ? channels : 1;
  s->multiplier.assign(count == 0 ? 1 : count, 0);
  s->shift.assign(count == 0 ? 1 : count, 0);
  s->scale.assign(count == 0 ? 1 : count, 0.0f);
  for (std::size_t i = 0; i < count; ++i) {
    s->multiplier[i] = in.int32(0, std::numeric_limits<std::int32_t>::max());
    s->shift[i] = in.int32(-40, 40);
    s->scale[i] = in.scale();
  }
  const std::uint8_t nulls = in.u8();
  o.multiplier = (nulls & 1) ? nullptr : s->multiplier.data();
  o.shift = (nulls & 2) ? nullptr : s->shift.data();
  o.scale = (nulls & 4) ? nullptr : s->scale.data();
}

// True if qk's enums in `o` name real values (the differential checks compare only those).
inline bool stage_enums_in_range(const qk::OutputStage& o) {
  const int k = static_cast<int>(o.kind), t = static_cast<int>(o.type), r = static_cast<int>(o.rounding);
  return k >= 0 && k < 4 && t >= 0 && t < 4 && r >= 0 && r < 2;
}

}  // namespace qk_fuzz
