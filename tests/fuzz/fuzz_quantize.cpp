// fuzz_quantize: validation of the quantization entry points with adversarial arguments, for
// every storage type (int8, uint8, int16, uint16, int4, uint4; int32 for dequantization):
// quant_range and choose_quant_params (any range incl. NaN / infinities / denormals, any bit
// width, raw scheme values), quantize / dequantize per tensor, per axis and blocked (any rank,
// dims up to SIZE_MAX, any axis, any block size and scale count; NaN / infinite / zero /
// negative / denormal scales; zero points outside their range; raw rounding values),
// dynamic_quantize_linear, storage_bytes and int4 packing.
//
// Checked: no crash, no sanitizer report; calls this file's model says must fail (an element
// count whose float bytes overflow size_t, a bad scale, a zero point outside the range, null
// data) fail; failing calls write nothing (canaries); parameters chosen for a range are usable
// (finite positive scale, zero point in [qmin, qmax]); the SIMD loop equals the scalar
// definition bit for bit (Isa::scalar forced); quantized values lie in [qmin, qmax].
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "qk/quantize.hpp"

namespace {

using namespace qk_fuzz;

constexpr std::size_t kMaxElems = 4096;  // real runs: small, the loops are the same at any size

template <class T>
using S = qk::storage_t<T>;

bool scale_ok(float s) { return std::isfinite(s) && s > 0.0f; }

template <class T>
void fuzz_params(Reader& in) {
  using Tr = qk::storage_traits<T>;
  const int bits = in.u8() < 200 ? static_cast<int>(in.range(0, 17)) : in.int32(-4, 40);
  const bool narrow = in.flag();
  std::int32_t qmin = 12345, qmax = 12345;
  const qk::Status rs = qk::quant_range<T>(bits, narrow, &qmin, &qmax);
  const int b = bits == 0 ? Tr::bits : bits;
  const bool range_ok = b >= 2 && b <= 16 && b <= Tr::bits && (!narrow || Tr::is_signed);
  QK_FUZZ_CHECK(rs.ok() == range_ok);
  if (!rs.ok()) QK_FUZZ_CHECK(qmin == 12345 && qmax == 12345);
  else QK_FUZZ_CHECK(qmin < qmax && qmin >= Tr::lowest && qmax <= Tr::highest);

  const float rmin = in.real(), rmax = in.real();
  const auto scheme = in.any_enum<qk::QuantScheme>(3);
  qk::QuantParams p;
  p.scale = -7.0f, p.zero_point = 777, p.qmin = 777, p.qmax = 777;
  const qk::Status st = qk::choose_quant_params<T>(rmin, rmax, scheme, bits, &p);
  const bool scheme_ok = scheme == qk::QuantScheme::asymmetric || Tr::is_signed;
  const bool bits_ok = b >= 2 && b <= 16 && b <= Tr::bits;
  if (std::isnan(rmin) || std::isnan(rmax) || std::isinf(rmin) || std::isinf(rmax) || rmin > rmax || !bits_ok || !scheme_ok)
    QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) {
    QK_FUZZ_CHECK(p.scale == -7.0f && p.zero_point == 777 && p.qmin == 777 && p.qmax == 777);
    return;
  }
  QK_FUZZ_CHECK(scale_ok(p.scale) && p.qmin < p.qmax && p.zero_point >= p.qmin && p.zero_point <= p.qmax);
  QK_FUZZ_CHECK(p.qmin >= Tr::lowest && p.qmax <= Tr::highest);
  if (scheme != qk::QuantScheme::asymmetric) QK_FUZZ_CHECK(p.zero_point == 0);
  // The parameters quantize: one element through them.
  const float x[2] = {rmin, rmax};
  S<T> y[2] = {};
  QK_FUZZ_CHECK(qk::quantize<T>(x, 2, p, y).ok());
}

