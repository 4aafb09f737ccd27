// Blockwise 4-bit GEMM (qk/gemm_blockwise.hpp): every kernel family the machine runs, bit for bit
// against plain loops on the unpacked weights written from the definitions in
// kernels/gemm_q4_contract.hpp (independently of the kernels' code).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "common/isa_sweep.hpp"
#include "qk/core/threading.hpp"
#include "qk/gemm_blockwise.hpp"

namespace {

struct Problem {
  std::size_t m = 0, n = 0, k = 0, block = 32, lda = 0, ldc = 0;
  bool is_signed = true, with_zp = false, with_bias = false;
  float lo = -INFINITY, hi = INFINITY;
  std::vector<std::uint8_t> data;  // [N][ceil(K/2)]
  std::vector<float> scales, bias, a;
  std::vector<std::uint8_t> zp;
  std::size_t nb() const { return (k + block - 1) / block; }
  std::int32_t u(std::size_t n_, std::size_t k_) const {  // stored value minus nothing: u in [0, 15]
    const std::uint32_t v = (data[n_ * ((k + 1) / 2) + k_ / 2] >> (4 * (k_ % 2))) & 0x0F;
    return is_signed ? static_cast<std::int32_t>(v ^ 8u) : static_cast<std::int32_t>(v);
  }
  std::int32_t zpv(std::size_t n_, std::size_t b) const { return with_zp ? zp[n_ * nb() + b] : 8; }
  qk::GemmQ4WeightsDesc desc() const {
    qk::GemmQ4WeightsDesc d = is_signed ? qk::GemmQ4WeightsDesc::signed_blocks(n, k, block, data.data(), scales.data())
                                        : qk::GemmQ4WeightsDesc::unsigned_blocks(n, k, block, data.data(), scales.data(),
                                                                                  with_zp ? zp.data() : nullptr);
    d.bias = with_bias ? bias.data() : nullptr;
    return d;
  }
};

// The quantizer as the contract words it: amax of |x| (NaN/inf -> NaN scale, zeros), tiny amax ->
// zeros, else scale = amax / 127, q = nearbyint(x * (127 / amax)).
void ref_quantize(const float* x, std::size_t len, std::size_t block, std::int8_t* q, float* scale) {
  float amax = 0.0f;
  bool bad = false;
  for (std::size_t i = 0; i < len; ++i) {
    if (!std::isfinite(x[i])) bad = true;
    else amax = std::fmax(amax, std::fabs(x[i]));
  }
  for (std::size_t i = 0; i < block; ++i) q[i] = 0;
  if (bad) {
    *scale = std::numeric_limits<float>::quiet_NaN();
    return;
  }
  if (amax < 0x1p-120f) {
    *scale = 0.0f;
    return;
  }
  *scale = amax / 127.0f;
  const float inv = 127.0f / amax;
  for (std::size_t i = 0; i < len; ++i) q[i] = static_cast<std::int8_t>(std::nearbyint(x[i] * inv));
}

float finish(const Problem& p, float acc, std::size_t n) {
  if (p.with_bias) acc = acc + p.bias[n];
  return acc < p.lo ? p.lo : (acc > p.hi ? p.hi : acc);
}

std::vector<float> ref_dynamic(const Problem& p) {
  const std::size_t nb = p.nb();
  std::vector<float> c(p.m * p.ldc, -7.0f);
  std::vector<std::int8_t> q(nb * p.block);
  std::vector<float> as(nb);
  for (std::size_t m = 0; m < p.m; ++m) {
    for (std::size_t b = 0; b < nb; ++b) {
      const std::size_t k0 = b * p.block, len = std::min(p.block, p.k - k0);
      ref_quantize(&p.a[m * p.lda + k0], len, p.block, &q[k0], &as[b]);
    }
    for (std::size_t n = 0; n < p.n; ++n) {
      float acc = 0.0f;
      for (std::size_t b = 0; b < nb; ++b) {
        std::int32_t isum = 0;
        for (std::size_t k = b * p.block; k < std::min(p.k, (b + 1) * p.block); ++k) isum += q[k] * (p.u(n, k) - p.zpv(n, b));
        acc = std::fma(static_cast<float>(isum), as[b] * p.scales[n * nb + b], acc);
      }
      c[m * p.ldc + n] = finish(p, acc, n);
    }
  }
  return c;
}

std::vector<float> ref_f32(const Problem& p) {
  const std::size_t nb = p.nb();
  std::vector<float> c(p.m * p.ldc, -7.0f);
  for (std::size_t m = 0; m < p.m; ++m)
    for (std::size_t n = 0; n < p.n; ++n) {
      float acc = 0.0f;
      for (std::size_t b = 0; b < nb; ++b) {
        float s = 0.0f;
        for (std::size_t k = b * p.block; k < std::min(p.k, (b + 1) * p.block); ++k)
          s = std::fma(p.a[m * p.lda + k], static_cast<float>(p.u(n, k) - p.zpv(n, b)), s);
        acc = std::fma(s, p.scales[n * nb + b], acc);
      }
      c[m * p.ldc + n] = finish(p, acc, n);
    }
  return c;
}

Problem random_problem(std::mt19937& rng, std::size_t max_m, std::size_t max_n, std::size_t max_k) {
  Problem p;
  p.m = 1 + rng() % max_m;
  p.n = 1 + rng() % max_n;
  p.k = 1 + rng() % max_k;
  p.block = std::size_t{16} << (rng() % 5);
  p.lda = p.k + rng() % 3;
  p.ldc = p.n + rng() % 3;
  p.is_signed = rng() % 2 == 0;
  p.with_zp = !p.is_signed && rng() % 3 != 0;
  p.with_bias = rng() % 2 == 0;
  if (rng() % 3 == 0) p.lo = -2.0f, p.hi = 3.0f;
  std::uniform_real_distribution<float> ad(-4.0f, 4.0f), sd(0.001f, 0.1f);
  p.data.resize(p.n * ((p.k + 1) / 2));
  for (auto& v : p.data) v = static_cast<std::uint8_t>(rng());
  p.scales.resize(p.n * p.nb());
  for (auto& v : p.scales) v = rng() % 4 == 0 ? -sd(rng) : sd(rng);
  // Half the problems with fp16-exact scales (as from fp16 models): packed as fp16.
  if (rng() % 2 == 0)
    for (auto& v : p.scales) v = std::ldexp(1.0f + static_cast<float>(rng() % 1024) / 1024.0f, -static_cast<int>(rng() % 14)) * (rng() % 4 == 0 ? -1.0f : 1.0f);
  p.zp.resize(p.n * p.nb());
  for (auto& v : p.zp) v = static_cast<std::uint8_t>(rng() % 16);
  p.bias.resize(p.n);
  for (auto& v : p.bias) v = ad(rng);
  p.a.resize(p.m * p.lda);
  for (auto& v : p.a) v = ad(rng);
  return p;
}

bool same(float x, float y) {
  if (std::isnan(x) && std::isnan(y)) return true;
  std::uint32_t a, b;
  std::memcpy(&a, &x, 4);
  std::memcpy(&b, &y, 4);
  return a == b;
}

void check(const Problem& p, const std::vector<float>& c, const std::vector<float>& ref) {
  for (std::size_t r = 0; r < p.m; ++r)
    for (std::size_t j = 0; j < p.ldc; ++j) {
      INFO("m=" << p.m << " n=" << p.n << " k=" << p.k << " block=" << p.block << " signed=" << p.is_signed << " zp="
                << p.with_zp << " bias=" << p.with_bias << " r=" << r << " j=" << j << " got " << c[r * p.ldc + j]
                << " want " << ref[r * p.ldc + j]);
      REQUIRE(same(c[r * p.ldc + j], ref[r * p.ldc + j]));  // padding columns stay -7 in both
    }
}

void run_both(const Problem& p, qk::Executor* ex = nullptr) {
  qk::GemmQ4Weights w;
  REQUIRE(w.pack(p.desc()).ok());
  REQUIRE(w.isa() == qk::kernels::gemm_q4_kernel_for(qk::active_isa())->isa);
  std::size_t bytes = 0;
  REQUIRE(qk::gemm_q4_dynamic_workspace_size(w, p.m, &bytes).ok());
  std::vector<std::uint8_t> ws(bytes + 3);
  std::vector<float> c(p.m * p.ldc, -7.0f);
  // An odd workspace address: the operator aligns it itself.
  REQUIRE(qk::gemm_q4_dynamic(w, p.m, p.a.data(), p.lda, c.data(), p.ldc, ws.data() + 3, bytes, p.lo, p.hi, ex).ok());
  check(p, c, ref_dynamic(p));
  std::vector<float> c2(p.m * p.ldc, -7.0f);
  REQUIRE(qk::gemm_q4_f32(w, p.m, p.a.data(), p.lda, c2.data(), p.ldc, p.lo, p.hi, ex).ok());
  check(p, c2, ref_f32(p));
}

}  // namespace

