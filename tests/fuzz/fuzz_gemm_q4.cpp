// fuzz_gemm_q4: the blockwise 4-bit GEMM (qk/gemm_blockwise.hpp), validation and differential.
//
// Validation (first byte even): GemmQ4Weights::packed_size / pack_into / pack with N, K and the
// block size from 0 to SIZE_MAX (blocks valid, not powers of two, out of [16, 256]), K not a
// multiple of the block, any row_bytes, raw Isa values, signed or unsigned nibbles with or without
// zero points (above 15 too), scales as fp16 / bf16 / fp32 values, zero, negative, subnormal,
// NaN and infinite, NaN / infinite bias, null data and scales; then gemm_q4_dynamic_workspace_size,
// gemm_q4_dynamic and gemm_q4_f32 with any M / lda / ldc, NaN / inverted clamps, null A / C /
// workspace, short or misaligned workspaces and pack buffers, and weights that were never packed.
// (The scales are fp32 in the API; an fp16 or bf16 scale is an fp32 value those types hold, and
// qk stores the scales as fp16 when every one is an exact fp16 normal or zero.)
//
// Differential (first byte odd): small valid problems on every kernel family this machine runs
// (force_isa for each supported Isa), both schemes, optionally on a thread pool.
//
// Checked: no crash, no sanitizer report; every call that must fail (by this file's model of the
// checks) fails and leaves its outputs untouched (canaries: packed buffer, C, workspace); a valid
// call succeeds, writes no byte of C outside its M x N elements nor of the workspace past its
// size, and equals the definitions of kernels/gemm_q4_contract.hpp written as plain loops below
// (the reference of tests/gemm/test_gemm_q4.cpp): the same bits, NaN matching any NaN, on every
// ISA. pack and pack_into write the same bytes.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "fuzz_common.hpp"
#include "qk/core/threading.hpp"
#include "qk/gemm_blockwise.hpp"