template <class T>
std::int32_t value_at(const S<T>* q, std::size_t i) {
  if constexpr (qk::storage_traits<T>::packed) {
    const std::uint32_t nib = (i & 1u) != 0 ? q[i / 2] >> 4 : q[i / 2] & 0x0Fu;
    return qk::storage_traits<T>::is_signed ? static_cast<std::int32_t>(nib ^ 8u) - 8 : static_cast<std::int32_t>(nib);
  } else {
    return static_cast<std::int32_t>(q[i]);
  }
}

// Storage bytes of n elements of T, or false if they do not fit.
template <class T>
bool bytes_of(std::size_t n, std::size_t* bytes) {
  if constexpr (qk::storage_traits<T>::packed) {
    *bytes = n / 2 + n % 2;
    return true;
  } else {
    return mul(n, sizeof(S<T>), bytes);
  }
}

// Per tensor, per axis and blocked quantize / dequantize with one shape.
template <class T>
void fuzz_tensor(Reader& in) {
  constexpr bool quantizable = qk::storage_traits<T>::quantizable;
  const std::uint8_t form = in.u8() % 3;  // per tensor, per axis, blocked
  std::size_t dims[6] = {};
  const std::size_t ndim = in.u8() < 240 ? in.range(1, 4) : in.range(0, 6);
  for (std::size_t i = 0; i < ndim; ++i) dims[i] = in.size(i == 0 ? 40 : 6);
  const int axis = in.u8() < 230 ? in.irange(-static_cast<std::int32_t>(ndim), static_cast<std::int32_t>(ndim) - 1) : in.int32(-8, 8);
  const std::size_t block = in.u8() < 220 ? in.range(1, 8) : in.size(8);
  const bool null_dims = in.u8() < 4;
  // The model: element count, channel count along the axis and the scale count qk expects.
  std::size_t n = 1, channels = 1, expected_scales = 1, outer = 1, inner = 1;
  bool count_ok = true;
  const long long a = axis < 0 ? axis + static_cast<long long>(ndim) : axis;
  const bool axis_ok = ndim > 0 && a >= 0 && a < static_cast<long long>(ndim);
  // (A zero dimension makes every product it is part of 0, whatever the other dimensions.)
  bool zero = false, zero_outer = false, zero_inner = false;
  for (std::size_t i = 0; i < ndim; ++i) {
    zero = zero || dims[i] == 0;
    if (axis_ok && static_cast<long long>(i) < a) zero_outer = zero_outer || dims[i] == 0;
    if (axis_ok && static_cast<long long>(i) > a) zero_inner = zero_inner || dims[i] == 0;
  }
  for (std::size_t i = 0; i < ndim; ++i) {
    if (!zero) count_ok = count_ok && mul(n, dims[i], &n);
    if (axis_ok && static_cast<long long>(i) < a && !zero_outer) count_ok = count_ok && mul(outer, dims[i], &outer);
    if (axis_ok && static_cast<long long>(i) > a && !zero_inner) count_ok = count_ok && mul(inner, dims[i], &inner);
  }
  if (zero) n = 0;
  if (zero_outer) outer = 0;
  if (zero_inner) inner = 0;
  std::size_t float_bytes = 0;
  count_ok = count_ok && mul(n, sizeof(float), &float_bytes);
  if (axis_ok) channels = dims[a];
  if (form == 0) {
    n = ndim > 0 ? n : in.size(64);  // rank 0: a plain count
    count_ok = mul(n, sizeof(float), &float_bytes);
  }
  if (form == 2 && axis_ok && block > 0) {
    const std::size_t blocks = static_cast<std::size_t>((static_cast<unsigned __int128>(channels) + block - 1) / block);
    count_ok = count_ok && mul3(outer, blocks, inner, &expected_scales);
  }
  if (form == 1) expected_scales = channels;
  std::size_t scale_count = in.u8() < 220 ? expected_scales : in.size(8);
  const bool layout_ok = count_ok && (form == 0 || (axis_ok && !null_dims)) && (form != 2 || block > 0);
  const bool scales_fit = scale_count <= kMaxElems;
  const bool real = layout_ok && n <= kMaxElems && scales_fit;

  const std::uint8_t nulls = in.u8();  // x, y, scales, zero points
  std::vector<float> x(real ? (n == 0 ? 1 : n) : 16), scales(scales_fit && scale_count > 0 ? scale_count : 1);
  for (auto& v : x) v = in.real();
  bool scales_valid = true;
  for (auto& s : scales) s = in.scale();
  for (std::size_t i = 0; i < scale_count && i < scales.size(); ++i) scales_valid = scales_valid && scale_ok(scales[i]);
  std::vector<std::int32_t> zps(scales.size());
  for (auto& z : zps) z = in.u8() < 230 ? in.irange(qk::storage_traits<T>::lowest, qk::storage_traits<T>::highest) : in.int32(-70000, 70000);
  if (!quantizable) std::fill(zps.begin(), zps.end(), in.u8() < 250 ? 0 : 1);
  if (!scales_fit && !(form == 0)) scale_count = expected_scales + 1;  // never claim more scales than exist unless refused
  qk::QuantizeOptions opt;
  opt.rounding = in.any_enum<qk::Rounding>(2);
  opt.bits = in.u8() < 220 ? 0 : in.int32(-2, 20);
  opt.narrow_range = in.u8() < 40;

  // A call must fail (by the model) when the layout is invalid, the scale count differs, a
  // pointer is null with elements, or a scale is invalid.
  const bool scale_count_ok = form == 0 || scale_count == expected_scales;
  const bool must_fail = !layout_ok || !scale_count_ok || (n > 0 && (nulls & 3) != 0) ||
                         (form == 0 ? !scale_ok(scales[0]) : (!scales_valid || ((nulls & 4) != 0 && scale_count > 0)));
  if (!must_fail && !real) return;
  // scales / zero point arrays hold scale_count values here, or the call is refused before
  // they are read (scale_count differs from the model's count).
  if (!scales_fit && scale_count_ok && form != 0) return;
  const float* sp = (nulls & 4) != 0 ? nullptr : scales.data();
  const std::int32_t* zp = (nulls & 8) != 0 ? nullptr : zps.data();
  const std::size_t* dp = null_dims ? nullptr : dims;

  std::size_t qbytes = 0;
  QK_FUZZ_CHECK(bytes_of<T>(real ? n : 0, &qbytes));
  if constexpr (quantizable) {
    Canary y(real ? qbytes : 16);
    auto* yp = (nulls & 2) != 0 ? nullptr : reinterpret_cast<S<T>*>(y.data());
    const float* xp = (nulls & 1) != 0 ? nullptr : x.data();
    qk::Status st;
    if (form == 0) st = qk::quantize<T>(xp, n, scales[0], zps[0], yp, opt);
    else if (form == 1) st = qk::quantize_per_axis<T>(xp, dp, ndim, axis, sp, zp, scale_count, yp, opt);
    else st = qk::quantize_blocked<T>(xp, dp, ndim, axis, block, sp, zp, scale_count, yp, opt);
    if (must_fail) QK_FUZZ_CHECK(!st.ok());
    if (!st.ok()) {
      QK_FUZZ_CHECK(y.unchanged());
    } else if (n > 0) {
      QK_FUZZ_CHECK(y.unchanged(qbytes));
      std::int32_t qmin = 0, qmax = 0;
      QK_FUZZ_CHECK(qk::quant_range<T>(opt.bits, opt.narrow_range, &qmin, &qmax).ok());
      for (std::size_t i = 0; i < n; ++i) QK_FUZZ_CHECK(value_at<T>(reinterpret_cast<S<T>*>(y.data()), i) >= qmin &&
                                                        value_at<T>(reinterpret_cast<S<T>*>(y.data()), i) <= qmax);
      // The SIMD loop against the scalar definition.
      if (qk::active_isa() != qk::Isa::scalar) {
        Canary y2(qbytes);
        {
          ForcedIsa scalar(qk::Isa::scalar);
          auto* y2p = reinterpret_cast<S<T>*>(y2.data());
          if (form == 0) st = qk::quantize<T>(xp, n, scales[0], zps[0], y2p, opt);
          else if (form == 1) st = qk::quantize_per_axis<T>(xp, dp, ndim, axis, sp, zp, scale_count, y2p, opt);
          else st = qk::quantize_blocked<T>(xp, dp, ndim, axis, block, sp, zp, scale_count, y2p, opt);
        }
        QK_FUZZ_CHECK(st.ok() && std::memcmp(y.data(), y2.data(), qbytes) == 0);
      }
    }
  }
  // Dequantize the same shape from fuzzed integers.
  std::vector<std::uint8_t> q(real ? qbytes + 1 : 16);
  for (auto& v : q) v = in.u8();
  const auto* qp = (nulls & 1) != 0 ? nullptr : reinterpret_cast<const S<T>*>(q.data());
  Canary y(real ? n * sizeof(float) : 16);
  auto* yp = (nulls & 2) != 0 ? nullptr : reinterpret_cast<float*>(y.data());
  qk::Status st;
  if (form == 0) st = qk::dequantize<T>(qp, n, scales[0], zps[0], yp);
  else if (form == 1) st = qk::dequantize_per_axis<T>(qp, dp, ndim, axis, sp, zp, scale_count, yp);
  else st = qk::dequantize_blocked<T>(qp, dp, ndim, axis, block, sp, zp, scale_count, yp);
  if (must_fail && st.ok())
    std::fprintf(stderr, "dequantize bits %d form %d ndim %zu dims %zu %zu %zu %zu axis %d block %zu scales %zu (%zu) n %zu nulls %d scale0 %g\n",
                 qk::storage_traits<T>::bits, form, ndim, dims[0], dims[1], dims[2], dims[3], axis, block, scale_count,
                 expected_scales, n, nulls, static_cast<double>(scales[0]));
  if (must_fail) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) {
    QK_FUZZ_CHECK(y.unchanged());
    return;
  }
  if (n == 0) return;
  QK_FUZZ_CHECK(y.unchanged(n * sizeof(float)));
  if (qk::active_isa() != qk::Isa::scalar) {
    Canary y2(n * sizeof(float));
    {
      ForcedIsa scalar(qk::Isa::scalar);
      auto* y2p = reinterpret_cast<float*>(y2.data());
      if (form == 0) st = qk::dequantize<T>(qp, n, scales[0], zps[0], y2p);
      else if (form == 1) st = qk::dequantize_per_axis<T>(qp, dp, ndim, axis, sp, zp, scale_count, y2p);
      else st = qk::dequantize_blocked<T>(qp, dp, ndim, axis, block, sp, zp, scale_count, y2p);
    }
    QK_FUZZ_CHECK(st.ok() && std::memcmp(y.data(), y2.data(), n * sizeof(float)) == 0);
  }
}