TEST_CASE("gemm_q4: every family bit-exact with the definitions, random shapes and tails") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(14);
    for (int i = 0; i < 150; ++i) run_both(random_problem(rng, 13, 70, 700));
    // Larger M (full row tiles and blocks of rows) and N (several panel pairs).
    for (int i = 0; i < 6; ++i) run_both(random_problem(rng, 90, 200, 300));
  }
}

TEST_CASE("gemm_q4: threads give the same bits") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(7);
    qk::ThreadPool pool(3);
    for (int i = 0; i < 20; ++i) run_both(random_problem(rng, 40, 150, 300), &pool);
  }
}

TEST_CASE("gemm_q4: extremes, ties, NaN and inf in A") {
  QK_FOR_EACH_ISA(isa) {
    std::mt19937 rng(99);
    for (int variant = 0; variant < 8; ++variant) {
      Problem p = random_problem(rng, 6, 40, 300);
      // Weights at the ends of the range: all -8 / 7 (signed) or 0 / 15 with zero point 0 / 15.
      for (auto& v : p.data) v = variant % 2 == 0 ? 0x88 : 0x77;
      if (!p.is_signed)
        for (auto& v : p.data) v = variant % 2 == 0 ? 0x00 : 0xFF;
      for (auto& v : p.zp) v = variant % 4 < 2 ? 15 : 0;
      for (std::size_t i = 0; i < p.a.size(); ++i) {
        switch (variant / 2) {
          case 0: p.a[i] = i % 2 ? 1e30f : -1e30f; break;                 // huge (q = +-127)
          case 1: p.a[i] = static_cast<float>(static_cast<int>(i % 255) - 127) + 0.5f; break;  // ties
          case 2: p.a[i] = i % 3 ? 1e-39f : 0.0f; break;                   // subnormal amax: zero blocks
          default: p.a[i] = i % 7 == 0 ? 127.0f : 2.5f; break;             // amax 127: x * 1 ties
        }
      }
      run_both(p);
    }
    // NaN or inf in one block of A: (a) makes that row NaN everywhere; (b) follows IEEE.
    for (float bad : {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY}) {
      Problem p = random_problem(rng, 5, 40, 200);
      p.a[(p.m - 1) * p.lda + p.k / 2] = bad;
      run_both(p);
      qk::GemmQ4Weights w;
      REQUIRE(w.pack(p.desc()).ok());
      std::size_t bytes = 0;
      REQUIRE(qk::gemm_q4_dynamic_workspace_size(w, p.m, &bytes).ok());
      std::vector<std::uint8_t> ws(bytes);
      std::vector<float> c(p.m * p.ldc);
      REQUIRE(qk::gemm_q4_dynamic(w, p.m, p.a.data(), p.lda, c.data(), p.ldc, ws.data(), bytes, p.lo, p.hi).ok());
      for (std::size_t j = 0; j < p.n; ++j) REQUIRE(std::isnan(c[(p.m - 1) * p.ldc + j]));
    }
  }
}

