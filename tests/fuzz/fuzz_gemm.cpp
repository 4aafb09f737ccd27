// fuzz_gemm: validation of the GEMM entry points with adversarial arguments.
//
// int8 (and int4 weights): GemmS8Weights::packed_size / pack_into / pack / set_activation_zero_point
// and gemm_s8;
// fp32: GemmF32Weights::pack and gemm_f32. Sizes, strides, lda / ldc and M from small values to
// SIZE_MAX, zero strides, raw enum values (Isa, ElementType, output stage kind / type / rounding),
// zero points and clamps outside their types, any shift and multiplier, NaN / infinite / zero /
// negative / denormal scales, null pointers.
//
// Checked: no crash, no sanitizer report, no allocation beyond what the sizes need; every call
// that must fail (by this file's own model of the shapes: an extent that overflows size_t, lda < K,
// null data ...) fails; a failing call leaves its output untouched (canaries); a packed_size that
// succeeds covers K x N bytes (int4: K x N / 2); a successful run writes no byte of C outside its
// M x N elements and (valid enums) equals qk::reference::gemm_int.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fuzz_common.hpp"
#include "fuzz_stage.hpp"
#include "qk/gemm.hpp"
#include "qk/reference/gemm.hpp"

namespace {

using namespace qk_fuzz;

constexpr std::size_t kMaxPackedBytes = std::size_t{16} << 20;

qk::Isa pick_isa(Reader& in) {
  static const std::vector<qk::Isa> isas = supported_isas();
  if (in.u8() < 230) return isas[in.u8() % isas.size()];
  return in.any_enum<qk::Isa>(qk::kIsaCount);
}

// Elements spanned by a (k x n) matrix at (stride_k, stride_n): its last index plus one (saturated);
// false if the last index does not fit in size_t.
bool extent(std::size_t k, std::size_t n, std::size_t stride_k, std::size_t stride_n, std::size_t* e) {
  std::size_t a = 0, b = 0;
  if (!mul(k - 1, stride_k, &a) || !mul(n - 1, stride_n, &b) || !add(a, b, e)) return false;
  *e = *e == kSizeMax ? kSizeMax : *e + 1;
  return true;
}

void strides(Reader& in, std::size_t k, std::size_t n, std::size_t* stride_k, std::size_t* stride_n) {
  switch (in.u8() % 4) {
    case 0: *stride_k = n, *stride_n = 1; break;  // K x N
    case 1: *stride_k = 1, *stride_n = k; break;  // N x K
    case 2: *stride_k = n + in.range(0, 8), *stride_n = 1; break;
    default: *stride_k = in.size(64), *stride_n = in.size(64); break;
  }
}

void fill(Reader& in, std::vector<std::uint8_t>& v) {
  for (auto& b : v) b = in.u8();
}

// ------------------------------------------------------------------------------------------------
// int8

void run_s8(Reader& in, qk::GemmS8Weights& w, const qk::GemmS8WeightsDesc& desc) {
  const std::size_t k = w.k(), n = w.n();
  if (in.u8() < 60) {
    const std::int32_t za = in.int32(-130, 260);
    const std::int32_t before = w.activation_zero_point();
    const qk::Status st = w.set_activation_zero_point(za);
    const bool in_type = za >= qk::detail::type_lo(w.activation_type()) && za <= qk::detail::type_hi(w.activation_type());
    QK_FUZZ_CHECK(st.ok() == in_type);
    QK_FUZZ_CHECK(w.activation_zero_point() == (st.ok() ? za : before));
  }
  const std::size_t m = in.size(48);
  std::size_t lda = in.u8() < 180 ? k + in.range(0, 4) : in.size(k + 8);
  std::size_t ldc = in.u8() < 180 ? n + in.range(0, 4) : in.size(n + 8);
  StageData s;
  any_stage(in, n, &s);
  const std::uint8_t nulls = in.u8();
  const std::size_t esize = qk::output_type_size(s.stage.type);
  std::size_t a_need = 0, c_need = 0, c_row = 0;
  const bool a_fits = m == 0 || extent(m, k, lda, 1, &a_need);
  const bool c_fits = m == 0 || (extent(m, n, ldc, 1, &c_need) && mul(c_need, esize, &c_need) && mul(ldc, esize, &c_row));
  const bool must_fail = lda < k || ldc < n || !a_fits || !c_fits || (m > 0 && (nulls & 3) != 0);
  const bool real = !must_fail && a_need <= kCapBytes && c_need <= kCapBytes;
  if (!must_fail && !real) return;  // valid but too large to allocate: nothing safe to check

  std::vector<std::uint8_t> a(real ? a_need : 64);
  fill(in, a);
  Canary c(real ? c_need : 64);
  const qk::Status st = qk::gemm_s8(w, m, (nulls & 1) ? nullptr : a.data(), lda, s.stage,
                                    (nulls & 2) ? nullptr : c.data(), ldc);
  if (must_fail) QK_FUZZ_CHECK(!st.ok() || m == 0);
  if (!st.ok() || m == 0) {
    QK_FUZZ_CHECK(c.unchanged());
    return;
  }
  // C's padding (columns N..ldc of each row) is never written.
  for (std::size_t i = 0; i < m; ++i) QK_FUZZ_CHECK(c.unchanged(i * ldc * esize + n * esize, (i + 1) * ldc * esize));
  std::size_t work = 0;
  if (!stage_enums_in_range(s.stage) || !mul3(m, n, k, &work) || work > (std::size_t{1} << 20)) return;
  Canary expected(c_need);
  qk::reference::gemm_int(m, n, k, a.data(), lda, w.activation_type() == qk::ElementType::s8, w.activation_zero_point(),
                          desc.data, desc.stride_k, desc.stride_n, desc.b_type, desc.zero_point, desc.zero_point_per_column,
                          desc.bias, s.stage, expected.data(), ldc);
  QK_FUZZ_CHECK(std::memcmp(expected.data(), c.data(), c_need) == 0);
}

void fuzz_s8(Reader& in) {
  const qk::Isa isa = pick_isa(in);
  qk::GemmS8WeightsDesc d;
  d.k = in.size(80);
  d.n = in.size(80);
  strides(in, d.k, d.n, &d.stride_k, &d.stride_n);
  d.b_type = in.any_enum<qk::ElementType>(3);  // s8, u8, s4 (nibble i of B is element i)
  d.a_type = in.any_enum<qk::ElementType>(2);
  d.a_zero_point = in.u8() < 200 ? 0 : in.int32(-130, 260);
  const std::uint8_t zp_mode = in.u8() % 4;  // none, per tensor, per column, per column (again)
  const bool has_bias = in.flag();
  const bool null_data = in.u8() < 8;

  std::size_t b_need = 0;  // bytes of B qk may read (int4: the extent is in nibbles)
  const bool shape_ok = d.k > 0 && d.n > 0 && extent(d.k, d.n, d.stride_k, d.stride_n, &b_need);
  if (d.b_type == qk::ElementType::s4) b_need = b_need / 2 + 1;
  const bool columns_fit = d.n <= kCapBytes / 4;  // per-column arrays qk may read in full
  std::size_t packed = 0xA5A5A5A5u;
  const bool ask_null = in.u8() < 4;
  const qk::Status ps = qk::GemmS8Weights::packed_size(d, isa, ask_null ? nullptr : &packed);
  if (ask_null) {
    QK_FUZZ_CHECK(!ps.ok());
    return;
  }
  if (ps.ok()) {
    QK_FUZZ_CHECK(qk::isa_supported(isa) && d.k > 0 && d.n > 0);
    // No wrapped size: K x N bytes, or K x N / 2 for int4 (whose K x N may exceed size_t).
    const unsigned __int128 elems = static_cast<unsigned __int128>(d.k) * d.n;
    QK_FUZZ_CHECK(packed >= (d.b_type == qk::ElementType::s4 ? elems / 2 : elems));
  } else {
    QK_FUZZ_CHECK(packed == 0xA5A5A5A5u);
  }
  if (d.k == 0 || d.n == 0) QK_FUZZ_CHECK(!ps.ok());

  const bool real = ps.ok() && shape_ok && b_need <= kCapBytes && columns_fit && packed <= kMaxPackedBytes;
  // Data qk may read: B (b_need bytes), zero points and bias (N values) when they fit.
  std::vector<std::uint8_t> b(real ? b_need : 64);
  fill(in, b);
  std::vector<std::int32_t> zp(columns_fit && d.n > 0 ? d.n : 1), bias(columns_fit && d.n > 0 ? d.n : 1);
  const bool s4 = d.b_type == qk::ElementType::s4;
  for (auto& z : zp) z = in.u8() < 220 ? (s4 ? in.irange(-9, 8) : in.irange(-128, 255)) : in.int32(-300, 300);
  for (auto& v : bias) v = in.int32(-100000, 100000);
  d.data = null_data ? nullptr : b.data();
  d.zero_point = zp_mode == 0 ? nullptr : zp.data();
  d.zero_point_per_column = zp_mode >= 2 && columns_fit;
  d.bias = has_bias && columns_fit ? bias.data() : nullptr;
  if (!real && !columns_fit) d.bias = nullptr;

  const bool must_fail = !ps.ok() || !shape_ok || null_data;
  if (!real && !must_fail) {
    // Valid (by this model) but too large to allocate: only a buffer smaller than packed_size()
    // can be handed over, which must be refused before B is read.
    Canary buf(packed - 1 < 4096 ? packed - 1 : 4096);
    qk::GemmS8Weights w;
    const qk::Status st = w.pack_into(d, isa, buf.data(), packed - 1);
    QK_FUZZ_CHECK(!st.ok() && buf.unchanged() && !w.packed());
    return;
  }
  // Either real buffers, or a call that must fail (then packed_size() failed, or the packed
  // size is small enough to hand over in full).
  // (pack() validates before it allocates, so it may be called with any packed size here.)
  const bool small_buf = !ps.ok() || packed > kMaxPackedBytes;
  const std::uint8_t buf_mode = in.u8() % 4;  // exact, one byte short, null, larger
  const std::size_t buf_bytes = small_buf ? 64 : (buf_mode == 1 ? packed - 1 : (buf_mode == 3 ? packed + 64 : packed));
  Canary buf(buf_bytes);
  qk::GemmS8Weights into;
  const qk::Status st_into = into.pack_into(d, isa, buf_mode == 2 ? nullptr : buf.data(), buf_bytes);
  if (must_fail || buf_mode == 1 || buf_mode == 2) QK_FUZZ_CHECK(!st_into.ok());
  if (!st_into.ok()) QK_FUZZ_CHECK(buf.unchanged() && !into.packed());
  if (st_into.ok()) QK_FUZZ_CHECK(buf.unchanged(packed) && into.packed_bytes() == packed);

  qk::GemmS8Weights w;
  const qk::Status st = w.pack(d, isa);
  QK_FUZZ_CHECK(st.ok() == w.packed());
  if (!small_buf && (buf_mode == 0 || buf_mode == 3)) QK_FUZZ_CHECK(st.code() == st_into.code());
  if (st.ok()) run_s8(in, w, d);
}

// ------------------------------------------------------------------------------------------------
// fp32

void fuzz_f32(Reader& in) {
  const qk::Isa isa = pick_isa(in);
  qk::GemmF32WeightsDesc d;
  d.k = in.size(64);
  d.n = in.size(64);
  strides(in, d.k, d.n, &d.stride_k, &d.stride_n);
  const bool null_data = in.u8() < 8, has_bias = in.flag();
  std::size_t b_need = 0, packed = 0;
  const bool shape_ok = d.k > 0 && d.n > 0 && extent(d.k, d.n, d.stride_k, d.stride_n, &b_need);
  // What pack allocates is about (K + 1) x N rounded up to a panel (<= 64 columns) of floats.
  const bool alloc_ok = d.n <= kCapBytes && mul3(d.k + 1, (d.n + 63) / 64 * 64, 4, &packed) && packed <= kMaxPackedBytes;
  const bool columns_fit = d.n <= kCapBytes / 4;
  const bool real = shape_ok && alloc_ok && b_need <= kCapBytes / 4 && columns_fit;
  const bool must_fail = !shape_ok || null_data || !qk::isa_supported(isa);
  if (!real && !must_fail) return;
  std::vector<float> b(real ? b_need : 16), bias(columns_fit && d.n > 0 ? d.n : 1);
  for (auto& v : b) v = in.u8() < 200 ? static_cast<float>(in.irange(-1000, 1000)) / 64.0f : in.real();
  for (auto& v : bias) v = in.u8() < 230 ? static_cast<float>(in.irange(-1000, 1000)) : in.real();
  d.data = null_data ? nullptr : b.data();
  d.bias = has_bias && columns_fit ? bias.data() : nullptr;
  qk::GemmF32Weights w;
  const qk::Status st = w.pack(d, isa);
  QK_FUZZ_CHECK(st.ok() == w.packed());
  if (must_fail) QK_FUZZ_CHECK(!st.ok());
  if (!st.ok()) return;

  const std::size_t m = in.size(40);
  const std::size_t lda = in.u8() < 180 ? d.k + in.range(0, 4) : in.size(d.k + 8);
  const std::size_t ldc = in.u8() < 180 ? d.n + in.range(0, 4) : in.size(d.n + 8);
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (in.flag()) lo = in.real(), hi = in.real();
  const std::uint8_t nulls = in.u8();
  std::size_t a_need = 0, c_need = 0;
  const bool a_fits = m == 0 || extent(m, d.k, lda, 1, &a_need);
  const bool c_fits = m == 0 || extent(m, d.n, ldc, 1, &c_need);
  const bool run_must_fail = std::isnan(lo) || std::isnan(hi) || lo > hi || lda < d.k || ldc < d.n || !a_fits ||
                             !c_fits || (m > 0 && (nulls & 3) != 0);
  const bool run_real = !run_must_fail && a_need <= kCapBytes / 4 && c_need <= kCapBytes / 4;
  if (!run_must_fail && !run_real) return;
  std::vector<float> a(run_real ? a_need : 16);
  for (auto& v : a) v = in.u8() < 200 ? static_cast<float>(in.irange(-1000, 1000)) / 32.0f : in.real();
  Canary c((run_real ? c_need : 16) * sizeof(float));
  auto* cf = static_cast<float*>(c.data());
  const qk::Status rs = qk::gemm_f32(w, m, (nulls & 1) ? nullptr : a.data(), lda, (nulls & 2) ? nullptr : cf, ldc, lo, hi);
  if (run_must_fail) QK_FUZZ_CHECK(!rs.ok() || m == 0);
  if (!rs.ok() || m == 0) {
    QK_FUZZ_CHECK(c.unchanged());
    return;
  }
  for (std::size_t i = 0; i < m; ++i) {
    QK_FUZZ_CHECK(c.unchanged((i * ldc + d.n) * sizeof(float), (i + 1) * ldc * sizeof(float)));
    for (std::size_t j = 0; j < d.n; ++j) {
      float v;
      std::memcpy(&v, c.bytes.data() + (i * ldc + j) * sizeof(float), sizeof v);
      QK_FUZZ_CHECK(std::isnan(v) || (v >= lo && v <= hi));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qk_fuzz::Reader in(data, size);
  if (in.u8() % 4 == 3)
    fuzz_f32(in);
  else
    fuzz_s8(in);
  return 0;
}