void fuzz_dynamic(Reader& in) {
  const std::size_t n = in.size(64);
  std::size_t fb = 0;
  const bool count_ok = mul(n, sizeof(float), &fb);
  const std::uint8_t nulls = in.u8();
  const bool real = n <= kMaxElems;
  const bool must_fail = !count_ok || (n > 0 && (nulls & 3) != 0) || (nulls & 12) != 0;
  // A null scale / zero point output is reported after the n inputs are scanned (reading them
  // is within the contract), so a large n is only handed over with a count or data pointer
  // refused before any read.
  if (!real && (count_ok && !(n > 0 && (nulls & 3) != 0))) return;
  std::vector<float> x(real && n > 0 ? n : 16);
  bool has_inf = false;
  for (std::size_t i = 0; i < x.size(); ++i) {
    x[i] = in.u8() < 200 ? static_cast<float>(in.irange(-5000, 5000)) / 7.0f : in.real();
    has_inf = has_inf || (i < n && std::isinf(x[i]));
  }
  Canary y(real ? n : 16);
  float scale = -3.0f;
  std::uint8_t zp = 77;
  const qk::Status st = qk::dynamic_quantize_linear((nulls & 1) ? nullptr : x.data(), n, (nulls & 2) ? nullptr : static_cast<std::uint8_t*>(y.data()),
                                                    (nulls & 4) ? nullptr : &scale, (nulls & 8) ? nullptr : &zp);
  if (must_fail || (real && has_inf)) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) {
    QK_FUZZ_CHECK(y.unchanged() && scale == -3.0f && zp == 77);
    return;
  }
  QK_FUZZ_CHECK(scale_ok(scale) && y.unchanged(n));
}