TEST_CASE("gemm_q4: the quantizer's rounding is MLAS's (127 / amax, half to even)") {
  // amax 127: inv = 1, so x.5 lands exactly on ties: 2.5 -> 2, 3.5 -> 4, -2.5 -> -2.
  const float x[16] = {127.0f, 2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -127.0f, 0, 0, 0, 0, 0, 0, 0, 0};
  std::int8_t q[16];
  std::int32_t sum = 0;
  const float s = qk::kernels::q4_quantize_block(x, 16, 16, q, &sum);
  REQUIRE(s == 1.0f);
  const int want[8] = {127, 2, 4, -2, -4, 0, 2, -127};
  for (int i = 0; i < 8; ++i) REQUIRE(q[i] == want[i]);
  REQUIRE(sum == 127 + 2 + 4 - 2 - 4 + 0 + 2 - 127);
}

TEST_CASE("gemm_q4: fp16-exact scales are detected and stored as fp16, others as fp32") {
  std::uint16_t h = 0;
  REQUIRE(qk::kernels::q4_float_to_half_exact(0.5f, &h));
  REQUIRE(h == 0x3800);
  REQUIRE(qk::kernels::q4_half_to_float(h) == 0.5f);
  REQUIRE(qk::kernels::q4_float_to_half_exact(-65504.0f, &h));
  REQUIRE(qk::kernels::q4_half_to_float(h) == -65504.0f);
  REQUIRE(!qk::kernels::q4_float_to_half_exact(0.1f, &h));           // needs more mantissa
  REQUIRE(!qk::kernels::q4_float_to_half_exact(0x1p-20f, &h));       // fp16 subnormal: fp32 storage
  REQUIRE(!qk::kernels::q4_float_to_half_exact(131072.0f, &h));      // above fp16
  std::mt19937 rng(1);
  Problem p = random_problem(rng, 2, 40, 256);
  p.block = 32;
  p.is_signed = true;
  p.with_zp = false;
  p.scales.assign(p.n * p.nb(), 0.25f);
  std::size_t f16_bytes = 0, f32_bytes = 0;
  REQUIRE(qk::GemmQ4Weights::packed_size(p.desc(), qk::Isa::scalar, &f16_bytes).ok());
  p.scales[0] = 0.1f;
  REQUIRE(qk::GemmQ4Weights::packed_size(p.desc(), qk::Isa::scalar, &f32_bytes).ok());
  REQUIRE(f16_bytes < f32_bytes);
}