namespace {

using namespace qk_fuzz;

constexpr std::size_t kMaxPackedBytes = std::size_t{16} << 20;
constexpr float kInf = std::numeric_limits<float>::infinity();

qk::Isa pick_isa(Reader& in) {
  static const std::vector<qk::Isa> isas = supported_isas();
  if (in.u8() < 230) return isas[in.u8() % isas.size()];
  return in.any_enum<qk::Isa>(qk::kIsaCount);
}

// Elements spanned by `rows` rows of `cols` elements, `ld` apart: false if it does not fit in size_t.
bool extent(std::size_t rows, std::size_t cols, std::size_t ld, std::size_t* e) {
  return mul(rows - 1, ld, e) && add(*e, cols, e);
}

std::size_t blocks(std::size_t k, std::size_t block) { return k / block + (k % block != 0 ? 1 : 0); }

// A scale of the given kind: 0 an fp16 normal (packed as fp16), 1 a bf16 value (fp32 with the low
// 16 bits zero; NaN and inf too), 2 any fp32 scale, 3 zero, negative, subnormal, NaN, inf, raw bits.
float q4_scale(Reader& in, int kind) {
  float v = 0.0f;
  if (kind == 0) {
    v = std::ldexp(1.0f + static_cast<float>(in.u16() % 1024) / 1024.0f, in.irange(-14, 15));
  } else if (kind == 1) {
    const std::uint32_t bits = static_cast<std::uint32_t>(in.u16()) << 16;
    std::memcpy(&v, &bits, sizeof v);
  } else if (kind == 2) {
    v = in.scale();
  } else {
    v = in.u8() < 40 ? 0.0f : in.real();
  }
  return in.u8() < 48 ? -v : v;
}

// An activation: mostly ordinary (ties when divided by small integers), else anything in.real()
// gives (NaN, inf, denormals, extremes).
float activation(Reader& in, bool wild) {
  if (wild && in.u8() < 40) return in.real();
  return static_cast<float>(in.irange(-1000, 1000)) / static_cast<float>(1 + (in.u8() & 7));
}

qk::Executor* shared_pool() {
  static qk::ThreadPool pool(2);
  return &pool;
}

// ------------------------------------------------------------------------------------------------
// The definitions of kernels/gemm_q4_contract.hpp, as plain loops on the unpacked weights.

std::int32_t u_of(const qk::GemmQ4WeightsDesc& d, std::size_t n, std::size_t k) {
  const std::size_t rb = d.row_bytes != 0 ? d.row_bytes : d.k / 2 + d.k % 2;
  const std::uint32_t v = (d.data[n * rb + k / 2] >> (4 * (k % 2))) & 0x0Fu;
  return static_cast<std::int32_t>(d.is_signed ? v ^ 8u : v);  // signed q in [-8, 7] is u = q + 8
}

std::int32_t zp_of(const qk::GemmQ4WeightsDesc& d, std::size_t n, std::size_t b) {
  return d.zero_points == nullptr ? 8 : d.zero_points[n * blocks(d.k, d.block_size) + b];
}

// C rows of m at c + i * ldc (ldc floats apart); writes only the M x N elements.
void reference(const qk::GemmQ4WeightsDesc& d, bool dynamic, std::size_t m, const float* a, std::size_t lda, float lo,
               float hi, float* c, std::size_t ldc) {
  const std::size_t B = d.block_size, nb = blocks(d.k, B);
  std::vector<std::int8_t> q(nb * B);
  std::vector<float> qscale(nb);
  for (std::size_t i = 0; i < m; ++i) {
    const float* x = a + i * lda;
    for (std::size_t b = 0; dynamic && b < nb; ++b) {
      // Symmetric int8 per block: amax / 127, q = round-half-even(x * (127 / amax)); a block with
      // NaN / inf has a NaN scale and q = 0; amax below 2^-120 gives zeros with scale 0.
      const std::size_t k0 = b * B, len = d.k - k0 < B ? d.k - k0 : B;
      float amax = 0.0f;
      bool bad = false;
      for (std::size_t j = 0; j < len; ++j) {
        if (!std::isfinite(x[k0 + j])) bad = true;
        else if (std::fabs(x[k0 + j]) > amax) amax = std::fabs(x[k0 + j]);
      }
      const bool zero = bad || !(amax >= 0x1p-120f);
      qscale[b] = bad ? std::numeric_limits<float>::quiet_NaN() : (zero ? 0.0f : amax / 127.0f);
      const float inv = zero ? 0.0f : 127.0f / amax;
      for (std::size_t j = 0; j < B; ++j)
        q[k0 + j] = zero || j >= len ? 0 : static_cast<std::int8_t>(std::nearbyint(x[k0 + j] * inv));
    }
    for (std::size_t n = 0; n < d.n; ++n) {
      float acc = 0.0f;
      for (std::size_t b = 0; b < nb; ++b) {
        const std::size_t k1 = (b + 1) * B < d.k ? (b + 1) * B : d.k;
        const std::int32_t z = zp_of(d, n, b);
        const float ws = d.scales[n * nb + b];
        if (dynamic) {
          std::int32_t isum = 0;
          for (std::size_t k = b * B; k < k1; ++k) isum += q[k] * (u_of(d, n, k) - z);
          const float s = qscale[b] * ws;  // rounded before the fma
          acc = std::fma(static_cast<float>(isum), s, acc);
        } else {
          float s = 0.0f;
          for (std::size_t k = b * B; k < k1; ++k) s = std::fma(x[k], static_cast<float>(u_of(d, n, k) - z), s);
          acc = std::fma(s, ws, acc);
        }
      }
      if (d.bias != nullptr) acc = acc + d.bias[n];
      c[i * ldc + n] = acc < lo ? lo : (acc > hi ? hi : acc);
    }
  }
}

// `floats` floats at x and y: the same bits, or NaN in both (NaN payloads are not specified).
bool same_floats(const void* x, const void* y, std::size_t floats) {
  for (std::size_t i = 0; i < floats; ++i) {
    float fx, fy;
    std::memcpy(&fx, static_cast<const std::uint8_t*>(x) + 4 * i, 4);
    std::memcpy(&fy, static_cast<const std::uint8_t*>(y) + 4 * i, 4);
    if (!(std::isnan(fx) && std::isnan(fy)) && std::memcmp(&fx, &fy, 4) != 0) {
      std::fprintf(stderr, "float %zu: got %a, want %a\n", i, static_cast<double>(fx), static_cast<double>(fy));
      return false;
    }
  }
  return true;
}

// A canary buffer whose usable `bytes` start `misalign` bytes past a 64-byte boundary.
struct Placed {
  Canary c;
  std::size_t off = 0, bytes = 0;
  Placed(std::size_t n, std::size_t misalign) : c(n + 128), bytes(n) {
    const auto v = reinterpret_cast<std::uintptr_t>(c.data());
    off = (64 - v % 64) % 64 + misalign;
  }
  void* data() { return c.bytes.data() + off; }
  bool outside_unchanged() const { return c.unchanged(0, off) && c.unchanged(off + bytes); }
};

// ------------------------------------------------------------------------------------------------
// Validation

// Weights that were never packed (or whose packing failed): every entry point refuses them.
void unpacked_refused(const qk::GemmQ4Weights& w) {
  QK_FUZZ_CHECK(!w.packed());
  std::size_t need = 0xA5A5A5A5u;
  QK_FUZZ_CHECK(!qk::gemm_q4_dynamic_workspace_size(w, 1, &need).ok() && need == 0xA5A5A5A5u);
  std::vector<float> a(16);
  Canary c(64), ws(64);
  QK_FUZZ_CHECK(!qk::gemm_q4_f32(w, 1, a.data(), 16, static_cast<float*>(c.data()), 16).ok());
  QK_FUZZ_CHECK(!qk::gemm_q4_dynamic(w, 1, a.data(), 16, static_cast<float*>(c.data()), 16, ws.data(), 64).ok());
  QK_FUZZ_CHECK(c.unchanged() && ws.unchanged());
}

void run_q4(Reader& in, const qk::GemmQ4Weights& w, const qk::GemmQ4WeightsDesc& d) {
  const std::size_t k = d.k, n = d.n, nb = blocks(k, d.block_size);
  const std::size_t m = in.size(24);
  const std::size_t lda = in.u8() < 180 ? k + in.range(0, 4) : in.size(k + 8);
  const std::size_t ldc = in.u8() < 180 ? n + in.range(0, 4) : in.size(n + 8);
  float lo = -kInf, hi = kInf;
  if (in.flag()) lo = in.real(), hi = in.real();
  const std::uint8_t nulls = in.u8() < 216 ? 0 : in.u8();  // bit 0: A, 1: C, 2: workspace
  const bool a_wild = in.u8() < 64;
  std::size_t a_need = 0, c_need = 0, t = 0;
  const bool a_fits = m == 0 || extent(m, k, lda, &a_need);
  const bool c_fits = m == 0 || extent(m, n, ldc, &c_need);
  const bool clamp_bad = std::isnan(lo) || std::isnan(hi) || lo > hi;
  const bool must_fail = clamp_bad || (m > 0 && (lda < k || ldc < n || !a_fits || !c_fits || (nulls & 3) != 0));
  // qk also refuses m * lda or m * ldc floats past SIZE_MAX / 4 (what a real A or C could span),
  // though the last row may be shorter: either answer is right there.
  const bool may_refuse = m > 0 && (!mul(m, lda, &t) || !mul(m, ldc, &t) || t > (kSizeMax >> 2));
  const bool real = !must_fail && a_need <= kCapBytes / 4 && c_need <= kCapBytes / 4;
  if (!must_fail && !real) return;  // valid but too large to allocate: nothing safe to check

  std::vector<float> a(real && a_need > 0 ? a_need : 16);
  for (auto& v : a) v = activation(in, a_wild);
  qk::Executor* ex = in.u8() < 16 ? shared_pool() : nullptr;

  // Workspace size: m * blocks * B int8 plus two floats per (row, block), rounded, plus 64.
  std::size_t need = 0xA5A5A5A5u, q = 0, s = 0, sum = 0;
  const bool ask_null = in.u8() < 4;
  const qk::Status wss = qk::gemm_q4_dynamic_workspace_size(w, m, ask_null ? nullptr : &need);
  const bool ws_fits = mul3(m, nb, d.block_size, &q) && mul3(m, nb, 8, &s) && add(q, s, &sum) && sum <= kSizeMax - 256;
  if (ask_null) {
    QK_FUZZ_CHECK(!wss.ok());
  } else {
    if (ws_fits) QK_FUZZ_CHECK(wss.ok() && need >= sum + 64);
    if (!wss.ok()) QK_FUZZ_CHECK(!ws_fits && need == 0xA5A5A5A5u);
  }

  // Workspace handed over: exact, one byte short, larger, or at an odd address (qk aligns it);
  // for a call that must fail, 64 bytes whatever size is claimed.
  const std::uint8_t ws_mode = in.u8() % 4;
  const bool ws_real = real && m > 0 && wss.ok() && !ask_null && need <= (std::size_t{4} << 20);
  std::size_t claim = ws_real ? (ws_mode == 1 ? need - 1 : (ws_mode == 2 ? need + 64 : need)) : in.size(4096);
  Placed ws(ws_real ? claim : 64, ws_mode == 3 ? in.range(1, 63) : 0);
  if (!ws_real && real && m > 0) claim = ws.bytes;  // too large to hand over in full: a short one
  const bool ws_short = !ws_real || ws_mode == 1 || (nulls & 4) != 0;

  for (int scheme = 0; scheme < 2; ++scheme) {
    Canary c((real ? c_need : 16) * sizeof(float));
    auto* cf = static_cast<float*>(c.data());
    const float* ap = (nulls & 1) ? nullptr : a.data();
    float* cp = (nulls & 2) ? nullptr : cf;
    const qk::Status st =
        scheme == 0 ? qk::gemm_q4_dynamic(w, m, ap, lda, cp, ldc, (nulls & 4) ? nullptr : ws.data(), claim, lo, hi, ex)
                    : qk::gemm_q4_f32(w, m, ap, lda, cp, ldc, lo, hi, ex);
    if (must_fail || (scheme == 0 && m > 0 && ws_short)) QK_FUZZ_CHECK(!st.ok());
    if (!must_fail && (m == 0 || (!may_refuse && (scheme == 1 || !ws_short)))) QK_FUZZ_CHECK(st.ok());
    if (!st.ok() || m == 0) {
      QK_FUZZ_CHECK(c.unchanged() && (scheme == 1 || ws.c.unchanged()));
      continue;
    }
    if (scheme == 0) QK_FUZZ_CHECK(ws.outside_unchanged());
    std::size_t work = 0;
    Canary expected(c_need * sizeof(float));
    if (!mul3(m, n, k, &work) || work > (std::size_t{1} << 18)) {
      // Too much for the reference: only C's padding (columns N..ldc) is checked.
      for (std::size_t i = 0; i < m; ++i)
        QK_FUZZ_CHECK(c.unchanged((i * ldc + n) * sizeof(float), (i + 1) * ldc * sizeof(float)));
      continue;
    }
    reference(d, scheme == 0, m, a.data(), lda, lo, hi, static_cast<float*>(expected.data()), ldc);
    if (!same_floats(c.data(), expected.data(), c_need)) {
      std::fprintf(stderr, "scheme=%s isa=%s m=%zu n=%zu k=%zu B=%zu lda=%zu ldc=%zu\n", scheme == 0 ? "dynamic" : "f32",
                   qk::isa_name(w.isa()), m, n, k, d.block_size, lda, ldc);
      fail("gemm_q4 differs from the contract's definition", __FILE__, __LINE__);
    }
  }
}

void fuzz_api(Reader& in) {
  const qk::Isa isa = pick_isa(in);
  qk::GemmQ4WeightsDesc d;
  d.n = in.size(40);
  d.k = in.size(300);
  d.block_size = in.u8() < 200 ? std::size_t{16} << (in.u8() % 5) : in.size(300);
  d.is_signed = in.flag();
  const std::size_t min_row = d.k / 2 + d.k % 2;
  const std::uint8_t rb_mode = in.u8() % 4;  // default (0), padded, any value, default
  if (rb_mode == 1) d.row_bytes = min_row + in.range(0, 3);
  if (rb_mode == 2) d.row_bytes = in.size(min_row < 64 ? 64 : min_row);
  const bool with_zp = in.u8() < (d.is_signed ? 8 : 160);  // with signed nibbles: refused
  const bool has_bias = in.flag();
  const bool wild = in.u8() < 48;  // values qk refuses: non-finite scales, zero points > 15, NaN bias
  const int scale_kind = in.u8() % 3;
  const std::uint8_t nulls = in.u8();
  const bool null_data = nulls < 6, null_scales = nulls >= 250;

  // The checks made before any array is read: ISA, shape, block, pointers, sizes.
  const bool block_ok = d.block_size >= 16 && d.block_size <= 256 && (d.block_size & (d.block_size - 1)) == 0;
  const std::size_t rb = d.row_bytes != 0 ? d.row_bytes : min_row, nb = block_ok ? blocks(d.k, d.block_size) : 0;
  std::size_t count = 0, t = 0, data_need = 0;
  const bool structural_fail = !qk::isa_supported(isa) || d.n == 0 || d.k == 0 || !block_ok || null_data ||
                               null_scales || (d.is_signed && with_zp) || (d.row_bytes != 0 && d.row_bytes < min_row) ||
                               !mul(d.n, nb, &count) || !mul(d.n, rb, &t);
  const bool real = !structural_fail && extent(d.n, min_row, rb, &data_need) && data_need <= kCapBytes &&
                    count <= kCapBytes / 4 && d.n <= kCapBytes / 4;
  if (!structural_fail && !real) return;  // valid shape too large to allocate: nothing safe to check

  // Arrays at the sizes qk may read; for a call that must fail, small ones (nothing may be read).
  std::vector<std::uint8_t> data(real ? data_need : 64), zp(real ? count : 64);
  std::vector<float> scales(real ? count : 16), bias(real ? d.n : 16);
  for (auto& v : data) v = in.u8();
  for (auto& v : scales) v = q4_scale(in, wild && in.u8() < 24 ? 3 : scale_kind);
  for (auto& v : zp) v = wild && in.u8() < 24 ? in.u8() : static_cast<std::uint8_t>(in.u8() % 16);
  for (auto& v : bias) {
    v = in.u8() < 230 ? static_cast<float>(in.irange(-1000, 1000)) / 8.0f : in.real();
    if (std::isnan(v) && !wild) v = kInf;  // infinite bias is valid, NaN is not
  }
  d.data = null_data ? nullptr : data.data();
  d.scales = null_scales ? nullptr : scales.data();
  d.zero_points = with_zp ? zp.data() : nullptr;
  d.bias = has_bias ? bias.data() : nullptr;
  bool value_fail = false;
  for (std::size_t i = 0; real && i < count; ++i) value_fail |= !std::isfinite(scales[i]) || (with_zp && zp[i] > 15);
  for (std::size_t i = 0; real && has_bias && i < d.n; ++i) value_fail |= std::isnan(bias[i]);
  const bool must_fail = structural_fail || value_fail;

  std::size_t packed = 0xA5A5A5A5u, least = 0;
  const bool ask_null = in.u8() < 4;
  const qk::Status ps = qk::GemmQ4Weights::packed_size(d, isa, ask_null ? nullptr : &packed);
  if (ask_null) {
    QK_FUZZ_CHECK(!ps.ok());
    return;
  }
  QK_FUZZ_CHECK(ps.ok() == !must_fail);
  if (ps.ok())
    QK_FUZZ_CHECK(mul(d.n, min_row, &least) && packed >= least);  // every nibble has a place
  else
    QK_FUZZ_CHECK(packed == 0xA5A5A5A5u);
  if (ps.ok() && packed > kMaxPackedBytes) {
    // Too large to hand over: a short buffer must be refused before anything is written.
    Placed buf(4096, 0);
    qk::GemmQ4Weights w;
    QK_FUZZ_CHECK(!w.pack_into(d, isa, buf.data(), packed - 1).ok() && buf.c.unchanged());
    unpacked_refused(w);
    return;
  }

  // pack_into: exact, one byte short, null, larger, or misaligned (64 bytes are required).
  const std::uint8_t buf_mode = in.u8() % 5;
  const std::size_t buf_bytes = !ps.ok() ? 64 : (buf_mode == 1 ? packed - 1 : (buf_mode == 3 ? packed + 64 : packed));
  Placed buf(buf_bytes, buf_mode == 4 ? in.range(1, 63) : 0);
  qk::GemmQ4Weights into;
  const qk::Status st_into = into.pack_into(d, isa, buf_mode == 2 ? nullptr : buf.data(), buf_bytes);
  QK_FUZZ_CHECK(st_into.ok() == (ps.ok() && (buf_mode == 0 || buf_mode == 3)));
  QK_FUZZ_CHECK(st_into.ok() == into.packed());
  if (!st_into.ok()) QK_FUZZ_CHECK(buf.c.unchanged());
  if (st_into.ok()) {
    QK_FUZZ_CHECK(buf.c.unchanged(0, buf.off) && buf.c.unchanged(buf.off + packed));
    QK_FUZZ_CHECK(into.packed_bytes() == packed && into.n() == d.n && into.k() == d.k && into.block_size() == d.block_size);
  }

  qk::GemmQ4Weights w;
  const qk::Status st = w.pack(d, isa);
  QK_FUZZ_CHECK(st.ok() == ps.ok() && st.ok() == w.packed());
  if (!st.ok()) {
    unpacked_refused(w);
    return;
  }
  QK_FUZZ_CHECK(w.packed_bytes() == packed);
  if (st_into.ok()) QK_FUZZ_CHECK(std::memcmp(w.args().packed, buf.data(), packed) == 0);
  run_q4(in, w, d);
}

// ------------------------------------------------------------------------------------------------
// Differential: every family on small valid problems.

void fuzz_diff(Reader& in) {
  qk::GemmQ4WeightsDesc d;
  // Mostly short K (several blocks of 16..64, tails); sometimes several blocks of 256.
  d.n = in.range(1, 72);
  d.k = in.u8() < 200 ? in.range(1, 160) : in.range(1, 700);
  d.block_size = std::size_t{16} << (in.u8() % 5);
  d.is_signed = in.flag();
  const std::size_t min_row = d.k / 2 + d.k % 2, nb = blocks(d.k, d.block_size);
  if (in.u8() >= 200) d.row_bytes = min_row + in.range(0, 5);
  const std::size_t rb = d.row_bytes != 0 ? d.row_bytes : min_row;
  const std::uint8_t zp_mode = d.is_signed ? 0 : in.u8() % 4;  // none (8), per block, uniform, uniform 8
  const std::uint8_t w_mode = in.u8() % 4;                    // random, -8 / 0, 7 / 15, random
  const int scale_kind = in.u8() % 3;
  const bool has_bias = in.flag();
  const std::size_t m = in.range(1, 12);
  const std::size_t lda = d.k + (in.u8() < 200 ? 0 : in.range(0, 9));
  const std::size_t ldc = d.n + (in.u8() < 200 ? 0 : in.range(0, 9));
  float lo = -kInf, hi = kInf;
  if (in.u8() < 64) {
    lo = static_cast<float>(in.irange(-2000, 2000)) / 16.0f;
    hi = in.u8() < 32 ? lo : lo + static_cast<float>(in.u16()) / 16.0f;
  }
  const std::uint8_t a_mode = in.u8() % 5;  // ordinary, with NaN / inf / extremes, halves, tiny, huge
  const bool threads = in.u8() < 24;

  std::vector<std::uint8_t> data((d.n - 1) * rb + min_row), zp(d.n * nb);
  for (auto& v : data) v = w_mode == 1 ? (d.is_signed ? 0x88 : 0x00) : (w_mode == 2 ? (d.is_signed ? 0x77 : 0xFF) : in.u8());
  const std::uint8_t zp0 = zp_mode == 3 ? 8 : static_cast<std::uint8_t>(in.u8() % 16);
  for (auto& v : zp) v = zp_mode == 1 ? static_cast<std::uint8_t>(in.u8() % 16) : zp0;
  std::vector<float> scales(d.n * nb), bias(d.n);
  for (auto& v : scales) {
    v = q4_scale(in, in.u8() < 8 ? 3 : scale_kind);
    if (!std::isfinite(v)) v = 0.0f;
  }
  for (auto& v : bias) v = in.u8() < 250 ? static_cast<float>(in.irange(-1000, 1000)) / 8.0f : (in.flag() ? kInf : -kInf);
  std::vector<float> a(m * lda);
  for (auto& v : a) {
    if (a_mode == 1) v = activation(in, true);
    else if (a_mode == 2) v = static_cast<float>(in.irange(-254, 254)) * 0.5f;  // amax 127 gives exact ties
    else if (a_mode == 3) v = std::ldexp(static_cast<float>(in.irange(-127, 127)), -in.irange(120, 149));
    else if (a_mode == 4) v = std::ldexp(static_cast<float>(in.irange(-127, 127)), in.irange(100, 127));
    else v = activation(in, false);
  }
  d.data = data.data();
  d.scales = scales.data();
  d.zero_points = zp_mode == 0 ? nullptr : zp.data();
  d.bias = has_bias ? bias.data() : nullptr;

  Canary want_dyn(m * ldc * sizeof(float)), want_f32(m * ldc * sizeof(float));
  reference(d, true, m, a.data(), lda, lo, hi, static_cast<float*>(want_dyn.data()), ldc);
  reference(d, false, m, a.data(), lda, lo, hi, static_cast<float*>(want_f32.data()), ldc);

  qk::Executor* ex = threads ? shared_pool() : nullptr;
  for (qk::Isa isa : supported_isas()) {
    ForcedIsa forced(isa);
    qk::GemmQ4Weights w;
    QK_FUZZ_OK(w.pack(d));
    QK_FUZZ_CHECK(w.isa() == qk::kernels::gemm_q4_kernel_for(isa)->isa);
    std::size_t need = 0;
    QK_FUZZ_OK(qk::gemm_q4_dynamic_workspace_size(w, m, &need));
    Placed ws(need, in.range(0, 63));
    Canary c(m * ldc * sizeof(float)), c2(m * ldc * sizeof(float));
    QK_FUZZ_OK(qk::gemm_q4_dynamic(w, m, a.data(), lda, static_cast<float*>(c.data()), ldc, ws.data(), need, lo, hi, ex));
    QK_FUZZ_OK(qk::gemm_q4_f32(w, m, a.data(), lda, static_cast<float*>(c2.data()), ldc, lo, hi, ex));
    QK_FUZZ_CHECK(ws.outside_unchanged());
    const bool dyn_ok = same_floats(c.data(), want_dyn.data(), m * ldc);
    const bool f32_ok = same_floats(c2.data(), want_f32.data(), m * ldc);
    if (!dyn_ok || !f32_ok) {
      std::fprintf(stderr, "isa=%s scheme=%s m=%zu n=%zu k=%zu B=%zu lda=%zu ldc=%zu signed=%d zp_mode=%d bias=%d\n",
                   qk::isa_name(isa), dyn_ok ? "f32" : "dynamic", m, d.n, d.k, d.block_size, lda, ldc, d.is_signed,
                   zp_mode, has_bias);
      fail("gemm_q4 differs from the contract's definition", __FILE__, __LINE__);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  qk_fuzz::Reader in(data, size);
  if (in.u8() % 2 == 1)
    fuzz_diff(in);
  else
    fuzz_api(in);
  return 0;
}