void fuzz_int4(Reader& in) {
  const std::size_t n = in.size(64);
  const bool is_signed = in.flag();
  const std::uint8_t nulls = in.u8();
  const bool real = n <= kMaxElems;
  const bool must_fail = n > 0 && (nulls & 3) != 0;
  std::size_t bytes = 0;
  QK_FUZZ_CHECK(qk::storage_bytes<qk::int4>(n, &bytes).ok() && bytes == n / 2 + n % 2);
  if (!real && !must_fail) return;
  std::vector<std::uint8_t> v(real && n > 0 ? n : 16);
  bool in_range = true;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::uint8_t b = in.u8() < 230 ? static_cast<std::uint8_t>(is_signed ? static_cast<std::uint8_t>(in.irange(-8, 7)) : in.range(0, 15)) : in.u8();
    v[i] = b;
    if (i < n) in_range = in_range && (is_signed ? (static_cast<std::int8_t>(b) >= -8 && static_cast<std::int8_t>(b) <= 7) : b <= 15);
  }
  Canary packed(real ? bytes : 16);
  auto* pp = (nulls & 2) ? nullptr : static_cast<std::uint8_t*>(packed.data());
  const qk::Status st = is_signed ? qk::pack_int4((nulls & 1) ? nullptr : reinterpret_cast<const std::int8_t*>(v.data()), n, pp)
                                  : qk::pack_uint4((nulls & 1) ? nullptr : v.data(), n, pp);
  if (must_fail || (real && !in_range)) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) {
    QK_FUZZ_CHECK(packed.unchanged());
    return;
  }
  if (n == 0) return;
  QK_FUZZ_CHECK(packed.unchanged(bytes));
  Canary back(n);
  const qk::Status us = is_signed ? qk::unpack_int4(pp, n, reinterpret_cast<std::int8_t*>(back.data()))
                                  : qk::unpack_uint4(pp, n, static_cast<std::uint8_t*>(back.data()));
  QK_FUZZ_CHECK(us.ok() && std::memcmp(back.data(), v.data(), n) == 0);
}

template <class T>
void fuzz_type(Reader& in) {
  if constexpr (qk::storage_traits<T>::quantizable) {
    if (in.u8() % 4 == 0) {
      fuzz_params<T>(in);
      return;
    }
  }
  fuzz_tensor<T>(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qk_fuzz::Reader in(data, size);
  switch (in.u8() % 9) {
    case 0: fuzz_type<std::int8_t>(in); break;
    case 1: fuzz_type<std::uint8_t>(in); break;
    case 2: fuzz_type<std::int16_t>(in); break;
    case 3: fuzz_type<std::uint16_t>(in); break;
    case 4: fuzz_type<qk::int4>(in); break;
    case 5: fuzz_type<qk::uint4>(in); break;
    case 6: fuzz_type<std::int32_t>(in); break;
    case 7: fuzz_dynamic(in); break;
    default: fuzz_int4(in); break;
  }
  return 0;
}