TEST_CASE("gemm_q4: errors name the argument and write nothing") {
  std::mt19937 rng(5);
  Problem p = random_problem(rng, 3, 20, 100);
  qk::GemmQ4Weights w;
  qk::GemmQ4WeightsDesc d = p.desc();
  d.block_size = 48;
  REQUIRE(w.pack(d).code() == qk::StatusCode::bad_shape);
  d = p.desc();
  d.block_size = 512;
  REQUIRE(w.pack(d).code() == qk::StatusCode::bad_shape);
  d = p.desc();
  std::vector<float> bad_scales = p.scales;
  bad_scales[0] = INFINITY;
  d.scales = bad_scales.data();
  REQUIRE(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d = p.desc();
  std::vector<std::uint8_t> zp(p.n * p.nb(), 16);
  d.is_signed = false;
  d.zero_points = zp.data();
  REQUIRE(w.pack(d).code() == qk::StatusCode::invalid_argument);
  d.is_signed = true;
  REQUIRE(w.pack(d).code() == qk::StatusCode::invalid_argument);
  REQUIRE(!w.packed());
  REQUIRE(w.pack(p.desc()).ok());
  std::size_t bytes = 0;
  REQUIRE(qk::gemm_q4_dynamic_workspace_size(w, p.m, &bytes).ok());
  std::vector<std::uint8_t> ws(bytes, 0xAB);
  std::vector<float> c(p.m * p.ldc, -7.0f);
  REQUIRE(qk::gemm_q4_dynamic(w, p.m, p.a.data(), p.lda, c.data(), p.ldc, ws.data(), bytes - 1).code() ==
          qk::StatusCode::buffer_too_small);
  REQUIRE(qk::gemm_q4_dynamic(w, p.m, p.a.data(), p.k - 1, c.data(), p.ldc, ws.data(), bytes).code() ==
          (p.k > 1 ? qk::StatusCode::bad_shape : qk::StatusCode::ok));
  REQUIRE(qk::gemm_q4_f32(w, p.m, p.a.data(), p.lda, c.data(), p.n - 1 + (p.n == 1 ? 1 : 0), 1.0f, 0.0f).code() ==
          qk::StatusCode::invalid_argument);
  REQUIRE(qk::gemm_q4_f32(w, p.m, nullptr, p.lda, c.data(), p.ldc).code() == qk::StatusCode::null_pointer);
  if (p.k > 1)
    for (float v : c) REQUIRE(v == -7.0f);
  for (std::size_t i = 0; p.k > 1 && i < ws.size(); ++i) REQUIRE(ws[i] == 0xAB);
}
